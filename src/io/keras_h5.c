/* HDF5 side of the Keras files (libhdf5): legacy .h5 models (root attribute model_config, group
 * model_weights with layer_names / weight_names), and Keras 3 model.weights.h5 images (the
 * layers/<name>/vars/<i> walk of keras-semantics.md 8.1), read and written.
 *
 * Every HDF5 call is checked; HDF5's own error printing is switched off. A truncated or
 * corrupted file is an error with a message, never a crash. */
#ifdef RNN_WITH_KERAS_IO
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "io/keras_io.h"
#include "io/keras_libs.h"
#include "layers/layer_options.h"
#include "layers/recurrent.h"

#define MAX_WEIGHT_ELEMS ((int64_t)1 << 31)

void rnn__keras_h5_quiet(void) {
    if (rnn__keras_libs_load() == RNN_OK) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void close_id(hid_t id) {
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

static int exists(hid_t loc, const char *path) {
    /* H5Lexists on a path checks each component; walk it so a missing parent is not an error. */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; *p; p++) {
        if (*p != '/' || p == buf) continue;
        *p = 0;
        if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
        *p = '/';
    }
    return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

/* ---------------------------------------------------------------- string attributes */

static void free_strings(char **s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

/* Reads a string attribute (scalar or array; fixed or variable length) into a new array of
 * strings. An empty non-string array (h5py's empty weight_names) gives 0 strings. Returns the
 * count, or -1 if absent or unreadable. */
static int attr_strings_one(hid_t obj, const char *name, char ***out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t s = a >= 0 ? H5Aget_space(a) : -1;
    int result = -1;
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (t < 0 || n < 0 || n > 1000000) goto done;
    if (H5Tget_class(t) != H5T_STRING) {
        if (n == 0) {
            result = 0;
            *out = calloc(1, sizeof(char *));
        }
        goto done;
    }
    char **strs = calloc((size_t)n + 1, sizeof(char *));
    if (!strs) goto done;
    if (H5Tis_variable_str(t) > 0) {
        char **buf = calloc((size_t)n + 1, sizeof(char *));
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (buf && mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 &&
            H5Tset_cset(mt, H5Tget_cset(t)) >= 0 && H5Aread(a, mt, buf) >= 0) {
            result = (int)n;
            for (hssize_t i = 0; i < n; i++)
                if (!(strs[i] = strdup(buf[i] ? buf[i] : ""))) result = -1;
#if H5_VERSION_GE(1, 12, 0)
            H5Treclaim(mt, s, H5P_DEFAULT, buf);
#else
            H5Dvlen_reclaim(mt, s, H5P_DEFAULT, buf);
#endif
        }
        close_id(mt);
        free(buf);
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = sz > 0 && sz < (1u << 24) ? calloc((size_t)n + 1, sz) : NULL;
        hid_t mt = H5Tcopy(t);
        if (buf && mt >= 0 && H5Aread(a, mt, buf) >= 0) {
            result = (int)n;
            for (hssize_t i = 0; i < n; i++)
                if (!(strs[i] = strndup(buf + (size_t)i * sz, sz))) result = -1;
        }
        close_id(mt);
        free(buf);
    }
    if (result < 0) free_strings(strs, (int)n);
    else *out = strs;
done:
    close_id(s);
    close_id(t);
    close_id(a);
    return result;
}

/* The same, with Keras's chunking of large attributes (name0, name1, ...). */
static int attr_strings(hid_t obj, const char *name, char ***out) {
    int n = attr_strings_one(obj, name, out);
    if (n >= 0) return n;
    char **all = NULL;
    int total = 0;
    for (int chunk = 0;; chunk++) {
        char key[128], **part;
        snprintf(key, sizeof key, "%s%d", name, chunk);
        int k = attr_strings_one(obj, key, &part);
        if (k < 0) break;
        char **grown = realloc(all, sizeof(char *) * (size_t)(total + k + 1));
        if (!grown) {
            free_strings(part, k);
            free_strings(all, total);
            return -1;
        }
        all = grown;
        memcpy(all + total, part, sizeof(char *) * (size_t)k);
        total += k;
        free(part);
    }
    if (!all) return -1;
    *out = all;
    return total;
}

static char *attr_string(hid_t obj, const char *name) {
    char **s;
    int n = attr_strings_one(obj, name, &s);
    if (n < 1) {
        free_strings(s, n);
        return NULL;
    }
    char *r = s[0];
    for (int i = 1; i < n; i++) free(s[i]);
    free(s);
    return r;
}

/* ---------------------------------------------------------------- arrays */

/* Reads a weight array of layer L. A weight of L can never hold more values than L has weights in
 * all (Keras 1's per-gate arrays are parts of them): that bound comes before the allocation, so a
 * corrupted shape in the file cannot ask for gigabytes (found by fuzz/fuzz_h5). */
static rnn_status read_array(hid_t loc, const char *path, rnn_keras_array *a, rnn_layer *L) {
    const char *what = L->name;
    int64_t max_elems = rnn__layer_param_count(L);
    if (max_elems > MAX_WEIGHT_ELEMS) max_elems = MAX_WEIGHT_ELEMS;
    memset(a, 0, sizeof *a);
    if (!exists(loc, path))
        return rnn__fail(RNN_ERR_FORMAT, "%s: weight \"%s\" is missing from the file", what, path);
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    hid_t t = d >= 0 ? H5Dget_type(d) : -1;
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    rnn_status st = RNN_OK;
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    hsize_t dims[8] = {0};
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (d < 0 || t < 0 || s < 0 || rank < 0) {
        st = rnn__fail(RNN_ERR_FORMAT, "%s: weight \"%s\" cannot be read (corrupted file?)", what,
                       path);
    } else if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        st = rnn__fail(RNN_ERR_FORMAT, "%s: weight \"%s\" is not numeric", what, path);
    } else if (rank > 3) {
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "%s: weight \"%s\" has rank %d (librnn's weights "
                       "have rank 1 to 3)", what, path, rank);
    } else {
        H5Sget_simple_extent_dims(s, dims, NULL);
        int64_t size = 1;
        for (int i = 0; i < rank; i++) {
            if (dims[i] > (hsize_t)MAX_WEIGHT_ELEMS || (size *= (int64_t)dims[i]) > MAX_WEIGHT_ELEMS)
                size = MAX_WEIGHT_ELEMS + 1;
        }
        if (size > max_elems) {
            st = rnn__fail(RNN_ERR_FORMAT, "%s: weight \"%s\" has %s%lld values, more than the "
                           "layer's %lld weights in all (corrupted file?)", what, path,
                           size > MAX_WEIGHT_ELEMS ? "over " : "",
                           (long long)(size > MAX_WEIGHT_ELEMS ? MAX_WEIGHT_ELEMS : size),
                           (long long)max_elems);
        } else {
            a->rank = rank;
            for (int i = 0; i < rank; i++) a->shape[i] = (int64_t)dims[i];
            a->size = size;
            a->data = malloc(sizeof(float) * (size_t)(size ? size : 1));
            if (!a->data) st = rnn__fail(RNN_ERR_MEMORY, "out of memory for weight \"%s\"", path);
            else if (size && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
                st = rnn__fail(RNN_ERR_FORMAT, "%s: weight \"%s\" cannot be read (truncated or "
                               "corrupted file)", what, path);
        }
    }
    close_id(s);
    close_id(t);
    close_id(d);
    if (st) {
        free(a->data);
        a->data = NULL;
    }
    return st;
}

static rnn_status write_array(hid_t loc, const char *name, const rnn_weight *w) {
    hsize_t dims[3] = {(hsize_t)w->shape[0], (hsize_t)w->shape[1], (hsize_t)w->shape[2]};
    hid_t s = H5Screate_simple(w->rank, dims, NULL);
    hid_t d = s >= 0 ? H5Dcreate2(loc, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT) : -1;
    herr_t e = d >= 0 ? H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->value) : -1;
    close_id(d);
    close_id(s);
    return e < 0 ? rnn__fail(RNN_ERR_IO, "cannot write weight %s", w->name) : RNN_OK;
}

static rnn_status write_string_attr(hid_t obj, const char *name, const char *value) {
    size_t len = strlen(value);
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t s = H5Screate(H5S_SCALAR);
    herr_t e = t >= 0 && s >= 0 ? H5Tset_size(t, len ? len : 1) : -1;
    if (e >= 0) e = H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t a = e >= 0 ? H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (a >= 0) e = H5Awrite(a, t, len ? value : "");
    else e = -1;
    close_id(a);
    close_id(s);
    close_id(t);
    return e < 0 ? rnn__fail(RNN_ERR_IO, "cannot write attribute %s", name) : RNN_OK;
}

/* An array attribute of fixed-length strings (h5py's np.array([b"a", b"bc"])); an empty list is
 * written as an empty float64 array, as h5py does. */
static rnn_status write_strings_attr(hid_t obj, const char *name, char **values, int n) {
    hsize_t dim = (hsize_t)n;
    if (n == 0) {
        hid_t s = H5Screate_simple(1, &dim, NULL);
        hid_t a = s >= 0 ? H5Acreate2(obj, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
        close_id(a);
        close_id(s);
        return a < 0 ? rnn__fail(RNN_ERR_IO, "cannot write attribute %s", name) : RNN_OK;
    }
    size_t width = 1;
    for (int i = 0; i < n; i++)
        if (strlen(values[i]) > width) width = strlen(values[i]);
    char *buf = calloc((size_t)n, width);
    if (!buf) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * width, values[i], strlen(values[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    herr_t e = t >= 0 ? H5Tset_size(t, width) : -1;
    if (e >= 0) e = H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t s = H5Screate_simple(1, &dim, NULL);
    hid_t a = e >= 0 && s >= 0 ? H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT) : -1;
    e = a >= 0 ? H5Awrite(a, t, buf) : -1;
    close_id(a);
    close_id(s);
    close_id(t);
    free(buf);
    return e < 0 ? rnn__fail(RNN_ERR_IO, "cannot write attribute %s", name) : RNN_OK;
}

int rnn__keras_h5_read_strings(hid_t obj, const char *name, char ***out) {
    return attr_strings(obj, name, out);
}

rnn_status rnn__keras_h5_write_strings(hid_t obj, const char *name, char **values, int n) {
    return write_strings_attr(obj, name, values, n);
}

/* ---------------------------------------------------------------- legacy .h5: reading */

static rnn_status load_legacy_layer(hid_t mw, rnn_layer *L, const rnn_keras_origin *o) {
    rnn_weight *w[64];
    int nw = rnn__layer_weight_list(L, w, 64);
    if (!exists(mw, L->name)) {
        if (nw == 0) return RNN_OK;
        return rnn__fail(RNN_ERR_FORMAT, "the file has no weights for layer \"%s\"", L->name);
    }
    hid_t g = H5Gopen2(mw, L->name, H5P_DEFAULT);
    if (g < 0) return rnn__fail(RNN_ERR_FORMAT, "weights of layer \"%s\" unreadable", L->name);
    char **names = NULL;
    int n = attr_strings(g, "weight_names", &names);
    rnn_status st = RNN_OK;
    if (n < 0) {
        st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": weight_names missing or unreadable",
                       L->name);
    } else if (n > 64) {
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" has %d weight arrays", L->name, n);
    } else {
        rnn_keras_array arr[64];
        memset(arr, 0, sizeof arr);
        for (int i = 0; i < n && !st; i++) st = read_array(g, names[i], &arr[i], L);
        if (!st) st = rnn__keras_assign_layer(L, arr, n, o);
        rnn__keras_arrays_free(arr, n);
    }
    free_strings(names, n);
    close_id(g);
    return st;
}

rnn_model *rnn__keras_load_h5(const char *path, rnn_keras_recipe *recipe) {
    if (rnn__keras_libs_load()) return NULL;
    rnn__keras_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        rnn__fail(RNN_ERR_FORMAT, "%s: not a readable HDF5 file (truncated or corrupted?)", path);
        return NULL;
    }
    rnn_model *m = NULL;
    char *config = attr_string(f, "model_config");
    char *version = attr_string(f, "keras_version");
    char *training = attr_string(f, "training_config");
    hid_t mw = -1;
    cJSON *json = NULL, *tjson = NULL;
    rnn_keras_origin o;
    if (!config) {
        if (H5Aexists(f, "layer_names") > 0)
            rnn__fail(RNN_ERR_UNSUPPORTED, "%s holds weights only (save_weights): it has no model "
                      "config to build the model from", path);
        else if (exists(f, "layers") || exists(f, "vars"))
            rnn__fail(RNN_ERR_UNSUPPORTED, "%s is a Keras 3 weights file (.weights.h5): it has no "
                      "model config; load the .keras file", path);
        else
            rnn__fail(RNN_ERR_FORMAT, "%s is an HDF5 file but not a Keras model (no model_config "
                      "attribute)", path);
        goto done;
    }
    if (!exists(f, "model_weights")) {
        rnn__fail(RNN_ERR_FORMAT, "%s: no model_weights group (saved without weights?)", path);
        goto done;
    }
    mw = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    if (mw < 0) {
        rnn__fail(RNN_ERR_FORMAT, "%s: model_weights unreadable", path);
        goto done;
    }
    {
        /* Keras 1 wrote no keras_version in model_weights (keras-semantics.md 1.8). */
        char *mw_version = attr_string(mw, "keras_version");
        rnn__keras_origin_set(&o, mw_version ? mw_version : version);
        if (!mw_version) o.major = 1;
        free(mw_version);
    }
    json = cJSON_Parse(config);
    if (!json) {
        rnn__fail(RNN_ERR_FORMAT, "%s: model_config is not valid JSON", path);
        goto done;
    }
    {
        /* Every weight is stored in this file (Keras writes no compressed datasets), so its size
         * bounds what the config may declare; the file's values replace the initialisers', so
         * none is run. */
        struct stat fsb;
        int64_t bound = stat(path, &fsb) == 0 ? (int64_t)(fsb.st_size / (off_t)sizeof(float)) : -1;
        m = rnn__keras_model_from_json_bounded(json, &o, 0, bound);
    }
    if (!m) goto done;
    {
        rnn_status st = RNN_OK;
        for (int i = 0; i < m->n_layers && !st; i++)
            if (!rnn__is_input_layer(m->layers[i])) st = load_legacy_layer(mw, m->layers[i], &o);
        /* A layer with weights in the file that the config does not have. */
        char **names = NULL;
        int n = st ? -1 : attr_strings(mw, "layer_names", &names);
        for (int i = 0; i < n && !st; i++) {
            int found = 0;
            for (int j = 0; j < m->n_layers; j++) found |= !strcmp(m->layers[j]->name, names[i]);
            if (found || !exists(mw, names[i])) continue;
            hid_t g = H5Gopen2(mw, names[i], H5P_DEFAULT);
            char **wn = NULL;
            int k = g >= 0 ? attr_strings(g, "weight_names", &wn) : -1;
            free_strings(wn, k);
            close_id(g);
            if (k > 0)
                st = rnn__fail(RNN_ERR_FORMAT, "the file has weights for layer \"%s\", which the "
                               "model config does not have", names[i]);
        }
        free_strings(names, n);
        if (st) {
            rnn_model_free(m);
            m = NULL;
            goto done;
        }
    }
    if (training && (tjson = cJSON_Parse(training))) rnn__keras_apply_compile(m, tjson, 1);
    rnn__keras_read_optimizer_state(m, f, 1);
    if (recipe) {
        recipe->config = config;
        recipe->compile = training;
        recipe->compile_legacy = 1;
        recipe->origin = o;
        config = training = NULL;
    }
done:
    cJSON_Delete(json);
    cJSON_Delete(tjson);
    free(config);
    free(version);
    free(training);
    close_id(mw);
    close_id(f);
    return m;
}

