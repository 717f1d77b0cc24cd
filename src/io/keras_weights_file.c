/* model.save_weights / model.load_weights with Keras 3's `.weights.h5` file: the same HDF5
 * layout as the model.weights.h5 member of a .keras file (keras/src/saving/saving_lib.py,
 * save_weights_only and H5IOStore: layers/<name>/vars/<i>, nested layers and models below,
 * optimizer/vars/<i>), which Keras writes for both.
 *
 * Reading never runs libhdf5 on the file in this process: the file is put, unchanged, into a
 * temporary .keras next to this model's config.json and read back by rnn_load's reader
 * program, as every model file is; the weights (and the optimizer's state, when the file has
 * one that fits) are then copied over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io/output_file.h"
#include "model.h"
#include "optim.h"

static int weights_name(const char *path) {
    size_t n = strlen(path), k = strlen(".weights.h5");
    return n >= k && !strcmp(path + n - k, ".weights.h5");
}

static rnn_status check_args(rnn_model *m, const char *path, const char *who) {
    if (!m || !path) return rnn__fail(RNN_ERR_ARGUMENT, "%s: model or path is NULL", who);
    if (!weights_name(path))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "%s: The filename must end in "
                                            "`.weights.h5`. Received: filepath=%s", who, path));
    return RNN_OK;
}

#ifdef RNN_WITH_KERAS_IO
#include <unistd.h>

#include "io/keras_io.h"

rnn_status rnn_save_weights(rnn_model *m, const char *path) {
    rnn_status st = check_args(m, path, "rnn_save_weights");
    if (st) return st;
    if ((st = rnn__model_build(m))) return st;
    void *image = NULL;
    size_t size = 0;
    rnn_output_plan out;
    if ((st = rnn__keras_write_weights_image(m, &image, &size)) ||
        (st = rnn__output_begin(&out, path))) {
        free(image);
        return rnn__model_fail(m, st);
    }
    FILE *f = fopen(out.tmp, "wb");
    int ok = f && fwrite(image, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    free(image);
    if (!ok) {
        st = rnn__fail(RNN_ERR_IO, "rnn_save_weights: cannot write %s: %s", path, strerror(errno));
        rnn__output_abort(&out);
        return rnn__model_fail(m, st);
    }
    if ((st = rnn__output_commit(&out))) return rnn__model_fail(m, st);
    rnn__clear_error();
    return RNN_OK;
}

/* The whole file (at most cap bytes). */
static rnn_status read_file(const char *path, size_t cap, char **out, size_t *n) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rnn__fail(RNN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t have = 0, room = 1 << 16;
    char *buf = malloc(room);
    rnn_status st = buf ? RNN_OK : rnn__fail(RNN_ERR_MEMORY, "out of memory");
    while (!st) {
        if (have == room) {
            if (room > cap) {
                st = rnn__fail(RNN_ERR_FORMAT, "%s is larger than %zu bytes", path, cap);
                break;
            }
            char *g = realloc(buf, room * 2);
            if (!g) {
                st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
                break;
            }
            buf = g;
            room *= 2;
        }
        size_t got = fread(buf + have, 1, room - have, f);
        have += got;
        if (got == 0) {
            if (ferror(f)) st = rnn__fail(RNN_ERR_IO, "cannot read %s", path);
            break;
        }
    }
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *n = have;
    return RNN_OK;
}

/* A .keras file at tmp holding this model's config and the given weights file. */
static rnn_status write_probe(rnn_model *m, const char *tmp, const char *weights, size_t n) {
    /* With the compile information, so that the file's optimizer variables are read too; a
     * compile Keras 3 cannot express (Keras 2's decay) leaves the weights alone. */
    char *config = rnn__keras_config_json_ex(m, 1);
    if (!config) config = rnn__keras_config_json_ex(m, 0);
    if (!config) return rnn_last_status() ? rnn_last_status() : RNN_ERR_UNSUPPORTED;
    static const char meta[] = "{\"keras_version\": \"3.15.1\", \"written_by\": \"librnn "
                               "rnn_load_weights\"}";
    const rnn_zip_member members[3] = {{"metadata.json", meta, strlen(meta)},
                                       {"config.json", config, strlen(config)},
                                       {"model.weights.h5", weights, n}};
    rnn_status st = rnn__keras_zip_write(tmp, members, 3);
    free(config);
    return st;
}

/* Keras's load_weights also restores the optimizer's variables when the file has them. */
static rnn_status adopt_optimizer(rnn_model *m, const rnn_model *saved) {
    if (!m->compiled || !saved->compiled || saved->optimizer.kind != m->optimizer.kind ||
        saved->iterations == 0 || saved->n_params != m->n_params)
        return RNN_OK;
    rnn_status st = rnn__optimizer_copy_slots(m, saved);
    if (st) { /* out of memory: the optimizer as compiled, and the error says so */
        rnn__optimizer_reset_slots(m);
        return st;
    }
    m->iterations = saved->iterations;
    m->optimizer.learning_rate = saved->optimizer.learning_rate;
    return RNN_OK;
}

rnn_status rnn_load_weights(rnn_model *m, const char *path) {
    rnn_status st = check_args(m, path, "rnn_load_weights");
    if (st) return st;
    if ((st = rnn__model_build(m))) return st;
    char *bytes = NULL;
    size_t n = 0;
    if ((st = read_file(path, (size_t)1 << 36, &bytes, &n))) return rnn__model_fail(m, st);
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rnn-weights-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    char probe[4200];
    if (!mkdtemp(dir)) {
        free(bytes);
        return rnn__model_fail(m, rnn__fail(RNN_ERR_IO, "rnn_load_weights: cannot create a "
                                            "temporary directory: %s", strerror(errno)));
    }
    snprintf(probe, sizeof probe, "%s/weights.keras", dir);
    st = write_probe(m, probe, bytes, n);
    free(bytes);
    rnn_model *saved = st ? NULL : rnn_load(probe);
    if (!st && !saved)
        st = rnn__fail(rnn_last_status() == RNN_ERR_IO ? RNN_ERR_IO : RNN_ERR_FORMAT,
                       "rnn_load_weights(%s): %s", path, rnn_last_error());
    unlink(probe);
    rmdir(dir);
    if (!st && (st = rnn_copy_weights(m, saved)))
        st = rnn__fail(RNN_ERR_FORMAT, "rnn_load_weights(%s): %s", path, rnn_model_error(m));
    if (!st) st = adopt_optimizer(m, saved);
    rnn_model_free(saved);
    if (st) return rnn__model_fail(m, st);
    rnn__clear_error();
    return RNN_OK;
}

#else

rnn_status rnn_save_weights(rnn_model *m, const char *path) {
    rnn_status st = check_args(m, path, "rnn_save_weights");
    return st ? st : rnn__model_fail(m, rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_save_weights(%s): "
                                                  "this librnn was built without Keras model "
                                                  "files (KERAS_IO=none)", path));
}

rnn_status rnn_load_weights(rnn_model *m, const char *path) {
    rnn_status st = check_args(m, path, "rnn_load_weights");
    return st ? st : rnn__model_fail(m, rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_load_weights(%s): "
                                                  "this librnn was built without Keras model "
                                                  "files (KERAS_IO=none)", path));
}

#endif
