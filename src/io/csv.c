/* rnn_csv_load_column: one numeric column of a CSV file with a header row.
 *
 * The file is read in fixed chunks through a small state machine, so lines and fields of any
 * length and any bytes (NUL included) are handled without crashing; only the header names and
 * the one wanted field of the current row are ever kept. The dialect is what pandas.read_csv
 * accepts for the usual tutorial files:
 *  - fields separated by ',', records ended by "\n", "\r\n" or a lone "\r", or by the end of
 *    the file (a missing final newline is fine);
 *  - a field may be quoted ("Passengers"); inside quotes "" is a quote and separators and line
 *    breaks are ordinary characters; bytes after a closing quote are kept (as Python's csv does);
 *  - spaces and tabs around a field (outside quotes) are ignored; lines holding nothing but
 *    spaces and tabs are skipped; a UTF-8 byte order mark before the header is skipped;
 *  - a data row may not have more fields than the header (pandas refuses those too).
 * Every data row must hold the column, as a number strtod reads completely (in the C locale's
 * notation, the default of a program that never calls setlocale) and that fits a float.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rnn.h"

#define CSV_CHUNK 65536
/* Bounds on what is kept in memory, so that an endless or hostile source (a pipe, /dev/zero, a
 * file without line breaks) ends in an error instead of growing without bound: the header's
 * names together (1 MiB: tens of thousands of column names), and the one field read from each
 * data row (16 MiB: far beyond any number, even one written with a million leading zeros). */
#define CSV_HEADER_MAX ((size_t)1 << 20)
#define CSV_FIELD_MAX ((size_t)1 << 24)
/* How much of a field or header name is quoted in an error message. */
#define CSV_SHOWN 40

/* ------------------------------------------------------------------ buffered reader */

typedef struct {
    FILE *f;
    const char *path;
    size_t pos, len;
    int at_end;        /* fread came back short: nothing more will come */
    int io_errno;      /* non-zero once a read failed (errno, or EIO if fread left none) */
    long long line;    /* 1-based line number of the next byte */
    unsigned char buf[CSV_CHUNK];
} csv_reader;

static int rd_get(csv_reader *r) {
    if (r->pos == r->len) {
        if (r->at_end) return EOF;
        errno = 0;
        r->len = fread(r->buf, 1, sizeof r->buf, r->f);
        r->pos = 0;
        /* fread only returns less than asked at the end of the file or on an error. */
        if (r->len < sizeof r->buf) {
            r->at_end = 1;
            if (ferror(r->f)) r->io_errno = errno ? errno : EIO;
        }
        if (r->len == 0) return EOF;
    }
    return r->buf[r->pos++];
}

static int rd_peek(csv_reader *r) {
    int c = rd_get(r);
    if (c != EOF) r->pos--; /* rd_get just returned buf[pos-1], so stepping back is valid */
    return c;
}

/* c is '\n' or '\r': consumes the '\n' of a "\r\n" pair and counts one line. */
static void rd_line_break(csv_reader *r, int c) {
    if (c == '\r' && rd_peek(r) == '\n') (void)rd_get(r);
    r->line++;
}

/* ------------------------------------------------------------------ growable storage */

typedef struct {
    char *p;
    size_t len, cap; /* cap > len always leaves room for a terminating NUL */
    size_t limit;    /* most bytes ever kept; reaching it fails the push */
} byte_buf;

static int bytes_push(byte_buf *b, char c) {
    if (b->len + 1 >= b->limit) return -1;
    if (b->cap - b->len < 2) {
        if (b->cap > SIZE_MAX / 2) return -1;
        size_t cap = b->cap ? b->cap * 2 : 64;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->len++] = c;
    return 0;
}

/* One record. keep selects the field whose bytes are stored: one index for data rows, or -1
 * for the header, whose fields are all stored back to back with their end offsets in ends. */
typedef struct {
    long long keep;
    byte_buf text;
    size_t *ends;
    size_t n_ends, cap_ends;
    long long fields; /* fields seen so far: also the index of the field being read */
    long long line;   /* line the record starts on */
} csv_record;

/* Whether the bytes of the field being read are stored. */
static int keeping(const csv_record *rec) { return rec->keep < 0 || rec->fields == rec->keep; }

static int record_end_field(csv_record *rec, size_t field_start, size_t trim_floor) {
    if (keeping(rec)) {
        /* Spaces after a field are layout, not content; quoted ones (below trim_floor) stay. */
        size_t floor_at = trim_floor > field_start ? trim_floor : field_start;
        while (rec->text.len > floor_at &&
               (rec->text.p[rec->text.len - 1] == ' ' || rec->text.p[rec->text.len - 1] == '\t'))
            rec->text.len--;
    }
    if (rec->keep < 0) {
        if (rec->n_ends == rec->cap_ends) {
            if (rec->cap_ends > SIZE_MAX / 2 / sizeof(size_t)) return -1;
            size_t cap = rec->cap_ends ? rec->cap_ends * 2 : 16;
            size_t *e = realloc(rec->ends, cap * sizeof(size_t));
            if (!e) return -1;
            rec->ends = e;
            rec->cap_ends = cap;
        }
        rec->ends[rec->n_ends++] = rec->text.len;
    }
    rec->fields++;
    return 0;
}

