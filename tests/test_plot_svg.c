/* Tests of plot_svg_write: a plot of the tutorial's three series is a complete SVG with one
 * polyline per run of finite values; text is escaped; failures leave no file behind. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "plot_svg.h"

static char tmp_dir[] = "/tmp/rnn_test_plot_XXXXXX";

/* The whole file as a NUL-terminated string (NULL if it cannot be read). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *p = realloc(text, cap + 65536);
            if (!p) break;
            text = p;
            cap += 65536;
        }
        size_t r = fread(text + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || !text) {
        free(text);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

static int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* Entries in tmp_dir other than . and .., to see that no temporary file is left. */
static int dir_entries(void) {
    DIR *d = opendir(tmp_dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static void test_tutorial_plot(const char *path) {
    /* A series, a train prediction after look_back, a test prediction with a gap in it. */
    float data[40], train[20], test[10];
    for (int i = 0; i < 40; i++) data[i] = 100.0f + 10.0f * sinf((float)i / 3.0f) + (float)i;
    for (int i = 0; i < 20; i++) train[i] = data[i + 1] + 1.0f;
    for (int i = 0; i < 10; i++) test[i] = data[i + 25] - 1.0f;
    test[4] = NAN;      /* a gap: the test line is drawn in two pieces */
    test[9] = INFINITY; /* a non-finite value is a gap too */
    test[7] = NAN;      /* leaves test[8] alone: drawn as a dot */
    plot_series s[3] = {
        {"passengers", NULL, data, 40, 0},
        {"train prediction", NULL, train, 20, 1},
        {"test prediction", "#2ca02c", test, 10, 25},
    };
    int rc = plot_svg_write(path, "Airline <passengers> & \"predictions\"", s, 3);
    CHECK(rc == 0, "plot_svg_write: %s", plot_svg_error());
    CHECK(plot_svg_error()[0] == '\0', "no message after success: %s", plot_svg_error());
    char *svg = slurp(path);
    CHECK(svg != NULL, "read back %s", path);
    if (!svg) return;
    CHECK(strncmp(svg, "<?xml", 5) == 0 || strncmp(svg, "<svg", 4) == 0, "starts with %.20s",
          svg);
    CHECK(strstr(svg, "<svg") != NULL, "has an svg element");
    CHECK(strstr(svg, "</svg>\n") != NULL && strstr(svg, "</svg>\n")[7] == '\0',
          "ends with </svg>: the file is complete");
    /* data: 1, train: 1, test: [0..3] and [5..6], with [8] a dot. */
    CHECK(count_of(svg, "<polyline") == 4, "%d polylines, want 4", count_of(svg, "<polyline"));
    CHECK(count_of(svg, "<circle") == 1, "%d dots, want 1", count_of(svg, "<circle"));
    CHECK(strstr(svg, "Airline &lt;passengers&gt; &amp; &quot;predictions&quot;") != NULL,
          "title escaped");
    CHECK(strstr(svg, ">passengers<") && strstr(svg, ">train prediction<") &&
              strstr(svg, ">test prediction<"),
          "legend has every label");
    CHECK(strstr(svg, "#1f77b4") && strstr(svg, "#ff7f0e") && strstr(svg, "#2ca02c"),
          "default and given colours");
    CHECK(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL, "no NaN/Inf coordinates");
    CHECK(strstr(svg, "width=\"900\"") && strstr(svg, "height=\"500\""), "900x500");
    /* Tick labels: the x axis covers 0..39, the y axis about 90..150. */
    CHECK(strstr(svg, ">0</text>") != NULL, "x tick label 0");
    CHECK(strstr(svg, ">100</text>") != NULL, "y tick label 100");
    free(svg);

    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0444) == 0444, "file readable by all");
    CHECK(dir_entries() == 1, "only the plot in the directory (%d entries)", dir_entries());

    /* Writing again replaces the file. */
    plot_series one = {NULL, NULL, data, 3, 0};
    CHECK(plot_svg_write(path, NULL, &one, 1) == 0, "rewrite: %s", plot_svg_error());
    svg = slurp(path);
    CHECK(svg && !strstr(svg, "Airline") && strstr(svg, ">series 1<"), "replaced, default label");
    free(svg);
    CHECK(dir_entries() == 1, "still only the plot (%d entries)", dir_entries());
}

