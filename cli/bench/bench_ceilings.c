/* `rnn bench ceilings`: what this machine's cores can do at all, measured, for the two cases whose
 * targets are stated against the hardware (bench/README.md, "The machine's ceilings"):
 *
 *  - fma256_GFLOPs_1, fma256_GFLOPs_n: the FP32 rate of independent 256-bit fused multiply-adds
 *    with nothing else to do (12 chains, registers only) on one thread and on n threads at once;
 *    fma512_GFLOPs_1, fma512_GFLOPs_n: the same with 512-bit FMAs, where the CPU has AVX-512F
 *    (checked at run time; 0 elsewhere). On cores with AVX-512 a BLAS's 512-bit kernels can pass
 *    the 256-bit rate, so the machine's peak is the larger of the two: fma_GFLOPs_1 and
 *    fma_GFLOPs_n. No product kernel can beat that; B4's target is a fraction of it.
 *  - b5_read_us_n, b5_read_barrier_us_n: the time for n threads to read B5's weights (both
 *    LSTM(128) layers and the Dense, 789 KiB, split evenly, each thread's share staying in its
 *    core's L2) once, concurrently; the second with a spin barrier after every pass, as a step
 *    of a split layer needs. Batch-1 streaming must read every weight once per step (one
 *    multiply-add per weight), so this is the floor for B5's step on n threads.
 *
 * Plain pthreads and C11 atomics, no librnn code: a property of the machine, not of the library.
 * x86-64 with AVX2/FMA only (elsewhere the command says so and fails). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 12 independent chains of a = a * m + c: FMA latency 4 cycles times 2 pipes needs 8 in flight;
 * 12 leave no gap. The starting values come through a volatile so that the compiler cannot merge
 * the chains. */
#define FMA_ITERS 100000000L
static volatile float fma_seed = 1.0f;
static volatile float fma_sink;

AVX2 static void *fma_chains(void *arg) {
    (void)arg;
    const float s = fma_seed;
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(s + (float)i);
    const __m256 m = _mm256_set1_ps(0.99999994f), c = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < FMA_ITERS; it++) {
        a[0] = _mm256_fmadd_ps(a[0], m, c);
        a[1] = _mm256_fmadd_ps(a[1], m, c);
        a[2] = _mm256_fmadd_ps(a[2], m, c);
        a[3] = _mm256_fmadd_ps(a[3], m, c);
        a[4] = _mm256_fmadd_ps(a[4], m, c);
        a[5] = _mm256_fmadd_ps(a[5], m, c);
        a[6] = _mm256_fmadd_ps(a[6], m, c);
        a[7] = _mm256_fmadd_ps(a[7], m, c);
        a[8] = _mm256_fmadd_ps(a[8], m, c);
        a[9] = _mm256_fmadd_ps(a[9], m, c);
        a[10] = _mm256_fmadd_ps(a[10], m, c);
        a[11] = _mm256_fmadd_ps(a[11], m, c);
    }
    __m256 t = a[0];
    for (int i = 1; i < 12; i++) t = _mm256_add_ps(t, a[i]);
    float out[8];
    _mm256_storeu_ps(out, t);
    fma_sink = out[0];
    return NULL;
}

/* The same chains on 512-bit registers (16 lanes). Only called where the CPU has AVX-512F. */
__attribute__((target("avx512f"))) static void *fma_chains512(void *arg) {
    (void)arg;
    const float s = fma_seed;
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(s + (float)i);
    const __m512 m = _mm512_set1_ps(0.99999994f), c = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < FMA_ITERS; it++) {
        a[0] = _mm512_fmadd_ps(a[0], m, c);
        a[1] = _mm512_fmadd_ps(a[1], m, c);
        a[2] = _mm512_fmadd_ps(a[2], m, c);
        a[3] = _mm512_fmadd_ps(a[3], m, c);
        a[4] = _mm512_fmadd_ps(a[4], m, c);
        a[5] = _mm512_fmadd_ps(a[5], m, c);
        a[6] = _mm512_fmadd_ps(a[6], m, c);
        a[7] = _mm512_fmadd_ps(a[7], m, c);
        a[8] = _mm512_fmadd_ps(a[8], m, c);
        a[9] = _mm512_fmadd_ps(a[9], m, c);
        a[10] = _mm512_fmadd_ps(a[10], m, c);
        a[11] = _mm512_fmadd_ps(a[11], m, c);
    }
    __m512 t = a[0];
    for (int i = 1; i < 12; i++) t = _mm512_add_ps(t, a[i]);
    fma_sink = _mm512_reduce_add_ps(t);
    return NULL;
}

