/* plot_svg: line plots of float series as a self-contained SVG file, the C counterpart of the
 * tutorials' matplotlib figure (the data, the train predictions, the test predictions).
 *
 * Example, the airline tutorial's figure (its trainPredictPlot and testPredictPlot offsets;
 * n_train_pred = train_size - look_back - 1, so the test offset is train_size + look_back):
 *   plot_series s[3] = {
 *       {"passengers", NULL, series, n, 0},
 *       {"train prediction", NULL, train_pred, n_train_pred, look_back},
 *       {"test prediction", NULL, test_pred, n_test_pred, n_train_pred + 2 * look_back + 1},
 *   };
 *   if (plot_svg_write("airline.svg", "Airline passengers", s, 3) != 0)
 *       fprintf(stderr, "%s\n", plot_svg_error());
 */
#ifndef PLOT_SVG_H
#define PLOT_SVG_H

#include <stdint.h>

typedef struct {
    const char *label; /* legend text (UTF-8); NULL: "series 1", "series 2", ... */
    const char *color; /* an SVG colour ("#1f77b4", "red"); NULL: matplotlib's default cycle */
    const float *y;    /* n values; NaN and Inf are gaps in the line */
    int64_t n;
    int64_t x_offset; /* the x of y[k] is x_offset + k */
} plot_series;

/* Writes the plot to path (about 900x500, axes with tick labels, a legend, one polyline per run
 * of finite values). The file is written under a temporary name in the same directory and
 * renamed over path at the end, so path never holds a half-written plot. title may be NULL.
 * Returns 0, or -1 with a message for plot_svg_error(). */
int plot_svg_write(const char *path, const char *title, const plot_series *series, int n_series);
/* The same with axis labels under the x axis and beside the y axis (either may be NULL). */
int plot_svg_write_labelled(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const plot_series *series, int n_series);

/* The message of the last failed plot_svg_write ("" if none failed yet). Not thread-safe: one
 * static buffer shared by the whole program. */
const char *plot_svg_error(void);

#endif
