/* Error reporting inside the library: every failure path calls rnn__fail, which formats the
 * message into the calling thread's buffer (read by rnn_last_error), keeps the status beside it
 * (rnn_last_status) and returns the status, so a failing function can
 * `return rnn__fail(RNN_ERR_SHAPE, "...", ...);` */
#ifndef RNN_ERROR_H
#define RNN_ERROR_H

#include "rnn.h"

#define RNN_ERROR_MAX 512

rnn_status rnn__fail(rnn_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Clears this thread's message and status (a successful public call leaves "" and RNN_OK
 * behind). */
void rnn__clear_error(void);

/* An always-on check for the library's own invariants (never for user input): prints the place
 * and traps, independent of NDEBUG. */
#define RNN_INTERNAL_CHECK(cond)                                                              \
    do {                                                                                      \
        if (!(cond)) rnn__internal_failure(__FILE__, __LINE__, #cond);                        \
    } while (0)
void rnn__internal_failure(const char *file, int line, const char *what)
    __attribute__((noreturn));

#endif