/* ---------------------------------------------------------------- Keras 3 weights */

static rnn_status walk_model(hid_t f, const char *path, rnn_model *m, int write);

/* path: the layer's group ("layers/lstm"). Reads (or writes) its own variables and recurses. */
static rnn_status walk_layer(hid_t f, const char *path, rnn_layer *L, int write) {
    char p[1024];
    rnn_status st = RNN_OK;
    if (write) {
        snprintf(p, sizeof p, "%s/vars", path);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t g = H5Gcreate2(f, p, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        close_id(lcpl);
        if (g < 0) return rnn__fail(RNN_ERR_IO, "cannot create %s", p);
        st = write_string_attr(g, "name", L->name);
        int own = rnn__layer_is_recurrent(L) ? 0 : L->n_weights;
        for (int k = 0; k < own && !st; k++) {
            char key[16];
            snprintf(key, sizeof key, "%d", k);
            st = write_array(g, key, &L->weights[k]);
        }
        close_id(g);
        if (st) return st;
    }
    if (rnn__layer_is_recurrent(L)) {
        snprintf(p, sizeof p, "%s/cell", path);
        if (write) {
            char q[1100];
            snprintf(q, sizeof q, "%s/vars", p);
            hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
            H5Pset_create_intermediate_group(lcpl, 1);
            hid_t g = H5Gcreate2(f, q, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            close_id(lcpl);
            if (g < 0) return rnn__fail(RNN_ERR_IO, "cannot create %s", q);
            for (int k = 0; k < L->n_weights && !st; k++) {
                char key[16];
                snprintf(key, sizeof key, "%d", k);
                st = write_array(g, key, &L->weights[k]);
            }
            close_id(g);
            return st;
        }
    } else {
        snprintf(p, sizeof p, "%s", path);
    }
    if (rnn__keras_is(L, "Bidirectional")) { /* forward, then backward (get_weights order) */
        snprintf(p, sizeof p, "%s/forward_layer", path);
        st = walk_layer(f, p, rnn__bidirectional_sub(L, 0), write);
        snprintf(p, sizeof p, "%s/backward_layer", path);
        return st ? st : walk_layer(f, p, rnn__bidirectional_sub(L, 1), write);
    }
    if (rnn__keras_is(L, "TimeDistributed")) {
        snprintf(p, sizeof p, "%s/layer", path);
        return walk_layer(f, p, rnn__keras_inner_layer(L), write);
    }
    if (rnn__keras_is(L, "Sequential") || rnn__keras_is(L, "Functional"))
        return walk_model(f, path, rnn__keras_inner_model(L), write);
    if (write || L->n_weights == 0) return RNN_OK;
    rnn_keras_array arr[RNN_LAYER_MAX_WEIGHTS];
    memset(arr, 0, sizeof arr);
    int n = 0;
    for (; n < RNN_LAYER_MAX_WEIGHTS + 1 && !st; n++) {
        char q[1100];
        snprintf(q, sizeof q, "%s/vars/%d", p, n);
        if (!exists(f, q)) break;
        if (n == RNN_LAYER_MAX_WEIGHTS) {
            st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": more weight arrays in the file than "
                           "the config implies", L->name);
            break;
        }
        st = read_array(f, q, &arr[n], L);
    }
    if (!st && n == 0)
        st = rnn__fail(RNN_ERR_FORMAT, "the file has no weights for layer \"%s\" (looked for "
                       "%s/vars)", L->name, p);
    if (!st) st = rnn__keras_assign_layer(L, arr, n, &(rnn_keras_origin){3, "3"});
    rnn__keras_arrays_free(arr, RNN_LAYER_MAX_WEIGHTS);
    return st;
}

/* Elements of a model's layer list are named by snake-cased class, counted per class; a
 * Sequential's list leaves its InputLayer out. */
static rnn_status walk_model(hid_t f, const char *path, rnn_model *m, int write) {
    const char *base = path[0] ? path : "";
    char layers_path[1024];
    snprintf(layers_path, sizeof layers_path, "%s%slayers", base, base[0] ? "/" : "");
    if (!write && !exists(f, layers_path)) {
        char alt[1024];
        snprintf(alt, sizeof alt, "%s%s_layer_checkpoint_dependencies", base, base[0] ? "/" : "");
        if (exists(f, alt)) snprintf(layers_path, sizeof layers_path, "%s", alt);
    }
    for (int i = 0; i < m->n_layers; i++) {
        rnn_layer *L = m->layers[i];
        if (m->sequential && rnn__is_input_layer(L)) continue;
        int count = 0;
        for (int j = 0; j < i; j++) {
            if (m->sequential && rnn__is_input_layer(m->layers[j])) continue;
            count += !strcmp(rnn__keras_stem(m->layers[j]), rnn__keras_stem(L));
        }
        char p[1100];
        int len = count ? snprintf(p, sizeof p, "%s/%s_%d", layers_path, rnn__keras_stem(L), count)
                        : snprintf(p, sizeof p, "%s/%s", layers_path, rnn__keras_stem(L));
        if (len < 0 || len >= 1024) return rnn__fail(RNN_ERR_UNSUPPORTED, "models nested too deep");
        rnn_status st = walk_layer(f, p, L, write);
        if (st) return st;
    }
    return RNN_OK;
}

rnn_status rnn__keras_read_weights_image(rnn_model *m, const void *image, size_t size) {
    rnn_status loaded = rnn__keras_libs_load();
    if (loaded) return loaded;
    rnn__keras_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)image, size) >= 0)
        f = H5Fopen("model.weights.h5", H5F_ACC_RDONLY, fapl);
    close_id(fapl);
    if (f < 0)
        return rnn__fail(RNN_ERR_FORMAT, "model.weights.h5 is not a readable HDF5 file "
                         "(truncated or corrupted?)");
    rnn_status st = walk_model(f, "", m, 0);
    if (!st) rnn__keras_read_optimizer_state(m, f, 0);
    close_id(f);
    return st;
}

