/* GRU (Keras GRUCell), gate order z, r, h.
 * reset_after=True (Keras 2.3+/3 default; bias (2, 3H): row 0 input bias, row 1 recurrent bias):
 *   [x_z x_r x_h] = x_t W + b_x        [g_z g_r g_h] = h_{t-1} U + b_h
 *   z = sigma(x_z + g_z)  r = sigma(x_r + g_r)  hh = phi(x_h + r * g_h)
 * reset_after=False (Keras 1/2; bias (3H,)):
 *   [x_z x_r x_h] = x_t W + b
 *   z = sigma(x_z + h_{t-1} U_z)  r = sigma(x_r + h_{t-1} U_r)  hh = phi(x_h + (r * h_{t-1}) U_h)
 * both: h_t = z * h_{t-1} + (1 - z) * hh */
#include <string.h>

#include "error.h"
#include "kernels/activations.h"
#include "kernels/gates.h"
#include "kernels/gemm.h"
#include "kernels/team.h"
#include "layers/recurrent.h"

/* The step loops on the thread team (kernels/team.h), reset_after with the default
 * activations: thread tid owns the units [lo, hi) - its columns of the three gate blocks of U
 * (and of W when the projection is left to the steps), its gates and its part of h. The
 * threads meet once per step: forward when h_t is complete, backward when the step's dZ rows
 * (g) are. Backward alternates between two g buffers, so that a thread writing step t-1's
 * never overtakes one still reading step t's. Same operations per element as one thread. */
typedef struct {
    rnn_recurrent *r;
    int B, T;
    const rnn_seq_grad *dhseq;
    /* Steps on panels (plan.panels, plan.back_panels): U's three gate blocks (forward) or U^T
     * (backward) as panels, else NULL. */
    const float *panels;
} gru_team_job;


static void gru_forward_team(void *arg, int tid, int n) {
    const gru_team_job *job = arg;
    rnn_recurrent *r = job->r;
    const int B = job->B, T = job->T, H = (int)r->H, G3 = 3 * H, F = (int)r->F;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const float *bias = rnn__recurrent_value(r, RNN_W_BIAS), *bh = bias ? bias + G3 : NULL;
    const size_t BH = (size_t)B * H;
    float *g = r->step;
    int b0, b1, lo, hi;
    const int by_rows = rnn__team_split(B, H, tid, n, &b0, &b1, &lo, &hi);
    const int nu = hi - lo, nb = b1 - b0;
    const size_t rg = (size_t)b0 * G3, rh = (size_t)b0 * H;
    const int large = r->plan.large;
    /* predicting with the projection in the loop: every step reuses slot 0 of xw (see LSTM) */
    const int reuse_x = r->plan.project_in_loop && !r->plan.keep_steps;
    for (int t = 0; t < T; t++) {
        float *x = r->xw + (size_t)(reuse_x ? 0 : t) * B * G3;
        const float *h_prev = r->hs + (size_t)t * BH;
        float *h = r->hs + (size_t)(t + 1) * BH, *aux = r->aux + (size_t)t * BH;
        if (nu > 0 && nb > 0) {
            if (r->plan.project_in_loop)
                rnn__recurrent_project_step(r, x + rg,
                                            r->xt + ((size_t)t * B + b0) * F, F, nb, lo, hi);
            for (int k = 0; job->panels && k < 3; k++) /* the bias row read in place */
                RNN_INTERNAL_CHECK(rnn__product(
                    nb, nu, H, h_prev + rh, H, job->panels, 0, g + rg + k * H + lo, G3,
                    RNN_GEMM(.bias = bh ? bh + k * H + lo : NULL, .kernel = RNN_GEMM_PANELS,
                             .width = H, .group = k, .col = lo)));
            for (int k = 0; r->plan.qseq && k < 3; k++) /* the bias row read in place */
                rnn__qgemm(&r->qw[RNN_W_RECURRENT], nb, k * H + lo, k * H + hi, h_prev + rh, H,
                           bh ? bh + k * H + lo : NULL, 0, g + rg + k * H + lo, G3, RNN_GEMM_OWN);
            for (int k = 0; !job->panels && !r->plan.qseq && k < 3; k++) {
                float *gk = g + rg + k * H + lo;
                if (bh)
                    for (int b = 0; b < nb; b++)
                        memcpy(gk + (size_t)b * G3, bh + k * H + lo, sizeof(float) * nu);
                rnn__product(nb, nu, H, h_prev + rh, H, U + k * H + lo, G3, gk, G3,
                             RNN_GEMM(.beta = bh ? 1.0f : 0.0f, .kernel = RNN_GEMM_SLICE,
                                      .large = large));
            }
            rnn__gru_gates_forward(x + rg, g + rg, h_prev + rh, h + rh, aux + rh, nb, H, lo, hi);
            if (r->mask)
                for (int b = b0; b < b1; b++)
                    if (r->mask[(size_t)t * B + b] == 0.0f) /* masked rows keep their state */
                        memcpy(h + (size_t)b * H + lo, h_prev + (size_t)b * H + lo,
                               sizeof(float) * nu);
        }
        /* split by units: h_t complete (after the last step: the run's wait); by rows each
         * thread reads only its own rows */
        if (!by_rows && t + 1 < T) rnn__team_barrier();
    }
}

