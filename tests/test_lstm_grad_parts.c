/* The LSTM team backward's weight gradients summed in its job (lstm.c, lstm_grad_parts: one
 * part per block of rows, chunks of steps, then each thread's share of the sum), over shapes
 * other than B2's: batches that are not multiples of 16 (by rows: blocks of 16 or 32 rows and
 * a partial last block; by units on 3 and 4 threads where B < 16 n), T from 1 to 9 (chunks of
 * 4 and a partial one), F = 1 and F over the in-loop projection's 128, H not a multiple of 16,
 * go_backwards, no bias, input dropout, a repeated input (dU in the job, dW and the bias after
 * it), stateful carry; and layers whose part is too large for grad_part (128 units on 128
 * features and over), which sum only the bias's gradient in the job (lstm_bias_parts, B4's
 * path). For every case the gradients of all weights and of the input on 2, 3
 * and 4 threads are the same bits (each element's chain depends on B and T alone), and agree
 * with the one-thread path (which test_gradcheck checks against finite differences). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kernels/gemm_kernels.h"
#include "kernels/team.h"
#include "layer_harness.h"

typedef struct {
    int B, T, F, H;
    int seq, back, bias, dropout, repeat, stateful;
} grad_case;

typedef struct {
    float *g; /* the weight gradients, then the input gradient */
    int64_t n;
    int parts, input_done; /* grad_parts planned; the job summed x^T dZ and the bias's too */
    int bias_done;         /* no grad_part: the job summed the bias's gradient (bias_part) */
} grads;

/* One forward and backward in training mode on `threads` step threads. */
static grads run_case(const grad_case *c, int threads) {
    grads out = {0};
    rnn_set_threads(threads > 1 ? 2 : 1);
    rnn__team_set_size(threads);
    rnn_recurrent_options o = rnn_lstm_defaults(c->H);
    o.return_sequences = c->seq;
    o.go_backwards = c->back;
    o.use_bias = c->bias;
    o.stateful = c->stateful;
    o.dropout = c->dropout ? 0.25f : 0.0f;
    harness h;
    if (harness_setup(&h, rnn_lstm(&o), c->B, c->T, c->F, 7) != 0) {
        CHECK(0, "setup failed: %s", rnn_last_error());
        return out;
    }
    if (c->repeat) /* every step's input is step 0's (a RepeatVector's output) */
        for (int b = 0; b < c->B; b++)
            for (int t = 1; t < c->T; t++)
                memcpy(h.x.data + ((size_t)b * c->T + t) * c->F,
                       h.x.data + (size_t)b * c->T * c->F, sizeof(float) * (size_t)c->F);
    if (c->stateful) harness_loss(&h, RNN_MODE_TRAIN); /* a non-zero state to start from */
    harness_loss(&h, RNN_MODE_TRAIN);
    memset(h.grads, 0, sizeof(float) * (size_t)h.n_params);
    harness_backward(&h);
    const int64_t nx = rnn_tensor_size(&h.x);
    out.n = h.n_params + nx;
    out.g = malloc(sizeof(float) * (size_t)out.n);
    memcpy(out.g, h.grads, sizeof(float) * (size_t)h.n_params);
    memcpy(out.g + h.n_params, h.layer->dx[0], sizeof(float) * (size_t)nx);
    const rnn_recurrent *r = rnn__recurrent_of(h.layer);
    out.parts = r->grad_parts;
    out.input_done = r->input_grads_done;
    out.bias_done = r->bias_grad_done;
    harness_free(&h);
    return out;
}

static int parts_cases, x_in_job_cases, bias_in_job_cases;

static void check_case(const grad_case *c) {
    char name[160];
    snprintf(name, sizeof name, "LSTM(%d) B %d T %d F %d%s%s%s%s%s%s", c->H, c->B, c->T, c->F,
             c->seq ? " sequences" : "", c->back ? " go_backwards" : "",
             c->bias ? "" : " no bias", c->dropout ? " dropout" : "",
             c->repeat ? " repeated input" : "", c->stateful ? " stateful" : "");
    grads g[5] = {{0}};
    for (int n = 1; n <= 4; n++) g[n] = run_case(c, n);
    int ok = 1;
    for (int n = 1; n <= 4; n++) ok = ok && g[n].g && g[n].n == g[1].n;
    CHECK(ok, "%s: a run failed", name);
    if (ok) {
        if (g[2].parts) parts_cases++;
        if (g[2].input_done) x_in_job_cases++;
        if (g[2].bias_done && g[3].bias_done && g[4].bias_done) bias_in_job_cases++;
        for (int n = 3; n <= 4; n++) {
            int64_t first = -1;
            for (int64_t i = 0; i < g[2].n && first < 0; i++)
                if (memcmp(&g[2].g[i], &g[n].g[i], sizeof(float)) != 0) first = i;
            CHECK(first < 0, "%s: 2 and %d threads give other bits (first at %lld: %.9g vs %.9g)",
                  name, n, (long long)first, first < 0 ? 0.0 : (double)g[2].g[first],
                  first < 0 ? 0.0 : (double)g[n].g[first]);
        }
        /* the team against one thread: the same terms in another order */
        double scale = 0;
        for (int64_t i = 0; i < g[1].n; i++) scale = fmax(scale, fabs((double)g[1].g[i]));
        for (int n = 2; n <= 4; n++) {
            double worst = 0;
            int64_t at = 0;
            for (int64_t i = 0; i < g[1].n; i++) {
                const double d = fabs((double)g[n].g[i] - g[1].g[i]);
                if (d > worst) worst = d, at = i;
            }
            CHECK(worst <= 1e-5 * scale && scale > 0,
                  "%s: %d threads and one differ by %g at %lld (%.9g vs %.9g; largest %g)", name,
                  n, worst, (long long)at, (double)g[n].g[at], (double)g[1].g[at], scale);
        }
    }
    for (int n = 1; n <= 4; n++) free(g[n].g);
}

