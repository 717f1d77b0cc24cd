/* The MPI transport of data-parallel fit (librnn_mpi): the collectives of train/distributed.h
 * over a duplicate of the caller's communicator. Built only when MPI is found (make MPI=...),
 * so that librnn itself never links MPI.
 *
 * Every exchange is a non-blocking collective completed under a time limit, on a communicator
 * whose errors return instead of aborting: a rank that died or hangs makes the others fail
 * with RNN_ERR_IO and a message within the limit, never wait forever. (A launcher such as
 * mpirun usually kills the whole job first when a rank dies; the limit covers the rest: a rank
 * stopped or stuck, a launcher that does not.)
 *
 * The gradient sum adds the ranks' values in rank order, so that every rank gets the same bits
 * whichever algorithm the MPI library picks for MPI_Allreduce: each rank sums its 1/size slice
 * of the vector from every rank's contribution (MPI_Ialltoall, then the additions in rank
 * order), then the slices go to everyone (MPI_Iallgather). Each rank sends and receives
 * 2 (size-1)/size of the vector, the volume of a ring allreduce. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/distributed.h"

typedef struct {
    MPI_Comm comm;
    double timeout_s;
    float *send, *recv, *part; /* the gradient sum's buffers, grown as needed */
    int64_t cap;               /* floats per rank slice they hold */
} mpi_group;

