/* Number parsing for the rnn tool's options. */
#include "args.h"

#include <errno.h>
#include <stdlib.h>

int cli_parse_int(const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    /* errno: strtol saturates at LONG_MAX on overflow, which would pass a wide range. */
    if (!*text || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_fraction(const char *text, double lo, double hi, double *out) {
    char *end;
    double v = strtod(text, &end);
    /* An empty text is strtod's 0 with nothing read; NaN fails both comparisons. */
    if (!*text || *end || !(v >= lo && v < hi)) return -1;
    *out = v;
    return 0;
}

#include <stdio.h>
#include <string.h>

int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n]) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "rnn %s: %s needs a value\n", cmd, name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }
