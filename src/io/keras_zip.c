/* rnn_load / rnn_save: the file kind by content (zip: Keras 3 .keras; HDF5: legacy .h5) when
 * loading, by extension when saving; the .keras zip container through libzip. Saving writes a
 * temporary file in the target's directory, flushes it to disk and renames it over the target,
 * so a failed save leaves no half-written file. Without -DRNN_WITH_KERAS_IO both calls return
 * RNN_ERR_UNSUPPORTED. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "io/output_file.h"
#include "model.h"

#ifdef RNN_WITH_KERAS_IO
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "io/keras_io.h"
#include "io/keras_libs.h"

#define MAX_MEMBER ((zip_uint64_t)1 << 32)
/* Caps on the text members, checked against the size the zip declares before anything is
 * allocated or inflated (libzip then refuses data beyond that size by its CRC and length
 * checks): Keras writes about a kilobyte of config per layer, so 16 MiB is over 10,000 layers;
 * metadata.json is a few lines. A 4 MB file whose config inflated to 4 GiB once loaded. */
#define MAX_CONFIG_MEMBER ((zip_uint64_t)16 << 20)
#define MAX_METADATA_MEMBER ((zip_uint64_t)1 << 20)

/* Reads a whole member into a new buffer (NUL-terminated). */
static rnn_status read_member(zip_t *z, const char *name, const char *path, char **out,
                              size_t *size, int required, zip_uint64_t cap) {
    *out = NULL;
    *size = 0;
    zip_stat_t sb;
    zip_stat_init(&sb);
    if (zip_stat(z, name, 0, &sb) != 0 || !(sb.valid & ZIP_STAT_SIZE))
        return required ? rnn__fail(RNN_ERR_FORMAT, "%s: a .keras file needs %s, which is "
                                    "missing", path, name)
                        : RNN_OK;
    if (sb.size > cap)
        return rnn__fail(RNN_ERR_FORMAT, "%s: member %s is too large (%llu bytes; the limit is "
                         "%llu)", path, name, (unsigned long long)sb.size, (unsigned long long)cap);
    char *buf = malloc((size_t)sb.size + 1);
    if (!buf) return rnn__fail(RNN_ERR_MEMORY, "out of memory reading %s", name);
    zip_file_t *zf = zip_fopen(z, name, 0);
    zip_int64_t got = zf ? zip_fread(zf, buf, sb.size) : -1;
    /* One more read reaches the end, where libzip checks the CRC. */
    char extra;
    zip_int64_t more = zf && got == (zip_int64_t)sb.size ? zip_fread(zf, &extra, 1) : -1;
    if (zf) zip_fclose(zf);
    if (got != (zip_int64_t)sb.size || more != 0) {
        free(buf);
        return rnn__fail(RNN_ERR_FORMAT, "%s: member %s cannot be read (truncated or corrupted "
                         "file)", path, name);
    }
    buf[sb.size] = 0;
    *out = buf;
    *size = (size_t)sb.size;
    return RNN_OK;
}

static rnn_model *load_keras(const char *path, rnn_keras_recipe *recipe) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        rnn__fail(RNN_ERR_FORMAT, "%s: not a readable .keras (zip) file: %s", path,
                  zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return NULL;
    }
    char *config = NULL, *meta = NULL, *weights = NULL;
    size_t config_n, meta_n, weights_n;
    rnn_model *m = NULL;
    cJSON *json = NULL, *mjson = NULL;
    rnn_keras_origin o;
    rnn__keras_origin_set(&o, "3");
    if (read_member(z, "config.json", path, &config, &config_n, 1, MAX_CONFIG_MEMBER) ||
        read_member(z, "metadata.json", path, &meta, &meta_n, 0, MAX_METADATA_MEMBER))
        goto done;
    if (meta && (mjson = cJSON_Parse(meta))) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(mjson, "keras_version");
        if (cJSON_IsString(v)) rnn__keras_origin_set(&o, v->valuestring);
    }
    if (o.major < 3) o.major = 3; /* .keras is Keras 3's format (tf.keras 2.13+ wrote it too) */
    json = cJSON_ParseWithLength(config, config_n);
    if (!json) {
        rnn__fail(RNN_ERR_FORMAT, "%s: config.json is not valid JSON", path);
        goto done;
    }
    /* The weights are all in model.weights.h5: its size bounds what the config may declare,
     * and the file's values replace the initialisers' (so none is run: an orthogonal
     * initialiser of a hostile size alone took minutes). */
    zip_stat_t wsb;
    zip_stat_init(&wsb);
    int64_t bound = zip_stat(z, "model.weights.h5", 0, &wsb) == 0 && (wsb.valid & ZIP_STAT_SIZE)
                        ? (int64_t)(wsb.size / sizeof(float))
                        : -1;
    m = rnn__keras_model_from_json_bounded(json, &o, 0, bound);
    if (!m) goto done;
    /* Compiled first, so that the weights file's optimizer variables have a home. */
    rnn__keras_apply_compile(m, cJSON_GetObjectItemCaseSensitive(json, "compile_config"), 0);
    if (m->n_params > 0) {
        if (read_member(z, "model.weights.h5", path, &weights, &weights_n, 1, MAX_MEMBER) ||
            rnn__keras_read_weights_image(m, weights, weights_n)) {
            rnn_model_free(m);
            m = NULL;
            goto done;
        }
    }
    if (recipe) {
        recipe->config = config;
        recipe->compile = NULL;
        recipe->compile_legacy = 0;
        recipe->origin = o;
        config = NULL;
    }