rnn_mpi_options rnn_mpi_defaults(void) {
    rnn_mpi_options o;
    memset(&o, 0, sizeof o);
    return o;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static rnn_status mpi_fail(int rc, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
    text[len] = 0;
    return rnn__fail(RNN_ERR_IO, "MPI: %s failed: %s (a rank died?)", what, len ? text : "unknown error");
}

/* Completes req within the time limit. The first polls spin; then the wait sleeps between polls
 * (up to a millisecond), so that ranks sharing cores leave them to the ranks still computing. */
static rnn_status wait_for(mpi_group *g, MPI_Request *req, int rc, const char *what) {
    if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
    const double start = now_s();
    long pause_ns = 0;
    for (int polls = 0;; polls++) {
        int done = 0;
        if ((rc = MPI_Test(req, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS) return mpi_fail(rc, what);
        if (done) return RNN_OK;
        if (polls > 100) {
            if (now_s() - start > g->timeout_s) {
                int rank = 0, size = 1;
                MPI_Comm_rank(g->comm, &rank);
                MPI_Comm_size(g->comm, &size);
                return rnn__fail(RNN_ERR_IO, "MPI: rank %d of %d waited %.0f s for the other ranks "
                                 "in %s without an answer (a rank died or hangs; the limit is "
                                 "rnn_mpi_options.timeout_s or RNN_MPI_TIMEOUT): training stopped",
                                 rank, size, g->timeout_s, what);
            }
            pause_ns = pause_ns ? (pause_ns * 2 > 1000000 ? 1000000 : pause_ns * 2) : 20000;
            struct timespec ts = {0, pause_ns};
            nanosleep(&ts, NULL);
        }
    }
}

static rnn_status mpi_allgather(void *impl, const double *in, int n, double *out) {
    mpi_group *g = impl;
    MPI_Request req;
    int rc = MPI_Iallgather(in, n, MPI_DOUBLE, out, n, MPI_DOUBLE, g->comm, &req);
    return wait_for(g, &req, rc, "the exchange of losses and counts (MPI_Iallgather)");
}

static rnn_status mpi_broadcast(void *impl, void *buf, int64_t bytes, int root) {
    mpi_group *g = impl;
    const int64_t piece = (int64_t)1 << 30;
    for (int64_t off = 0; off < bytes; off += piece) {
        MPI_Request req;
        int n = (int)(bytes - off < piece ? bytes - off : piece);
        int rc = MPI_Ibcast((char *)buf + off, n, MPI_BYTE, root, g->comm, &req);
        rnn_status st = wait_for(g, &req, rc, "a broadcast from one rank (MPI_Ibcast)");
        if (st) return st;
    }
    return RNN_OK;
}

static rnn_status mpi_sum_floats(void *impl, float *data, int64_t n) {
    mpi_group *g = impl;
    int size;
    MPI_Comm_size(g->comm, &size);
    const int64_t slice = (n + size - 1) / size;
    if (slice > 0x7fffffff) return rnn__fail(RNN_ERR_MEMORY, "MPI: the gradient is too large");
    if (slice > g->cap) {
        float *s = realloc(g->send, sizeof(float) * (size_t)(slice * size));
        if (s) g->send = s;
        float *r = realloc(g->recv, sizeof(float) * (size_t)(slice * size));
        if (r) g->recv = r;
        float *p = realloc(g->part, sizeof(float) * (size_t)slice);
        if (p) g->part = p;
        if (!s || !r || !p) return rnn__fail(RNN_ERR_MEMORY, "out of memory");
        g->cap = slice;
    }
    memcpy(g->send, data, sizeof(float) * (size_t)n);
    memset(g->send + n, 0, sizeof(float) * (size_t)(slice * size - n));
    MPI_Request req;
    int rc = MPI_Ialltoall(g->send, (int)slice, MPI_FLOAT, g->recv, (int)slice, MPI_FLOAT, g->comm, &req);
    rnn_status st = wait_for(g, &req, rc, "the gradient sum (MPI_Ialltoall)");
    if (st) return st;
    /* recv[r * slice + i]: rank r's value i of this rank's slice, added in rank order */
    for (int64_t i = 0; i < slice; i++) {
        float s = g->recv[i];
        for (int r = 1; r < size; r++) s += g->recv[(int64_t)r * slice + i];
        g->part[i] = s;
    }
    rc = MPI_Iallgather(g->part, (int)slice, MPI_FLOAT, g->send, (int)slice, MPI_FLOAT, g->comm, &req);
    if ((st = wait_for(g, &req, rc, "the gradient sum (MPI_Iallgather)"))) return st;
    memcpy(data, g->send, sizeof(float) * (size_t)n);
    return RNN_OK;
}

static void mpi_release(void *impl) {
    mpi_group *g = impl;
    if (!g) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&g->comm);
    free(g->send);
    free(g->recv);
    free(g->part);
    free(g);
}

rnn_distributed *rnn_mpi_new(const rnn_mpi_options *options) {
    rnn_mpi_options o = options ? *options : rnn_mpi_defaults();
    int ready = 0, finalized = 0;
    MPI_Initialized(&ready);
    MPI_Finalized(&finalized);
    if (!ready || finalized) {
        rnn__fail(RNN_ERR_STATE, "rnn_mpi_new: MPI is not initialised (call MPI_Init first)");
        return NULL;
    }
    if (!(o.timeout_s > 0)) {
        const char *env = getenv("RNN_MPI_TIMEOUT");
        o.timeout_s = env && atof(env) > 0 ? atof(env) : 600.0;
    }
    MPI_Comm base = o.communicator ? *(const MPI_Comm *)o.communicator : MPI_COMM_WORLD;
    rnn_distributed *d = calloc(1, sizeof *d);
    mpi_group *g = calloc(1, sizeof *g);
    if (!d || !g) {
        free(d);
        free(g);
        rnn__fail(RNN_ERR_MEMORY, "out of memory");
        return NULL;
    }
    int rc = MPI_Comm_dup(base, &g->comm);
    if (rc != MPI_SUCCESS) {
        free(d);
        free(g);
        mpi_fail(rc, "rnn_mpi_new: MPI_Comm_dup");
        return NULL;
    }
    /* errors come back as codes on this communicator only (the caller's keeps its handler) */
    MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(g->comm, &d->rank);
    MPI_Comm_size(g->comm, &d->size);
    g->timeout_s = o.timeout_s;
    d->check_weights = o.check_weights != 0;
    d->impl = g;
    d->allgather = mpi_allgather;
    d->sum_floats = mpi_sum_floats;
    d->broadcast = mpi_broadcast;
    d->release = mpi_release;
    return d;
}