static void gru_backward_team(void *arg, int tid, int n) {
    const gru_team_job *job = arg;
    rnn_recurrent *r = job->r;
    const int B = job->B, T = job->T, H = (int)r->H, G3 = 3 * H;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    float *dh = r->dh, *dhin = r->dh_keep;
    int b0, b1, lo, hi;
    const int by_rows = rnn__team_split(B, H, tid, n, &b0, &b1, &lo, &hi);
    const int nu = hi - lo, nb = b1 - b0;
    const size_t rg = (size_t)b0 * G3, rh = (size_t)b0 * H;
    const int large = r->plan.large;
    for (int t = T - 1; t >= 0; t--) {
        float *x = r->xw + (size_t)t * B * G3, *aux = r->aux + (size_t)t * BH;
        float *g = r->step + (size_t)(t & 1) * B * G3;
        const float *h_prev = r->hs + (size_t)t * BH;
        if (nu > 0 && nb > 0) {
            rnn__recurrent_add_seq_grad(job->dhseq, t, dh, H, b0, b1, lo, hi);
            rnn__gru_gates_backward(x + rg, g + rg, aux + rh, h_prev + rh, dh + rh, nb, H, lo, hi);
        }
        /* split by units: g (all units' dZ rows) complete; by rows only our rows are read */
        if (!by_rows) rnn__team_barrier();
        if (nu > 0 && nb > 0) {
            if (job->panels)
                RNN_INTERNAL_CHECK(rnn__product(nb, nu, G3, g + rg, G3, job->panels, 0,
                                                dhin + rh + lo, H,
                                                RNN_GEMM(.kernel = RNN_GEMM_PANELS, .width = H,
                                                         .col = lo)));
            else
                rnn__product(nb, nu, G3, g + rg, G3, U + (size_t)lo * G3, G3, dhin + rh + lo, H,
                             RNN_GEMM(.trans_b = 1, .kernel = RNN_GEMM_SLICE, .large = large));
            for (int b = b0; b < b1; b++)
                for (int j = lo; j < hi; j++) dh[(size_t)b * H + j] += dhin[(size_t)b * H + j];
        }
    }
}

