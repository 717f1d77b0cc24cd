/* Team hand-off cost (src/kernels/team.c): the mean time of an empty rnn__team_run and of a
 * barrier, then per-step percentiles of a run in which every thread does ~2.5 us of work
 * followed by the same work on the caller alone (a step and its serial tail).
 * Build (from the repository root):
 *   cc -O2 -Isrc tools/microbench/team_handoff.c src/kernels/team.c -o /tmp/team_handoff -lpthread
 *   /tmp/team_handoff [threads]
 * Numbers from this program are quoted in bench/README.md ("One thread pool"). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/team.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static volatile double sink;
static void empty(void *a, int t, int n) { (void)a, (void)t, (void)n; }
static void barriers(void *a, int t, int n) {
    (void)a, (void)t, (void)n;
    for (int i = 0; i < 100; i++) rnn__team_barrier();
}
static void work(void *a, int t, int n) {
    (void)a, (void)t, (void)n;
    double s = 0;
    for (int i = 0; i < 3000; i++) s += i * 0.5;
    sink = s;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 2;
    static double ts[20000];
    rnn__team_set_size(n);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < 20000; i++) rnn__team_run(empty, NULL);
        double t1 = now();
        for (int i = 0; i < 200; i++) rnn__team_run(barriers, NULL);
        double t2 = now();
        for (int i = 0; i < 20000; i++) {
            double s = now();
            rnn__team_run(work, NULL);
            work(NULL, 0, 1);
            ts[i] = now() - s;
        }
        qsort(ts, 20000, sizeof(double), cmp);
        printf("%d threads: empty run %.3f us, barrier %.3f us; step median %.2f us, p90 %.2f, "
               "p99 %.2f\n", n, (t1 - t0) / 20000 * 1e6, (t2 - t1) / 20000 * 1e6, ts[10000] * 1e6,
               ts[18000] * 1e6, ts[19800] * 1e6);
    }
    return 0;
}
