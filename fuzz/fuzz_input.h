/* What every harness needs: the fuzzer's bytes as a file the loaders can open by path. The
 * parsers of outside input (rnn_npy_load, rnn_csv_load_column, rnn_load's readers) take paths,
 * so the bytes go into an anonymous in-memory file (memfd) opened as /proc/self/fd/N: no disk
 * writes, and the same code path as a real file. (libhdf5 needs a named file: see below.) */
#ifndef RNN_FUZZ_INPUT_H
#define RNN_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a new memfd; path receives its name. Returns the fd (close it after use), or
 * -1 (the harness then skips the input). */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t path_size) {
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

/* libhdf5 opens a file by its real path (realpath of the name), which a memfd does not have
 * ("/memfd:... (deleted)"): for HDF5 the bytes go to a named file in /dev/shm (memory), or /tmp.
 * Returns 0 with path set (unlink it after use), or -1. */
static inline int fuzz_named_file(const uint8_t *data, size_t size, char *path, size_t path_size) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, path_size, "%s/rnn-fuzz-%d.bin", dir, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) {
        unlink(path);
        return -1;
    }
    return 0;
}

#endif
