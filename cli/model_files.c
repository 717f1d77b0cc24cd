/* The model-file commands of the rnn tool. Uses only the public header. */
#include "model_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "rnn.h"

static rnn_model *load_or_report(const char *path) {
    rnn_model *m = rnn_load(path);
    if (!m) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    return m;
}

/* A positive integer option value; prints the error and returns -1 otherwise. */
static long positive_int(const char *cmd, const char *opt, const char *text) {
    long v;
    if (cli_parse_int(text, 1, 1L << 30, &v)) {
        fprintf(stderr, "rnn %s: %s needs a positive integer, got \"%s\"\n", cmd, opt, text);
        return -1;
    }
    return v;
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

int predict_parse(int argc, char **argv, predict_args *a) {
    a->model = a->in = a->out = NULL;
    a->batch = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) a->in = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) a->out = argv[++i];
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc) {
            long v = positive_int("predict", "--batch-size", argv[++i]);
            if (v < 0) return 2;
            a->batch = (int)v;
        } else if (!strcmp(argv[i], "--help")) {
            printf("usage: rnn predict MODEL --input x.npy --output y.npy [--batch-size N]\n");
            return 0;
        } else if (argv[i][0] != '-' && !a->model) a->model = argv[i];
        else {
            fprintf(stderr, "rnn predict: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!a->model || !a->in || !a->out) {
        fprintf(stderr, "usage: rnn predict MODEL --input x.npy --output y.npy [--batch-size N]\n");
        return 2;
    }
    return -1;
}

int predict_main(int argc, char **argv) {
    predict_args a;
    int parsed = predict_parse(argc, argv, &a);
    if (parsed >= 0) return parsed;
    const char *model = a.model, *in = a.in, *out = a.out;
    int batch = a.batch;
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

#define FIT_USAGE                                                                             \
    "usage: rnn fit MODEL --x X.npy --y Y.npy --output OUT(.keras|.h5) [--epochs N]\n"         \
    "               [--batch-size N] [--validation-split F] [--no-shuffle] [--verbose 0|1|2]\n" \
    "Continues training a compiled Keras model (its loss and optimizer come from the file)\n"

int fit_parse(int argc, char **argv, fit_args *p) {
    p->model = p->x = p->y = p->out = NULL;
    p->fo = rnn_fit_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        if (!strcmp(a, "--x") && i + 1 < argc) p->x = argv[++i];
        else if (!strcmp(a, "--y") && i + 1 < argc) p->y = argv[++i];
        else if (!strcmp(a, "--output") && i + 1 < argc) p->out = argv[++i];
        else if (!strcmp(a, "--no-shuffle")) p->fo.shuffle = 0;
        else if ((!strcmp(a, "--epochs") || !strcmp(a, "--batch-size")) && i + 1 < argc) {
            if ((v = positive_int("fit", a, argv[++i])) < 0) return 2;
            if (!strcmp(a, "--epochs")) p->fo.epochs = (int)v;
            else p->fo.batch_size = (int)v;
        } else if (!strcmp(a, "--verbose") && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "0") && strcmp(t, "1") && strcmp(t, "2")) {
                fprintf(stderr, "rnn fit: --verbose takes 0, 1 or 2\n");
                return 2;
            }
            p->fo.verbose = t[0] - '0';
        } else if (!strcmp(a, "--validation-split") && i + 1 < argc) {
            double f;
            if (cli_parse_fraction(argv[++i], 0.0, 1.0, &f)) {
                fprintf(stderr, "rnn fit: --validation-split takes a fraction in [0, 1)\n");
                return 2;
            }
            p->fo.validation_split = (float)f;
        } else if (!strcmp(a, "--help")) {
            printf(FIT_USAGE);
            return 0;
        } else if (a[0] != '-' && !p->model) p->model = a;
        else {
            fprintf(stderr, "rnn fit: unexpected argument %s\n%s", a, FIT_USAGE);
            return 2;
        }
    }
    if (!p->model || !p->x || !p->y || !p->out) {
        fprintf(stderr, FIT_USAGE);
        return 2;
    }
    return -1;
}

int fit_main(int argc, char **argv) {
    fit_args p;
    int parsed = fit_parse(argc, argv, &p);
    if (parsed >= 0) return parsed;
    const char *model = p.model, *xp = p.x, *yp = p.y, *out = p.out;
    rnn_fit_options fo = p.fo;
    rnn_model *m = load_or_report(model);
    if (!m) return 1;
    rnn_tensor x = {0}, y = {0};
    int rc = 1;
    if (rnn_npy_load(xp, &x) || rnn_npy_load(yp, &y))
        fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else if (rnn_fit(m, x, y, &fo, NULL))
        fprintf(stderr, "rnn: %s%s\n", rnn_model_error(m),
                strstr(rnn_model_error(m), "compile") ? " (the file has no compile information "
                "librnn can use; compile the model in Keras before saving it)" : "");
    else if (rnn_save(m, out))
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    else
        rc = 0;
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    rnn_model_free(m);
    return rc;
}
