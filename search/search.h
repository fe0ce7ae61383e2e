/*
 * search.h: `dsac search`, the evolutionary search over a search space's
 * members (compiler/space.h, compiler/evolve.h), as a library: the
 * algorithm, its checkpoint, the evaluation of candidates by workers
 * (threads here, MPI ranks in tools/dsac/search_mpi.c), and the outputs.
 *
 * The algorithm (`--strategy evolution`, DSA's as its poster and paper
 * describe it; grammar/SEARCH.md gives the exact definition):
 *   population P (20) of evaluated, valid candidates; batches of children,
 *   each batch ("generation") produced from the population as it stands
 *   at the start of the batch: per child, sample round(f P) members
 *   (f = 0.9) without replacement, take the k = 5 best as the parent
 *   pool, crossover of two pool members with probability p_c (0.5), then
 *   mutation with probability p_m (0.5), or else a mutation of one pool
 *   member; every child is checked and deduplicated by canonical hash
 *   (retried, up to 100 tries); the batch is evaluated (anywhere, in any
 *   order); then, in child order, each valid child joins the population
 *   and the worst member (highest perplexity, ties: the newest) leaves
 *   when there are more than P. The first batches fill the population
 *   with seeds and random members. B = 1 is DSA's steady state.
 * `--strategy random`: batches of random members, same budget.
 *
 * Every random choice is drawn by the coordinator from one RNG in a fixed
 * order and no decision depends on when or where an evaluation finished,
 * so a seed fixes the whole history whatever the number of threads,
 * workers or MPI ranks, and a resumed run continues exactly.
 *
 * A candidate's evaluation has two steps, each a task for a worker:
 *   ALLOC  compile the candidate's program (the backend's code cache)
 *          and evaluate it over the units: the per-unit ratios, or an
 *          invalid allocation (NaN, outside [0, 1)) with the reason;
 *   EVAL   prune with the ratios and measure perplexity on the
 *          validation windows (the fitness; lower is better).
 * Between them the coordinator looks the ratios up in the evaluation
 * cache (ratios rounded to `round`, 1e-6): candidates with the same
 * rounded ratios share one evaluation.
 *
 * Checkpoint: `state.json` in the state directory, written atomically
 * after every step that changes anything (each task result included).
 */
#ifndef ALC_SEARCH_H
#define ALC_SEARCH_H

#include <stdint.h>

#include "alc_common.h"
#include "evolve.h"
#include "space.h"

/* ---- Tasks: what workers do ---- */

enum alc_task_kind {
    ALC_TASK_ALLOC,  /* compile + allocate: ratios */
    ALC_TASK_EVAL,   /* prune + perplexity: fitness */
    ALC_TASK_COUNT
};

struct alc_task {
    enum alc_task_kind kind;
    int64_t id;            /* candidate id */
    const char *src;       /* ALLOC: the program's canonical text */
    const double *ratio;   /* EVAL: (n_units) */
    int n_units;
};

struct alc_task_result {
    enum alc_task_kind kind;
    int64_t id;
    enum alc_reject reject; /* ALC_REJ_NONE: ok; COMPILE, NAN, RANGE
                               (ALLOC), PPL (EVAL) */
    char *why;              /* the reason (malloc'd) or NULL */
    double *ratio;          /* ALLOC ok: (n_units), malloc'd */
    int n_units;
    double fitness;         /* EVAL: validation perplexity */
    double t_compile, t_alloc, t_prune, t_eval; /* seconds */
    int compile_cached;     /* ALLOC: the backend's cache served it */
};

void alc_task_result_free(struct alc_task_result *r);

/* Byte forms for MPI messages (little-endian host layout; both sides are
 * the same binary). Unpacked tasks point into buf. */
void alc_task_pack(const struct alc_task *t, struct alc_sb *out);
int alc_task_unpack(const char *buf, size_t len, struct alc_task *t,
                    double **ratio_store);
void alc_task_result_pack(const struct alc_task_result *r, struct alc_sb *out);
int alc_task_result_unpack(const char *buf, size_t len,
                           struct alc_task_result *r);

/* ---- Workers: fitness ---- */

/* What a worker needs to evaluate candidates (the CLI fills it; every
 * worker, thread or rank, opens its own). */
struct alc_search_fitness {
    int synthetic;          /* 1: no model; synthetic units and a
                               synthetic fitness (tests, --synthetic) */
    double synthetic_delay; /* seconds an EVAL sleeps (synthetic) */
    const char *model;      /* model directory */
    double S;               /* target sparsity */
    const char *method;     /* "wanda", "sparsegpt", "magnitude" */
    int nm_n, nm_m;         /* N:M (0 = unstructured) */
    const char *calib;      /* calibration file */
    int nsamples, seqlen;   /* calibration windows */
    const char *valid;      /* validation text */
    int64_t valid_chunks;   /* windows (0 = all) */
    int valid_seqlen;       /* window length */
    const char *backend;    /* "llvm" (default), "interp" */
    unsigned inputs;        /* the space's inputs (dense statistics to
                               compute once) */
    int threads;            /* threads of this worker (<= 0: all) */
    int progress;           /* session progress lines */
    int dense;              /* measure the dense model's validation
                               perplexity when the worker opens */
};

