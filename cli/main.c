/* The `rnn` command-line tool. Uses only the public header (and its own cli/ helpers). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "demo.h"
#include "model_files.h"
#include "rnn.h"

static void usage(FILE *f) {
    fprintf(f, "usage: rnn COMMAND [options]\n"
               "commands:\n"
               "  demo [--stateful|--stacked] [--seed N]   train the airline forecaster\n"
               "  summary MODEL                            load a Keras .keras/.h5 model, print it\n"
               "  predict MODEL --input x.npy --output y.npy [--batch-size N] [--stateful-stream]\n"
               "  fit MODEL --x X.npy --y Y.npy --output OUT [--epochs N] [--batch-size N]\n"
               "                                           continue training a compiled model\n"
               "  convert IN OUT                           .keras <-> .h5 (by extension)\n"
               "  bench CASE [--threads N] [--reps N]      time one benchmark case (B1 to B6)\n"
               "  version                                  print the version and the build's configuration\n"
               "Run `rnn COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "demo")) return demo_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "summary")) return summary_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return predict_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return convert_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "fit")) return fit_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return bench_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        fputs(rnn_build_info(), stdout);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "rnn: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
