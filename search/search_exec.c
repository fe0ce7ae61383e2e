/*
 * search_exec.c: where the search's tasks run (search.h): the local
 * executor (worker threads in this process, each with its own worker:
 * its own session, or the synthetic units), and the byte forms of tasks
 * and results that the MPI executor (tools/dsac/search_mpi.c) sends.
 *
 * The local executor: slot k belongs to thread k; submit hands the thread
 * its task, the thread runs it and queues the result; wait pops results
 * in the order they finished. Which thread ran a task never matters: the
 * search files every result under its candidate id.
 */
#include <pthread.h>
#include <stdlib.h>

#include "search.h"

void alc_task_result_free(struct alc_task_result *r)
{
    free(r->why);
    free(r->ratio);
    memset(r, 0, sizeof *r);
}

/* ---- Byte forms ---- */

#define TASK_MAGIC 0x4b534154u   /* "TASK" */
#define RESULT_MAGIC 0x54534552u /* "REST" */

static void put_bytes(struct alc_sb *out, const void *p, size_t n)
{
    alc_sb_append(out, (const char *)p, n);
}

struct reader {
    const char *p;
    size_t left;
    int bad;
};

static void get_bytes(struct reader *r, void *dst, size_t n)
{
    if (r->bad || n > r->left) {
        r->bad = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
}

void alc_task_pack(const struct alc_task *t, struct alc_sb *out)
{
    uint32_t magic = TASK_MAGIC, kind = (uint32_t)t->kind;
    uint32_t src_len = t->src != NULL ? (uint32_t)strlen(t->src) : 0;
    int32_t n = t->ratio != NULL ? t->n_units : 0;
    put_bytes(out, &magic, sizeof magic);
    put_bytes(out, &kind, sizeof kind);
    put_bytes(out, &t->id, sizeof t->id);
    put_bytes(out, &n, sizeof n);
    put_bytes(out, &src_len, sizeof src_len);
    put_bytes(out, t->src != NULL ? t->src : "", src_len);
    put_bytes(out, t->ratio, (size_t)n * sizeof(double));
}

/* The source string is copied into *ratio_store's block too, so that the
 * task owns nothing but that one block (free it after the task). */
int alc_task_unpack(const char *buf, size_t len, struct alc_task *t,
                    double **ratio_store)
{
    struct reader r = {buf, len, 0};
    uint32_t magic = 0, kind = 0, src_len = 0;
    int32_t n = 0;
    memset(t, 0, sizeof *t);
    *ratio_store = NULL;
    get_bytes(&r, &magic, sizeof magic);
    get_bytes(&r, &kind, sizeof kind);
    get_bytes(&r, &t->id, sizeof t->id);
    get_bytes(&r, &n, sizeof n);
    get_bytes(&r, &src_len, sizeof src_len);
    if (r.bad || magic != TASK_MAGIC || kind >= ALC_TASK_COUNT || n < 0 ||
        src_len > r.left ||
        (size_t)n * sizeof(double) != r.left - src_len) {
        return -1;
    }
    size_t bytes = (size_t)n * sizeof(double) + src_len + 1;
    double *block = malloc(bytes + sizeof(double));
    if (block == NULL) {
        return -1;
    }
    char *src = (char *)(block + n);
    get_bytes(&r, src, src_len);
    src[src_len] = '\0';
    get_bytes(&r, block, (size_t)n * sizeof(double));
    t->kind = (enum alc_task_kind)kind;
    t->src = src;
    t->ratio = n > 0 ? block : NULL;
    t->n_units = n;
    *ratio_store = block;
    return r.bad ? -1 : 0;
}

void alc_task_result_pack(const struct alc_task_result *r, struct alc_sb *out)
{
    uint32_t magic = RESULT_MAGIC, kind = (uint32_t)r->kind;
    int32_t reject = (int32_t)r->reject, cached = r->compile_cached;
    int32_t n = r->ratio != NULL ? r->n_units : 0;
    uint32_t why_len = r->why != NULL ? (uint32_t)strlen(r->why) : 0;
    double t[5] = {r->fitness, r->t_compile, r->t_alloc, r->t_prune,
                   r->t_eval};
    put_bytes(out, &magic, sizeof magic);
    put_bytes(out, &kind, sizeof kind);
    put_bytes(out, &r->id, sizeof r->id);
    put_bytes(out, &reject, sizeof reject);
    put_bytes(out, &cached, sizeof cached);
    put_bytes(out, &n, sizeof n);
    put_bytes(out, t, sizeof t);
    put_bytes(out, &why_len, sizeof why_len);
    put_bytes(out, r->why != NULL ? r->why : "", why_len);
    put_bytes(out, r->ratio, (size_t)n * sizeof(double));
}

int alc_task_result_unpack(const char *buf, size_t len,
                           struct alc_task_result *r)
{
    struct reader rd = {buf, len, 0};
    uint32_t magic = 0, kind = 0, why_len = 0;
    int32_t reject = 0, cached = 0, n = 0;
    double t[5];
    memset(r, 0, sizeof *r);
    get_bytes(&rd, &magic, sizeof magic);
    get_bytes(&rd, &kind, sizeof kind);
    get_bytes(&rd, &r->id, sizeof r->id);
    get_bytes(&rd, &reject, sizeof reject);
    get_bytes(&rd, &cached, sizeof cached);
    get_bytes(&rd, &n, sizeof n);
    get_bytes(&rd, t, sizeof t);
    get_bytes(&rd, &why_len, sizeof why_len);
    if (rd.bad || magic != RESULT_MAGIC || kind >= ALC_TASK_COUNT ||
        reject < 0 || reject >= ALC_REJ_COUNT || n < 0 ||
        why_len > rd.left ||
        (size_t)n * sizeof(double) != rd.left - why_len) {
        return -1;
    }
    r->kind = (enum alc_task_kind)kind;
    r->reject = (enum alc_reject)reject;
    r->compile_cached = cached;
    r->fitness = t[0];
    r->t_compile = t[1];
    r->t_alloc = t[2];
    r->t_prune = t[3];
    r->t_eval = t[4];
    if (why_len > 0) {
        r->why = malloc(why_len + 1);
        if (r->why == NULL) {
            return -1;
        }
        get_bytes(&rd, r->why, why_len);
        r->why[why_len] = '\0';
    }
    if (n > 0) {
        r->ratio = malloc((size_t)n * sizeof *r->ratio);
        if (r->ratio == NULL) {
            alc_task_result_free(r);
            return -1;
        }
        get_bytes(&rd, r->ratio, (size_t)n * sizeof(double));
    }
    r->n_units = n;
    return rd.bad ? -1 : 0;
}

/* ---- The local executor ---- */

struct done_item {
    int slot;
    int failed;
    struct alc_task_result r;
    char *error;
};

struct local;

struct lslot {
    struct local *ex;
    int index;
    struct alc_search_worker *w;
    pthread_t thread;
    int started;
    const struct alc_task *task; /* NULL: idle */
};

struct local {
    int n;
    struct lslot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv_task, cv_done;
    struct done_item *done; /* FIFO of finished tasks, [n] at most */
    int n_done;
    int stop;
};

static void run_one(struct lslot *sl, const struct alc_task *t,
                    struct done_item *it)
{
    struct alc_diag d;
    alc_diag_init(&d);
    memset(it, 0, sizeof *it);
    it->slot = sl->index;
    if (alc_search_worker_run(sl->w, t, &it->r, &d) != 0) {
        it->failed = 1;
        it->error = strdup(d.n_err > 0 ? alc_diag_text(&d)
                                       : "worker failed\n");
    }
    alc_diag_free(&d);
}

static void *thread_main(void *arg)
{
    struct lslot *sl = arg;
    struct local *ex = sl->ex;
    pthread_mutex_lock(&ex->mu);
    for (;;) {
        while (sl->task == NULL && !ex->stop) {
            pthread_cond_wait(&ex->cv_task, &ex->mu);
        }
        if (ex->stop) {
            break;
        }
        const struct alc_task *t = sl->task;
        struct done_item it;
        pthread_mutex_unlock(&ex->mu);
        run_one(sl, t, &it);
        pthread_mutex_lock(&ex->mu);
        sl->task = NULL;
        ex->done[ex->n_done++] = it;
        pthread_cond_broadcast(&ex->cv_done);
    }
    pthread_mutex_unlock(&ex->mu);
    return NULL;
}

static int local_submit(void *ctx, int slot, const struct alc_task *t,
                        struct alc_diag *d)
{
    struct local *ex = ctx;
    if (slot < 0 || slot >= ex->n || ex->slots[slot].task != NULL) {
        alc_diag_errorf(d, "search: slot %d is busy", slot);
        return -1;
    }
    if (ex->n == 1) {
        ex->slots[0].task = t; /* runs in wait() */
        return 0;
    }
    pthread_mutex_lock(&ex->mu);
    ex->slots[slot].task = t;
    pthread_cond_broadcast(&ex->cv_task);
    pthread_mutex_unlock(&ex->mu);
    return 0;
}

static int take_done(struct local *ex, int *slot, struct alc_task_result *r,
                     struct alc_diag *d)
{
    struct done_item it = ex->done[0];
    memmove(&ex->done[0], &ex->done[1],
            (size_t)(ex->n_done - 1) * sizeof ex->done[0]);
    ex->n_done--;
    *slot = it.slot;
    *r = it.r;
    if (it.failed) {
        alc_diag_raw(d, 1, it.error != NULL ? it.error : "worker failed\n");
        free(it.error);
        return -1;
    }
    return 0;
}

static int local_wait(void *ctx, int *slot, struct alc_task_result *r,
                      struct alc_diag *d)
{
    struct local *ex = ctx;
    int rc = 0;
    if (ex->n == 1) {
        struct lslot *sl = &ex->slots[0];
        const struct alc_task *t = sl->task;
        if (t == NULL) {
            alc_diag_errorf(d, "search: nothing to wait for");
            return -1;
        }
        sl->task = NULL;
        *slot = 0;
        return alc_search_worker_run(sl->w, t, r, d);
    }
    pthread_mutex_lock(&ex->mu);
    while (ex->n_done == 0) {
        pthread_cond_wait(&ex->cv_done, &ex->mu);
    }
    rc = take_done(ex, slot, r, d);
    pthread_mutex_unlock(&ex->mu);
    return rc;
}

static void local_close(void *ctx)
{
    struct local *ex = ctx;
    if (ex == NULL) {
        return;
    }
    pthread_mutex_lock(&ex->mu);
    ex->stop = 1;
    pthread_cond_broadcast(&ex->cv_task);
    pthread_mutex_unlock(&ex->mu);
    for (int k = 0; k < ex->n; k++) {
        if (ex->slots[k].started) {
            pthread_join(ex->slots[k].thread, NULL);
        }
        if (ex->slots[k].w != NULL) {
            alc_search_worker_close(ex->slots[k].w);
        }
    }
    for (int i = 0; i < ex->n_done; i++) {
        alc_task_result_free(&ex->done[i].r);
        free(ex->done[i].error);
    }
    pthread_mutex_destroy(&ex->mu);
    pthread_cond_destroy(&ex->cv_task);
    pthread_cond_destroy(&ex->cv_done);
    free(ex->done);
    free(ex->slots);
    free(ex);
}

/* Threads per worker: threads / n, at least 1. */
static int worker_threads(const struct alc_search_fitness *f, int n)
{
    int all = f->threads > 0 ? f->threads : alc_default_threads();
    int t = all / n;
    return t < 1 ? 1 : t;
}

int alc_search_exec_local(struct alc_search_exec *out, int n,
                          const struct alc_search_fitness *f,
                          struct alc_diag *d)
{
    struct local *ex = calloc(1, sizeof *ex);
    struct alc_search_fitness wf = *f;
    memset(out, 0, sizeof *out);
    if (ex == NULL || n < 1) {
        alc_diag_errorf(d, n < 1 ? "search: at least one worker" : "out of "
                                                                   "memory");
        free(ex);
        return -1;
    }
    ex->n = n;
    ex->slots = calloc((size_t)n, sizeof *ex->slots);
    ex->done = calloc((size_t)n, sizeof *ex->done);
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cv_task, NULL);
    pthread_cond_init(&ex->cv_done, NULL);
    if (ex->slots == NULL || ex->done == NULL) {
        alc_diag_errorf(d, "out of memory");
        local_close(ex);
        return -1;
    }
    wf.threads = worker_threads(f, n);
    for (int k = 0; k < n; k++) {
        ex->slots[k].ex = ex;
        ex->slots[k].index = k;
        if (alc_search_worker_open(&ex->slots[k].w, &wf, d) != 0) {
            local_close(ex);
            return -1;
        }
        wf.progress = 0; /* one worker's setup is shown */
    }
    for (int k = 0; n > 1 && k < n; k++) {
        if (pthread_create(&ex->slots[k].thread, NULL, thread_main,
                           &ex->slots[k]) != 0) {
            alc_diag_errorf(d, "search: cannot start worker thread %d", k);
            local_close(ex);
            return -1;
        }
        ex->slots[k].started = 1;
    }
    out->ctx = ex;
    out->n_slots = n;
    out->submit = local_submit;
    out->wait = local_wait;
    out->close = local_close;
    return 0;
}

/* The first worker of a local executor (for the unit names, model
 * description and dense perplexity in the outputs). */
struct alc_search_worker *alc_search_exec_local_worker(
    const struct alc_search_exec *ex)
{
    const struct local *l = ex->ctx;
    return l != NULL && l->n > 0 ? l->slots[0].w : NULL;
}
