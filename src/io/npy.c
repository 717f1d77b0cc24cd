/* NumPy .npy files: rnn_npy_load and rnn_npy_save.
 *
 * The format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor version byte, the
 * header length (uint16 little-endian in version 1.0, uint32 in 2.0 and 3.0), then the header, a
 * Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (4, 7, 3), }
 * padded with spaces and ended by '\n', then the array's bytes in C order.
 *
 * Reading accepts versions 1.0, 2.0 and 3.0 (3.0 differs only in allowing UTF-8 in the header,
 * which the dtypes read here never need), the dtypes float32, float64, int32 and int64 in
 * little-endian byte order ('<f4', '<f8', '<i4', '<i8'), C order, and ranks 0 to RNN_MAX_RANK
 * (a rank-0 scalar loads as shape (1,)). The header is parsed by a small strict parser, never
 * evaluated: exactly the three keys, each once; anything else is an error naming what is
 * wrong. The file's size must equal the header plus the data, checked before any allocation,
 * so an absurd shape costs nothing. Values are decoded byte by byte, so the code does not
 * depend on the host's byte order.
 *
 * Writing produces version 1.0 float32 ('<f4') files with the header np.save writes (the same
 * bytes as np.save(path, a.astype('<f4'))), through io/output_file.c: a temporary file in the
 * target's directory, flushed and renamed over the target (a failed save leaves the target as it
 * was and no temporary file behind); symlinks written through, devices and FIFOs written in
 * place. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "io/output_file.h"
#include "rnn.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Real headers are under 200 bytes; numpy itself refuses more than 10,000 by default. */
#define NPY_MAX_HEADER (1 << 16)
/* Same bound as the library puts on one input array: 2^34 elements. */
#define NPY_MAX_ELEMENTS ((int64_t)1 << 34)
/* How much of a bad header is quoted in an error message. */
#define NPY_SHOWN 60

typedef enum { NPY_F4 = 0, NPY_F8, NPY_I4, NPY_I8 } npy_dtype;

/* ---------------------------------------------------------------- header parser */

typedef struct {
    const char *s;
    size_t n, pos;
    const char *path;
} npy_parser;

