/* Keras's merge layers, which take a list of inputs and have no weights: Add, Subtract,
 * Multiply, Average, Maximum, Minimum (element-wise over inputs of one shape), Concatenate
 * (along any axis but the batch) and Dot (batched dot product over one axis of each of two
 * inputs, optionally L2-normalised first).
 *
 * Masks follow Keras 3.15 (keras/src/layers/merging/base_merge.py, multiply.py,
 * concatenate.py, dot.py). A mask is a time-step mask of a [batch, steps, ...] input:
 * - Add, Subtract, Average: values unchanged; output mask = OR of the masks when every input
 *   has one, else none (Merge.compute_mask).
 * - Multiply: a masked-out step of a masked input counts as 1; when every input has a mask the
 *   output is 0 where no input is kept, and the output mask is the OR.
 * - Maximum, Minimum (Merge._apply_merge_op_and_or_mask): a fold over the inputs in order; a
 *   masked-out step of an input takes the running value, a masked-out step of the running value
 *   takes the input; the output mask is the OR while every input so far had one. The value of
 *   each output element is one input's value: backward sends its gradient there (ties go to the
 *   running value, TensorFlow's Maximum/Minimum gradient).
 * - Concatenate: an unmasked input counts as all kept; along the feature axis the output mask is
 *   the OR, along the steps axis it is the masks one after the other.
 * - Dot: no output mask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "layers/layer.h"
#include "layers/layer_options.h"

enum { KIND_CONCATENATE = 100, KIND_DOT };

typedef struct {
    int kind;     /* rnn_merge_op, KIND_CONCATENATE or KIND_DOT */
    int axis;     /* Concatenate: as given (negative counts from the end) */
    int axes[2];  /* Dot: as given */
    int normalize;
    int ax[2];    /* resolved axes: Concatenate ax[0], Dot both */
    float *y;
    float *mask;  /* output mask bytes in float-sized storage */
    float *src;   /* Maximum/Minimum: the input each output element came from (bytes) */
    float *xn[2], *inv[2], *gn[2]; /* Dot with normalize: x * inv, 1/||x||, gradient at xn */
    int64_t cap_in[RNN_LAYER_MAX_INPUTS], cap_y;
} merge_impl;

static const char *kind_class(int kind) {
    switch (kind) {
    case RNN_MERGE_ADD: return "Add";
    case RNN_MERGE_SUBTRACT: return "Subtract";
    case RNN_MERGE_MULTIPLY: return "Multiply";
    case RNN_MERGE_AVERAGE: return "Average";
    case RNN_MERGE_MAXIMUM: return "Maximum";
    case RNN_MERGE_MINIMUM: return "Minimum";
    case KIND_CONCATENATE: return "Concatenate";
    default: return "Dot";
    }
}

/* "[(None, 5, 3), (None, 5, 4)]": Keras's input_shape in its messages. */
static void format_shapes(const rnn_shape *in, int n, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int k = 0; k < n && used < size; k++) {
        char s[96];
        rnn__shape_format(&in[k], s, sizeof s);
        used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? ", " : "", s);
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* The shape without its batch axis, as Keras prints it in elementwise messages: "(5, 3)". */
static void format_tail(const rnn_shape *s, char *buf, size_t size) {
    rnn_shape t = {s->rank - 1, {0}};
    for (int i = 1; i < s->rank; i++) t.dim[i - 1] = s->dim[i];
    rnn__shape_format(&t, buf, size);
}

static rnn_status check_batches(rnn_layer *layer, const rnn_shape *in, int n, int64_t *batch) {
    *batch = RNN_NONE;
    for (int k = 0; k < n; k++) {
        if (in[k].dim[0] < 0) continue;
        if (*batch >= 0 && *batch != in[k].dim[0]) {
            char s[512];
            format_shapes(in, n, s, sizeof s);
            return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\" (%s): Cannot merge tensors with "
                             "different batch sizes. Received tensors with shapes %s",
                             layer->name, kind_class(((merge_impl *)layer->impl)->kind), s);
        }
        *batch = in[k].dim[0];
    }
    return RNN_OK;
}

/* ---------------------------------------------------------------- configure */

