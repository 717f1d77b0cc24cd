/* `rnn export` (a model as dependency-free C) and `rnn quantize-report` (what bf16 and int8
 * weights cost in accuracy). */
#include "export.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnn.h"

#define EXPORT_USAGE                                                                           \
    "usage: rnn export MODEL --c DIR [--name NAME] [--precision f32|bf16|int8]\n"              \
    "Writes DIR/NAME.h and DIR/NAME.c: the model as plain C99 (no heap, only <math.h>, no\n"    \
    "librnn) with NAME_predict(x, steps, y) and, for models that can stream, NAME_reset and\n"  \
    "NAME_step. NAME defaults to the model file's name (as a C identifier); precision f32.\n"

/* The file name without directory and extension, as a C identifier. */
static void default_name(const char *path, char *out, size_t size) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = 0;
    if (!isalpha((unsigned char)*b) && *b != '_' && n + 1 < size) out[n++] = 'm';
    for (; *b && *b != '.' && n + 1 < size && n < 40; b++)
        out[n++] = isalnum((unsigned char)*b) ? *b : '_';
    out[n] = 0;
    if (!n) snprintf(out, size, "model");
}

int export_main(int argc, char **argv) {
    const char *model = NULL, *dir = NULL, *name = NULL, *prec_text = "f32";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            fputs(EXPORT_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--c") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(a, "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(a, "--precision") && i + 1 < argc) prec_text = argv[++i];
        else if (a[0] != '-' && !model) model = a;
        else {
            fprintf(stderr, "rnn export: unexpected argument '%s'\n" EXPORT_USAGE, a);
            return 2;
        }
    }
    int prec = rnn_precision_from_name(prec_text);
    if (!model || !dir || prec < 0) {
        if (prec < 0) fprintf(stderr, "rnn export: unknown precision '%s'\n", prec_text);
        fputs(EXPORT_USAGE, stderr);
        return 2;
    }
    char nbuf[64];
    if (!name) {
        default_name(model, nbuf, sizeof nbuf);
        name = nbuf;
    }
    rnn_model *m = rnn_load(model);
    if (!m) {
        fprintf(stderr, "rnn: %s\n", rnn_last_error());
        return 1;
    }
    int rc = 0;
    if (rnn_export_c(m, dir, name, (rnn_precision)prec)) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
        rc = 1;
    } else {
        printf("wrote %s/%s.h and %s/%s.c (%s)\n", dir, name, dir, name, prec_text);
    }
    rnn_model_free(m);
    return rc;
}

#define QR_USAGE                                                                               \
    "usage: rnn quantize-report MODEL --input x.npy [--target y.npy] [--batch-size N]\n"       \
    "For each precision (f32, bf16, int8: the weights rnn export writes), the max and mean\n"  \
    "absolute difference of the predictions from float32's on x, the largest |prediction|,\n" \
    "and with --target the model's compiled loss on (x, y). Then bf16-run and int8-run:\n"   \
    "rnn_predict itself in that precision (rnn_set_precision: reduced-precision products),\n" \
    "its difference from float32's predictions and (last column) from the rounded weights'.\n"

int quantize_report_main(int argc, char **argv) {
    const char *model = NULL, *xin = NULL, *yin = NULL;
    int batch = 32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            fputs(QR_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--input") && i + 1 < argc) xin = argv[++i];
        else if (!strcmp(a, "--target") && i + 1 < argc) yin = argv[++i];
        else if (!strcmp(a, "--batch-size") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (a[0] != '-' && !model) model = a;
        else {
            fprintf(stderr, "rnn quantize-report: unexpected argument '%s'\n" QR_USAGE, a);
            return 2;
        }
    }
    if (!model || !xin || batch <= 0) {
        fputs(QR_USAGE, stderr);
        return 2;
    }
    rnn_tensor x = {0}, y = {0}, ref = {0};
    rnn_model *m = NULL;
    int rc = 1;
    if (rnn_npy_load(xin, &x) || (yin && rnn_npy_load(yin, &y))) {
        fprintf(stderr, "rnn: %s\n", rnn_last_error());
        goto out;
    }
    printf("%-7s %14s %14s %14s%s\n", "weights", "max |diff|", "mean |diff|", "max |y|",
           yin ? "           loss" : "");
    static const char *const names[5] = {"f32", "bf16", "int8", "bf16-run", "int8-run"};
    rnn_tensor rounded[3] = {{0}};
    for (int p = 0; p < 5; p++) {
        m = rnn_load(model);
        rnn_tensor out = {0};
        const rnn_precision prec = (rnn_precision)(p < 3 ? p : p - 2);
        if (!m || (p < 3 ? rnn_quantize_weights(m, prec) : rnn_set_precision(m, prec)) ||
            rnn_predict(m, rnn_data_x(x), batch, &out, 1)) {
            fprintf(stderr, "rnn: %s\n", m ? rnn_model_error(m) : rnn_last_error());
            goto out;
        }
        if (p == 0) ref = out;
        double mx = 0, sum = 0, ymax = 0;
        int64_t n = rnn_tensor_size(&out);
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)out.data[i] - ref.data[i]);
            mx = d > mx ? d : mx;
            sum += d;
            ymax = fabs(out.data[i]) > ymax ? fabs(out.data[i]) : ymax;
        }
        printf("%-8s %13.4g %14.4g %14.4g", names[p], mx, n ? sum / (double)n : 0.0, ymax);
        if (p >= 3) { /* the loss is the rounded weights' (rnn_evaluate runs float32) */
            double dr = 0;
            for (int64_t i = 0; i < n; i++) {
                const double d = fabs((double)out.data[i] - rounded[p - 2].data[i]);
                dr = d > dr ? d : dr;
            }
            printf("%s %14.4g  (vs %s weights)", yin ? "                " : "", dr, names[p - 2]);
        } else if (yin) {
            double loss;
            if (rnn_evaluate(m, rnn_data_xy(x, y), batch, &loss, NULL) == RNN_OK)
                printf(" %14.4g", loss);
            else
                printf(" %14s", "(no loss)");
        }
        printf("\n");
        if (p && p < 3) rounded[p] = out;
        else if (p) rnn_tensor_free(&out);
        rnn_model_free(m);
        m = NULL;
    }
    rc = 0;
out:
    rnn_model_free(m);
    rnn_tensor_free(&rounded[1]);
    rnn_tensor_free(&rounded[2]);
    rnn_tensor_free(&ref);
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    return rc;
}
