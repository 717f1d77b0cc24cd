/* The model-file commands of the rnn tool. Uses only the public header. */
#include "model_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnn.h"

static rnn_model *load_or_report(const char *path) {
    rnn_model *m = rnn_load(path);
    if (!m) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    return m;
}

int summary_main(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: rnn summary MODEL(.keras|.h5)\n");
        return argc == 2 ? 0 : 2;
    }
    rnn_model *m = load_or_report(argv[1]);
    if (!m) return 1;
    int rc = rnn_summary(m, stdout) ? 1 : 0;
    if (rc) fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    rnn_model_free(m);
    return rc;
}

int predict_main(int argc, char **argv) {
    const char *model = NULL, *in = NULL, *out = NULL;
    int batch = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) in = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1 << 30) {
                fprintf(stderr, "rnn predict: --batch-size needs a positive integer\n");
                return 2;
            }
            batch = (int)v;
        } else if (!strcmp(argv[i], "--help")) {
            printf("usage: rnn predict MODEL --input x.npy --output y.npy [--batch-size N]\n");
            return 0;
        } else if (argv[i][0] != '-' && !model) model = argv[i];
        else {
            fprintf(stderr, "rnn predict: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!model || !in || !out) {
        fprintf(stderr, "usage: rnn predict MODEL --input x.npy --output y.npy [--batch-size N]\n");
        return 2;
    }
    rnn_model *m = load_or_report(model);
    if (!m) return 1;
    rnn_tensor x = {0}, y = {0};
    int rc = 1;
    if (rnn_npy_load(in, &x)) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else if (rnn_predict(m, x, batch, &y)) fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    else if (rnn_npy_save(out, &y)) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else rc = 0;
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    rnn_model_free(m);
    return rc;
}

int convert_main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: rnn convert IN(.keras|.h5) OUT(.keras|.h5)\n");
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    rnn_model *m = load_or_report(argv[1]);
    if (!m) return 1;
    int rc = 0;
    if (rnn_save(m, argv[2])) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
        rc = 1;
    }
    rnn_model_free(m);
    return rc;
}
