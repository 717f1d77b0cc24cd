/* LSTM (Keras LSTMCell), gate order i, f, c, o.
 *   z   = x_t W + h_{t-1} U + b                  (B, 4H): blocks z_i z_f z_c z_o
 *   i   = sigma(z_i)  f = sigma(z_f)  g = phi(z_c)  o = sigma(z_o)
 *   c_t = f * c_{t-1} + i * g
 *   h_t = o * phi(c_t)
 * sigma = recurrent_activation (sigmoid), phi = activation (tanh). */
#include <string.h>

#include "error.h"
#include "kernels/activations.h"
#include "kernels/gates.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_packed.h"
#include "kernels/qmatvec.h"
#include "kernels/team.h"
#include "layers/recurrent.h"

/* The step loop on the thread team (kernels/team.h): thread tid owns the units [lo, hi) - its
 * columns of each of the four gate blocks of U (and of W when the projection is left to the
 * steps), its part of the gates and of the states - and the threads meet once per step, when
 * h_t is complete. Every element is computed by the same operations as with one thread. */
typedef struct {
    rnn_recurrent *r;
    int B, T;
    const float *u_panels; /* U's four gate blocks as panels (plan.panels), else NULL */
    int u_joined;          /* u_panels is U as one block of 4H columns (lstm_forward_steps) */
    const float *w_panels; /* W's four gate blocks as panels (plan.project_panels), else NULL */
} lstm_team_job;

/* Until every thread of the job has signalled `signal` times (0: nothing to wait for). */
static void wait_all(int n, int signal) {
    if (signal)
        for (int j = 0; j < n; j++) rnn__team_wait_signal(j, signal);
}

/* A streaming step's c_{t-1} and c_t (rnn__stream_h_prev's comment). */
static const float *stream_c_prev(const rnn_recurrent *r) {
    return r->plan.state_in_place ? r->state[1] : rnn__lstm_c(r, 0);
}
static float *stream_c_new(const rnn_recurrent *r) {
    return r->plan.state_in_place ? r->state_next[1] : rnn__lstm_c(r, 1);
}

/* plan.state_in_place on the general loop (the pack is cut for another number of threads),
 * which steps from slot 0 of hs and c to slot 1: the state into slot 0 before the step
 * (into = 1), slot 1 into state_next after it (into = 0). */
static void stream_state_slots(rnn_recurrent *r, int into) {
    const size_t bytes = sizeof(float) * (size_t)r->B * r->H;
    if (into) {
        memcpy(r->hs, r->state[0], bytes);
        memcpy(rnn__lstm_c(r, 0), r->state[1], bytes);
    } else {
        memcpy(r->state_next[0], r->hs + (size_t)r->B * r->H, bytes);
        memcpy(r->state_next[1], rnn__lstm_c(r, 1), bytes);
    }
}

/* The second half of a streaming step of units [lo, hi): the gates and states from the
 * thread's pre-activations s (B rows of the four gate blocks of its units); masked rows keep
 * their state. A row's four blocks lie side by side in s, so the gates run on s in place, as
 * those of a layer of nu units (the same operations per element as on z's blocks, and the
 * sigmoids of i and f in one pass); the activations go on to z only when keep_gates asks for
 * them there (explain's trace sets it, and runs in predict mode, so no streaming step reads
 * them today: kept so that the flag means the same on every path). */
static void stream_gates(rnn_recurrent *r, int B, int lo, int hi, float *s) {
    const int H = (int)r->H, G4 = 4 * H, nu = hi - lo, width = 4 * nu;
    const float *h_prev = rnn__stream_h_prev(r), *c_prev = stream_c_prev(r);
    float *h = rnn__stream_h_new(r), *c = stream_c_new(r);
    for (int b = 0; b < B; b++) {
        const size_t o = (size_t)b * H + lo;
        rnn__lstm_gates_forward(s + (size_t)b * width, c_prev + o, c + o, r->tc + o, h + o, 1, nu,
                                0, nu);
    }
    if (r->keep_gates)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < 4; g++)
                memcpy(r->xw + (size_t)b * G4 + g * H + lo, s + (size_t)b * width + g * nu,
                       sizeof(float) * nu);
    if (r->mask)
        for (int b = 0; b < B; b++)
            if (r->mask[b] == 0.0f) { /* masked: keep the state */
                const size_t o = (size_t)b * H + lo;
                memcpy(c + o, c_prev + o, sizeof(float) * nu);
                memcpy(h + o, h_prev + o, sizeof(float) * nu);
            }
}

/* One streaming step (T = 1) of the units [lo, hi) from the thread's part of the streaming
 * pack (rnn_weight_copies): s = b + x W_p + h U_p into the thread's scratch rows in r->step,
 * then the gates. The same operations per element as the unpacked path (bias, then x W, then
 * h U, accumulated in the same order), so the same bits.
 * x: the step's input rows (r->xt, or the previous layer's new state in a chain). */
