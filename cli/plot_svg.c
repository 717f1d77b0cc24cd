/* plot_svg: writes line plots as SVG. See plot_svg.h.
 *
 * The file is streamed (no point list is held in memory) through rnn_output_file_open: into a
 * temporary file next to the target, flushed and renamed over it, so a reader sees the old plot
 * or the new one, never a part of one.
 */
#include "plot_svg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnn.h"

/* Canvas and plot area in SVG user units (pixels). */
#define CANVAS_W 900.0
#define CANVAS_H 500.0
#define MARGIN_LEFT 80.0
#define MARGIN_RIGHT 30.0
#define MARGIN_TOP 50.0
#define MARGIN_BOTTOM 50.0
/* About this many intervals per axis; the nice step chosen may give a few more or less. */
#define TARGET_TICKS 8
#define MAX_TICKS 100

/* The only mutable global of this file: plot_svg_error() hands it out. */
static char plot_error_text[512];

const char *plot_svg_error(void) { return plot_error_text; }

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(plot_error_text, sizeof plot_error_text, fmt, ap);
    va_end(ap);
    return -1;
}

/* matplotlib's default colour cycle, so that the figure looks like the tutorials'. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/* ------------------------------------------------------------------ checked output */

/* Every write goes through here; the first failure is kept and later writes are skipped, so the
 * drawing code stays readable while no error is lost. */
typedef struct {
    FILE *f;
    int err; /* errno of the first failed write, 0 if none */
} svg_out;