static void test_edge_values(const char *path) {
    /* Nothing finite, one value, odd bytes in labels: all still give a well-formed file. */
    float nans[3] = {NAN, NAN, NAN}, one[1] = {5.0f}, flat[4] = {3, 3, 3, 3};
    plot_series s[3] = {
        {"only NaN", NULL, nans, 3, 0},
        {"bad \x01 byte \xFF and \xC3\xA9", NULL, one, 1, 2},
        {"flat", "red\"/><script>", flat, 4, -2},
    };
    CHECK(plot_svg_write(path, "edge", s, 3) == 0, "edge values: %s", plot_svg_error());
    char *svg = slurp(path);
    CHECK(svg != NULL, "read back");
    if (!svg) return;
    CHECK(strstr(svg, "bad ? byte ? and \xC3\xA9") != NULL, "control and broken bytes replaced");
    CHECK(strstr(svg, "<script>") == NULL, "colour escaped");
    CHECK(count_of(svg, "<polyline") == 1 && count_of(svg, "<circle") == 1,
          "flat line and one dot");
    CHECK(strstr(svg, ">-2</text>") != NULL, "negative x offset on the axis");
    free(svg);

    plot_series empty = {"empty", NULL, NULL, 0, 0};
    CHECK(plot_svg_write(path, "empty", &empty, 1) == 0, "an empty series: %s",
          plot_svg_error());
}

static void test_failures(const char *good_path) {
    char path[600];
    snprintf(path, sizeof path, "%s/missing_dir/plot.svg", tmp_dir);
    float y[3] = {1, 2, 3};
    plot_series s = {"y", NULL, y, 3, 0};
    CHECK(plot_svg_write(path, "t", &s, 1) == -1, "missing directory fails");
    CHECK(strstr(plot_svg_error(), "missing_dir/plot.svg") != NULL, "message names the path: %s",
          plot_svg_error());
    CHECK(strstr(plot_svg_error(), strerror(ENOENT)) != NULL, "message has the reason: %s",
          plot_svg_error());
    char dir[600];
    snprintf(dir, sizeof dir, "%s/missing_dir", tmp_dir);
    CHECK(access(dir, F_OK) != 0, "the missing directory was not created");
    CHECK(dir_entries() == 1, "nothing left behind (%d entries)", dir_entries());

    /* A directory in the way of the target: the rename fails and the temporary file goes. */
    snprintf(dir, sizeof dir, "%s/a_dir", tmp_dir);
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    CHECK(plot_svg_write(dir, "t", &s, 1) == -1, "target is a directory");
    CHECK(plot_svg_error()[0] != '\0', "message set");
    CHECK(dir_entries() == 2, "only the plot and the directory (%d entries)", dir_entries());
    CHECK(rmdir(dir) == 0, "rmdir");

    /* Bad arguments. */
    CHECK(plot_svg_write(NULL, "t", &s, 1) == -1, "NULL path");
    CHECK(plot_svg_write(good_path, "t", NULL, 1) == -1, "NULL series");
    CHECK(plot_svg_write(good_path, "t", &s, 0) == -1, "no series");
    plot_series no_y = {"y", NULL, NULL, 3, 0};
    CHECK(plot_svg_write(good_path, "t", &no_y, 1) == -1, "n > 0 without values");
    CHECK(strstr(plot_svg_error(), "NULL") != NULL, "message: %s", plot_svg_error());
    plot_series negative = {"y", NULL, y, -1, 0};
    CHECK(plot_svg_write(good_path, "t", &negative, 1) == -1, "negative n");
    plot_series overflow = {"y", NULL, y, 3, INT64_MAX - 1};
    CHECK(plot_svg_write(good_path, "t", &overflow, 1) == -1, "x overflow");
    CHECK(dir_entries() == 1, "failed calls leave only the plot (%d entries)", dir_entries());
}

int main(void) {
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/plot.svg", tmp_dir);
    test_tutorial_plot(path);
    test_edge_values(path);
    test_failures(path);
    if (unlink(path) != 0) fprintf(stderr, "warning: cannot remove %s\n", path);
    if (rmdir(tmp_dir) != 0) fprintf(stderr, "warning: cannot remove %s\n", tmp_dir);
    return check_report("test_plot_svg");
}
