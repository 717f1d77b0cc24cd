/* Micro-benchmark of the fused cell passes (src/kernels/gates.c): ns per unit (one unit = one
 * batch row x one hidden unit) for the LSTM and GRU forward and backward passes, the minimum
 * over many repetitions. Not built by make; build against a librnn.a:
 *   cc -O2 -Isrc tools/bench_gates.c build/librnn.a -lm -o /tmp/bench_gates && /tmp/bench_gates
 * The passes overwrite their inputs, so each repetition restores them outside the timed region.
 * Run it alternately with a build of the base commit: this machine's numbers drift by 30 %
 * between minutes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/gates.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *rnd(size_t n, float scale, unsigned *s) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        p[i] = scale * ((float)(*s >> 8) / 16777216.0f - 0.5f);
    }
    return p;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    int shapes[][2] = {{32, 64}, {64, 512}};
    unsigned s = 1;
    printf("pass            B    H   ns/unit (min of %d)\n", reps);
    for (int k = 0; k < 2; k++) {
        int B = shapes[k][0], H = shapes[k][1];
        size_t n = (size_t)B * H;
        float *z0 = rnd(4 * n, 8.0f, &s), *z = malloc(sizeof(float) * 4 * n);
        float *cp = rnd(n, 2.0f, &s), *c = malloc(sizeof(float) * n), *tc = malloc(sizeof(float) * n);
        float *h = malloc(sizeof(float) * n), *dh = rnd(n, 1.0f, &s), *dc0 = rnd(n, 1.0f, &s);
        float *dc = malloc(sizeof(float) * n), *g0 = rnd(3 * n, 4.0f, &s), *g = malloc(sizeof(float) * 3 * n);
        float *aux = malloc(sizeof(float) * n), *act = malloc(sizeof(float) * 4 * n), *gact = malloc(sizeof(float) * 3 * n);
        double best[4] = {1e9, 1e9, 1e9, 1e9};
        /* activations for the backward passes */
        memcpy(act, z0, sizeof(float) * 4 * n);
        rnn__lstm_gates_forward(act, cp, c, tc, h, B, H, 0, H);
        memcpy(gact, z0, sizeof(float) * 3 * n);
        memcpy(g, g0, sizeof(float) * 3 * n);
        rnn__gru_gates_forward(gact, g, cp, h, aux, B, H, 0, H);
        float *auxs = malloc(sizeof(float) * n);
        memcpy(auxs, aux, sizeof(float) * n);
        for (int r = 0; r < reps; r++) {
            memcpy(z, z0, sizeof(float) * 4 * n);
            double t1 = now();
            rnn__lstm_gates_forward(z, cp, c, tc, h, B, H, 0, H);
            double t2 = now();
            if (t2 - t1 < best[0]) best[0] = t2 - t1;
            memcpy(z, act, sizeof(float) * 4 * n);
            memcpy(dc, dc0, sizeof(float) * n);
            t1 = now();
            rnn__lstm_gates_backward(z, tc, cp, dh, dc, B, H, 0, H);
            t2 = now();
            if (t2 - t1 < best[1]) best[1] = t2 - t1;
            memcpy(z, z0, sizeof(float) * 3 * n);
            t1 = now();
            rnn__gru_gates_forward(z, g0, cp, h, aux, B, H, 0, H);
            t2 = now();
            if (t2 - t1 < best[2]) best[2] = t2 - t1;
            memcpy(z, gact, sizeof(float) * 3 * n);
            memcpy(g, g0, sizeof(float) * 3 * n);
            memcpy(aux, auxs, sizeof(float) * n);
            memcpy(dc, dh, sizeof(float) * n);
            t1 = now();
            rnn__gru_gates_backward(z, g, aux, cp, dc, B, H, 0, H);
            t2 = now();
            if (t2 - t1 < best[3]) best[3] = t2 - t1;
        }
        const char *names[] = {"lstm_forward", "lstm_backward", "gru_forward", "gru_backward"};
        for (int p = 0; p < 4; p++) printf("%-14s %3d %4d   %.3f\n", names[p], B, H, 1e9 * best[p] / n);
        free(z0); free(z); free(cp); free(c); free(tc); free(h); free(dh); free(dc0); free(dc);
        free(g0); free(g); free(aux); free(act); free(gact); free(auxs);
    }
    return 0;
}