static void skip_space(npy_parser *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

/* Copies (at most NPY_SHOWN bytes of) the header from the parser's position into buf with
 * non-printable bytes as '?', for error messages. */
static const char *shown_at(const npy_parser *p, char *buf, size_t size) {
    size_t k = 0;
    for (size_t i = p->pos; i < p->n && k + 1 < size && k < NPY_SHOWN; i++) {
        unsigned char c = (unsigned char)p->s[i];
        buf[k++] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    buf[k] = '\0';
    if (k == 0) snprintf(buf, size, "<end of header>");
    return buf;
}

static rnn_status header_error(const npy_parser *p, const char *what) {
    char near[NPY_SHOWN + 16];
    return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': malformed header: %s at byte %zu (near "
                     "\"%s\")", p->path, what, p->pos, shown_at(p, near, sizeof near));
}

static int expect_char(npy_parser *p, char c) {
    skip_space(p);
    if (p->pos < p->n && p->s[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

/* A Python string literal in single or double quotes without escapes (none of the values read
 * here can contain one). Writes at most size-1 bytes; a longer string is an error. */
static rnn_status parse_string(npy_parser *p, char *out, size_t size) {
    skip_space(p);
    if (p->pos >= p->n || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return header_error(p, "expected a quoted string");
    char quote = p->s[p->pos++];
    size_t k = 0;
    while (p->pos < p->n && p->s[p->pos] != quote) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '\\' || c < 32 || c >= 127) return header_error(p, "unexpected byte in a string");
        if (k + 1 >= size) return header_error(p, "string too long");
        out[k++] = (char)c;
        p->pos++;
    }
    if (p->pos >= p->n) return header_error(p, "unterminated string");
    p->pos++;
    out[k] = '\0';
    return RNN_OK;
}

static rnn_status parse_bool(npy_parser *p, int *value) {
    skip_space(p);
    if (p->n - p->pos >= 4 && memcmp(p->s + p->pos, "True", 4) == 0) {
        p->pos += 4;
        *value = 1;
    } else if (p->n - p->pos >= 5 && memcmp(p->s + p->pos, "False", 5) == 0) {
        p->pos += 5;
        *value = 0;
    } else {
        return header_error(p, "expected True or False");
    }
    return RNN_OK;
}

/* A tuple of non-negative integers: "()", "(5,)", "(4, 7, 3)", a trailing comma allowed; numpy
 * may write an "L" suffix (Python 2 longs). Dimensions above 2^40 are refused here already. */
static rnn_status parse_shape(npy_parser *p, int *rank, int64_t dims[RNN_MAX_RANK]) {
    if (!expect_char(p, '(')) return header_error(p, "expected '(' to open the shape");
    *rank = 0;
    for (;;) {
        skip_space(p);
        if (p->pos < p->n && p->s[p->pos] == ')') {
            p->pos++;
            break;
        }
        if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return header_error(p, "expected a non-negative integer in the shape");
        int64_t v = 0;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            v = v * 10 + (p->s[p->pos] - '0');
            if (v > ((int64_t)1 << 40))
                return header_error(p, "a dimension of the shape is absurdly large");
            p->pos++;
        }
        if (p->pos < p->n && (p->s[p->pos] == 'L' || p->s[p->pos] == 'l')) p->pos++;
        if (*rank >= RNN_MAX_RANK)
            return rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': the array has more than %d "
                             "dimensions (at most %d are supported)", p->path, RNN_MAX_RANK,
                             RNN_MAX_RANK);
        dims[(*rank)++] = v;
        skip_space(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
        } else if (p->pos < p->n && p->s[p->pos] == ')') {
            /* "(5)" is not a tuple in Python, but its meaning is plain; numpy never writes it. */
            if (*rank == 1) return header_error(p, "a one-element shape needs a comma: (n,)");
        } else {
            return header_error(p, "expected ',' or ')' in the shape");
        }
    }
    return RNN_OK;
}

static rnn_status parse_header(const char *path, const char *s, size_t n, npy_dtype *dtype,
                               int *rank, int64_t dims[RNN_MAX_RANK]) {
    npy_parser p = {s, n, 0, path};
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
    char descr[32] = "";
    rnn_status st;
    if (!expect_char(&p, '{')) return header_error(&p, "expected '{' (a Python dict)");
    for (;;) {
        skip_space(&p);
        if (p.pos < p.n && p.s[p.pos] == '}') {
            p.pos++;
            break;
        }
        char key[32];
        if ((st = parse_string(&p, key, sizeof key))) return st;
        if (!expect_char(&p, ':')) return header_error(&p, "expected ':' after a key");
        if (!strcmp(key, "descr")) {
            if (have_descr) return header_error(&p, "duplicate key 'descr'");
            have_descr = 1;
            skip_space(&p);
            if (p.pos < p.n && (p.s[p.pos] == '[' || p.s[p.pos] == '{'))
                return rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': structured dtypes "
                                 "(record arrays) are not supported; supported dtypes: float32 "
                                 "'<f4', float64 '<f8', int32 '<i4', int64 '<i8'", path);
            if ((st = parse_string(&p, descr, sizeof descr))) return st;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_order) return header_error(&p, "duplicate key 'fortran_order'");
            have_order = 1;
            if ((st = parse_bool(&p, &fortran))) return st;
        } else if (!strcmp(key, "shape")) {
            if (have_shape) return header_error(&p, "duplicate key 'shape'");
            have_shape = 1;
            if ((st = parse_shape(&p, rank, dims))) return st;
        } else {
            return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': malformed header: unexpected key "
                             "'%s' (a .npy header has exactly 'descr', 'fortran_order' and "
                             "'shape')", path, key);
        }
        skip_space(&p);
        if (p.pos < p.n && p.s[p.pos] == ',') {
            p.pos++;
        } else if (!(p.pos < p.n && p.s[p.pos] == '}')) {
            return header_error(&p, "expected ',' or '}' after a value");
        }
    }
    skip_space(&p);
    if (p.pos != p.n) return header_error(&p, "unexpected bytes after the dict");
    if (!have_descr || !have_order || !have_shape)
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': malformed header: the key '%s' is "
                         "missing", path, !have_descr ? "descr" : !have_order ? "fortran_order"
                                                                               : "shape");
    if (!strcmp(descr, "<f4"))
        *dtype = NPY_F4;
    else if (!strcmp(descr, "<f8"))
        *dtype = NPY_F8;
    else if (!strcmp(descr, "<i4"))
        *dtype = NPY_I4;
    else if (!strcmp(descr, "<i8"))
        *dtype = NPY_I8;
    else if (descr[0] == '>' && (!strcmp(descr + 1, "f4") || !strcmp(descr + 1, "f8") ||
                                 !strcmp(descr + 1, "i4") || !strcmp(descr + 1, "i8")))
        return rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': big-endian dtype '%s' is not "
                         "supported (save it little-endian: a.astype('<%s'))", path, descr,
                         descr + 1);
    else
        return rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': unsupported dtype '%s' (supported: "
                         "float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8')", path, descr);
    if (fortran)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': fortran_order is True; only C-order "
                         "arrays are supported (save np.ascontiguousarray(a))", path);
    return RNN_OK;
}

