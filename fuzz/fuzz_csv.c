/* libFuzzer harness: CSV files through rnn_csv_load_column. The first byte picks how the column
 * is named (by header name, or by index), the rest is the file. */
#define _GNU_SOURCE
#include "fuzz_input.h"
#include "rnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[64];
    int fd = fuzz_memfile(data + 1, size - 1, path, sizeof path);
    if (fd < 0) return 0;
    static const char *names[] = {"Passengers", "value", "Temp", "a", ""};
    int pick = data[0] % 8;
    const char *name = pick < 5 ? names[pick] : NULL;
    int index = pick < 5 ? -1 : pick - 5;
    float *values = NULL;
    int64_t n = 0;
    if (rnn_csv_load_column(path, name, index, &values, &n) == RNN_OK) {
        volatile float sink = n > 0 ? values[0] + values[n - 1] : 0;
        (void)sink;
    }
    free(values);
    close(fd);
    return 0;
}
