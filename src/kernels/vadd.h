/* o[i] += d[i] for i < n, four lanes at a time: the same additions, in the same order per
 * element, as the plain loop, which GCC leaves scalar at -O2 (B6's training step spent about 5 %
 * of its time in such loops: the recurrent backward's per-step output gradients, a RepeatVector
 * decoder's sum over steps, RepeatVector's backward; issue 18). */
#ifndef RNN_VADD_H
#define RNN_VADD_H

#include <stddef.h>
#include <string.h>

typedef float rnn__add_v4 __attribute__((vector_size(16)));

static inline void rnn__add_into(float *restrict o, const float *restrict d, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        rnn__add_v4 a, b;
        memcpy(&a, o + i, sizeof a);
        memcpy(&b, d + i, sizeof b);
        a += b;
        memcpy(o + i, &a, sizeof a);
    }
    for (; i < n; i++) o[i] += d[i];
}

#endif
