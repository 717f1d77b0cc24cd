/* Tests of rnn_csv_load_column: the airline file's dialect (quoted header, CRLF, no final
 * newline), selection by name and index, every documented error, long lines, odd bytes, and the
 * real airline-passengers.csv when ../shared/data is present. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

static char tmp_dir[] = "/tmp/rnn_test_csv_XXXXXX";
static char path_buf[512];

/* Writes len bytes to tmp_dir/name and returns the path (valid until the next call). */
static const char *write_file(const char *name, const char *bytes, size_t len) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path_buf, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s: %s\n", path_buf, strerror(errno));
        exit(2);
    }
    size_t w = len ? fwrite(bytes, 1, len, f) : 0;
    if (fclose(f) != 0 || w != len) {
        fprintf(stderr, "cannot write %s\n", path_buf);
        exit(2);
    }
    return path_buf;
}

static const char *write_text(const char *name, const char *text) {
    return write_file(name, text, strlen(text));
}

static void remove_file(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    if (unlink(p) != 0) fprintf(stderr, "warning: cannot remove %s\n", p);
}

static int contains(const char *haystack, const char *needle) {
    return haystack && strstr(haystack, needle) != NULL;
}

/* Loads and checks the values against want[0..n_want). */
static void expect_values(const char *what, const char *path, const char *column, int index,
                          const float *want, int64_t n_want) {
    float *v = NULL;
    int64_t n = -1;
    rnn_status st = rnn_csv_load_column(path, column, index, &v, &n);
    CHECK(st == RNN_OK, "%s: status %d: %s", what, (int)st, rnn_last_error());
    if (st != RNN_OK) return;
    CHECK(n == n_want, "%s: %lld values, want %lld", what, (long long)n, (long long)n_want);
    int same = n == n_want;
    for (int64_t i = 0; same && i < n; i++) same = v[i] == want[i];
    CHECK(same, "%s: values differ (first %g)", what, n > 0 ? v[0] : 0.0f);
    free(v);
}

/* Expects a failure with status want whose message contains every string in needles. */
static void expect_error(const char *what, const char *path, const char *column, int index,
                         rnn_status want, const char *needle1, const char *needle2) {
    static float dummy;
    float *v = &dummy; /* any non-NULL value: the call must reset it */
    int64_t n = 77;
    rnn_status st = rnn_csv_load_column(path, column, index, &v, &n);
    CHECK(st == want, "%s: status %d, want %d (%s)", what, (int)st, (int)want, rnn_last_error());
    CHECK(v == NULL && n == 0, "%s: outputs cleared on error", what);
    if (needle1)
        CHECK(contains(rnn_last_error(), needle1), "%s: message lacks '%s': %s", what, needle1,
              rnn_last_error());
    if (needle2)
        CHECK(contains(rnn_last_error(), needle2), "%s: message lacks '%s': %s", what, needle2,
              rnn_last_error());
}

