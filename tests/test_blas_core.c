/* src/kernels/blas_core.c: on a CPU newer than the OpenBLAS release, OpenBLAS falls back to its
 * SSE3 ("Prescott") kernels and rnn_blas_upgrade_kernels() moves it to the kernels the CPU can
 * run, when the program asks; librnn by itself changes nothing.
 * Checks, in child processes of this program with a controlled environment: (1) without the
 * call a child runs on OpenBLAS's own choice; with it and AVX2 and FMA, not on the fallback, and
 * no OPENBLAS_CORETYPE is left in the environment; (2) the user's OPENBLAS_CORETYPE is left alone (OPENBLAS_CORETYPE=Prescott runs
 * on Prescott); (3) the products after the switch are right (OpenBLAS's kernel table is set up
 * again, its blocking sizes included): large products in every transpose combination against a
 * double loop; (4) rnn_build_info names the core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"
#include "kernels/blas_core.h"
#include "kernels/gemm.h"
#include "rnn.h"

#if defined(RNN_USE_CBLAS)
#include <cblas.h>
#endif

#if defined(RNN_USE_CBLAS) && defined(OPENBLAS_VERSION)
/* The OpenBLAS librnn loaded (src/kernels/blas_core.c) picks its kernels at run time. */
static int openblas_dynamic(void) {
    const rnn_openblas *ob = rnn__openblas();
    return ob && ob->dynamic_init != NULL;
}
#else
static int openblas_dynamic(void) { return 0; }
#endif

static int cpu_has_avx2_fma(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* C = op(A) op(B) through rnn__product (97 rows: the BLAS's size) against a double loop. */
static void check_products(void) {
    const int M = 97, N = 301, K = 1931;
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N),
          *C = malloc(sizeof(float) * (size_t)M * N);
    double *R = malloc(sizeof(double) * (size_t)M * N);
    if (!A || !B || !C || !R) {
        CHECK(0, "out of memory");
        return;
    }
    unsigned s = 12345;
    for (int i = 0; i < M * K; i++) A[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / (1 << 24) - 0.5f;
    for (int i = 0; i < K * N; i++) B[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / (1 << 24) - 0.5f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* the same numbers read through each layout: A as M x K or (stored) K x M */
            int lda = ta ? M : K, ldb = tb ? K : N;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)A[ta ? (size_t)k * M + i : (size_t)i * K + k] *
                               B[tb ? (size_t)j * K + k : (size_t)k * N + j];
                    R[(size_t)i * N + j] = acc;
                }
            CHECK(rnn__product(M, N, K, A, lda, B, ldb, C, N, RNN_GEMM(.trans_a = ta, .trans_b = tb)),
                  "no product");
            int bad = 0;
            double worst = 0;
            for (int i = 0; i < M * N; i++) {
                double e = C[i] - R[i];
                if (e < 0) e = -e;
                if (e > worst) worst = e;
                if (e > 1e-3) bad++;
            }
            CHECK(bad == 0, "trans_a %d trans_b %d: %d of %d values off by more than 1e-3 (worst %g)",
                  ta, tb, bad, M * N, worst);
        }
    free(A);
    free(B);
    free(C);
    free(R);
}

/* Runs this program again with OPENBLAS_CORETYPE set to `coretype` (NULL: unset), calling
 * rnn_blas_upgrade_kernels() or not, and returns what it prints: "CORE set|unset R" (the core it
 * runs on afterwards, whether the variable is in its environment, what the call returned; R is
 * - without the call). */
static void run_child(const char *self, const char *coretype, int call, char *got, size_t size) {
    got[0] = 0;
    int fd[2];
    if (pipe(fd) != 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        if (coretype)
            setenv("OPENBLAS_CORETYPE", coretype, 1);
        else
            unsetenv("OPENBLAS_CORETYPE");
        const char *mode = call ? "call" : "nocall";
        /* the program by the path it was started with (under valgrind /proc/self/exe is
         * valgrind's own), else by /proc/self/exe */
        execl(self, self, "--child", mode, (char *)NULL);
        execl("/proc/self/exe", self, "--child", mode, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(fd[0], got + n, size - 1 - n)) > 0) n += (size_t)r;
    got[n] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (%s, %s) status %d",
          coretype ? coretype : "unset", call ? "call" : "no call", status);
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "--child")) {
        const int call = !strcmp(argv[2], "call");
        const int r = call ? rnn_blas_upgrade_kernels() : -1;
        const char *core = rnn__blas_core();
        printf("%s %s %s %s\n", core ? core : "(none)",
               getenv("OPENBLAS_CORETYPE") ? "set" : "unset", r < 0 ? "-" : r ? "1" : "0",
               rnn__blas_core_fallback() ? "switched" : "kept");
        return 0;
    }
    /* What OpenBLAS chose by itself, and whether librnn would choose better. */
    const char *own = rnn__blas_core();
    const char *better = rnn__blas_core_better();
    CHECK(strstr(rnn_build_info(), "BLAS loaded:") != NULL, "build info: %s", rnn_build_info());
    if (better)
        CHECK(strstr(rnn_build_info(), "rnn_blas_upgrade_kernels() or OPENBLAS_CORETYPE=") != NULL,
              "build info names no remedy: %s", rnn_build_info());
    const int switched = rnn_blas_upgrade_kernels();
    CHECK(switched == (better != NULL), "rnn_blas_upgrade_kernels returned %d with %s better",
          switched, better ? better : "nothing");
    if (switched)
        CHECK(strstr(rnn_build_info(), "(chosen by librnn") != NULL,
              "build info after the switch: %s", rnn_build_info());
    check_products(); /* on the kernels just chosen, where they were switched */
    if (!openblas_dynamic()) {
        fprintf(stderr, "test_blas_core: this OpenBLAS picks no kernels at run time (or the BLAS is "
                        "not OpenBLAS): only the products checked\n");
        return check_report("test_blas_core");
    }
    CHECK(own != NULL, "no core name");

    /* librnn changes nothing by itself (the host owns the process): without the call a child
     * runs on what OpenBLAS chose. */
    char got[128];
    run_child(argv[0], NULL, 0, got, sizeof got);
    CHECK(strstr(got, " unset - kept\n") != NULL, "without the call: '%s'", got);

    /* With the call: not the fallback where the CPU can do better, and no OPENBLAS_CORETYPE
     * left behind in the environment. */
    run_child(argv[0], NULL, 1, got, sizeof got);
    CHECK(strncmp(got + strcspn(got, " "), " unset ", 7) == 0,
          "OPENBLAS_CORETYPE left in the environment: '%s'", got);
    if (cpu_has_avx2_fma())
        CHECK(strncmp(got, "Prescott ", 9) != 0,
              "a CPU with AVX2 and FMA runs OpenBLAS's SSE3 fallback kernels after the call ('%s')",
              got);
    else
        fprintf(stderr, "test_blas_core: no AVX2 and FMA: the fallback check skipped\n");

    /* The user's choice stands: OPENBLAS_CORETYPE=Prescott keeps Prescott (and the variable). */
    run_child(argv[0], "Prescott", 1, got, sizeof got);
    CHECK(!strcmp(got, "Prescott set 0 kept\n"), "OPENBLAS_CORETYPE=Prescott gave '%s'", got);
    return check_report("test_blas_core");
}
