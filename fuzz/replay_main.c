/* A harness without libFuzzer: feeds files to LLVMFuzzerTestOneInput once each, so that `make
 * test` (and `make test-sanitize`) replay every committed seed and every input that once crashed
 * a harness. Built per harness as BUILD/tests/replay_NAME with -DHARNESS="NAME"; with no
 * arguments it reads fuzz/corpus/NAME/ and tests/fixtures/regress/NAME/ (missing: skipped), with
 * arguments those files or folders. Fails (exit 1) when no input was found; a crashing input
 * ends the process, which fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (!buf) return 0;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 1;
}

static int replay(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return replay_file(path);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        n += replay(p);
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    int n = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) n += replay(argv[i]);
    } else {
        n += replay("fuzz/corpus/" HARNESS);
        n += replay("tests/fixtures/regress/" HARNESS);
    }
    printf("replay_%s: %d inputs, none crashed\n", HARNESS, n);
    return n > 0 ? 0 : 1;
}
