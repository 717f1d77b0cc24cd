/* The model-file commands of the rnn tool. Uses only the public header. */
#include "model_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "mpi_launch.h"
#include "rnn.h"

static rnn_model *load_or_report(const char *path) {
    rnn_model *m = rnn_load(path);
    if (!m) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else if (rnn_model_warning(m)[0]) fprintf(stderr, "rnn: warning: %s: %s\n", path, rnn_model_warning(m));
    return m;
}

/* Whether two paths name the same existing file (links followed). */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* An output must not be one of the command's inputs: writing it would destroy what the command
 * reads (`rnn predict m.keras --input x.npy --output m.keras` turned the model into a .npy). The
 * inputs list ends with NULL. Prints the refusal; 0 when out is none of them. */
static int refuse_output_onto_input(const char *cmd, const char *opt, const char *out,
                                    const char *const *inputs) {
    for (int i = 0; inputs[i]; i++)
        if (same_file(out, inputs[i]) || !strcmp(out, inputs[i])) {
            fprintf(stderr, "rnn %s: %s %s is also an input of this command (%s); write the "
                    "result to another file\n", cmd, opt, out, inputs[i]);
            return 1;
        }
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Before any work: an .npy output must be named so and be writable (a temporary file is made
 * and removed beside it). Prints the reason; 0 when fine. */
static int check_npy_output(const char *cmd, const char *out) {
    if (!ends_with(out, ".npy")) {
        fprintf(stderr, "rnn %s: --output %s: the output is a NumPy array; name it .npy\n", cmd, out);
        return 2;
    }
    rnn_output_file *of;
    FILE *f;
    if (rnn_output_file_open(out, &of, &f) != RNN_OK) {
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_last_error());
        return 1;
    }
    rnn_output_file_discard(of);
    return 0;
}

/* A positive integer option value; prints the error and returns -1 otherwise. */
static long positive_int(const char *cmd, const char *opt, const char *text) {
    long v;
    if (cli_parse_int(text, 1, 1L << 30, &v)) {
        fprintf(stderr, "rnn %s: %s needs a positive integer, got \"%s\"\n", cmd, opt, text);
        return -1;
    }
    return v;
}

int summary_main(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: rnn summary MODEL(.keras|.h5)\n");
        return argc == 2 ? 0 : 2;
    }
    rnn_model *m = load_or_report(argv[1]);
    if (!m) return 1;
    int rc = rnn_summary(m, stdout) ? 1 : 0;
    if (rc) fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    rnn_model_free(m);
    return rc;
}

#define PREDICT_USAGE                                                                         \
    "usage: rnn predict MODEL --input x.npy --output y.npy [--batch-size N] [--stateful-stream]\n" \
    "--stateful-stream: feed the input one time step at a time, every recurrent layer carrying\n" \
    "its state from step to step (a stateful model called on one step after another); x is\n"   \
    "(B, T, F) with B the model's fixed batch size (or 1), or (T, F) when B is 1 (token ids:\n"  \
    "(B, T) or (T)); y holds the output of every step: (B, T, outputs), or (T, outputs).\n"

