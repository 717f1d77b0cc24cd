/* Allocation for the library: 64-byte aligned blocks, overflow-checked sizes, and a counter the
 * tests read to prove that a hot path (rnn_predict_step after its first call) does not allocate. */
#ifndef RNN_MEMORY_H
#define RNN_MEMORY_H

#include <stddef.h>
#include <stdint.h>

void *rnn__alloc(size_t bytes);          /* aligned, uninitialised; NULL on failure */
void *rnn__calloc(size_t count, size_t size); /* aligned, zeroed; NULL on overflow/failure */
void rnn__free(void *p);
/* Zeroed, 64-byte aligned memory that takes no resident memory until it is written: a large
 * block comes straight from the system's fresh pages (mmap), which read as zero and are backed
 * page by page when first written; a small one from rnn__calloc. For the arrays a model may never
 * write (the gradients of a model that only predicts). Free with rnn__free_zeroed and the same
 * byte count. */
void *rnn__alloc_zeroed(size_t bytes);
void rnn__free_zeroed(void *p, size_t bytes);
/* Number of successful rnn__alloc/rnn__calloc calls since the process started. */
uint64_t rnn__allocation_count(void);

/* a*b without overflow into *out; returns 0 on overflow or a negative factor. */
int rnn__mul_ok(int64_t a, int64_t b, int64_t *out);

/* A layer's work buffers: a table of (pointer, float count) filled in by the layer, laid out in
 * one block that only grows. Planned once per input shape; reused while the shape fits. */
#define RNN_WORKSPACE_MAX 24
typedef struct {
    float **slot[RNN_WORKSPACE_MAX];
    int64_t count[RNN_WORKSPACE_MAX];
    int n;
    float *block;
    size_t capacity; /* floats */
} rnn_workspace;

void rnn__ws_begin(rnn_workspace *ws);
void rnn__ws_want(rnn_workspace *ws, float **slot, int64_t count);
/* Allocates (if the block is too small) and assigns every slot. 0 on success, -1 on failure. */
int rnn__ws_commit(rnn_workspace *ws);
void rnn__ws_free(rnn_workspace *ws);

#endif