static rnn_status elementwise_configure(rnn_layer *layer, const rnn_shape *in, int n) {
    merge_impl *g = layer->impl;
    char s[512];
    if (g->kind == RNN_MERGE_SUBTRACT && n != 2) {
        format_shapes(in, n, s, sizeof s);
        return rnn__fail(RNN_ERR_ARGUMENT, "layer \"%s\": A `Subtract` layer should be called on "
                         "exactly 2 inputs. Received: input_shape=%s", layer->name, s);
    }
    int64_t batch;
    rnn_status st = check_batches(layer, in, n, &batch);
    if (st) return st;
    rnn_shape out = in[0];
    for (int k = 1; k < n; k++) {
        int broadcast = in[k].rank != out.rank, clash = 0;
        for (int i = 1; !broadcast && i < out.rank; i++) {
            int64_t a = out.dim[i], b = in[k].dim[i];
            if (a < 0 || b < 0) out.dim[i] = RNN_NONE;
            else if (a != b && (a == 1 || b == 1)) broadcast = 1;
            else if (a != b) clash = 1;
        }
        char a[96], b[96];
        format_tail(&in[0], a, sizeof a);
        format_tail(&in[k], b, sizeof b);
        if (clash)
            return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\" (%s): Inputs have incompatible shapes. "
                             "Received shapes %s and %s", layer->name, kind_class(g->kind), a, b);
        if (broadcast)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (%s): inputs of shapes %s and %s "
                             "would be broadcast, which librnn does not support (it merges "
                             "inputs of one shape)", layer->name, kind_class(g->kind), a, b);
    }
    out.dim[0] = batch;
    layer->n_outputs = 1;
    layer->output[0] = out;
    return RNN_OK;
}

static rnn_status concatenate_configure(rnn_layer *layer, const rnn_shape *in, int n) {
    merge_impl *g = layer->impl;
    char s[512];
    format_shapes(in, n, s, sizeof s);
    int rank = in[0].rank, a = ((g->axis % rank) + rank) % rank; /* Python's axis % rank */
    for (int k = 1; k < n; k++)
        if (in[k].rank != rank)
            return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\": A `Concatenate` layer requires inputs "
                             "with matching shapes except for the concatenation axis. Received: "
                             "input_shape=%s", layer->name, s);
    if (g->axis >= rank || g->axis < -rank || a == 0)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Concatenate): axis=%d is not "
                         "supported for inputs of rank %d (librnn concatenates along axes 1 to "
                         "%d, or -1 to -%d)", layer->name, g->axis, rank, rank - 1, rank - 1);
    int64_t batch;
    rnn_status st = check_batches(layer, in, n, &batch);
    if (st) return st;
    rnn_shape out = in[0];
    out.dim[0] = batch;
    for (int k = 1; k < n; k++)
        for (int i = 1; i < rank; i++) {
            int64_t x = out.dim[i], y = in[k].dim[i];
            if (i == a) out.dim[i] = x < 0 || y < 0 ? RNN_NONE : x + y;
            else if (x >= 0 && y >= 0 && x != y)
                return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\": A `Concatenate` layer requires "
                                 "inputs with matching shapes except for the concatenation axis. "
                                 "Received: input_shape=%s", layer->name, s);
            else if (x < 0) out.dim[i] = y;
        }
    if (a == 1 && rank == 3 && out.dim[1] < 0)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Concatenate): concatenating along "
                         "the steps axis needs inputs with a known number of steps in librnn; "
                         "got %s", layer->name, s);
    g->ax[0] = a;
    layer->n_outputs = 1;
    layer->output[0] = out;
    return RNN_OK;
}