/* ---------------------------------------------------------------- load */

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const unsigned char *b) {
    return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

/* A double as the nearest float; finite values beyond float's range become +-Inf (a plain
 * conversion of such a value is undefined behaviour in C). */
static float narrow(double d) {
    if (d > FLT_MAX) return INFINITY;
    if (d < -FLT_MAX) return -INFINITY;
    return (float)d;
}

/* Decodes `count` values of `dtype` from raw little-endian bytes into floats. */
static void decode(float *out, const unsigned char *raw, int64_t count, npy_dtype dtype) {
    for (int64_t i = 0; i < count; i++) {
        switch (dtype) {
        case NPY_F4: {
            uint32_t u = le32(raw + 4 * i);
            memcpy(&out[i], &u, 4);
            break;
        }
        case NPY_F8: {
            uint64_t u = le64(raw + 8 * i);
            double d;
            memcpy(&d, &u, 8);
            out[i] = narrow(d);
            break;
        }
        case NPY_I4:
            out[i] = (float)(int32_t)le32(raw + 4 * i);
            break;
        case NPY_I8:
            out[i] = (float)(int64_t)le64(raw + 8 * i);
            break;
        }
    }
}

static const char *dtype_name(npy_dtype d) {
    static const char *const names[] = {"float32", "float64", "int32", "int64"};
    return names[d];
}

/* What a .npy header says, with the file size checked against it (regular files). */
typedef struct {
    npy_dtype dtype;
    int rank;
    int64_t dims[RNN_MAX_RANK];
    int64_t count, data_bytes, data_start;
    int regular;
} npy_info;

static rnn_status read_header(const char *path, FILE *f, npy_info *info) {
    unsigned char pre[NPY_MAGIC_LEN + 2 + 4];
    size_t got = fread(pre, 1, NPY_MAGIC_LEN + 2, f);
    if (got == 0 && !ferror(f))
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': the file is empty", path);
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': not a NumPy .npy file (the magic "
                         "\"\\x93NUMPY\" is missing%s)", path, ferror(f) ? ": read error" : "");
    if (got < NPY_MAGIC_LEN + 2)
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': truncated before the version bytes", path);
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': format version %d.%d is not "
                         "supported (1.0, 2.0 and 3.0 are)", path, major, minor);
    size_t len_bytes = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, len_bytes, f) != len_bytes)
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': truncated in the header length", path);
    uint32_t header_len = major == 1 ? (uint32_t)(pre[8] | pre[9] << 8) : le32(pre + 8);
    if (header_len > NPY_MAX_HEADER)
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': the header claims %u bytes (more than "
                         "%d: corrupt)", path, (unsigned)header_len, NPY_MAX_HEADER);
    char *header = malloc((size_t)header_len + 1);
    if (!header) return rnn__fail(RNN_ERR_MEMORY, "npy file '%s': out of memory", path);
    if (fread(header, 1, header_len, f) != header_len) {
        free(header);
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': truncated in the header (%u bytes "
                         "announced)", path, (unsigned)header_len);
    }
    header[header_len] = '\0';
    npy_dtype dtype = NPY_F4;
    int rank = 0;
    int64_t dims[RNN_MAX_RANK] = {0};
    rnn_status st = parse_header(path, header, header_len, &dtype, &rank, dims);
    free(header);
    if (st != RNN_OK) return st;

    int64_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] != 0 && count > NPY_MAX_ELEMENTS / dims[i])
            return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': the shape's element count "
                             "overflows or exceeds 2^34", path);
        count *= dims[i];
    }
    if (count > NPY_MAX_ELEMENTS)
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': the shape's element count exceeds 2^34",
                         path);
    const int64_t item = (dtype == NPY_F4 || dtype == NPY_I4) ? 4 : 8;
    const int64_t data_bytes = count * item;
    const int64_t data_start = NPY_MAGIC_LEN + 2 + (int64_t)len_bytes + header_len;
    info->dtype = dtype;
    info->rank = rank;
    for (int i = 0; i < RNN_MAX_RANK; i++) info->dims[i] = dims[i];
    info->count = count;
    info->data_bytes = data_bytes;
    info->data_start = data_start;

    /* A regular file's size is known: check it before allocating for the shape. */
    struct stat sb;
    int regular = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    if (regular && (int64_t)sb.st_size != data_start + data_bytes) {
        if ((int64_t)sb.st_size < data_start + data_bytes)
            return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': truncated: the shape needs %lld "
                             "bytes of %s data but the file has %lld after the header", path,
                             (long long)data_bytes, dtype_name(dtype),
                             (long long)((int64_t)sb.st_size - data_start));
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': %lld unexpected bytes after the %lld "
                         "bytes of data the shape describes", path,
                         (long long)((int64_t)sb.st_size - data_start - data_bytes),
                         (long long)data_bytes);
    }
    info->regular = regular;
    return RNN_OK;
}