/* --stateful-stream: rnn_predict_step over the input's steps, from zeroed states. */
static int predict_stream(rnn_model *m, const rnn_tensor *x, const char *out) {
    int64_t B, F, O;
    if (rnn_stream_shape(m, &B, &F, &O)) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
        return 1;
    }
    /* Accepted layouts, the first that fits the model wins: (B, T, F); with one feature (token
     * ids) also (B, T); and when B is 1, (T, F), and (T) with one feature. A (50, 1) input of a
     * one-stream, one-feature model is 50 steps, not 50 streams. */
    int has_batch = -1;
    int64_t T = 0;
    const int64_t *s = x->shape;
    if (x->rank == 3 && s[0] == B && s[2] == F) has_batch = 1, T = s[1];
    else if (x->rank == 2 && F == 1 && s[0] == B) has_batch = 1, T = s[1];
    else if (x->rank == 2 && B == 1 && s[1] == F) has_batch = 0, T = s[0];
    else if (x->rank == 1 && B == 1 && F == 1) has_batch = 0, T = s[0];
    if (has_batch < 0 || T < 1) {
        fprintf(stderr, "rnn predict --stateful-stream: the model streams %lld sequence(s) of %lld "
                "feature(s) per step: the input must be (%lld, steps, %lld)", (long long)B,
                (long long)F, (long long)B, (long long)F);
        if (F == 1) fprintf(stderr, " or (%lld, steps)", (long long)B);
        if (B == 1) fprintf(stderr, " or (steps, %lld)", (long long)F);
        if (B == 1 && F == 1) fprintf(stderr, " or (steps)");
        fprintf(stderr, ", with at least one step; got (");
        for (int k = 0; k < x->rank; k++)
            fprintf(stderr, "%s%lld", k ? ", " : "", (long long)x->shape[k]);
        fprintf(stderr, ")\n");
        return 2;
    }
    rnn_tensor y = {0};
    y.rank = has_batch ? 3 : 2;
    int64_t *d = y.shape;
    if (has_batch) *d++ = B;
    d[0] = T;
    d[1] = O;
    float *xs = malloc(sizeof(float) * (size_t)(B * F)), *ys = malloc(sizeof(float) * (size_t)(B * O));
    y.data = malloc(sizeof(float) * (size_t)(B * T * O));
    int rc = 1;
    if (!xs || !ys || !y.data) {
        fprintf(stderr, "rnn: out of memory\n");
        goto done;
    }
    rnn_reset_states(m);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < B; b++) /* step t of every stream: x[b, t, :] */
            memcpy(xs + b * F, x->data + (b * T + t) * F, sizeof(float) * (size_t)F);
        if (rnn_predict_step(m, xs, ys)) {
            fprintf(stderr, "rnn: step %lld: %s\n", (long long)t, rnn_model_error(m));
            goto done;
        }
        for (int64_t b = 0; b < B; b++)
            memcpy(y.data + (b * T + t) * O, ys + b * O, sizeof(float) * (size_t)O);
    }
    if (rnn_npy_save(out, &y)) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else rc = 0;
done:
    free(xs);
    free(ys);
    free(y.data);
    return rc;
}

int predict_parse(int argc, char **argv, predict_args *a) {
    a->model = a->in = a->out = NULL;
    a->batch = 32;
    a->stream = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) a->in = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) a->out = argv[++i];
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc) {
            long v = positive_int("predict", "--batch-size", argv[++i]);
            if (v < 0) return 2;
            a->batch = (int)v;
        } else if (!strcmp(argv[i], "--stateful-stream")) {
            a->stream = 1;
        } else if (!strcmp(argv[i], "--help")) {
            printf(PREDICT_USAGE);
            return 0;
        } else if (argv[i][0] != '-' && !a->model) a->model = argv[i];
        else {
            fprintf(stderr, "rnn predict: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!a->model || !a->in || !a->out) {
        fprintf(stderr, PREDICT_USAGE);
        return 2;
    }
    return -1;
}

int predict_main(int argc, char **argv) {
    predict_args a;
    int parsed = predict_parse(argc, argv, &a);
    if (parsed >= 0) return parsed;
    const char *model = a.model, *in = a.in, *out = a.out;
    int batch = a.batch;
    const char *inputs[] = {model, in, NULL};
    if (refuse_output_onto_input("predict", "--output", out, inputs)) return 2;
    int bad = check_npy_output("predict", out);
    if (bad) return bad;
    rnn_model *m = load_or_report(model);
    if (!m) return 1;
    rnn_tensor x = {0}, y = {0};
    int rc = 1;
    if (rnn_npy_load(in, &x)) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else if (a.stream) rc = predict_stream(m, &x, out);
    else if (rnn_predict(m, rnn_data_x(x), batch, &y, 1)) fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
    else if (rnn_npy_save(out, &y)) fprintf(stderr, "rnn: %s\n", rnn_last_error());
    else rc = 0;
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    rnn_model_free(m);
    return rc;
}

int convert_main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: rnn convert IN(.keras|.h5) OUT(.keras|.h5)\n");
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    const char *inputs[] = {argv[1], NULL};
    if (refuse_output_onto_input("convert", "OUT", argv[2], inputs)) return 2;
    rnn_model *m = load_or_report(argv[1]);
    if (!m) return 1;
    int rc = 0;
    if (rnn_save(m, argv[2])) {
        fprintf(stderr, "rnn: %s\n", rnn_model_error(m));
        rc = 1;
    }
    rnn_model_free(m);
    return rc;
}

