/* `rnn fit` under mpirun or srun: data-parallel training (issue 20). Built with MPI
 * (make MPI=...) the tool starts MPI when it finds itself in an MPI job; without MPI, it says
 * that it trains alone. */
#ifndef RNN_CLI_MPI_LAUNCH_H
#define RNN_CLI_MPI_LAUNCH_H

#include "rnn.h"

/* In an MPI job (the launcher's environment: Open MPI, MPICH/Hydra, PMI or PMIx, as under
 * mpirun and srun) initialises MPI and makes the group of every rank in *group; outside one
 * *group stays NULL. Returns 0, or 1 after printing why MPI could not start. */
int cli_mpi_begin(rnn_distributed **group);
/* Frees the group and finalises MPI. failed: this rank failed, so the whole job is aborted
 * (MPI_Abort) instead, and no other rank waits for it. */
void cli_mpi_end(rnn_distributed *group, int failed);

#endif