static void shape_out(const npy_info *info, rnn_tensor *out) {
    if (info->rank == 0) { /* a NumPy scalar: one value, seen as shape (1,) */
        out->rank = 1;
        out->shape[0] = 1;
    } else {
        out->rank = info->rank;
        for (int i = 0; i < info->rank; i++) out->shape[i] = info->dims[i];
    }
}

static rnn_status load_impl(const char *path, FILE *f, rnn_tensor *out) {
    npy_info info;
    rnn_status st = read_header(path, f, &info);
    if (st != RNN_OK) return st;
    const npy_dtype dtype = info.dtype;
    const int64_t count = info.count, data_bytes = info.data_bytes;
    const int regular = info.regular;
    if ((uint64_t)data_bytes > SIZE_MAX / 2)
        return rnn__fail(RNN_ERR_MEMORY, "npy file '%s': too large for this machine", path);

    unsigned char *raw = malloc((size_t)(data_bytes ? data_bytes : 1));
    float *data = malloc(sizeof(float) * (size_t)(count ? count : 1));
    if (!raw || !data) {
        free(raw);
        free(data);
        return rnn__fail(RNN_ERR_MEMORY, "npy file '%s': out of memory for %lld values", path,
                         (long long)count);
    }
    if (fread(raw, 1, (size_t)data_bytes, f) != (size_t)data_bytes) {
        int err = ferror(f);
        free(raw);
        free(data);
        return rnn__fail(err ? RNN_ERR_IO : RNN_ERR_FORMAT, "npy file '%s': %s in the data",
                         path, err ? "read error" : "truncated");
    }
    if (!regular && fgetc(f) != EOF) {
        free(raw);
        free(data);
        return rnn__fail(RNN_ERR_FORMAT, "npy file '%s': unexpected bytes after the data", path);
    }
    decode(data, raw, count, dtype);
    free(raw);

    memset(out, 0, sizeof *out);
    out->data = data;
    out->owned = 1;
    shape_out(&info, out);
    return RNN_OK;
}