static rnn_status dot_configure(rnn_layer *layer, const rnn_shape *in, int n) {
    merge_impl *g = layer->impl;
    char s[512];
    format_shapes(in, n, s, sizeof s);
    if (n != 2)
        return rnn__fail(RNN_ERR_ARGUMENT, "layer \"%s\": A `Dot` layer should be called on a "
                         "list of 2 inputs. Received: input_shape=%s", layer->name, s);
    for (int k = 0; k < 2; k++) {
        int r = in[k].rank;
        if (r != 2 && r != 3)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Dot): librnn takes inputs of "
                             "rank 2 or 3, got %s", layer->name, s);
        int a = g->axes[k] < 0 ? ((g->axes[k] % r) + r) % r : g->axes[k];
        if (a >= r || g->axes[k] < -r)
            return rnn__fail(RNN_ERR_ARGUMENT, "layer \"%s\" (Dot): axes=(%d, %d) out of range "
                             "for input shapes %s", layer->name, g->axes[0], g->axes[1], s);
        if (a == 0)
            return rnn__fail(RNN_ERR_ARGUMENT, "layer \"%s\" (Dot): Cannot perform batch_dot "
                             "over axis 0. If your inputs are not batched, add a dummy batch "
                             "dimension to your inputs using keras.ops.expand_dims(x, 0)",
                             layer->name);
        g->ax[k] = a;
    }
    int64_t d0 = in[0].dim[g->ax[0]], d1 = in[1].dim[g->ax[1]];
    if (d0 != d1) {
        char a[96], b[96], x[24], y[24];
        rnn__shape_format(&in[0], a, sizeof a);
        rnn__shape_format(&in[1], b, sizeof b);
        snprintf(x, sizeof x, d0 < 0 ? "None" : "%lld", (long long)d0);
        snprintf(y, sizeof y, d1 < 0 ? "None" : "%lld", (long long)d1);
        return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\": Incompatible input shapes: axis values %s "
                         "(at axis %d) != %s (at axis %d). Full input shapes: %s, %s",
                         layer->name, x, g->ax[0], y, g->ax[1], a, b);
    }
    int64_t batch;
    rnn_status st = check_batches(layer, in, n, &batch);
    if (st) return st;
    rnn_shape out = {0, {batch}};
    out.rank = 1;
    for (int i = 1; i < in[0].rank; i++)
        if (i != g->ax[0]) out.dim[out.rank++] = in[0].dim[i];
    for (int i = 1; i < in[1].rank; i++)
        if (i != g->ax[1]) out.dim[out.rank++] = in[1].dim[i];
    if (out.rank == 1) out.dim[out.rank++] = 1;
    for (int i = 1; i < out.rank; i++) {
        /* only the first input's steps may stay unknown: they are the output's steps */
        int steps = i == 1 && out.rank == 3 && in[0].rank == 3 && g->ax[0] == 2;
        if (out.dim[i] < 0 && !steps)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "layer \"%s\" (Dot): with input shapes %s the "
                             "output would have an unknown dimension other than the first "
                             "input's steps, which librnn does not support", layer->name, s);
    }
    layer->n_outputs = 1;
    layer->output[0] = out;
    return RNN_OK;
}

static rnn_status merge_configure(rnn_layer *layer, const rnn_shape *in, int n) {
    merge_impl *g = layer->impl;
    for (int k = 0; k < n; k++)
        if (in[k].rank < 2) {
            char s[512];
            format_shapes(in, n, s, sizeof s);
            return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\" (%s): inputs need a batch axis and at "
                             "least one more; got %s", layer->name, kind_class(g->kind), s);
        }
    if (g->kind == KIND_CONCATENATE) return concatenate_configure(layer, in, n);
    if (g->kind == KIND_DOT) return dot_configure(layer, in, n);
    return elementwise_configure(layer, in, n);
}

/* ---------------------------------------------------------------- plan */

/* Values of a shape with the batch and unknown dims (steps) filled in; -1 on overflow. */
static int64_t planned_size(const rnn_shape *s, int64_t batch, int64_t steps) {
    int64_t n = batch;
    for (int i = 1; i < s->rank; i++)
        if (!rnn__mul_ok(n, s->dim[i] < 0 ? steps : s->dim[i], &n)) return -1;
    return n;
}

static rnn_status merge_plan(rnn_layer *layer, int64_t batch, int64_t steps) {
    merge_impl *g = layer->impl;
    int64_t ny = planned_size(&layer->output[0], batch, steps), bt;
    int64_t tout = layer->output[0].rank == 3 ? (layer->output[0].dim[1] < 0 ? steps
                                                 : layer->output[0].dim[1]) : 1;
    if (ny < 0 || !rnn__mul_ok(batch, tout, &bt)) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
    rnn__ws_begin(&layer->ws);
    rnn__ws_want(&layer->ws, &g->y, ny);
    rnn__ws_want(&layer->ws, &g->mask, (bt + 3) / 4);
    if (g->kind == RNN_MERGE_MAXIMUM || g->kind == RNN_MERGE_MINIMUM)
        rnn__ws_want(&layer->ws, &g->src, (ny + 3) / 4);
    for (int k = 0; k < layer->n_inputs; k++) {
        int64_t nx = planned_size(&layer->input[k], batch, steps);
        if (nx < 0) return rnn__fail(RNN_ERR_MEMORY, "batch too large");
        g->cap_in[k] = nx;
        rnn__ws_want(&layer->ws, &layer->dx[k], nx);
        if (g->kind == KIND_DOT && g->normalize) {
            rnn__ws_want(&layer->ws, &g->xn[k], nx);
            rnn__ws_want(&layer->ws, &g->gn[k], nx);
            rnn__ws_want(&layer->ws, &g->inv[k], nx); /* one per row: at most nx */
        }
    }
    if (rnn__ws_commit(&layer->ws)) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    g->cap_y = ny;
    layer->planned_batch = batch;
    layer->planned_steps = steps;
    return RNN_OK;
}

