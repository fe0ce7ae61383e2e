/*
 * alloc.c: the compiled-allocation interface (alloc.h). Dispatches to the
 * backends (backend.h) and caches their compiled state by the IR's
 * structural hash, so a search that revisits a function, or re-evaluates
 * one with other param values, never recompiles. The cache is process-wide,
 * thread-safe, and holds at most ALC_CACHE_MAX entries (oldest evicted).
 */
#include <pthread.h>
#include <stdlib.h>

#include "backend.h"

#define ALC_CACHE_MAX 256

const char *const alc_backend_name[ALC_BE_COUNT] = {
    [ALC_BE_INTERP] = "interp",
    [ALC_BE_LLVM] = "llvm",
    [ALC_BE_CUDA] = "cuda",
};

static const struct alc_backend_ops *backend_ops(enum alc_backend be)
{
    switch (be) {
    case ALC_BE_INTERP:
        return &alc_backend_interp;
#ifdef ALC_WITH_LLVM
    case ALC_BE_LLVM:
        return &alc_backend_llvm;
#endif
#ifdef ALC_WITH_CUDA
    case ALC_BE_CUDA:
        return &alc_backend_cuda;
#endif
    default:
        return NULL;
    }
}

/* ---- Cache of backend state ---- */

struct shared_state {
    enum alc_backend be;
    uint64_t hash;
    void *state;   /* owned; released when refs drops to 0 */
    int refs;      /* alc_compiled handles + 1 while in the cache */
    uint64_t age;  /* insertion order for eviction */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shared_state *cache[ALC_CACHE_MAX];
static uint64_t cache_clock;

static void shared_unref(struct shared_state *s)
{
    /* called with cache_mu held */
    if (--s->refs == 0) {
        backend_ops(s->be)->release(s->state);
        free(s);
    }
}

static struct shared_state *cache_find(enum alc_backend be, uint64_t hash)
{
    for (int i = 0; i < ALC_CACHE_MAX; i++) {
        struct shared_state *s = cache[i];
        if (s != NULL && s->be == be && s->hash == hash) {
            s->refs++;
            return s;
        }
    }
    return NULL;
}

static void cache_insert(struct shared_state *s)
{
    int slot = -1;
    for (int i = 0; i < ALC_CACHE_MAX && slot < 0; i++) {
        if (cache[i] == NULL) {
            slot = i;
        }
    }
    if (slot < 0) { /* evict the oldest */
        slot = 0;
        for (int i = 1; i < ALC_CACHE_MAX; i++) {
            if (cache[i]->age < cache[slot]->age) {
                slot = i;
            }
        }
        shared_unref(cache[slot]);
    }
    s->refs++; /* the cache's reference */
    s->age = ++cache_clock;
    cache[slot] = s;
}

/* ---- Public interface ---- */

struct alc_compiled {
    struct alc_ir ir;           /* compacted copy, owned */
    struct shared_state *shared;
    double compile_seconds;
    int cache_hit;
    unsigned inputs;
};

struct alc_compiled *alc_compile(const struct alc_ir *ir, enum alc_backend be,
                                 struct alc_diag *d)
{
    const struct alc_backend_ops *ops = NULL;
    struct alc_compiled *c = NULL;
    if ((int)be < 0 || be >= ALC_BE_COUNT) {
        alc_diag_errorf(d, "unknown backend %d", (int)be);
        return NULL;
    }
    ops = backend_ops(be);
    if (ops == NULL) {
        alc_diag_errorf(d, "the %s backend is not built into this binary",
                        alc_backend_name[be]);
        return NULL;
    }
    if (ir->sparsity < 0) {
        alc_diag_errorf(d, "program has no `sparsity =` output");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || alc_ir_compact(ir, &c->ir) != 0) {
        alc_diag_errorf(d, "out of memory compiling the allocation");
        free(c);
        return NULL;
    }
    c->inputs = alc_ir_inputs_used(&c->ir);
    uint64_t hash = alc_ir_hash(&c->ir);
    pthread_mutex_lock(&cache_mu);
    c->shared = cache_find(be, hash);
    pthread_mutex_unlock(&cache_mu);
    if (c->shared != NULL) {
        c->cache_hit = 1;
        return c;
    }
    /* Compile outside the lock: two threads may compile the same program;
     * the second insert simply adds a duplicate entry. */
    double t0 = alc_now();
    void *state = ops->compile(&c->ir, d);
    c->compile_seconds = alc_now() - t0;
    if (state == NULL) {
        alc_ir_free(&c->ir);
        free(c);
        return NULL;
    }
    struct shared_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        ops->release(state);
        alc_ir_free(&c->ir);
        free(c);
        return NULL;
    }
    s->be = be;
    s->hash = hash;
    s->state = state;
    s->refs = 1; /* this handle's reference */
    pthread_mutex_lock(&cache_mu);
    cache_insert(s);
    pthread_mutex_unlock(&cache_mu);
    c->shared = s;
    return c;
}

int alc_evaluate(struct alc_compiled *c, const struct alc_units *units,
                 const struct alc_eval_opts *opts, struct alc_eval_out *out,
                 struct alc_diag *d)
{
    const struct alc_backend_ops *ops = backend_ops(c->shared->be);
    if (units->n_units <= 0) {
        alc_diag_errorf(d, "no allocation units to evaluate");
        return -1;
    }
    for (int u = 0; u < units->n_units; u++) {
        if (units->units[u].n_mats <= 0) {
            alc_diag_errorf(d, "unit %d (%s) has no matrices", u,
                            units->units[u].name ? units->units[u].name
                                                 : "unnamed");
            return -1;
        }
    }
    double t0 = alc_now();
    int rc = ops->evaluate(c->shared->state, &c->ir, units, opts, out, d);
    out->seconds = alc_now() - t0;
    return rc;
}

void alc_compiled_free(struct alc_compiled *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&cache_mu);
    shared_unref(c->shared);
    pthread_mutex_unlock(&cache_mu);
    alc_ir_free(&c->ir);
    free(c);
}

unsigned alc_compiled_inputs(const struct alc_compiled *c)
{
    return c->inputs;
}

const struct alc_ir *alc_compiled_ir(const struct alc_compiled *c)
{
    return &c->ir;
}

enum alc_backend alc_compiled_backend(const struct alc_compiled *c)
{
    return c->shared->be;
}

double alc_compiled_compile_seconds(const struct alc_compiled *c)
{
    return c->compile_seconds;
}

int alc_compiled_cache_hit(const struct alc_compiled *c)
{
    return c->cache_hit;
}
