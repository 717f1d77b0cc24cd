/* Stand-ins for the library's error functions and rnn_tensor_free, so that the time-series,
 * CSV and plot tests can be built on their own while the core library is written. Only for
 * those local test builds: the real library links src/error.c and its tensor code instead. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"

static char stub_message[RNN_ERROR_MAX];

rnn_status rnn__fail(rnn_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(stub_message, sizeof stub_message, fmt, ap);
    va_end(ap);
    return status;
}

void rnn__clear_error(void) { stub_message[0] = '\0'; }

const char *rnn_last_error(void) { return stub_message; }

void rnn_tensor_free(rnn_tensor *t) {
    if (!t) return;
    free(t->data);
    *t = (rnn_tensor){0};
}
