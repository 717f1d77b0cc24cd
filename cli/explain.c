/* `rnn explain`: a model drawn unrolled over time, in the terminal or as SVG / HTML. */
#include "explain.h"

#include <stdio.h>
#include <string.h>

#include "args.h"
#include "rnn.h"

static int usage(FILE *f, int status) {
    fprintf(f, "usage: rnn explain MODEL(.keras|.h5) [--input x.npy] [--sample I] [--steps N]\n"
               "                   [--output FILE.html|FILE.svg] [--ascii] [--width N]\n"
               "  draws the model unrolled over time: a cell per step, the state carried between\n"
               "  steps, returned and discarded outputs, Keras shapes and parameter counts;\n"
               "  with --input, the gate activations and states the input produced for sample I.\n"
               "  Without --output it prints the drawing as text (Unicode, or ASCII with --ascii).\n");
    return status;
}

int explain_parse(int argc, char **argv, explain_args *a) {
    memset(a, 0, sizeof *a);
    a->o = rnn_explain_defaults();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long v;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return usage(stdout, 0);
        if (!strcmp(arg, "--ascii")) {
            a->o.ascii = 1;
            continue;
        }
        if (arg[0] == '-' && arg[1] == '-') {
            if (!val) {
                fprintf(stderr, "rnn explain: %s needs a value\n", arg);
                return 2;
            }
            i++;
            if (!strcmp(arg, "--input")) a->input = val;
            else if (!strcmp(arg, "--output")) a->output = val;
            else if (!strcmp(arg, "--sample") || !strcmp(arg, "--steps") || !strcmp(arg, "--width")) {
                const int steps = !strcmp(arg, "--steps"), width = !strcmp(arg, "--width");
                if (cli_parse_int(val, steps ? 3 : width ? 60 : 0, steps ? 16 : width ? 1000 : 1L << 30, &v)) {
                    fprintf(stderr, "rnn explain: %s needs %s, got \"%s\"\n", arg,
                            steps ? "a number from 3 to 16" : width ? "a number from 60 to 1000"
                                                                    : "a row number (0 or more)",
                            val);
                    return 2;
                }
                if (steps) a->o.steps = (int)v;
                else if (width) a->o.width = (int)v;
                else a->o.sample = (int)v;
            } else {
                fprintf(stderr, "rnn explain: unknown option %s\n", arg);
                return usage(stderr, 2);
            }
            continue;
        }
        if (a->model) {
            fprintf(stderr, "rnn explain: one model only (%s, then %s)\n", a->model, arg);
            return 2;
        }
        a->model = arg;
    }
    if (!a->model) return usage(stderr, 2);
    return -1;
}

int explain_main(int argc, char **argv) {
    explain_args a;
    int status = explain_parse(argc, argv, &a);
    if (status >= 0) return status;
    rnn_model *m = rnn_load(a.model);
    if (!m) {
        fprintf(stderr, "rnn explain: %s\n", rnn_last_error());
        return 1;
    }
    if (rnn_model_warning(m)[0]) fprintf(stderr, "rnn: warning: %s: %s\n", a.model, rnn_model_warning(m));
    rnn_tensor x;
    memset(&x, 0, sizeof x);
    int rc = 0;
    if (a.input) {
        if (rnn_npy_load(a.input, &x) != RNN_OK) {
            fprintf(stderr, "rnn explain: %s\n", rnn_last_error());
            rnn_model_free(m);
            return 1;
        }
        a.o.inputs = &x;
        a.o.n_inputs = 1;
    }
    if (rnn_explain(m, &a.o, a.output) != RNN_OK) {
        fprintf(stderr, "rnn explain: %s\n", rnn_last_error());
        rc = 1;
    } else if (a.output) {
        fprintf(stderr, "rnn explain: wrote %s\n", a.output);
    }
    rnn_tensor_free(&x);
    rnn_model_free(m);
    return rc;
}
