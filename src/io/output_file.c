/* How librnn writes a file (models, .npy arrays, and through the public rnn_output_file_* calls
 * the tool's plots): readers never see half a file, and what is at the path is respected.
 *
 *  - A regular file (or a new one) is written to a temporary file in the same directory, flushed
 *    and renamed over the target: a crash or a full disk leaves the old file whole.
 *  - A symlink is written through: the file it points to is replaced (atomically, in that file's
 *    directory) and the link stays a link. A dangling link creates its target.
 *  - A device, FIFO or socket (/dev/stdout, /dev/null, a named pipe) is written in place, in
 *    one pass, after the whole content was built in a temporary file under $TMPDIR: formats that
 *    need to seek while writing (zip, HDF5) work there too, and nothing is renamed over it.
 *  - A directory is refused.
 * Temporary names are ".NAME.rnntmp-PID-RANDOM" (NAME cut so that the whole name, and libzip's
 * own ".XXXXXX" suffix on it, fit the directory's NAME_MAX), created 0666 minus the umask, as
 * Keras's files are. A save killed before its rename leaves one behind; the next successful save
 * of the same target removes those whose PID no longer runs and whose owner is this user. */
#include "io/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

#define TMP_TAG ".rnntmp-"
/* "." + cut name + TMP_TAG + 8 hex (pid) + "-" + 6 hex + libzip's ".XXXXXX" */
#define TMP_OVERHEAD (1 + 8 + 8 + 1 + 6 + 7)
#define MAX_LINKS 40

static char *dup_range(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* The directory part of path ("." when there is none). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return dup_range(".", 1);
    return dup_range(path, slash == path ? 1 : (size_t)(slash - path));
}

static const char *base_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Follows symlinks by hand (so that a dangling one names the file to create) until a path that
 * is not a link; NULL with errno set on a loop or a failure. */
static char *resolve_links(const char *path) {
    char *p = strdup(path);
    for (int hops = 0; p && hops <= MAX_LINKS; hops++) {
        struct stat sb;
        if (lstat(p, &sb) != 0 || !S_ISLNK(sb.st_mode)) return p;
        char target[PATH_MAX];
        ssize_t n = readlink(p, target, sizeof target - 1);
        if (n < 0) break;
        target[n] = '\0';
        char *next;
        if (target[0] == '/') {
            next = strdup(target);
        } else {
            char *dir = dir_of(p);
            size_t len = dir ? strlen(dir) + 1 + (size_t)n + 1 : 0;
            next = dir ? malloc(len) : NULL;
            if (next) snprintf(next, len, "%s/%s", dir, target);
            free(dir);
        }
        free(p);
        p = next;
    }
    if (p) errno = ELOOP;
    free(p);
    return NULL;
}

/* A new, empty temporary file for target in dir; fills o->tmp. 0 or an errno. */
static int create_temp(rnn_output_plan *o, const char *dir, const char *name) {
    long name_max = pathconf(dir, _PC_NAME_MAX);
    if (name_max <= 0 || name_max > 255) name_max = 255;
    size_t keep = strlen(name);
    if (keep + TMP_OVERHEAD > (size_t)name_max) keep = (size_t)name_max - TMP_OVERHEAD;
    size_t len = strlen(dir) + 1 + (size_t)name_max + 1;
    o->tmp = malloc(len);
    if (!o->tmp) return ENOMEM;
    static _Thread_local unsigned counter;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&counter ^ (unsigned)clock();
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned tag = (seed * 2654435761u + ++counter) & 0xffffffu;
        snprintf(o->tmp, len, "%s/.%.*s" TMP_TAG "%08x-%06x", dir, (int)keep, name,
                 (unsigned)getpid(), tag);
        int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            o->tmp_keep = keep;
            return 0;
        }
        if (errno != EEXIST) break;
    }
    int e = errno;
    free(o->tmp);
    o->tmp = NULL;
    return e;
}

