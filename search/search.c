/*
 * search.c: the search's algorithm (search.h): batches of children from
 * the population, their allocation and evaluation as tasks on an
 * executor, the evaluation cache, the population update, and the
 * checkpoint after every step. Called by `dsac search` (cmd_search.c) and
 * tests/test_search.c. The exact definition is in grammar/SEARCH.md.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "search.h"

const char *const alc_strategy_name[ALC_STRAT_COUNT] = {
    [ALC_STRAT_EVOLUTION] = "evolution",
    [ALC_STRAT_RANDOM] = "random",
};

const char *const alc_cand_status_name[ALC_CS_COUNT] = {
    [ALC_CS_NEW] = "new",           [ALC_CS_ALLOCATED] = "allocated",
    [ALC_CS_PENDING] = "pending",   [ALC_CS_EVALUATED] = "evaluated",
    [ALC_CS_CACHED] = "cached",     [ALC_CS_INVALID] = "invalid",
};

_Static_assert(ALC_CS_COUNT == 6, "alc_cand_status_name must match");

void alc_search_algo_default(struct alc_search_algo *a)
{
    memset(a, 0, sizeof *a);
    a->strategy = ALC_STRAT_EVOLUTION;
    a->evals = 200;
    a->population = 20;
    a->sample_frac = 0.9;
    a->parents = 5;
    a->batch = 4;
    a->p_crossover = 0.5;
    a->p_mutate = 0.5;
    a->seed = 0;
    a->round = 1e-6;
    a->max_tries = 100;
}

/* ---- Candidates ---- */

static struct alc_search_cand *cand_new(struct alc_search *s)
{
    if (s->n_cand == s->cap_cand) {
        int64_t cap = s->cap_cand > 0 ? 2 * s->cap_cand : 64;
        struct alc_search_cand *v = realloc(s->cand, (size_t)cap * sizeof *v);
        if (v == NULL) {
            return NULL;
        }
        s->cand = v;
        s->cap_cand = cap;
    }
    struct alc_search_cand *c = &s->cand[s->n_cand];
    memset(c, 0, sizeof *c);
    c->id = s->n_cand++;
    c->parent[0] = c->parent[1] = -1;
    c->cache_of = -1;
    c->eval_index = -1;
    c->fitness = NAN;
    return c;
}

static void cand_free(struct alc_search_cand *c)
{
    free(c->op);
    free(c->src);
    free(c->why);
    free(c->ratio);
}

static int valid_cand(const struct alc_search_cand *c)
{
    return (c->status == ALC_CS_EVALUATED || c->status == ALC_CS_CACHED) &&
           isfinite(c->fitness);
}

/* a before b: lower fitness, then lower id. */
static int better(const struct alc_search_cand *a,
                  const struct alc_search_cand *b)
{
    if (a->fitness != b->fitness) {
        return a->fitness < b->fitness;
    }
    return a->id < b->id;
}

const struct alc_search_cand *alc_search_best(const struct alc_search *s)
{
    const struct alc_search_cand *best = NULL;
    for (int64_t i = 0; i < s->n_cand; i++) {
        const struct alc_search_cand *c = &s->cand[i];
        if (valid_cand(c) && (best == NULL || better(c, best))) {
            best = c;
        }
    }
    return best;
}

void alc_search_reject_counts(const struct alc_search *s, int64_t *out)
{
    for (int r = 0; r < ALC_REJ_COUNT; r++) {
        out[r] = s->rejected[r];
    }
    for (int64_t i = 0; i < s->n_cand; i++) {
        if (s->cand[i].status == ALC_CS_INVALID) {
            out[s->cand[i].reject]++;
        }
    }
}

int64_t alc_search_cache_hits(const struct alc_search *s)
{
    int64_t n = 0;
    for (int64_t i = 0; i < s->n_cand; i++) {
        n += s->cand[i].cache_of >= 0;
    }
    return n;
}

/* ---- Derived maps (rebuilt on load) ---- */

struct same_ratio {
    const struct alc_search *s;
    const struct alc_search_cand *c;
};

static int64_t rounded(double r, double round)
{
    return llround(r / round);
}