static void gru_forward_steps(rnn_recurrent *r, int B, int T) {
    const int H = (int)r->H, G3 = 3 * H;
    const rnn_activation act = r->opt.activation, ract = r->opt.recurrent_activation;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const float *bias = rnn__recurrent_value(r, RNN_W_BIAS);
    const float *bh = bias && r->opt.reset_after ? bias + G3 : NULL;
    const size_t BH = (size_t)B * H;
    float *g = r->step; /* (B, 3H) */
    if (r->plan.team) {
        gru_team_job job = {r, B, T, NULL, NULL};
        if (r->plan.panels) job.panels = rnn__copies_u_panels(r, 0);
        rnn__team_run(gru_forward_team, &job);
        return;
    }
    for (int t = 0; t < T; t++) {
        float *x = r->xw + (size_t)t * B * G3;
        /* h_prev enters the update directly; h_in (h_prev under recurrent dropout's mask) is
         * what the recurrent kernel sees. */
        const float *h_prev = r->hs + (size_t)t * BH, *h_in = rnn__rec_in(r, t);
        float *h = r->hs + (size_t)(t + 1) * BH, *aux = r->aux + (size_t)t * BH;
        if (r->opt.reset_after) {
            if (r->plan.qseq)
                rnn__qgemm(&r->qw[RNN_W_RECURRENT], B, 0, G3, h_in, H, bh, 0, g, G3,
                           RNN_GEMM_AUTO);
            else if (bh)
                for (int b = 0; b < B; b++) memcpy(g + (size_t)b * G3, bh, sizeof(float) * G3);
            if (!r->plan.qseq)
                rnn__product(B, G3, H, h_in, H, U, G3, g, G3, RNN_GEMM(.beta = bh ? 1.0f : 0.0f));
            if (act == RNN_TANH && ract == RNN_SIGMOID) { /* one pass per row (kernels/gates.c) */
                rnn__gru_gates_forward(x, g, h_prev, h, aux, B, H, 0, H);
            } else {
                for (int b = 0; b < B; b++) {
                    float *xb = x + (size_t)b * G3;
                    const float *gb = g + (size_t)b * G3, *hpb = h_prev + (size_t)b * H;
                    for (int j = 0; j < 2 * H; j++) xb[j] += gb[j];
                    rnn__act_vec(ract, xb, 2 * H); /* z, r */
                    for (int j = 0; j < H; j++) xb[2 * H + j] += xb[H + j] * gb[2 * H + j];
                    rnn__act_vec(act, xb + 2 * H, H); /* hh */
                    for (int j = 0; j < H; j++) {
                        float z = xb[j];
                        h[(size_t)b * H + j] = z * hpb[j] + (1.0f - z) * xb[2 * H + j];
                        aux[(size_t)b * H + j] = gb[2 * H + j];
                    }
                }
            }
        } else {
            /* g[:, 0:2H] = h_{t-1} U[:, 0:2H] */
            if (r->plan.qseq)
                rnn__qgemm(&r->qw[RNN_W_RECURRENT], B, 0, 2 * H, h_in, H, NULL, 0, g, G3,
                           RNN_GEMM_AUTO);
            else
                rnn__product(B, 2 * H, H, h_in, H, U, G3, g, G3, RNN_GEMM());
            for (int b = 0; b < B; b++) {
                float *xb = x + (size_t)b * G3;
                const float *gb = g + (size_t)b * G3, *hib = h_in + (size_t)b * H;
                for (int j = 0; j < 2 * H; j++) xb[j] += gb[j];
                rnn__act_vec(ract, xb, 2 * H); /* z, r */
                for (int j = 0; j < H; j++) aux[(size_t)b * H + j] = xb[H + j] * hib[j];
            }
            /* g[:, 2H:3H] = (r * h_{t-1}) U[:, 2H:3H] */
            if (r->plan.qseq)
                rnn__qgemm(&r->qw[RNN_W_RECURRENT], B, 2 * H, G3, aux, H, NULL, 0, g + 2 * H, G3,
                           RNN_GEMM_AUTO);
            else
                rnn__product(B, H, H, aux, H, U + 2 * H, G3, g + 2 * H, G3, RNN_GEMM());
            for (int b = 0; b < B; b++) {
                float *xb = x + (size_t)b * G3;
                const float *gb = g + (size_t)b * G3, *hpb = h_prev + (size_t)b * H;
                for (int j = 0; j < H; j++) xb[2 * H + j] += gb[2 * H + j];
                rnn__act_vec(act, xb + 2 * H, H); /* hh */
                for (int j = 0; j < H; j++) {
                    float z = xb[j];
                    h[(size_t)b * H + j] = z * hpb[j] + (1.0f - z) * xb[2 * H + j];
                }
            }
        }
        if (r->mask) /* masked rows keep their state */
            for (int b = 0; b < B; b++)
                if (r->mask[(size_t)t * B + b] == 0.0f)
                    memcpy(h + (size_t)b * H, h_prev + (size_t)b * H, sizeof(float) * H);
        rnn__recurrent_mask_state(r, t + 1);
    }
}

/* Backward, shared part: dz = dh (h_{t-1} - hh), dhh = dh (1 - z), dh_{t-1} = dh z, and
 * da_h = dhh phi'(hh).
 * reset_after:  dr = da_h g_h;  dg_h = da_h r;  dZ = [dz s'(z), dr s'(r), da_h];
 *               dh_{t-1} += [dz s'(z), dr s'(r), dg_h] U^T;  dU += h^T [.., .., dg_h]
 * not:          d(rh) = da_h U_h^T;  dr = d(rh) h_{t-1};  dh_{t-1} += d(rh) r
 *               dh_{t-1} += [dz s'(z), dr s'(r)] U_zr^T;  dU_zr += h^T dZ_zr, dU_h += (rh)^T da_h */
