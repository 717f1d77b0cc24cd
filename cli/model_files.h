/* `rnn summary`, `predict`, `fit` and `convert`: Keras model files from the command line. */
#ifndef RNN_CLI_MODEL_FILES_H
#define RNN_CLI_MODEL_FILES_H

#include "rnn.h"
#include "workflow.h"

/* rnn summary MODEL */
int summary_main(int argc, char **argv);
/* rnn predict MODEL --input x --output y [--batch-size N] [--verbose N] [--stateful-stream] */
int predict_main(int argc, char **argv);
/* rnn fit MODEL --x X.npy --y Y.npy --output OUT [--epochs N] [--batch-size N] ... */
int fit_main(int argc, char **argv);
/* rnn convert IN OUT (.keras <-> .h5, by the extensions) */
int convert_main(int argc, char **argv);

/* The option parsers of predict and fit, apart from the work (fuzz/fuzz_cli_args.c calls
 * them): -1 when the command should go on with *args filled, else the exit status to return
 * (0 after --help, 2 after a usage error, printed to stderr). */
typedef struct {
    const char *model;
    cli_list in, out; /* --input, --output: one per model input / output, or NAME=FILE */
    int batch;        /* --batch-size; 0: the model's fixed batch size, or 32 */
    int stream;       /* --stateful-stream */
    int verbose;
} predict_args;
int predict_parse(int argc, char **argv, predict_args *args);
typedef struct {
    const char *model, *out, *history, *plot;
    cli_list x, y;
    cli_compile compile;
    rnn_fit_options fo;
} fit_args;
int fit_parse(int argc, char **argv, fit_args *args);

#endif
