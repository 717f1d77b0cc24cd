/* libhdf5 and libzip, loaded when a Keras file is first read or written (keras_libs.h).
 *
 * Why not linked: Debian's libhdf5 brings libcurl, OpenSSL, libsz and a dozen more, and the
 * dynamic linker maps and relocates them all as a program starts: about 6 MB of memory for every
 * process that links librnn, whether it ever touches a model file or not (a program streaming
 * two LSTM(128) layers measured 14.6 MB with them, 8.3 MB without). rnn_load reads files in its
 * reader program anyway (untrusted_parse.c); only saving, and that program, need the libraries.
 * They are loaded by the file names the build linked against (RNN_HDF5_SONAME and
 * RNN_LIBZIP_SONAME in build_config.h, found by scripts/build_config.sh). A program that links
 * them itself gets the copies it already has. */
#ifdef RNN_WITH_KERAS_IO
#define RNN_KERAS_LIBS_TABLE
#include "io/keras_libs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "error.h"

rnn_h5_api rnn__h5;
rnn_zip_api rnn__zip;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static rnn_status load_status = RNN_ERR_UNSUPPORTED;
static char load_error[512];
static const char *h5_soname = RNN_HDF5_SONAME, *zip_soname = RNN_LIBZIP_SONAME;

void rnn__keras_libs_set_sonames(const char *h5, const char *zip) {
    h5_soname = h5;
    zip_soname = zip;
}

/* Fills each field from the library by its own name; 0 with the missing name in load_error. */
#define RNN_KERAS_LIBS_LOOKUP(name) \
    if (ok && !(*(void **)&table->name = dlsym(h, #name))) { \
        snprintf(load_error, sizeof load_error, "%s has no %s", soname, #name); \
        ok = 0; \
    }

static int fill_h5(void *h, const char *soname, rnn_h5_api *table) {
    int ok = 1;
    RNN_H5_FUNCTIONS(RNN_KERAS_LIBS_LOOKUP)
    RNN_H5_VARIABLES(RNN_KERAS_LIBS_LOOKUP)
    return ok;
}

static int fill_zip(void *h, const char *soname, rnn_zip_api *table) {
    int ok = 1;
    RNN_ZIP_FUNCTIONS(RNN_KERAS_LIBS_LOOKUP)
    return ok;
}

static void *open_library(const char *soname) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "%s could not be loaded (%s)", soname,
                 why ? why : "no reason given");
    }
    return h;
}

static void load(void) {
    void *h5 = open_library(h5_soname);
    void *zip = h5 ? open_library(zip_soname) : NULL;
    rnn_h5_api h5_table;
    rnn_zip_api zip_table;
    /* tables filled aside and copied only when complete: a half-filled table is never seen */
    if (h5 && zip && fill_h5(h5, h5_soname, &h5_table) && fill_zip(zip, zip_soname, &zip_table)) {
        rnn__h5 = h5_table;
        rnn__zip = zip_table;
        load_status = RNN_OK;
        return;
    }
    /* the libraries stay loaded: unloading libhdf5 is not safe once it has initialised */
}

rnn_status rnn__keras_libs_load(void) {
    pthread_once(&once, load);
    if (load_status != RNN_OK)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "Keras model files need libhdf5 and libzip: %s",
                         load_error);
    return RNN_OK;
}

#endif /* RNN_WITH_KERAS_IO */
