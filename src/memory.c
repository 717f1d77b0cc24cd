#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "memory.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

static atomic_uint_fast64_t allocation_count;

void *rnn__alloc(size_t bytes) {
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    void *p = aligned_alloc(64, rounded);
    if (p) atomic_fetch_add(&allocation_count, 1);
    return p;
}

void *rnn__calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = rnn__alloc(count * size);
    if (p) memset(p, 0, count * size > 0 ? count * size : 1);
    return p;
}

void rnn__free(void *p) { free(p); }

/* From this size on a block is mapped on its own: at most one page (4 KiB) of it is padding. */
#define ZEROED_MAP_MIN ((size_t)64 << 10)

#if defined(MAP_ANONYMOUS)
void *rnn__alloc_zeroed(size_t bytes) {
    if (bytes < ZEROED_MAP_MIN) return rnn__calloc(bytes, 1);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    atomic_fetch_add(&allocation_count, 1);
    return p;
}

void rnn__free_zeroed(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < ZEROED_MAP_MIN) rnn__free(p);
    else munmap(p, bytes);
}
#else
void *rnn__alloc_zeroed(size_t bytes) { return rnn__calloc(bytes, 1); }
void rnn__free_zeroed(void *p, size_t bytes) { (void)bytes; rnn__free(p); }
#endif

uint64_t rnn__allocation_count(void) { return atomic_load(&allocation_count); }

int rnn__mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a != 0 && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

void rnn__ws_begin(rnn_workspace *ws) { ws->n = 0; }

void rnn__ws_want(rnn_workspace *ws, float **slot, int64_t count) {
    if (ws->n >= RNN_WORKSPACE_MAX) { ws->n = RNN_WORKSPACE_MAX + 1; return; }
    ws->slot[ws->n] = slot;
    ws->count[ws->n] = count;
    ws->n++;
}

int rnn__ws_commit(rnn_workspace *ws) {
    if (ws->n > RNN_WORKSPACE_MAX) return -1;
    /* Each buffer starts on a 64-byte boundary (16 floats) so SIMD loops see aligned rows. */
    size_t total = 0;
    for (int i = 0; i < ws->n; i++) {
        if (ws->count[i] < 0) return -1;
        size_t c = ((size_t)ws->count[i] + 15) & ~(size_t)15;
        if (c < (size_t)ws->count[i] || total > SIZE_MAX / sizeof(float) - c) return -1;
        total += c;
    }
    if (total > ws->capacity) {
        float *block = rnn__alloc(total * sizeof(float));
        if (!block) return -1;
        rnn__free(ws->block);
        ws->block = block;
        ws->capacity = total;
    }
    size_t off = 0;
    for (int i = 0; i < ws->n; i++) {
        *ws->slot[i] = ws->count[i] ? ws->block + off : NULL;
        off += ((size_t)ws->count[i] + 15) & ~(size_t)15;
    }
    return 0;
}

void rnn__ws_free(rnn_workspace *ws) {
    rnn__free(ws->block);
    ws->block = NULL;
    ws->capacity = 0;
    ws->n = 0;
}
