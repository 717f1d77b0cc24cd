/* rnn_npy_load / rnn_npy_save: every accepted dtype and version read from files NumPy wrote
 * (tests/fixtures/npy, made by tools/make_npy_fixtures.py), a round trip that is bit-exact and
 * byte-identical to np.save, the refusal of what is not supported (each with a message naming
 * it), truncated and corrupted files and hand-made bad headers, a deterministic mutation fuzz,
 * and saves that fail without leaving anything behind. Run from the repository root. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

#define FIX "tests/fixtures/npy/"

static char tmpdir[64];

static char *tmp_path(const char *name) {
    static char buf[sizeof tmpdir + 260];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = malloc(1 << 16);
    *n = buf ? fread(buf, 1, 1 << 16, f) : 0;
    fclose(f);
    return buf;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n, "short write to %s", path);
    fclose(f);
}

/* Number of entries in a directory, "." and ".." not counted. */
static int dir_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Loads a fixture and checks its shape; returns the tensor (rank 0 if loading failed). */
static rnn_tensor load_ok(const char *name, int rank, int64_t d0, int64_t d1, int64_t d2,
                          int64_t d3) {
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    rnn_tensor t;
    rnn_status st = rnn_npy_load(path, &t);
    CHECK(st == RNN_OK, "loading %s: %s", name, rnn_last_error());
    if (st != RNN_OK) return t;
    int64_t want[4] = {d0, d1, d2, d3};
    CHECK(t.rank == rank, "%s: rank %d, expected %d", name, t.rank, rank);
    for (int i = 0; i < rank && i < t.rank; i++)
        CHECK(t.shape[i] == want[i], "%s: dim %d is %lld, expected %lld", name, i,
              (long long)t.shape[i], (long long)want[i]);
    CHECK(t.data != NULL, "%s: no data", name);
    return t;
}

static void test_dtypes(void) {
    rnn_tensor t = load_ok("f4_2x3.npy", 2, 2, 3, 0, 0);
    if (t.data) {
        const float want[6] = {0.5f, -1.25f, 3.0f, 1e-20f, -7.5e10f, 0.1f};
        for (int i = 0; i < 6; i++)
            CHECK(same_bits(t.data[i], want[i]), "f4[%d] = %.9g, expected %.9g", i,
                  (double)t.data[i], (double)want[i]);
    }
    rnn_tensor_free(&t);
    CHECK(t.data == NULL && t.rank == 0, "rnn_tensor_free clears the view");

    t = load_ok("f8_4.npy", 1, 4, 0, 0, 0);
    if (t.data) {
        CHECK(same_bits(t.data[0], (float)0.1), "f8 0.1 -> %.9g", (double)t.data[0]);
        CHECK(t.data[1] == -2.5f, "f8 -2.5 -> %g", (double)t.data[1]);
        CHECK(isinf(t.data[2]) && t.data[2] > 0, "f8 1e300 -> +Inf, got %g", (double)t.data[2]);
        CHECK(t.data[3] == 0.0f && signbit(t.data[3]), "f8 -0.0 keeps its sign");
    }
    rnn_tensor_free(&t);

    t = load_ok("i4_2x2.npy", 2, 2, 2, 0, 0);
    if (t.data) {
        CHECK(t.data[0] == 1.0f && t.data[1] == -2.0f, "i4 small values %g %g",
              (double)t.data[0], (double)t.data[1]);
        CHECK(t.data[2] == 2147483648.0f, "i4 INT32_MAX rounds to 2^31, got %.1f",
              (double)t.data[2]);
        CHECK(t.data[3] == -2147483648.0f, "i4 INT32_MIN, got %.1f", (double)t.data[3]);
    }
    rnn_tensor_free(&t);

    t = load_ok("i8_3.npy", 1, 3, 0, 0, 0);
    if (t.data)
        CHECK(t.data[0] == 7.0f && t.data[1] == -9.0f && t.data[2] == 1099511627776.0f,
              "i8 values %g %g %.1f", (double)t.data[0], (double)t.data[1], (double)t.data[2]);
    rnn_tensor_free(&t);

    t = load_ok("f4_scalar.npy", 1, 1, 0, 0, 0);
    if (t.data) CHECK(t.data[0] == 2.75f, "scalar 2.75, got %g", (double)t.data[0]);
    rnn_tensor_free(&t);

    t = load_ok("f4_rank4.npy", 4, 1, 2, 3, 4);
    if (t.data)
        for (int i = 0; i < 24; i++) CHECK(t.data[i] == (float)i, "rank4[%d] = %g", i, (double)t.data[i]);
    rnn_tensor_free(&t);

    t = load_ok("f4_empty.npy", 2, 0, 3, 0, 0);
    CHECK(rnn_tensor_size(&t) == 0, "empty array has no elements");
    rnn_tensor_free(&t);

    t = load_ok("f4_v2.npy", 1, 3, 0, 0, 0);
    if (t.data) CHECK(t.data[0] == 1.5f && t.data[1] == -2.5f && t.data[2] == 3.5f, "v2.0 values");
    rnn_tensor_free(&t);

    t = load_ok("f8_v3.npy", 2, 2, 1, 0, 0);
    if (t.data) CHECK(t.data[0] == 4.0f && t.data[1] == 5.0f, "v3.0 values");
    rnn_tensor_free(&t);
}