static int same_ratio_fn(void *ctx, int64_t val)
{
    const struct same_ratio *q = ctx;
    const struct alc_search_cand *o = &q->s->cand[val];
    double round = q->s->algo.round;
    if (o->n_units != q->c->n_units || o->ratio == NULL) {
        return 0;
    }
    for (int u = 0; u < o->n_units; u++) {
        if (rounded(o->ratio[u], round) != rounded(q->c->ratio[u], round)) {
            return 0;
        }
    }
    return 1;
}

/* The cached candidate with c's rounded ratios, or -1. */
static int64_t cache_lookup(const struct alc_search *s,
                            const struct alc_search_cand *c)
{
    struct same_ratio q = {s, c};
    uint64_t key = alc_search_ratio_key(c->ratio, c->n_units, s->algo.round);
    return alc_u64map_find(s->cache, key, same_ratio_fn, &q);
}

static int cache_add(struct alc_search *s, const struct alc_search_cand *c)
{
    uint64_t key = alc_search_ratio_key(c->ratio, c->n_units, s->algo.round);
    return alc_u64map_add(s->cache, key, c->id);
}

static int rebuild_maps(struct alc_search *s)
{
    alc_u64map_free(s->seen);
    alc_u64map_free(s->cache);
    s->seen = alc_u64map_new();
    s->cache = alc_u64map_new();
    if (s->seen == NULL || s->cache == NULL) {
        return -1;
    }
    for (int64_t i = 0; i < s->n_cand; i++) {
        const struct alc_search_cand *c = &s->cand[i];
        if (alc_u64map_add(s->seen, c->hash, c->id) != 0) {
            return -1;
        }
        int in_cache = c->status == ALC_CS_PENDING ||
                       c->status == ALC_CS_EVALUATED ||
                       (c->status == ALC_CS_INVALID &&
                        c->reject == ALC_REJ_PPL && c->cache_of < 0);
        if (in_cache && c->ratio != NULL && cache_add(s, c) != 0) {
            return -1;
        }
    }
    return 0;
}

static int any_fn(void *ctx, int64_t val)
{
    (void)ctx;
    (void)val;
    return 1;
}

static int seen_hash(const struct alc_search *s, uint64_t h)
{
    return alc_u64map_find(s->seen, h, any_fn, NULL) >= 0;
}

/* ---- Opening ---- */

/* Temporary files a kill -9 left in the state directory during an
 * atomic write ("state.json.tmp.<pid>" and the outputs'). */
static void remove_stale_tmp(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *e = NULL;
    if (dp == NULL) {
        return;
    }
    while ((e = readdir(dp)) != NULL) {
        static const char *const names[] = {"state.json", "history.csv",
                                            "history.json", "search.svg",
                                            "best.alloc"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t n = strlen(names[i]);
            if (strncmp(e->d_name, names[i], n) == 0 &&
                strncmp(e->d_name + n, ".tmp.", 5) == 0) {
                char *p = alc_path_join(dir, e->d_name);
                if (p != NULL) {
                    unlink(p);
                }
                free(p);
            }
        }
    }
    closedir(dp);
}

int alc_search_open(struct alc_search *s, const struct alc_space *sp,
                    const struct alc_search_algo *algo, const char *config,
                    const char *state_dir, int resume, struct alc_diag *d)
{
    char *path = NULL;
    int rc = -1;
    memset(s, 0, sizeof *s);
    s->algo = *algo;
    s->sp = sp;
    s->config = strdup(config);
    s->config_hash = alc_hash64(config, strlen(config), 0);
    s->state_dir = strdup(state_dir);
    s->phase = ALC_PH_GENERATE;
    alc_rng_seed(&s->rng, algo->seed);
    if (s->config == NULL || s->state_dir == NULL ||
        alc_mkdir_p(state_dir, d) != 0) {
        goto done;
    }
    remove_stale_tmp(state_dir);
    path = alc_path_join(state_dir, "state.json");
    if (resume && !alc_path_exists(path)) {
        alc_diag_errorf(d, "%s: nothing to resume (no state.json); start "
                           "without --resume", state_dir);
        goto done;
    }
    if (!resume && alc_path_exists(path)) {
        alc_diag_errorf(d, "%s: a search is already recorded here; use "
                           "--resume to continue it, or another --state "
                           "directory", state_dir);
        goto done;
    }
    if (resume && alc_search_state_load(s, path, d) != 0) {
        goto done;
    }
    rc = rebuild_maps(s);
    if (rc != 0) {
        alc_diag_errorf(d, "out of memory");
    }
done:
    free(path);
    return rc;
}

