"""The accuracy table of docs/export.md: for every model in ../shared/data/keras-models, random
inputs of the model's input shape (seeded; token ids for an Embedding input), then
`rnn quantize-report` (max and mean |difference| from float32 at bf16 and int8, with the weights
rounded and with rnn_predict itself in that precision) and whether
`rnn export` takes the model. Prints a Markdown table.

    /work/main/.venv/bin/python tools/quantize_table.py [MODELS_DIR] [RNN]
Only numpy and h5py; the shapes come from the files' configs, not from Keras."""
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import h5py
import numpy as np

models = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/keras-models"
rnn = sys.argv[2] if len(sys.argv) > 2 else "build/rnn"


def config(path):
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    with h5py.File(path, "r") as f:
        c = f.attrs.get("model_config")
        if c is None:
            return None
        return json.loads(c if isinstance(c, str) else c.decode())


def first_layers(cfg):
    c = cfg.get("config", cfg)
    layers = c.get("layers", c) if isinstance(c, dict) else c
    return layers if isinstance(layers, list) else []


def input_spec(cfg):
    """(shape without batch, vocabulary or 0)"""
    layers = first_layers(cfg)
    shape, vocab = None, 0
    for L in layers:
        lc = L.get("config", {})
        for key in ("batch_shape", "batch_input_shape"):
            if lc.get(key) and shape is None:
                shape = list(lc[key])[1:]
        if L.get("class_name") == "Embedding" and not vocab:
            vocab = lc.get("input_dim", 0)
        if shape is not None and (vocab or L.get("class_name") not in ("InputLayer",)):
            break
    return shape, vocab


rows = []
for name in sorted(os.listdir(models)):
    if "inputs_and_outputs" in name or not name.endswith((".h5", ".keras")):
        continue
    path = os.path.join(models, name)
    try:
        cfg = config(path)
        shape, vocab = input_spec(cfg) if cfg else (None, 0)
    except Exception as e:  # noqa: BLE001 - reported in the table
        shape, vocab = None, 0
    if not shape:
        rows.append((name, "-", "no input shape in the config", "", "", "", "", ""))
        continue
    shape = [20 if d is None else d for d in shape]
    rng = np.random.default_rng(0)
    n = 64
    x = (rng.integers(0, vocab, size=[n] + shape) if vocab else
         rng.uniform(-1, 1, size=[n] + shape)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        xp = os.path.join(d, "x.npy")
        np.save(xp, x)
        r = subprocess.run([rnn, "quantize-report", path, "--input", xp], capture_output=True,
                           text=True)
        e = subprocess.run([rnn, "export", path, "--c", d, "--name", "m"], capture_output=True,
                           text=True)
    exp = "yes" if e.returncode == 0 else e.stderr.strip().replace("rnn: rnn_export_c: ", "")[:60]
    if r.returncode != 0:
        rows.append((name, "x".join(map(str, shape)), r.stderr.strip()[:70], "", "", "", "", exp))
        continue
    vals = {}
    for line in r.stdout.splitlines()[1:]:
        p = line.split()
        vals[p[0]] = (float(p[1]), float(p[2]), float(p[3]), float(p[4]) if "-run" in p[0] else 0)
    # rnn_predict in the reduced precision itself: from float32 (and from the rounded weights)
    run = ["%.2g (%.1g)" % (vals[k][0], vals[k][3]) if k in vals else "-"
           for k in ("bf16-run", "int8-run")]
    ymax = vals["f32"][2] or 1.0
    rows.append((name, "x".join(map(str, shape)), "%.3g" % vals["f32"][2],
                 "%.2g / %.2g (%.2g)" % (vals["bf16"][0], vals["bf16"][1], vals["bf16"][0] / ymax),
                 "%.2g / %.2g (%.2g)" % (vals["int8"][0], vals["int8"][1], vals["int8"][0] / ymax),
                 run[0], run[1], exp))

print("| model | input (random, 64 samples) | max abs output (f32) | bf16: max / mean abs diff "
      "(max / max output) | int8: the same | bf16 rnn_predict: max abs diff (from the rounded "
      "weights) | int8 rnn_predict: the same | rnn export |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % r)
