/* RTNeural peer of `rnn bench B5` (issue 18): the streaming model of B5 - stateful LSTM(128) ->
 * LSTM(128) -> Dense(1) on 8 features, batch 1, one step per call - in RTNeural's compile-time
 * API (ModelT with LSTMLayerT and DenseT, float32), the library written for exactly this kind of
 * real-time single-sample inference.
 *
 *   rtneural_b5 [--reps N]     one JSON line: us_per_step, the median of 10,000 single-step
 *                              times after 500 warm-up steps, as `rnn bench B5`
 *
 * The weights are librnn's B5 model's (rnn_set_seed 5, read with rnn_get_weight in Keras's
 * layout, which is what RTNeural's setWVals/setUVals/setBVals take), so the two compute the same
 * function: every run also steps both models from zero states over the first 1,000 inputs and
 * reports the largest difference of the outputs (max_abs_diff_vs_librnn) and their spread; the
 * program fails if the difference is above 1e-4 or the outputs are not finite or do not vary.
 * Inputs: the seeded values of cli/bench/bench.c (stream 5). Built by `make bench` when
 * RTNEURAL_DIR points at an RTNeural checkout (Makefile, bench/README.md), with its Eigen
 * backend (RTNEURAL_USE_EIGEN), -O3 -march=native; one thread (RTNeural has no threads). */
#include <RTNeural/RTNeural.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "rnn.h"
#include "bench_common.h" /* cli/bench: the same seeded data and median as rnn bench */