/* Loading `path` fails with `status` and a message containing `needle`; *out stays zeroed. */
static void expect_fail(const char *path, rnn_status status, const char *needle) {
    rnn_tensor t;
    memset(&t, 0x55, sizeof t);
    rnn_status st = rnn_npy_load(path, &t);
    CHECK(st == status, "%s: status %s, expected %s (%s)", path, rnn_status_name(st),
          rnn_status_name(status), rnn_last_error());
    CHECK(strstr(rnn_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", path,
          rnn_last_error(), needle);
    CHECK(t.data == NULL && t.rank == 0, "%s: the output is zeroed on failure", path);
    if (st == RNN_OK) rnn_tensor_free(&t);
}

static void test_unsupported(void) {
    expect_fail(FIX "f4_fortran.npy", RNN_ERR_UNSUPPORTED, "fortran_order");
    expect_fail(FIX "f4_bigendian.npy", RNN_ERR_UNSUPPORTED, "big-endian dtype '>f4'");
    expect_fail(FIX "f2.npy", RNN_ERR_UNSUPPORTED, "unsupported dtype '<f2'");
    expect_fail(FIX "u1.npy", RNN_ERR_UNSUPPORTED, "unsupported dtype '|u1'");
    expect_fail(FIX "bool.npy", RNN_ERR_UNSUPPORTED, "unsupported dtype '|b1'");
    expect_fail(FIX "c8.npy", RNN_ERR_UNSUPPORTED, "unsupported dtype '<c8'");
    expect_fail(FIX "f4_rank5.npy", RNN_ERR_UNSUPPORTED, "more than 4 dimensions");
    expect_fail(FIX "structured.npy", RNN_ERR_UNSUPPORTED, "structured");
    expect_fail(FIX "no_such_file.npy", RNN_ERR_IO, "cannot open");
    expect_fail(FIX, RNN_ERR_IO, "is a directory");
    expect_fail("README.md", RNN_ERR_FORMAT, "not a NumPy .npy file");
    rnn_tensor t;
    CHECK(rnn_npy_load(NULL, &t) == RNN_ERR_ARGUMENT, "NULL path");
    CHECK(rnn_npy_load(FIX "f4_2x3.npy", NULL) == RNN_ERR_ARGUMENT, "NULL output");
}

/* A file with the given preamble version, header text (the length field is its length) and
 * `data_bytes` bytes of data (1.0f repeated). */
static void write_npy(const char *path, int major, const char *header, size_t data_bytes) {
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    unsigned char *buf = calloc(1, pre + hl + data_bytes + 4);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    if (major != 1) {
        buf[10] = (unsigned char)(hl >> 16);
        buf[11] = (unsigned char)(hl >> 24);
    }
    memcpy(buf + pre, header, hl);
    const float one = 1.0f;
    for (size_t i = 0; i + 4 <= data_bytes; i += 4) memcpy(buf + pre + hl + i, &one, 4);
    write_file(path, buf, pre + hl + data_bytes);
    free(buf);
}

static void test_headers(void) {
    const char *p = tmp_path("h.npy");
    /* Valid spellings NumPy's reader accepts. */
    static const char *const good[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
        "{'shape': (2,3),'fortran_order':False,'descr':'<f4'}      \n",
        "  {  'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 6 , ) , }  ",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        write_npy(p, 1, good[i], 24);
        rnn_tensor t;
        rnn_status st = rnn_npy_load(p, &t);
        CHECK(st == RNN_OK && rnn_tensor_size(&t) == 6 && t.data[5] == 1.0f,
              "valid header %zu refused: %s", i, rnn_last_error());
        rnn_tensor_free(&t);
    }
    struct { const char *header; size_t data; const char *needle; } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False}", 24, "'shape' is missing"},
        {"{'descr': '<f4', 'shape': (6,)}", 24, "'fortran_order' is missing"},
        {"{'fortran_order': False, 'shape': (6,)}", 24, "'descr' is missing"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24, "duplicate key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", 24, "unexpected key 'extra'"},
        {"{'descr': '<f4', 'fortran_order': Flase, 'shape': (6,)}", 24, "expected True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6}", 24, "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", 24, "comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", 24, "non-negative integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': 6}", 24, "expected '('"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", 24, "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 24, "absurdly large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}", 24, "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (17179869184, 2)}", 24, "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000)}", 24, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (7,)}", 24, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,)}", 24, "unexpected bytes after"},
        {"{'descr': <f4, 'fortran_order': False, 'shape': (6,)}", 24, "expected a quoted string"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", 24, "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", 24, "near \"<end of header>\""},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk", 24, "after the dict"},
        {"['descr', '<f4']", 24, "expected '{'"},
        {"", 24, "expected '{'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", 24, "expected ',' or '}'"},
        {"{'descr': '<f4\x01', 'fortran_order': False, 'shape': (6,)}", 24, "unexpected byte"},
        {"{'descr': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'fortran_order': False, 'shape': (6,)}", 24, "too long"},
        {"{'desc\\'r': '<f4', 'fortran_order': False, 'shape': (6,)}", 24, "unexpected byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_npy(p, 1, bad[i].header, bad[i].data);
        rnn_tensor t;
        rnn_status st = rnn_npy_load(p, &t);
        CHECK(st == RNN_ERR_FORMAT, "bad header %zu loaded or wrong status %s: %s", i,
              rnn_status_name(st), bad[i].header);
        CHECK(strstr(rnn_last_error(), bad[i].needle) != NULL,
              "bad header %zu: message \"%s\" lacks \"%s\"", i, rnn_last_error(), bad[i].needle);
        if (st == RNN_OK) rnn_tensor_free(&t);
    }
    /* A NUL inside the header. */
    static const char nul_header[] = "{'descr': '<f4',\0'fortran_order': False, 'shape': (6,)}";
    unsigned char buf[10 + sizeof nul_header + 24];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(sizeof nul_header - 1);
    buf[9] = 0;
    memcpy(buf + 10, nul_header, sizeof nul_header - 1);
    memset(buf + 10 + sizeof nul_header - 1, 0, 24);
    write_file(p, buf, 10 + sizeof nul_header - 1 + 24);
    expect_fail(p, RNN_ERR_FORMAT, "malformed header");
    /* Versions and lengths. */
    write_npy(p, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24);
    expect_fail(p, RNN_ERR_UNSUPPORTED, "version 4.0");
    write_npy(p, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24);
    rnn_tensor t;
    CHECK(rnn_npy_load(p, &t) == RNN_OK && t.shape[0] == 6, "version 2.0 hand-made: %s",
          rnn_last_error());
    rnn_tensor_free(&t);
    memcpy(buf, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
    write_file(p, buf, 12);
    expect_fail(p, RNN_ERR_FORMAT, "the header claims");
    memcpy(buf, "\x93NUMPY\x01\x00\xff\x00{}", 12);
    write_file(p, buf, 12);
    expect_fail(p, RNN_ERR_FORMAT, "truncated in the header");
    write_file(p, "\x93NUMPY\x01\x00\x05", 9);
    expect_fail(p, RNN_ERR_FORMAT, "truncated in the header length");
    write_file(p, "\x93NUMPY", 6);
    expect_fail(p, RNN_ERR_FORMAT, "truncated before the version");
    write_file(p, "", 0);
    expect_fail(p, RNN_ERR_FORMAT, "empty");
    write_file(p, "\x93NUMPZ\x01\x00", 8);
    expect_fail(p, RNN_ERR_FORMAT, "not a NumPy");
}