#define STREAM_SEGMENTS 16
static void lstm_stream_packed(rnn_recurrent *r, int B, int lo, int hi, const float *x,
                               int n, int signal) {
    const int H = (int)r->H, F = (int)r->F, width = 4 * (hi - lo);
    const float *p = rnn__copies_stream_part(r, lo, hi), *bias = p + (size_t)(F + H) * width;
    float *s = r->step + (size_t)B * 4 * lo;
    if (B == 1) {
        /* One row's sums in as few passes over the pack's rows as the inputs allow, from the
         * bias row itself, kept in registers within a pass (rnn__qmv_f32_segments): x W in the
         * input units' order - with a signal, each thread's units once they are ready - then
         * h U. A pass ends only where the next units are not ready yet, so that the thread
         * does what it can while it waits; each pass goes on over the rows after the last
         * one's. The same chains of fused multiply-adds wherever the passes end: the same
         * bits. (Separate products per piece each paid for loading and storing the sums and
         * for restarting the stream of rows.) */
        const float *xs[STREAM_SEGMENTS];
        int ks[STREAM_SEGMENTS], nseg = 0;
        const float *from = bias, *w = p; /* w: the first row of the next pass */
        for (int j = 0; j < (signal ? n : 1); j++) {
            int flo = 0, fhi = F;
            if (signal) rnn__team_units(F, j, n, &flo, &fhi);
            if (fhi <= flo) continue;
            if (nseg == STREAM_SEGMENTS - 1 || (nseg > 0 && !rnn__team_signalled(j, signal))) {
                rnn__qmv_f32_segments(width, nseg, xs, ks, w, width, from, s);
                for (int i = 0; i < nseg; i++) w += (size_t)ks[i] * width;
                from = s;
                nseg = 0;
            }
            if (signal) {
                rnn__team_wait_signal(j, signal);
                /* another thread's units: their lines requested at once */
                for (int i = flo; i < fhi; i += 16) __builtin_prefetch(x + i);
            }
            xs[nseg] = x + flo;
            ks[nseg++] = fhi - flo;
        }
        xs[nseg] = rnn__stream_h_prev(r);
        ks[nseg++] = H;
        rnn__qmv_f32_segments(width, nseg, xs, ks, w, width, from, s);
    } else {
        for (int b = 0; b < B; b++) memcpy(s + (size_t)b * width, bias, sizeof(float) * width);
        wait_all(n, signal);
        rnn__qmv_f32(B, width, F, x, F, p, width, s, width);
        rnn__qmv_f32(B, width, H, rnn__stream_h_prev(r), H, p + (size_t)F * width, width, s,
                     width);
    }
    stream_gates(r, B, lo, hi, s);
}

/* lstm_stream_packed from the reduced-precision pack (plan.precision): s = b + h U_q + x W_q
 * (kernels/qmatvec.h: bf16 widened in registers with float32 sums; int8 as integer products
 * with x and h rounded to integers per row). */
static void lstm_stream_quant(rnn_recurrent *r, int B, int lo, int hi, const float *x,
                              int n, int signal) {
    const int H = (int)r->H, F = (int)r->F, width = 4 * (hi - lo);
    const unsigned char *p = rnn__copies_qstream_part(r, lo, hi);
    const float *bias = (const float *)p, *sw = bias + width, *su = sw + width;
    const unsigned char *qw = (const unsigned char *)(su + width);
    float *s = r->step + (size_t)B * 4 * lo;
    for (int b = 0; b < B; b++) memcpy(s + (size_t)b * width, bias, sizeof(float) * width);
    /* h_{t-1} U first: this layer's own state, complete since the last step, so a thread
     * does it while the others finish their units of x (the previous layer's h_t in a chain),
     * which the x product needs whole (bf16 adds each column's sum to s once; int8 scales each
     * row of x over runs of its values). Then x W: s = (b + h U) + x W on every thread count. */
    if (r->plan.precision == RNN_BF16) {
        const uint16_t *w = (const uint16_t *)qw, *u = w + (size_t)F * width;
        rnn__qmv_bf16(B, width, H, rnn__stream_h_prev(r), H, u, width, s, width);
        wait_all(n, signal);
        rnn__qmv_bf16(B, width, F, x, F, w, width, s, width);
    } else { /* int8: the corrections, then the packed weights (recurrent.h) */
        const int32_t *cw = (const int32_t *)qw, *cu = cw + (size_t)rnn__qmv_int8_runs(F) * width;
        const int8_t *w = (const int8_t *)(cu + (size_t)rnn__qmv_int8_runs(H) * width);
        const int8_t *u = w + rnn__qmv_int8_bytes(F, width);
        rnn__qmv_int8(B, width, H, rnn__stream_h_prev(r), H, u, cu, su, s, width);
        wait_all(n, signal);
        rnn__qmv_int8(B, width, F, x, F, w, cw, sw, s, width);
    }
    stream_gates(r, B, lo, hi, s);
}

/* A streaming step of thread tid's units from the pack; 0 when the pack is not cut for the
 * run's n threads (the caller then takes the general loop). A pack cut for one thread
 * (rnn__copies_stream_threads) is thread 0's alone. */
static int lstm_stream_step(rnn_recurrent *r, int B, int tid, int n, const float *x,
                            int signal) {
    if (!rnn__copies_stream_usable(r, n)) return 0;
    const int parts = rnn__copies_stream_cut(r);
    if (tid >= parts) return 1;
    int lo, hi;
    rnn__team_units((int)r->H, tid, parts, &lo, &hi);
    if (hi > lo) {
        if (r->plan.precision != RNN_F32) lstm_stream_quant(r, B, lo, hi, x, n, signal);
        else lstm_stream_packed(r, B, lo, hi, x, n, signal);
    }
    return 1;
}

static void lstm_forward_team_steps(const lstm_team_job *job, int tid, int n);