/* ---------------------------------------------------------------- forward */

static rnn_tensor tensor_of(float *data, int rank, const int64_t *shape) {
    rnn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.rank = rank;
    for (int i = 0; i < rank; i++) t.shape[i] = shape[i];
    return t;
}

static rnn_status runtime_mismatch(rnn_layer *layer, const rnn_tensor *a, const rnn_tensor *b) {
    rnn_shape sa = {a->rank, {0}}, sb = {b->rank, {0}};
    for (int i = 0; i < a->rank; i++) sa.dim[i] = a->shape[i];
    for (int i = 0; i < b->rank; i++) sb.dim[i] = b->shape[i];
    char x[96], y[96];
    rnn__shape_format(&sa, x, sizeof x);
    rnn__shape_format(&sb, y, sizeof y);
    return rnn__fail(RNN_ERR_SHAPE, "layer \"%s\" (%s): inputs of shapes %s and %s do not fit "
                     "together (their numbers of steps differ at run time)", layer->name,
                     kind_class(((merge_impl *)layer->impl)->kind), x, y);
}

/* The time-step mask of input k, for inputs with a time axis. */
static const uint8_t *input_mask(const rnn_layer *layer, int k, const rnn_tensor *x) {
    return x->rank == 3 ? layer->masks_in[k] : NULL;
}

static rnn_status elementwise_forward(rnn_layer *layer, const rnn_tensor *const *x) {
    merge_impl *g = layer->impl;
    int n = layer->n_inputs;
    for (int k = 1; k < n; k++) {
        int same = x[k]->rank == x[0]->rank;
        for (int i = 0; same && i < x[0]->rank; i++) same = x[k]->shape[i] == x[0]->shape[i];
        if (!same) return runtime_mismatch(layer, x[0], x[k]);
    }
    int64_t N = rnn_tensor_size(x[0]);
    int64_t steps = x[0]->rank == 3 ? x[0]->shape[0] * x[0]->shape[1] : 0;
    int64_t F = steps ? N / steps : 1; /* values per step */
    const uint8_t *m[RNN_LAYER_MAX_INPUTS];
    int all = 1;
    for (int k = 0; k < n; k++) {
        m[k] = input_mask(layer, k, x[k]);
        all &= m[k] != NULL;
    }
    uint8_t *mask = (uint8_t *)g->mask, *src = (uint8_t *)g->src;
    if (all && steps)
        for (int64_t r = 0; r < steps; r++) {
            uint8_t v = 0;
            for (int k = 0; k < n; k++) v |= m[k][r];
            mask[r] = v;
        }
    float *y = g->y;
    switch (g->kind) {
    case RNN_MERGE_ADD:
    case RNN_MERGE_AVERAGE:
        memcpy(y, x[0]->data, sizeof(float) * (size_t)N);
        for (int k = 1; k < n; k++)
            for (int64_t i = 0; i < N; i++) y[i] += x[k]->data[i];
        if (g->kind == RNN_MERGE_AVERAGE)
            for (int64_t i = 0; i < N; i++) y[i] /= (float)n;
        break;
    case RNN_MERGE_SUBTRACT:
        for (int64_t i = 0; i < N; i++) y[i] = x[0]->data[i] - x[1]->data[i];
        break;
    case RNN_MERGE_MULTIPLY:
        for (int64_t i = 0; i < N; i++) {
            int64_t r = i / F;
            float v = 0;
            for (int k = 0; k < n; k++) {
                float xi = m[k] && !m[k][r] ? 1.0f : x[k]->data[i];
                v = k ? v * xi : xi;
            }
            y[i] = all && steps && !mask[r] ? 0.0f : v;
        }
        break;
    default: { /* Maximum, Minimum: Keras's fold, remembering where each value came from */
        int is_max = g->kind == RNN_MERGE_MAXIMUM;
        for (int64_t i = 0; i < N; i++) {
            int64_t r = i / F;
            float v = x[0]->data[i];
            int s = 0, has_om = m[0] != NULL, om = m[0] ? m[0][r] : 1;
            for (int k = 1; k < n; k++) {
                float xk = x[k]->data[i];
                int sk = k;
                if (m[k] && !m[k][r]) { /* x = where(mask, x, output) */
                    xk = v;
                    sk = s;
                }
                if (has_om && !om) { /* output = where(output_mask, output, x) */
                    v = xk;
                    s = sk;
                }
                if (m[k] && has_om) om = om || m[k][r];
                else has_om = 0;
                /* TensorFlow's gradient goes to the first argument on ties */
                int keep = is_max ? v >= xk : v <= xk;
                if (!keep) {
                    v = xk;
                    s = sk;
                }
            }
            y[i] = v;
            src[i] = (uint8_t)s;
        }
    }
    }
    layer->y[0] = tensor_of(y, x[0]->rank, x[0]->shape);
    layer->mask_out = all && steps ? mask : NULL;
    return RNN_OK;
}

