/* Keras's trainable flag: a frozen layer's weights take no part in training. The flag lives on
 * the layer (rnn_set_trainable); before a training step and before the optimizer's variables
 * are listed for a file, the model copies it onto each weight (one walk, so a layer nested at
 * any depth is covered). */
#include "model.h"

static int set_frozen(rnn_layer *L, void *ctx) {
    L->frozen = *(const int *)ctx;
    return 0;
}

rnn_status rnn_set_trainable(rnn_layer *layer, int trainable) {
    if (!layer) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_set_trainable: layer is NULL");
    int frozen = !trainable;
    rnn__layer_walk(layer, set_frozen, &frozen);
    return RNN_OK;
}

int rnn_layer_trainable(const rnn_layer *layer) { return layer ? !layer->frozen : -1; }

typedef struct {
    int64_t trainable, frozen;
} param_split;

static int sync_one(rnn_layer *L, void *ctx) {
    param_split *p = ctx;
    for (int k = 0; k < L->n_weights; k++) {
        L->weights[k].frozen = L->frozen;
        if (L->frozen) p->frozen += L->weights[k].size;
        else p->trainable += L->weights[k].size;
    }
    return 0;
}

int64_t rnn__model_sync_frozen(rnn_model *m, int64_t *frozen_params) {
    param_split p = {0, 0};
    rnn__model_walk(m, sync_one, &p);
    if (frozen_params) *frozen_params = p.frozen;
    return p.trainable;
}