static void lstm_forward_team(void *arg, int tid, int n) {
    const lstm_team_job *job = arg;
    rnn_recurrent *r = job->r;
    const int B = job->B;
    if (r->plan.stream_pack && lstm_stream_step(r, B, tid, n, r->xt, 0)) return; /* by units */
    if (r->plan.state_in_place) {
        if (tid == 0) stream_state_slots(r, 1);
        rnn__team_barrier();
        lstm_forward_team_steps(job, tid, n);
        rnn__team_barrier();
        if (tid == 0) stream_state_slots(r, 0);
        return;
    }
    lstm_forward_team_steps(job, tid, n);
}

/* Steps whose input projection lstm_forward_team_steps computes in one product (plan.x_in_place
 * by rows): 2, 4, 8, 16 and 32 measured 0.1, 1.0-1.4, 0.8-1.3, 0.6 and 0 % faster than 1 on
 * B4's forward (the larger, the more of xw and xt the chunk's rows leave the 2 MB L2 for). */
#define PROJECT_CHUNK 4

/* lstm_forward_team's step loop. */
static void lstm_forward_team_steps(const lstm_team_job *job, int tid, int n) {
    rnn_recurrent *r = job->r;
    const int B = job->B, T = job->T, H = (int)r->H, G4 = 4 * H, F = (int)r->F;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    int b0, b1, lo, hi;
    const int by_rows = rnn__team_split(B, H, tid, n, &b0, &b1, &lo, &hi);
    const int nu = hi - lo, nb = b1 - b0;
    const int large = r->plan.large;
    /* Predicting with the projection in the loop: no step's z is needed after the step, so
     * every step reuses slot 0 of xw, which stays in cache (training keeps them for backward). */
    const int reuse_z = r->plan.project_in_loop && !r->plan.keep_steps;
    /* Reduced precision by rows with the projection in the loop: the input and recurrent
     * products in one pass over z (rnn__qgemm2: the bits of the two products in turn). */
    const int qfused = r->plan.qseq && by_rows && r->plan.project_in_loop &&
                       !r->plan.repeat_input;
    /* Predicting by rows with W on panels: x W + b of PROJECT_CHUNK steps at once, each panel
     * of W fetched (from L3: W and U are 8 MB on B4) once per chunk instead of once per step,
     * its row tiles over chunk x nb rows. The thread's rows of those steps are packed into xt
     * (free: the input is read in place) as rows (step, sample), and their z into its own rows
     * of xw in that order (its z is needed only during its step). The same kernel on the same
     * rows, so the same bits. */
    const int chunked = reuse_z && by_rows && job->w_panels && r->plan.x_in_place &&
                        !r->plan.repeat_input && !qfused;
    const int chunk = T < PROJECT_CHUNK ? T : PROJECT_CHUNK;
    float *zc = r->xw + (size_t)chunk * b0 * G4, *xc = r->xt + (size_t)chunk * b0 * F;
    for (int t = 0; t < T; t++) {
        float *z = r->xw + (size_t)(reuse_z ? 0 : t) * B * G4, *tc = rnn__lstm_tc(r, t);
        const float *h_prev = r->hs + (size_t)t * BH, *c_prev = rnn__lstm_c(r, t);
        float *h = r->hs + (size_t)(t + 1) * BH, *c = rnn__lstm_c(r, t + 1);
        if (nu > 0 && nb > 0) {
            const size_t rz = (size_t)b0 * G4, rh = (size_t)b0 * H;
            float *zr = chunked ? zc + (size_t)(t % chunk) * nb * G4 : z + rz; /* our z rows */
            if (chunked && t % chunk == 0) {
                const int steps = T - t < chunk ? T - t : chunk;
                for (int s = 0; s < steps; s++)
                    for (int b = 0; b < nb; b++)
                        memcpy(xc + ((size_t)s * nb + b) * F,
                               rnn__recurrent_x_row(r, t + s, b0 + b), sizeof(float) * F);
                rnn__recurrent_project_panels(r, job->w_panels, zc, xc, F, steps * nb, lo, hi);
            }
            /* the rows of h_{t-1} this thread's product reads (hs, or hseq: plan.h_in_yseq) */
            const float *hp = rnn__recurrent_h_row(r, t, b0);
            const int ldh = rnn__recurrent_h_ld(r, t);
            /* z's values before h U is added to them: the rows themselves, or the repeated
             * input's projection (below) */
            const float *z_old = zr;
            if (r->plan.project_in_loop && r->plan.repeat_input) {
                /* the same input at every step (RepeatVector): project it once, then the panel
                 * product adds h U to it into z (the same sums as on a copy of it in z, without
                 * the copy: B6's decoder, 30 x 100 KB), else copy it */
                float *p0 = r->step + rz;
                if (t == 0)
                    rnn__recurrent_project_step(r, p0, r->xt + (size_t)b0 * F, F, nb, lo, hi);
                if (job->u_panels)
                    z_old = p0;
                else if (nu == H)
                    memcpy(zr, p0, sizeof(float) * (size_t)nb * G4);
                else
                    for (int b = 0; b < nb; b++)
                        for (int g = 0; g < 4; g++)
                            memcpy(zr + (size_t)b * G4 + g * H + lo,
                                   p0 + (size_t)b * G4 + g * H + lo, sizeof(float) * nu);
            } else if (qfused) {
                rnn__qgemm2(&r->qw[RNN_W_KERNEL], r->xt + ((size_t)t * B + b0) * F, F,
                            &r->qw[RNN_W_RECURRENT], hp, ldh, nb, 0, G4,
                            rnn__recurrent_value(r, RNN_W_BIAS), 0, zr, G4, RNN_GEMM_OWN);
            } else if (chunked) {
                ; /* with its chunk, above */
            } else if (r->plan.project_in_loop && job->w_panels) {
                rnn__recurrent_project_panels(r, job->w_panels, zr,
                                              rnn__recurrent_x_row(r, t, b0),
                                              rnn__recurrent_x_ld(r), nb, lo, hi);
            } else if (r->plan.project_in_loop) {
                rnn__recurrent_project_step(r, zr, rnn__recurrent_x_row(r, t, b0),
                                            rnn__recurrent_x_ld(r), nb, lo, hi);
            }
            if (qfused)
                ; /* both products above */
            else if (job->u_joined) /* all four blocks in one product (nu == H: below) */
                RNN_INTERNAL_CHECK(nu == H &&
                                   rnn__product(nb, G4, H, hp, ldh, job->u_panels, 0, zr, G4,
                                                RNN_GEMM(.beta = 1, .src = z_old,
                                                         .kernel = RNN_GEMM_PANELS, .width = G4,
                                                         .group = 0, .col = 0)));
            else if (job->u_panels)
                for (int g = 0; g < 4; g++)
                    RNN_INTERNAL_CHECK(rnn__product(
                        nb, nu, H, hp, ldh, job->u_panels, 0, zr + g * H + lo, G4,
                        RNN_GEMM(.beta = 1, .src = z_old + g * H + lo,
                                 .kernel = RNN_GEMM_PANELS, .width = H, .group = g,
                                 .col = lo)));
            else if (r->plan.qseq) /* by rows: the four blocks at once; by units: each block */
                for (int g = 0; g < (by_rows ? 1 : 4); g++) {
                    const int c0 = by_rows ? 0 : g * H + lo, w = by_rows ? G4 : nu;
                    rnn__qgemm(&r->qw[RNN_W_RECURRENT], nb, c0, c0 + w, hp, ldh,
                               zr + c0, G4, zr + c0, G4, RNN_GEMM_OWN);
                }
            else if (by_rows) /* all four blocks in one product */
                rnn__product(nb, G4, H, hp, ldh, U, G4, zr, G4,
                             RNN_GEMM(.beta = 1.0f, .kernel = RNN_GEMM_SLICE, .large = large));
            else
                for (int g = 0; g < 4; g++)
                    rnn__product(nb, nu, H, hp, ldh, U + g * H + lo, G4,
                                 zr + g * H + lo, G4,
                                 RNN_GEMM(.beta = 1.0f, .kernel = RNN_GEMM_SLICE, .large = large));
            if (r->plan.h_in_yseq) /* row by row: h_t's rows lie T H apart in yseq */
                for (int b = 0; b < nb; b++)
                    rnn__lstm_gates_forward(zr + (size_t)b * G4, c_prev + rh + (size_t)b * H,
                                            c + rh + (size_t)b * H, tc + rh + (size_t)b * H,
                                            rnn__recurrent_h_row(r, t + 1, b0 + b), 1, H, lo,
                                            hi);
            else
                rnn__lstm_gates_forward(zr, c_prev + rh, c + rh, tc + rh, h + rh, nb, H, lo,
                                        hi);
            if (r->mask)
                for (int b = b0; b < b1; b++)
                    if (r->mask[(size_t)t * B + b] == 0.0f) { /* masked: keep the state */
                        const size_t o = (size_t)b * H + lo;
                        memcpy(c + o, c_prev + o, sizeof(float) * nu);
                        memcpy(h + o, h_prev + o, sizeof(float) * nu);
                    }
            if (r->plan.yseq_in_loop) /* our part of h_t into the sequence (B, T, H) */
                for (int b = b0; b < b1; b++)
                    memcpy(r->yseq + ((size_t)b * T + t) * H + lo, h + (size_t)b * H + lo,
                           sizeof(float) * nu);
        }
        /* Split by units, h_t complete: every thread's next product reads all of it (after the
         * last step, rnn__team_run's own wait does that). By rows, each thread reads only the
         * rows it wrote. */
        if (!by_rows && t + 1 < T) rnn__team_barrier();
    }
}