/* GFLOP/s of n threads running the chains at once (each FMA: lanes x 2 flops); wide selects
 * the 512-bit chains. */
static double fma_rate(int n, int wide) {
    void *(*chains)(void *) = wide ? fma_chains512 : fma_chains;
    pthread_t th[64];
    const double t0 = seconds();
    int started = 1;
    while (started < n && pthread_create(&th[started], NULL, chains, NULL) == 0) started++;
    if (started == n) chains(NULL);
    for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
    const double flops_per_fma = wide ? 32.0 : 16.0;
    return started == n ? (double)n * FMA_ITERS * 12.0 * flops_per_fma / (seconds() - t0) * 1e-9
                        : -1.0;
}

/* B5's weights: LSTM(128) on 8 features (W 8 x 512, U 128 x 512, bias 512), LSTM(128) on 128
 * (W, U 128 x 512 each, bias 512), Dense(1) (128 + 1). */
#define B5_FLOATS (8 * 512 + 128 * 512 + 512 + 2 * 128 * 512 + 512 + 129)
#define READ_PASSES 20000

typedef struct {
    const float *w;
    size_t floats;
    int barrier, n;
    atomic_int *start, *arrived, *generation;
    double *elapsed;
} read_job;

/* Spin barrier for n threads (a generation counter). */
static void spin_barrier(atomic_int *arrived, atomic_int *generation, int n) {
    const int gen = atomic_load_explicit(generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(arrived, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(generation, 1, memory_order_release);
    } else {
        while (atomic_load_explicit(generation, memory_order_acquire) == gen) _mm_pause();
    }
}

/* Sums the thread's share READ_PASSES times with 8 independent vector chains (enough to keep
 * two loads per cycle in flight); the sum goes to a volatile so no pass can be dropped. */
AVX2 static void *read_passes(void *arg) {
    read_job *j = arg;
    const size_t vecs = j->floats / 8;
    __m256 keep = _mm256_setzero_ps();
    int go;
    while ((go = atomic_load_explicit(j->start, memory_order_acquire)) == 0) _mm_pause();
    if (go < 0) return NULL; /* another thread could not be started */
    const double t0 = seconds();
    for (int p = 0; p < READ_PASSES; p++) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0,
               s7 = s0;
        for (const float *q = j->w, *end = j->w + 64 * (vecs / 8); q < end; q += 64) {
            s0 = _mm256_add_ps(s0, _mm256_load_ps(q));
            s1 = _mm256_add_ps(s1, _mm256_load_ps(q + 8));
            s2 = _mm256_add_ps(s2, _mm256_load_ps(q + 16));
            s3 = _mm256_add_ps(s3, _mm256_load_ps(q + 24));
            s4 = _mm256_add_ps(s4, _mm256_load_ps(q + 32));
            s5 = _mm256_add_ps(s5, _mm256_load_ps(q + 40));
            s6 = _mm256_add_ps(s6, _mm256_load_ps(q + 48));
            s7 = _mm256_add_ps(s7, _mm256_load_ps(q + 56));
        }
        keep = _mm256_add_ps(keep, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1),
                                                               _mm256_add_ps(s2, s3)),
                                                 _mm256_add_ps(_mm256_add_ps(s4, s5),
                                                               _mm256_add_ps(s6, s7))));
        if (j->barrier) spin_barrier(j->arrived, j->generation, j->n);
    }
    *j->elapsed = seconds() - t0;
    float out[8];
    _mm256_storeu_ps(out, keep);
    fma_sink = out[0];
    return NULL;
}

