/*
 * pool.c: a fixed set of worker threads running parallel-for loops, and the
 * monotonic clock. Tasks are handed out by an atomic counter; determinism is
 * the caller's job (each task writes its own slot, combined in fixed order).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "alc_common.h"

double alc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int alc_default_threads(void)
{
    const char *env = getenv("ALC_THREADS");
    if (env != NULL && atoi(env) > 0) {
        return atoi(env);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

struct alc_pool {
    int n;                 /* workers, the calling thread included */
    pthread_t *threads;    /* n - 1 helper threads */
    pthread_mutex_t mu;
    pthread_cond_t start;  /* signalled when a new job is posted */
    pthread_cond_t finish; /* signalled when the last worker is done */
    uint64_t generation;   /* bumped per job */
    int quit;
    int running;           /* helpers still inside the current job */
    /* the current job */
    alc_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_llong next;
};

struct worker_arg {
    struct alc_pool *p;
    int id;
};

static void run_tasks(struct alc_pool *p, int worker)
{
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) {
            break;
        }
        p->fn(p->ctx, t, worker);
    }
}

static void *worker_main(void *arg)
{
    struct worker_arg wa = *(struct worker_arg *)arg;
    struct alc_pool *p = wa.p;
    uint64_t seen = 0;
    free(arg);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) {
            pthread_cond_wait(&p->start, &p->mu);
        }
        if (p->quit) {
            break;
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, wa.id);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0) {
            pthread_cond_signal(&p->finish);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct alc_pool *alc_pool_new(int n_threads)
{
    struct alc_pool *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->n = n_threads > 0 ? n_threads : alc_default_threads();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->finish, NULL);
    p->threads = calloc((size_t)p->n, sizeof *p->threads);
    for (int i = 1; i < p->n; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        wa->p = p;
        wa->id = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n = i; /* run with the threads we got */
            break;
        }
    }
    return p;
}

void alc_pool_free(struct alc_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) {
        pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->finish);
    free(p->threads);
    free(p);
}

int alc_pool_threads(const struct alc_pool *p)
{
    return p ? p->n : 1;
}

void alc_pool_run(struct alc_pool *p, int64_t n_tasks, alc_task_fn fn,
                  void *ctx)
{
    if (p == NULL || p->n == 1 || n_tasks <= 1) {
        for (int64_t t = 0; t < n_tasks; t++) {
            fn(ctx, t, 0);
        }
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->running = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0) {
        pthread_cond_wait(&p->finish, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}