/* Every prefix of a valid file fails as truncated (or not .npy); one extra byte fails too. */
static void test_truncation(void) {
    size_t n;
    unsigned char *full = read_file(FIX "f4_2x3.npy", &n);
    CHECK(full && n == 152, "reading the fixture");
    if (!full) return;
    const char *p = tmp_path("trunc.npy");
    for (size_t len = 0; len < n; len++) {
        write_file(p, full, len);
        rnn_tensor t;
        rnn_status st = rnn_npy_load(p, &t);
        CHECK(st == RNN_ERR_FORMAT, "prefix of %zu bytes: %s", len, rnn_status_name(st));
        if (len > 10)
            CHECK(strstr(rnn_last_error(), "truncated") != NULL, "prefix %zu: \"%s\"", len,
                  rnn_last_error());
        if (st == RNN_OK) rnn_tensor_free(&t);
    }
    unsigned char longer[160];
    memcpy(longer, full, n);
    longer[n] = 0;
    write_file(p, longer, n + 1);
    expect_fail(p, RNN_ERR_FORMAT, "1 unexpected bytes");
    free(full);
}

/* Random byte changes, insertions of odd bytes and cuts of valid files: every load returns a
 * status (OK with a consistent array, or an error with a message), never crashes. */
static void test_fuzz(void) {
    static const char *const seeds[] = {FIX "f4_2x3.npy", FIX "i8_3.npy", FIX "f4_v2.npy",
                                        FIX "f8_v3.npy", FIX "f4_rank4.npy", FIX "f4_scalar.npy"};
    static const char interesting[] = "()',:{}0123456789 LTrueFals<>f4i8-\n\0\xff\x93";
    const char *p = tmp_path("fuzz.npy");
    uint64_t s = 12345;
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n;
        unsigned char *buf = read_file(seeds[iter % 6], &n);
        if (!buf) continue;
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % (n < 140 ? n : 140);
            unsigned r = (unsigned)(s >> 20) & 0xff;
            buf[at] = (r & 1) ? (unsigned char)interesting[r % (sizeof interesting - 1)]
                              : (unsigned char)r;
        }
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if ((s >> 60) == 0) n = (size_t)(s >> 30) % n; /* sometimes cut */
        write_file(p, buf, n);
        free(buf);
        rnn_tensor t;
        rnn_status st = rnn_npy_load(p, &t);
        if (st == RNN_OK) {
            ok++;
            int64_t size = rnn_tensor_size(&t);
            CHECK(t.data && t.rank >= 1 && t.rank <= 4 && size >= 0 && size <= (1 << 20),
                  "fuzz %d: loaded an inconsistent array", iter);
            volatile float sink = 0;
            for (int64_t i = 0; i < size; i++) sink += t.data[i];
            (void)sink;
            rnn_tensor_free(&t);
        } else {
            failed++;
            CHECK(rnn_last_error()[0] != '\0' && t.data == NULL, "fuzz %d: error without message",
                  iter);
        }
    }
    CHECK(ok > 50 && failed > 1000, "fuzz outcome: %d loaded, %d refused", ok, failed);
}

