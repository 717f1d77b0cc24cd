/* Contexts (rnn_context in rnn.h): what models share besides their own buffers - a thread team
 * for the step loops and the large products (kernels/team.h). A model holds a reference to
 * its context; a model without one uses the process's default team. */
#ifndef RNN_CONTEXT_H
#define RNN_CONTEXT_H

#include "kernels/team.h"
#include "rnn.h"

/* The context's team (NULL for a NULL context: the caller's current team applies). */
rnn__team *rnn__context_team(const rnn_context *ctx);
/* Drops one reference (a model's or the creator's); frees the context at zero. */
void rnn__context_release(rnn_context *ctx);

#endif