/* A new HDF5 file that lives in memory only (the core driver without a backing store). */
static hid_t create_in_memory(const char *name) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0)
        f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    close_id(fapl);
    return f;
}

/* The bytes of an in-memory file (after a flush) into a new buffer; st is passed through. */
static rnn_status take_image(hid_t f, rnn_status st, void **image, size_t *size) {
    *image = NULL;
    *size = 0;
    if (!st && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) st = rnn__fail(RNN_ERR_IO, "HDF5 flush failed");
    ssize_t n = st ? -1 : H5Fget_file_image(f, NULL, 0);
    if (!st && n <= 0) st = rnn__fail(RNN_ERR_IO, "HDF5 file image failed");
    if (!st) {
        *image = malloc((size_t)n);
        if (!*image) st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
        else if (H5Fget_file_image(f, *image, (size_t)n) != n) st = rnn__fail(RNN_ERR_IO, "HDF5 file image failed");
        else *size = (size_t)n;
    }
    if (st) {
        free(*image);
        *image = NULL;
        *size = 0;
    }
    return st;
}

rnn_status rnn__keras_write_weights_image(rnn_model *m, void **image, size_t *size) {
    rnn_status loaded = rnn__keras_libs_load();
    if (loaded) return loaded;
    rnn__keras_h5_quiet();
    *image = NULL;
    *size = 0;
    hid_t f = create_in_memory("model.weights.h5");
    if (f < 0) return rnn__fail(RNN_ERR_IO, "cannot create the weights file in memory");
    hid_t g = H5Gcreate2(f, "vars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rnn_status st = g < 0 ? rnn__fail(RNN_ERR_IO, "cannot create /vars") : RNN_OK;
    close_id(g);
    if (!st) st = walk_model(f, "", m, 1);
    if (!st) st = rnn__keras_write_optimizer_state(m, f, 0);
    st = take_image(f, st, image, size);
    close_id(f);
    return st;
}

/* ---------------------------------------------------------------- legacy .h5: writing */

/* Weight names as tf.keras 2 wrote them: "<layer>/<var>:0" (cells: "<layer>/<cell>/<var>:0"). */
static rnn_status save_legacy_layer(hid_t mw, rnn_layer *L) {
    hid_t g = H5Gcreate2(mw, L->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rnn__fail(RNN_ERR_IO, "cannot create group %s", L->name);
    rnn_weight *w[64];
    int nw = rnn__layer_weight_list(L, w, 64);
    char *names[64];
    rnn_status st = nw > 64 ? rnn__fail(RNN_ERR_UNSUPPORTED, "too many weights") : RNN_OK;
    int made = 0;
    for (int k = 0; k < nw && !st; k++, made++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s/w%d_%s:0", L->name, k, w[k]->name);
        names[k] = strdup(buf);
        if (!names[k]) st = rnn__fail(RNN_ERR_MEMORY, "out of memory");
    }
    if (!st) st = write_strings_attr(g, "weight_names", names, nw);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (int k = 0; k < nw && !st; k++) {
        hsize_t dims[3] = {(hsize_t)w[k]->shape[0], (hsize_t)w[k]->shape[1],
                           (hsize_t)w[k]->shape[2]};
        hid_t s = H5Screate_simple(w[k]->rank, dims, NULL);
        hid_t d = s >= 0 ? H5Dcreate2(g, names[k], H5T_IEEE_F32LE, s, lcpl, H5P_DEFAULT,
                                      H5P_DEFAULT) : -1;
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w[k]->value) < 0)
            st = rnn__fail(RNN_ERR_IO, "cannot write weight %s", names[k]);
        close_id(d);
        close_id(s);
    }
    close_id(lcpl);
    for (int k = 0; k < made; k++) free(names[k]);
    close_id(g);
    return st;
}

