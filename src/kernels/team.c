/* Thread teams (team.h). Workers 1..n-1 wait for a job number to change, run it and count
 * themselves done; the caller runs its own share as thread 0 and waits for the counts. Every
 * shared word sits on its own cache line, since the two sides poll them while the other
 * writes.
 *
 * The hand-offs are what a streaming step (B5: two small layers, microseconds each) pays three
 * times per call, and one cache line moving between two cores of this project's VMs takes
 * about 200 ns (a ping-pong round trip of 400 ns). So each is one line crossing once: no
 * read-modify-write on a line another thread polls (it waits for that line's round trip before
 * going on) and no full fence on the way into a job (it waits for the job number's store to
 * reach the workers: another round trip, 0.4 us a step). Each thread counts the barriers it has
 * reached in a line of its own, `arrived`; a barrier is "every count has reached mine", and a
 * worker's end of a job is one more count, which the caller waits for. */
#include "kernels/team.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEAM 8
/* How long an idle worker polls for the next job before it sleeps: longer than the gap
 * between two streaming steps or two layers (a few microseconds), short enough not to take a
 * core from other work that runs between step loops. */
#define SPIN_NS 50000L

#define LINE _Alignas(64)

struct rnn__team {
    LINE atomic_uint seq; /* job number: workers start a job when it changes */
    /* arrived[tid].count: the barriers thread tid has reached, plus one per job for a worker's
     * end of it, since the workers started; written only by that thread. Every thread of a job
     * passes the same barriers, so the counts are equal between jobs. */
    struct {
        LINE _Atomic unsigned long long count;
    } arrived[MAX_TEAM];
    LINE atomic_int sleepers;
    LINE atomic_int busy; /* a run is in progress (only callers touch this line) */
    LINE atomic_int stop;
    rnn__team_fn fn;
    void *arg;
    int n;       /* threads of the current job */
    int workers; /* started worker threads */
    int wanted;  /* rnn__team_resize (0: default) */
    unsigned seq_at_start; /* seq when the workers were created */
    unsigned forks;        /* fork_count when the workers were created */
    pthread_t th[MAX_TEAM];
    struct worker_arg {
        rnn__team *team;
        int tid;
    } wa[MAX_TEAM];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_ulong shared_runs, busy_runs; /* rnn__team_counts */
};

/* The team this thread runs a job of (NULL outside a job or when running alone), the threads
 * in that job, and the team rnn__team_enter made current. */
static _Thread_local rnn__team *tls_job;
static _Thread_local int tls_n = 1;
static _Thread_local int tls_tid; /* this thread's tid in tls_job */
/* this thread's arrived count when the job started (the same for every thread of the job) */
static _Thread_local unsigned long long tls_count0;
static _Thread_local rnn__team *tls_current;

/* Forks seen by this process: a team whose workers were created under another count is in a
 * forked child, which has none of them. */
static atomic_uint fork_count;
static void after_fork_child(void) { atomic_fetch_add(&fork_count, 1); }
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Polls before giving the core away with sched_yield: a few microseconds. Yielding matters when
 * the scheduler has put two threads of a run on one core (other programs busy on the rest):
 * a thread polling there without yielding keeps the one it waits for off the core until its
 * time slice ends, which made streaming steps many times slower on a loaded machine. */
#define POLLS_BEFORE_YIELD 256

/* One round of waiting: pause, and after POLLS_BEFORE_YIELD rounds also yield. */
static inline void wait_round(int i) {
    cpu_relax();
    if (i > POLLS_BEFORE_YIELD) sched_yield();
}

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void broadcast(rnn__team *team) {
    pthread_mutex_lock(&team->mu);
    pthread_cond_broadcast(&team->cv);
    pthread_mutex_unlock(&team->mu);
}

/* Wakes workers after seq changed. The fence makes this the seq_cst pair of the worker's
 * sleepers increment before its last look at seq: a worker either sees the new job or is
 * counted here. rnn__team_run posts without the fence (a look at sleepers that may miss a
 * worker falling asleep at that instant) and every wait for another thread of a job calls this
 * once it has waited a while (waiting_for_others), so a worker missed then is woken there. */
static void wake_workers(rnn__team *team) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&team->sleepers) > 0) broadcast(team);
}

/* One round of a wait for the other threads of a job (a barrier, the end of a job). */
static inline void waiting_for_others(rnn__team *team, int i) {
    wait_round(i);
    /* every 64 rounds (a few microseconds): a missed sleeper waits that long, not until the
     * polls give way to sched_yield (review7 saw 0.15 to 2.9 ms then); one fence per 64 polls
     * costs nothing against the wait */
    if ((i & 63) == 0) wake_workers(team);
}

/* Until thread j's count has reached `count`. */
static void wait_count(rnn__team *team, int j, unsigned long long count) {
    for (int i = 1; atomic_load_explicit(&team->arrived[j].count, memory_order_acquire) < count; i++)
        waiting_for_others(team, i);
}

/* Until every count in arrived[0..n) but `self`'s has reached `count`. */
static void wait_arrivals(rnn__team *team, int n, int self, unsigned long long count) {
    for (int j = 0; j < n; j++)
        if (j != self) wait_count(team, j, count);
}