static void test_dialects(void) {
    const float want[3] = {112, 118, 132};
    const char *p = write_text("lf.csv", "\"Month\",\"Passengers\"\n\"1949-01\",112\n"
                                         "\"1949-02\",118\n\"1949-03\",132\n");
    expect_values("quoted header, by name", p, "Passengers", 0, want, 3);
    expect_values("by index", p, NULL, 1, want, 3);

    p = write_text("crlf.csv", "\"Month\",\"Passengers\"\r\n\"1949-01\",112\r\n"
                               "\"1949-02\",118\r\n\"1949-03\",132\r\n");
    expect_values("CRLF", p, "Passengers", 0, want, 3);
    p = write_text("crlf_nofinal.csv", "\"Month\",\"Passengers\"\r\n\"1949-01\",112\r\n"
                                       "\"1949-02\",118\r\n\"1949-03\",132");
    expect_values("CRLF, no final newline", p, "Passengers", 0, want, 3);
    p = write_text("nofinal.csv", "Month,Passengers\n1949-01,112\n1949-02,118\n1949-03,132");
    expect_values("unquoted, no final newline", p, "Passengers", 0, want, 3);
    p = write_text("cr.csv", "Month,Passengers\r1949-01,112\r1949-02,118\r1949-03,132\r");
    expect_values("old Mac line ends", p, "Passengers", 0, want, 3);

    /* Spaces around fields, quoted numbers, blank lines, a byte order mark. */
    p = write_text("loose.csv", "\xEF\xBB\xBF" "Month , \"Passengers\" \n\n"
                                "1949-01, \"112\"\n   \n1949-02 ,\" 118 \"\n1949-03,  132  \n\n");
    expect_values("spaces, quotes, blank lines, BOM", p, "Passengers", 0, want, 3);
    /* Found by name despite the BOM before it: the error is about its text values. */
    expect_error("BOM not part of the first name", p, "Month", 0, RNN_ERR_FORMAT,
                 "\"1949-01\"", "line 3");

    /* Quotes inside quoted names, separators and line breaks inside quotes. */
    p = write_text("quotes.csv", "\"a \"\"q\"\"\",\"b,\nc\",d\n1,2,3\n4,5,6\n");
    const float col0[2] = {1, 4}, col1[2] = {2, 5}, col2[2] = {3, 6};
    expect_values("escaped quotes in a name", p, "a \"q\"", 0, col0, 2);
    expect_values("separator and newline in a name", p, "b,\nc", 0, col1, 2);
    expect_values("column after a multi-line name", p, "d", 0, col2, 2);
    /* The quoted line break counts: the second data row is on line 4. */
    p = write_text("quotes_bad.csv", "\"a\",\"b,\nc\"\n1,2\n3,?\n");
    expect_error("line numbers after a quoted line break", p, "b,\nc", 0, RNN_ERR_FORMAT,
                 "line 4", NULL);

    /* Number notations strtod reads; values that round to zero are accepted. */
    p = write_text("notation.csv", "v\n-1.5\n+2\n1e3\n0x10\n1e-50\n.25\n");
    const float nums[6] = {-1.5f, 2.0f, 1000.0f, 16.0f, 0.0f, 0.25f};
    expect_values("number notations", p, "v", 0, nums, 6);

    /* Other columns' contents are ignored... */
    p = write_text("ragged.csv", "a,b\nx,1\n\"y\"z,2\n");
    const float ragged[2] = {1, 2};
    expect_values("text columns", p, "b", 0, ragged, 2);
    /* ...but a row with more fields than the header is refused, as pandas refuses it: the
     * columns are not what the header says. */
    p = write_text("extra.csv", "a,b\nx,1\ny,2,extra\n");
    expect_error("more fields than the header", p, "b", 0, RNN_ERR_FORMAT, "line 3", "3 fields, but the header has 2");

    /* The first of duplicate names wins. */
    p = write_text("dup.csv", "v,v\n1,2\n");
    const float first[1] = {1};
    expect_values("duplicate header names", p, "v", 0, first, 1);
}

