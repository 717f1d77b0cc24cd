/* Keras model configs (JSON) -> librnn models, through the public constructors, and compile
 * information -> rnn_compile_with. This file reads the graph (inputs, Sequential layer lists,
 * Functional call nodes, nested models); each layer is read by its class's row in
 * keras_layers.c. What librnn does not have is an error naming it. Covers Keras 1 (list-form
 * Sequential), Keras 2 / tf.keras 2 (batch_input_shape, [[name, node, tensor, kwargs]] nodes)
 * and Keras 3 (batch_shape, {"args", "kwargs"} nodes). */
#ifdef RNN_WITH_KERAS_IO
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layers/layer_options.h"
#include "error.h"
#include "io/keras_layers.h"
#include "layers/recurrent.h"

/* ---------------------------------------------------------------- layer introspection */

int rnn__keras_is(const rnn_layer *layer, const char *class_name) {
    return layer && !strcmp(layer->ops->class_name, class_name);
}
const rnn_recurrent_options *rnn__keras_recurrent_options(rnn_layer *layer) {
    return &rnn__recurrent_of(layer)->opt;
}
const rnn_dense_options *rnn__keras_dense_options(rnn_layer *layer) {
    return rnn__dense_options(layer);
}
const rnn_embedding_options *rnn__keras_embedding_options(rnn_layer *layer) {
    return rnn__embedding_options(layer);
}
int rnn__keras_repeat_n(rnn_layer *layer) { return rnn__repeat_vector_n(layer); }
rnn_activation rnn__keras_activation_of(rnn_layer *layer) { return rnn__activation_layer_kind(layer); }
float rnn__keras_dropout_rate(rnn_layer *layer) { return rnn__dropout_rate(layer); }
rnn_layer *rnn__keras_inner_layer(rnn_layer *layer) { return rnn__time_distributed_inner(layer); }
rnn_model *rnn__keras_inner_model(rnn_layer *layer) { return rnn__model_layer_inner(layer); }
int rnn__keras_input_is_ids(rnn_layer *input_layer) { return rnn__input_is_ids(input_layer); }
const char *rnn__keras_stem(const rnn_layer *layer) { return layer->ops->base_name; }

void rnn__keras_origin_set(rnn_keras_origin *o, const char *version) {
    snprintf(o->version, sizeof o->version, "%s", version ? version : "");
    o->major = 2;
    if (version && version[0] >= '1' && version[0] <= '9' && version[1] == '.')
        o->major = version[0] - '0';
    if (o->major < 1 || o->major > 3) o->major = o->major > 3 ? 3 : 2;
}

/* ---------------------------------------------------------------- inputs */

/* [batch, d1, d2] with nulls -> dims (RNN_NONE for null). Returns the rank or -1. */
static int read_shape(const cJSON *arr, int64_t dims[RNN_MAX_RANK]) {
    if (!cJSON_IsArray(arr)) return -1;
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > RNN_MAX_RANK) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *d = cJSON_GetArrayItem(arr, i);
        if (cJSON_IsNull(d)) dims[i] = RNN_NONE;
        else if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble <= 2147483647.0 &&
                 d->valuedouble == floor(d->valuedouble))
            dims[i] = (int64_t)d->valuedouble;
        else return -1;
    }
    return n;
}

static const cJSON *input_shape_of(const cJSON *cfg) {
    const cJSON *s = get(cfg, "batch_shape");
    if (!present(s)) s = get(cfg, "batch_input_shape");
    return present(s) ? s : NULL;
}