void alc_search_close(struct alc_search *s)
{
    for (int64_t i = 0; i < s->n_cand; i++) {
        cand_free(&s->cand[i]);
    }
    for (int i = 0; i < s->n_seeds; i++) {
        free(s->seeds[i].file);
        free(s->seeds[i].src);
    }
    free(s->seeds);
    free(s->cand);
    free(s->pop);
    free(s->config);
    free(s->state_dir);
    alc_u64map_free(s->seen);
    alc_u64map_free(s->cache);
    memset(s, 0, sizeof *s);
}

int alc_search_add_seed(struct alc_search *s, const char *file,
                        const char *src, struct alc_diag *d)
{
    struct alc_arena a;
    struct alc_cand c;
    struct alc_evolve_child ch;
    int rc = -1;
    alc_arena_init(&a, 0);
    memset(&ch, 0, sizeof ch);
    if (alc_evolve_read(s->sp, &a, file, src, &c, d) < 0 ||
        alc_evolve_finish(s->sp, &c, &ch) != 0) {
        goto done;
    }
    if (ch.reject != ALC_REJ_NONE) {
        alc_diag_errorf(d, "%s: %s", file, ch.why);
        goto done;
    }
    struct alc_search_seed *v = realloc(s->seeds, (size_t)(s->n_seeds + 1) *
                                                      sizeof *v);
    if (v == NULL) {
        goto done;
    }
    s->seeds = v;
    v[s->n_seeds].file = strdup(file);
    v[s->n_seeds].src = ch.src;
    v[s->n_seeds].hash = ch.hash;
    ch.src = NULL;
    s->n_seeds++;
    rc = 0;
done:
    alc_evolve_child_free(&ch);
    alc_arena_free(&a);
    return rc;
}

/* ---- Producing children ---- */

/* A checked, new child: its text, hash and what made it. */
struct child {
    char *src;
    uint64_t hash;
    int64_t parent[2];
    struct alc_sb op;
};

/* Parses candidate id's text into a member (arena a). */
static int read_cand(struct alc_search *s, struct alc_arena *a, int64_t id,
                     struct alc_cand *out, struct alc_diag *d)
{
    char name[32];
    snprintf(name, sizeof name, "<candidate %lld>", (long long)id);
    return alc_evolve_read(s->sp, a, name, s->cand[id].src, out, d) < 0 ? -1
                                                                       : 0;
}

static int cmp_ids_by_fitness(const struct alc_search *s, int64_t a,
                              int64_t b)
{
    return better(&s->cand[a], &s->cand[b]) ? -1 : 1;
}

