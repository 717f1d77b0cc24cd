/* How librnn writes output files (src/io/output_file.c, issue 14): symlinks written through,
 * devices and FIFOs written in place, directories refused, temporary names that fit NAME_MAX,
 * stale temporary files of dead processes removed by the next save, and rnn_save_check, which
 * says everything rnn_save would refuse without writing anything. */
#define _DEFAULT_SOURCE /* mknod, makedev */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rnn.h"

static char dir[64];

static const char *P(const char *name) { return check_path(dir, name); }

static int is_link(const char *p) {
    struct stat sb;
    return lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode);
}

/* The first float of the .npy at p (header of 128 bytes for these small arrays), or NAN. */
static float npy_first(const char *p) {
    rnn_tensor t = {0};
    float v = NAN;
    if (rnn_npy_load(p, &t) == RNN_OK && rnn_tensor_size(&t) > 0) v = t.data[0];
    rnn_tensor_free(&t);
    return v;
}

static int save_value(const char *p, float v) {
    float a[3] = {v, 2, 3};
    rnn_tensor t = rnn_tensor2(a, 1, 3);
    return rnn_npy_save(p, &t);
}

/* Files in dir whose name contains needle. */
static int count_entries(const char *needle) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strstr(e->d_name, needle) != NULL;
    if (d) closedir(d);
    return n;
}

static void symlinks(void) {
    CHECK(save_value(P("real.npy"), 1) == RNN_OK, "save: %s", rnn_last_error());
    CHECK(symlink("real.npy", P("link.npy")) == 0, "symlink");
    CHECK(save_value(P("link.npy"), 7) == RNN_OK, "save through a link: %s", rnn_last_error());
    CHECK(is_link(P("link.npy")), "the symlink was replaced by a regular file");
    CHECK(npy_first(P("real.npy")) == 7, "the link's target was not updated (%g)", npy_first(P("real.npy")));
    /* A dangling link creates its target. */
    CHECK(symlink("made_by_link.npy", P("dangling.npy")) == 0, "symlink");
    CHECK(save_value(P("dangling.npy"), 5) == RNN_OK, "save through a dangling link: %s", rnn_last_error());
    CHECK(is_link(P("dangling.npy")) && npy_first(P("made_by_link.npy")) == 5,
          "a dangling link's target should be created, the link kept");
    /* A model through a link in another directory. */
    CHECK(mkdir(P("sub"), 0755) == 0, "mkdir");
    CHECK(symlink("sub/model.keras", P("model_link.keras")) == 0, "symlink");
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 2);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    rnn_add(m, rnn_lstm(&o));
    CHECK(rnn_save(m, P("model_link.keras")) == RNN_OK, "rnn_save through a link: %s", rnn_model_error(m));
    rnn_model *back = rnn_load(P("sub/model.keras"));
    CHECK(back != NULL && is_link(P("model_link.keras")), "the model went through the link");
    rnn_model_free(back);
    rnn_model_free(m);
}

static void devices_and_fifos(void) {
    /* A FIFO: written in place (a rename would replace the FIFO with a regular file). */
    CHECK(mkfifo(P("pipe.npy"), 0644) == 0, "mkfifo");
    pid_t reader = fork();
    if (reader == 0) { /* reads everything and stores it */
        int in = open(P("pipe.npy"), O_RDONLY), out = open(P("from_pipe.npy"), O_WRONLY | O_CREAT, 0644);
        char buf[4096];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) _exit(1);
        _exit(in >= 0 && out >= 0 ? 0 : 1);
    }
    CHECK(save_value(P("pipe.npy"), 9) == RNN_OK, "save into a FIFO: %s", rnn_last_error());
    struct stat sb;
    int still_fifo = stat(P("pipe.npy"), &sb) == 0 && S_ISFIFO(sb.st_mode);
    CHECK(still_fifo, "the FIFO was replaced");
    if (!still_fifo) kill(reader, SIGKILL); /* nobody will ever open it for writing */
    int status = 0;
    waitpid(reader, &status, 0);
    CHECK(WIFEXITED(status) && npy_first(P("from_pipe.npy")) == 9, "the FIFO's reader got no .npy");
    /* A character device like /dev/null, made here so that a regression cannot harm the real
     * one (root only; elsewhere mknod fails and this part is skipped). */
    if (mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        CHECK(save_value(P("null"), 1) == RNN_OK, "save into a device: %s", rnn_last_error());
        CHECK(stat(P("null"), &sb) == 0 && S_ISCHR(sb.st_mode), "the device node was replaced");
    } else {
        fprintf(stderr, "test_output_file: mknod not permitted (%s): device case skipped\n", strerror(errno));
    }
    /* A directory is refused, by name. */
    CHECK(mkdir(P("adir.npy"), 0755) == 0, "mkdir");
    CHECK(save_value(P("adir.npy"), 1) == RNN_ERR_IO && strstr(rnn_last_error(), "Is a directory"),
          "a directory target: %s", rnn_last_error());
}

