/* Tiny test harness: CHECK counts failures and prints where; each test binary ends with
 * `return check_report("name");`, which exits non-zero when anything failed. */
#ifndef RNN_TEST_CHECK_H
#define RNN_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures_ = 0;
static int check_count_ = 0;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        check_count_++;                                                                       \
        if (!(cond)) {                                                                        \
            check_failures_++;                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
        }                                                                                     \
    } while (0)

/* |a - b| <= atol + rtol*|b|; what is a string naming the compared value. */
#define CHECK_CLOSE(a, b, atol, rtol, what)                                                   \
    do {                                                                                      \
        double ca_ = (double)(a), cb_ = (double)(b);                                          \
        CHECK(fabs(ca_ - cb_) <= (atol) + (rtol) * fabs(cb_), "%s: %.9g vs %.9g", (what),     \
              ca_, cb_);                                                                      \
    } while (0)

/* dir/name in one of 8 rotating buffers, so that several paths can be built for one call. */
static inline const char *check_path(const char *dir, const char *name) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static inline int check_report(const char *name) {
    if (check_count_ == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

#endif
