/* `rnn demo`: the airline-passengers forecaster of the LSTM tutorial (SCENARIOS.md, scenario 1)
 * in its three variants: the window model, the stateful model and the stacked stateful model. */
#ifndef RNN_DEMO_H
#define RNN_DEMO_H

#include <stdint.h>
#include <stdio.h>

typedef enum { DEMO_WINDOW = 0, DEMO_STATEFUL, DEMO_STACKED } demo_variant;

typedef struct {
    demo_variant variant;
    uint64_t seed;
    int epochs;        /* 100 in the tutorial */
    int look_back;     /* 3 */
    int verbose;       /* progress display: 0, 1 (bar) or 2 (line per epoch) */
    const char *plot;  /* SVG path, NULL for none */
    FILE *out;         /* messages; NULL: stdout */
} demo_options;

typedef struct {
    double train_rmse, test_rmse; /* on the original scale (passengers, thousands) */
    int64_t train_samples, test_samples;
} demo_result;

demo_options demo_defaults(void);
/* Trains and evaluates; returns 0, or -1 after printing the error to stderr. */
int demo_run(const demo_options *options, demo_result *result);
/* Its options (fuzz/fuzz_cli_args.c calls this apart from the training): -1 when the demo should
 * run with *options filled, else the exit status (0 after --help, 2 after an error). */
int demo_parse(int argc, char **argv, demo_options *options);
/* The `rnn demo` command line. */
int demo_main(int argc, char **argv);

#endif