/* ------------------------------------------------------------------ record parser */

enum { AT_FIELD_START, IN_UNQUOTED, IN_QUOTED, QUOTE_IN_QUOTED, AFTER_QUOTED };

/* Reads the next non-blank record. Returns 1 with *rec filled, 0 at the end of the file, or -1
 * after rnn__fail, with the status in *st. */
static int read_record(csv_reader *r, csv_record *rec, rnn_status *st) {
    for (;;) {
        rec->text.len = 0;
        rec->n_ends = 0;
        rec->fields = 0;
        rec->line = r->line;
        int state = AT_FIELD_START;
        int blank = 1; /* nothing but spaces and tabs so far */
        size_t field_start = 0, trim_floor = 0;
        long long quote_line = 0;
        for (;;) {
            int c = rd_get(r);
            if (c == EOF && r->io_errno) {
                *st = rnn__fail(RNN_ERR_IO, "error reading CSV file '%s' (line %lld): %s",
                                r->path, r->line, strerror(r->io_errno));
                return -1;
            }
            if (state == IN_QUOTED) {
                if (c == EOF) {
                    *st = rnn__fail(RNN_ERR_FORMAT,
                                    "CSV file '%s': the quoted field opened on line %lld is "
                                    "never closed",
                                    r->path, quote_line);
                    return -1;
                }
                if (c == '"') {
                    state = QUOTE_IN_QUOTED;
                    continue;
                }
                if (c == '\n' || c == '\r') {
                    /* A line break inside quotes is data; "\r\n" is kept whole. */
                    int next = c == '\r' ? rd_peek(r) : EOF;
                    rd_line_break(r, c);
                    if (keeping(rec) &&
                        (bytes_push(&rec->text, (char)c) != 0 ||
                         (next == '\n' && bytes_push(&rec->text, '\n') != 0)))
                        goto out_of_memory;
                    continue;
                }
                if (keeping(rec) && bytes_push(&rec->text, (char)c) != 0)
                    goto out_of_memory;
                continue;
            }
            if (state == QUOTE_IN_QUOTED) {
                if (c == '"') { /* "" inside quotes is one quote character */
                    if (keeping(rec) && bytes_push(&rec->text, '"') != 0)
                        goto out_of_memory;
                    state = IN_QUOTED;
                    continue;
                }
                state = AFTER_QUOTED;
                trim_floor = rec->text.len;
                /* c is handled below like any character after a closing quote. */
            }
            if (c == EOF || c == '\n' || c == '\r') {
                if (blank) {
                    if (c == EOF) return 0;
                    rd_line_break(r, c);
                    break; /* a blank line: start over on the next one */
                }
                if (record_end_field(rec, field_start, trim_floor) != 0) goto out_of_memory;
                if (c != EOF) rd_line_break(r, c);
                return 1;
            }
            if (c == ',') {
                blank = 0;
                if (record_end_field(rec, field_start, trim_floor) != 0) goto out_of_memory;
                state = AT_FIELD_START;
                field_start = trim_floor = rec->text.len;
                continue;
            }
            if (state == AT_FIELD_START) {
                if (c == ' ' || c == '\t') continue;
                blank = 0;
                if (c == '"') {
                    state = IN_QUOTED;
                    quote_line = r->line;
                    continue;
                }
                state = IN_UNQUOTED;
            }
            blank = 0;
            if (keeping(rec) && bytes_push(&rec->text, (char)c) != 0)
                goto out_of_memory;
        }
    }
out_of_memory:
    if (rec->text.len + 1 >= rec->text.limit)
        *st = rnn__fail(RNN_ERR_FORMAT,
                        rec->keep < 0 ? "CSV file '%s': the header row (line %lld) is longer than %zu "
                                        "bytes: not a CSV header"
                                      : "CSV file '%s', line %lld: the field is longer than %zu bytes: "
                                        "not a number",
                        r->path, rec->line, rec->text.limit - 1);
    else
        *st = rnn__fail(RNN_ERR_MEMORY, "CSV file '%s': out of memory on line %lld", r->path,
                        rec->line);
    return -1;
}

/* ------------------------------------------------------------------ messages */

/* Copies at most CSV_SHOWN bytes of s for a message: control bytes become '?', and a cut never
 * splits a UTF-8 sequence. */