/* rnn_cell_ops.stream_step. When the pack is cut for another number of threads (the team was
 * busy, so the job runs alone), the general loop, which reads the input from xt. */
static void lstm_stream_chain_step(rnn_recurrent *r, int B, int tid, int n, const float *x,
                                   int signal) {
    if (lstm_stream_step(r, B, tid, n, x, signal)) return;
    wait_all(n, signal);
    if (x != r->xt) {
        if (tid == 0) memcpy(r->xt, x, sizeof(float) * (size_t)B * r->F);
        rnn__team_barrier();
    }
    lstm_team_job job = {r, B, 1, NULL, 0, NULL};
    lstm_forward_team(&job, tid, n);
}

/* xw (T,B,4H) holds x W + b on entry; leaves the gate activations i, f, g, o there, and
 * phi(c_t) in r->tc for the backward pass. The activations run vectorised over each block. */
static void lstm_forward_steps(rnn_recurrent *r, int B, int T) {
    const int H = (int)r->H, G4 = 4 * H;
    const rnn_activation act = r->opt.activation, ract = r->opt.recurrent_activation;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    const int fused = act == RNN_TANH && ract == RNN_SIGMOID;
    if (r->plan.team) {
        lstm_team_job job = {r, B, T, NULL, 0, NULL};
        /* U as one block when every thread's product covers all of H (split by rows, or a
         * run alone: rnn__team_run runs on the team's size or on one thread), unless H is a
         * multiple of 16 (then the layouts are the same): each element is the same chain in
         * any tile, so the bits do not change, and the columns are not padded per gate
         * block (B6's LSTM(100): 400 lanes per row instead of 448) */
        job.u_joined = r->plan.panels && B >= RNN_TEAM_MIN_ROWS * rnn__team_size() &&
                       r->H % RNN_PANEL != 0;
        if (r->plan.panels) job.u_panels = rnn__copies_u_panels(r, job.u_joined);
        if (!job.u_panels) job.u_joined = 0;
        if (r->plan.project_panels) job.w_panels = rnn__copies_w_panels(r);
        if (r->plan.stream_pack && rnn__copies_stream_cut(r) == 1) {
            rnn__team_run_alone(lstm_forward_team, &job);
            rnn__copies_stream_done(r, 1);
        } else {
            rnn__copies_stream_done(r, rnn__team_run(lstm_forward_team, &job));
        }
        return;
    }
    /* qstep: each step's z is made here, in slot 0 unless the steps are kept */
    const int reuse_z = r->plan.qstep && !r->plan.keep_steps;
    for (int t = 0; t < T; t++) {
        float *z = r->xw + (size_t)(reuse_z ? 0 : t) * B * G4, *tc = rnn__lstm_tc(r, t);
        const float *h_prev = r->hs + (size_t)t * BH, *c_prev = rnn__lstm_c(r, t);
        float *h = r->hs + (size_t)(t + 1) * BH, *c = rnn__lstm_c(r, t + 1);
        if (r->plan.qstep)
            rnn__qgemm2(&r->qw[RNN_W_KERNEL], r->xt + (size_t)t * B * r->F, (int)r->F,
                        &r->qw[RNN_W_RECURRENT], rnn__rec_in(r, t), H, B, 0, G4,
                        rnn__recurrent_value(r, RNN_W_BIAS), 0, z, G4, RNN_GEMM_AUTO);
        else if (r->plan.qseq)
            rnn__qgemm(&r->qw[RNN_W_RECURRENT], B, 0, G4, rnn__rec_in(r, t), H, z, G4, z, G4,
                       RNN_GEMM_AUTO);
        else
            rnn__product(B, G4, H, rnn__rec_in(r, t), H, U, G4, z, G4, RNN_GEMM(.beta = 1.0f));
        if (fused) { /* the same operations, one pass per row (kernels/gates.c) */
            rnn__lstm_gates_forward(z, c_prev, c, tc, h, B, H, 0, H);
            if (r->mask)
                for (int b = 0; b < B; b++)
                    if (r->mask[(size_t)t * B + b] == 0.0f) { /* masked: keep the state */
                        memcpy(c + (size_t)b * H, c_prev + (size_t)b * H, sizeof(float) * H);
                        memcpy(h + (size_t)b * H, h_prev + (size_t)b * H, sizeof(float) * H);
                    }
            rnn__recurrent_mask_state(r, t + 1);
            continue;
        }
        for (int b = 0; b < B; b++) {
            float *zb = z + (size_t)b * G4, *tcb = tc + (size_t)b * H;
            const float *cpb = c_prev + (size_t)b * H;
            float *cb = c + (size_t)b * H, *hb = h + (size_t)b * H;
            rnn__act_vec(ract, zb, 2 * H); /* i, f */
            rnn__act_vec(act, zb + 2 * H, H); /* g */
            rnn__act_vec(ract, zb + 3 * H, H); /* o */
            for (int j = 0; j < H; j++) tcb[j] = cb[j] = zb[H + j] * cpb[j] + zb[j] * zb[2 * H + j];
            rnn__act_vec(act, tcb, H);
            for (int j = 0; j < H; j++) hb[j] = zb[3 * H + j] * tcb[j];
            if (r->mask && r->mask[(size_t)t * B + b] == 0.0f) { /* masked: keep the state */
                memcpy(cb, cpb, sizeof(float) * H);
                memcpy(hb, h_prev + (size_t)b * H, sizeof(float) * H);
            }
        }
        rnn__recurrent_mask_state(r, t + 1);
    }
}