int main(void) {
    /* B: by rows in blocks of 16 (32..128, a partial last block), of 32 (130), by units on 3 and
     * 4 threads (B < 16 n); T: 1, 2, 3 (one partial chunk), 4, 5 and 9 (whole chunks then a
     * partial one); batches under 32 take the old path (no parts) and are compared too. */
    const int batches[] = {1, 7, 17, 31, 32, 33, 40, 47, 48, 50, 63, 64, 65, 70, 130};
    const int steps[] = {1, 2, 3, 4, 5, 9};
    for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++)
        for (size_t ti = 0; ti < sizeof steps / sizeof *steps; ti++) {
            grad_case c = {batches[bi], steps[ti], 3, 20, (int)((bi + ti) % 2), 0, 1, 0, 0, 0};
            check_case(&c);
        }
    /* F = 1, F = 200 (the projection on panels), H = 24, 64 and 40 (not multiples of 16) */
    const grad_case more[] = {
        {37, 5, 1, 20, 1, 0, 1, 0, 0, 0},  {45, 7, 200, 24, 0, 0, 1, 0, 0, 0},
        {33, 6, 8, 64, 1, 0, 1, 0, 0, 0},  {70, 9, 8, 40, 0, 0, 1, 0, 0, 0},
        {40, 5, 3, 20, 1, 1, 1, 0, 0, 0},  {40, 5, 3, 20, 0, 1, 0, 0, 0, 0},
        {49, 6, 3, 20, 1, 0, 0, 0, 0, 0},  {40, 5, 3, 20, 1, 0, 1, 1, 0, 0},
        {35, 7, 4, 24, 0, 0, 1, 0, 1, 0},  {64, 5, 4, 24, 1, 0, 1, 0, 1, 0},
        {40, 5, 4, 24, 0, 0, 0, 0, 1, 0},  {40, 6, 3, 20, 1, 0, 1, 0, 0, 1},
        {32, 50, 8, 64, 1, 0, 1, 0, 0, 0}, /* B2's shape */
        /* odd H: dU's and dW's ends are not on the sum's runs of 16 */
        {40, 5, 3, 17, 1, 0, 1, 0, 0, 0},  {33, 9, 5, 33, 0, 1, 1, 0, 0, 0},
        {47, 6, 2, 17, 1, 0, 0, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) check_case(&more[i]);
    /* a part over GRAD_PART_MAX_FLOATS ((128 + 128 + 1) 512 floats): the team's backward without
     * parts, by rows on 2 threads and by units on 3 and 4 - the path a CPU without AVX-512F
     * takes for every shape */
    const grad_case big = {40, 3, 128, 128, 1, 0, 1, 0, 0, 0};
    check_case(&big);
    grads g = run_case(&big, 2);
    CHECK(g.g && g.parts == 0, "LSTM(128) on 128 features: parts planned (%d)", g.parts);
    free(g.g);
    /* Parts that large (B4's LSTM(512) on 512 features: 2.1M floats) still sum the bias's
     * gradient in the job (lstm_bias_parts): a partial last block of rows (33, 70), blocks of
     * 32 rows (130), by units on 3 and 4 threads (B < 16 n), one step, H not a multiple of 16,
     * go_backwards, dropout; no bias and a repeated input keep the sum after the job. */
    const grad_case big_bias[] = {
        {33, 5, 130, 128, 0, 0, 1, 0, 0, 0}, {70, 4, 128, 128, 1, 1, 1, 0, 0, 0},
        {130, 2, 128, 128, 0, 0, 1, 0, 0, 0}, {40, 1, 128, 128, 1, 0, 1, 0, 0, 0},
        {48, 3, 100, 144, 1, 0, 1, 1, 0, 0}, {64, 6, 128, 128, 1, 0, 1, 0, 0, 1},
    };
    const int before = bias_in_job_cases;
    for (size_t i = 0; i < sizeof big_bias / sizeof *big_bias; i++) check_case(&big_bias[i]);
    CHECK(bias_in_job_cases - before == (int)(sizeof big_bias / sizeof *big_bias),
          "only %d of the large cases summed the bias's gradient in the job",
          bias_in_job_cases - before);
    const grad_case big_without[] = {{40, 3, 128, 128, 1, 0, 0, 0, 0, 0},
                                     {40, 4, 128, 128, 0, 0, 1, 0, 1, 0}};
    for (size_t i = 0; i < 2; i++) {
        check_case(&big_without[i]);
        g = run_case(&big_without[i], 2);
        CHECK(g.g && !g.bias_done, "LSTM(128), %s: the bias's gradient summed in the job",
              i ? "repeated input" : "no bias");
        free(g.g);
    }
    /* the cases must reach the path (a CPU without AVX-512F takes the old one, checked alike) */
    if (rnn__panels_avx512_available()) {
        CHECK(parts_cases >= 60, "only %d cases summed the gradients in the job", parts_cases);
        CHECK(x_in_job_cases >= 50, "only %d cases summed x^T dZ in the job", x_in_job_cases);
    }
    rnn_set_threads(0);
    return check_report("test_lstm_grad_parts");
}
