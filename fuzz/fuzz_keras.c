/* libFuzzer harness: .keras (Keras 3 zip: config.json, metadata.json, model.weights.h5) model files,
 * through rnn__keras_load_in_process: the work rnn_load does, in this process rather than in
 * rnn_load's child (src/io/untrusted_parse.c), so that the sanitizers and libFuzzer see librnn's
 * own code. libhdf5 is not instrumented; its crashes on hostile files are what the child process
 * contains: scripts/fuzz.sh runs this harness with -fork=1 -ignore_crashes=1, and each crashing
 * input found becomes a file under tests/fixtures/regress/ that rnn_load must refuse. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "io/keras_io.h"
#include "rnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    rnn_keras_recipe r = {0};
    rnn_model *m = rnn__keras_load_in_process(path, &r);
    rnn__keras_recipe_free(&r);
    rnn_model_free(m);
    close(fd);
    return 0;
}