/* A model input of the given batch shape; ids for an Embedding consumer. */
static rnn_symbol *make_input(const cJSON *shape, int ids, const char *name, const char *where) {
    int64_t d[RNN_MAX_RANK];
    int rank = read_shape(shape, d);
    char nm[RNN_NAME_MAX];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    rnn_symbol *s = NULL;
    if (ids && rank == 2) s = rnn_ids_input_new(d[0], d[1], name ? nm : NULL);
    else if (!ids && rank == 3) s = rnn_input_new(d[0], d[1], d[2], name ? nm : NULL);
    else if (!ids && rank == 2) s = rnn_input_new(d[0], 0, d[1], name ? nm : NULL);
    else {
        char *txt = shape ? cJSON_PrintUnformatted(shape) : NULL;
        rnn__fail(RNN_ERR_UNSUPPORTED, "%s: input shape %s is not supported (librnn takes "
                  "[batch, steps, features], [batch, features], or [batch, steps] ids for "
                  "Embedding)", where, txt ? txt : "(none)");
        free(txt);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- models */

static rnn_model *model_from(const cJSON *entry, const rnn_keras_read_ctx *c,
                             const rnn_shape *fallback, int depth);

/* A nested model entry -> a layer object for it (the outer model keeps the inner alive). */
static rnn_layer *nested_layer(const cJSON *entry, const rnn_keras_read_ctx *c,
                               const rnn_shape *in, int depth) {
    rnn_model *inner = model_from(entry, c, in, depth + 1);
    if (!inner) return NULL;
    rnn_layer *layer = rnn_model_as_layer(inner);
    rnn_model_free(inner); /* the layer holds it now */
    return layer;
}

rnn_layer *rnn__keras_nested_model_layer(const cJSON *entry, const rnn_keras_read_ctx *c) {
    return nested_layer(entry, c, NULL, c->depth);
}

/* A Sequential model's input: an InputLayer first (Keras 2.2+, 3), batch_input_shape on the
 * first layer, or build_input_shape; a nested model may take it from its caller (fallback).
 * *first: the first layer after the InputLayer. NULL with the reason. */
static rnn_symbol *sequential_input(const cJSON *cfg, const cJSON *layers, const char *name,
                                    const rnn_shape *fallback, int *first) {
    int n = cJSON_GetArraySize(layers);
    const cJSON *e0 = cJSON_GetArrayItem(layers, 0);
    const cJSON *shape = input_shape_of(get(e0, "config"));
    const char *in_name = NULL;
    *first = 0;
    if (str(e0, "class_name") && !strcmp(str(e0, "class_name"), "InputLayer")) {
        in_name = str(get(e0, "config"), "name");
        *first = 1;
    }
    if (!shape && present(get(cfg, "build_input_shape"))) shape = get(cfg, "build_input_shape");
    if (*first >= n) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential model \"%s\" has no layers", name ? name : "");
        return NULL;
    }
    const cJSON *e1 = cJSON_GetArrayItem(layers, *first);
    int ids = str(e1, "class_name") && !strcmp(str(e1, "class_name"), "Embedding");
    if (shape) return make_input(shape, ids, in_name, name ? name : "sequential");
    if (fallback)
        return fallback->rank == 3 ? rnn_input_new(fallback->dim[0], fallback->dim[1],
                                                   fallback->dim[2], NULL)
               : ids ? rnn_ids_input_new(fallback->dim[0], fallback->dim[1], NULL)
                     : rnn_input_new(fallback->dim[0], 0, fallback->dim[1], NULL);
    rnn__fail(RNN_ERR_UNSUPPORTED, "Sequential model \"%s\" declares no input shape (no "
              "InputLayer, batch_input_shape or build_input_shape): it was never built",
              name ? name : "");
    return NULL;
}

/* A layer of a Sequential model after its input: a layer, or a nested model. */
static rnn_layer *sequential_layer(const cJSON *e, rnn_model *m, const rnn_keras_read_ctx *c,
                                   int depth) {
    const char *cls = str(e, "class_name");
    if (rnn__keras_is_model_class(cls)) {
        if (rnn__keras_check_builtin(e, cls, cls)) return NULL;
        return nested_layer(e, c, &m->outputs[0]->shape, depth);
    }
    if (cls && !strcmp(cls, "InputLayer")) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential model \"%s\": an InputLayer after the first "
                  "layer", m->name);
        return NULL;
    }
    return rnn__keras_layer_from(e, c);
}

static rnn_model *sequential_from(const cJSON *cfg, const rnn_keras_read_ctx *c,
                                  const rnn_shape *fallback, int depth) {
    const cJSON *layers = cJSON_IsArray(cfg) ? cfg : get(cfg, "layers");
    const char *name = cJSON_IsArray(cfg) ? NULL : str(cfg, "name");
    if (!cJSON_IsArray(layers)) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential config has no layer list");
        return NULL;
    }
    int n = cJSON_GetArraySize(layers), first;
    if (n == 0) {
        rnn__fail(RNN_ERR_FORMAT, "Sequential model \"%s\" has no layers", name ? name : "");
        return NULL;
    }
    rnn_symbol *in = sequential_input(cfg, layers, name, fallback, &first);
    if (!in) return NULL;
    rnn_model *m = rnn_sequential(name);
    if (!m) return NULL;
    if (rnn_sequential_input(m, in)) {
        rnn_layer_free(in->producer);
        rnn_model_free(m);
        return NULL;
    }
    /* Walked as the linked list it is: cJSON_GetArrayItem(i) walks from the start each time. */
    const cJSON *entry = cJSON_GetArrayItem(layers, first);
    for (int i = first; i < n; i++, entry = entry->next) {
        rnn_layer *L = sequential_layer(entry, m, c, depth);
        if (!L || rnn_add(m, L)) {
            rnn_model_free(m);
            return NULL;
        }
    }
    return m;
}

/* One reference [name, node, tensor] (Keras 2) or a __keras_tensor__ (Keras 3). */
typedef struct {
    const char *layer;
    int tensor;
} tensor_ref;

static int parse_ref(const cJSON *v, tensor_ref *r) {
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 3 &&
        cJSON_IsString(cJSON_GetArrayItem(v, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(v, 2))) {
        r->layer = cJSON_GetArrayItem(v, 0)->valuestring;
        r->tensor = cJSON_GetArrayItem(v, 2)->valueint;
        return 1;
    }
    if (cJSON_IsObject(v) && str(v, "class_name") &&
        !strcmp(str(v, "class_name"), "__keras_tensor__"))
        return parse_ref(get(get(v, "config"), "keras_history"), r);
    return 0;
}

/* Collects tensor references from an argument structure (nested lists of tensors). */
static int collect_refs(const cJSON *v, tensor_ref *refs, int n, int cap) {
    tensor_ref r;
    if (parse_ref(v, &r)) {
        if (n < cap) refs[n] = r;
        return n + 1;
    }
    if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) n = collect_refs(item, refs, n, cap);
    }
    return n;
}

/* The inputs of one call node: Keras 2 [[name, node, tensor, kwargs], ...] or Keras 3
 * {"args": [...], "kwargs": {...}}; an RNN's initial_state is appended after x. */
