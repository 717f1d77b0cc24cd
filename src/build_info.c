/* The library's version and the configuration it was built with (build_config.h is written by
 * scripts/build_config.sh from the Makefile's values). */
#include <stdio.h>

#include "build_config.h"
#include "kernels/blas_core.h"
#include "kernels/gemm.h"
#include "rnn.h"

const char *rnn_version(void) { return RNN_BUILD_VERSION; }

/* The libraries librnn loads on first use instead of linking them (blas_core.c, keras_libs.c). */
#ifdef RNN_USE_CBLAS
#define RNN_LOADS_BLAS RNN_OPENBLAS_SONAME " (at the first large product)"
#else
#define RNN_LOADS_BLAS ""
#endif
#ifdef RNN_WITH_KERAS_IO
#define RNN_LOADS_KERAS RNN_HDF5_SONAME " and " RNN_LIBZIP_SONAME " (at the first Keras file)"
#else
#define RNN_LOADS_KERAS ""
#endif
#if defined(RNN_USE_CBLAS) && defined(RNN_WITH_KERAS_IO)
#define RNN_BUILD_LOADS RNN_LOADS_BLAS ", " RNN_LOADS_KERAS
#elif defined(RNN_USE_CBLAS) || defined(RNN_WITH_KERAS_IO)
#define RNN_BUILD_LOADS RNN_LOADS_BLAS RNN_LOADS_KERAS
#else
#define RNN_BUILD_LOADS "nothing"
#endif

const char *rnn_build_info(void) {
    /* The BLAS's own report at run time: the library the loader really found, which can differ
     * from the header the objects were compiled against. */
    static _Thread_local char text[2048];
    char core[160] = "";
    if (rnn__blas_core() && rnn__blas_core_fallback())
        snprintf(core, sizeof core,
                 "BLAS core:   %s (chosen by librnn: OpenBLAS had fallen back to %s on this CPU)\n",
                 rnn__blas_core(), rnn__blas_core_fallback());
    else if (rnn__blas_core() && rnn__blas_core_better())
        snprintf(core, sizeof core,
                 "BLAS core:   %s (OpenBLAS's fallback on this CPU; rnn_blas_upgrade_kernels() "
                 "or OPENBLAS_CORETYPE=%s would run %s)\n",
                 rnn__blas_core(), rnn__blas_core_better(), rnn__blas_core_better());
    else if (rnn__blas_core())
        snprintf(core, sizeof core, "BLAS core:   %s\n", rnn__blas_core());
    snprintf(text, sizeof text,
             "librnn %s\n"
             "compiler:    %s\n"
             "CFLAGS:      %s\n"
             "LDFLAGS:     %s\n"
             "BLAS:        %s\n"
             "BLAS loaded: %s\n"
             "%s"
             "Keras files: %s\n"
             "links:       %s\n"
             "loads:       %s\n",
             RNN_BUILD_VERSION, RNN_BUILD_COMPILER, RNN_BUILD_CFLAGS, RNN_BUILD_LDFLAGS,
             RNN_BUILD_BLAS, rnn__blas_name(), core, RNN_BUILD_KERAS_IO, RNN_BUILD_LIBS,
             RNN_BUILD_LOADS);
    return text;
}
