/* The recurrent kernel's copies (rnn_weight_copies in recurrent.h): made, checked and freed
 * here only, under one rule (copy_current). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "kernels/gemm_packed.h"
#include "kernels/qmatvec.h"
#include "kernels/team.h"
#include "layers/recurrent.h"
#include "memory.h"

/* The sum of the versions of the weights a copy is made from. */
static unsigned long versions(const rnn_recurrent *r, int with_kernel_and_bias) {
    unsigned long v = rnn__recurrent_weight(r, RNN_W_RECURRENT)->version;
    if (with_kernel_and_bias) {
        v += rnn__recurrent_weight(r, RNN_W_KERNEL)->version;
        if (r->opt.use_bias) v += rnn__recurrent_weight(r, RNN_W_BIAS)->version;
    }
    return v;
}

/* The one rule: a copy may be read while it has its size and was made from this weight block,
 * at these versions, for this many threads. */
static int copy_current(const rnn_weight_copy *c, const rnn_recurrent *r, size_t floats,
                        unsigned long version, int threads) {
    return c->data && c->floats == floats && c->block == r->layer->weight_block &&
           c->version == version && c->threads == threads;
}

/* Room for `floats` (kept when the size is unchanged); 0 when out of memory. */
static int copy_reserve(rnn_weight_copy *c, size_t floats) {
    if (c->data && c->floats == floats) return 1;
    rnn__free(c->data);
    c->floats = 0;
    c->data = rnn__calloc(floats, sizeof(float));
    if (!c->data) return 0;
    c->floats = floats;
    return 1;
}

static void copy_stamp(rnn_weight_copies *cs, rnn_weight_copy *c, const rnn_recurrent *r,
                       unsigned long version, int threads) {
    c->block = r->layer->weight_block;
    c->version = version;
    c->threads = threads;
    cs->fills++;
}

typedef struct {
    float *panels;
    const float *B;
    int ldb, trans_b, K, groups, width;
} pack_job;

/* Thread tid fills its share of every block's panels. */
static void pack_slice(void *arg, int tid, int n) {
    const pack_job *j = arg;
    const int np = (j->width + RNN_PANEL - 1) / RNN_PANEL;
    rnn__pack_panels(j->panels, j->B, j->ldb, j->trans_b, j->K, j->groups, j->width,
                     (int)((long)np * tid / n), (int)((long)np * (tid + 1) / n));
}

/* U (H x G H) as panels: its G gate blocks of H columns (forward), or, joined, one block of
 * G H columns (forward), or U^T, one block of H columns over K = G H (backward). The two
 * forward layouts have the same size where H is 13, 14 or 15 past a multiple of 16 (LSTM(61):
 * 4 x 64 = 256 lanes either way), so the copy records its blocks (groups) too. */
static const float *u_panels(rnn_recurrent *r, rnn_weight_copy *c, int transposed, int joined) {
    const int H = (int)r->H, G = r->cell->gates, GH = G * H;
    const int K = transposed ? GH : H, groups = transposed || joined ? 1 : G;
    const int width = joined ? GH : H;
    const size_t floats = rnn__panels_floats(K, groups, width);
    const unsigned long version = versions(r, 0);
    if (copy_current(c, r, floats, version, 0) && c->groups == groups) return c->data;
    if (!copy_reserve(c, floats)) return NULL;
    pack_job job = {c->data, rnn__recurrent_value(r, RNN_W_RECURRENT), GH, transposed, K, groups,
                    width};
    rnn__team_run(pack_slice, &job);
    copy_stamp(&r->copies, c, r, version, 0);
    c->groups = groups;
    return c->data;
}

const float *rnn__copies_u_panels(rnn_recurrent *r, int joined) {
    return u_panels(r, &r->copies.u_panels, 0, joined);
}

const float *rnn__copies_ut_panels(rnn_recurrent *r) {
    return u_panels(r, &r->copies.ut_panels, 1, 0);
}

const float *rnn__copies_w_panels(rnn_recurrent *r) {
    const int H = (int)r->H, G = r->cell->gates, F = (int)r->F;
    const size_t floats = rnn__panels_floats(F, G, H);
    const unsigned long version = rnn__recurrent_weight(r, RNN_W_KERNEL)->version;
    rnn_weight_copy *c = &r->copies.w_panels;
    if (copy_current(c, r, floats, version, 0)) return c->data;
    if (!copy_reserve(c, floats)) return NULL;
    pack_job job = {c->data, rnn__recurrent_value(r, RNN_W_KERNEL), G * H, 0, F, G, H};
    rnn__team_run(pack_slice, &job);
    copy_stamp(&r->copies, c, r, version, 0);
    return c->data;
}