static rnn_status node_refs(const cJSON *node, const char *layer, tensor_ref *refs, int *n,
                            tensor_ref *mask) {
    int cap = RNN_LAYER_MAX_INPUTS + 1, k = 0;
    if (mask) mask->layer = NULL;
    if (cJSON_IsObject(node)) {
        k = collect_refs(get(node, "args"), refs, 0, cap);
        const cJSON *kw;
        cJSON_ArrayForEach(kw, get(node, "kwargs")) {
            if (!kw->string) /* kwargs given as a list */
                return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": unreadable inbound node", layer);
            if (!strcmp(kw->string, "initial_state")) k = collect_refs(kw, refs, k, cap);
            else if (!strcmp(kw->string, "training")) continue;
            else if (!strcmp(kw->string, "mask") && !present(kw)) continue;
            else if (!strcmp(kw->string, "mask") && mask && parse_ref(kw, mask)) continue;
            else if (present(kw))
                return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called with argument %s, "
                                 "which librnn does not support", layer, kw->string);
        }
    } else if (cJSON_IsArray(node)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, node) {
            tensor_ref r;
            if (!parse_ref(item, &r))
                return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": unreadable inbound node", layer);
            if (k < cap) refs[k] = r;
            k++;
            const cJSON *kwargs = cJSON_GetArrayItem(item, 3);
            const cJSON *kw;
            cJSON_ArrayForEach(kw, kwargs) {
                if (!kw->string)
                    return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": unreadable inbound node",
                                     layer);
                if (!strcmp(kw->string, "initial_state") || !strcmp(kw->string, "training") ||
                    !present(kw))
                    continue;
                if (!strcmp(kw->string, "mask") || !strcmp(kw->string, "constants"))
                    return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called with argument "
                                     "%s, which librnn does not support", layer, kw->string);
            }
        }
    } else {
        return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": unreadable inbound node", layer);
    }
    if (k < 1 || k > RNN_LAYER_MAX_INPUTS)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" takes %d inputs (librnn: 1 to %d)",
                         layer, k, RNN_LAYER_MAX_INPUTS);
    *n = k;
    return RNN_OK;
}

typedef struct {
    const char *name;
    const cJSON *entry;
    rnn_layer *layer;
    rnn_symbol *out[RNN_LAYER_MAX_OUTPUTS];
    int n_out;
    int done;
    void *by_name; /* [0] only: all nodes sorted by name, then position (fnode **) */
} fnode;

static int by_name_order(const void *a, const void *b) {
    const fnode *x = *(fnode *const *)a, *y = *(fnode *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x < y ? -1 : x > y);
}

/* The first node (in file order) named name: a binary search, so that a config of n layers
 * costs O(n log n) to resolve, not O(n^2). */
static fnode *find_node(fnode *nodes, int n, const char *name) {
    fnode **ix = nodes[0].by_name;
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(ix[mid]->name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && !strcmp(ix[lo]->name, name) ? ix[lo] : NULL;
}

static void free_nodes(fnode *nodes) {
    if (nodes) free(nodes[0].by_name);
    free(nodes);
}

static rnn_status io_list(const cJSON *v, tensor_ref *refs, int *n, const char *what) {
    tensor_ref r;
    int k = 0;
    if (parse_ref(v, &r)) refs[k++] = r;
    else if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            if (k >= RNN_MODEL_MAX_IO || !parse_ref(item, &refs[k]))
                return rnn__fail(RNN_ERR_UNSUPPORTED, "model %s: unreadable or more than %d",
                                 what, RNN_MODEL_MAX_IO);
            k++;
        }
    }
    if (k == 0) return rnn__fail(RNN_ERR_FORMAT, "model has no %s", what);
    *n = k;
    return RNN_OK;
}

/* The nodes of a Functional config's layer list, by name (not yet built); NULL with the reason. */
static fnode *functional_nodes(const cJSON *cfg, const char *name, int *count) {
    const cJSON *layers = get(cfg, "layers");
    if (!cJSON_IsArray(layers)) {
        rnn__fail(RNN_ERR_FORMAT, "Functional config has no layer list");
        return NULL;
    }
    int n = cJSON_GetArraySize(layers);
    if (n < 1 || n > 100000) {
        rnn__fail(RNN_ERR_FORMAT, "Functional model with %d layers", n);
        return NULL;
    }
    fnode *nodes = calloc((size_t)n, sizeof *nodes);
    if (!nodes) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    const cJSON *entry = layers->child;
    for (int i = 0; i < n; i++, entry = entry->next) {
        nodes[i].entry = entry;
        nodes[i].name = str(nodes[i].entry, "name");
        if (!nodes[i].name) nodes[i].name = str(get(nodes[i].entry, "config"), "name");
        if (!nodes[i].name) {
            rnn__fail(RNN_ERR_FORMAT, "a layer of model \"%s\" has no name", name ? name : "");
            free(nodes);
            return NULL;
        }
    }
    fnode **ix = malloc(sizeof *ix * (size_t)n);
    if (!ix) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        free(nodes);
        return NULL;
    }
    for (int i = 0; i < n; i++) ix[i] = &nodes[i];
    qsort(ix, (size_t)n, sizeof *ix, by_name_order);
    nodes[0].by_name = ix;
    *count = n;
    return nodes;
}