static void describe(char *out, size_t out_size, const char *s, size_t len) {
    size_t shown = len;
    int cut = 0;
    if (shown > CSV_SHOWN) {
        shown = CSV_SHOWN;
        while (shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80) shown--;
        cut = 1;
    }
    if (shown + 4 > out_size) shown = out_size > 4 ? out_size - 4 : 0;
    size_t k = 0;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut && out_size >= 4) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* The bytes of a field that starts at `start` in rec's text. A record whose fields are all empty
 * ("" or ,,) has no text buffer at all: NULL + 0 is undefined in C, so it reads as "". */
static const char *field_at(const csv_record *rec, size_t start) {
    return rec->text.p ? rec->text.p + start : "";
}

/* "\"Month\", \"Passengers\"" for the header in rec, cut to fit out. */
static void list_header(char *out, size_t out_size, const csv_record *rec) {
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < rec->n_ends; i++) {
        size_t start = i ? rec->ends[i - 1] : 0;
        char name[CSV_SHOWN + 4];
        describe(name, sizeof name, field_at(rec, start), rec->ends[i] - start);
        char item[sizeof name + 8];
        int w = snprintf(item, sizeof item, "%s\"%s\"", i ? ", " : "", name);
        if (w < 0) return;
        /* Room is kept for a final ", ... (N columns)" note. */
        if (k + (size_t)w + 40 >= out_size) {
            snprintf(out + k, out_size - k, ", ... (%zu columns)", rec->n_ends);
            return;
        }
        memcpy(out + k, item, (size_t)w + 1);
        k += (size_t)w;
    }
}

/* ------------------------------------------------------------------ loading */

static long long find_column(const csv_record *header, const char *name, int index) {
    if (!name) return index < 0 || (size_t)index >= header->n_ends ? -1 : index;
    size_t want = strlen(name);
    for (size_t i = 0; i < header->n_ends; i++) {
        size_t start = i ? header->ends[i - 1] : 0;
        if (header->ends[i] - start == want && memcmp(field_at(header, start), name, want) == 0)
            return (long long)i;
    }
    return -1;
}

/* Parses the kept field of a data row into *out, or fails naming the line and column. */
static rnn_status parse_value(const csv_reader *r, csv_record *rec, const char *label,
                              float *out) {
    char *s = rec->text.p;
    size_t len = rec->text.len;
    /* Quoted values may carry spaces inside the quotes: " 112 " still reads as 112. */
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len == 0)
        return rnn__fail(RNN_ERR_FORMAT, "CSV file '%s', line %lld, column %lld (%s): empty field",
                         r->path, rec->line, rec->keep, label);
    char shown[CSV_SHOWN + 4];
    describe(shown, sizeof shown, s, len);
    s[len] = '\0'; /* byte_buf always leaves room for this */
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    int range_error = errno == ERANGE;
    /* end short of len also catches NUL bytes inside the field. */
    if (end != s + len)
        return rnn__fail(RNN_ERR_FORMAT,
                         "CSV file '%s', line %lld, column %lld (%s): \"%s\" is not a number",
                         r->path, rec->line, rec->keep, label, shown);
    if (isnan(d) || (isinf(d) && !range_error))
        return rnn__fail(RNN_ERR_NUMERIC,
                         "CSV file '%s', line %lld, column %lld (%s): \"%s\" is not finite",
                         r->path, rec->line, rec->keep, label, shown);
    /* Underflow to zero or a subnormal is plain rounding and accepted; overflow is not. */
    if (fabs(d) > FLT_MAX)
        return rnn__fail(RNN_ERR_NUMERIC,
                         "CSV file '%s', line %lld, column %lld (%s): %s is outside the float32 "
                         "range (largest %g)",
                         r->path, rec->line, rec->keep, label, shown, (double)FLT_MAX);
    *out = (float)d;
    return RNN_OK;
}

