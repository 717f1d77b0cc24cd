/* The `rnn` command-line tool. Uses only the public header (and its own cli/ helpers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"
#include "demo.h"
#include "explain.h"
#include "export.h"
#include "model_files.h"
#include "kernels/blas_core.h"
#include "rnn.h"
#include "workflow.h"

/* Under an address-space limit (ulimit -v), OpenBLAS's start-up reserves buffers and a stack for
 * each of its threads, and when that fails it retries forever at 100 % CPU. The tool does not
 * need OpenBLAS's own threads (librnn splits large products between its team's threads itself),
 * so with a finite limit and no choice of the user's, it asks for one. librnn loads OpenBLAS at
 * its first large product (src/kernels/blas_core.c), which reads the variable then: setting it
 * first thing in main, before the tool has threads of its own, is in time. */
static void limit_blas_threads_under_memory_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
    setenv("OPENBLAS_NUM_THREADS", "1", 0); /* 0: the user's own setting stays */
}

static void usage(FILE *f) {
    fprintf(f, "usage: rnn COMMAND [options]        (rnn COMMAND --help: a command's options)\n"
               "commands:\n"
               "  init CONFIG.json --output MODEL [--seed N]   a new model from a Keras config\n"
               "                                           (model.to_json()), weights from the seed\n"
               "  summary MODEL                            the model's table and compile settings\n"
               "  fit MODEL --x X --y Y --output OUT [--epochs N] [--batch-size N]\n"
               "          [--loss L --optimizer O ...] [--history H.csv] [--plot-history P.svg]\n"
               "                                           train (compiling it if asked)\n"
               "  evaluate MODEL --x X --y Y [--batch-size N]   Keras's evaluate line\n"
               "  predict MODEL --input X --output Y [--batch-size N]   the model's outputs\n"
               "  convert IN OUT                           .keras <-> .h5 (by extension)\n"
               "  explain MODEL [--input x.npy] [--output FILE.html|FILE.svg]\n"
               "                                           draw the model unrolled over time\n"
               "  export MODEL --c DIR [--name NAME] [--precision f32|bf16|int8]\n"
               "                                           write the model as dependency-free C\n"
               "  quantize-report MODEL --input x.npy [--target y.npy]\n"
               "                                           accuracy of bf16 and int8 weights\n"
               "  demo [--stateful|--stacked] [--seed N]   train the airline forecaster\n"
               "  bench CASE [--threads N] [--reps N]      time one benchmark case (B1 to B6)\n"
               "  version (-V, --version, -v)              the version and the build's configuration\n"
               "Models are Keras .keras or .h5 files; arrays are .npy or .csv files (one row per\n"
               "sample). Options take their value as --opt VALUE or --opt=VALUE.\n"
               "exit status: 0 done; 1 the work failed (a file that cannot be read, a training\n"
               "that diverged); 2 a usage error, refused before any work (a bad option, an output\n"
               "that could not be written, a model that cannot be saved in the format asked).\n");
}

int main(int argc, char **argv) {
    limit_blas_threads_under_memory_limit();
    /* OpenBLAS's AVX-512 kernels where it fell back to SSE3 ones (rnn.h), chosen when librnn
     * loads OpenBLAS (its first large product): a command that needs no OpenBLAS (a streamed
     * step, a small model) never loads it */
    rnn__blas_upgrade_on_load();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* --opt=value is --opt value for every command (demo and bench parse their own options):
     * split at the first '=', so that --input=enc=a.npy is --input enc=a.npy. */
    static char **args; /* static: reachable until exit (LeakSanitizer) */
    args = malloc(sizeof(char *) * (size_t)(2 * argc + 1));
    if (!args) {
        fprintf(stderr, "rnn: out of memory\n");
        return 1;
    }
    int n = 0;
    for (int i = 0; i < argc; i++) {
        char *eq = i > 1 && !strncmp(argv[i], "--", 2) ? strchr(argv[i], '=') : NULL;
        if (eq && eq > argv[i] + 2) {
            *eq = 0;
            args[n++] = argv[i];
            args[n++] = eq + 1;
        } else args[n++] = argv[i];
    }
    args[n] = NULL;
    argc = n;
    argv = args;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "init")) return init_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo")) return demo_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "summary")) return summary_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return predict_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "evaluate")) return evaluate_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return convert_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "fit")) return fit_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return explain_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return export_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "quantize-report")) return quantize_report_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return bench_main(argc - 1, argv + 1);
    /* -v is the version, as in most tools (Keras has no command line to follow); there is no
     * "verbose" switch at this level: the commands take --verbose 0|1|2. */
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V") ||
        !strcmp(cmd, "-v")) {
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