/* Whether an Embedding reads this InputLayer node: then the input holds token ids. */
static int input_feeds_embedding(fnode *nodes, int n, const fnode *input) {
    int ids = 0;
    for (int j = 0; j < n; j++) {
        const char *cj = str(nodes[j].entry, "class_name");
        if (!cj || strcmp(cj, "Embedding")) continue;
        tensor_ref refs[RNN_LAYER_MAX_INPUTS + 1];
        int k = 0;
        const cJSON *ib = get(nodes[j].entry, "inbound_nodes");
        if (cJSON_GetArraySize(ib) == 1 &&
            !node_refs(cJSON_GetArrayItem(ib, 0), nodes[j].name, refs, &k, NULL) &&
            !strcmp(refs[0].layer, input->name))
            ids = 1;
    }
    return ids;
}

static rnn_status input_node(fnode *nodes, int n, fnode *nd) {
    int ids = input_feeds_embedding(nodes, n, nd);
    rnn_symbol *s = make_input(input_shape_of(get(nd->entry, "config")), ids, nd->name, nd->name);
    if (!s) return RNN_ERR_UNSUPPORTED;
    nd->layer = s->producer;
    nd->out[0] = s;
    nd->n_out = 1;
    return RNN_OK;
}

/* Keras 3 records Embedding(mask_zero=True)'s mask as not_equal(ids, 0), and Masking(v)'s as
 * any(not_equal(x, v), axis=-1), feeding the next layer's mask argument; the merge layers'
 * compute_mask adds logical_or, expand_dims, zeros_like, ones_like and concatenate of those
 * masks (keras/src/layers/merging). librnn carries those masks by itself. The operations have
 * no outputs here, so a layer reading one as data is refused. */
static int is_mask_op(const cJSON *entry, const char *cls) {
    static const char *const merge_mask_ops[] = {"LogicalOr", "ExpandDims", "ZerosLike",
                                                 "OnesLike", "Concatenate"};
    if (!cls) return 0;
    if (!strcmp(cls, "NotEqual") || !strcmp(cls, "Any")) return 1;
    /* an operation has a module of keras.src.ops (Keras 3's .h5 form has none: there only the
     * classes no layer shares are taken) */
    const char *module = str(entry, "module");
    int op = module && !strncmp(module, "keras.src.ops", 13);
    for (size_t i = 0; i < sizeof merge_mask_ops / sizeof merge_mask_ops[0]; i++)
        if (!strcmp(cls, merge_mask_ops[i])) return op || (!module && strcmp(cls, "Concatenate"));
    return 0;
}

static rnn_status mask_op_node(fnode *nd, const char *cls) {
    if (strcmp(cls, "NotEqual") && strcmp(cls, "Any")) { /* a merge layer's mask */
        nd->n_out = 0;
        return RNN_OK;
    }
    const cJSON *inbound = get(nd->entry, "inbound_nodes");
    const cJSON *args = get(cJSON_GetArrayItem(inbound, 0), "args");
    const cJSON *value = cJSON_GetArrayItem(args, 1);
    const cJSON *axis = get(get(nd->entry, "config"), "axis");
    int mask_op = !strcmp(cls, "NotEqual")
                      ? cJSON_IsNumber(value)
                      : cJSON_IsNumber(axis) && axis->valuedouble == -1 &&
                            !cJSON_IsTrue(get(get(nd->entry, "config"), "keepdims"));
    if (!mask_op)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "operation \"%s\" (%s) other than an Embedding "
                         "or Masking mask is not supported", nd->name, cls);
    nd->n_out = 0;
    return RNN_OK;
}

/* The symbols a layer node reads (in), once the nodes producing them are built (*ready). An
 * explicit mask must come from an Embedding or Masking mask operation. */
static rnn_status node_inputs(fnode *nodes, int n, const fnode *nd, const tensor_ref *refs, int k,
                              const tensor_ref *mask_ref, rnn_symbol **in, int *ready) {
    *ready = 0;
    if (mask_ref->layer) {
        fnode *p = find_node(nodes, n, mask_ref->layer);
        const char *pc = p ? str(p->entry, "class_name") : NULL;
        if (!pc || !is_mask_op(p->entry, pc))
            return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called with an explicit "
                             "mask (from \"%s\"), which librnn does not support", nd->name,
                             mask_ref->layer);
        if (!p->done) return RNN_OK;
    }
    for (int q = 0; q < k; q++) {
        fnode *p = find_node(nodes, n, refs[q].layer);
        if (!p)
            return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" reads from unknown layer \"%s\"",
                             nd->name, refs[q].layer);
        if (!p->done) return RNN_OK;
        if (refs[q].tensor < 0 || refs[q].tensor >= p->n_out)
            return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" reads output %d of \"%s\", which has "
                             "%d", nd->name, refs[q].tensor, p->name, p->n_out);
        in[q] = p->out[refs[q].tensor];
    }
    *ready = 1;
    return RNN_OK;
}

