/* A batch source over arrays: consecutive row blocks as views, no copies. With memory-mapped
 * arrays (rnn_npy_map_open) this feeds fit from data larger than memory. */
#include <string.h>

#include "error.h"

/* Part `part` of `parts` of batch `index` (the whole batch: 0 of 1). */
static rnn_status array_get_part(void *user, int64_t index, int part, int parts, rnn_tensor *x,
                                 rnn_tensor *y) {
    const rnn_array_source_state *s = user;
    const int64_t n = s->x.shape[0];
    int64_t start = index * s->batch_size;
    if (index < 0 || start >= n || parts < 1 || part < 0 || part >= parts)
        return rnn__fail(RNN_ERR_ARGUMENT, "batch %lld (part %d of %d) is out of range",
                         (long long)index, part, parts);
    const int64_t rows = n - start < s->batch_size ? n - start : s->batch_size;
    /* the balanced split of rnn_batch_source.get_part */
    const int64_t lo = rows * part / parts, count = rows * (part + 1) / parts - lo;
    start += lo;
    x[0] = s->x;
    x[0].owned = 0; /* a view into the caller's array, even when that array is owned */
    x[0].shape[0] = count;
    x[0].data = s->x.data + start * (rnn_tensor_size(&s->x) / n);
    if (s->y.data) {
        y[0] = s->y;
        y[0].owned = 0;
        y[0].shape[0] = count;
        y[0].data = s->y.data + start * (rnn_tensor_size(&s->y) / n);
    }
    return RNN_OK;
}

static rnn_status array_get(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y) {
    return array_get_part(user, index, 0, 1, x, y);
}

rnn_status rnn_array_source(rnn_batch_source *source, rnn_array_source_state *state,
                            rnn_tensor x, rnn_tensor y, int64_t batch_size) {
    if (!source || !state || !x.data || x.rank < 1 || x.shape[0] <= 0 || batch_size <= 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_array_source: needs x with samples and a positive "
                         "batch size");
    if (rnn_tensor_size(&x) <= 0 || (y.data && (y.rank < 1 || y.shape[0] != x.shape[0] ||
                                                rnn_tensor_size(&y) <= 0)))
        return rnn__fail(RNN_ERR_SHAPE, "rnn_array_source: x and y must have the same number of "
                         "samples");
    state->x = x;
    state->y = y;
    state->batch_size = batch_size;
    memset(source, 0, sizeof *source);
    source->batches = (x.shape[0] + batch_size - 1) / batch_size;
    source->get = array_get;
    source->get_part = array_get_part;
    source->user = state;
    return RNN_OK;
}
