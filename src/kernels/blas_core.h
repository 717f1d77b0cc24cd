/* Which OpenBLAS kernels run the products (blas_core.c; rnn_blas_upgrade_kernels moves
 * OpenBLAS off its SSE3 fallback on CPUs newer than the OpenBLAS release when asked). */
#ifndef RNN_KERNELS_BLAS_CORE_H
#define RNN_KERNELS_BLAS_CORE_H

/* The OpenBLAS core in use ("SkylakeX", "Haswell", ...), or NULL with another BLAS or none. */
const char *rnn__blas_core(void);

/* The core OpenBLAS had picked by itself ("Prescott") when rnn_blas_upgrade_kernels chose
 * another, else NULL. */
const char *rnn__blas_core_fallback(void);

/* The core rnn_blas_upgrade_kernels would choose while OpenBLAS is still on its fallback, else
 * NULL. */
const char *rnn__blas_core_better(void);

#endif