static void test_errors(void) {
    const char *p = write_text("bad.csv", "a,b\n1,2\n3,x1\n");
    expect_error("non-numeric field", p, "b", 0, RNN_ERR_FORMAT, "line 3", "\"x1\"");
    p = write_text("bad_text_col.csv", "\"Month\",\"Passengers\"\n\"1949-01\",112\n");
    expect_error("text column", p, "Month", 0, RNN_ERR_FORMAT, "line 2", "\"Month\"");
    p = write_text("trailing.csv", "a\n1.5kg\n");
    expect_error("number with a suffix", p, "a", 0, RNN_ERR_FORMAT, "1.5kg", NULL);
    p = write_text("empty_field.csv", "a,b\n1,2\n3,\n");
    expect_error("empty field", p, "b", 0, RNN_ERR_FORMAT, "line 3", "empty");
    p = write_text("empty_quoted.csv", "a,b\n1,\"\"\n");
    expect_error("empty quoted field", p, "b", 0, RNN_ERR_FORMAT, "line 2", "empty");
    p = write_text("missing_field.csv", "a,b\n1,2\n\n3\n");
    expect_error("missing field", p, "b", 0, RNN_ERR_FORMAT, "line 4", "column 1 (\"b\")");
    p = write_text("na.csv", "a\n1\nNA\n");
    expect_error("NA", p, "a", 0, RNN_ERR_FORMAT, "line 3", "\"NA\"");
    p = write_text("nan.csv", "a\n1\nnan\n");
    expect_error("nan", p, "a", 0, RNN_ERR_NUMERIC, "line 3", "not finite");
    p = write_text("inf.csv", "a\n-inf\n");
    expect_error("inf", p, "a", 0, RNN_ERR_NUMERIC, "line 2", NULL);
    p = write_text("big.csv", "a\n1\n1e39\n");
    expect_error("beyond float", p, "a", 0, RNN_ERR_NUMERIC, "line 3", "float32");
    p = write_text("huge.csv", "a\n-1e400\n");
    expect_error("beyond double", p, "a", 0, RNN_ERR_NUMERIC, "line 2", "float32");
    p = write_file("nul.csv", "a\n1\0002\n", 6);
    expect_error("NUL byte in a number", p, "a", 0, RNN_ERR_FORMAT, "line 2", NULL);
    p = write_text("unterminated.csv", "a,b\n1,\"2\n3,4\n");
    expect_error("unterminated quote", p, "b", 0, RNN_ERR_FORMAT, "line 2", "never closed");

    p = write_text("header_only.csv", "\"Month\",\"Passengers\"\r\n");
    expect_error("header only", p, "Passengers", 0, RNN_ERR_FORMAT, "no data rows", NULL);
    p = write_text("empty.csv", "");
    expect_error("empty file", p, "Passengers", 0, RNN_ERR_FORMAT, "empty", NULL);
    p = write_text("blank.csv", "\n \r\n\t\n");
    expect_error("only blank lines", p, "Passengers", 0, RNN_ERR_FORMAT, "no header", NULL);

    p = write_text("names.csv", "\"Month\",\"Passengers\"\n\"1949-01\",112\n");
    expect_error("unknown column", p, "passengers", 0, RNN_ERR_ARGUMENT,
                 "\"Month\", \"Passengers\"", "\"passengers\"");
    expect_error("index past the header", p, NULL, 2, RNN_ERR_ARGUMENT, "no column 2",
                 "\"Passengers\"");
    expect_error("negative index", p, NULL, -1, RNN_ERR_ARGUMENT, "-1", NULL);

    char missing[600];
    snprintf(missing, sizeof missing, "%s/no_such_file.csv", tmp_dir);
    expect_error("missing file", missing, "a", 0, RNN_ERR_IO, "no_such_file.csv",
                 strerror(ENOENT));
    expect_error("a directory", tmp_dir, "a", 0, RNN_ERR_IO, tmp_dir, NULL);

    float *v;
    int64_t n;
    CHECK(rnn_csv_load_column(NULL, "a", 0, &v, &n) == RNN_ERR_ARGUMENT, "NULL path");
    CHECK(rnn_csv_load_column(p, "a", 0, NULL, &n) == RNN_ERR_ARGUMENT, "NULL values");
    CHECK(rnn_csv_load_column(p, "a", 0, &v, NULL) == RNN_ERR_ARGUMENT, "NULL n");

    const char *names[] = {"bad.csv", "bad_text_col.csv", "trailing.csv", "empty_field.csv",
                           "empty_quoted.csv", "missing_field.csv", "na.csv", "nan.csv",
                           "inf.csv", "big.csv", "huge.csv", "nul.csv", "unterminated.csv",
                           "header_only.csv", "empty.csv", "blank.csv", "names.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove_file(names[i]);
}

/* Lines far longer than any buffer: a header of 100001 columns, the last one selected. */
static void test_long_lines(void) {
    const int cols = 100001;
    size_t cap = (size_t)cols * 12 + 64; /* header ~7 bytes a column, rows 2 each */
    char *text = malloc(cap);
    CHECK(text != NULL, "malloc");
    if (!text) return;
    size_t k = 0;
    for (int i = 0; i < cols; i++) k += (size_t)sprintf(text + k, i ? ",c%d" : "c%d", i);
    text[k++] = '\n';
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < cols - 1; i++) k += (size_t)sprintf(text + k, "%d,", r);
        k += (size_t)sprintf(text + k, "%d\n", 7 + r);
    }
    const char *p = write_file("long.csv", text, k);
    const float want[2] = {7, 8};
    expect_values("last of 100001 columns by index", p, NULL, cols - 1, want, 2);
    expect_values("last of 100001 columns by name", p, "c100000", 0, want, 2);
    expect_error("unknown name in a wide header", p, "nope", 0, RNN_ERR_ARGUMENT, "c0", "...");

    /* One field of 1 MB of digits is still one number. */
    size_t big = 1 << 20;
    k = (size_t)sprintf(text, "v\n");
    char *grown = realloc(text, big + 16);
    CHECK(grown != NULL, "realloc");
    if (!grown) {
        free(text);
        return;
    }
    text = grown;
    text[k++] = '1';
    memset(text + k, '0', 30);
    k += 30;
    text[k++] = '.';
    memset(text + k, '0', big - k);
    k = big;
    text[k++] = '\n';
    p = write_file("long_field.csv", text, k);
    const float e30[1] = {1e30f};
    expect_values("a 1 MB number", p, "v", 0, e30, 1);
    free(text);
    remove_file("long.csv");
    remove_file("long_field.csv");

    /* An endless source (/dev/zero: NUL bytes, no line break) ends at the header's bound with
     * an error; it used to grow the header buffer until memory ran out. */
    expect_error("an endless header", "/dev/zero", "v", 0, RNN_ERR_FORMAT, "header row",
                 "not a CSV header");
}

