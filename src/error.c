/* Per-thread error messages and status names. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[RNN_ERROR_MAX];
/* The status that went with last_error: rnn_load and the other calls that return a pointer have
 * no other way to give it. */
static _Thread_local rnn_status last_status;

rnn_status rnn__fail(rnn_status status, const char *fmt, ...) {
    /* Formatted into a local buffer first: callers wrap an earlier message in a new one
     * (rnn__fail(st, "...: %s", rnn_last_error())), and vsnprintf's output may not overlap its
     * arguments. */
    char text[RNN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memcpy(last_error, text, sizeof last_error);
    last_status = status;
    return status;
}

void rnn__clear_error(void) {
    last_error[0] = '\0';
    last_status = RNN_OK;
}

const char *rnn_last_error(void) { return last_error; }

rnn_status rnn_last_status(void) { return last_status; }

const char *rnn_status_name(rnn_status s) {
    switch (s) {
    case RNN_OK: return "RNN_OK";
    case RNN_ERR_ARGUMENT: return "RNN_ERR_ARGUMENT";
    case RNN_ERR_SHAPE: return "RNN_ERR_SHAPE";
    case RNN_ERR_STATE: return "RNN_ERR_STATE";
    case RNN_ERR_NUMERIC: return "RNN_ERR_NUMERIC";
    case RNN_ERR_MEMORY: return "RNN_ERR_MEMORY";
    case RNN_ERR_IO: return "RNN_ERR_IO";
    case RNN_ERR_FORMAT: return "RNN_ERR_FORMAT";
    case RNN_ERR_UNSUPPORTED: return "RNN_ERR_UNSUPPORTED";
    }
    return "RNN_ERR_UNKNOWN";
}


/* A bug in librnn itself, never a consequence of user input: stop loudly rather than compute
 * wrong numbers. */
void rnn__internal_failure(const char *file, int line, const char *what) {
    fprintf(stderr, "librnn internal error at %s:%d: %s\n", file, line, what);
    __builtin_trap();
}
