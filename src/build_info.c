/* The library's version and the configuration it was built with (build_config.h is written by
 * scripts/build_config.sh from the Makefile's values). */
#include <stdio.h>

#include "build_config.h"
#include "kernels/gemm.h"
#include "rnn.h"

const char *rnn_version(void) { return RNN_BUILD_VERSION; }

const char *rnn_build_info(void) {
    /* The BLAS's own report at run time: the library the loader really found, which can differ
     * from the header the objects were compiled against. */
    static _Thread_local char text[2048];
    snprintf(text, sizeof text,
             "librnn %s\n"
             "compiler:    %s\n"
             "CFLAGS:      %s\n"
             "LDFLAGS:     %s\n"
             "BLAS:        %s\n"
             "BLAS loaded: %s\n"
             "Keras files: %s\n"
             "links:       %s\n",
             RNN_BUILD_VERSION, RNN_BUILD_COMPILER, RNN_BUILD_CFLAGS, RNN_BUILD_LDFLAGS,
             RNN_BUILD_BLAS, rnn__blas_name(), RNN_BUILD_KERAS_IO, RNN_BUILD_LIBS);
    return text;
}