/* qstream: bytes per unit of a part (the bias and two scales in float32; bf16: W and U's
 * columns; int8: their corrections (int32 per run) and packed columns, kernels/qmatvec.h). */
static size_t qstream_unit_bytes(const rnn_recurrent *r) {
    const int F = (int)r->F, H = (int)r->H;
    const size_t per = r->plan.precision == RNN_BF16
                           ? (size_t)(F + H) * 2
                           : sizeof(int32_t) * (size_t)(rnn__qmv_int8_runs(F) +
                                                        rnn__qmv_int8_runs(H)) +
                                 rnn__qmv_int8_bytes(F, 1) + rnn__qmv_int8_bytes(H, 1);
    return (size_t)r->cell->gates * (3 * sizeof(float) + per);
}

static rnn_status prepare_qstream(rnn_recurrent *r) {
    rnn_weight_copy *c = &r->copies.qstream;
    const size_t floats = (qstream_unit_bytes(r) * (size_t)r->H + sizeof(float) - 1) / sizeof(float);
    const unsigned long version = versions(r, 1);
    const int n = rnn__copies_stream_threads(r);
    if (copy_current(c, r, floats, version, n) && c->precision == r->plan.precision) return RNN_OK;
    if (!copy_reserve(c, floats))
        return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for its streaming weights",
                         r->layer->name);
    copy_stamp(&r->copies, c, r, version, n);
    c->precision = r->plan.precision;
    r->copies.qstream_pending = 1;
    return RNN_OK;
}

rnn_status rnn__copies_prepare_stream(rnn_recurrent *r) {
    const int64_t H = r->H, F = r->F, G = r->cell->gates;
    rnn_weight_copy *c = &r->copies.stream;
    if (r->plan.precision != RNN_F32) return prepare_qstream(r);
    const size_t floats = (size_t)((F + H + 1) * G * H);
    const unsigned long version = versions(r, 1);
    const int n = rnn__team_size();
    if (copy_current(c, r, floats, version, n)) return RNN_OK;
    if (!copy_reserve(c, floats))
        return rnn__fail(RNN_ERR_MEMORY, "layer \"%s\": out of memory for its streaming weights",
                         r->layer->name);
    /* the threads fill their parts in the coming run */
    copy_stamp(&r->copies, c, r, version, n);
    r->copies.stream_pending = 1;
    return RNN_OK;
}

int rnn__copies_stream_threads(const rnn_recurrent *r) {
    const int64_t bytes = (int64_t)(r->F + r->H) * r->cell->gates * r->H *
                          (r->plan.precision == RNN_BF16 ? 2 : 1);
    return r->plan.precision != RNN_F32 && bytes <= RNN_STREAM_ALONE_BYTES ? 1
                                                                           : rnn__team_size();
}

int rnn__copies_stream_cut(const rnn_recurrent *r) {
    return r->plan.precision != RNN_F32 ? r->copies.qstream.threads : r->copies.stream.threads;
}

int rnn__copies_stream_usable(const rnn_recurrent *r, int n) {
    const int cut = rnn__copies_stream_cut(r);
    return r->plan.stream_pack && (n == cut || (r->plan.precision != RNN_F32 && cut == 1));
}

/* A (rows, G H) matrix's columns g H + [lo, hi) of every gate g into dst (rows, G nu) at
 * `prec`; int8: each column's scale max |w| / 127 over all its rows into scale (G nu), and
 * q = round(w / scale) (rnn_quantize_weights's rule), packed as rnn__qmv_int8 reads them (its
 * corrections into corr). */
static void quantize_part(void *dst, float *scale, int32_t *corr, const float *w, int rows,
                          int G, int H, int lo, int hi, rnn_precision prec) {
    const int nu = hi - lo, width = G * nu;
    for (int g = 0; g < G; g++)
        for (int u = 0; u < nu; u++) {
            const int col = g * H + lo + u, j = g * nu + u;
            if (prec == RNN_BF16) {
                for (int k = 0; k < rows; k++)
                    ((uint16_t *)dst)[(size_t)k * width + j] =
                        rnn__bf16_from_float(w[(size_t)k * G * H + col]);
                continue;
            }
            float s = 0.0f;
            for (int k = 0; k < rows; k++)
                if (fabsf(w[(size_t)k * G * H + col]) > s) s = fabsf(w[(size_t)k * G * H + col]);
            s /= 127.0f;
            scale[j] = s;
            for (int k = 0; k < 4 * ((rows + 3) / 4); k++) { /* 0 past the rows */
                long q = s > 0 && k < rows ? lrintf(w[(size_t)k * G * H + col] / s) : 0;
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                ((int8_t *)dst)[rnn__qmv_int8_index(k, j, rows, width)] = (int8_t)q;
            }
        }
    if (prec == RNN_INT8) rnn__qmv_int8_corr(rows, width, dst, corr);
}

