/* libFuzzer harness: the model config JSON (a .keras file's config.json, a legacy .h5 file's
 * model_config) through rnn__keras_model_from_json, the compile information through
 * rnn__keras_apply_compile, and a model that was built back out through the config writers
 * (rnn_save's path). The Keras generation the config claims to come from is picked by the
 * input's length, so that Keras 1, 2 and 3 defaults are all reached. */
#include <cJSON.h>
#include <stdlib.h>

#include "io/keras_io.h"
#include "rnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (!json) return 0;
    static const char *versions[] = {"1.2.2", "2.3.1", "3.3.3"};
    rnn_keras_origin o;
    rnn__keras_origin_set(&o, versions[size % 3]);
    /* As the loaders build it: bounded by what a file's weights could hold (here 4 MB of
     * weights), and without initialisers, whose cost on hostile sizes is not a bug. */
    rnn_model *m = rnn__keras_model_from_json_bounded(json, &o, 0, (int64_t)1 << 20);
    if (m) {
        rnn__keras_apply_compile(m, cJSON_GetObjectItemCaseSensitive(json, "compile_config"), 0);
        rnn__keras_apply_compile(m, cJSON_GetObjectItemCaseSensitive(json, "training_config"), 1);
        free(rnn__keras_config_json(m));
        free(rnn__keras_legacy_config_json(m));
        free(rnn__keras_legacy_training_json(m));
        rnn_model_free(m);
    }
    cJSON_Delete(json);
    return 0;
}