rnn_status rnn_npy_load(const char *path, rnn_tensor *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return rnn__fail(RNN_ERR_IO, "npy file '%s': cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return rnn__fail(RNN_ERR_IO, "npy file '%s': is a directory", path);
    }
    rnn_status st = load_impl(path, f, out);
    fclose(f);
    if (st != RNN_OK) memset(out, 0, sizeof *out);
    else rnn__clear_error();
    return st;
}

/* ---------------------------------------------------------------- save */

/* Writes all of buf; 0 on success, else errno. */
static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

rnn_status rnn_npy_save(const char *path, const rnn_tensor *t) {
    if (!path || !t) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_save: NULL argument");
    if (!path[0]) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_save: empty path");
    if (t->rank < 1 || t->rank > RNN_MAX_RANK)
        return rnn__fail(RNN_ERR_SHAPE, "rnn_npy_save '%s': rank %d is not between 1 and %d",
                         path, t->rank, RNN_MAX_RANK);
    int64_t count = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return rnn__fail(RNN_ERR_SHAPE, "rnn_npy_save '%s': dimension %d is negative (%lld)",
                             path, i, (long long)t->shape[i]);
        if (t->shape[i] != 0 && count > NPY_MAX_ELEMENTS / t->shape[i])
            return rnn__fail(RNN_ERR_MEMORY, "rnn_npy_save '%s': the element count overflows "
                             "or exceeds 2^34", path);
        count *= t->shape[i];
    }
    if (count > 0 && !t->data)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_save '%s': the tensor has no data (NULL)",
                         path);

    /* Header, byte for byte as np.save writes it: the dict, 21 - digits(shape[0]) spaces of
     * room for the first dimension to grow, then spaces and '\n' so that the 10-byte preamble
     * plus the header is a multiple of 64 bytes (at least one space). */
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < t->rank; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%lld", i ? ", " : "",
                        (long long)t->shape[i]);
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", t->rank == 1 ? "," : "");
    char first[24];
    int grow = 21 - snprintf(first, sizeof first, "%lld", (long long)t->shape[0]);
    size_t body = (size_t)len + (size_t)(grow > 0 ? grow : 0); /* before padding and '\n' */
    size_t pad = 64 - (10 + body + 1) % 64;
    size_t padded = 10 + body + pad + 1;
    unsigned char head[10 + 256 + 24 + 64 + 1];
    memcpy(head, NPY_MAGIC, NPY_MAGIC_LEN);
    head[6] = 1;
    head[7] = 0;
    size_t hl = padded - 10;
    head[8] = (unsigned char)(hl & 0xff);
    head[9] = (unsigned char)(hl >> 8);
    memcpy(head + 10, dict, (size_t)len);
    memset(head + 10 + len, ' ', padded - 10 - (size_t)len - 1);
    head[padded - 1] = '\n';

    rnn_output_plan out;
    rnn_status st = rnn__output_begin(&out, path);
    if (st) return rnn__fail(st, "rnn_npy_save: %s", rnn_last_error());
    int fd = open(out.tmp, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int err = fd < 0 ? errno : write_all(fd, head, padded);
    /* The data as little-endian float32, in chunks. */
    unsigned char chunk[4096];
    for (int64_t i = 0; !err && i < count;) {
        size_t k = 0;
        for (; k + 4 <= sizeof chunk && i < count; i++, k += 4) {
            uint32_t u;
            memcpy(&u, &t->data[i], 4);
            chunk[k] = (unsigned char)u;
            chunk[k + 1] = (unsigned char)(u >> 8);
            chunk[k + 2] = (unsigned char)(u >> 16);
            chunk[k + 3] = (unsigned char)(u >> 24);
        }
        err = write_all(fd, chunk, k);
    }
    if (fd >= 0 && close(fd) != 0 && !err) err = errno;
    if (err) {
        rnn__output_abort(&out);
        return rnn__fail(RNN_ERR_IO, "rnn_npy_save '%s': write failed: %s", path, strerror(err));
    }
    st = rnn__output_commit(&out);
    if (st) return rnn__fail(st, "rnn_npy_save: %s", rnn_last_error());
    rnn__clear_error();
    return RNN_OK;
}