static void test_round_trip(void) {
    /* Bit-exact values, including NaN, infinities, -0 and a subnormal. */
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)(i * 0.37 - 4.1);
    v[3] = NAN;
    v[4] = INFINITY;
    v[5] = -INFINITY;
    v[6] = -0.0f;
    v[7] = 1e-42f;
    float w[24];
    memcpy(w, v, sizeof v);
    rnn_tensor t = rnn_tensor3(w, 2, 3, 4);
    const char *p = tmp_path("rt.npy");
    CHECK(rnn_npy_save(p, &t) == RNN_OK, "save: %s", rnn_last_error());
    rnn_tensor back;
    CHECK(rnn_npy_load(p, &back) == RNN_OK, "load: %s", rnn_last_error());
    CHECK(back.rank == 3 && back.shape[0] == 2 && back.shape[1] == 3 && back.shape[2] == 4,
          "round-trip shape");
    if (back.data)
        CHECK(memcmp(back.data, v, sizeof v) == 0, "round trip is not bit-exact");
    rnn_tensor_free(&back);
    CHECK(memcmp(w, v, sizeof v) == 0, "save changed its input");

    /* The bytes np.save writes: same header (with its growth room and padding) and data. */
    static const struct { const char *fixture; int rank; int64_t shape[4]; } same[] = {
        {"f4_2x3.npy", 2, {2, 3, 0, 0}},
        {"f4_rank4.npy", 4, {1, 2, 3, 4}},
        {"f4_empty.npy", 2, {0, 3, 0, 0}},
        {"f4_v2.npy", 1, {3, 0, 0, 0}}, /* written as version 1.0: compared after loading */
    };
    for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
        char fx[256];
        snprintf(fx, sizeof fx, FIX "%s", same[k].fixture);
        rnn_tensor a;
        if (rnn_npy_load(fx, &a) != RNN_OK) {
            CHECK(0, "loading %s: %s", fx, rnn_last_error());
            continue;
        }
        CHECK(rnn_npy_save(p, &a) == RNN_OK, "saving %s: %s", fx, rnn_last_error());
        size_t n1, n2;
        unsigned char *b1 = read_file(fx, &n1), *b2 = read_file(p, &n2);
        if (k < 3)
            CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0,
                  "%s: librnn's bytes differ from np.save's (%zu vs %zu bytes)", fx, n2, n1);
        rnn_tensor c;
        CHECK(rnn_npy_load(p, &c) == RNN_OK && c.rank == a.rank &&
              rnn_tensor_size(&c) == rnn_tensor_size(&a) &&
              (rnn_tensor_size(&a) == 0 ||
               !memcmp(c.data, a.data, sizeof(float) * (size_t)rnn_tensor_size(&a))),
              "%s: reload differs", fx);
        free(b1);
        free(b2);
        rnn_tensor_free(&a);
        rnn_tensor_free(&c);
    }
    /* Overwriting an existing file replaces it. */
    float one[1] = {42.0f};
    rnn_tensor t1 = rnn_tensor1(one, 1);
    CHECK(rnn_npy_save(p, &t1) == RNN_OK, "overwrite: %s", rnn_last_error());
    CHECK(rnn_npy_load(p, &back) == RNN_OK && back.rank == 1 && back.shape[0] == 1 &&
          back.data[0] == 42.0f, "overwritten file");
    rnn_tensor_free(&back);
    /* A zero-size array needs no data pointer. */
    rnn_tensor empty = rnn_tensor2(NULL, 0, 5);
    CHECK(rnn_npy_save(p, &empty) == RNN_OK, "saving an empty array: %s", rnn_last_error());
    CHECK(rnn_npy_load(p, &back) == RNN_OK && back.rank == 2 && back.shape[0] == 0 &&
          back.shape[1] == 5, "reloading an empty array");
    rnn_tensor_free(&back);
}

