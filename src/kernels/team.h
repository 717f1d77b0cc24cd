/* Thread teams for the recurrent step loops and the large products.
 *
 * Why: a recurrent layer's steps are sequential, and each step is small (a (B x H) x (H x 4H)
 * product and the gates). Handing each step's product to a threaded BLAS joins its threads
 * after every step while the gates run on one thread; OpenBLAS also repacks the recurrent
 * kernel on every call. A team instead runs the whole step loop on every thread at once, each
 * thread owning a slice of the units (its columns of the recurrent kernel, its part of the
 * gates), with one spin barrier per step where the new state is complete.
 *
 * Teams belong to contexts (rnn_context, src/context.c): the process's default one, created on
 * first use, or one the caller made and attached to a model. rnn__team_enter makes a team the
 * calling thread's current team for the length of a model's forward or backward pass (a
 * worker's current team is its own); the functions below without a team argument act on the
 * current team, or on the default team when none was entered.
 *
 * rnn__team_run(fn, arg) calls fn(arg, tid, n) on n threads, the caller being tid 0, and
 * returns when all have returned. Inside fn, rnn__team_barrier() waits for the others. n is
 * the team size (default: the online CPUs, at most 8). When the team is busy (another thread
 * of the program using the same context, or a nested call) fn runs on the caller alone with
 * n = 1, so fn must accept any n. Workers spin for a short while after a job (streaming calls
 * follow each other within microseconds), then sleep on a condition variable. After fork() the
 * child starts new workers on first use. Results never depend on timing: each thread's share
 * of the work is fixed by (tid, n). */
#ifndef RNN_TEAM_H
#define RNN_TEAM_H

typedef void (*rnn__team_fn)(void *arg, int tid, int n);
typedef struct rnn__team rnn__team;

/* A team of `threads` threads (0: the default size); NULL when out of memory. Workers start on
 * the first run. */
rnn__team *rnn__team_new(int threads);
/* Stops the workers and frees the team (not while a run is in progress). */
void rnn__team_free(rnn__team *team);
/* The process's default team, created on first use (NULL only when out of memory: callers
 * then run alone). */
rnn__team *rnn__team_default(void);

/* Makes team the calling thread's current team and returns the previous one (NULL: none); a
 * NULL team keeps the current one. Pair with rnn__team_leave(previous). */
rnn__team *rnn__team_enter(rnn__team *team);
void rnn__team_leave(rnn__team *previous);

/* Threads a team would run a job on now (1: no team). */
int rnn__team_size_of(const rnn__team *team);
/* 0: the default. Stops the workers when the size changes; they start again on demand. */
void rnn__team_resize(rnn__team *team, int n);

/* Jobs the team ran on several threads, and jobs that ran alone because it was busy (tests). */
void rnn__team_counts(const rnn__team *team, unsigned long *shared, unsigned long *busy);

/* The same for the current team. */
int rnn__team_size(void);
void rnn__team_set_size(int n);
/* Returns the number of threads fn ran on. */
int rnn__team_run(rnn__team_fn fn, void *arg);
/* fn(arg, 0, 1) on the calling thread, as a run does when the team is busy: for a job too
 * small to pay for the hand-offs to the other threads. */
void rnn__team_run_alone(rnn__team_fn fn, void *arg);
/* All n threads of the current run wait here for each other (no-op with n == 1). */
void rnn__team_barrier(void);
/* A barrier in two halves, for work that needs only some of the others' results: a thread
 * calls rnn__team_signal() when what it wrote so far is ready for the others (it does not wait),
 * and rnn__team_wait_signal(j, k) waits until thread j has signalled k times in this job (a
 * barrier counts as one signal of every thread); rnn__team_signal returns that number for the
 * calling thread (0 with n == 1): the k at which the others find what it wrote so far, which
 * counts the barriers it passed too. Every thread of a job must signal and pass
 * barriers the same number of times. No-ops with n == 1. */
int rnn__team_signal(void);
void rnn__team_wait_signal(int tid, int k);
/* Whether rnn__team_wait_signal(tid, k) would return at once (it does not wait). */
int rnn__team_signalled(int tid, int k);

/* [*lo, *hi): the units of thread tid among n, split in whole blocks of 8 (the gate passes'
 * vector width) as evenly as the blocks allow; the last thread takes the tail of H % 8. */
void rnn__team_units(int H, int tid, int n, int *lo, int *hi);

/* How the step loops share a batch of B rows of H units: by rows when every thread gets at least
 * RNN_TEAM_MIN_ROWS of them - each thread then runs the recurrence of its own samples, all
 * units, and never waits for the others - else by units (rnn__team_units, one barrier per
 * step). Writes thread tid's rows [*b0, *b1) and units [*lo, *hi); returns 1 for rows. */
#define RNN_TEAM_MIN_ROWS 16
int rnn__team_split(int B, int H, int tid, int n, int *b0, int *b1, int *lo, int *hi);

#endif
