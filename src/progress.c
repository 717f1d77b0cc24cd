#include "progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double rnn__now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void rnn__progress_begin(rnn_progress *p, FILE *out, int verbose, int epoch, int epochs,
                         int64_t target) {
    memset(p, 0, sizeof *p);
    p->out = out ? out : stdout;
    p->verbose = verbose;
    p->target = target;
    p->dynamic = verbose == 1 && isatty(fileno(p->out));
    p->color = p->dynamic;
    p->start = rnn__now_seconds();
    if (verbose >= 1 && epochs > 1) fprintf(p->out, "Epoch %d/%d\n", epoch + 1, epochs);
}

/* Keras's metric format: 4 decimals, or scientific notation for small values. */
static void print_metric(FILE *f, const char *name, double v) {
    if (fabs(v) > 1e-3)
        fprintf(f, " - %s: %.4f", name, v);
    else
        fprintf(f, " - %s: %.4e", name, v);
}

static void print_time_per_step(FILE *f, double t) {
    if (t >= 1 || t == 0)
        fprintf(f, "%.0fs/step", t);
    else if (t >= 1e-3)
        fprintf(f, "%.0fms/step", t * 1e3);
    else
        fprintf(f, "%.0fus/step", t * 1e6);
}

static double time_per_step(const rnn_progress *p, int64_t current) {
    double now = rnn__now_seconds();
    if (current <= 1 || p->first_step_end == 0) return now - p->start;
    return (now - p->first_step_end) / (double)(current - 1);
}

static void draw_bar(rnn_progress *p, int64_t current, int final, const rnn_log_entry *logs,
                     int n) {
    FILE *f = p->out;
    int width = snprintf(NULL, 0, "%lld", (long long)p->target);
    double elapsed = rnn__now_seconds() - p->start;
    if (p->dynamic) fputc('\r', f);
    if (p->color) fprintf(f, "\x1b[1m");
    fprintf(f, "%*lld/%lld", width, (long long)current, (long long)p->target);
    if (p->color) fprintf(f, "\x1b[0m");
    fputc(' ', f);
    int filled = p->target > 0 ? (int)(20 * current / p->target) : 20;
    if (p->color) fprintf(f, "\x1b[32m");
    for (int i = 0; i < 20; i++) {
        if (p->color && i == filled) fprintf(f, "\x1b[37m");
        fputs("\xe2\x94\x81", f); /* U+2501, the heavy horizontal line Keras draws */
    }
    if (p->color) fprintf(f, "\x1b[0m");
    if (final) {
        fprintf(f, " %s%.0fs%s ", p->color ? "\x1b[1m" : "", elapsed, p->color ? "\x1b[0m" : "");
    } else {
        double eta = time_per_step(p, current) * (double)(p->target - current);
        fprintf(f, " %s%.0fs%s ", p->color ? "\x1b[1m" : "", eta, p->color ? "\x1b[0m" : "");
    }
    print_time_per_step(f, time_per_step(p, current));
    for (int i = 0; i < n; i++) print_metric(f, logs[i].name, logs[i].value);
    if (p->dynamic) fprintf(f, "\x1b[K"); /* clear what a longer previous line left */
    if (final) fputc('\n', f);
    fflush(f);
}

void rnn__progress_step(rnn_progress *p, int64_t current, const rnn_log_entry *logs, int n) {
    if (current == 1) p->first_step_end = rnn__now_seconds();
    if (!p->dynamic || current >= p->target) return;
    double now = rnn__now_seconds();
    if (now - p->last_draw < 0.05) return;
    p->last_draw = now;
    draw_bar(p, current, 0, logs, n);
}

void rnn__progress_end(rnn_progress *p, const rnn_log_entry *logs, int n) {
    if (p->verbose == 1) {
        draw_bar(p, p->target, 1, logs, n);
    } else if (p->verbose >= 2) {
        FILE *f = p->out;
        fprintf(f, "%lld/%lld - %.0fs - ", (long long)p->target, (long long)p->target,
                rnn__now_seconds() - p->start);
        print_time_per_step(f, time_per_step(p, p->target));
        for (int i = 0; i < n; i++) print_metric(f, logs[i].name, logs[i].value);
        fputc('\n', f);
        fflush(f);
    }
}