/* Writes the bytes over the file at path (which exists); the message carries the system's
 * reason ("No space left on device"). */
static rnn_status write_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    const char *p = data;
    while (!err && n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) err = w < 0 ? errno : EIO;
        else {
            p += w;
            n -= (size_t)w;
        }
    }
    if (fd >= 0 && close(fd) != 0 && !err) err = errno;
    return err ? rnn__fail(RNN_ERR_IO, "cannot write %s: %s", path, strerror(err)) : RNN_OK;
}

rnn_status rnn__keras_save_h5(rnn_model *m, const char *tmp_path) {
    rnn_status loaded = rnn__keras_libs_load();
    if (loaded) return loaded;
    rnn__keras_h5_quiet();
    char *config = rnn__keras_legacy_config_json(m);
    if (!config) return RNN_ERR_UNSUPPORTED;
    char *training = m->compiled ? rnn__keras_legacy_training_json(m) : NULL;
    /* The file is built in memory and written with plain write() calls: when HDF5 itself
     * writes to disk and a write fails (a full disk), H5Fclose fails, the file stays open
     * inside HDF5 and the library crashes when it shuts down at exit. */
    hid_t f = create_in_memory(tmp_path);
    rnn_status st = f < 0 ? rnn__fail(RNN_ERR_IO, "cannot create the .h5 file in memory") : RNN_OK;
    /* keras_version 2.x: librnn and Keras read hard_sigmoid in its 0.2x + 0.5 form, and every
     * option is written explicitly. A config in Keras 3's form says 3.x: its hard_sigmoid is
     * Keras 3's (x/6 + 0.5). */
    const char *version = rnn__keras_h5_keras3_form(m) ? "3.15.1" : "2.15.0";
    if (!st) st = write_string_attr(f, "keras_version", version);
    if (!st) st = write_string_attr(f, "backend", "tensorflow");
    if (!st) st = write_string_attr(f, "model_config", config);
    if (!st && training) st = write_string_attr(f, "training_config", training);
    hid_t mw = st ? -1 : H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (!st && mw < 0) st = rnn__fail(RNN_ERR_IO, "cannot create model_weights");
    char *names[1024];
    int nl = 0;
    for (int i = 0; i < m->n_layers && !st; i++) {
        if (nl == 1024) {
            st = rnn__fail(RNN_ERR_UNSUPPORTED, "more than 1024 layers");
            break;
        }
        names[nl++] = m->layers[i]->name;
        st = save_legacy_layer(mw, m->layers[i]);
    }
    if (!st) st = write_strings_attr(mw, "layer_names", names, nl);
    if (!st) st = write_string_attr(mw, "keras_version", version);
    if (!st) st = write_string_attr(mw, "backend", "tensorflow");
    if (!st) st = rnn__keras_write_optimizer_state(m, f, 1);
    close_id(mw);
    void *image = NULL;
    size_t size = 0;
    if (f >= 0) st = take_image(f, st, &image, &size);
    close_id(f);
    if (!st) st = write_file(tmp_path, image, size);
    free(image);
    free(config);
    free(training);
    return st;
}

#else
typedef int rnn__keras_h5_unused;
#endif