/* Microseconds per pass of n threads each reading its 1/n of B5's weights (median of reps). */
static double read_us(int n, int barrier, int reps) {
    const size_t share = ((size_t)B5_FLOATS / n + 63) / 64 * 64;
    float *w[64] = {0};
    double t[64], elapsed[64];
    double result = -1.0;
    for (int i = 0; i < n; i++) {
        w[i] = aligned_alloc(64, share * sizeof(float));
        if (!w[i]) goto done;
        for (size_t k = 0; k < share; k++) w[i][k] = 1e-3f * (float)(k % 97);
    }
    for (int r = 0; r < reps; r++) {
        atomic_int start = 0, arrived = 0, generation = 0;
        read_job jobs[64];
        pthread_t th[64];
        for (int i = 0; i < n; i++)
            jobs[i] = (read_job){w[i], share, barrier, n, &start, &arrived, &generation,
                                 &elapsed[i]};
        int started = 1;
        while (started < n && pthread_create(&th[started], NULL, read_passes, &jobs[started]) == 0)
            started++;
        /* all started: go; else tell the started ones to return, and give up */
        atomic_store_explicit(&start, started == n ? 1 : -1, memory_order_release);
        if (started == n) read_passes(&jobs[0]);
        for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
        if (started < n) goto done;
        double worst = 0.0;
        for (int i = 0; i < n; i++) worst = elapsed[i] > worst ? elapsed[i] : worst;
        t[r] = worst / READ_PASSES * 1e6;
    }
    for (int a = 1; a < reps; a++) /* insertion sort for the median */
        for (int b = a; b > 0 && t[b] < t[b - 1]; b--) {
            const double x = t[b];
            t[b] = t[b - 1];
            t[b - 1] = x;
        }
    result = t[reps / 2];
done:
    for (int i = 0; i < n; i++) free(w[i]);
    return result;
}

int bench_ceilings(const bench_args *a) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "rnn bench ceilings: this CPU has no AVX2/FMA\n");
        return 1;
    }
    int n = a->threads > 0 ? a->threads : 2;
    if (n > 64) n = 64;
    const int avx512 = __builtin_cpu_supports("avx512f") != 0; /* 0 or 1: the loop bound below */
    /* best of the repetitions: [wide][0] on one thread, [wide][1] on n */
    double best[2][2] = {{0.0, 0.0}, {0.0, 0.0}};
    for (int r = 0; r < a->reps; r++)
        for (int wide = 0; wide <= avx512; wide++) {
            const double f1 = fma_rate(1, wide), fn = fma_rate(n, wide);
            if (fn < 0) {
                fprintf(stderr, "rnn bench ceilings: could not start %d threads\n", n);
                return 1;
            }
            best[wide][0] = f1 > best[wide][0] ? f1 : best[wide][0];
            best[wide][1] = fn > best[wide][1] ? fn : best[wide][1];
        }
    const double best1 = best[1][0] > best[0][0] ? best[1][0] : best[0][0];
    const double bestn = best[1][1] > best[0][1] ? best[1][1] : best[0][1];
    const double rd = read_us(n, 0, a->reps), rb = read_us(n, 1, a->reps);
    if (rd < 0 || rb < 0) {
        fprintf(stderr, "rnn bench ceilings: out of memory or threads\n");
        return 1;
    }
    bench_print_head(a);
    printf(", \"fma_GFLOPs_1\": %.1f, \"fma_GFLOPs_n\": %.1f, \"fma256_GFLOPs_1\": %.1f, "
           "\"fma256_GFLOPs_n\": %.1f, \"fma512_GFLOPs_1\": %.1f, \"fma512_GFLOPs_n\": %.1f, "
           "\"b5_weights_kb\": %.0f, \"b5_read_us_n\": %.2f, \"b5_read_barrier_us_n\": %.2f",
           best1, bestn, best[0][0], best[0][1], best[1][0], best[1][1],
           B5_FLOATS * 4.0 / 1024.0, rd, rb);
    bench_print_tail();
    return 0;
}

#else

int bench_ceilings(const bench_args *a) {
    (void)a;
    fprintf(stderr, "rnn bench ceilings: needs an x86-64 CPU with AVX2/FMA and GCC or clang\n");
    return 1;
}

#endif