const unsigned char *rnn__copies_qstream_part(rnn_recurrent *r, int lo, int hi) {
    const int H = (int)r->H, F = (int)r->F, G = r->cell->gates, nu = hi - lo, width = G * nu;
    unsigned char *p = (unsigned char *)r->copies.qstream.data + qstream_unit_bytes(r) * lo;
    if (r->copies.qstream_pending) {
        const float *bias = rnn__recurrent_value(r, RNN_W_BIAS);
        float *fb = (float *)p, *sw = fb + width, *su = sw + width;
        for (int g = 0; g < G; g++) {
            if (bias) memcpy(fb + g * nu, bias + g * H + lo, sizeof(float) * nu);
            else memset(fb + g * nu, 0, sizeof(float) * nu);
        }
        unsigned char *qw, *qu;
        int32_t *cw = NULL, *cu = NULL;
        if (r->plan.precision == RNN_BF16) {
            qw = (unsigned char *)(su + width);
            qu = qw + (size_t)F * width * 2;
        } else {
            cw = (int32_t *)(su + width);
            cu = cw + (size_t)rnn__qmv_int8_runs(F) * width;
            qw = (unsigned char *)(cu + (size_t)rnn__qmv_int8_runs(H) * width);
            qu = qw + rnn__qmv_int8_bytes(F, width);
        }
        quantize_part(qw, sw, cw, rnn__recurrent_value(r, RNN_W_KERNEL), F, G, H, lo, hi,
                      r->plan.precision);
        quantize_part(qu, su, cu, rnn__recurrent_value(r, RNN_W_RECURRENT), H, G, H, lo, hi,
                      r->plan.precision);
    }
    return p;
}

const float *rnn__copies_stream_part(rnn_recurrent *r, int lo, int hi) {
    const int H = (int)r->H, F = (int)r->F, G = r->cell->gates, nu = hi - lo, width = G * nu;
    float *p = r->copies.stream.data + (size_t)(F + H + 1) * G * lo;
    if (r->copies.stream_pending) {
        const float *W = rnn__recurrent_value(r, RNN_W_KERNEL);
        const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
        const float *bias = rnn__recurrent_value(r, RNN_W_BIAS);
        for (int g = 0; g < G; g++) {
            for (int k = 0; k < F; k++)
                memcpy(p + (size_t)k * width + g * nu, W + (size_t)k * G * H + g * H + lo,
                       sizeof(float) * nu);
            for (int k = 0; k < H; k++)
                memcpy(p + (size_t)(F + k) * width + g * nu, U + (size_t)k * G * H + g * H + lo,
                       sizeof(float) * nu);
            float *pb = p + (size_t)(F + H) * width + g * nu;
            if (bias) memcpy(pb, bias + g * H + lo, sizeof(float) * nu);
            else memset(pb, 0, sizeof(float) * nu);
        }
    }
    return p;
}

/* (the flags are written only when they change: the workers read their line at every step) */
void rnn__copies_stream_done(rnn_recurrent *r, int threads_ran) {
    if (r->plan.stream_pack && r->plan.precision != RNN_F32) {
        /* (a pack cut for one thread: thread 0 filled it, on any number of threads) */
        const int cut = r->copies.qstream.threads;
        if ((threads_ran == cut || cut == 1) && r->copies.qstream_pending)
            r->copies.qstream_pending = 0;
    } else if (r->plan.stream_pack && threads_ran == r->copies.stream.threads &&
               r->copies.stream_pending)
        r->copies.stream_pending = 0;
}

void rnn__copies_free(rnn_weight_copies *c) {
    rnn__free(c->u_panels.data);
    rnn__free(c->ut_panels.data);
    rnn__free(c->w_panels.data);
    rnn__free(c->stream.data);
    rnn__free(c->qstream.data);
    memset(c, 0, sizeof *c);
}