#define FIT_USAGE                                                                             \
    "usage: rnn fit MODEL --x X.npy --y Y.npy --output OUT(.keras|.h5) [--epochs N]\n"         \
    "               [--batch-size N] [--validation-split F] [--no-shuffle] [--verbose 0|1|2]\n" \
    "               [--resume BACKUP.keras [--backup-every N]]\n"                             \
    "Continues training a compiled Keras model (its loss and optimizer, and the optimizer's\n" \
    "state when saved, come from the file). --resume: BackupAndRestore - the run writes\n"      \
    "BACKUP.keras after every epoch (and every N batches); run the same command again after\n" \
    "an interruption and it continues from the backup, ending with the same weights as an\n"  \
    "uninterrupted run. The backup is removed when the command finishes.\n"

int fit_parse(int argc, char **argv, fit_args *p) {
    p->model = p->x = p->y = p->out = NULL;
    p->fo = rnn_fit_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        if (!strcmp(a, "--x") && i + 1 < argc) p->x = argv[++i];
        else if (!strcmp(a, "--y") && i + 1 < argc) p->y = argv[++i];
        else if (!strcmp(a, "--output") && i + 1 < argc) p->out = argv[++i];
        else if (!strcmp(a, "--no-shuffle")) p->fo.shuffle = 0;
        else if (!strcmp(a, "--resume") && i + 1 < argc) p->fo.backup.path = argv[++i];
        else if (!strcmp(a, "--backup-every") && i + 1 < argc) {
            if ((v = positive_int("fit", a, argv[++i])) < 0) return 2;
            p->fo.backup.save_freq = (int)v;
        }
        else if ((!strcmp(a, "--epochs") || !strcmp(a, "--batch-size")) && i + 1 < argc) {
            if ((v = positive_int("fit", a, argv[++i])) < 0) return 2;
            if (!strcmp(a, "--epochs")) p->fo.epochs = (int)v;
            else p->fo.batch_size = (int)v;
        } else if (!strcmp(a, "--verbose") && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "0") && strcmp(t, "1") && strcmp(t, "2")) {
                fprintf(stderr, "rnn fit: --verbose takes 0, 1 or 2\n");
                return 2;
            }
            p->fo.verbose = t[0] - '0';
        } else if (!strcmp(a, "--validation-split") && i + 1 < argc) {
            double f;
            if (cli_parse_fraction(argv[++i], 0.0, 1.0, &f)) {
                fprintf(stderr, "rnn fit: --validation-split takes a fraction in [0, 1)\n");
                return 2;
            }
            p->fo.validation_split = (float)f;
        } else if (!strcmp(a, "--help")) {
            printf(FIT_USAGE);
            return 0;
        } else if (a[0] != '-' && !p->model) p->model = a;
        else {
            fprintf(stderr, "rnn fit: unexpected argument %s\n%s", a, FIT_USAGE);
            return 2;
        }
    }
    if (!p->model || !p->x || !p->y || !p->out) {
        fprintf(stderr, FIT_USAGE);
        return 2;
    }
    if (p->fo.backup.save_freq && !p->fo.backup.path) {
        fprintf(stderr, "rnn fit: --backup-every needs --resume BACKUP.keras\n");
        return 2;
    }
    return -1;
}

/* The trained model, when OUT cannot be written after all (its directory vanished, the disk
 * filled up): saved under a name of its own beside the backup, in the current directory or in
 * TMPDIR, so that the training is not lost. Prints where; 0 when it was saved. */