/* A layer (or nested model) node, called on its inputs once they are built (*built). */
static rnn_status layer_node(fnode *nodes, int n, fnode *nd, const char *cls,
                             const char *model_name, const rnn_keras_read_ctx *c, int depth,
                             int *built) {
    const cJSON *inbound = get(nd->entry, "inbound_nodes");
    if (!cJSON_IsArray(inbound) || cJSON_GetArraySize(inbound) != 1) {
        int k = cJSON_IsArray(inbound) ? cJSON_GetArraySize(inbound) : 0;
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" is called %d times in model \"%s\": "
                         "librnn calls each layer once (shared layers are not supported)",
                         nd->name, k, model_name ? model_name : "");
    }
    tensor_ref refs[RNN_LAYER_MAX_INPUTS + 1], mask_ref;
    rnn_symbol *in[RNN_LAYER_MAX_INPUTS];
    int k = 0, ready = 0;
    rnn_status st = node_refs(cJSON_GetArrayItem(inbound, 0), nd->name, refs, &k, &mask_ref);
    if (!st) st = node_inputs(nodes, n, nd, refs, k, &mask_ref, in, &ready);
    if (st || !ready) return st;
    rnn_layer *L;
    if (rnn__keras_is_model_class(cls)) {
        if (k != 1)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "nested model \"%s\" with %d inputs", nd->name,
                             k);
        L = rnn__keras_check_builtin(nd->entry, cls, nd->name)
                ? NULL : nested_layer(nd->entry, c, &in[0]->shape, depth);
        if (L && strcmp(L->name, nd->name)) rnn__keras_set_name(L, nd->name);
    } else {
        L = rnn__keras_layer_from(nd->entry, c);
    }
    if (!L) return RNN_ERR_UNSUPPORTED;
    if ((st = rnn_call_ex(L, in, k, nd->out, &nd->n_out))) {
        rnn_layer_free(L);
        return st;
    }
    nd->layer = L;
    *built = 1;
    return RNN_OK;
}

/* Builds one node if the nodes it reads are built (*built says whether it was). */
static rnn_status build_node(fnode *nodes, int n, fnode *nd, const char *model_name,
                             const rnn_keras_read_ctx *c, int depth, int *built) {
    const char *cls = str(nd->entry, "class_name");
    rnn_status st;
    *built = 0;
    if (cls && !strcmp(cls, "InputLayer")) {
        st = input_node(nodes, n, nd);
        *built = !st;
        return st;
    }
    if (!cls) return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" has no class_name", nd->name);
    if (is_mask_op(nd->entry, cls)) {
        st = mask_op_node(nd, cls);
        *built = !st;
        return st;
    }
    return layer_node(nodes, n, nd, cls, model_name, c, depth, built);
}

/* Layers in dependency order: passes over the nodes until every one is built; a pass that
 * builds none means a cycle. */
static rnn_status build_nodes(fnode *nodes, int n, const char *model_name,
                              const rnn_keras_read_ctx *c, int depth) {
    int remaining = n, progress = 1;
    rnn_status st = RNN_OK;
    while (!st && remaining && progress) {
        progress = 0;
        for (int i = 0; i < n && !st; i++) {
            if (nodes[i].done) continue;
            int built;
            st = build_node(nodes, n, &nodes[i], model_name, c, depth, &built);
            if (built) {
                nodes[i].done = 1;
                remaining--;
                progress = 1;
            }
        }
    }
    for (int i = 0; !st && i < n; i++)
        if (!nodes[i].done)
            return rnn__fail(RNN_ERR_FORMAT, "model \"%s\": the inputs of layer \"%s\" can "
                             "never be computed (a cycle)", model_name ? model_name : "",
                             nodes[i].name);
    return st;
}

/* The model's inputs and outputs (input_layers, output_layers) as built symbols. */
static rnn_status model_io(const cJSON *cfg, fnode *nodes, int n, const char *name,
                           rnn_symbol **isym, int *ni, rnn_symbol **osym, int *no) {
    tensor_ref ins[RNN_MODEL_MAX_IO], outs[RNN_MODEL_MAX_IO];
    rnn_status st = io_list(get(cfg, "input_layers"), ins, ni, "input_layers");
    if (!st) st = io_list(get(cfg, "output_layers"), outs, no, "output_layers");
    for (int q = 0; !st && q < *ni + *no; q++) {
        tensor_ref *r = q < *ni ? &ins[q] : &outs[q - *ni];
        fnode *p = find_node(nodes, n, r->layer);
        if (!p || r->tensor < 0 || r->tensor >= p->n_out)
            st = rnn__fail(RNN_ERR_FORMAT, "model \"%s\": unknown %s \"%s\"", name ? name : "",
                           q < *ni ? "input" : "output", r->layer);
        else if (q < *ni) isym[q] = p->out[r->tensor];
        else osym[q - *ni] = p->out[r->tensor];
    }
    return st;
}

static rnn_model *functional_from(const cJSON *cfg, const rnn_keras_read_ctx *c, int depth) {
    const char *name = str(cfg, "name");
    int n;
    fnode *nodes = functional_nodes(cfg, name, &n);
    if (!nodes) return NULL;
    rnn_status st = build_nodes(nodes, n, name, c, depth);
    rnn_symbol *isym[RNN_MODEL_MAX_IO], *osym[RNN_MODEL_MAX_IO];
    int ni = 0, no = 0;
    if (!st) st = model_io(cfg, nodes, n, name, isym, &ni, osym, &no);
    rnn_model *m = st ? NULL : rnn_model_new(isym, ni, osym, no, name);
    /* Layers not owned by the model (on failure: all of them) go now. */
    for (int i = 0; i < n; i++)
        if (nodes[i].layer && nodes[i].layer->refcount <= 0) rnn_layer_free(nodes[i].layer);
    free_nodes(nodes);
    return m;
}

