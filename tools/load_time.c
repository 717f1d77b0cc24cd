/* Times rnn_load (guarded: the file is read by the reader program, src/io/untrusted_parse.c)
 * against the same load done in the calling process, on one model file. Not part of the build:
 *   make && cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude -Isrc $(pkg-config --cflags \
 *     hdf5 libzip libcjson) -DRNN_WITH_KERAS_IO tools/load_time.c build/librnn.a \
 *     $(pkg-config --libs hdf5 libzip libcjson) -lopenblas -lm -lpthread -o build/load_time
 *   build/load_time MODEL [REPEATS]                                                          */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "io/keras_io.h"
#include "rnn.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: load_time MODEL [REPEATS]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    double best[2] = {1e9, 1e9}, total[2] = {0, 0};
    for (int r = 0; r < reps; r++) {
        for (int guarded = 0; guarded < 2; guarded++) {
            double t0 = now();
            rnn_keras_recipe rc = {0};
            rnn_model *m = guarded ? rnn_load(argv[1]) : rnn__keras_load_in_process(argv[1], &rc);
            double dt = now() - t0;
            rnn__keras_recipe_free(&rc);
            if (!m) {
                fprintf(stderr, "load_time: %s\n", rnn_last_error());
                return 1;
            }
            rnn_model_free(m);
            total[guarded] += dt;
            if (dt < best[guarded]) best[guarded] = dt;
        }
    }
    printf("%s: in-process best %.2f ms mean %.2f ms; rnn_load (reader process) best %.2f ms "
           "mean %.2f ms; %d repeats\n", argv[1], best[0] * 1e3, total[0] / reps * 1e3,
           best[1] * 1e3, total[1] / reps * 1e3, reps);
    return 0;
}