static void test_save_failures(void) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    rnn_tensor t = rnn_tensor2(v, 2, 3);
    int before = dir_entries(tmpdir);
    /* A missing directory: an I/O error, and nothing is created. */
    char missing[256];
    snprintf(missing, sizeof missing, "%s/missing/sub/x.npy", tmpdir);
    CHECK(rnn_npy_save(missing, &t) == RNN_ERR_IO, "save into a missing directory");
    CHECK(strstr(rnn_last_error(), "missing/sub/x.npy") != NULL, "message names the path: %s",
          rnn_last_error());
    struct stat sb;
    snprintf(missing, sizeof missing, "%s/missing", tmpdir);
    CHECK(stat(missing, &sb) != 0, "the missing directory was created");
    CHECK(dir_entries(tmpdir) == before, "a failed save left something behind");
    /* The target is a directory: the data is written, the rename fails, the temporary file
     * is removed and the directory is untouched. */
    const char *d = tmp_path("adir");
    CHECK(mkdir(d, 0755) == 0, "mkdir");
    int with_dir = dir_entries(tmpdir);
    CHECK(rnn_npy_save(d, &t) == RNN_ERR_IO, "save over a directory");
    CHECK(dir_entries(tmpdir) == with_dir, "the temporary file was left behind (%d entries, "
          "expected %d)", dir_entries(tmpdir), with_dir);
    CHECK(dir_entries(d) == 0, "the directory was changed");
    rmdir(d);
    /* Bad tensors. */
    rnn_tensor bad = t;
    bad.rank = 0;
    CHECK(rnn_npy_save(tmp_path("b.npy"), &bad) == RNN_ERR_SHAPE, "rank 0");
    bad.rank = 5;
    CHECK(rnn_npy_save(tmp_path("b.npy"), &bad) == RNN_ERR_SHAPE, "rank 5");
    bad = t;
    bad.shape[1] = -3;
    CHECK(rnn_npy_save(tmp_path("b.npy"), &bad) == RNN_ERR_SHAPE, "negative dim");
    bad = t;
    bad.data = NULL;
    CHECK(rnn_npy_save(tmp_path("b.npy"), &bad) == RNN_ERR_ARGUMENT, "NULL data");
    bad = rnn_tensor2(v, (int64_t)1 << 40, (int64_t)1 << 40);
    CHECK(rnn_npy_save(tmp_path("b.npy"), &bad) == RNN_ERR_MEMORY, "overflowing size");
    CHECK(rnn_npy_save(NULL, &t) == RNN_ERR_ARGUMENT && rnn_npy_save("x.npy", NULL) ==
          RNN_ERR_ARGUMENT && rnn_npy_save("", &t) == RNN_ERR_ARGUMENT, "NULL arguments");
    CHECK(stat(tmp_path("b.npy"), &sb) != 0, "a refused save created a file");
}

