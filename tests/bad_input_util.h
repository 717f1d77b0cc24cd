/* Helpers shared by the bad-input and kill-during-save tests: small models, files built on the
 * fly (raw .npy headers, .keras zips from parts), byte-level file comparison and a count of the
 * temporary files a save leaves next to its target. */
#ifndef RNN_TEST_BAD_INPUT_UTIL_H
#define RNN_TEST_BAD_INPUT_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnn.h"

/* LSTM(3) -> Dense(1) on windows of 4 steps of 1 feature, compiled (mse, adam); the seed makes
 * two models with different weights. */
static inline rnn_model *util_window_model(uint64_t seed) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_set_seed(m, seed);
    rnn_input(m, 4, 1);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    rnn_add(m, rnn_lstm(&o));
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    rnn_compile(m, "mse", "adam");
    return m;
}

/* The whole file in a new buffer (NUL-terminated), or NULL. */
static inline char *util_read(const char *path, size_t *n) {
    if (n) *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    if (n) *n = len;
    return buf;
}

static inline int util_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* 1 if both files exist with the same bytes. */
static inline int util_same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = util_read(a, &na), *y = util_read(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static inline int util_copy(const char *src, const char *dst) {
    size_t n;
    char *b = util_read(src, &n);
    int r = b ? util_write(dst, b, n) : -1;
    free(b);
    return r;
}

/* Entries of dir whose name holds ".tmp": what rnn_save (name.tmpXXXXXX, and libzip's
 * name.tmpXXXXXX.YYYYYY) and rnn_npy_save (name.tmp-XXXXXXXX) create before the rename. With
 * remove, deletes them too. */
static inline int util_temp_files(const char *dir, int remove_them) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL)
        /* librnn's temporary names: ".NAME.rnntmp-PID-XXXXXX" (and libzip's suffix on them) */
        if (strstr(e->d_name, ".rnntmp-") || strstr(e->d_name, ".tmp")) {
            n++;
            if (remove_them) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                remove(p);
            }
        }
    closedir(d);
    return n;
}

#endif