/* Backward on the team: thread tid turns its units' gate activations into dZ (its columns of
 * the four blocks), the threads meet, then each computes dh_{t-1} for its units from all of dZ
 * and its rows of U. No masks (the general loop handles those). */
typedef struct {
    rnn_recurrent *r;
    int B, T;
    const rnn_seq_grad *dhseq;
    const float *ut_panels; /* U^T as panels (plan.back_panels), else NULL */
    int grad_parts; /* the weight gradients from each thread's rows in the job (lstm_grad_parts) */
    int with_x;     /* x^T dZ and the bias's too (else after the job: repeated steps) */
    int bias_parts; /* the bias's gradient alone in the job (lstm_bias_parts) */
} lstm_team_back_job;

/* Whether the backward of a run on n threads sums the weight gradients in its job: on a
 * team, with grad_part planned for this batch. */
static int grads_in_job(const rnn_recurrent *r, int B, int n) {
    const int block = rnn__recurrent_grad_block(B);
    return r->grad_part && n > 1 && r->grad_parts == (B + block - 1) / block;
}

/* Whether the backward of a run on n threads sums the bias's gradient alone in its job (no
 * grad_part: B4), on a team, with bias_part planned for this batch. */
static int bias_in_job(const rnn_recurrent *r, int B, int n) {
    const int block = rnn__recurrent_grad_block(B);
    return r->bias_part && n > 1 && r->bias_parts == (B + block - 1) / block;
}