static rnn_model *model_from(const cJSON *entry, const rnn_keras_read_ctx *c,
                             const rnn_shape *fallback, int depth) {
    if (depth > 32) {
        rnn__fail(RNN_ERR_UNSUPPORTED, "models nested more than 32 deep");
        return NULL;
    }
    const char *cls = str(entry, "class_name");
    const cJSON *cfg = get(entry, "config");
    if (!cls || !cfg) {
        rnn__fail(RNN_ERR_FORMAT, "not a Keras model config (no class_name/config)");
        return NULL;
    }
    rnn_keras_read_ctx inner = *c; /* the layer rows see the depth (wrappers of models) */
    inner.depth = depth;
    if (!strcmp(cls, "Sequential")) return sequential_from(cfg, &inner, fallback, depth);
    if (!strcmp(cls, "Functional") || !strcmp(cls, "Model")) {
        if (!cJSON_IsObject(cfg)) {
            rnn__fail(RNN_ERR_FORMAT, "Functional config is not an object");
            return NULL;
        }
        return functional_from(cfg, &inner, depth);
    }
    if (rnn__keras_check_builtin(entry, cls, cls)) return NULL;
    rnn__fail(RNN_ERR_UNSUPPORTED, "model class %s is not supported (librnn loads Sequential and "
              "Functional models)", cls);
    return NULL;
}

rnn_model *rnn__keras_model_from_json(const cJSON *model, const rnn_keras_origin *o) {
    return rnn__keras_model_from_json_init(model, o, 1);
}

rnn_model *rnn__keras_model_from_json_init(const cJSON *model, const rnn_keras_origin *o,
                                           int init) {
    return rnn__keras_model_from_json_bounded(model, o, init, -1);
}

static int add_declared(rnn_layer *L, void *ctx) {
    int64_t *total = ctx;
    for (int k = 0; k < L->n_weights; k++) *total += L->weights[k].size;
    return 0;
}

rnn_model *rnn__keras_model_from_json_bounded(const cJSON *model, const rnn_keras_origin *o,
                                              int init, int64_t max_values) {
    rnn_keras_read_ctx c = {o, 0};
    rnn_model *m = model_from(model, &c, NULL, 0);
    if (m && max_values >= 0) {
        /* The sizes the config declares (units, vocabulary, kernel sizes) against the weights the
         * file can hold, before anything of that size is allocated: a 17 KB file saying
         * units=30000 once grew to 24 GB. */
        int64_t declared = 0;
        rnn__model_walk(m, add_declared, &declared);
        if (declared > max_values) {
            rnn__fail(RNN_ERR_FORMAT, "the model config declares %lld weight values, but the "
                      "file's weights can hold at most %lld: its sizes (units, vocabulary, ...) do "
                      "not match its weights", (long long)declared, (long long)max_values);
            rnn_model_free(m);
            return NULL;
        }
    }
    if (m && rnn__model_build_weights(m, init)) {
        rnn__fail(RNN_ERR_MEMORY, "%s", m->error);
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------- weights */

static int layer_weights(rnn_layer *L, rnn_weight **out, int n, int cap) {
    for (int k = 0; k < L->n_weights; k++) {
        if (n < cap) out[n] = &L->weights[k];
        n++;
    }
    if (L->ops->children) {
        rnn_layer **kids;
        int nk = L->ops->children(L, &kids);
        for (int i = 0; i < nk; i++) n = layer_weights(kids[i], out, n, cap);
    }
    return n;
}

int rnn__keras_layer_weights(rnn_layer *layer, rnn_weight **out, int cap) {
    return layer_weights(layer, out, 0, cap);
}

/* Keras 1 per-gate arrays -> one array: out[:, g*H + j] = parts[g][:, j]. */
static rnn_status concat_gates(rnn_keras_array *parts, int gates, rnn_keras_array *out,
                               const char *layer) {
    int rank = parts[0].rank;
    int64_t rows = rank == 2 ? parts[0].shape[0] : 1, H = parts[0].shape[rank - 1];
    for (int g = 0; g < gates; g++)
        if (parts[g].rank != rank || parts[g].shape[rank - 1] != H ||
            (rank == 2 && parts[g].shape[0] != rows) || rank < 1)
            return rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": Keras 1 gate weights of different "
                             "shapes", layer);
    float *d = malloc(sizeof(float) * (size_t)(rows * H * gates));
    if (!d) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    for (int64_t r = 0; r < rows; r++)
        for (int g = 0; g < gates; g++)
            memcpy(d + r * H * gates + g * H, parts[g].data + r * H, sizeof(float) * (size_t)H);
    out->rank = rank;
    out->shape[0] = rank == 2 ? rows : H * gates;
    out->shape[1] = rank == 2 ? H * gates : 0;
    out->size = rows * H * gates;
    out->data = d;
    return RNN_OK;
}

static void shape_text(int rank, const int64_t *shape, char *buf, size_t size) {
    if (rank == 0) snprintf(buf, size, "()");
    else if (rank == 1) snprintf(buf, size, "(%lld,)", (long long)shape[0]);
    else if (rank == 2) snprintf(buf, size, "(%lld, %lld)", (long long)shape[0], (long long)shape[1]);
    else snprintf(buf, size, "(%lld, %lld, %lld)", (long long)shape[0], (long long)shape[1],
                  (long long)shape[2]);
}

rnn_status rnn__keras_assign_layer(rnn_layer *layer, rnn_keras_array *arrays, int n,
                                   const rnn_keras_origin *o) {
    rnn_weight *w[64];
    int nw = layer_weights(layer, w, 0, 64);
    if (nw > 64) return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" has too many weights", layer->name);
    rnn_keras_array fused[3] = {{0}};
    int gates = 0;
    /* Keras 1 (consume_less cpu/mem): LSTM W_i U_i b_i W_c U_c b_c W_f U_f b_f W_o U_o b_o,
     * GRU W_z U_z b_z W_r U_r b_r W_h U_h b_h. */
    if (o->major == 1 && rnn__layer_is_recurrent(layer)) {
        if (rnn__keras_is(layer, "LSTM") && n == 12) gates = 4;
        if (rnn__keras_is(layer, "GRU") && n == 9) gates = 3;
    }
    if (gates) {
        static const int lstm_order[4] = {0, 2, 1, 3}; /* i, f, c, o from i, c, f, o */
        for (int k = 0; k < 3; k++) {
            rnn_keras_array parts[4];
            for (int g = 0; g < gates; g++)
                parts[g] = arrays[(gates == 4 ? lstm_order[g] : g) * 3 + k];
            rnn_status st = concat_gates(parts, gates, &fused[k], layer->name);
            if (st) {
                rnn__keras_arrays_free(fused, 3);
                return st;
            }
        }
        arrays = fused;
        n = 3;
    }
    rnn_status st = RNN_OK;
    if (n != nw)
        st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\" (%s) expects %d weight arrays, the file has "
                       "%d", layer->name, layer->ops->class_name, nw, n);
    for (int k = 0; !st && k < nw; k++) {
        int same = arrays[k].rank == w[k]->rank && arrays[k].shape[0] == w[k]->shape[0] &&
                   (w[k]->rank < 2 || arrays[k].shape[1] == w[k]->shape[1]) &&
                   (w[k]->rank < 3 || arrays[k].shape[2] == w[k]->shape[2]);
        if (!same) {
            char want[48], got[48];
            shape_text(w[k]->rank, w[k]->shape, want, sizeof want);
            shape_text(arrays[k].rank, arrays[k].shape, got, sizeof got);
            st = rnn__fail(RNN_ERR_FORMAT, "layer \"%s\": weight %d (%s) has shape %s in the "
                           "file, the config implies %s", layer->name, k, w[k]->name, got, want);
        }
    }
    for (int k = 0; !st && k < nw; k++) {
        memcpy(w[k]->value, arrays[k].data, sizeof(float) * (size_t)w[k]->size);
        rnn__weight_changed(w[k]);
    }
    if (gates) rnn__keras_arrays_free(fused, 3);
    return st;
}

