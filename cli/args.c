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