/* The parent pool: k best of a sample of round(f P) members. */
static int parent_pool(struct alc_search *s, int64_t *pool)
{
    int n = s->n_pop;
    int m = (int)lround(s->algo.sample_frac * n);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (idx == NULL) {
        return -1;
    }
    m = m < 1 ? 1 : (m > n ? n : m);
    memcpy(idx, s->pop, (size_t)n * sizeof *idx);
    for (int i = 0; i < m; i++) { /* partial Fisher-Yates */
        int j = i + (int)alc_rng_below(&s->rng, (uint64_t)(n - i));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (int i = 1; i < m; i++) { /* insertion sort of the sample */
        for (int j = i; j > 0 && cmp_ids_by_fitness(s, idx[j], idx[j - 1]) <
                                     0; j--) {
            int64_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    }
    int k = m < s->algo.parents ? m : s->algo.parents;
    memcpy(pool, idx, (size_t)k * sizeof *pool);
    free(idx);
    return k;
}

/* One try at a child of the population into c (not checked yet). */
static int breed(struct alc_search *s, struct alc_arena *a,
                 struct alc_cand *c, struct child *ch, struct alc_diag *d)
{
    int64_t pool[64];
    struct alc_cand x, y, t;
    int k = parent_pool(s, pool);
    if (k < 0) {
        return -1;
    }
    if (k >= 2 && alc_rng_double(&s->rng) < s->algo.p_crossover) {
        int i = (int)alc_rng_below(&s->rng, (uint64_t)k);
        int j = (int)alc_rng_below(&s->rng, (uint64_t)(k - 1));
        j += j >= i;
        ch->parent[0] = pool[i];
        ch->parent[1] = pool[j];
        if (read_cand(s, a, pool[i], &x, d) != 0 ||
            read_cand(s, a, pool[j], &y, d) != 0) {
            return -1;
        }
        int r = alc_evolve_crossover(s->sp, a, &s->rng, &x, &y, &t, &ch->op);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            if (alc_rng_double(&s->rng) >= s->algo.p_mutate) {
                *c = t;
                return 0;
            }
            struct alc_sb more;
            alc_sb_init(&more);
            r = alc_evolve_mutate(s->sp, a, &s->rng, &t, c, &more);
            if (r == 0) {
                alc_sb_printf(&ch->op, " + %s", alc_sb_str(&more));
            } else {
                *c = t; /* no mutation applies: the crossover child */
            }
            alc_sb_free(&more);
            return r < 0 ? -1 : 0;
        }
        ch->parent[1] = -1; /* nothing to exchange: mutate x */
    } else {
        ch->parent[0] = pool[alc_rng_below(&s->rng, (uint64_t)k)];
        if (read_cand(s, a, ch->parent[0], &x, d) != 0) {
            return -1;
        }
    }
    int r = alc_evolve_mutate(s->sp, a, &s->rng, &x, c, &ch->op);
    return r < 0 ? -1 : (r == 1 ? 1 : 0);
}

/* Checks c; 1 = accepted into ch, 0 = rejected (counted), -1 = error. */
static int accept(struct alc_search *s, const struct alc_cand *c,
                  struct child *ch)
{
    struct alc_evolve_child ec;
    if (alc_evolve_finish(s->sp, c, &ec) != 0) {
        return -1;
    }
    if (ec.reject == ALC_REJ_NONE && seen_hash(s, ec.hash)) {
        ec.reject = ALC_REJ_DUPLICATE;
    }
    if (ec.reject != ALC_REJ_NONE) {
        s->rejected[ec.reject]++;
        alc_evolve_child_free(&ec);
        return 0;
    }
    ch->src = ec.src;
    ch->hash = ec.hash;
    ec.src = NULL;
    alc_evolve_child_free(&ec);
    return 1;
}

/* A child: seed, random member or offspring. 1 made, 0 gave up, -1. */
static int make_child(struct alc_search *s, int random, struct child *ch,
                      struct alc_diag *d)
{
    for (int tries = 0; tries < s->algo.max_tries; tries++) {
        struct alc_arena a;
        struct alc_cand c;
        int r = 0;
        alc_arena_init(&a, 0);
        alc_sb_reset(&ch->op);
        ch->parent[0] = ch->parent[1] = -1;
        if (random) {
            alc_sb_puts(&ch->op, "random");
            r = alc_space_random(s->sp, &a, &s->rng, &c) == 0 ? 0 : -1;
        } else {
            r = breed(s, &a, &c, ch, d);
        }
        if (r == 0) {
            r = accept(s, &c, ch);
        } else if (r == 1) {
            r = 0; /* no operator applied: try again */
        }
        alc_arena_free(&a);
        if (r != 0) {
            return r;
        }
    }
    s->exhausted++;
    return 0;
}

static int add_cand(struct alc_search *s, char *src, uint64_t hash,
                    const char *op, const int64_t *parent)
{
    struct alc_search_cand *c = cand_new(s);
    if (c == NULL) {
        free(src);
        return -1;
    }
    c->gen = s->gen;
    c->src = src;
    c->hash = hash;
    c->op = strdup(op);
    c->parent[0] = parent[0];
    c->parent[1] = parent[1];
    c->status = ALC_CS_NEW;
    if (c->op == NULL) {
        return -1;
    }
    return alc_u64map_add(s->seen, hash, c->id);
}

/* The next unused seeds that are not duplicates. */
static int add_seeds(struct alc_search *s, int64_t *left)
{
    static const int64_t none[2] = {-1, -1};
    while (*left > 0 && s->seeds_used < s->n_seeds) {
        const struct alc_search_seed *sd = &s->seeds[s->seeds_used++];
        char op[1024];
        if (seen_hash(s, sd->hash)) {
            s->rejected[ALC_REJ_DUPLICATE]++;
            continue;
        }
        char *src = strdup(sd->src);
        snprintf(op, sizeof op, "seed %s", sd->file);
        if (src == NULL || add_cand(s, src, sd->hash, op, none) != 0) {
            return -1;
        }
        (*left)--;
    }
    return 0;
}

static int64_t batch_size(const struct alc_search *s)
{
    int64_t left = s->algo.evals - s->n_evals;
    int64_t b = s->algo.batch;
    if (s->algo.strategy == ALC_STRAT_EVOLUTION &&
        s->n_pop < s->algo.population) {
        b = s->algo.population - s->n_pop;
    }
    return b < left ? b : left;
}

static int generate(struct alc_search *s, struct alc_diag *d)
{
    int64_t left = batch_size(s);
    int init = s->algo.strategy == ALC_STRAT_RANDOM ||
               s->n_pop < s->algo.population;
    struct child ch;
    memset(&ch, 0, sizeof ch);
    alc_sb_init(&ch.op);
    s->batch_first = s->n_cand;
    if (init && add_seeds(s, &left) != 0) {
        return -1;
    }
    for (int64_t b = 0; b < left; b++) {
        int r = make_child(s, init, &ch, d);
        if (r < 0) {
            alc_sb_free(&ch.op);
            return -1;
        }
        if (r == 1 && add_cand(s, ch.src, ch.hash, alc_sb_str(&ch.op),
                               ch.parent) != 0) {
            alc_sb_free(&ch.op);
            return -1;
        }
    }
    alc_sb_free(&ch.op);
    s->batch_n = s->n_cand - s->batch_first;
    s->gen++;
    return 0;
}

/* ---- Running tasks ---- */

typedef int (*result_fn)(struct alc_search *s, struct alc_task_result *r,
                         struct alc_diag *d);

static int run_tasks(struct alc_search *s, struct alc_search_exec *ex,
                     const struct alc_task *tasks, int n, result_fn on_result,
                     struct alc_diag *d)
{
    int next = 0, running = 0, rc = -1;
    char *busy = calloc((size_t)ex->n_slots, 1);
    if (busy == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    while (next < n || running > 0) {
        for (int k = 0; k < ex->n_slots && next < n; k++) {
            if (busy[k]) {
                continue;
            }
            if (ex->submit(ex->ctx, k, &tasks[next], d) != 0) {
                goto done;
            }
            busy[k] = 1;
            next++;
            running++;
        }
        struct alc_task_result r;
        int slot = -1;
        memset(&r, 0, sizeof r);
        if (ex->wait(ex->ctx, &slot, &r, d) != 0) {
            goto done;
        }
        busy[slot] = 0;
        running--;
        int bad = r.id < s->batch_first || r.id >= s->batch_first +
                                                       s->batch_n;
        if (bad || on_result(s, &r, d) != 0) {
            if (bad) {
                alc_diag_errorf(d, "a worker returned candidate %lld, which "
                                   "is not in the batch", (long long)r.id);
            }
            alc_task_result_free(&r);
            goto done;
        }
        alc_task_result_free(&r);
    }
    rc = 0;
done:
    free(busy);
    return rc;
}

static void notify(struct alc_search *s, const struct alc_search_cand *c)
{
    if (s->progress != NULL) {
        s->progress(s->progress_ctx, s, c);
    }
}

static int on_alloc(struct alc_search *s, struct alc_task_result *r,
                    struct alc_diag *d)
{
    struct alc_search_cand *c = &s->cand[r->id];
    if (c->status != ALC_CS_NEW) {
        alc_diag_errorf(d, "candidate %lld allocated twice",
                        (long long)r->id);
        return -1;
    }
    c->t_compile = r->t_compile;
    c->t_alloc = r->t_alloc;
    if (r->reject == ALC_REJ_NONE) {
        if (s->n_units == 0) {
            s->n_units = r->n_units;
        }
        if (r->n_units != s->n_units) {
            alc_diag_errorf(d, "a worker returned %d units, another %d: do "
                               "all ranks load the same model?",
                            r->n_units, s->n_units);
            return -1;
        }
        c->status = ALC_CS_ALLOCATED;
        c->ratio = r->ratio;
        c->n_units = r->n_units;
        r->ratio = NULL;
    } else {
        c->status = ALC_CS_INVALID;
        c->reject = r->reject;
        c->why = r->why;
        r->why = NULL;
    }
    notify(s, c);
    return alc_search_state_save(s, d);
}

static int on_eval(struct alc_search *s, struct alc_task_result *r,
                   struct alc_diag *d)
{
    struct alc_search_cand *c = &s->cand[r->id];
    if (c->status != ALC_CS_PENDING) {
        alc_diag_errorf(d, "candidate %lld evaluated twice",
                        (long long)r->id);
        return -1;
    }
    c->t_prune = r->t_prune;
    c->t_eval = r->t_eval;
    s->n_evals++;
    s->evals_this_run++;
    if (r->reject == ALC_REJ_NONE && isfinite(r->fitness)) {
        c->status = ALC_CS_EVALUATED;
        c->fitness = r->fitness;
    } else {
        c->status = ALC_CS_INVALID;
        c->reject = ALC_REJ_PPL;
        c->why = r->why != NULL ? r->why : strdup("perplexity not finite");
        r->why = NULL;
    }
    notify(s, c);
    return alc_search_state_save(s, d);
}

/* Runs, in candidate order, one task of `kind` for every candidate of the
 * batch in `status` (ALLOC: its text; EVAL: its ratios). */
static int run_phase(struct alc_search *s, struct alc_search_exec *ex,
                     enum alc_cand_status status, enum alc_task_kind kind,
                     result_fn on_result, struct alc_diag *d)
{
    struct alc_task *t = calloc((size_t)s->batch_n + 1, sizeof *t);
    int n = 0, rc = -1;
    if (t == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    for (int64_t i = s->batch_first; i < s->batch_first + s->batch_n; i++) {
        const struct alc_search_cand *c = &s->cand[i];
        if (c->status == status) {
            t[n].kind = kind;
            t[n].id = i;
            if (kind == ALC_TASK_ALLOC) {
                t[n].src = c->src;
            } else {
                t[n].ratio = c->ratio;
                t[n].n_units = c->n_units;
            }
            n++;
        }
    }
    rc = run_tasks(s, ex, t, n, on_result, d);
    free(t);
    return rc;
}

static int phase_alloc(struct alc_search *s, struct alc_search_exec *ex,
                       struct alc_diag *d)
{
    return run_phase(s, ex, ALC_CS_NEW, ALC_TASK_ALLOC, on_alloc, d);
}

/* In child order: same rounded ratios as a cached (evaluated or pending)
 * candidate -> CACHED; else PENDING with the next evaluation index. */
static int resolve_cache(struct alc_search *s)
{
    int64_t next = 0;
    for (int64_t i = 0; i < s->n_cand; i++) {
        next += s->cand[i].eval_index >= 0;
    }
    for (int64_t i = s->batch_first; i < s->batch_first + s->batch_n; i++) {
        struct alc_search_cand *c = &s->cand[i];
        if (c->status != ALC_CS_ALLOCATED) {
            continue;
        }
        int64_t j = cache_lookup(s, c);
        if (j >= 0) {
            c->status = ALC_CS_CACHED;
            c->cache_of = j;
            continue;
        }
        c->status = ALC_CS_PENDING;
        c->eval_index = next++;
        if (cache_add(s, c) != 0) {
            return -1;
        }
    }
    return 0;
}

static int phase_eval(struct alc_search *s, struct alc_search_exec *ex,
                      struct alc_diag *d)
{
    return run_phase(s, ex, ALC_CS_PENDING, ALC_TASK_EVAL, on_eval, d);
}

/* ---- Population ---- */

static int pop_insert(struct alc_search *s, int64_t id)
{
    int64_t *v = realloc(s->pop, (size_t)(s->n_pop + 1) * sizeof *v);
    if (v == NULL) {
        return -1;
    }
    s->pop = v;
    s->pop[s->n_pop++] = id; /* ids grow: the array stays sorted */
    if (s->n_pop <= s->algo.population) {
        return 0;
    }
    int worst = 0;
    for (int i = 1; i < s->n_pop; i++) {
        if (better(&s->cand[s->pop[worst]], &s->cand[s->pop[i]])) {
            worst = i;
        }
    }
    memmove(&s->pop[worst], &s->pop[worst + 1],
            (size_t)(s->n_pop - worst - 1) * sizeof *s->pop);
    s->n_pop--;
    return 0;
}

/* Cached candidates take their source's result; then, in child order,
 * valid candidates join the population (evolution). */
static int phase_insert(struct alc_search *s)
{
    for (int64_t i = s->batch_first; i < s->batch_first + s->batch_n; i++) {
        struct alc_search_cand *c = &s->cand[i];
        if (c->status != ALC_CS_CACHED || !isnan(c->fitness)) {
            continue;
        }
        const struct alc_search_cand *src = &s->cand[c->cache_of];
        if (src->status == ALC_CS_CACHED || src->status == ALC_CS_EVALUATED) {
            c->fitness = src->fitness;
            continue;
        }
        char why[128];
        snprintf(why, sizeof why, "same ratios as candidate %lld, whose "
                 "perplexity is not finite", (long long)src->id);
        c->status = ALC_CS_INVALID;
        c->reject = ALC_REJ_PPL;
        c->why = strdup(why);
    }
    if (s->algo.strategy != ALC_STRAT_EVOLUTION) {
        return 0;
    }
    for (int64_t i = s->batch_first; i < s->batch_first + s->batch_n; i++) {
        if (valid_cand(&s->cand[i]) && pop_insert(s, i) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- The loop ---- */

static int finished(const struct alc_search *s)
{
    int64_t maxc = s->algo.max_candidates;
    if (maxc <= 0) {
        maxc = 20 * s->algo.evals + s->algo.population + s->n_seeds;
    }
    return s->n_evals >= s->algo.evals || s->n_cand >= maxc;
}

static int step(struct alc_search *s, struct alc_search_exec *ex,
                struct alc_diag *d)
{
    switch (s->phase) {
    case ALC_PH_GENERATE:
        if (finished(s)) {
            s->phase = ALC_PH_DONE;
            return alc_search_state_save(s, d);
        }
        if (generate(s, d) != 0) {
            return -1;
        }
        s->phase = s->batch_n > 0 ? ALC_PH_ALLOC : ALC_PH_DONE;
        return alc_search_state_save(s, d);
    case ALC_PH_ALLOC:
        if (phase_alloc(s, ex, d) != 0 || resolve_cache(s) != 0) {
            return -1;
        }
        s->phase = ALC_PH_EVAL;
        return alc_search_state_save(s, d);
    case ALC_PH_EVAL:
        if (phase_eval(s, ex, d) != 0) {
            return -1;
        }
        s->phase = ALC_PH_INSERT;
        return alc_search_state_save(s, d);
    case ALC_PH_INSERT:
        if (phase_insert(s) != 0) {
            alc_diag_errorf(d, "out of memory");
            return -1;
        }
        s->phase = ALC_PH_GENERATE;
        return alc_search_state_save(s, d);
    default:
        return 0;
    }
}

int alc_search_run(struct alc_search *s, struct alc_search_exec *ex,
                   struct alc_diag *d)
{
    s->t_start = alc_now();
    while (s->phase != ALC_PH_DONE) {
        if (step(s, ex, d) != 0) {
            return -1;
        }
    }
    return 0;
}