/* The column sums of step t's dZ over the rows [b0, b1) and the units [lo, hi) of each gate
 * block (a thread's share, as in lstm_grad_parts), from every block of rows in them, into the
 * block's row of bias_part: step T-1 writes it, the earlier steps add to it. The rows were
 * written by this thread's gate pass just before, so they are read from its cache instead of
 * in a pass over all of dZ after the loop (B4: 6,400 rows of 2,048, 52 MB). The same terms as
 * that pass in another order (each column by blocks of rows, steps from the last, then the
 * blocks summed: other last bits); each element's chain depends on B and T alone, so 2 threads
 * or more give the same bits, by rows or by units. */
static void lstm_bias_parts(const lstm_team_back_job *job, int b0, int b1, int lo, int hi,
                            int t) {
    rnn_recurrent *r = job->r;
    const int B = job->B, H = (int)r->H, G4 = 4 * H, block = rnn__recurrent_grad_block(B);
    const int ranges = hi - lo == H ? 1 : 4, width = hi - lo == H ? G4 : hi - lo;
    for (int a = b0; a < b1; a += block) { /* (b0 is a block's first row) */
        const int rows = b1 - a < block ? b1 - a : block;
        float *pb = r->bias_part + (size_t)(a / block) * G4;
        for (int g = 0; g < ranges; g++) {
            const int c = g * H + (ranges == 1 ? 0 : lo);
            if (t == job->T - 1) memset(pb + c, 0, sizeof(float) * (size_t)width);
            rnn__colsum_add_serial(pb + c, r->xw + ((size_t)t * B + a) * G4 + c, rows, width,
                                   G4);
        }
    }
}

/* After the loop (and a barrier): thread tid's share of the bias's values, in runs of 16:
 * bias grad += ((part 0 + part 1) + part 2) ... */
static void lstm_sum_bias_parts(const lstm_team_back_job *job, int tid, int n) {
    const rnn_recurrent *r = job->r;
    const size_t G4 = 4 * (size_t)r->H, runs = (G4 + 15) / 16;
    const size_t lo = 16 * (runs * (size_t)tid / (size_t)n);
    size_t hi = 16 * (runs * (size_t)(tid + 1) / (size_t)n);
    if (hi > G4) hi = G4;
    float *g = rnn__recurrent_grad(r, RNN_W_BIAS);
    for (size_t i = lo; i < hi; i++) {
        float s = r->bias_part[i];
        for (int p = 1; p < r->bias_parts; p++) s += r->bias_part[(size_t)p * G4 + i];
        g[i] += s;
    }
}

/* Steps per chunk of lstm_grad_parts: the dZ of a chunk's rows (4 x 16 x 256 floats on B2, 64
 * KB) is still in this core's cache when its products read it. 2, 4, 8 and 50 (the whole
 * sequence after the loop) measured level on B2 (bench/README.md). */
#define GRAD_CHUNK_STEPS 4

/* The weight gradients over the steps [t0, t1) of the backward loop, whose dZ (xw) are
 * complete, of the rows [b0, b1) and the units [lo, hi) of each gate block (a thread's share of
 * the team's split: its rows and all units, or all rows and its units), from every block of
 * rows (rnn__recurrent_grad_block) in them: h_{t-1}^T dZ_t, x_t^T dZ_t and the column sums of
 * dZ_t summed over the chunk's steps and the block's rows, into the block's part of grad_part
 * (the first chunk, t1 = T, writes the part, the others add to it); lstm_sum_grad_parts then
 * adds the parts to the gradients. This replaces the products over all T B rows after the job
 * (B2: dU = h^T dZ, 64 x 256 x 1,600, through the BLAS, which packed a dZ half made by the
 * other core, then x^T dZ and a serial column sum for the bias), and by rows reads the dZ the
 * thread has just made in its own cache: the same terms in another order, so other last bits.
 * Each element's chain depends on B and T alone (the blocks, the chunks), not on the split:
 * the same bits on every team of 2 threads or more, by rows or by units. */
static void lstm_grad_parts(const lstm_team_back_job *job, int b0, int b1, int lo, int hi,
                            int t0, int t1) {
    rnn_recurrent *r = job->r;
    const int B = job->B, H = (int)r->H, G4 = 4 * H, F = (int)r->F, add = t1 < job->T;
    const int block = rnn__recurrent_grad_block(B);
    const size_t BG4 = (size_t)B * G4;
    /* all units: the four gate blocks as one range of columns */
    const int ranges = hi - lo == H ? 1 : 4, width = hi - lo == H ? G4 : hi - lo;
    for (int a = b0; a < b1; a += block) { /* (b0 is a block's first row) */
        const int rows = b1 - a < block ? b1 - a : block;
        float *pu = r->grad_part + (size_t)(a / block) * rnn__recurrent_grad_part_floats(r);
        float *pw = pu + (size_t)H * G4, *pb = pw + (size_t)F * G4;
        for (int g = 0; g < ranges; g++) {
            const int c = g * H + (ranges == 1 ? 0 : lo);
            const float *dz = r->xw + ((size_t)t0 * B + a) * G4 + c;
            RNN_INTERNAL_CHECK(rnn__gemm_tn_steps_avx512(
                H, width, t1 - t0, rows, rnn__rec_in(r, t0) + (size_t)a * H, H,
                (ptrdiff_t)B * H, dz, G4, (ptrdiff_t)BG4, pu + c, G4, add));
            if (!job->with_x) continue;
            RNN_INTERNAL_CHECK(rnn__gemm_tn_steps_avx512(
                F, width, t1 - t0, rows, r->xt + ((size_t)t0 * B + a) * F, F, (ptrdiff_t)B * F,
                dz, G4, (ptrdiff_t)BG4, pw + c, G4, add));
            if (r->opt.use_bias) {
                if (!add) memset(pb + c, 0, sizeof(float) * (size_t)width);
                for (int t = 0; t < t1 - t0; t++)
                    rnn__colsum_add(pb + c, dz + (size_t)t * BG4, rows, width, G4);
            }
        }
    }
}