struct alc_search_worker;

int alc_search_worker_open(struct alc_search_worker **w,
                           const struct alc_search_fitness *f,
                           struct alc_diag *d);
/* Runs one task; 0 with r filled (the candidate may be invalid), -1 on an
 * error that is not the candidate's (then the search stops). */
int alc_search_worker_run(struct alc_search_worker *w,
                          const struct alc_task *t, struct alc_task_result *r,
                          struct alc_diag *d);
/* Units and their names ("block 3"), model hash and description. */
int alc_search_worker_units(const struct alc_search_worker *w);
const char *alc_search_worker_unit_name(const struct alc_search_worker *w,
                                        int u);
void alc_search_worker_describe(const struct alc_search_worker *w,
                                struct alc_sb *out);
/* The dense model's validation perplexity (NaN unless f->dense). */
double alc_search_worker_dense_ppl(const struct alc_search_worker *w);
void alc_search_worker_close(struct alc_search_worker *w);

/* ---- Executors: where tasks run ---- */

/*
 * n_slots workers; submit gives a task to an idle slot, wait blocks until
 * some submitted task is done and returns its slot and result. Task
 * strings and ratios stay valid until the task's result is returned.
 */
struct alc_search_exec {
    void *ctx;
    int n_slots;
    int (*submit)(void *ctx, int slot, const struct alc_task *t,
                  struct alc_diag *d);
    int (*wait)(void *ctx, int *slot, struct alc_task_result *r,
                struct alc_diag *d);
    void (*close)(void *ctx);
};

/* n threads in this process, each with its own worker (n = 1: tasks run
 * in the caller's thread). Each worker gets threads / n threads. */
int alc_search_exec_local(struct alc_search_exec *ex, int n,
                          const struct alc_search_fitness *f,
                          struct alc_diag *d);

/* The first worker of a local executor (for the unit names, the model's
 * description and the dense perplexity in the outputs). */
struct alc_search_worker *alc_search_exec_local_worker(
    const struct alc_search_exec *ex);

/* ---- The search ---- */

enum alc_strategy {
    ALC_STRAT_EVOLUTION,
    ALC_STRAT_RANDOM,
    ALC_STRAT_COUNT
};

/* "evolution", "random" (ORDER enum alc_strategy). */
extern const char *const alc_strategy_name[ALC_STRAT_COUNT];

struct alc_search_algo {
    enum alc_strategy strategy;
    int64_t evals;          /* budget: model evaluations (EVAL tasks) */
    int64_t max_candidates; /* stop after this many candidates (0 =
                               20 * evals + population) */
    int population;         /* P */
    double sample_frac;     /* f */
    int parents;            /* k */
    int batch;              /* B */
    double p_crossover;     /* p_c */
    double p_mutate;        /* p_m (after a crossover) */
    uint64_t seed;
    double round;           /* cache key: ratios rounded to this */
    int max_tries;          /* attempts per child */
};

void alc_search_algo_default(struct alc_search_algo *a);

/* Status of a candidate. ORDER alc_cand_status_name. */
enum alc_cand_status {
    ALC_CS_NEW,       /* generated, not allocated yet */
    ALC_CS_ALLOCATED, /* ratios known, cache not consulted yet */
    ALC_CS_PENDING,   /* waiting for its evaluation */
    ALC_CS_EVALUATED, /* fitness measured */
    ALC_CS_CACHED,    /* same rounded ratios as cand[cache_of] */
    ALC_CS_INVALID,   /* reject says why; never evaluated */
    ALC_CS_COUNT
};

extern const char *const alc_cand_status_name[ALC_CS_COUNT];

struct alc_search_cand {
    int64_t id;
    int gen;                /* batch that produced it */
    int64_t parent[2];      /* -1: none */
    char *op;               /* "random", "seed FILE", "swap pre", ... */
    char *src;              /* canonical text, no comments */
    uint64_t hash;          /* alc_ast_hash */
    enum alc_cand_status status;
    enum alc_reject reject;
    char *why;
    double *ratio;          /* (n_units) or NULL */
    int n_units;
    double fitness;         /* NaN unless EVALUATED or CACHED */
    int64_t cache_of;       /* CACHED: the evaluated candidate, else -1 */
    int64_t eval_index;     /* 0-based order of its evaluation, or -1 */
    double t_compile, t_alloc, t_prune, t_eval; /* seconds */
};

/* Search phases (what the next step is). ORDER alc_phase_name. */
enum alc_phase {
    ALC_PH_GENERATE, /* produce the next batch */
    ALC_PH_ALLOC,    /* allocate the batch's NEW candidates */
    ALC_PH_EVAL,     /* evaluate the batch's PENDING candidates */
    ALC_PH_INSERT,   /* insert the batch into the population */
    ALC_PH_DONE,
    ALC_PH_COUNT
};