/* This thread's count one up: a barrier reached, or a worker's job finished (a plain store:
 * only this thread writes the line). */
static unsigned long long arrive(rnn__team *team, int tid) {
    const unsigned long long c =
        atomic_load_explicit(&team->arrived[tid].count, memory_order_relaxed) + 1;
    atomic_store_explicit(&team->arrived[tid].count, c, memory_order_release);
    return c;
}

static void *worker_main(void *p) {
    const struct worker_arg *wa = p;
    rnn__team *team = wa->team;
    const int tid = wa->tid;
    tls_current = team; /* a nested run inside a job finds its own team busy */
    unsigned seen = team->seq_at_start; /* not seq itself: the first job may be posted already */
    for (;;) {
        unsigned s = atomic_load_explicit(&team->seq, memory_order_acquire);
        if (s == seen) {
            const long t0 = now_ns();
            for (int i = 1;; i++) {
                wait_round(i);
                s = atomic_load_explicit(&team->seq, memory_order_acquire);
                if (s != seen) break;
                if ((i & 255) == 0 && now_ns() - t0 > SPIN_NS) {
                    pthread_mutex_lock(&team->mu);
                    atomic_fetch_add(&team->sleepers, 1);
                    while ((s = atomic_load(&team->seq)) == seen)
                        pthread_cond_wait(&team->cv, &team->mu);
                    atomic_fetch_sub(&team->sleepers, 1);
                    pthread_mutex_unlock(&team->mu);
                    break;
                }
            }
        }
        seen = s;
        if (atomic_load(&team->stop)) return NULL;
        tls_job = team;
        tls_n = team->n;
        tls_tid = tid;
        tls_count0 = atomic_load_explicit(&team->arrived[tid].count, memory_order_relaxed);
        team->fn(team->arg, tid, team->n);
        tls_n = 1;
        tls_job = NULL;
        arrive(team, tid); /* done */
    }
}

static void stop_workers(rnn__team *team) {
    if (team->workers == 0) return;
    atomic_store(&team->stop, 1);
    atomic_fetch_add(&team->seq, 1);
    wake_workers(team);
    for (int i = 1; i <= team->workers; i++) pthread_join(team->th[i], NULL);
    team->workers = 0;
    atomic_store(&team->stop, 0);
}

/* In a forked child: the parent's workers do not exist here, and the lock and condition may
 * have been held by one of them. */
static void forget_workers(rnn__team *team) {
    team->workers = 0;
    atomic_store(&team->busy, 0);
    atomic_store(&team->sleepers, 0);
    atomic_store(&team->stop, 0);
    pthread_mutex_init(&team->mu, NULL);
    pthread_cond_init(&team->cv, NULL);
    team->forks = atomic_load(&fork_count);
}

rnn__team *rnn__team_new(int threads) {
    pthread_once(&atfork_once, register_atfork);
    const size_t size = (sizeof(rnn__team) + 63) / 64 * 64;
    rnn__team *team = aligned_alloc(64, size);
    if (!team) return NULL;
    memset(team, 0, size);
    pthread_mutex_init(&team->mu, NULL);
    pthread_cond_init(&team->cv, NULL);
    team->wanted = threads > 0 ? threads : 0;
    team->forks = atomic_load(&fork_count);
    return team;
}

void rnn__team_free(rnn__team *team) {
    if (!team) return;
    if (team->forks == atomic_load(&fork_count)) stop_workers(team);
    pthread_mutex_destroy(&team->mu);
    pthread_cond_destroy(&team->cv);
    free(team);
}

static rnn__team *_Atomic default_team;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static void make_default(void) { atomic_store(&default_team, rnn__team_new(0)); }

rnn__team *rnn__team_default(void) {
    rnn__team *team = atomic_load_explicit(&default_team, memory_order_acquire);
    if (team) return team;
    pthread_once(&default_once, make_default);
    return atomic_load(&default_team);
}

rnn__team *rnn__team_enter(rnn__team *team) {
    rnn__team *previous = tls_current;
    if (team) tls_current = team;
    return previous;
}

void rnn__team_leave(rnn__team *previous) { tls_current = previous; }

static rnn__team *current(void) { return tls_current ? tls_current : rnn__team_default(); }

/* The online CPUs, asked once (sysconf reads /sys on every call). */
static int online_cpus(void) {
    static atomic_int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n;
}

int rnn__team_size_of(const rnn__team *team) {
    if (!team) return 1;
    int n = team->wanted;
    if (n <= 0) n = online_cpus();
    return n > MAX_TEAM ? MAX_TEAM : n;
}

void rnn__team_resize(rnn__team *team, int n) {
    if (!team) return;
    if (atomic_exchange(&team->busy, 1)) { /* a run is in progress: it keeps its size */
        team->wanted = n;
        return;
    }
    team->wanted = n;
    if (team->forks != atomic_load(&fork_count)) forget_workers(team);
    if (team->workers != rnn__team_size_of(team) - 1) stop_workers(team);
    atomic_store(&team->busy, 0);
}