/* Rows before the axis, values after it, and the input's size along it. */
static void concat_geometry(const rnn_tensor *x, int axis, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= x->shape[i];
    for (int i = axis + 1; i < x->rank; i++) *inner *= x->shape[i];
}

static rnn_status concatenate_forward(rnn_layer *layer, const rnn_tensor *const *x) {
    merge_impl *g = layer->impl;
    int n = layer->n_inputs, a = g->ax[0];
    int64_t shape[RNN_MAX_RANK];
    for (int i = 0; i < x[0]->rank; i++) shape[i] = x[0]->shape[i];
    shape[a] = 0;
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < x[0]->rank; i++)
            if (i != a && x[k]->shape[i] != x[0]->shape[i]) return runtime_mismatch(layer, x[0], x[k]);
        shape[a] += x[k]->shape[a];
    }
    int64_t outer, inner, row = 0;
    concat_geometry(x[0], a, &outer, &inner);
    for (int k = 0; k < n; k++) row += x[k]->shape[a] * inner;
    if (outer * row > g->cap_y) return runtime_mismatch(layer, x[0], x[n - 1]);
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        int64_t chunk = x[k]->shape[a] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy(g->y + o * row + off, x[k]->data + o * chunk, sizeof(float) * (size_t)chunk);
        off += chunk;
    }
    layer->y[0] = tensor_of(g->y, x[0]->rank, shape);
    /* Masks: an unmasked input counts as kept everywhere. */
    const uint8_t *m[RNN_LAYER_MAX_INPUTS];
    int any = 0;
    for (int k = 0; k < n; k++) any |= (m[k] = input_mask(layer, k, x[k])) != NULL;
    layer->mask_out = NULL;
    if (!any || x[0]->rank != 3) return RNN_OK;
    uint8_t *mask = (uint8_t *)g->mask;
    int64_t B = x[0]->shape[0];
    if (a == 1) { /* along the steps: the masks one after the other */
        int64_t T = shape[1], t0 = 0;
        for (int k = 0; k < n; k++) {
            int64_t Tk = x[k]->shape[1];
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < Tk; t++)
                    mask[b * T + t0 + t] = m[k] ? m[k][b * Tk + t] : 1;
            t0 += Tk;
        }
    } else {
        int64_t steps = B * x[0]->shape[1];
        for (int64_t r = 0; r < steps; r++) {
            uint8_t v = 0;
            for (int k = 0; k < n; k++) v |= m[k] ? m[k][r] : 1;
            mask[r] = v;
        }
    }
    layer->mask_out = mask;
    return RNN_OK;
}

/* Dot views input 0 as [B, P, K] and input 1 as [B, K, Q] through strides (K: the summed
 * axis), and writes y[b, p, q] = sum_k x0[b, p, k] x1[b, k, q]. */
typedef struct {
    int64_t B, P, K, Q;
    int64_t b0, p0, k0; /* strides of input 0: batch, p, k */
    int64_t b1, k1, q1; /* strides of input 1: batch, k, q */
} dot_geom;

static dot_geom dot_geometry(const merge_impl *g, const rnn_tensor *x0, const rnn_tensor *x1) {
    dot_geom d;
    d.B = x0->shape[0];
    d.b0 = rnn__tensor_row_size(x0);
    d.b1 = rnn__tensor_row_size(x1);
    if (x0->rank == 2) {
        d.P = 1, d.p0 = 0, d.K = x0->shape[1], d.k0 = 1;
    } else if (g->ax[0] == 2) {
        d.P = x0->shape[1], d.p0 = x0->shape[2], d.K = x0->shape[2], d.k0 = 1;
    } else {
        d.P = x0->shape[2], d.p0 = 1, d.K = x0->shape[1], d.k0 = x0->shape[2];
    }
    if (x1->rank == 2) {
        d.Q = 1, d.q1 = 0, d.k1 = 1;
    } else if (g->ax[1] == 1) {
        d.Q = x1->shape[2], d.q1 = 1, d.k1 = x1->shape[2];
    } else {
        d.Q = x1->shape[1], d.q1 = x1->shape[2], d.k1 = 1;
    }
    return d;
}