done:
    cJSON_Delete(json);
    cJSON_Delete(mjson);
    free(config);
    free(meta);
    free(weights);
    zip_discard(z);
    return m;
}

rnn_status rnn__keras_zip_write(const char *path, const rnn_zip_member *members, int n) {
    rnn_status loaded = rnn__keras_libs_load();
    if (loaded) return loaded;
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    rnn_status st = z ? RNN_OK : rnn__fail(RNN_ERR_IO, "cannot create %s", path);
    for (int i = 0; i < n && !st; i++) {
        zip_source_t *src = zip_source_buffer(z, members[i].data, members[i].size, 0);
        zip_int64_t idx = src ? zip_file_add(z, members[i].name, src, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) {
            if (src) zip_source_free(src);
            st = rnn__fail(RNN_ERR_IO, "cannot add %s to %s", members[i].name, path);
        } else if (zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0) {
            st = rnn__fail(RNN_ERR_IO, "cannot store %s", members[i].name);
        }
    }
    if (z) {
        if (st) zip_discard(z);
        else if (zip_close(z) != 0) {
            st = rnn__fail(RNN_ERR_IO, "cannot write %s: %s", path, zip_strerror(z));
            zip_discard(z);
        }
    }
    return st;
}

static rnn_status save_keras(rnn_model *m, const char *tmp, const rnn_zip_member *extra,
                             int n_extra) {
    char *config = rnn__keras_config_json(m);
    if (!config) return RNN_ERR_UNSUPPORTED;
    void *weights = NULL;
    size_t weights_n = 0;
    rnn_status st = rnn__keras_write_weights_image(m, &weights, &weights_n);
    char meta[256];
    time_t now = time(NULL);
    struct tm tmv;
    char date[32] = "1980-01-01@00:00:00";
    if (gmtime_r(&now, &tmv)) strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &tmv);
    snprintf(meta, sizeof meta, "{\"keras_version\": \"3.15.1\", \"date_saved\": \"%s\", "
             "\"written_by\": \"librnn %s\"}", date, rnn_version());
    rnn_zip_member members[3 + RNN_ZIP_MAX_EXTRA] = {
        {"metadata.json", meta, strlen(meta)},
        {"config.json", config, strlen(config)},
        {"model.weights.h5", weights, weights_n}};
    int n_members = 3;
    for (int i = 0; i < n_extra && i < RNN_ZIP_MAX_EXTRA; i++) members[n_members++] = extra[i];
    if (!st) st = rnn__keras_zip_write(tmp, members, n_members);
    free(config);
    free(weights);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

/* A file can hold NaN or Inf weights (Keras saves a diverged model as it is). rnn_set_weight
 * refuses them, and so does loading, naming the weight, rather than predict NaN silently. */
static rnn_status check_finite_weights(rnn_model *m, const char *path) {
    for (int w = 0; w < m->n_weights; w++) {
        const rnn_weight *wt = m->weights[w];
        for (int64_t i = 0; i < wt->size; i++)
            if (!isfinite(wt->value[i])) {
                const char *name = "?";
                rnn_weight_info(m, w, &name, NULL, NULL);
                return rnn__fail(RNN_ERR_FORMAT, "%s: weight %s in the file is %s at flat index "
                                 "%lld (saved after training diverged?)", path, name,
                                 isnan(wt->value[i]) ? "NaN" : "Inf", (long long)i);
            }
    }
    return RNN_OK;
}

rnn_model *rnn__keras_load_in_process(const char *path, rnn_keras_recipe *recipe) {
    if (rnn__keras_libs_load()) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rnn__fail(RNN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char head[8] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    rnn_model *m = NULL;
    if (got >= 4 && !memcmp(head, "PK\x03\x04", 4)) {
        m = load_keras(path, recipe);
    } else if (got == 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8)) {
        m = rnn__keras_load_h5(path, recipe);
    } else if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) {
        m = rnn__keras_load_h5(path, recipe); /* HDF5 with a user block */
    } else {
        rnn__fail(RNN_ERR_FORMAT, "%s is not a Keras model file (neither a .keras zip nor an "
                  "HDF5 .h5 file)", path);
    }
    return m;
}

