/* A reader program for the tests of rnn_load's guard (test_untrusted_parse.c, test_safe_load.c):
 * rnn-reader's own code (rnn__keras_reader_main: the parent check, the limits, the protocol)
 * with a loader that misbehaves as RNN_FAULT_READER says:
 *   segv, abort     crash while reading
 *   exit1           exit with status 1 half way
 *   own_error       fail with a FORMAT message of its own
 *   inconsistent    load for real, then send a weight count the caller's model does not have
 *   sleep           write its pid to RNN_FAULT_READER_PIDFILE (when set), then sleep forever
 *   (unset)         load for real
 * Tests point rnn_load_options.reader at it; it is never installed. */
#include <stdio.h>

#ifdef RNN_WITH_KERAS_IO
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "io/keras_io.h"

static rnn_model *faulty(const char *path, rnn_keras_recipe *r) {
    const char *mode = getenv("RNN_FAULT_READER");
    if (!mode || !*mode) return rnn__keras_load_in_process(path, r);
    if (!strcmp(mode, "segv")) raise(SIGSEGV);
    if (!strcmp(mode, "abort")) abort();
    if (!strcmp(mode, "exit1")) _exit(1);
    if (!strcmp(mode, "own_error")) {
        rnn__fail(RNN_ERR_FORMAT, "%s: a message from the reader", path);
        return NULL;
    }
    if (!strcmp(mode, "inconsistent")) {
        rnn_model *m = rnn__keras_load_in_process(path, r);
        if (m) m->n_weights = -5;
        return m;
    }
    if (!strcmp(mode, "sleep")) {
        const char *pidfile = getenv("RNN_FAULT_READER_PIDFILE");
        FILE *f = pidfile ? fopen(pidfile, "w") : NULL;
        if (f) {
            fprintf(f, "%ld\n", (long)getpid());
            fclose(f);
        }
        for (;;) pause();
    }
    rnn__fail(RNN_ERR_ARGUMENT, "fault_reader: unknown RNN_FAULT_READER=%s", mode);
    return NULL;
}

int main(int argc, char **argv) { return rnn__keras_reader_main(argc, argv, faulty); }

#else

int main(void) { return 2; }

#endif