void rnn__keras_arrays_free(rnn_keras_array *a, int n) {
    for (int i = 0; a && i < n; i++) {
        free(a[i].data);
        a[i].data = NULL;
    }
}

/* ---------------------------------------------------------------- compile */

static int number_or(const cJSON *cfg, const char *key, float *out) {
    const cJSON *v = get(cfg, key);
    if (!present(v)) return 1;
    if (!cJSON_IsNumber(v)) return 0;
    *out = (float)v->valuedouble;
    return 1;
}

/* A serialised optimizer (string or {"class_name", "config"}) -> settings; 0 if librnn lacks it. */
static int optimizer_from(const cJSON *v, rnn_optimizer *opt) {
    const char *cls = cJSON_IsString(v) ? v->valuestring : str(v, "class_name");
    const cJSON *cfg = get(v, "config");
    if (!cls) return 0;
    if (!strncmp(cls, "Custom>", 7)) cls += 7; /* tf.keras 2.11+ legacy files */
    if (!strcasecmp(cls, "adam")) *opt = rnn_adam_defaults();
    else if (!strcasecmp(cls, "sgd")) *opt = rnn_sgd_defaults();
    else if (!strcasecmp(cls, "rmsprop")) *opt = rnn_rmsprop_defaults();
    else if (!strcasecmp(cls, "adagrad")) *opt = rnn_adagrad_defaults();
    else if (!strcasecmp(cls, "adadelta")) *opt = rnn_adadelta_defaults();
    else if (!strcasecmp(cls, "adamax")) *opt = rnn_adamax_defaults();
    else if (!strcasecmp(cls, "nadam")) *opt = rnn_nadam_defaults();
    else if (!strcasecmp(cls, "adamw")) *opt = rnn_adamw_defaults();
    else return 0;
    if (!cfg) return 1;
    const cJSON *lr = get(cfg, "learning_rate");
    if (!present(lr)) lr = get(cfg, "lr");
    if (cJSON_IsNumber(lr)) opt->learning_rate = (float)lr->valuedouble;
    else if (cJSON_IsObject(lr)) {
        const char *sc = str(lr, "class_name");
        const cJSON *sc_cfg = get(lr, "config");
        float init = 0, rate = 0, steps = 0;
        if (!sc || !number_or(sc_cfg, "initial_learning_rate", &init) ||
            !number_or(sc_cfg, "decay_rate", &rate) || !number_or(sc_cfg, "decay_steps", &steps))
            return 0;
        if (!strcmp(sc, "ExponentialDecay")) opt->schedule = RNN_SCHEDULE_EXPONENTIAL;
        else if (!strcmp(sc, "InverseTimeDecay")) opt->schedule = RNN_SCHEDULE_INVERSE_TIME;
        else return 0;
        opt->learning_rate = init;
        opt->decay_rate = rate;
        opt->decay_steps = (int64_t)steps;
        opt->staircase = cJSON_IsTrue(get(sc_cfg, "staircase"));
    } else if (present(lr)) return 0;
    if (cJSON_IsTrue(get(cfg, "use_ema"))) return 0;
    /* weight_decay: null is None (0 here); AdamW's default stays when the key is absent */
    const cJSON *wd = get(cfg, "weight_decay");
    if (cJSON_IsNull(wd)) opt->weight_decay = 0.0f;
    if (present(get(cfg, "gradient_accumulation_steps"))) return 0;
    int ok = 1;
    ok &= number_or(cfg, "beta_1", &opt->beta_1);
    ok &= number_or(cfg, "beta_2", &opt->beta_2);
    ok &= number_or(cfg, "epsilon", &opt->epsilon);
    ok &= number_or(cfg, "momentum", &opt->momentum);
    ok &= number_or(cfg, "rho", &opt->rho);
    ok &= number_or(cfg, "decay", &opt->decay);
    ok &= number_or(cfg, "clipnorm", &opt->clipnorm);
    ok &= number_or(cfg, "clipvalue", &opt->clipvalue);
    ok &= number_or(cfg, "global_clipnorm", &opt->global_clipnorm);
    ok &= number_or(cfg, "weight_decay", &opt->weight_decay);
    ok &= number_or(cfg, "initial_accumulator_value", &opt->initial_accumulator_value);
    if (cJSON_IsTrue(get(cfg, "nesterov"))) opt->nesterov = 1;
    if (cJSON_IsTrue(get(cfg, "amsgrad"))) opt->amsgrad = 1;
    if (cJSON_IsTrue(get(cfg, "centered"))) opt->centered = 1;
    return ok;
}