/* rnn_npy_source: batches equal the file's rows (float32 and float64 files), a short last batch,
 * fit through it equals fit on the arrays bit for bit, and a file truncated while in use gives
 * RNN_ERR_IO naming the file instead of the SIGBUS a mapping gets (checked in a child). */
static void test_source(void) {
    enum { R = 37, T = 3, F = 2 };
    float x[R * T * F], y[R];
    for (int i = 0; i < R * T * F; i++) x[i] = (float)((i * 5) % 17) / 17.0f - 0.3f;
    for (int i = 0; i < R; i++) y[i] = (float)(i % 3) / 3.0f;
    rnn_tensor X = rnn_tensor3(x, R, T, F), Y = rnn_tensor2(y, R, 1);
    char xp[400], yp[400];
    snprintf(xp, sizeof xp, "%s", tmp_path("src_x.npy"));
    snprintf(yp, sizeof yp, "%s", tmp_path("src_y.npy"));
    CHECK(rnn_npy_save(xp, &X) == RNN_OK && rnn_npy_save(yp, &Y) == RNN_OK, "saving the arrays");
    rnn_batch_source src;
    rnn_npy_source *state;
    CHECK(rnn_npy_source_open(xp, yp, 8, &src, &state) == RNN_OK, "open: %s", rnn_last_error());
    CHECK(src.batches == 5, "37 rows in batches of 8: %lld batches", (long long)src.batches);
    int same = 1;
    for (int64_t b = 0; b < src.batches; b++) {
        rnn_tensor bx = {0}, by = {0};
        CHECK(src.get(src.user, b, &bx, &by) == RNN_OK, "batch %lld: %s", (long long)b, rnn_last_error());
        int64_t n = b < 4 ? 8 : 5;
        same &= bx.rank == 3 && bx.shape[0] == n && bx.shape[1] == T && bx.shape[2] == F &&
                by.rank == 2 && by.shape[0] == n &&
                !memcmp(bx.data, x + b * 8 * T * F, sizeof(float) * (size_t)(n * T * F)) &&
                !memcmp(by.data, y + b * 8, sizeof(float) * (size_t)n);
    }
    CHECK(same, "the batches differ from the file's rows");
    /* fit through the source equals fit on the arrays, without shuffling. */
    rnn_model *a = rnn_sequential(NULL), *b = rnn_sequential(NULL);
    rnn_model *ms[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        rnn_set_seed(ms[k], 3);
        rnn_input(ms[k], T, F);
        rnn_recurrent_options o = rnn_gru_defaults(4);
        rnn_add(ms[k], rnn_gru(&o));
        rnn_add(ms[k], rnn_dense_simple(1, RNN_LINEAR));
        rnn_compile(ms[k], "mse", "adam");
    }
    rnn_fit_options fo = rnn_fit_defaults();
    fo.epochs = 2;
    fo.batch_size = 8;
    fo.shuffle = 0;
    fo.verbose = 0;
    CHECK(rnn_fit(a, rnn_data_xy(X, Y), &fo, NULL) == RNN_OK, "fit: %s", rnn_model_error(a));
    CHECK(rnn_fit(b, rnn_data_source(&src), &fo, NULL) == RNN_OK, "fit_source: %s", rnn_model_error(b));
    float wa[64], wb[64];
    CHECK(rnn_get_weight(a, 0, wa, 24) == RNN_OK && rnn_get_weight(b, 0, wb, 24) == RNN_OK &&
              !memcmp(wa, wb, sizeof(float) * 24),
          "fit through rnn_npy_source differs from fit on the arrays");
    rnn_model_free(a);
    rnn_model_free(b);
    /* Truncated while in use: an error naming the file, not a crash. */
    CHECK(truncate(xp, 200) == 0, "truncate");
    rnn_tensor bx = {0}, by = {0};
    CHECK(src.get(src.user, 3, &bx, &by) == RNN_ERR_IO && strstr(rnn_last_error(), "shrank while in use"),
          "reading a truncated file: %s", rnn_last_error());
    rnn_npy_source_close(state);
    CHECK(rnn_npy_source_open(xp, NULL, 8, &src, &state) != RNN_OK, "a truncated file opened");
    CHECK(rnn_npy_source_open(yp, NULL, 0, &src, &state) == RNN_ERR_ARGUMENT, "batch size 0");
    /* What the header says of mappings: a page past a truncation raises SIGBUS. */
    CHECK(rnn_npy_save(xp, &X) == RNN_OK, "saving again");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        rnn_tensor view;
        rnn_npy_map *map;
        if (rnn_npy_map_open(xp, &view, &map) != RNN_OK || truncate(xp, 0) != 0) _exit(3);
        volatile float sum = 0;
        for (int64_t i = 0; i < rnn_tensor_size(&view); i++) sum += view.data[i];
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer catches the SIGBUS itself, reports it and exits 1. */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1,
          "a mapping of a truncated file should fault (ASan reports SIGBUS) (status %d)", status);
#else
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
          "a mapping of a truncated file should die by SIGBUS, as rnn.h says (status %d)", status);
#endif
}

static void cleanup(void) {
    DIR *dir = opendir(tmpdir);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tmp_path(e->d_name));
        closedir(dir);
    }
    rmdir(tmpdir);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rnn_test_npy_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_dtypes();
    test_unsupported();
    test_headers();
    test_truncation();
    test_round_trip();
    test_save_failures();
    test_fuzz();
    test_source();
    cleanup();
    return check_report("test_npy");
}
