/* What the rnn tool's model commands share: compile options (--loss, --optimizer,
 * --learning-rate, --opt key=value, --metrics), lists of arrays for a model's several inputs or
 * outputs (.npy or .csv files, in order or by name), the arrays written with a "wrote" line,
 * Keras's progress line; and the commands `rnn init` and `rnn evaluate`. Uses only the public
 * header. */
#ifndef RNN_CLI_WORKFLOW_H
#define RNN_CLI_WORKFLOW_H

#include <stdio.h>

#include "rnn.h"

#define CLI_MAX_IO 32   /* inputs or outputs named on one command line */
#define CLI_MAX_OPTS 16 /* --opt key=value */

/* ---------------------------------------------------------------- compile options */

typedef struct {
    const char *loss, *optimizer, *learning_rate, *metrics;
    const char *opt[CLI_MAX_OPTS];
    int n_opt;
} cli_compile;

/* The compile options' usage lines. */
#define CLI_COMPILE_USAGE                                                                      \
    "compile (an uncompiled model; a compiled one's settings are replaced by those given):\n"  \
    "  --loss NAME            mse, mae, binary_crossentropy, categorical_crossentropy,\n"       \
    "                         sparse_categorical_crossentropy, kld (Keras's names)\n"           \
    "  --optimizer NAME       adam, sgd, rmsprop (default for an uncompiled model: rmsprop,\n"  \
    "                         as Keras's compile())\n"                                          \
    "  --learning-rate LR     the optimizer's learning_rate\n"                                  \
    "  --opt KEY=VALUE        another argument of the optimizer by its Keras name (beta_1,\n"   \
    "                         momentum, nesterov, rho, clipnorm, ...); may be repeated\n"       \
    "  --metrics A,B          compile's metrics=[...] (accuracy, ...)\n"                        \
    "Compiling anew starts the optimizer afresh (its step count and slots), as Keras does.\n"

/* argv[*i] as a compile option: 1 taken, 0 not one, -1 a usage error (printed). */
int cli_compile_option(const char *cmd, int argc, char **argv, int *i, cli_compile *c);
/* Whether any compile option was given. */
int cli_compile_given(const cli_compile *c);
/* Compiles m as the options say, starting from its own settings when it is compiled. 0, or 2
 * after printing the reason (an unknown loss, optimizer, argument or metric; no --loss for an
 * uncompiled model). */
int cli_compile_apply(const char *cmd, rnn_model *m, const cli_compile *c);
/* The compile settings (loss, optimizer with its arguments, metrics), or "Not compiled". */
void cli_print_compile(rnn_model *m, FILE *out);

/* ---------------------------------------------------------------- arrays */

/* An option that may be repeated: one file per model input or output, in the model's order, or
 * NAME=FILE by the input's or output's name. */
typedef struct {
    const char *spec[CLI_MAX_IO];
    int n;
} cli_list;
/* Adds one; -1 (printed) beyond CLI_MAX_IO. */
int cli_list_add(const char *cmd, const char *opt, cli_list *list, const char *spec);
/* Before any work: every file of the list is named .npy or .csv. 0, or 2 after printing. */
int cli_list_check_ext(const char *cmd, const char *opt, const cli_list *list);
/* The file for each of the model's inputs (outputs 0) or outputs (outputs 1) into
 * paths[0..count): by name where NAME=FILE names one, the others in order. 0, or 2 after
 * printing what the model has. */
int cli_list_resolve(const char *cmd, const char *opt, rnn_model *m, int outputs,
                     const cli_list *list, const char **paths);
/* Loads a .npy or .csv array; for an input of m (input >= 0), a .csv without a shape header is
 * shaped as that input ((samples, steps, features) from one row per sample). 0 or 1 (printed). */
int cli_array_load(const char *cmd, const char *path, rnn_model *m, int input, rnn_tensor *t);
/* Writes a .npy or .csv array (atomically) and prints "wrote PATH (shape) float32". 0 or 1. */
int cli_array_save(const char *cmd, const char *path, const rnn_tensor *t);
/* Before any work: path ends in .npy or .csv and a file can be created there. 0, or 2 (bad
 * name) / 1 (cannot create), printed. */
int cli_check_array_output(const char *cmd, const char *opt, const char *path);
/* Before any work: path ends in ext and a file can be created there (0, else 2, printed). */
int cli_check_output(const char *cmd, const char *opt, const char *path, const char *ext);

/* ---------------------------------------------------------------- progress */

/* Keras's final progress line: "8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.0123" (verbose
 * 1) or "8/8 - 0s - 2ms/step - loss: 0.0123" (verbose 2); names/values may be 0 long. On a
 * terminal with verbose 1, done < steps draws the bar in place. */
void cli_progress(FILE *out, int verbose, long done, long steps, double seconds,
                  const char *const *names, const double *values, int n);

/* ---------------------------------------------------------------- commands */

/* rnn init CONFIG.json --output MODEL [--seed N] [compile options] */
int init_main(int argc, char **argv);
/* rnn evaluate MODEL --x X --y Y [--batch-size N] [--verbose 0|1|2] [compile options] */
int evaluate_main(int argc, char **argv);

/* The default batch size of predict and evaluate: the model's fixed batch size (a stateful
 * model saved with batch_shape), as Keras's predict(x) uses, or 32. */
int cli_default_batch(rnn_model *m);

/* --verbose's value: 0, 1 or 2; -1 (printed) otherwise. */
int cli_verbose(const char *cmd, const char *text);
/* Monotonic seconds. */
double cli_now(void);

#endif
