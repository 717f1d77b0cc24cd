/* `rnn fit` under mpirun or srun (see mpi_launch.h). The only file of the tool that sees mpi.h;
 * without RNN_WITH_MPI (a build without MPI) it only recognises the MPI job and says it cannot
 * join it. */
#include "mpi_launch.h"

#include <stdio.h>
#include <stdlib.h>

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

int cli_mpi_begin(rnn_distributed **group) {
    *group = NULL;
    if (!in_mpi_job()) return 0;
#ifdef RNN_WITH_MPI
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
#else
    fprintf(stderr, "rnn: this rnn was built without MPI (make MPI=1 after installing "
                    "libopenmpi-dev): each process would train alone\n");
    return 1;
#endif
}

void cli_mpi_end(rnn_distributed *group, int failed) {
    if (!group) return;
    rnn_distributed_free(group);
#ifdef RNN_WITH_MPI
    if (failed) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
#else
    (void)failed;
#endif
}
