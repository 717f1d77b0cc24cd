/* Writing an output file safely (output_file.c says how): begin makes an empty temporary file
 * (o->tmp) that the caller fills by its path; commit puts it in place, abort removes it. */
#ifndef RNN_IO_OUTPUT_FILE_H
#define RNN_IO_OUTPUT_FILE_H

#include <stddef.h>

#include "rnn.h"

typedef struct {
    char *target;    /* where the content ends up: the path, or the file its links lead to */
    char *tmp;       /* the temporary file to fill */
    size_t tmp_keep; /* how much of the target's name the temporary name keeps */
    int direct;      /* the target is a device, FIFO or socket: copied into, never renamed over */
} rnn_output_plan;

rnn_status rnn__output_begin(rnn_output_plan *o, const char *path);
rnn_status rnn__output_commit(rnn_output_plan *o);
void rnn__output_abort(rnn_output_plan *o);
/* Whether path can be written (the temporary file is created and removed): the check made
 * before long work whose result goes there. */
rnn_status rnn__output_check(const char *path);

#endif
