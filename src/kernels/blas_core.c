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
 * summation order); rnn_build_info() names the core in use and whether librnn chose it.
 *
 * Loading. librnn does not link OpenBLAS: it loads it (dlopen, by the file name the build found,
 * RNN_OPENBLAS_SONAME in build_config.h) at the first product large enough to need it. OpenBLAS
 * costs a process about 3 MB of memory as it loads (its kernel tables, its threads' buffers),
 * which a program that only streams small steps (B5: two LSTM(128) layers, batch 1, 5 MB in
 * all) never needs. A host that links OpenBLAS itself gets the same copy (dlopen returns the
 * loaded one), so its thread settings are the ones librnn reads. Where the library cannot be
 * loaded the products take librnn's own kernels, and rnn_build_info() says why. */
#include "kernels/blas_core.h"
#include "rnn.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#if defined(RNN_USE_CBLAS)
#include <cblas.h> /* OPENBLAS_VERSION: the build is for OpenBLAS (gemm.c refuses another) */
#endif

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "build_config.h"
#endif

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION) && defined(__x86_64__) && \
    defined(__GNUC__)
#define RNN_BLAS_CORE_FIXUP 1
#endif

/* The core rnn_blas_upgrade_kernels asked for, or NULL (it only ever leaves "Prescott"). */
static const char *chosen_by_librnn;

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
static rnn_openblas openblas;
static const rnn_openblas *loaded; /* &openblas once loaded; read without the once: acquire */
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int upgrade_on_load;        /* rnn__blas_upgrade_on_load() was called */
static const char *soname = RNN_OPENBLAS_SONAME;
#ifdef RNN_BLAS_CORE_FIXUP
static int upgrade_kernels(const rnn_openblas *ob, int fresh);
#endif

/* dlsym into a function pointer without the object-to-function cast warning. */
#define LOAD_SYMBOL(h, field, name) \
    (*(void **)(&(field)) = dlsym((h), (name)))

static void load_openblas(void) {
    /* Already in the process (the host links it, or another library loaded it)? Then its state
     * is the host's: librnn switches its kernels only under rnn_blas_upgrade_kernels's rules. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    const int fresh = h == NULL;
    if (!h) h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "%s could not be loaded (%s): librnn's own kernels",
                 soname, why ? why : "no reason given");
        return;
    }
    rnn_openblas ob = {0};
    LOAD_SYMBOL(h, ob.sgemm, "cblas_sgemm");
    LOAD_SYMBOL(h, ob.get_num_threads, "openblas_get_num_threads");
    LOAD_SYMBOL(h, ob.set_num_threads, "openblas_set_num_threads");
    LOAD_SYMBOL(h, ob.get_config, "openblas_get_config");
    LOAD_SYMBOL(h, ob.get_corename, "openblas_get_corename");
    /* exported by DYNAMIC_ARCH builds only */
    LOAD_SYMBOL(h, ob.dynamic_init, "gotoblas_dynamic_init");
    LOAD_SYMBOL(h, ob.dynamic_quit, "gotoblas_dynamic_quit");
    if (!ob.sgemm || !ob.get_num_threads || !ob.set_num_threads || !ob.get_config ||
        !ob.get_corename) {
        snprintf(load_error, sizeof load_error,
                 "%s lacks OpenBLAS's functions (cblas_sgemm, openblas_get_num_threads, ...): "
                 "librnn's own kernels", soname);
        dlclose(h);
        return;
    }
    openblas = ob;
    /* Nothing else in the process can be inside a library it has just loaded, and librnn's other
     * callers wait for this function to return: the one moment a switch is safe in a program
     * that already runs threads of its own. */
#ifdef RNN_BLAS_CORE_FIXUP
    if (fresh && upgrade_on_load) upgrade_kernels(&openblas, 1);
#else
    (void)fresh;
#endif
    __atomic_store_n(&loaded, &openblas, __ATOMIC_RELEASE);
}

const rnn_openblas *rnn__openblas(void) {
    const rnn_openblas *ob = __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
    if (ob) return ob;
    pthread_once(&load_once, load_openblas);
    return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
}

const rnn_openblas *rnn__openblas_loaded(void) {
    return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
}

const char *rnn__openblas_error(void) {
    return rnn__openblas() ? NULL : load_error;
}

void rnn__blas_upgrade_on_load(void) { upgrade_on_load = 1; }

void rnn__openblas_set_soname(const char *name) { soname = name; }
#else
void rnn__openblas_set_soname(const char *name) { (void)name; }
const rnn_openblas *rnn__openblas(void) { return NULL; }
const rnn_openblas *rnn__openblas_loaded(void) { return NULL; }
const char *rnn__openblas_error(void) { return NULL; }
void rnn__blas_upgrade_on_load(void) {}
#endif

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

/* fresh: librnn loaded OpenBLAS just now and holds the other callers back (load_openblas). */
static int upgrade_kernels(const rnn_openblas *ob, int fresh) {
    if (!ob->dynamic_init || !ob->dynamic_quit) return 0;
    if (getenv("OPENBLAS_CORETYPE")) return 0;
    const char *core = ob->get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return 0;
    /* Between gotoblas_dynamic_quit and _init OpenBLAS has no kernel table: a product running
     * in another thread then follows a NULL pointer (a host that multiplied in one thread while
     * another loaded a librnn that switched at load crashed in 31 of 600 runs; setenv is no
     * safer there). So only while no thread can be inside OpenBLAS: this one and OpenBLAS's own
     * idle workers, at most openblas_get_num_threads() in all. */
    const int threads = fresh ? 1 : process_threads();
    if (threads < 1 || threads > ob->get_num_threads()) return 0;
    const char *best = best_core_for_this_cpu();
    if (!best || setenv("OPENBLAS_CORETYPE", best, 1) != 0) return 0;
    ob->dynamic_quit();
    ob->dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    chosen_by_librnn = best;
    return 1;
}
#endif

const char *rnn__blas_core(void) {
    const rnn_openblas *ob = rnn__openblas();
    return ob ? ob->get_corename() : NULL;
}

const char *rnn__blas_core_fallback(void) { return chosen_by_librnn ? "Prescott" : NULL; }

const char *rnn__blas_core_better(void) {
#ifdef RNN_BLAS_CORE_FIXUP
    const rnn_openblas *ob = rnn__openblas();
    const char *core = ob ? ob->get_corename() : NULL;
    if (!chosen_by_librnn && ob && ob->dynamic_init && core && !strcmp(core, "Prescott"))
        return best_core_for_this_cpu();
#endif
    return NULL;
}

int rnn_blas_upgrade_kernels(void) {
#ifdef RNN_BLAS_CORE_FIXUP
    const rnn_openblas *ob = rnn__openblas(); /* loads it now where librnn had not yet */
    return ob ? upgrade_kernels(ob, 0) : 0;
#else
    return 0;
#endif
}