struct alc_search_seed {
    char *file;
    char *src;              /* canonical text */
    uint64_t hash;
};

/* Progress callback after every finished task (may be NULL). */
struct alc_search;
typedef void (*alc_search_progress_fn)(void *ctx, const struct alc_search *s,
                                       const struct alc_search_cand *c);

struct alc_search {
    struct alc_search_algo algo;
    const struct alc_space *sp;
    char *config;           /* the run's identity ("key = value" lines) */
    uint64_t config_hash;
    char *state_dir;

    struct alc_search_cand *cand; /* [n_cand] by id */
    int64_t n_cand, cap_cand;
    int64_t *pop;           /* [n_pop] ids, ascending */
    int n_pop;
    struct alc_rng rng;     /* at the end of the last generated batch */
    int gen;                /* batches produced */
    enum alc_phase phase;
    int64_t batch_first, batch_n; /* candidates of the current batch */
    int64_t n_evals;
    int64_t rejected[ALC_REJ_COUNT]; /* children rejected before becoming
                                        candidates (checker, depth,
                                        duplicate) */
    int64_t exhausted;      /* children given up after max_tries */
    struct alc_search_seed *seeds;
    int n_seeds, seeds_used;
    int n_units;

    /* derived, rebuilt on load */
    struct alc_u64map *seen;  /* canonical hash -> id */
    struct alc_u64map *cache; /* rounded-ratio hash -> id */

    /* run-time only */
    alc_search_progress_fn progress;
    void *progress_ctx;
    double t_start;
    int64_t evals_this_run;
};

/*
 * Starts a search (state_dir must hold no state.json) or resumes one
 * (resume: state.json must exist and its config must equal `config`).
 * config: the run's identity as text, written into the state and
 * compared on resume (the CLI lists every option that changes results).
 */
int alc_search_open(struct alc_search *s, const struct alc_space *sp,
                    const struct alc_search_algo *algo, const char *config,
                    const char *state_dir, int resume, struct alc_diag *d);
/* A seed program (before the first run of a fresh search): read as a
 * member of the space where it is one, checked; its canonical text joins
 * the first batch. */
int alc_search_add_seed(struct alc_search *s, const char *file,
                        const char *src, struct alc_diag *d);
/* Runs until the budget is spent (or max_candidates). */
int alc_search_run(struct alc_search *s, struct alc_search_exec *ex,
                   struct alc_diag *d);
void alc_search_close(struct alc_search *s);

/* The best candidate (lowest fitness, ties: lowest id), or NULL. */
const struct alc_search_cand *alc_search_best(const struct alc_search *s);
/* Candidates rejected for each reason: before (children) and after
 * (invalid candidates) becoming candidates. */
void alc_search_reject_counts(const struct alc_search *s, int64_t *out);
int64_t alc_search_cache_hits(const struct alc_search *s);

/* ---- State file ---- */

int alc_search_state_save(const struct alc_search *s, struct alc_diag *d);
int alc_search_state_load(struct alc_search *s, const char *path,
                          struct alc_diag *d);

/* ---- Outputs ---- */

/* What best.alloc's header and the history files say about the run. */
struct alc_search_meta {
    const char *model;      /* description of the model (or "synthetic") */
    const char *command;    /* how to reproduce */
    double S;
    const char *method;
    double dense_ppl;       /* NaN when unknown */
};

/* best.alloc, history.csv, history.json, search.svg in dir. */
int alc_search_write_outputs(const struct alc_search *s,
                             const struct alc_search_meta *m,
                             const char *dir, struct alc_diag *d);
/* The best program with its header (what best.alloc holds). */
int alc_search_best_text(const struct alc_search *s,
                         const struct alc_search_meta *m, struct alc_sb *out,
                         struct alc_diag *d);

/* An SVG of fitness per evaluation (dots) and best so far (line), log
 * scale, one series per state directory (evolution vs random). */
int alc_search_plot(const char *const *state_dirs, int n, const char *out,
                    struct alc_diag *d);

/* ---- Small shared pieces ---- */

/* uint64 -> int64 map (open addressing), for the dedupe set and cache. */
struct alc_u64map *alc_u64map_new(void);
void alc_u64map_free(struct alc_u64map *m);
/* Appends (key, val); a key may hold several values. */
int alc_u64map_add(struct alc_u64map *m, uint64_t key, int64_t val);
/* Calls fn for each value of key until it returns nonzero; returns that. */
int64_t alc_u64map_find(const struct alc_u64map *m, uint64_t key,
                        int (*fn)(void *ctx, int64_t val), void *ctx);

/* Hash of ratios rounded to `round` (the cache key). */
uint64_t alc_search_ratio_key(const double *ratio, int n, double round);

#endif /* ALC_SEARCH_H */
