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
 * librnn's model (its weights and its outputs over those steps) runs in a child process that
 * sends them through a pipe, so that peak_rss_mb (getrusage of this process, as `rnn bench`
 * measures itself) is RTNeural's and not librnn's as well: in this process librnn's B5 model -
 * weights, gradients, its streaming pack - had made up 5 to 7 MB of a 13 MB peak. The child's own
 * peak is reported as librnn_reference_peak_rss_mb. This process still maps OpenBLAS, which the
 * linked librnn.a needs (about 3.3 MB of the peak) and RTNeural does not.
 * Inputs: the seeded values of cli/bench/bench.c (stream 5). Built by `make bench` when
 * RTNEURAL_DIR points at an RTNeural checkout (Makefile, bench/README.md), with its Eigen
 * backend (RTNEURAL_USE_EIGEN), -O3 -march=native; one thread (RTNeural has no threads). */
#include <RTNeural/RTNeural.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The sizes of librnn's B5 weights in rnn_get_weight's order (Keras's layout: kernel (in, 4H),
 * recurrent (H, 4H), bias (4H), gates i f c o, per LSTM; Dense kernel (H, 1), bias (1)). */
constexpr int64_t SIZES[8] = {(int64_t)F * 4 * H, (int64_t)H * 4 * H, 4 * H,
                              (int64_t)H * 4 * H, (int64_t)H * 4 * H, 4 * H, H, 1};

bool write_all(int fd, const void *p, size_t n) {
    const char *c = (const char *)p;
    while (n) {
        const ssize_t k = write(fd, c, n);
        if (k <= 0) return false;
        c += k, n -= (size_t)k;
    }
    return true;
}

bool read_all(int fd, void *p, size_t n) {
    char *c = (char *)p;
    while (n) {
        const ssize_t k = read(fd, c, n);
        if (k <= 0) return false;
        c += k, n -= (size_t)k;
    }
    return true;
}

/* The child: librnn's B5 model, its 8 weights and its outputs over the first CHECK_STEPS inputs
 * from zero states, written to fd. Exit status 0 when all were written. */
int librnn_reference(int fd, const std::vector<float> &xs) {
    rnn_set_threads(1);
    rnn_model *m = librnn_b5();
    if (!m) return 1;
    if (rnn_weight_count(m) != 8) {
        std::fprintf(stderr, "rtneural_b5: expected 8 weights in librnn's model, got %d\n",
                     rnn_weight_count(m));
        return 1;
    }
    for (int i = 0; i < 8; i++) {
        std::vector<float> v((size_t)SIZES[i]);
        if (rnn_get_weight(m, i, v.data(), SIZES[i])) {
            std::fprintf(stderr, "rtneural_b5: weight %d: %s\n", i, rnn_model_error(m));
            return 1;
        }
        if (!write_all(fd, v.data(), sizeof(float) * v.size())) return 1;
    }
    for (int s = 0; s < CHECK_STEPS; s++) {
        float y = 0;
        if (rnn_predict_step(m, &xs[(size_t)s * F], &y)) {
            std::fprintf(stderr, "rtneural_b5: librnn step: %s\n", rnn_model_error(m));
            return 1;
        }
        if (!write_all(fd, &y, sizeof y)) return 1;
    }
    rnn_model_free(m);
    return 0;
}

/* (rows x cols) row-major -> vector of rows */
std::vector<std::vector<float>> rows(const std::vector<float> &v, int r, int c) {
    std::vector<std::vector<float>> out((size_t)r, std::vector<float>((size_t)c));
    for (int i = 0; i < r; i++) std::copy(v.begin() + (size_t)i * c, v.begin() + (size_t)(i + 1) * c, out[i].begin());
    return out;
}

/* Copies librnn's weights (SIZES' order and layout) into the RTNeural model. */
void copy_weights(const std::vector<float> *w, Model &model) {
    auto &a = model.get<0>();
    auto &b = model.get<1>();
    auto &d = model.get<2>();
    a.setWVals(rows(w[0], F, 4 * H));
    a.setUVals(rows(w[1], H, 4 * H));
    a.setBVals(w[2]);
    b.setWVals(rows(w[3], H, 4 * H));
    b.setUVals(rows(w[4], H, 4 * H));
    b.setBVals(w[5]);
    d.setWeights(std::vector<std::vector<float>>{w[6]}); /* [out][in]: Keras's (H, 1) transposed */
    d.setBias(w[7].data());
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
    std::vector<float> xs((size_t)(WARM + STEPS) * F);
    seeded_uniform(xs.data(), (int64_t)xs.size(), 5, 1.0f);

    /* librnn's weights and outputs from a child process (see the head of the file) */
    int p[2];
    if (pipe(p) != 0) {
        std::perror("rtneural_b5: pipe");
        return 1;
    }
    std::fflush(stdout);
    const pid_t child = fork();
    if (child < 0) {
        std::perror("rtneural_b5: fork");
        return 1;
    }
    if (child == 0) {
        close(p[0]);
        _exit(librnn_reference(p[1], xs));
    }
    close(p[1]);
    std::vector<float> w[8];
    std::vector<float> ref((size_t)CHECK_STEPS);
    bool got = true;
    for (int i = 0; i < 8 && got; i++) {
        w[i].resize((size_t)SIZES[i]);
        got = read_all(p[0], w[i].data(), sizeof(float) * w[i].size());
    }
    got = got && read_all(p[0], ref.data(), sizeof(float) * ref.size());
    close(p[0]);
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        !got) {
        std::fprintf(stderr, "rtneural_b5: librnn's reference process failed\n");
        return 1;
    }
    struct rusage child_ru;
    getrusage(RUSAGE_CHILDREN, &child_ru);
    alignas(64) static Model model;
    copy_weights(w, model);
    for (auto &v : w) std::vector<float>().swap(v); /* RTNeural holds its own copy */

    /* the same function as librnn: both from zero states over the first inputs */
    model.reset();
    double diff = 0, lo = 1e30, hi = -1e30;
    alignas(64) float x[F];
    for (int s = 0; s < CHECK_STEPS; s++) {
        std::memcpy(x, &xs[(size_t)s * F], sizeof x);
        const float y = model.forward(x);
        if (!std::isfinite(y)) {
            std::fprintf(stderr, "rtneural_b5: output not finite at step %d\n", s);
            return 1;
        }
        diff = std::max(diff, (double)std::fabs(y - ref[(size_t)s]));
        lo = std::min(lo, (double)y), hi = std::max(hi, (double)y);
    }
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
                "\"finite\": %s, \"peak_rss_mb\": %.1f, \"librnn_reference_peak_rss_mb\": %.1f}\n",
                EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, med * 1e6, STEPS,
                diff, lo, hi, std::isfinite(sink) ? "true" : "false", ru.ru_maxrss / 1024.0,
                child_ru.ru_maxrss / 1024.0);
    return 0;
}
