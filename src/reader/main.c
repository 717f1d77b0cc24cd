/* rnn-reader: reads one model file for librnn's rnn_load, in its own process, and sends the
 * plain data back to the caller (src/io/untrusted_parse.c has the protocol, the limits and why).
 * rnn_load starts it with posix_spawn; it is not meant to be run by hand. Installed as
 * PREFIX/libexec/rnn/rnn-reader. */
#include <stdio.h>

#ifdef RNN_WITH_KERAS_IO
#include "io/keras_io.h"

int main(int argc, char **argv) {
    return rnn__keras_reader_main(argc, argv, rnn__keras_load_in_process);
}

#else

int main(void) {
    fprintf(stderr, "rnn-reader: this librnn was built without Keras model files "
            "(KERAS_IO=none)\n");
    return 2;
}

#endif