/* Keras's normalize (ops.nn.normalize, order 2): x * min(rsqrt(sum x^2), 1/epsilon) along the
 * summed axis, epsilon 1e-7. rows x lanes vectors of K values (strides given). */
static void l2_normalize(float *xn, float *inv, const float *x, int64_t B, int64_t bs, int64_t R,
                         int64_t rs, int64_t K, int64_t ks) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < R; r++) {
            const float *v = x + b * bs + r * rs;
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += v[k * ks] * v[k * ks];
            float iv = 1.0f / sqrtf(s);
            if (!(iv <= 1e7f)) iv = 1e7f;
            inv[b * R + r] = iv;
            for (int64_t k = 0; k < K; k++) xn[b * bs + r * rs + k * ks] = v[k * ks] * iv;
        }
}

static rnn_status dot_forward(rnn_layer *layer, const rnn_tensor *const *x) {
    merge_impl *g = layer->impl;
    dot_geom d = dot_geometry(g, x[0], x[1]);
    int64_t K1 = x[1]->shape[g->ax[1]];
    if (K1 != d.K || x[1]->shape[0] != d.B || d.B * d.P * d.Q > g->cap_y)
        return runtime_mismatch(layer, x[0], x[1]);
    const float *a = x[0]->data, *c = x[1]->data;
    if (g->normalize) {
        l2_normalize(g->xn[0], g->inv[0], a, d.B, d.b0, d.P, d.p0, d.K, d.k0);
        l2_normalize(g->xn[1], g->inv[1], c, d.B, d.b1, d.Q, d.q1, d.K, d.k1);
        a = g->xn[0];
        c = g->xn[1];
    }
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t p = 0; p < d.P; p++)
            for (int64_t q = 0; q < d.Q; q++) {
                float s = 0;
                for (int64_t k = 0; k < d.K; k++)
                    s += a[b * d.b0 + p * d.p0 + k * d.k0] * c[b * d.b1 + k * d.k1 + q * d.q1];
                g->y[(b * d.P + p) * d.Q + q] = s;
            }
    const rnn_shape *o = &layer->output[0];
    int64_t shape[RNN_MAX_RANK] = {d.B};
    /* the output's dims are P then Q with the singletons Keras drops */
    if (o->rank == 2) shape[1] = d.P * d.Q;
    else shape[1] = d.P, shape[2] = d.Q;
    layer->y[0] = tensor_of(g->y, o->rank, shape);
    layer->mask_out = NULL;
    return RNN_OK;
}

/* One step at a time (rnn_predict_step), a layer that joins or sums over the steps axis would
 * see one step instead of the sequence. */
static rnn_status check_stream(const rnn_layer *layer, const rnn_tensor *const *x) {
    const merge_impl *g = layer->impl;
    int over_steps = 0;
    if (g->kind == KIND_CONCATENATE) over_steps = x[0]->rank == 3 && g->ax[0] == 1;
    if (g->kind == KIND_DOT) /* a sum over steps, or the second input's steps as an output axis */
        over_steps = (x[0]->rank == 3 && g->ax[0] == 1) || x[1]->rank == 3;
    if (!over_steps) return RNN_OK;
    return rnn__fail(RNN_ERR_STATE, "%s \"%s\" cannot run one step at a time: it %s the steps "
                     "axis", kind_class(g->kind), layer->name,
                     g->kind == KIND_CONCATENATE ? "concatenates along" : "reads across");
}

static rnn_status merge_forward(rnn_layer *layer, const rnn_tensor *const *x,
                                const rnn_run_ctx *ctx) {
    merge_impl *g = layer->impl;
    rnn_status st = ctx && ctx->mode == RNN_MODE_STREAM ? check_stream(layer, x) : RNN_OK;
    if (st) return st;
    for (int k = 0; k < layer->n_inputs; k++)
        if (rnn_tensor_size(x[k]) > g->cap_in[k]) return runtime_mismatch(layer, x[0], x[k]);
    if (g->kind == KIND_CONCATENATE) return concatenate_forward(layer, x);
    if (g->kind == KIND_DOT) return dot_forward(layer, x);
    return elementwise_forward(layer, x);
}

/* ---------------------------------------------------------------- backward */