/* After the loop (and a barrier): thread tid's share of the values, in runs of 16, added to
 * the gradients: dU (then dW and the bias's) += ((part 0 + part 1) + part 2) ... */
static void lstm_sum_grad_parts(const lstm_team_back_job *job, int tid, int n) {
    const rnn_recurrent *r = job->r;
    const size_t H = (size_t)r->H, G4 = 4 * H, F = (size_t)r->F;
    const size_t per = rnn__recurrent_grad_part_floats(r);
    const size_t used = job->with_x ? (H + F + (r->opt.use_bias ? 1 : 0)) * G4 : H * G4;
    const size_t runs = (used + 15) / 16;
    const size_t lo = 16 * (runs * (size_t)tid / (size_t)n);
    size_t hi = 16 * (runs * (size_t)(tid + 1) / (size_t)n);
    if (hi > used) hi = used;
    float *grads[3] = {rnn__recurrent_grad(r, RNN_W_RECURRENT),
                       rnn__recurrent_grad(r, RNN_W_KERNEL), rnn__recurrent_grad(r, RNN_W_BIAS)};
    const size_t starts[4] = {0, H * G4, (H + F) * G4, (H + F + 1) * G4};
    for (int w = 0; w < 3; w++) {
        const size_t a = lo > starts[w] ? lo : starts[w];
        const size_t e = hi < starts[w + 1] ? hi : starts[w + 1];
        if (a >= e) continue;
        float *g = grads[w]; /* value i of the parts is g[i - starts[w]] */
        for (size_t i = a; i < e; i++) {
            float s = r->grad_part[i];
            for (int p = 1; p < r->grad_parts; p++) s += r->grad_part[(size_t)p * per + i];
            g[i - starts[w]] += s;
        }
    }
}

static void lstm_backward_team(void *arg, int tid, int n) {
    const lstm_team_back_job *job = arg;
    rnn_recurrent *r = job->r;
    const int B = job->B, T = job->T, H = (int)r->H, G4 = 4 * H;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    float *dh = r->dh, *dc = r->dc;
    int b0, b1, lo, hi;
    const int by_rows = rnn__team_split(B, H, tid, n, &b0, &b1, &lo, &hi);
    /* (the same for every thread of the run: n is the run's) */
    const int parts = job->grad_parts && grads_in_job(r, B, n);
    const int bias = !parts && job->bias_parts && bias_in_job(r, B, n);
    if ((parts || bias) && by_rows) { /* rows by whole blocks of grad_part (bias_part) */
        const int block = rnn__recurrent_grad_block(B), blocks = (B + block - 1) / block;
        b0 = block * (int)((long)blocks * tid / n);
        b1 = block * (int)((long)blocks * (tid + 1) / n);
        if (b1 > B) b1 = B;
    }
    const int nu = hi - lo, nb = b1 - b0;
    const size_t rz = (size_t)b0 * G4, rh = (size_t)b0 * H;
    const int large = r->plan.large;
    int chunk_end = T; /* lstm_grad_parts's steps [t, chunk_end) */
    for (int t = T - 1; t >= 0; t--) {
        float *z = r->xw + (size_t)t * B * G4;
        const float *tc = r->tc + (size_t)t * BH, *c_prev = r->cs + (size_t)t * BH;
        if (nu > 0 && nb > 0) {
            /* the step's output gradient added to dh as the gate pass reads it (dh is then
             * overwritten by dZ U^T below) */
            const rnn_seq_grad *g = job->dhseq;
            const float *dy = g->data ? g->data + (size_t)t * g->step + (size_t)b0 * g->row : NULL;
            rnn__lstm_gates_backward_dy(z + rz, tc + rh, c_prev + rh, dh + rh, dy, g->row,
                                        dc + rh, nb, H, lo, hi);
            if (bias) lstm_bias_parts(job, b0, b1, lo, hi, t);
        }
        if (!by_rows) rnn__team_barrier(); /* dZ_t complete (by rows: only our rows are read) */
        /* dh_{-1} = dZ_0 U^T is read only as an initial state's gradient (recurrent.c): without
         * one, step 0 leaves it out (1/T of the product; B6: about 1 % of the step) */
        if (t == 0 && !r->has_initial_state)
            ;
        else if (nu > 0 && nb > 0 && job->ut_panels)
            RNN_INTERNAL_CHECK(rnn__product(nb, nu, G4, z + rz, G4, job->ut_panels, 0,
                                            dh + rh + lo, H,
                                            RNN_GEMM(.kernel = RNN_GEMM_PANELS, .width = H,
                                                     .col = lo)));
        else if (nu > 0 && nb > 0)
            rnn__product(nb, nu, G4, z + rz, G4, U + (size_t)lo * G4, G4, dh + rh + lo, H,
                         RNN_GEMM(.trans_b = 1, .kernel = RNN_GEMM_SLICE, .large = large));
        /* (by units, dZ of every row up to step t is complete: the barrier above) */
        if (parts && (t == 0 || (T - t) % GRAD_CHUNK_STEPS == 0)) {
            if (nb > 0 && nu > 0) lstm_grad_parts(job, b0, b1, lo, hi, t, chunk_end);
            chunk_end = t;
        }
    }
    if (parts || bias) { /* every part complete, then each thread its share of the sum */
        rnn__team_barrier();
        if (parts) lstm_sum_grad_parts(job, tid, n);
        else lstm_sum_bias_parts(job, tid, n);
    }
}

