/* Which OpenBLAS kernels run the products (blas_core.c: librnn moves OpenBLAS off its SSE3
 * fallback on CPUs newer than the OpenBLAS release). */
#ifndef RNN_KERNELS_BLAS_CORE_H
#define RNN_KERNELS_BLAS_CORE_H

/* The OpenBLAS core in use ("SkylakeX", "Haswell", ...), or NULL with another BLAS or none. */
const char *rnn__blas_core(void);

/* The core OpenBLAS had picked by itself ("Prescott") when librnn chose another at load, else
 * NULL. */
const char *rnn__blas_core_fallback(void);

#endif
