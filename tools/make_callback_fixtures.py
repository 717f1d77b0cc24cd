"""Fixtures for librnn's fit callbacks (issue 16 item 4), from real Keras 3 callbacks driven
with fixed logs (no training, so the values are exact and the files small):

  reduce_lr_<case>.txt  ReduceLROnPlateau: per epoch the monitored value given to on_epoch_end
                        and the learning rate after it (float32 bits as hex, and the value)
  csv_<case>.csv        CSVLogger's file for a fixed sequence of epoch logs

Run with the project's Keras: /work/main/.venv/bin/python tools/make_callback_fixtures.py
Writes tests/fixtures/callbacks/."""
import os
import struct

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "callbacks")


def f32_hex(v):
    return struct.unpack("<I", struct.pack("<f", float(v)))[0]


def tiny_model(lr):
    m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return m


# Monitored values chosen to hit Keras's rules: improvements by less than min_delta, ties,
# a value that improves only in float64, cooldown, min_lr, mode max.
SEQ_LOSS = [1.0, 0.9, 0.89995, 0.9, 0.95, 0.95, 0.7, 0.70009, 0.7, 0.7, 0.7, 0.69,
            0.69, 0.69, 0.69, 0.69, 0.69, 0.68, 0.69, 0.69, 0.69, 0.69, 0.69, 0.69]
SEQ_ACC = [0.1, 0.2, 0.2, 0.20005, 0.3, 0.3, 0.3, 0.25, 0.31, 0.31, 0.31, 0.31, 0.31, 0.5]
CASES = {
    # name: (kwargs, monitor, sequence, initial lr)
    "default_patience2": (dict(monitor="val_loss", patience=2), "val_loss", SEQ_LOSS, 0.01),
    "factor_half_cooldown": (dict(monitor="loss", factor=0.5, patience=1, cooldown=2,
                                  min_delta=0.0), "loss", SEQ_LOSS, 0.1),
    "min_lr": (dict(monitor="val_loss", factor=0.2, patience=1, min_lr=0.0015), "val_loss",
               SEQ_LOSS, 0.01),
    "max_mode_delta": (dict(monitor="val_accuracy", mode="max", patience=1, min_delta=0.01,
                            factor=0.3), "val_accuracy", SEQ_ACC, 0.05),
    "big_delta_patience0": (dict(monitor="val_loss", patience=0, min_delta=0.05, factor=0.5),
                            "val_loss", SEQ_LOSS, 0.2),
}


def reduce_lr_case(name, kwargs, monitor, seq, lr):
    model = tiny_model(lr)
    cb = keras.callbacks.ReduceLROnPlateau(**kwargs)
    cb.set_model(model)
    cb.on_train_begin()
    lines = [f"# ReduceLROnPlateau({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}), "
             f"initial learning_rate {lr!r}, Keras {keras.__version__}",
             f"monitor {monitor}",
             "mode " + kwargs.get("mode", "auto"),
             f"factor {kwargs.get('factor', 0.1)!r}",
             f"patience {kwargs.get('patience', 10)}",
             f"min_delta {kwargs.get('min_delta', 1e-4)!r}",
             f"cooldown {kwargs.get('cooldown', 0)}",
             f"min_lr {kwargs.get('min_lr', 0.0)!r}",
             f"lr {f32_hex(lr):08x}",
             "# epoch value lr_after(float32 hex) lr_after"]
    for epoch, v in enumerate(seq):
        cb.on_epoch_end(epoch, {monitor: v})
        after = float(np.asarray(model.optimizer.learning_rate))
        lines.append(f"{epoch} {v!r} {f32_hex(after):08x} {after!r}")
    with open(os.path.join(OUT, f"reduce_lr_{name}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


# Epoch logs in the order fit makes them (values as Python floats of float32 numbers, and
# the awkward ones: tiny, huge, integral, negative, NaN).
LOGS_TRAIN_ONLY = [
    {"loss": 0.25, "accuracy": 0.5, "learning_rate": float(np.float32(0.001))},
    {"loss": float(np.float32(0.123456789)), "accuracy": 0.75,
     "learning_rate": float(np.float32(0.0001))},
    {"loss": 1e-05, "accuracy": 1.0, "learning_rate": float(np.float32(1e-05))},
    {"loss": 12345678.0, "accuracy": 0.0, "learning_rate": 2.5e-07},
    {"loss": 1.5e16, "accuracy": -0.0, "learning_rate": 100.0},
    {"loss": float("nan"), "accuracy": 0.3333333432674408, "learning_rate": 0.1},
]
LOGS_VAL = [
    {"loss": 0.5, "mae": 0.25, "val_loss": 0.75, "val_mae": float(np.float32(0.3))},
    {"loss": 0.0001, "mae": 0.00012, "val_loss": 1234567890123456.0, "val_mae": 1e16},
]


def csv_case(name, logs_list, separator=",", append=False, prefix=None):
    path = os.path.join(OUT, f"csv_{name}.csv")
    if prefix is not None:
        with open(path, "w") as f:
            f.write(prefix)
    elif os.path.exists(path):
        os.remove(path)
    cb = keras.callbacks.CSVLogger(path, separator=separator, append=append)
    cb.set_model(tiny_model(0.01))
    cb.on_train_begin()
    for epoch, logs in enumerate(logs_list):
        cb.on_epoch_end(epoch, dict(logs))
    cb.on_train_end()


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (kwargs, monitor, seq, lr) in CASES.items():
        reduce_lr_case(name, kwargs, monitor, seq, lr)
    csv_case("train_only", LOGS_TRAIN_ONLY)
    csv_case("with_val", LOGS_VAL)
    csv_case("semicolon", LOGS_VAL, separator=";")
    csv_case("dot_separator", LOGS_VAL, separator=".")
    csv_case("append_nonempty", LOGS_VAL, append=True, prefix="earlier run\r\n")
    csv_case("append_empty", LOGS_VAL, append=True, prefix="")


if __name__ == "__main__":
    main()