static int save_rescue(rnn_model *m, const char *out, const char *backup) {
    const char *ext = ends_with(out, ".keras") ? ".keras" : ".h5";
    char dirs[3][1024];
    int n = 0;
    if (backup) {
        const char *slash = strrchr(backup, '/');
        snprintf(dirs[n++], sizeof dirs[0], "%.*s", slash ? (int)(slash - backup) : 1, slash ? backup : ".");
    }
    snprintf(dirs[n++], sizeof dirs[0], ".");
    const char *tmp = getenv("TMPDIR");
    snprintf(dirs[n++], sizeof dirs[0], "%s", tmp && tmp[0] ? tmp : "/tmp");
    for (int i = 0; i < n; i++) {
        char path[1100];
        if (snprintf(path, sizeof path, "%.1000s/rnn-fit-rescued-%ld%s", dirs[i], (long)getpid(), ext) < 0)
            continue;
        if (rnn_save(m, path) == RNN_OK) {
            fprintf(stderr, "rnn fit: the trained model was saved to %s instead\n", path);
            return 0;
        }
    }
    fprintf(stderr, "rnn fit: the trained model could not be saved anywhere: %s\n", rnn_last_error());
    return 1;
}

int fit_main(int argc, char **argv) {
    fit_args p;
    int parsed = fit_parse(argc, argv, &p);
    if (parsed >= 0) return parsed;
    const char *model = p.model, *xp = p.x, *yp = p.y, *out = p.out;
    rnn_fit_options fo = p.fo;
    const char *backup = fo.backup.path;
    const char *inputs[] = {model, xp, yp, NULL};
    if (refuse_output_onto_input("fit", "--output", out, inputs)) return 2;
    if (backup && (refuse_output_onto_input("fit", "--resume", backup, inputs) ||
                   (!strcmp(backup, out) || same_file(backup, out)))) {
        if (!strcmp(backup, out) || same_file(backup, out))
            fprintf(stderr, "rnn fit: --resume and --output name the same file\n");
        return 2;
    }
    rnn_model *m = load_or_report(model);
    if (!m) return 1;
    rnn_tensor x = {0}, y = {0};
    int rc = 1;
    /* Everything that could make the final save fail is checked before the training: the
     * output's name, format (a Keras 1/2 model cannot always become .keras) and directory. */
    if (rnn_save_check(m, out) || (backup && rnn_save_check(m, backup))) {
        fprintf(stderr, "rnn fit: %s\n", rnn_model_error(m));
        rnn_model_free(m);
        return 1;
    }
    /* The backup goes only once the result is safely written (below). */
    fo.backup.delete_checkpoint = 0;
    /* Under mpirun or srun: data-parallel, each rank reading its rows of mapped arrays, and
     * rank 0 writing the files. */
    rnn_distributed *group = NULL;
    if (cli_mpi_begin(&group)) {
        rnn_model_free(m);
        return 1;
    }
    fo.distributed = group;
    const int rank0 = rnn_distributed_rank(group) == 0;
    rnn_npy_map *xmap = NULL, *ymap = NULL;
    if (group ? rnn_npy_map_open(xp, &x, &xmap) || rnn_npy_map_open(yp, &y, &ymap)
              : rnn_npy_load(xp, &x) || rnn_npy_load(yp, &y))
        fprintf(stderr, "rnn: %s%s\n", rnn_last_error(), group ? " (a distributed fit maps its "
                "arrays: float32 .npy files)" : "");
    else if (rnn_fit(m, rnn_data_xy(x, y), &fo, NULL))
        fprintf(stderr, "rnn: %s%s\n", rnn_model_error(m),
                strstr(rnn_model_error(m), "compile") ? " (the file has no compile information "
                "librnn can use; compile the model in Keras before saving it)" : "");
    else if (!rank0)
        rc = 0;
    else if (rnn_save(m, out)) {
        fprintf(stderr, "rnn fit: cannot save %s: %s\n", out, rnn_model_error(m));
        save_rescue(m, out, backup);
        if (backup) fprintf(stderr, "rnn fit: the backup %s is kept\n", backup);
    } else {
        rc = 0;
        if (backup && unlink(backup) != 0 && errno != ENOENT)
            fprintf(stderr, "rnn fit: warning: cannot remove the backup %s: %s\n", backup,
                    strerror(errno));
    }
    rnn_tensor_free(&x);
    rnn_tensor_free(&y);
    rnn_npy_map_close(xmap);
    rnn_npy_map_close(ymap);
    rnn_model_free(m);
    cli_mpi_end(group, rc != 0);
    return rc;
}
