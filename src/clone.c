/* clone_model: the model's Keras config, changed where the options ask (batch size, stateful),
 * built again by the config reader; the weights copied or drawn fresh. Going through the config
 * keeps one description of every layer's options (keras_layers.c's table) rather than a
 * second copy routine per layer kind. */
#include <string.h>

#include "model.h"

rnn_clone_options rnn_clone_defaults(void) {
    rnn_clone_options o;
    memset(&o, 0, sizeof o);
    o.stateful = -1;
    return o;
}

#ifdef RNN_WITH_KERAS_IO
#include <stdlib.h>

#include "io/keras_io.h"

/* Every InputLayer's batch_shape[0] and every "stateful" in the config, at any depth (nested
 * models, Bidirectional's and TimeDistributed's inner layers). */
static void adjust(cJSON *j, const rnn_clone_options *o) {
    if (!j) return;
    if (cJSON_IsObject(j)) {
        cJSON *bs = cJSON_GetObjectItemCaseSensitive(j, "batch_shape");
        if (o->batch_size && cJSON_IsArray(bs) && cJSON_GetArraySize(bs) > 0)
            cJSON_ReplaceItemInArray(bs, 0, o->batch_size > 0
                                                ? cJSON_CreateNumber((double)o->batch_size)
                                                : cJSON_CreateNull());
        cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stateful");
        if (o->stateful >= 0 && cJSON_IsBool(st))
            cJSON_ReplaceItemInObjectCaseSensitive(j, "stateful", cJSON_CreateBool(o->stateful));
    }
    cJSON *child;
    cJSON_ArrayForEach(child, j) adjust(child, o);
}

rnn_model *rnn_clone_model(rnn_model *m, const rnn_clone_options *options) {
    if (!m) {
        rnn__fail(RNN_ERR_ARGUMENT, "rnn_clone_model: model is NULL");
        return NULL;
    }
    rnn_clone_options o = options ? *options : rnn_clone_defaults();
    if (o.batch_size < RNN_NONE || (o.stateful < -1 || o.stateful > 1)) {
        rnn__model_fail(m, rnn__fail(RNN_ERR_ARGUMENT, "rnn_clone_model: batch_size must be 0, "
                                     "RNN_NONE or > 0 and stateful -1, 0 or 1"));
        return NULL;
    }
    if (o.copy_weights && rnn__model_build(m)) return NULL;
    char *text = rnn__keras_config_json_ex(m, 0);
    if (!text) {
        rnn__model_fail(m, rnn_last_status() ? rnn_last_status() : RNN_ERR_UNSUPPORTED);
        return NULL;
    }
    cJSON *json = cJSON_Parse(text);
    free(text);
    if (!json) {
        rnn__model_fail(m, rnn__fail(RNN_ERR_MEMORY, "rnn_clone_model: out of memory"));
        return NULL;
    }
    adjust(cJSON_GetObjectItemCaseSensitive(json, "config"), &o);
    rnn_keras_origin origin = {3, "3.15.1"};
    rnn_model *c = rnn__keras_model_from_json_init(json, &origin, 0);
    cJSON_Delete(json);
    if (!c) {
        rnn__model_fail(m, rnn_last_status() ? rnn_last_status() : RNN_ERR_FORMAT);
        return NULL;
    }
    /* built with zero weights: rnn_set_seed draws them as a model built with that seed would */
    rnn_status st = o.copy_weights ? rnn_copy_weights(c, m) : rnn_set_seed(c, o.seed);
    if (st) {
        rnn__fail(st, "rnn_clone_model: %s", rnn_model_error(c));
        rnn_model_free(c);
        return NULL;
    }
    rnn__clear_error();
    return c;
}

#else

rnn_model *rnn_clone_model(rnn_model *m, const rnn_clone_options *options) {
    (void)options;
    rnn__fail(RNN_ERR_UNSUPPORTED, "rnn_clone_model: this librnn was built without the Keras "
              "config code (KERAS_IO=none)");
    if (m) rnn__model_fail(m, RNN_ERR_UNSUPPORTED);
    return NULL;
}

#endif