static void out(svg_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(svg_out *o, const char *fmt, ...) {
    if (o->err) return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int w = vfprintf(o->f, fmt, ap);
    va_end(ap);
    if (w < 0) o->err = errno ? errno : EIO;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static int utf8_sequence(const unsigned char *s) {
    unsigned char c = s[0];
    int len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else
        return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

/* Writes text escaped for XML content and attribute values. Bytes XML cannot hold (control
 * characters, broken UTF-8) become '?', so any caller string gives a well-formed file. */
static void out_text(svg_out *o, const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        unsigned char c = *s;
        int len = utf8_sequence(s); /* stops at the NUL: it is not a continuation byte */
        if (c == '&') out(o, "&amp;");
        else if (c == '<') out(o, "&lt;");
        else if (c == '>') out(o, "&gt;");
        else if (c == '"') out(o, "&quot;");
        else if (c == '\'') out(o, "&apos;");
        else if (len == 0 || (c < 0x20 && c != '\t') || c == 0x7F) {
            out(o, "?");
            s++;
            continue;
        } else
            out(o, "%.*s", len, (const char *)s);
        s += len ? len : 1;
    }
}

/* Characters in a UTF-8 string, to size the legend box. */
static size_t text_width_chars(const char *text) {
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++)
        if ((*s & 0xC0) != 0x80) n++;
    return n;
}

/* ------------------------------------------------------------------ axes */

typedef struct {
    double lo, hi;      /* axis limits: the data plus a small margin, as matplotlib draws */
    double first, step; /* ticks at first + i*step, i < ticks */
    int ticks;
    int decimals; /* for tick labels */
} axis;

/* 1, 2 or 5 times a power of ten, the smallest at least raw. */
static double nice_step(double raw) {
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    double m = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
    return m * p;
}

/* Limits around [mn, mx] with ticks on round numbers inside them; min_step 1 keeps index axes
 * on integers. */
static axis make_axis(double mn, double mx, double min_step) {
    axis a;
    if (!(mx > mn)) { /* one value: give it some room around it */
        double pad = fabs(mn) * 0.05;
        if (!(pad > 0.0)) pad = 1.0;
        mn -= pad;
        mx += pad;
    }
    double margin = (mx - mn) * 0.03;
    a.lo = mn - margin;
    a.hi = mx + margin;
    a.step = nice_step((a.hi - a.lo) / TARGET_TICKS);
    if (a.step < min_step) a.step = min_step;
    a.first = ceil(a.lo / a.step) * a.step;
    double t = floor((a.hi - a.first) / a.step + 1e-9) + 1.0;
    a.ticks = t < 0.0 ? 0 : t > MAX_TICKS ? MAX_TICKS : (int)t;
    a.decimals = a.step >= 1.0 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    if (a.decimals > 12) a.decimals = 12;
    return a;
}

static double tick_value(const axis *a, int i) {
    double v = a->first + i * a->step;
    return fabs(v) < a->step * 1e-9 ? 0.0 : v; /* no "-0" label */
}

static void out_tick_label(svg_out *o, const axis *a, double v) {
    double mag = fabs(a->hi) > fabs(a->lo) ? fabs(a->hi) : fabs(a->lo);
    if ((mag < 1e7 && a->decimals <= 6) || (a->step >= 1.0 && mag < 1e10)) {
        out(o, "%.*f", a->decimals, v);
        return;
    }
    /* Huge or tiny numbers: %g with just the digits that tell neighbouring ticks apart. */
    double digits = ceil(log10(mag / a->step)) + 1.0;
    int precision = digits < 1.0 ? 1 : digits > 17.0 ? 17 : (int)digits;
    out(o, "%.*g", precision, v);
}

static double px_x(const axis *a, double x) {
    double width = CANVAS_W - MARGIN_LEFT - MARGIN_RIGHT;
    return MARGIN_LEFT + (x - a->lo) / (a->hi - a->lo) * width;
}

/* SVG's y grows downwards. */
static double px_y(const axis *a, double y) {
    double height = CANVAS_H - MARGIN_TOP - MARGIN_BOTTOM;
    return CANVAS_H - MARGIN_BOTTOM - (y - a->lo) / (a->hi - a->lo) * height;
}

/* ------------------------------------------------------------------ drawing */

static void draw_axes(svg_out *o, const axis *ax, const axis *ay) {
    double left = MARGIN_LEFT, right = CANVAS_W - MARGIN_RIGHT;
    double top = MARGIN_TOP, bottom = CANVAS_H - MARGIN_BOTTOM;
    out(o, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
    for (int i = 0; i < ax->ticks; i++) {
        double x = px_x(ax, tick_value(ax, i));
        out(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, top, x, bottom);
    }
    for (int i = 0; i < ay->ticks; i++) {
        double y = px_y(ay, tick_value(ay, i));
        out(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", left, y, right, y);
    }
    out(o, "</g>\n");
    out(o, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
           "stroke=\"black\"/>\n",
        left, top, right - left, bottom - top);
    out(o, "<g fill=\"black\" text-anchor=\"middle\">\n");
    for (int i = 0; i < ax->ticks; i++) {
        double v = tick_value(ax, i);
        double x = px_x(ax, v);
        out(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>", x,
            bottom, x, bottom + 5);
        out(o, "<text x=\"%.2f\" y=\"%.2f\">", x, bottom + 20);
        out_tick_label(o, ax, v);
        out(o, "</text>\n");
    }
    out(o, "</g>\n<g fill=\"black\" text-anchor=\"end\">\n");
    for (int i = 0; i < ay->ticks; i++) {
        double v = tick_value(ay, i);
        double y = px_y(ay, v);
        out(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>",
            left - 5, y, left, y);
        out(o, "<text x=\"%.2f\" y=\"%.2f\">", left - 8, y + 4);
        out_tick_label(o, ay, v);
        out(o, "</text>\n");
    }
    out(o, "</g>\n");
}

static const char *series_color(const plot_series *s, int i) {
    return s->color ? s->color : palette[i % (int)(sizeof palette / sizeof palette[0])];
}

/* One polyline per run of finite values; a run of one value is a dot, as a line of one point
 * would not show. */
static void draw_series(svg_out *o, const plot_series *s, int index, const axis *ax,
                        const axis *ay) {
    const char *color = series_color(s, index);
    int64_t k = 0;
    while (k < s->n && !o->err) {
        if (!isfinite(s->y[k])) {
            k++;
            continue;
        }
        double x0 = px_x(ax, (double)(s->x_offset + k)), y0 = px_y(ay, s->y[k]);
        if (k + 1 >= s->n || !isfinite(s->y[k + 1])) {
            out(o, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2\" fill=\"", x0, y0);
            out_text(o, color);
            out(o, "\"/>\n");
            k++;
            continue;
        }
        out(o, "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"");
        out_text(o, color);
        out(o, "\" points=\"");
        for (; k < s->n && isfinite(s->y[k]) && !o->err; k++)
            out(o, "%.2f,%.2f ", px_x(ax, (double)(s->x_offset + k)), px_y(ay, s->y[k]));
        out(o, "\"/>\n");
    }
}

static void draw_legend(svg_out *o, const plot_series *series, int n_series) {
    size_t widest = 0;
    char fallback[32];
    for (int i = 0; i < n_series; i++) {
        size_t w = series[i].label ? text_width_chars(series[i].label) : 10;
        if (w > widest) widest = w;
    }
    if (widest > 60) widest = 60; /* a box for absurd labels would cover the plot */
    double box_w = 45.0 + 7.0 * (double)widest, row = 18.0;
    double x = MARGIN_LEFT + 10, y = MARGIN_TOP + 10;
    out(o, "<g>\n<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"white\" "
           "fill-opacity=\"0.85\" stroke=\"#999999\"/>\n",
        x, y, box_w, row * n_series + 8);
    for (int i = 0; i < n_series; i++) {
        double ly = y + 4 + row * i + row / 2;
        const char *label = series[i].label;
        if (!label) {
            snprintf(fallback, sizeof fallback, "series %d", i + 1);
            label = fallback;
        }
        out(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke-width=\"2\" "
               "stroke=\"",
            x + 8, ly, x + 30, ly);
        out_text(o, series_color(&series[i], i));
        out(o, "\"/><text x=\"%.2f\" y=\"%.2f\">", x + 36, ly + 4);
        out_text(o, label);
        out(o, "</text>\n");
    }
    out(o, "</g>\n");
}

static void draw(svg_out *o, const char *title, const char *xlabel, const char *ylabel,
                 const plot_series *series, int n_series) {
    /* Data limits over the finite values only: gaps must not stretch the axes. */
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n_series; i++)
        for (int64_t k = 0; k < series[i].n; k++) {
            float v = series[i].y[k];
            if (!isfinite(v)) continue;
            double x = (double)(series[i].x_offset + k);
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (v < ymin) ymin = v;
            if (v > ymax) ymax = v;
        }
    if (xmin > xmax) { /* nothing finite to draw: still a valid, empty chart */
        xmin = ymin = 0.0;
        xmax = ymax = 1.0;
    }
    axis ax = make_axis(xmin, xmax, 1.0), ay = make_axis(ymin, ymax, 0.0);

    out(o, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    out(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
           "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
        (int)CANVAS_W, (int)CANVAS_H, (int)CANVAS_W, (int)CANVAS_H);
    out(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    if (title) {
        out(o, "<text x=\"%.2f\" y=\"30\" text-anchor=\"middle\" font-size=\"16\">", CANVAS_W / 2);
        out_text(o, title);
        out(o, "</text>\n");
    }
    if (xlabel) {
        out(o, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">",
            MARGIN_LEFT + (CANVAS_W - MARGIN_LEFT - MARGIN_RIGHT) / 2, CANVAS_H - 6);
        out_text(o, xlabel);
        out(o, "</text>\n");
    }
    if (ylabel) {
        double cy = MARGIN_TOP + (CANVAS_H - MARGIN_TOP - MARGIN_BOTTOM) / 2;
        out(o, "<text x=\"14\" y=\"%.2f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.2f)\">",
            cy, cy);
        out_text(o, ylabel);
        out(o, "</text>\n");
    }
    draw_axes(o, &ax, &ay);
    for (int i = 0; i < n_series; i++) draw_series(o, &series[i], i, &ax, &ay);
    draw_legend(o, series, n_series);
    out(o, "</svg>\n");
}

static int check_series(const plot_series *series, int n_series) {
    for (int i = 0; i < n_series; i++) {
        const plot_series *s = &series[i];
        if (s->n < 0) return fail("plot_svg_write: series %d has n = %lld", i, (long long)s->n);
        if (s->n > 0 && !s->y)
            return fail("plot_svg_write: series %d has %lld values but y is NULL", i,
                        (long long)s->n);
        /* x_offset + k must not overflow for any k < n. */
        if (s->n > 0 && s->x_offset > INT64_MAX - (s->n - 1))
            return fail("plot_svg_write: series %d: x_offset %lld + n %lld overflows", i,
                        (long long)s->x_offset, (long long)s->n);
    }
    return 0;
}

int plot_svg_write(const char *path, const char *title, const plot_series *series, int n_series) {
    return plot_svg_write_labelled(path, title, NULL, NULL, series, n_series);
}

int plot_svg_write_labelled(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const plot_series *series, int n_series) {
    if (!path || !*path) return fail("plot_svg_write: no path given");
    if (n_series < 1 || !series)
        return fail("plot_svg_write: needs at least one series (n_series is %d)", n_series);
    if (check_series(series, n_series) != 0) return -1;
    if (path[strlen(path) - 1] == '/') return fail("plot_svg_write: '%s' is a directory", path);

    /* Written the way librnn writes its files: a temporary file renamed over the target, a
     * symlink written through, a device written in place. */
    rnn_output_file *of;
    FILE *f;
    if (rnn_output_file_open(path, &of, &f) != RNN_OK)
        return fail("cannot write plot '%s': %s", path, rnn_last_error());
    svg_out o = {f, 0};
    draw(&o, title, xlabel, ylabel, series, n_series);
    if (o.err) {
        rnn_output_file_discard(of);
        return fail("cannot write plot '%s': writing it failed: %s", path, strerror(o.err));
    }
    if (rnn_output_file_commit(of) != RNN_OK)
        return fail("cannot write plot '%s': %s", path, rnn_last_error());
    plot_error_text[0] = '\0';
    return 0;
}
