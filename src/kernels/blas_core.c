/* OpenBLAS's choice of kernels on CPUs newer than the OpenBLAS release
 * (rnn_blas_upgrade_kernels, rnn.h).
 *
 * An OpenBLAS built with DYNAMIC_ARCH (Debian's, Ubuntu's, most distributions') picks its kernel
 * table when it loads, from the CPU's family and model numbers. A model it does not know falls
 * back to "Prescott", the SSE3 kernels of 2004: Debian 12's OpenBLAS 0.3.21 does that on Intel's
 * Emerald Rapids (family 6, model 207), where its AVX-512 kernels run the same products 4 times
 * faster (a 100 x 400 x 1,920 A^T B product, the shape of a weight gradient: 34 against 143
 * GFLOP/s on one thread). OpenBLAS's own remedy is the environment variable OPENBLAS_CORETYPE,
 * read only while it loads.
 *
 * The kernel table is the process's, not librnn's (DESIGN.md: the host owns the process), so
 * librnn switches it only when the program asks: rnn_blas_upgrade_kernels() has OpenBLAS choose
 * again with OPENBLAS_CORETYPE set to the kernels the CPU can run, through OpenBLAS's exported
 * gotoblas_dynamic_quit and gotoblas_dynamic_init (its own start-up path, which checks the CPU's
 * support again), and then removes the variable. Nothing happens when OPENBLAS_CORETYPE is set
 * (the user's choice), when OpenBLAS knows the CPU, when the OpenBLAS was built for one CPU (no
 * dynamic functions), with another BLAS, or while another thread could be inside OpenBLAS. The
 * rnn tool calls it first thing in main. The products' values change only by rounding (another
 * summation order); rnn_build_info() names the core in use and whether librnn chose it. */
#include "kernels/blas_core.h"
#include "rnn.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#if defined(RNN_USE_CBLAS)
#include <cblas.h>
#endif

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION) && defined(__x86_64__) && \
    defined(__GNUC__)
#define RNN_BLAS_CORE_FIXUP 1
/* Exported by DYNAMIC_ARCH builds only; weak, so that a single-target OpenBLAS links too. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
#endif

/* The core rnn_blas_upgrade_kernels asked for, or NULL (it only ever leaves "Prescott"). */
static const char *chosen_by_librnn;

#ifdef RNN_BLAS_CORE_FIXUP
/* The best OpenBLAS kernel table this CPU (and the operating system's saved state) can run,
 * or NULL when it has neither AVX-512 nor AVX2 with FMA. "SkylakeX" rather than "Cooperlake":
 * their single-precision products are the same kernels, and the names are known to every
 * OpenBLAS since 0.3.x. */
static const char *best_core_for_this_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

/* The threads of this process, or -1 when it cannot tell. */
static int process_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static int upgrade_kernels(void) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return 0;
    if (getenv("OPENBLAS_CORETYPE")) return 0;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return 0;
    /* Between gotoblas_dynamic_quit and _init OpenBLAS has no kernel table: a product running
     * in another thread then follows a NULL pointer (a host that multiplied in one thread while
     * another loaded a librnn that switched at load crashed in 31 of 600 runs; setenv is no
     * safer there). So only while no thread can be inside OpenBLAS: this one and OpenBLAS's own
     * idle workers, at most openblas_get_num_threads() in all. */
    const int threads = process_threads();
    if (threads < 1 || threads > openblas_get_num_threads()) return 0;
    const char *best = best_core_for_this_cpu();
    if (!best || setenv("OPENBLAS_CORETYPE", best, 1) != 0) return 0;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    chosen_by_librnn = best;
    return 1;
}
#endif

const char *rnn__blas_core(void) {
#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
    return openblas_get_corename();
#else
    return NULL;
#endif
}

const char *rnn__blas_core_fallback(void) { return chosen_by_librnn ? "Prescott" : NULL; }

const char *rnn__blas_core_better(void) {
#ifdef RNN_BLAS_CORE_FIXUP
    const char *core = openblas_get_corename();
    if (!chosen_by_librnn && gotoblas_dynamic_init && core && !strcmp(core, "Prescott"))
        return best_core_for_this_cpu();
#endif
    return NULL;
}

int rnn_blas_upgrade_kernels(void) {
#ifdef RNN_BLAS_CORE_FIXUP
    return upgrade_kernels();
#else
    return 0;
#endif
}