static void elementwise_backward(rnn_layer *layer, const rnn_tensor *const *x, const float *dy,
                                 const int *want) {
    merge_impl *g = layer->impl;
    int n = layer->n_inputs;
    int64_t N = rnn_tensor_size(x[0]);
    int64_t steps = x[0]->rank == 3 ? x[0]->shape[0] * x[0]->shape[1] : 0;
    int64_t F = steps ? N / steps : 1;
    const uint8_t *m[RNN_LAYER_MAX_INPUTS];
    int all = 1;
    for (int k = 0; k < n; k++) {
        m[k] = input_mask(layer, k, x[k]);
        all &= m[k] != NULL;
    }
    const uint8_t *mask = (const uint8_t *)g->mask, *src = (const uint8_t *)g->src;
    for (int k = 0; k < n; k++) {
        if (!want[k]) continue;
        float *dx = layer->dx[k];
        if (!dy) {
            memset(dx, 0, sizeof(float) * (size_t)N);
            continue;
        }
        for (int64_t i = 0; i < N; i++) {
            int64_t r = i / F;
            float v;
            switch (g->kind) {
            case RNN_MERGE_ADD: v = dy[i]; break;
            case RNN_MERGE_SUBTRACT: v = k == 0 ? dy[i] : -dy[i]; break;
            case RNN_MERGE_AVERAGE: v = dy[i] / (float)n; break;
            case RNN_MERGE_MULTIPLY:
                if ((m[k] && !m[k][r]) || (all && steps && !mask[r])) {
                    v = 0;
                } else {
                    v = dy[i];
                    for (int j = 0; j < n; j++)
                        if (j != k) v *= m[j] && !m[j][r] ? 1.0f : x[j]->data[i];
                }
                break;
            default: v = src[i] == k ? dy[i] : 0.0f;
            }
            dx[i] = v;
        }
    }
}

static void concatenate_backward(rnn_layer *layer, const rnn_tensor *const *x, const float *dy,
                                 const int *want) {
    merge_impl *g = layer->impl;
    int n = layer->n_inputs, a = g->ax[0];
    int64_t outer, inner, row = 0, off = 0;
    concat_geometry(x[0], a, &outer, &inner);
    for (int k = 0; k < n; k++) row += x[k]->shape[a] * inner;
    for (int k = 0; k < n; k++) {
        int64_t chunk = x[k]->shape[a] * inner;
        if (want[k])
            for (int64_t o = 0; o < outer; o++) {
                float *dst = layer->dx[k] + o * chunk;
                if (dy) memcpy(dst, dy + o * row + off, sizeof(float) * (size_t)chunk);
                else memset(dst, 0, sizeof(float) * (size_t)chunk);
            }
        off += chunk;
    }
}

/* The gradient at x from the gradient gn at xn = x * inv (inv = min(rsqrt(s), 1e7), s = sum x^2):
 * dx = inv gn - x inv^3 sum(gn x) while the rsqrt is below the cap (TensorFlow's Minimum sends
 * the gradient to its first argument on ties), else inv gn. */
static void l2_normalize_backward(float *dx, const float *gn, const float *x, const float *inv,
                                  int64_t B, int64_t bs, int64_t R, int64_t rs, int64_t K,
                                  int64_t ks) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < R; r++) {
            int64_t base = b * bs + r * rs;
            float iv = inv[b * R + r], dot = 0;
            for (int64_t k = 0; k < K; k++) dot += gn[base + k * ks] * x[base + k * ks];
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += x[base + k * ks] * x[base + k * ks];
            int capped = !(1.0f / sqrtf(s) <= 1e7f);
            for (int64_t k = 0; k < K; k++) {
                int64_t i = base + k * ks;
                dx[i] = capped ? iv * gn[i] : iv * gn[i] - x[i] * iv * iv * iv * dot;
            }
        }
}

