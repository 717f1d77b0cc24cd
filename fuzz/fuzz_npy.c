/* libFuzzer harness: NumPy .npy files, through rnn_npy_load (read into memory) and
 * rnn_npy_map_open (memory-mapped view), the two entry points for outside .npy files. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "rnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    rnn_tensor t = {0};
    if (rnn_npy_load(path, &t) == RNN_OK) rnn_tensor_free(&t);
    rnn_tensor view = {0};
    rnn_npy_map *map = NULL;
    if (rnn_npy_map_open(path, &view, &map) == RNN_OK) {
        /* Touch the first and last value: the mapping must cover what the header claims. */
        int64_t n = 1;
        for (int i = 0; i < view.rank; i++) n *= view.shape[i];
        volatile float sink = 0;
        if (n > 0) sink = view.data[0] + view.data[n - 1];
        (void)sink;
        rnn_npy_map_close(map);
    }
    close(fd);
    return 0;
}