void rnn__team_counts(const rnn__team *team, unsigned long *shared, unsigned long *busy) {
    *shared = team ? atomic_load(&team->shared_runs) : 0;
    *busy = team ? atomic_load(&team->busy_runs) : 0;
}

int rnn__team_size(void) { return rnn__team_size_of(current()); }
void rnn__team_set_size(int n) { rnn__team_resize(current(), n); }

void rnn__team_run_alone(rnn__team_fn fn, void *arg) {
    const int saved_n = tls_n;
    rnn__team *saved_job = tls_job;
    tls_n = 1;
    tls_job = NULL;
    fn(arg, 0, 1);
    tls_n = saved_n;
    tls_job = saved_job;
}

int rnn__team_run(rnn__team_fn fn, void *arg) {
    rnn__team *team = current();
    const int n = rnn__team_size_of(team);
    if (team && team->forks != atomic_load(&fork_count)) forget_workers(team);
    if (n <= 1 || atomic_exchange(&team->busy, 1)) {
        if (n > 1) atomic_fetch_add_explicit(&team->busy_runs, 1, memory_order_relaxed);
        rnn__team_run_alone(fn, arg);
        return 1;
    }
    if (team->workers != n - 1) {
        stop_workers(team);
        team->seq_at_start = atomic_load(&team->seq);
        for (int i = 0; i < MAX_TEAM; i++) atomic_store(&team->arrived[i].count, 0);
        for (int i = 1; i < n; i++) {
            team->wa[i] = (struct worker_arg){team, i};
            if (pthread_create(&team->th[i], NULL, worker_main, &team->wa[i]) != 0) break;
            team->workers = i;
        }
        if (team->workers != n - 1) { /* no threads to be had: this job and later ones alone */
            stop_workers(team);
            team->wanted = 1;
            atomic_store(&team->busy, 0);
            rnn__team_run_alone(fn, arg);
            return 1;
        }
    }
    /* only the run holding busy writes it: no locked add on the hand-off path */
    atomic_store_explicit(&team->shared_runs,
                          atomic_load_explicit(&team->shared_runs, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* The workers read these lines at every job: writing only what changed leaves them shared
     * (a streaming step posts the same function, argument and size every time). */
    if (team->fn != fn) team->fn = fn;
    if (team->arg != arg) team->arg = arg;
    if (team->n != n) team->n = n;
    /* Only the run holding busy writes seq: a release store publishes the job without waiting
     * for a locked add. No fence before the look at sleepers (wake_workers's comment). */
    atomic_store_explicit(&team->seq, atomic_load_explicit(&team->seq, memory_order_relaxed) + 1,
                          memory_order_release);
    if (atomic_load_explicit(&team->sleepers, memory_order_relaxed) > 0) broadcast(team);
    tls_job = team;
    tls_n = n;
    tls_tid = 0;
    tls_count0 = atomic_load_explicit(&team->arrived[0].count, memory_order_relaxed);
    fn(arg, 0, n);
    tls_n = 1;
    tls_job = NULL;
    /* the workers' ends: each count one past thread 0's, which then takes the same step */
    wait_arrivals(team, n, 0,
                  atomic_load_explicit(&team->arrived[0].count, memory_order_relaxed) + 1);
    arrive(team, 0);
    atomic_store_explicit(&team->busy, 0, memory_order_release);
    return n;
}

void rnn__team_barrier(void) {
    const int n = tls_n;
    rnn__team *team = tls_job;
    if (n <= 1 || !team) return;
    const int tid = tls_tid;
    wait_arrivals(team, n, tid, arrive(team, tid));
}

int rnn__team_signal(void) {
    rnn__team *team = tls_job;
    if (tls_n <= 1 || !team) return 0;
    return (int)(arrive(team, tls_tid) - tls_count0);
}

int rnn__team_signalled(int tid, int k) {
    rnn__team *team = tls_job;
    if (tls_n <= 1 || !team || tid == tls_tid) return 1;
    return atomic_load_explicit(&team->arrived[tid].count, memory_order_acquire) >=
           tls_count0 + (unsigned long long)k;
}

void rnn__team_wait_signal(int tid, int k) {
    rnn__team *team = tls_job;
    if (tls_n <= 1 || !team || tid == tls_tid) return;
    wait_count(team, tid, tls_count0 + (unsigned long long)k);
}
int rnn__team_split(int B, int H, int tid, int n, int *b0, int *b1, int *lo, int *hi) {
    if (n > 1 && B >= RNN_TEAM_MIN_ROWS * n) {
        *b0 = (int)((long)B * tid / n);
        *b1 = (int)((long)B * (tid + 1) / n);
        *lo = 0;
        *hi = H;
        return 1;
    }
    *b0 = 0;
    *b1 = B;
    rnn__team_units(H, tid, n, lo, hi);
    return 0;
}

void rnn__team_units(int H, int tid, int n, int *lo, int *hi) {
    const int blocks = (H + 7) / 8;
    const int b0 = (int)((long)blocks * tid / n), b1 = (int)((long)blocks * (tid + 1) / n);
    *lo = 8 * b0 < H ? 8 * b0 : H;
    *hi = 8 * b1 < H ? 8 * b1 : H;
}