/* ------------------------------------------------------------------ memory-mapped arrays */

struct rnn_npy_map {
    void *base;
    size_t length;
};

rnn_status rnn_npy_map_open(const char *path, rnn_tensor *view, rnn_npy_map **map) {
    if (view) memset(view, 0, sizeof *view);
    if (map) *map = NULL;
    if (!path || !view || !map) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_map_open: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return rnn__fail(RNN_ERR_IO, "npy file '%s': cannot open: %s", path, strerror(errno));
    npy_info info;
    rnn_status st = read_header(path, f, &info);
    if (st == RNN_OK && !info.regular)
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': only regular files can be mapped", path);
    if (st == RNN_OK && info.dtype != NPY_F4)
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': only float32 ('<f4') arrays can be "
                       "mapped (this one is %s); convert it, or load it with rnn_npy_load", path,
                       dtype_name(info.dtype));
    if (st == RNN_OK && info.data_start % (int64_t)sizeof(float) != 0)
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': the data is not aligned", path);
    if (st != RNN_OK) {
        fclose(f);
        return st;
    }
    size_t length = (size_t)(info.data_start + info.data_bytes);
    /* Private and writable: a caller writing into the view never changes the file. */
    void *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);
    fclose(f);
    if (base == MAP_FAILED)
        return rnn__fail(RNN_ERR_IO, "npy file '%s': cannot map: %s", path, strerror(errno));
    struct rnn_npy_map *m = malloc(sizeof *m);
    if (!m) {
        munmap(base, length);
        return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    }
    m->base = base;
    m->length = length;
    view->data = (float *)((char *)base + info.data_start);
    shape_out(&info, view);
    *map = m;
    return RNN_OK;
}

void rnn_npy_map_close(rnn_npy_map *map) {
    if (!map) return;
    munmap(map->base, map->length);
    free(map);
}

/* ------------------------------------------------------------------ batches read on demand */

/* One file of an rnn_npy_source: its header, a descriptor for pread, and one batch's buffers. */
typedef struct {
    char *path; /* for messages */
    int fd;
    npy_info info;
    int64_t rows, row_values, row_bytes;
    unsigned char *raw;
    float *values;
} npy_part;

struct rnn_npy_source {
    npy_part x, y;
    int has_y;
    int64_t batch_size;
};

