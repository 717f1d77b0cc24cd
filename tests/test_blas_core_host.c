/* src/kernels/blas_core.c in a host that already multiplies with OpenBLAS in a thread of its own
 * and then loads librnn.so (dlopen, as Python's ctypes does) and calls rnn_blas_upgrade_kernels:
 * librnn must not swap OpenBLAS's kernel table under that thread (between gotoblas_dynamic_quit
 * and _init the table is NULL, and the thread's product crashed in 31 of 600 runs when librnn
 * switched at load). Each of RUNS child processes starts a thread of products, loads
 * build/librnn.so, calls rnn_blas_upgrade_kernels (which must refuse: another thread exists)
 * and checks its products; none may crash. This program links no code of librnn's. */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"

#if defined(RNN_USE_CBLAS)
#include <cblas.h>
#endif

enum { RUNS = 300, N = 64 };

#if defined(RNN_USE_CBLAS)
static volatile int stop, started;
static float A[N * N], B[N * N], C[N * N];

static void *products(void *arg) {
    (void)arg;
    while (!stop) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, A, N, B, N, 0.0f,
                    C, N);
        started = 1;
    }
    return NULL;
}

/* The child: a thread of products while librnn.so loads. 0 when the products stayed right. */
static int host(const char *lib) {
#ifdef OPENBLAS_VERSION
    if (strcmp(openblas_get_corename(), "Prescott") != 0) return 5; /* nothing to switch */
#endif
    for (int i = 0; i < N * N; i++) A[i] = 1.0f, B[i] = 0.5f;
    pthread_t t;
    if (pthread_create(&t, NULL, products, NULL) != 0) return 2;
    while (!started) sched_yield(); /* the thread inside its products */
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    int (*upgrade)(void) = h ? (int (*)(void))dlsym(h, "rnn_blas_upgrade_kernels") : NULL;
    const int switched = upgrade ? upgrade() : -1;
    stop = 1;
    pthread_join(t, NULL);
    if (!h || !upgrade) {
        fprintf(stderr, "test_blas_core_host: dlopen(%s): %s\n", lib, dlerror());
        return 3;
    }
    if (switched != 0) return 6; /* switched under a running product */
    for (int i = 0; i < N * N; i++)
        if (C[i] != 0.5f * N) return 4;
    return 0;
}
#endif

int main(int argc, char **argv) {
#if defined(RNN_USE_CBLAS)
    char lib[4096];
    ssize_t len = readlink("/proc/self/exe", lib, sizeof lib - 32);
    if (len <= 0) {
        CHECK(0, "readlink /proc/self/exe");
        return check_report("test_blas_core_host");
    }
    lib[len] = 0;
    strcpy(strrchr(lib, '/'), "/../librnn.so");
    if (argc > 1 && !strcmp(argv[1], "--host")) return host(lib);
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "test_blas_core_host: no %s: skipped\n", lib);
        return check_report("test_blas_core_host");
    }
    int crashed = 0, failed = 0, moot = 0;
    for (int i = 0; i < RUNS; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            setenv("OPENBLAS_NUM_THREADS", "1", 1);
            unsetenv("OPENBLAS_CORETYPE");
            execl("/proc/self/exe", argv[0], "--host", (char *)NULL);
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) crashed++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 5) moot++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    }
    if (moot)
        fprintf(stderr, "test_blas_core_host: OpenBLAS is not on its Prescott fallback here: "
                        "librnn has nothing to switch (%d of %d runs)\n", moot, RUNS);
    CHECK(crashed == 0, "%d of %d hosts crashed while librnn.so loaded", crashed, RUNS);
    CHECK(failed == 0, "%d of %d hosts failed (dlopen, a switch under a running product, or "
                       "wrong products)", failed, RUNS);
#else
    (void)argc;
    (void)argv;
#endif
    return check_report("test_blas_core_host");
}