static void long_names_and_stale_temps(void) {
    /* The longest legal name: its temporary name must fit NAME_MAX too. */
    char name[256];
    memset(name, 'n', 251);
    strcpy(name + 251, ".npy");
    CHECK(save_value(P(name), 3) == RNN_OK, "save under a 255-character name: %s", rnn_last_error());
    CHECK(npy_first(P(name)) == 3, "the long-named file");
    /* Stale temporary files: one of a process that is gone (removed by the next save), one of
     * a running process (kept: its save may still be under way). */
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    waitpid(gone, NULL, 0);
    char stale[128], live[128];
    snprintf(stale, sizeof stale, ".target.npy.rnntmp-%08x-abcdef", (unsigned)gone);
    snprintf(live, sizeof live, ".target.npy.rnntmp-%08x-abcdef", (unsigned)getppid());
    FILE *f = fopen(P(stale), "w"), *g = fopen(P(live), "w");
    if (f) fclose(f);
    if (g) fclose(g);
    CHECK(save_value(P("target.npy"), 4) == RNN_OK, "save: %s", rnn_last_error());
    CHECK(access(P(stale), F_OK) != 0, "the stale temporary file of a dead process was kept");
    CHECK(access(P(live), F_OK) == 0, "the temporary file of a running process was removed");
    unlink(P(live));
    CHECK(count_entries("rnntmp") == 0, "temporary files left behind");
}

/* A .keras file under the longest legal name: libzip adds its own 7 characters to the
 * temporary name, which must still fit. */
static void long_model_name(void) {
    char name[256];
    memset(name, 'k', 249);
    strcpy(name + 249, ".keras");
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 2, 1);
    rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    CHECK(rnn_save(m, P(name)) == RNN_OK, "a model under a 255-character name: %s", rnn_model_error(m));
    rnn_model *back = rnn_load(P(name));
    CHECK(back != NULL, "loading it back: %s", rnn_last_error());
    rnn_model_free(back);
    rnn_model_free(m);
    CHECK(count_entries("rnntmp") == 0, "temporary files left behind");
}

static void save_check(void) {
    rnn_model *m = rnn_sequential(NULL);
    rnn_input(m, 4, 2);
    rnn_recurrent_options o = rnn_lstm_defaults(3);
    o.recurrent_activation = RNN_HARD_SIGMOID_LEGACY;
    rnn_add(m, rnn_lstm(&o));
    int before = count_entries("");
    CHECK(rnn_save_check(m, P("ok.h5")) == RNN_OK, "a legacy hard_sigmoid model can go to .h5: %s",
          rnn_model_error(m));
    CHECK(rnn_save_check(m, P("no.keras")) == RNN_ERR_UNSUPPORTED &&
              strstr(rnn_model_error(m), "hard_sigmoid"),
          "the Keras 1/2 hard_sigmoid cannot be a .keras file: %s", rnn_model_error(m));
    CHECK(rnn_save_check(m, P("out.txt")) == RNN_ERR_ARGUMENT, "a .txt model file");
    CHECK(rnn_save_check(m, P("missing/dir/m.h5")) == RNN_ERR_IO &&
              strstr(rnn_model_error(m), "No such file or directory"),
          "a missing directory: %s", rnn_model_error(m));
    CHECK(rnn_save_check(m, P("adir.npy")) != RNN_OK, "a directory as the model file");
    CHECK(count_entries("") == before && access(P("ok.h5"), F_OK) != 0,
          "rnn_save_check wrote something");
    rnn_model_free(m);
}

static void public_output_file(void) {
    rnn_output_file *of;
    FILE *f;
    CHECK(rnn_output_file_open(P("note.txt"), &of, &f) == RNN_OK, "open: %s", rnn_last_error());
    fputs("hello\n", f);
    CHECK(access(P("note.txt"), F_OK) != 0, "the target is visible before commit");
    CHECK(rnn_output_file_commit(of) == RNN_OK, "commit: %s", rnn_last_error());
    char buf[16] = {0};
    FILE *r = fopen(P("note.txt"), "r");
    CHECK(r && fgets(buf, sizeof buf, r) && !strcmp(buf, "hello\n"), "the committed content");
    if (r) fclose(r);
    CHECK(rnn_output_file_open(P("never.txt"), &of, &f) == RNN_OK, "open: %s", rnn_last_error());
    fputs("x", f);
    rnn_output_file_discard(of);
    CHECK(access(P("never.txt"), F_OK) != 0 && count_entries("rnntmp") == 0, "discard left something");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rnn_output_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    {
        rnn_model *m = rnn_sequential(NULL);
        rnn_input(m, 2, 1);
        rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
        int no_io = rnn_save(m, P("probe.keras")) == RNN_ERR_UNSUPPORTED;
        rnn_model_free(m);
        unlink(P("probe.keras"));
        if (no_io) { /* the model parts need the Keras file libraries */
            public_output_file();
            long_names_and_stale_temps();
            goto done;
        }
    }
    symlinks();
    devices_and_fifos();
    long_names_and_stale_temps();
    long_model_name();
    save_check();
    public_output_file();
done:;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("test_output_file");
}
