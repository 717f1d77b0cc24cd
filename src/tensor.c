/* rnn_tensor: a C-order float32 array, a borrowed view or owned by the caller (owned). */
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "rnn.h"

rnn_tensor rnn_tensor1(float *data, int64_t n) {
    rnn_tensor t = {data, 1, {n, 0, 0, 0}, 0};
    return t;
}

rnn_tensor rnn_tensor2(float *data, int64_t n, int64_t features) {
    rnn_tensor t = {data, 2, {n, features, 0, 0}, 0};
    return t;
}

rnn_tensor rnn_tensor3(float *data, int64_t n, int64_t steps, int64_t features) {
    rnn_tensor t = {data, 3, {n, steps, features, 0}, 0};
    return t;
}

int64_t rnn_tensor_size(const rnn_tensor *t) {
    if (!t || t->rank < 1 || t->rank > RNN_MAX_RANK) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        if (!rnn__mul_ok(n, t->shape[i], &n)) return 0;
    return n;
}

void rnn_tensor_free(rnn_tensor *t) {
    if (!t) return;
    /* A view's memory belongs to whoever made the view: freeing it would abort in free() for
     * a stack buffer or pull memory from under the caller. */
    if (t->owned) free(t->data);
    memset(t, 0, sizeof *t);
}
