/* `rnn fit` under mpirun or srun (see mpi_launch.h). Compiled twice: into the rnn tool without
 * MPI, where an MPI job makes it hand over to rnn-mpi, and with RNN_WITH_MPI into rnn-mpi, the
 * same tool linked with librnn_mpi and the MPI library. The tool that every other command runs
 * so stays free of MPI's libraries, which load dozens of shared objects at start-up (rnn runs
 * under a 64 MB address-space limit; linked with libmpi it cannot even start there). */
#include "mpi_launch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RNN_WITH_MPI
#include <mpi.h>
#endif

/* The variables that Open MPI's mpirun, MPICH's Hydra and Slurm's srun (PMI-2 or PMIx) give
 * each rank. */
static int in_mpi_job(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

#ifdef RNN_WITH_MPI
int cli_mpi_begin(rnn_distributed **group) {
    *group = NULL;
    if (!in_mpi_job()) return 0;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "rnn: MPI_Init failed\n");
        return 1;
    }
    rnn_mpi_options o = rnn_mpi_defaults();
    if (!(*group = rnn_mpi_new(&o))) {
        fprintf(stderr, "rnn: %s\n", rnn_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
        return 1;
    }
    return 0;
}

void cli_mpi_end(rnn_distributed *group, int failed) {
    if (!group) return;
    rnn_distributed_free(group);
    if (failed) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
}
#else
/* The command line as started, from /proc/self/cmdline (NUL-separated), for the exec. */
static char **own_argv(char *buf, size_t size, char **argv, int max) {
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    if (n == 0 || n == size - 1) return NULL;
    buf[n] = 0;
    int k = 0;
    for (size_t i = 0; i < n && k < max - 1; i += strlen(buf + i) + 1) argv[k++] = buf + i;
    argv[k] = NULL;
    return argv;
}

int cli_mpi_begin(rnn_distributed **group) {
    *group = NULL;
    if (!in_mpi_job()) return 0;
    /* rnn-mpi beside this program (the build tree, a copy), or in PREFIX/libexec/rnn */
    static char self[4096], path[4200], cmdline[65536];
    static char *args[1024];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        if (own_argv(cmdline, sizeof cmdline, args, 1024)) {
            snprintf(path, sizeof path, "%s/rnn-mpi", self);
            execv(path, args);
            snprintf(path, sizeof path, "%s/../libexec/rnn/rnn-mpi", self);
            execv(path, args);
        }
    }
    fprintf(stderr, "rnn: started by an MPI launcher, but there is no rnn-mpi beside this rnn or "
                    "in ../libexec/rnn (%s): build with MPI (libopenmpi-dev; make MPI=1) to "
                    "train across processes\n", strerror(errno));
    return 1;
}

void cli_mpi_end(rnn_distributed *group, int failed) {
    (void)group;
    (void)failed;
}
#endif