rnn_model *rnn_load(const char *path) { return rnn_load_ex(path, NULL); }

rnn_model *rnn_load_ex(const char *path, const rnn_load_options *options) {
    if (!path) {
        rnn__fail(RNN_ERR_ARGUMENT, "rnn_load: path is NULL");
        return NULL;
    }
    /* libhdf5 and libzip see the file only in the reader process (untrusted_parse.c), unless
     * the caller asked for the in-process load. */
    rnn_model *m = options && options->in_process ? rnn__keras_load_in_process(path, NULL)
                                                 : rnn__keras_load_untrusted(path, options);
    if (m && check_finite_weights(m, path)) {
        rnn_model_free(m);
        m = NULL;
    }
    if (m) rnn__clear_error();
    return m;
}

rnn_status rnn__keras_read_member_file(const char *path, const char *name, char **out,
                                       size_t *size, size_t cap) {
    *out = NULL;
    *size = 0;
    rnn_status loaded = rnn__keras_libs_load();
    if (loaded) return loaded;
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) return rnn__fail(RNN_ERR_FORMAT, "%s: not a readable .keras (zip) file", path);
    rnn_status st = read_member(z, name, path, out, size, 1, (zip_uint64_t)cap);
    zip_discard(z);
    return st;
}

rnn_status rnn_save(rnn_model *m, const char *path) {
    if (!m || !path) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_save: model or path is NULL");
    return rnn__keras_save_with(m, path, NULL, 0);
}

/* The format a save to path writes, by its extension: *keras 1 for .keras, 0 for .h5/.hdf5. */
static rnn_status save_format(rnn_model *m, const char *who, const char *path, int *keras) {
    *keras = ends_with(path, ".keras");
    if (!*keras && !ends_with(path, ".h5") && !ends_with(path, ".hdf5"))
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "%s%s: the file name must end in "
                               ".keras (Keras 3) or .h5 (legacy HDF5)", who, path));
    return RNN_OK;
}

rnn_status rnn_save_check(rnn_model *m, const char *path) {
    if (!m || !path) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_save_check: model or path is NULL");
    int keras;
    rnn_status st = save_format(m, "", path, &keras);
    if (st) return st;
    st = rnn__model_build(m);
    if (st) return st;
    /* The config is what a format may be unable to express (the Keras 1/2 hard_sigmoid in a
     * .keras file, say); the weights always can be. */
    char *config = keras ? rnn__keras_config_json(m) : rnn__keras_legacy_config_json(m);
    if (!config) return rnn__model_fail(m, RNN_ERR_UNSUPPORTED);
    free(config);
    st = rnn__output_check(path);
    if (st) return rnn__model_fail(m, st);
    rnn__clear_error();
    return RNN_OK;
}

rnn_status rnn__keras_save_with(rnn_model *m, const char *path, const rnn_zip_member *extra,
                                int n_extra) {
    int keras;
    rnn_status st = save_format(m, "rnn_save: ", path, &keras);
    if (st) return st;
    if (n_extra && !keras)
        return rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "%s: a training backup is a "
                               ".keras file", path));
    st = rnn__model_build(m);
    if (st) return st;
    rnn_output_plan out;
    st = rnn__output_begin(&out, path);
    if (st) return rnn__model_fail(m, st);
    st = keras ? save_keras(m, out.tmp, extra, n_extra) : rnn__keras_save_h5(m, out.tmp);
    if (st) rnn__output_abort(&out);
    else st = rnn__output_commit(&out);
    if (st) return rnn__model_fail(m, st);
    rnn__clear_error();
    return RNN_OK;
}

#else /* built without the Keras file libraries */

rnn_model *rnn_load(const char *path) { return rnn_load_ex(path, NULL); }

rnn_model *rnn_load_ex(const char *path, const rnn_load_options *options) {
    (void)options;
    rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_load(%s): this librnn was built without Keras model "
              "files (KERAS_IO=none: no libhdf5/libzip/libcjson); rebuild with them",
              path ? path : "NULL");
    return NULL;
}

rnn_model *rnn_model_from_json(const char *json) {
    (void)json;
    rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_model_from_json: this librnn was built without Keras "
              "model files (KERAS_IO=none: no libcjson); rebuild with them");
    return NULL;
}

rnn_status rnn_save_check(rnn_model *model, const char *path) {
    return rnn_save(model, path); /* says that this build cannot write model files */
}

rnn_status rnn_save(rnn_model *model, const char *path) {
    rnn_status st = rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_save(%s): this librnn was built without "
                              "Keras model files (KERAS_IO=none: no libhdf5/libzip/libcjson); "
                              "rebuild with them", path ? path : "NULL");
    return model ? rnn__model_fail(model, st) : st;
}

#endif