/* Backward through time; gate activations in xw become dZ.
 *   dc_t += dh_t * o * phi'(c_t);  do = dh_t * phi(c_t)
 *   di = dc_t * g;  dg = dc_t * i;  df = dc_t * c_{t-1};  dc_{t-1} = dc_t * f
 *   dZ = [di sigma'(i), df sigma'(f), dg phi'(g), do sigma'(o)];  dh_{t-1} = dZ U^T */
static void lstm_backward_steps(rnn_recurrent *r, int B, int T, const rnn_seq_grad *dhseq) {
    const int H = (int)r->H, G4 = 4 * H;
    const rnn_activation act = r->opt.activation, ract = r->opt.recurrent_activation;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    float *dU = rnn__recurrent_grad(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    float *dh = r->dh, *dc = r->dc;
    const int fused = act == RNN_TANH && ract == RNN_SIGMOID;
    r->input_grads_done = 0;
    r->bias_grad_done = 0;
    if (r->plan.back_team) {
        lstm_team_back_job job = {r, B, T, dhseq, NULL, 0, 0, 0};
        if (r->plan.back_panels) job.ut_panels = rnn__copies_ut_panels(r);
        /* (a run alone, on a busy team: dU below) */
        job.grad_parts = grads_in_job(r, B, rnn__team_size());
        job.with_x = job.grad_parts && !rnn__recurrent_steps_repeat(r);
        /* (repeated steps: the bias's gradient from the sum of the steps' dZ, recurrent.c) */
        job.bias_parts = !job.grad_parts && bias_in_job(r, B, rnn__team_size()) &&
                         !rnn__recurrent_steps_repeat(r);
        const int n = rnn__team_run(lstm_backward_team, &job);
        r->bias_grad_done = job.bias_parts && bias_in_job(r, B, n);
        if (job.grad_parts && grads_in_job(r, B, n)) {
            r->input_grads_done = job.with_x;
            return; /* dU summed by the job */
        }
    } else {
        for (int t = T - 1; t >= 0; t--) {
            float *z = r->xw + (size_t)t * B * G4;
            const float *tc = r->tc + (size_t)t * BH, *c_prev = r->cs + (size_t)t * BH;
            rnn__recurrent_add_seq_grad(dhseq, t, dh, H, 0, B, 0, H);
            int masked_rows = 0;
            if (fused && !r->mask) { /* the same operations, vectorised (kernels/gates.c) */
                rnn__lstm_gates_backward(z, tc, c_prev, dh, dc, B, H, 0, H);
            } else {
                for (int b = 0; b < B; b++) {
                    float *zb = z + (size_t)b * G4, *dhb = dh + (size_t)b * H;
                    float *dcb = dc + (size_t)b * H;
                    const float *tcrow = tc + (size_t)b * H, *cpb = c_prev + (size_t)b * H;
                    if (r->mask && r->mask[(size_t)t * B + b] == 0.0f) {
                        /* h_t = h_{t-1}, c_t = c_{t-1}: the gradients pass through unchanged. */
                        memset(zb, 0, sizeof(float) * G4);
                        memcpy(r->dh_keep + (size_t)b * H, dhb, sizeof(float) * H);
                        masked_rows = 1;
                        continue;
                    }
                    for (int j = 0; j < H; j++) {
                        float i = zb[j], f = zb[H + j], g = zb[2 * H + j], o = zb[3 * H + j];
                        float tcv = tcrow[j];
                        float dct = dcb[j] + dhb[j] * o * rnn__act_grad(act, tcv);
                        float dov = dhb[j] * tcv;
                        zb[j] = dct * g * rnn__act_grad(ract, i);
                        zb[H + j] = dct * cpb[j] * rnn__act_grad(ract, f);
                        zb[2 * H + j] = dct * i * rnn__act_grad(act, g);
                        zb[3 * H + j] = dov * rnn__act_grad(ract, o);
                        dcb[j] = dct * f;
                    }
                }
            }
            rnn__product(B, H, G4, z, G4, U, G4, dh, H, RNN_GEMM(.trans_b = 1));
            rnn__recurrent_finish_state_grad(r, dh, t, masked_rows);
        }
    }
    /* dU = sum_t h_{t-1}^T dZ_t: one product over all steps. */
    rnn__product(H, G4, T * B, rnn__rec_in(r, 0), H, r->xw, G4, dU, G4,
                 RNN_GEMM(.trans_a = 1, .beta = 1.0f));
}

static const rnn_cell_ops lstm_cell = {RNN_CELL_LSTM, 4, 2, lstm_forward_steps,
                                       lstm_backward_steps, lstm_stream_chain_step};

static const rnn_layer_ops lstm_ops = RNN_RECURRENT_LAYER_OPS("LSTM", "lstm");

rnn_recurrent_options rnn_lstm_defaults(int units) {
    return rnn__recurrent_defaults(units);
}

rnn_layer *rnn_lstm(const rnn_recurrent_options *options) {
    return rnn__recurrent_new(&lstm_ops, &lstm_cell, options);
}