static void dot_backward(rnn_layer *layer, const rnn_tensor *const *x, const float *dy,
                         const int *want) {
    merge_impl *g = layer->impl;
    dot_geom d = dot_geometry(g, x[0], x[1]);
    int64_t n0 = rnn_tensor_size(x[0]), n1 = rnn_tensor_size(x[1]);
    const float *a = g->normalize ? g->xn[0] : x[0]->data;
    const float *c = g->normalize ? g->xn[1] : x[1]->data;
    float *ga = g->normalize ? g->gn[0] : layer->dx[0];
    float *gc = g->normalize ? g->gn[1] : layer->dx[1];
    /* ga and gc are needed for either input when normalising (both read the other's xn only) */
    if (want[0]) memset(ga, 0, sizeof(float) * (size_t)n0);
    if (want[1]) memset(gc, 0, sizeof(float) * (size_t)n1);
    if (dy)
        for (int64_t b = 0; b < d.B; b++)
            for (int64_t p = 0; p < d.P; p++)
                for (int64_t q = 0; q < d.Q; q++) {
                    float gy = dy[(b * d.P + p) * d.Q + q];
                    for (int64_t k = 0; k < d.K; k++) {
                        int64_t i0 = b * d.b0 + p * d.p0 + k * d.k0;
                        int64_t i1 = b * d.b1 + k * d.k1 + q * d.q1;
                        if (want[0]) ga[i0] += gy * c[i1];
                        if (want[1]) gc[i1] += gy * a[i0];
                    }
                }
    if (!g->normalize) return;
    if (want[0])
        l2_normalize_backward(layer->dx[0], ga, x[0]->data, g->inv[0], d.B, d.b0, d.P, d.p0, d.K,
                              d.k0);
    if (want[1])
        l2_normalize_backward(layer->dx[1], gc, x[1]->data, g->inv[1], d.B, d.b1, d.Q, d.q1, d.K,
                              d.k1);
}

static void merge_backward(rnn_layer *layer, const rnn_tensor *const *x, float *const *dy,
                           const int *want) {
    merge_impl *g = layer->impl;
    if (g->kind == KIND_CONCATENATE) concatenate_backward(layer, x, dy[0], want);
    else if (g->kind == KIND_DOT) dot_backward(layer, x, dy[0], want);
    else elementwise_backward(layer, x, dy[0], want);
}

/* ---------------------------------------------------------------- classes */

#define MERGE_OPS(var, cls, base)                                                              \
    static const rnn_layer_ops var = {.class_name = cls, .base_name = base,                    \
                                      .configure = merge_configure, .plan = merge_plan,         \
                                      .forward = merge_forward, .backward = merge_backward,     \
                                      .free_impl = free}

MERGE_OPS(add_ops, "Add", "add");
MERGE_OPS(subtract_ops, "Subtract", "subtract");
MERGE_OPS(multiply_ops, "Multiply", "multiply");
MERGE_OPS(average_ops, "Average", "average");
MERGE_OPS(maximum_ops, "Maximum", "maximum");
MERGE_OPS(minimum_ops, "Minimum", "minimum");
MERGE_OPS(concatenate_ops, "Concatenate", "concatenate");
MERGE_OPS(dot_ops, "Dot", "dot");

static const rnn_layer_ops *const elementwise_ops[] = {&add_ops,     &subtract_ops, &multiply_ops,
                                                       &average_ops, &maximum_ops,  &minimum_ops};

static rnn_layer *merge_new(const rnn_layer_ops *ops, int kind) {
    merge_impl *g = calloc(1, sizeof *g);
    if (!g) {
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    g->kind = kind;
    return rnn__layer_new(ops, g, NULL);
}

rnn_layer *rnn_merge(rnn_merge_op op) {
    if ((int)op < 0 || op > RNN_MERGE_MINIMUM) {
        rnn__fail(RNN_ERR_ARGUMENT, "rnn_merge: unknown merge operation %d", (int)op);
        return NULL;
    }
    return merge_new(elementwise_ops[op], (int)op);
}

rnn_layer *rnn_concatenate(int axis) {
    rnn_layer *layer = merge_new(&concatenate_ops, KIND_CONCATENATE);
    if (layer) ((merge_impl *)layer->impl)->axis = axis;
    return layer;
}

rnn_layer *rnn_dot(int axis_a, int axis_b, int normalize) {
    rnn_layer *layer = merge_new(&dot_ops, KIND_DOT);
    if (layer) {
        merge_impl *g = layer->impl;
        g->axes[0] = axis_a;
        g->axes[1] = axis_b;
        g->normalize = normalize != 0;
    }
    return layer;
}

int rnn__layer_is_merge(const rnn_layer *layer) {
    return layer && layer->ops->configure == merge_configure;
}

int rnn__concatenate_axis(const rnn_layer *concatenate) {
    return ((const merge_impl *)concatenate->impl)->axis;
}

void rnn__dot_options(const rnn_layer *dot, int axes[2], int *normalize) {
    const merge_impl *g = dot->impl;
    axes[0] = g->axes[0];
    axes[1] = g->axes[1];
    *normalize = g->normalize;
}