static rnn_status load_values(csv_reader *r, const char *column_name, int column_index,
                              float **out, int64_t *count) {
    csv_record rec = {0};
    rec.keep = -1;
    rec.text.limit = CSV_HEADER_MAX + 1;
    rnn_status st = RNN_OK;
    float *vals = NULL;
    size_t n_vals = 0, cap = 0;

    int got = read_record(r, &rec, &st);
    if (got < 0) goto done;
    if (got == 0) {
        st = rnn__fail(RNN_ERR_FORMAT, "CSV file '%s' is empty: no header row", r->path);
        goto done;
    }
    long long col = find_column(&rec, column_name, column_index);
    if (col < 0) {
        char names[320], want[CSV_SHOWN + 4];
        list_header(names, sizeof names, &rec);
        if (column_name) {
            describe(want, sizeof want, column_name, strlen(column_name));
            st = rnn__fail(RNN_ERR_ARGUMENT,
                           "CSV file '%s' has no column \"%s\"; its header has %zu: %s",
                           r->path, want, rec.n_ends, names);
        } else {
            st = rnn__fail(RNN_ERR_ARGUMENT,
                           "CSV file '%s' has no column %d; its header has %zu: %s", r->path,
                           column_index, rec.n_ends, names);
        }
        goto done;
    }
    /* The header is reused for the rows: keep the column's name for messages first. */
    char label[CSV_SHOWN + 8], name[CSV_SHOWN + 4];
    size_t start = col ? rec.ends[col - 1] : 0;
    describe(name, sizeof name, field_at(&rec, start), rec.ends[col] - start);
    snprintf(label, sizeof label, "\"%s\"", name);
    rec.keep = col;
    rec.text.limit = CSV_FIELD_MAX + 1;
    const long long header_fields = (long long)rec.n_ends;

    for (;;) {
        got = read_record(r, &rec, &st);
        if (got < 0) goto done;
        if (got == 0) break;
        if (rec.fields <= col) {
            st = rnn__fail(RNN_ERR_FORMAT,
                           "CSV file '%s', line %lld: %lld field(s), so column %lld (%s) is "
                           "missing",
                           r->path, rec.line, rec.fields, col, label);
            goto done;
        }
        if (rec.fields > header_fields) {
            /* pandas.read_csv refuses these too ("Expected 2 fields in line 3, saw 3"): a field
             * too many means the columns are not what the header says. */
            st = rnn__fail(RNN_ERR_FORMAT,
                           "CSV file '%s', line %lld: %lld fields, but the header has %lld",
                           r->path, rec.line, rec.fields, header_fields);
            goto done;
        }
        float v = 0.0f; /* set by parse_value on success */
        st = parse_value(r, &rec, label, &v);
        if (st != RNN_OK) goto done;
        if (n_vals == cap) {
            if (cap > SIZE_MAX / 2 / sizeof(float) || cap > (size_t)INT64_MAX / 2) {
                st = rnn__fail(RNN_ERR_MEMORY, "CSV file '%s': too many rows", r->path);
                goto done;
            }
            size_t ncap = cap ? cap * 2 : 256;
            float *p = realloc(vals, ncap * sizeof(float));
            if (!p) {
                st = rnn__fail(RNN_ERR_MEMORY, "CSV file '%s': out of memory at line %lld",
                               r->path, rec.line);
                goto done;
            }
            vals = p;
            cap = ncap;
        }
        vals[n_vals++] = v;
    }
    if (n_vals == 0) {
        st = rnn__fail(RNN_ERR_FORMAT, "CSV file '%s' has a header but no data rows", r->path);
        goto done;
    }
    /* Give back the unused tail; keeping the larger block is harmless if that fails. */
    float *fit = realloc(vals, n_vals * sizeof(float));
    if (fit) vals = fit;

done:
    free(rec.text.p);
    free(rec.ends);
    if (st != RNN_OK) {
        free(vals);
        return st;
    }
    *out = vals;
    *count = (int64_t)n_vals;
    return RNN_OK;
}

rnn_status rnn_csv_load_column(const char *path, const char *column_name, int column_index,
                               float **values, int64_t *n) {
    if (values) *values = NULL;
    if (n) *n = 0;
    if (!path || !values || !n)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_csv_load_column: path, values or n is NULL");
    if (!column_name && column_index < 0)
        return rnn__fail(RNN_ERR_ARGUMENT,
                         "rnn_csv_load_column: column_index is %d; give a name or an index >= 0",
                         column_index);

    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return rnn__fail(RNN_ERR_IO, "cannot open CSV file '%s': %s", path, strerror(e));
    }
    /* The reader holds a 64 KiB buffer: on the heap, so that small thread stacks are safe. */
    csv_reader *r = malloc(sizeof *r);
    if (!r) {
        (void)fclose(f); /* the out-of-memory error is the one to report */
        return rnn__fail(RNN_ERR_MEMORY, "rnn_csv_load_column: out of memory");
    }
    r->f = f;
    r->path = path;
    r->pos = r->len = 0;
    r->at_end = 0;
    r->io_errno = 0;
    r->line = 1;
    /* A UTF-8 byte order mark (as spreadsheet programs write) is not part of the first name. */
    if (rd_peek(r) == 0xEF && r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) r->pos = 3;

    float *vals = NULL;
    int64_t count = 0;
    rnn_status st = load_values(r, column_name, column_index, &vals, &count);
    free(r);
    if (fclose(f) != 0 && st == RNN_OK) {
        int e = errno;
        free(vals);
        return rnn__fail(RNN_ERR_IO, "error closing CSV file '%s': %s", path, strerror(e));
    }
    if (st != RNN_OK) return st;
    *values = vals;
    *n = count;
    rnn__clear_error();
    return RNN_OK;
}