rnn_status rnn__output_begin(rnn_output_plan *o, const char *path) {
    memset(o, 0, sizeof *o);
    if (!path || !path[0]) return rnn__fail(RNN_ERR_ARGUMENT, "no output path given");
    struct stat sb;
    int e = 0;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode)) return rnn__fail(RNN_ERR_IO, "cannot write %s: %s", path, strerror(EISDIR));
        /* A device, FIFO or socket: built under $TMPDIR, then written into it in one pass.
         * Opened by the path as given, so that /dev/stdout's /proc links resolve as usual. */
        o->direct = 1;
        o->target = strdup(path);
        const char *tmpdir = getenv("TMPDIR");
        if (!tmpdir || !tmpdir[0]) tmpdir = "/tmp";
        e = o->target ? create_temp(o, tmpdir, "output") : ENOMEM;
        if (e) {
            rnn__output_abort(o);
            return rnn__fail(RNN_ERR_IO, "cannot write %s: cannot create a temporary file in %s: %s",
                             path, tmpdir, strerror(e));
        }
        return RNN_OK;
    }
    o->target = resolve_links(path);
    if (!o->target) {
        e = errno;
        return rnn__fail(RNN_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    char *dir = dir_of(o->target);
    e = dir ? create_temp(o, dir, base_of(o->target)) : ENOMEM;
    free(dir);
    if (e) {
        char *shown = strcmp(o->target, path) ? o->target : NULL;
        rnn__fail(RNN_ERR_IO, "cannot write %s%s%s%s: cannot create a temporary file beside it: %s",
                  path, shown ? " (a link to " : "", shown ? shown : "", shown ? ")" : "", strerror(e));
        rnn__output_abort(o);
        return RNN_ERR_IO;
    }
    return RNN_OK;
}

void rnn__output_abort(rnn_output_plan *o) {
    if (o->tmp) unlink(o->tmp);
    free(o->tmp);
    free(o->target);
    memset(o, 0, sizeof *o);
}

/* Best effort: makes a rename durable by flushing the directory entry. */
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Copies the finished temporary file into the device or FIFO at o->target. 0 or an errno. */
static int copy_into_target(const rnn_output_plan *o) {
    int in = open(o->tmp, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    int out = open(o->target, O_WRONLY | O_CLOEXEC);
    int e = out < 0 ? errno : 0;
    char buf[65536];
    while (!e) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) e = errno;
        if (n <= 0) break;
        for (char *p = buf; !e && n > 0;) {
            ssize_t w = write(out, p, (size_t)n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) e = w < 0 ? errno : EIO;
            else p += w, n -= w;
        }
    }
    if (out >= 0 && close(out) != 0 && !e && errno != EINVAL) e = errno;
    close(in);
    return e;
}

/* Removes temporary files of earlier saves of the same target that were killed before their
 * rename: the name must be ours for this target, the writing process gone, the owner us. */
static void remove_stale_temps(const rnn_output_plan *o) {
    char *dir = dir_of(o->target);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        free(dir);
        return;
    }
    const char *name = base_of(o->target);
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".%.*s" TMP_TAG, (int)o->tmp_keep, name);
    size_t plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0) continue;
        char *end;
        unsigned long pid = strtoul(e->d_name + plen, &end, 16);
        if (end != e->d_name + plen + 8 || *end != '-' || pid == 0 || pid > INT_MAX) continue;
        if ((pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
            sb.st_uid != geteuid())
            continue;
        (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    free(dir);
}

rnn_status rnn__output_commit(rnn_output_plan *o) {
    int e = 0;
    int fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) e = errno ? errno : EIO;
    if (fd >= 0) close(fd);
    if (!e && o->direct) e = copy_into_target(o);
    else if (!e && rename(o->tmp, o->target) != 0) e = errno;
    if (e) {
        rnn__fail(RNN_ERR_IO, "cannot write %s: %s", o->target, strerror(e));
        rnn__output_abort(o);
        return RNN_ERR_IO;
    }
    if (o->direct) {
        unlink(o->tmp);
    } else {
        char *dir = dir_of(o->target);
        if (dir) sync_dir(dir);
        free(dir);
        remove_stale_temps(o);
    }
    free(o->tmp);
    free(o->target);
    memset(o, 0, sizeof *o);
    return RNN_OK;
}

rnn_status rnn__output_check(const char *path) {
    rnn_output_plan o;
    rnn_status st = rnn__output_begin(&o, path);
    if (!st) rnn__output_abort(&o);
    return st;
}

/* ------------------------------------------------------------------ public wrapper */

struct rnn_output_file {
    rnn_output_plan plan;
    FILE *stream;
};

rnn_status rnn_output_file_open(const char *path, rnn_output_file **file, FILE **stream) {
    if (!file || !stream) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_output_file_open: NULL argument");
    *file = NULL;
    *stream = NULL;
    rnn_output_file *f = calloc(1, sizeof *f);
    if (!f) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
    rnn_status st = rnn__output_begin(&f->plan, path);
    if (!st) {
        f->stream = fopen(f->plan.tmp, "w");
        if (!f->stream) {
            int e = errno;
            rnn__output_abort(&f->plan);
            st = rnn__fail(RNN_ERR_IO, "cannot write %s: %s", path, strerror(e));
        }
    }
    if (st) {
        free(f);
        return st;
    }
    *file = f;
    *stream = f->stream;
    return RNN_OK;
}

rnn_status rnn_output_file_commit(rnn_output_file *f) {
    if (!f) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_output_file_commit: NULL file");
    int bad = ferror(f->stream);
    int e = bad ? EIO : 0;
    if (fclose(f->stream) != 0 && !e) e = errno ? errno : EIO;
    rnn_status st;
    if (e) {
        st = rnn__fail(RNN_ERR_IO, "cannot write %s: %s", f->plan.target, strerror(e));
        rnn__output_abort(&f->plan);
    } else {
        st = rnn__output_commit(&f->plan);
    }
    free(f);
    if (!st) rnn__clear_error();
    return st;
}

void rnn_output_file_discard(rnn_output_file *f) {
    if (!f) return;
    fclose(f->stream);
    rnn__output_abort(&f->plan);
    free(f);
}