static void part_close(npy_part *p) {
    if (p->fd >= 0) close(p->fd);
    free(p->raw);
    free(p->values);
    free(p->path);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

static rnn_status part_open(npy_part *p, const char *path, int64_t batch_size) {
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->path = strdup(path);
    if (!p->path) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    FILE *f = fopen(path, "rb");
    if (!f) return rnn__fail(RNN_ERR_IO, "npy file '%s': cannot open: %s", path, strerror(errno));
    rnn_status st = read_header(path, f, &p->info);
    if (!st && !p->info.regular)
        st = rnn__fail(RNN_ERR_UNSUPPORTED, "npy file '%s': batches are read from regular files only", path);
    if (!st && (p->info.rank < 1 || p->info.dims[0] < 1))
        st = rnn__fail(RNN_ERR_SHAPE, "npy file '%s': needs at least one row (first axis)", path);
    if (!st && (p->fd = dup(fileno(f))) < 0)
        st = rnn__fail(RNN_ERR_IO, "npy file '%s': %s", path, strerror(errno));
    fclose(f);
    if (st) return st;
    p->rows = p->info.dims[0];
    p->row_values = p->info.count / p->rows;
    int64_t elem = p->info.count ? p->info.data_bytes / p->info.count : 4;
    p->row_bytes = p->row_values * elem;
    int64_t b = batch_size < p->rows ? batch_size : p->rows;
    if (p->row_values > 0 && b > (int64_t)(SIZE_MAX / 16) / p->row_values)
        return rnn__fail(RNN_ERR_MEMORY, "npy file '%s': a batch of %lld rows is too large", path,
                         (long long)b);
    p->raw = malloc((size_t)(b * p->row_bytes) + 1);
    p->values = malloc(sizeof(float) * (size_t)(b * p->row_values) + 1);
    if (!p->raw || !p->values) return rnn__fail(RNN_ERR_MEMORY, "npy file '%s': out of memory for a batch", path);
    return RNN_OK;
}

/* Rows [start, start + n) of p into p->values, as a tensor in out. */
static rnn_status part_read(npy_part *p, int64_t start, int64_t n, rnn_tensor *out) {
    size_t want = (size_t)(n * p->row_bytes);
    off_t at = (off_t)(p->info.data_start + start * p->row_bytes);
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(p->fd, p->raw + got, want - got, at + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return rnn__fail(RNN_ERR_IO, "npy file '%s': read error: %s", p->path, strerror(errno));
        if (r == 0)
            return rnn__fail(RNN_ERR_IO, "npy file '%s' shrank while in use: rows %lld to %lld are "
                             "no longer in it", p->path, (long long)start, (long long)(start + n - 1));
        got += (size_t)r;
    }
    decode(p->values, p->raw, n * p->row_values, p->info.dtype);
    memset(out, 0, sizeof *out);
    out->rank = p->info.rank;
    out->shape[0] = n;
    for (int i = 1; i < p->info.rank; i++) out->shape[i] = p->info.dims[i];
    out->data = p->values;
    return RNN_OK;
}

/* Part `part` of `parts` of batch `index` (the whole batch: 0 of 1): only its rows are read. */
static rnn_status npy_source_get_part(void *user, int64_t index, int part, int parts,
                                      rnn_tensor *x, rnn_tensor *y) {
    rnn_npy_source *s = user;
    int64_t start = index * s->batch_size;
    if (index < 0 || start >= s->x.rows || parts < 1 || part < 0 || part >= parts)
        return rnn__fail(RNN_ERR_ARGUMENT, "batch %lld (part %d of %d) is out of range",
                         (long long)index, part, parts);
    int64_t rows = s->x.rows - start < s->batch_size ? s->x.rows - start : s->batch_size;
    /* the balanced split of rnn_batch_source.get_part */
    const int64_t lo = rows * part / parts, n = rows * (part + 1) / parts - lo;
    start += lo;
    rnn_status st = part_read(&s->x, start, n, &x[0]);
    if (!st && s->has_y) st = part_read(&s->y, start, n, &y[0]);
    return st;
}

static rnn_status npy_source_get(void *user, int64_t index, rnn_tensor *x, rnn_tensor *y) {
    return npy_source_get_part(user, index, 0, 1, x, y);
}

rnn_status rnn_npy_source_open(const char *x_path, const char *y_path, int64_t batch_size,
                               rnn_batch_source *source, rnn_npy_source **state) {
    if (state) *state = NULL;
    if (!x_path || !source || !state)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_source_open: NULL argument");
    if (batch_size < 1)
        return rnn__fail(RNN_ERR_ARGUMENT, "rnn_npy_source_open: batch_size must be positive (%lld)",
                         (long long)batch_size);
    rnn_npy_source *s = calloc(1, sizeof *s);
    if (!s) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    s->x.fd = s->y.fd = -1;
    s->batch_size = batch_size;
    s->has_y = y_path != NULL;
    rnn_status st = part_open(&s->x, x_path, batch_size);
    if (!st && s->has_y) st = part_open(&s->y, y_path, batch_size);
    if (!st && s->has_y && s->y.rows != s->x.rows)
        st = rnn__fail(RNN_ERR_SHAPE, "'%s' has %lld rows but '%s' has %lld", x_path,
                       (long long)s->x.rows, y_path, (long long)s->y.rows);
    if (st) {
        rnn_npy_source_close(s);
        return st;
    }
    memset(source, 0, sizeof *source);
    source->batches = (s->x.rows + batch_size - 1) / batch_size;
    source->get = npy_source_get;
    source->get_part = npy_source_get_part;
    source->user = s;
    *state = s;
    rnn__clear_error();
    return RNN_OK;
}

void rnn_npy_source_close(rnn_npy_source *s) {
    if (!s) return;
    part_close(&s->x);
    part_close(&s->y);
    free(s);
}
