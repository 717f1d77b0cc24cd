/* `rnn explain MODEL [--input x.npy] [--sample I] [--steps N] [--output FILE.html|FILE.svg]`. */
#ifndef RNN_CLI_EXPLAIN_H
#define RNN_CLI_EXPLAIN_H

#include "rnn.h"

typedef struct {
    const char *model, *input, *output;
    rnn_explain_options o;
} explain_args;
/* -1 when the command should go on with *args filled, else the exit status to return. */
int explain_parse(int argc, char **argv, explain_args *args);
int explain_main(int argc, char **argv);

#endif
