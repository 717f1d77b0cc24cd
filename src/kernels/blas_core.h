/* Which OpenBLAS kernels run the products (blas_core.c; rnn_blas_upgrade_kernels moves
 * OpenBLAS off its SSE3 fallback on CPUs newer than the OpenBLAS release when asked). */
#ifndef RNN_KERNELS_BLAS_CORE_H
#define RNN_KERNELS_BLAS_CORE_H

/* OpenBLAS's entry points that librnn calls, from the library it loads on first use
 * (blas_core.c says why it is not linked). */
typedef struct {
    void (*sgemm)(int order, int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
    int (*get_num_threads)(void);
    void (*set_num_threads)(int threads);
    char *(*get_config)(void);
    char *(*get_corename)(void);
    void (*dynamic_init)(void); /* DYNAMIC_ARCH builds only, else NULL */
    void (*dynamic_quit)(void);
} rnn_openblas;

/* OpenBLAS, loaded by the first call (thread-safe; later calls are one load). NULL in a build
 * without OpenBLAS or when it cannot be loaded (rnn__openblas_error says why). */
const rnn_openblas *rnn__openblas(void);
/* OpenBLAS if librnn has loaded it already, else NULL; never loads it. */
const rnn_openblas *rnn__openblas_loaded(void);
/* Why OpenBLAS could not be loaded (loads it to find out), or NULL. */
const char *rnn__openblas_error(void);

/* Tests only, before the first load: the file name to load OpenBLAS by (a missing one checks
 * the path where it cannot be loaded). */
void rnn__openblas_set_soname(const char *name);

/* The rnn tool's rnn_blas_upgrade_kernels: the same switch, made when librnn loads OpenBLAS
 * (where no product can be running) rather than now, so that a process that never needs
 * OpenBLAS does not load it. For a program that owns the process, called before any thread of
 * its own exists: the switch sets OPENBLAS_CORETYPE for a moment. */
void rnn__blas_upgrade_on_load(void);

/* The OpenBLAS core in use ("SkylakeX", "Haswell", ...), or NULL with another BLAS or none. */
const char *rnn__blas_core(void);

/* The core OpenBLAS had picked by itself ("Prescott") when rnn_blas_upgrade_kernels chose
 * another, else NULL. */
const char *rnn__blas_core_fallback(void);

/* The core rnn_blas_upgrade_kernels would choose while OpenBLAS is still on its fallback, else
 * NULL. */
const char *rnn__blas_core_better(void);

#endif
