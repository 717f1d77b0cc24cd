/* Training throughput of data-parallel fit (issue 20): B2 and B3 of the benchmark suite trained
 * with rnn_fit over 1 or more MPI ranks. Built and run by `make bench-mpi` (never by make or
 * make test); figures go to bench/README.md.
 *
 *   mpirun -np R build/bench_mpi B2|B3 [--per-rank-batch N] [--threads T] [--samples N]
 *   mpirun -np R build/bench_mpi exchange [--samples P]   (the gradient sum's traffic for P floats)
 *
 * B2: LSTM(64) -> Dense(1) on (samples, 50, 8), mse, Adam, one epoch.
 * B3: Embedding(65, 64) -> GRU(512, rs) -> GRU(128, rs) -> Dense(65, softmax) on (samples, 100)
 *     ids, sparse categorical cross-entropy, Adam, one epoch.
 * The global batch is ranks x per-rank batch (weak scaling: each rank keeps its batch). Rank 0
 * prints samples per second over the epoch (after one warm-up epoch), and the time spent in
 * the exchanges is what the 1-rank figure lacks. Outside mpirun it runs without MPI (the
 * single-process baseline, plain rnn_fit). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rnn.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "B2";
    int per_rank = 0, threads = 1;
    int64_t n = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--per-rank-batch")) per_rank = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) n = atoll(argv[i + 1]);
    }
    if (!strcmp(which, "exchange")) { /* the gradient sum's traffic alone, P floats */
        MPI_Init(&argc, &argv);
        int rank, size;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        const int64_t P = n ? n : 1146881, slice = (P + size - 1) / size;
        float *a = calloc((size_t)(slice * size), sizeof(float)), *b = calloc((size_t)(slice * size), sizeof(float));
        double best = 1e30;
        for (int rep = 0; rep < 20; rep++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = now_s();
            MPI_Alltoall(a, (int)slice, MPI_FLOAT, b, (int)slice, MPI_FLOAT, MPI_COMM_WORLD);
            MPI_Allgather(b, (int)slice, MPI_FLOAT, a, (int)slice, MPI_FLOAT, MPI_COMM_WORLD);
            double dt = now_s() - t0;
            if (dt < best) best = dt;
        }
        if (rank == 0)
            printf("exchange of %lld floats over %d ranks: %.3f ms (best of 20)\n", (long long)P,
                   size, best * 1e3);
        free(a);
        free(b);
        MPI_Finalize();
        return 0;
    }
    const int b3 = !strcmp(which, "B3");
    if (!per_rank) per_rank = 32;
    if (!n) n = b3 ? 256 : 10240;
    const int in_job = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
    rnn_distributed *g = NULL;
    if (in_job) {
        MPI_Init(&argc, &argv);
        g = rnn_mpi_new(NULL);
        if (!g) {
            fprintf(stderr, "%s\n", rnn_last_error());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    rnn_set_threads(threads);
    const int64_t T = b3 ? 100 : 50, F = b3 ? 1 : 8;
    float *x = malloc(sizeof(float) * (size_t)(n * T * F)), *y = malloc(sizeof(float) * (size_t)(n * (b3 ? T : 1)));
    uint64_t s = 42;
    for (int64_t i = 0; i < n * T * F; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = b3 ? (float)((s >> 33) % 65) : (float)((s >> 40) & 0xffff) / 65536.0f;
    }
    for (int64_t i = 0; i < n; i++) {
        if (b3)
            for (int64_t t = 0; t < T; t++) y[i * T + t] = x[i * T + (t + 1) % T];
        else {
            double m = 0;
            for (int64_t t = 0; t < T; t++) m += x[(i * T + t) * F];
            y[i] = (float)(m / (double)T);
        }
    }
    rnn_model *m = rnn_sequential(NULL);
    if (b3) {
        rnn_sequential_input(m, rnn_ids_input_new(RNN_NONE, T, NULL));
        rnn_add(m, rnn_embedding(&(rnn_embedding_options){65, 64, 0, NULL}));
        rnn_recurrent_options a = rnn_gru_defaults(512), c = rnn_gru_defaults(128);
        a.return_sequences = c.return_sequences = 1;
        rnn_add(m, rnn_gru(&a));
        rnn_add(m, rnn_gru(&c));
        rnn_add(m, rnn_dense_simple(65, RNN_SOFTMAX));
        rnn_compile(m, "sparse_categorical_crossentropy", "adam");
    } else {
        rnn_input(m, T, F);
        rnn_recurrent_options a = rnn_lstm_defaults(64);
        rnn_add(m, rnn_lstm(&a));
        rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
        rnn_compile(m, "mse", "adam");
    }
    rnn_fit_options o = rnn_fit_defaults();
    o.verbose = 0;
    o.batch_size = per_rank;
    o.distributed = g;
    rnn_tensor xt = b3 ? rnn_tensor2(x, n, T) : rnn_tensor3(x, n, T, F);
    rnn_tensor yt = b3 ? rnn_tensor2(y, n, T) : rnn_tensor2(y, n, 1);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) { /* the first epoch warms up; the best of the others */
        double t0 = now_s();
        if (rnn_fit(m, rnn_data_xy(xt, yt), &o, NULL)) {
            fprintf(stderr, "fit: %s\n", rnn_model_error(m));
            return 1;
        }
        double dt = now_s() - t0;
        if (rep && dt < best) best = dt;
    }
    if (rnn_distributed_rank(g) == 0)
        printf("%s ranks=%d threads/rank=%d per-rank batch=%d global batch=%d: %.1f samples/s "
               "(epoch of %lld samples in %.2f s)\n", which, rnn_distributed_size(g), threads,
               per_rank, per_rank * rnn_distributed_size(g), (double)n / best, (long long)n, best);
    rnn_model_free(m);
    free(x);
    free(y);
    rnn_distributed_free(g);
    if (in_job) MPI_Finalize();
    return 0;
}