static const char *loss_name(const cJSON *v, int *from_logits) {
    *from_logits = 0;
    if (cJSON_IsString(v)) return v->valuestring;
    if (!cJSON_IsObject(v)) return NULL;
    const cJSON *cfg = get(v, "config");
    if (cJSON_IsString(cfg)) return cfg->valuestring; /* {"class_name": "function", ...} */
    *from_logits = cJSON_IsTrue(get(cfg, "from_logits"));
    const char *fn = str(cfg, "fn");
    const char *cls = str(v, "class_name");
    return cls && strcmp(cls, "LossFunctionWrapper") ? cls : fn;
}

void rnn__keras_apply_compile(rnn_model *m, const cJSON *compile, int legacy) {
    if (!cJSON_IsObject(compile)) return;
    const cJSON *opt_json = get(compile, legacy ? "optimizer_config" : "optimizer");
    rnn_optimizer opt;
    int logits;
    const char *loss = loss_name(get(compile, "loss"), &logits);
    if (!loss || !optimizer_from(opt_json, &opt)) return;
    if (rnn_compile_with(m, loss, &opt)) {
        m->error[0] = 0;
        rnn__clear_error();
        return;
    }
    if (logits) rnn_set_from_logits(m, 1);
    const cJSON *delta = get(get(get(compile, "loss"), "config"), "delta");
    if (m->loss.kind == RNN_LOSS_HUBER && cJSON_IsNumber(delta)) rnn_set_huber_delta(m, (float)delta->valuedouble);
    const cJSON *metrics = get(compile, "metrics"), *mt;
    if (cJSON_IsArray(metrics) && cJSON_GetArraySize(metrics) == 1 &&
        cJSON_IsArray(cJSON_GetArrayItem(metrics, 0)))
        metrics = cJSON_GetArrayItem(metrics, 0); /* per-output lists */
    cJSON_ArrayForEach(mt, metrics) {
        const char *name = cJSON_IsString(mt) ? mt->valuestring : str(get(mt, "config"), "name");
        if (name) rnn_add_metric(m, name); /* metrics librnn lacks are skipped */
    }
    m->error[0] = 0;
    rnn__clear_error();
}

rnn_model *rnn_model_from_json(const char *text) {
    if (!text) {
        rnn__fail(RNN_ERR_ARGUMENT, "rnn_model_from_json: json is NULL");
        return NULL;
    }
    cJSON *json = cJSON_Parse(text);
    if (!json) {
        rnn__fail(RNN_ERR_FORMAT, "rnn_model_from_json: not valid JSON");
        return NULL;
    }
    /* model.to_json() of Keras 1/2 names its version (hard_sigmoid and GRU defaults depend on
     * it); Keras 3's does not. */
    rnn_keras_origin o;
    const char *version = str(json, "keras_version");
    rnn__keras_origin_set(&o, version ? version : "3.0");
    rnn_model *m = rnn__keras_model_from_json(json, &o);
    if (m) rnn__keras_apply_compile(m, get(json, "compile_config"), 0);
    cJSON_Delete(json);
    return m;
}

#else
typedef int rnn__keras_config_unused;
#endif
