/* What a model that only predicts keeps resident (issue 18: rnn bench B5's peak memory). Its
 * gradients are allocated as untouched zero pages (rnn__alloc_zeroed) and its optimizer slots not
 * at all until the first training step: after compile and a run of rnn_predict_step, no page of
 * a large layer's gradient block is resident (mincore) and no slot exists; after one
 * rnn_train_on_batch, the gradient pages are resident and Adam's two slots exist. The training
 * from those lazily backed zeros gives the bits of gradients allocated zeroed in advance:
 * tests/test_optimizer_slots and every training test run through this path. */
#define _DEFAULT_SOURCE /* mincore */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "layers/layer.h"
#include "memory.h"
#include "model.h"
#include "rnn.h"

/* Resident pages of [p, p + bytes), whole pages inside the range only. */
static long resident_pages(const void *p, size_t bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(uintptr_t)(page - 1);
    if (hi <= lo) return 0;
    size_t n = (hi - lo) / page;
    unsigned char *vec = malloc(n);
    if (!vec || mincore((void *)lo, hi - lo, vec) != 0) {
        free(vec);
        return -1;
    }
    long r = 0;
    for (size_t i = 0; i < n; i++) r += vec[i] & 1;
    free(vec);
    return r;
}

int main(void) {
    enum { F = 8, H = 128 };
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, 5);
    rnn_batch_input(m, 1, 1, F);
    rnn_recurrent_options o = rnn_lstm_defaults(H);
    o.stateful = 1;
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_optimizer adam = rnn_adam_defaults();
    CHECK(rnn_compile_with(m, "mse", &adam) == RNN_OK, "compile: %s", rnn_model_error(m));
    float x[F], y = 0;
    for (int s = 0; s < 50; s++) {
        for (int i = 0; i < F; i++) x[i] = (float)((s * 7 + i * 3) % 11 - 5) / 5.0f;
        CHECK(rnn_predict_step(m, x, &y) == RNN_OK, "step: %s", rnn_model_error(m));
    }
    rnn_layer *lstm = rnn_get_layer(m, 0);
    CHECK(lstm && lstm->grad_block && lstm->grad_bytes >= ((size_t)64 << 10),
          "the LSTM's gradient block (%zu bytes) is not a large one", lstm ? lstm->grad_bytes : 0);
    if (!lstm || !lstm->grad_block) return check_report("test_predict_memory");
    long before = resident_pages(lstm->grad_block, lstm->grad_bytes);
    CHECK(before == 0, "after compile and predict_step: %ld resident gradient pages", before);
    for (int k = 0; k < 3; k++)
        CHECK(m->opt_slot[k] == NULL, "after compile and predict_step: optimizer slot %d held", k);
    /* one training step writes the gradients: their pages are then resident */
    CHECK(rnn_reset_states(m) == RNN_OK, "reset: %s", rnn_model_error(m));
    float yt = 0.5f;
    double loss = 0;
    CHECK(rnn_train_on_batch(m, rnn_data_xy(rnn_tensor3(x, 1, 1, F), rnn_tensor2(&yt, 1, 1)),
                             &loss) == RNN_OK, "train: %s", rnn_model_error(m));
    long after = resident_pages(lstm->grad_block, lstm->grad_bytes);
    CHECK(after > 0, "after a training step: no resident gradient page (%ld)", after);
    CHECK(m->opt_slot[0] && m->opt_slot[1] && !m->opt_slot[2],
          "Adam after a step: slots m and v, no v_hat");
    float g = 0;
    for (int64_t i = 0; i < (int64_t)(lstm->grad_bytes / sizeof(float)); i++)
        g += lstm->grad_block[i] * lstm->grad_block[i];
    CHECK(g > 0, "the gradients of the training step are all zero");
    rnn_model_free(m);

    /* the allocator itself: zeros, 64-byte aligned, small and large */
    size_t sizes[] = {0, 100, ((size_t)64 << 10) - 4, (size_t)64 << 10, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = rnn__alloc_zeroed(sizes[i]);
        CHECK(p != NULL && ((uintptr_t)p & 63) == 0, "rnn__alloc_zeroed(%zu): %p", sizes[i],
              (void *)p);
        size_t nz = 0;
        for (size_t k = 0; p && k < sizes[i]; k++) nz += p[k] != 0;
        CHECK(nz == 0, "rnn__alloc_zeroed(%zu): %zu bytes not zero", sizes[i], nz);
        if (p && sizes[i]) memset(p, 1, sizes[i]);
        rnn__free_zeroed(p, sizes[i]);
    }
    return check_report("test_predict_memory");
}