static void gru_backward_steps(rnn_recurrent *r, int B, int T, const rnn_seq_grad *dhseq) {
    const int H = (int)r->H, G3 = 3 * H;
    const rnn_activation act = r->opt.activation, ract = r->opt.recurrent_activation;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    float *dU = rnn__recurrent_grad(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    /* dhin: the gradient with respect to the state the kernel saw (h_in), added into dh through
     * the recurrent dropout mask. */
    float *dh = r->dh, *g = r->step, *drh = r->dc, *dhin = r->dh_keep;
    /* The same operations, vectorised (kernels/gates.c), for the default activations. */
    const int fused = r->opt.reset_after && !r->mask && act == RNN_TANH && ract == RNN_SIGMOID;
    if (r->plan.back_team) {
        gru_team_job job = {r, B, T, dhseq, NULL};
        if (r->plan.back_panels) job.panels = rnn__copies_ut_panels(r);
        rnn__team_run(gru_backward_team, &job);
    } else {
        for (int t = T - 1; t >= 0; t--) {
            float *x = r->xw + (size_t)t * B * G3, *aux = r->aux + (size_t)t * BH;
            const float *h_prev = r->hs + (size_t)t * BH, *h_in = rnn__rec_in(r, t);
            rnn__recurrent_add_seq_grad(dhseq, t, dh, H, 0, B, 0, H);
            if (fused) {
                rnn__gru_gates_backward(x, g, aux, h_prev, dh, B, H, 0, H);
            } else {
                for (int b = 0; b < B; b++) {
                    float *xb = x + (size_t)b * G3, *dhb = dh + (size_t)b * H;
                    float *gb = g + (size_t)b * G3;
                    float *ab = aux + (size_t)b * H;
                    const float *hpb = h_prev + (size_t)b * H;
                    if (r->mask && r->mask[(size_t)t * B + b] == 0.0f) {
                        /* h_t = h_{t-1}: dh passes through (the products below add zero to it). */
                        memset(xb, 0, sizeof(float) * G3);
                        memset(gb, 0, sizeof(float) * G3);
                        memset(ab, 0, sizeof(float) * H);
                        continue;
                    }
                    for (int j = 0; j < H; j++) {
                        float z = xb[j], rr = xb[H + j], hh = xb[2 * H + j];
                        float dz = dhb[j] * (hpb[j] - hh);
                        float dah = dhb[j] * (1.0f - z) * rnn__act_grad(act, hh);
                        float daz = dz * rnn__act_grad(ract, z);
                        dhb[j] = dhb[j] * z;
                        xb[j] = daz;
                        xb[2 * H + j] = dah;
                        if (r->opt.reset_after) {
                            float dar = dah * ab[j] * rnn__act_grad(ract, rr);
                            xb[H + j] = dar;
                            ab[j] = dah * rr; /* g_h becomes dg_h */
                            gb[j] = daz;
                            gb[H + j] = dar;
                            gb[2 * H + j] = ab[j];
                        }
                    }
                }
            }
            if (r->opt.reset_after) {
                rnn__product(B, H, G3, g, G3, U, G3, dhin, H, RNN_GEMM(.trans_b = 1));
            } else {
                /* d(r * h_in) = da_h U_h^T;  dr = d(r h_in) h_in;
                 * dh_in = d(r h_in) r + dZ_zr U_zr^T */
                rnn__product(B, H, H, x + 2 * H, G3, U + 2 * H, G3, drh, H, RNN_GEMM(.trans_b = 1));
                for (int b = 0; b < B; b++) {
                    float *xb = x + (size_t)b * G3, *dib = dhin + (size_t)b * H;
                    const float *hib = h_in + (size_t)b * H, *drb = drh + (size_t)b * H;
                    for (int j = 0; j < H; j++) {
                        float rr = xb[H + j];
                        xb[H + j] = drb[j] * hib[j] * rnn__act_grad(ract, rr);
                        dib[j] = drb[j] * rr;
                    }
                }
                rnn__product(B, H, 2 * H, x, G3, U, G3, dhin, H,
                             RNN_GEMM(.trans_b = 1, .beta = 1.0f));
            }
            rnn__recurrent_add_state_grad(r, dh, dhin);
        }
    }
    const int TB = T * B;
    const float *hin_all = rnn__rec_in(r, 0);
    rnn__product(H, 2 * H, TB, hin_all, H, r->xw, G3, dU, G3, RNN_GEMM(.trans_a = 1, .beta = 1.0f));
    if (r->opt.reset_after) {
        rnn__product(H, H, TB, hin_all, H, r->aux, H, dU + 2 * H, G3,
                     RNN_GEMM(.trans_a = 1, .beta = 1.0f));
        if (r->opt.use_bias) { /* recurrent bias row: [dz, dr, dg_h] summed over rows */
            float *dbh = rnn__recurrent_grad(r, RNN_W_BIAS) + G3;
            rnn__colsum_add(dbh, r->xw, TB, 2 * H, G3);
            rnn__colsum_add(dbh + 2 * H, r->aux, TB, H, H);
        }
    } else {
        rnn__product(H, H, TB, r->aux, H, r->xw + 2 * H, G3, dU + 2 * H, G3,
                     RNN_GEMM(.trans_a = 1, .beta = 1.0f));
    }
}

static const rnn_cell_ops gru_cell = {RNN_CELL_GRU, 3, 1, gru_forward_steps, gru_backward_steps,
                                      NULL};

static const rnn_layer_ops gru_ops = RNN_RECURRENT_LAYER_OPS("GRU", "gru");

rnn_recurrent_options rnn_gru_defaults(int units) {
    return rnn__recurrent_defaults(units);
}

rnn_layer *rnn_gru(const rnn_recurrent_options *options) {
    return rnn__recurrent_new(&gru_ops, &gru_cell, options);
}