/* Arbitrary bytes must give a clean result or a clean error, never a crash or a leak (run the
 * test under AddressSanitizer to see the latter). */
static void test_garbage(void) {
    static const char alphabet[] = "0123456789.,\"\r\n \t-+eEaxn\0\xEF\xBB\xBF\xFF";
    uint64_t state = 12345;
    char buf[300];
    int clean = 1;
    for (int round = 0; round < 3000; round++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = (size_t)(state >> 33) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[i] = alphabet[(state >> 33) % (sizeof alphabet - 1)];
        }
        const char *p = write_file("garbage.csv", buf, len);
        float *v = NULL;
        int64_t n = -1;
        rnn_status st = rnn_csv_load_column(p, NULL, (int)(round % 3), &v, &n);
        if (st == RNN_OK ? (n < 1 || v == NULL) : (n != 0 || v != NULL)) clean = 0;
        if (st != RNN_OK && rnn_last_error()[0] == '\0') clean = 0;
        free(v);
    }
    CHECK(clean, "every garbage file gives values or a clean error");
    remove_file("garbage.csv");
}

static void test_airline_file(void) {
    const char *path = "../shared/data/airline-passengers.csv";
    if (access(path, R_OK) != 0) {
        printf("test_csv: %s not found, airline check skipped\n", path);
        return;
    }
    float *v = NULL;
    int64_t n = 0;
    rnn_status st = rnn_csv_load_column(path, "Passengers", 0, &v, &n);
    CHECK(st == RNN_OK, "airline: %s", rnn_last_error());
    if (st != RNN_OK) return;
    CHECK(n == 144, "airline: %lld values", (long long)n);
    CHECK(v[0] == 112.0f, "airline first value %g", v[0]);
    CHECK(v[n - 1] == 432.0f, "airline last value %g", v[n - 1]);
    free(v);
    expect_error("airline Month column", path, "Month", 0, RNN_ERR_FORMAT, "line 2",
                 "\"1949-01\"");
}

int main(void) {
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    test_dialects();
    test_errors();
    test_long_lines();
    test_garbage();
    test_airline_file();
    const char *made[] = {"lf.csv", "crlf.csv", "crlf_nofinal.csv", "nofinal.csv", "cr.csv",
                          "loose.csv", "quotes.csv", "quotes_bad.csv", "notation.csv",
                          "ragged.csv", "extra.csv", "dup.csv"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) remove_file(made[i]);
    if (rmdir(tmp_dir) != 0) fprintf(stderr, "warning: cannot remove %s\n", tmp_dir);
    return check_report("test_csv");
}