namespace {

constexpr int F = 8, H = 128, STEPS = 10000, WARM = 500, CHECK_STEPS = 1000;

using Model = RTNeural::ModelT<float, F, 1, RTNeural::LSTMLayerT<float, F, H>,
                               RTNeural::LSTMLayerT<float, H, H>, RTNeural::DenseT<float, H, 1>>;


/* librnn's B5 model (cli/bench/bench.c bench_b5), one thread. */
rnn_model *librnn_b5() {
    rnn_model *m = rnn_sequential(NULL);
    rnn_recurrent_options l1 = rnn_lstm_defaults(H), l2 = rnn_lstm_defaults(H);
    l1.stateful = l2.stateful = 1;
    l1.return_sequences = 1;
    if (!m || rnn_set_seed(m, 5) || rnn_batch_input(m, 1, 1, F) || rnn_add(m, rnn_lstm(&l1)) ||
        rnn_add(m, rnn_lstm(&l2)) || rnn_add(m, rnn_dense_simple(1, RNN_LINEAR))) {
        std::fprintf(stderr, "rtneural_b5: librnn model: %s\n",
                     m ? rnn_model_error(m) : rnn_last_error());
        rnn_model_free(m);
        return nullptr;
    }
    return m;
}

std::vector<float> weight(rnn_model *m, int i, int64_t count) {
    std::vector<float> v((size_t)count);
    if (rnn_get_weight(m, i, v.data(), count)) {
        std::fprintf(stderr, "rtneural_b5: weight %d: %s\n", i, rnn_model_error(m));
        std::exit(1);
    }
    return v;
}

/* (rows x cols) row-major -> vector of rows */
std::vector<std::vector<float>> rows(const std::vector<float> &v, int r, int c) {
    std::vector<std::vector<float>> out((size_t)r, std::vector<float>((size_t)c));
    for (int i = 0; i < r; i++) std::copy(v.begin() + (size_t)i * c, v.begin() + (size_t)(i + 1) * c, out[i].begin());
    return out;
}

/* Copies librnn's weights (Keras's layout: kernel (in, 4H), recurrent (H, 4H), bias (4H), gates
 * i f c o; Dense kernel (H, 1), bias (1)) into the RTNeural model. */
void copy_weights(rnn_model *m, Model &model) {
    if (rnn_weight_count(m) != 8) {
        std::fprintf(stderr, "rtneural_b5: expected 8 weights in librnn's model, got %d\n",
                     rnn_weight_count(m));
        std::exit(1);
    }
    auto &a = model.get<0>();
    auto &b = model.get<1>();
    auto &d = model.get<2>();
    a.setWVals(rows(weight(m, 0, (int64_t)F * 4 * H), F, 4 * H));
    a.setUVals(rows(weight(m, 1, (int64_t)H * 4 * H), H, 4 * H));
    a.setBVals(weight(m, 2, 4 * H));
    b.setWVals(rows(weight(m, 3, (int64_t)H * 4 * H), H, 4 * H));
    b.setUVals(rows(weight(m, 4, (int64_t)H * 4 * H), H, 4 * H));
    b.setBVals(weight(m, 5, 4 * H));
    const std::vector<float> dk = weight(m, 6, H), db = weight(m, 7, 1);
    d.setWeights(std::vector<std::vector<float>>{dk}); /* [out][in]: Keras's (H, 1) transposed */
    d.setBias(db.data());
}

int cmp(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

} // namespace

int main(int argc, char **argv) {
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: rtneural_b5 [--reps N]\n");
            return 2;
        }
    }
    (void)reps; /* B5's repetitions are its 10,000 steps, as in `rnn bench B5` */
    rnn_set_threads(1);
    rnn_model *lib = librnn_b5();
    if (!lib) return 1;
    alignas(64) static Model model;
    copy_weights(lib, model);

    std::vector<float> xs((size_t)(WARM + STEPS) * F);
    seeded_uniform(xs.data(), (int64_t)xs.size(), 5, 1.0f);

    /* the same function as librnn: both from zero states over the first inputs */
    model.reset();
    double diff = 0, lo = 1e30, hi = -1e30;
    alignas(64) float x[F];
    for (int s = 0; s < CHECK_STEPS; s++) {
        std::memcpy(x, &xs[(size_t)s * F], sizeof x);
        const float y = model.forward(x);
        float yl = 0;
        if (rnn_predict_step(lib, x, &yl)) {
            std::fprintf(stderr, "rtneural_b5: librnn step: %s\n", rnn_model_error(lib));
            return 1;
        }
        if (!std::isfinite(y)) {
            std::fprintf(stderr, "rtneural_b5: output not finite at step %d\n", s);
            return 1;
        }
        diff = std::max(diff, (double)std::fabs(y - yl));
        lo = std::min(lo, (double)y), hi = std::max(hi, (double)y);
    }
    rnn_model_free(lib);
    if (diff > 1e-4 || !(hi > lo)) {
        std::fprintf(stderr, "rtneural_b5: outputs differ from librnn's by %g (range %g to %g)\n",
                     diff, lo, hi);
        return 1;
    }

    model.reset();
    float sink = 0;
    for (int s = 0; s < WARM; s++) {
        std::memcpy(x, &xs[(size_t)s * F], sizeof x);
        sink += model.forward(x);
    }
    std::vector<double> ts(STEPS);
    for (int s = 0; s < STEPS; s++) {
        std::memcpy(x, &xs[(size_t)(WARM + s) * F], sizeof x);
        const auto t0 = std::chrono::steady_clock::now();
        sink += model.forward(x);
        ts[(size_t)s] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    std::qsort(ts.data(), ts.size(), sizeof(double), cmp);
    const double med = 0.5 * (ts[STEPS / 2 - 1] + ts[STEPS / 2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("{\"impl\": \"rtneural\", \"case\": \"B5\", \"backend\": \"eigen %d.%d.%d\", "
                "\"threads\": 1, \"us_per_step\": %.4f, \"steps\": %d, "
                "\"max_abs_diff_vs_librnn\": %.3g, \"check_output_range\": [%.4g, %.4g], "
                "\"finite\": %s, \"peak_rss_mb\": %.1f}\n",
                EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, med * 1e6, STEPS,
                diff, lo, hi, std::isfinite(sink) ? "true" : "false", ru.ru_maxrss / 1024.0);
    return 0;
}
