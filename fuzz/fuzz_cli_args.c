/* libFuzzer harness: the rnn tool's command-line options. The input is split at NUL bytes into
 * arguments and given to each command's option parser (predict, fit, demo, bench: the ones that
 * read numbers), apart from the work they lead to; then to the shared number parsers directly.
 * Run with -close_fd_mask=3: the parsers print usage errors, as they should. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench/bench.h"
#include "demo.h"
#include "model_files.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "cmd";
    for (char *p = text; p <= text + size && argc < MAX_ARGS; p += strlen(p) + 1) argv[argc++] = p;
    argv[argc] = NULL;

    predict_args pa;
    fit_args fa;
    demo_options d;
    bench_args b;
    if (predict_parse(argc, argv, &pa) < 0 && (!pa.model || !pa.in.n || !pa.out.n || pa.batch < 0 || pa.verbose < 0))
        abort(); /* "go on" must come with everything the command needs */
    if (fit_parse(argc, argv, &fa) < 0 &&
        (!fa.model || !fa.x.n || !fa.y.n || !fa.out || !fa.fo.epochs || fa.fo.batch_size < 1 || !(fa.fo.validation_split < 1)))
        abort();
    if (demo_parse(argc, argv, &d) < 0 && (d.epochs < 0 || d.verbose < 0 || d.verbose > 2))
        abort();
    if (bench_parse(argc, argv, &b) < 0 && (!b.name || b.reps < 1 || b.threads < 0)) abort();

    long v;
    double f;
    for (int i = 1; i < argc; i++) {
        if (!cli_parse_int(argv[i], -5, 1L << 30, &v) && (v < -5 || v > 1L << 30)) abort();
        if (!cli_parse_fraction(argv[i], 0.0, 1.0, &f) && !(f >= 0.0 && f < 1.0)) abort();
    }
    free(text);
    return 0;
}
