/*
 * cmd_search.c: `dsac search`, the evolutionary search over the members
 * of a search space (grammar/SEARCH.md; search/search.h): options, the
 * run's identity (every option that changes results, recorded in the
 * state and compared on --resume), the executor (threads, or MPI ranks
 * when started by mpirun), progress lines, and the outputs. `dsac search
 * --plot DIR... -o FILE.svg` draws several searches in one plot.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "search.h"
#include "search_mpi.h"

int cmd_search(int argc, char **argv);

static const char *const usage_text =
    "usage: dsac search --model DIR --state DIR --calib FILE --valid FILE\n"
    "                   [options]\n"
    "       dsac search --plot DIR... -o FILE.svg\n"
    "\n"
    "Evolutionary search for an allocation function (DSA's: population 20,\n"
    "90% sampled, top 5 as parents, crossover and mutation, the worst\n"
    "replaced) over a search space (default: DSA's chain pre-process ->\n"
    "reduction -> transform -> post-process of the Wanda metric). Fitness\n"
    "is the perplexity on a validation text of the model pruned with the\n"
    "candidate's sparsities. The state is saved after every evaluation;\n"
    "--resume continues a killed search exactly. Under mpirun, rank 0\n"
    "coordinates and the other ranks evaluate; the result does not depend\n"
    "on the number of ranks or workers.\n"
    "\n"
    "Search:\n"
    "  --space FILE|dsa|free  search space (default dsa, built in)\n"
    "  --strategy S        evolution (default) or random\n"
    "  --evals N           budget: model evaluations (default 200)\n"
    "  --population P      population size (default 20)\n"
    "  --sample F          fraction of the population sampled per child\n"
    "                      (default 0.9)\n"
    "  --parents K         best sampled members used as parents (default 5)\n"
    "  --batch B           children per generation, evaluated in parallel\n"
    "                      (default 4; 1 = DSA's steady state); part of the\n"
    "                      algorithm, not the number of workers\n"
    "  --p-crossover P     chance of a crossover (default 0.5)\n"
    "  --p-mutate P        chance of a mutation after a crossover (0.5)\n"
    "  --seed N            RNG seed (default 0)\n"
    "  --seed-alloc FILE   a program for the first population (repeat)\n"
    "  --round X           evaluation cache: ratios rounded to X (1e-6)\n"
    "  --max-candidates N  stop after N candidates (default 20 x evals)\n"
    "  --state DIR         checkpoint and outputs (required)\n"
    "  --resume            continue the search recorded in --state\n"
    "  -o FILE             also write the best program to FILE\n"
    "\n"
    "Fitness:\n"
    "  --model DIR         Hugging Face model directory\n"
    "  --sparsity S        target mean sparsity (default 0.7)\n"
    "  --method M          wanda (default), sparsegpt or magnitude\n"
    "  --nm N:M            N:M semi-structured pruning\n"
    "  --calib FILE        calibration text (e.g. kjv.train.raw)\n"
    "  --nsamples N        calibration windows (default 32)\n"
    "  --seqlen T          tokens per window (default 256)\n"
    "  --valid FILE        validation text, held out from calibration and\n"
    "                      test (e.g. kjv.valid.raw)\n"
    "  --valid-chunks K    validation windows per evaluation (default 32;\n"
    "                      0 = all)\n"
    "  --valid-seqlen T    validation window length (default: --seqlen)\n"
    "  --allow-test-split  accept a --valid FILE whose name says test\n"
    "  --backend B         llvm (default) or interp\n"
    "\n"
    "Execution:\n"
    "  --workers N         evaluations in parallel in this process, each\n"
    "                      with its own session (default 1; ignored under\n"
    "                      mpirun, where each rank but 0 is one worker)\n"
    "  --threads N         threads in all (default: all cores)\n"
    "  --no-dense          skip the dense model's validation perplexity\n"
    "  --quiet             no progress lines\n"
    "  --synthetic         no model: synthetic units and fitness (tests)\n"
    "  --synthetic-delay S seconds each synthetic evaluation sleeps\n"
    "\n"
    "Outputs in --state: best.alloc, history.csv (time columns last),\n"
    "history.json, search.svg; state.json is the checkpoint.\n";

enum {
    OPT_MODEL = 256, OPT_SPACE, OPT_STRATEGY, OPT_EVALS, OPT_POP,
    OPT_SAMPLE, OPT_PARENTS, OPT_BATCH, OPT_PC, OPT_PM, OPT_SEED,
    OPT_SEED_ALLOC, OPT_ROUND, OPT_MAXC, OPT_STATE, OPT_RESUME, OPT_SPARSITY,
    OPT_METHOD, OPT_NM, OPT_CALIB, OPT_NSAMPLES, OPT_SEQLEN, OPT_VALID,
    OPT_VCHUNKS, OPT_VSEQLEN, OPT_ALLOW_TEST, OPT_BACKEND, OPT_WORKERS,
    OPT_THREADS, OPT_NO_DENSE, OPT_QUIET, OPT_SYNTH, OPT_SYNTH_DELAY,
    OPT_PLOT, OPT_HELP
};

static const struct option long_opts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"space", required_argument, NULL, OPT_SPACE},
    {"strategy", required_argument, NULL, OPT_STRATEGY},
    {"evals", required_argument, NULL, OPT_EVALS},
    {"population", required_argument, NULL, OPT_POP},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"parents", required_argument, NULL, OPT_PARENTS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"p-crossover", required_argument, NULL, OPT_PC},
    {"p-mutate", required_argument, NULL, OPT_PM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"seed-alloc", required_argument, NULL, OPT_SEED_ALLOC},
    {"round", required_argument, NULL, OPT_ROUND},
    {"max-candidates", required_argument, NULL, OPT_MAXC},
    {"state", required_argument, NULL, OPT_STATE},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"sparsity", required_argument, NULL, OPT_SPARSITY},
    {"method", required_argument, NULL, OPT_METHOD},
    {"nm", required_argument, NULL, OPT_NM},
    {"calib", required_argument, NULL, OPT_CALIB},
    {"nsamples", required_argument, NULL, OPT_NSAMPLES},
    {"seqlen", required_argument, NULL, OPT_SEQLEN},
    {"valid", required_argument, NULL, OPT_VALID},
    {"valid-chunks", required_argument, NULL, OPT_VCHUNKS},
    {"valid-seqlen", required_argument, NULL, OPT_VSEQLEN},
    {"allow-test-split", no_argument, NULL, OPT_ALLOW_TEST},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"no-dense", no_argument, NULL, OPT_NO_DENSE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"synthetic", no_argument, NULL, OPT_SYNTH},
    {"synthetic-delay", required_argument, NULL, OPT_SYNTH_DELAY},
    {"plot", no_argument, NULL, OPT_PLOT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

#define MAX_SEEDS 64

struct args {
    struct alc_search_algo algo;
    struct alc_search_fitness fit;
    const char *space, *state, *out;
    const char *seeds[MAX_SEEDS];
    int n_seeds;
    int resume, allow_test, quiet, plot, workers;
    long threads;
};

/* ---- Options ---- */

static int lnum(const char *s, long lo, long hi, long *out)
{
    long v = 0;
    if (cli_parse_long(s, &v) != 0 || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

static int dnum(const char *s, double lo, double hi, double *out)
{
    double v = 0.0;
    if (cli_parse_double(s, &v) != 0 || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_nm(const char *s, struct alc_search_fitness *f)
{
    int n = 0, m = 0;
    char tail = 0;
    if (sscanf(s, "%d:%d%c", &n, &m, &tail) != 2 || n < 1 || m <= n ||
        m > 64) {
        return -1;
    }
    f->nm_n = n;
    f->nm_m = m;
    return 0;
}

static int strategy_of(const char *s, struct alc_search_algo *a)
{
    for (int k = 0; k < ALC_STRAT_COUNT; k++) {
        if (strcmp(s, alc_strategy_name[k]) == 0) {
            a->strategy = (enum alc_strategy)k;
            return 0;
        }
    }
    return -1;
}

static int method_ok(const char *s)
{
    return strcmp(s, "wanda") == 0 || strcmp(s, "sparsegpt") == 0 ||
           strcmp(s, "magnitude") == 0;
}

/* Search-algorithm options; 1 when opt is not one of them. */
static int opt_algo(int opt, const char *v, struct args *a)
{
    struct alc_search_algo *g = &a->algo;
    long l = 0;
    int bad = 0;
    switch (opt) {
    case OPT_STRATEGY:
        return strategy_of(v, g);
    case OPT_EVALS:
        bad = lnum(v, 1, 100000000, &l);
        g->evals = l;
        return bad;
    case OPT_POP:
        bad = lnum(v, 1, 100000, &l);
        g->population = (int)l;
        return bad;
    case OPT_SAMPLE:
        return dnum(v, 1e-9, 1.0, &g->sample_frac);
    case OPT_PARENTS:
        bad = lnum(v, 1, 64, &l);
        g->parents = (int)l;
        return bad;
    case OPT_BATCH:
        bad = lnum(v, 1, 100000, &l);
        g->batch = (int)l;
        return bad;
    case OPT_PC:
        return dnum(v, 0.0, 1.0, &g->p_crossover);
    case OPT_PM:
        return dnum(v, 0.0, 1.0, &g->p_mutate);
    case OPT_SEED:
        bad = lnum(v, 0, 0x7fffffffffffffffL, &l);
        g->seed = (uint64_t)l;
        return bad;
    case OPT_ROUND:
        return dnum(v, 1e-15, 0.5, &g->round);
    case OPT_MAXC:
        bad = lnum(v, 1, 0x7fffffffffffffffL, &l);
        g->max_candidates = l;
        return bad;
    default:
        return 1;
    }
}

/* Fitness options; 1 when opt is not one of them. */
static int opt_fitness(int opt, const char *v, struct args *a)
{
    struct alc_search_fitness *f = &a->fit;
    long l = 0;
    int bad = 0;
    switch (opt) {
    case OPT_MODEL:
        f->model = v;
        return 0;
    case OPT_SPARSITY:
        return dnum(v, 0.0, 0.999, &f->S);
    case OPT_METHOD:
        f->method = v;
        return !method_ok(v);
    case OPT_NM:
        return parse_nm(v, f);
    case OPT_CALIB:
        f->calib = v;
        return 0;
    case OPT_NSAMPLES:
        bad = lnum(v, 1, 1 << 20, &l);
        f->nsamples = (int)l;
        return bad;
    case OPT_SEQLEN:
        bad = lnum(v, 2, 1 << 20, &l);
        f->seqlen = (int)l;
        return bad;
    case OPT_VALID:
        f->valid = v;
        return 0;
    case OPT_VCHUNKS:
        bad = lnum(v, 0, 1L << 40, &l);
        f->valid_chunks = l;
        return bad;
    case OPT_VSEQLEN:
        bad = lnum(v, 2, 1 << 20, &l);
        f->valid_seqlen = (int)l;
        return bad;
    case OPT_BACKEND:
        f->backend = v;
        return strcmp(v, "llvm") != 0 && strcmp(v, "interp") != 0;
    case OPT_SYNTH:
        f->synthetic = 1;
        return 0;
    case OPT_SYNTH_DELAY:
        return dnum(v, 0.0, 3600.0, &f->synthetic_delay);
    case OPT_NO_DENSE:
        f->dense = 0;
        return 0;
    default:
        return 1;
    }
}

static int opt_other(int opt, const char *v, struct args *a)
{
    long l = 0;
    int bad = 0;
    switch (opt) {
    case OPT_SPACE:
        a->space = v;
        return 0;
    case OPT_SEED_ALLOC:
        if (a->n_seeds == MAX_SEEDS) {
            return -1;
        }
        a->seeds[a->n_seeds++] = v;
        return 0;
    case OPT_STATE:
        a->state = v;
        return 0;
    case OPT_RESUME:
        a->resume = 1;
        return 0;
    case OPT_ALLOW_TEST:
        a->allow_test = 1;
        return 0;
    case OPT_WORKERS:
        bad = lnum(v, 1, 1024, &l);
        a->workers = (int)l;
        return bad;
    case OPT_THREADS:
        return lnum(v, 1, 4096, &a->threads);
    case OPT_QUIET:
        a->quiet = 1;
        return 0;
    case OPT_PLOT:
        a->plot = 1;
        return 0;
    case 'o':
        a->out = v;
        return 0;
    default:
        return 1;
    }
}

static void defaults(struct args *a)
{
    memset(a, 0, sizeof *a);
    alc_search_algo_default(&a->algo);
    a->fit.S = 0.7;
    a->fit.method = "wanda";
    a->fit.nsamples = 32;
    a->fit.seqlen = 256;
    a->fit.valid_chunks = 32;
    a->fit.backend = "llvm";
    a->fit.dense = 1;
    a->space = "dsa";
    a->workers = 1;
}

/* 0 ok, 1 --help shown, CLI_USAGE after an error message. */
static int parse_args(int argc, char **argv, struct args *a)
{
    int opt;
    defaults(a);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return 1;
        }
        if (opt == '?') {
            return cli_usage_error("search", "bad option");
        }
        int r = opt_algo(opt, optarg, a);
        r = r == 1 ? opt_fitness(opt, optarg, a) : r;
        r = r == 1 ? opt_other(opt, optarg, a) : r;
        if (r != 0) {
            const char *nm = opt >= OPT_MODEL && opt < OPT_HELP
                                 ? long_opts[opt - OPT_MODEL].name
                                 : "o";
            return cli_usage_error("search", "bad value for --%s: '%s'", nm,
                                   optarg != NULL ? optarg : "");
        }
    }
    a->fit.threads = (int)a->threads;
    a->fit.progress = !a->quiet;
    if (a->fit.valid_seqlen == 0) {
        a->fit.valid_seqlen = a->fit.seqlen;
    }
    return 0;
}

static int check_args(const struct args *a)
{
    const struct alc_search_fitness *f = &a->fit;
    if (a->state == NULL) {
        return cli_usage_error("search", "--state DIR is required");
    }
    if (f->synthetic) {
        return 0;
    }
    if (f->model == NULL || f->valid == NULL) {
        return cli_usage_error("search", "--model DIR and --valid FILE are "
                                         "required (or --synthetic)");
    }
    if (f->calib == NULL && strcmp(f->method, "magnitude") != 0) {
        return cli_usage_error("search", "--calib FILE is required (Wanda's "
                                         "metric and pruning need "
                                         "calibration)");
    }
    if (f->nm_n > 0 && fabs(f->S - (double)f->nm_n / f->nm_m) > 1e-12) {
        return cli_usage_error("search", "--nm %d:%d prunes exactly %g; "
                                         "give --sparsity %g",
                               f->nm_n, f->nm_m, (double)f->nm_n / f->nm_m,
                               (double)f->nm_n / f->nm_m);
    }
    return 0;
}

/* ---- The run's identity ---- */

/* Hash of a file's bytes, for the identity (0 when unreadable). */
static uint64_t file_hash(const char *path)
{
    struct alc_map m;
    struct alc_diag d;
    uint64_t h = 0;
    alc_diag_init(&d);
    if (path != NULL && alc_map_file(path, &m, &d) == 0) {
        h = alc_hash64(m.data, m.size, 0);
        alc_unmap(&m);
    }
    alc_diag_free(&d);
    return h;
}

static uint64_t model_hash(const char *dir)
{
    char *p = dir != NULL ? alc_path_join(dir, "config.json") : NULL;
    uint64_t h = file_hash(p);
    free(p);
    return h;
}

static void config_text(const struct args *a, const struct alc_space *sp,
                        struct alc_sb *out)
{
    const struct alc_search_algo *g = &a->algo;
    const struct alc_search_fitness *f = &a->fit;
    alc_sb_printf(out, "space = %s %016" PRIx64 "\nstrategy = %s\n"
                       "seed = %" PRIu64 "\nevals = %" PRId64 "\n"
                       "max_candidates = %" PRId64 "\npopulation = %d\n"
                       "sample = %.17g\nparents = %d\nbatch = %d\n"
                       "p_crossover = %.17g\np_mutate = %.17g\n"
                       "round = %.17g\nmax_tries = %d\n",
                  sp->name, sp->hash, alc_strategy_name[g->strategy],
                  g->seed, g->evals, g->max_candidates, g->population,
                  g->sample_frac, g->parents, g->batch, g->p_crossover,
                  g->p_mutate, g->round, g->max_tries);
    for (int i = 0; i < a->n_seeds; i++) {
        alc_sb_printf(out, "seed_alloc = %s %016" PRIx64 "\n", a->seeds[i],
                      file_hash(a->seeds[i]));
    }
    if (f->synthetic) {
        alc_sb_printf(out, "fitness = synthetic\nsparsity = %.17g\n"
                           "backend = %s\n", f->S, f->backend);
        return;
    }
    alc_sb_printf(out, "model = %s %016" PRIx64 "\nsparsity = %.17g\n"
                       "method = %s %d:%d\ncalib = %s %016" PRIx64 "\n"
                       "nsamples = %d\nseqlen = %d\nvalid = %s %016" PRIx64
                       "\nvalid_chunks = %" PRId64 "\nvalid_seqlen = %d\n"
                       "backend = %s\n",
                  f->model, model_hash(f->model), f->S, f->method, f->nm_n,
                  f->nm_m, f->calib != NULL ? f->calib : "-",
                  file_hash(f->calib), f->nsamples, f->seqlen, f->valid,
                  file_hash(f->valid), f->valid_chunks, f->valid_seqlen,
                  f->backend);
}

/* The validation text must be neither the calibration text nor a test
 * split. */
static int check_valid(const struct args *a)
{
    const struct alc_search_fitness *f = &a->fit;
    const char *base = NULL;
    if (f->synthetic) {
        return 0;
    }
    if (f->calib != NULL && file_hash(f->calib) == file_hash(f->valid)) {
        return cli_error("search", "--valid %s is the calibration text: "
                                   "the fitness must be measured on text "
                                   "held out from calibration", f->valid);
    }
    base = strrchr(f->valid, '/');
    base = base != NULL ? base + 1 : f->valid;
    if (strstr(base, "test") != NULL && !a->allow_test) {
        return cli_error("search", "--valid %s looks like a test split; the "
                                   "search must never see the test text "
                                   "(its final number would be biased). Use "
                                   "a validation split, or --allow-test-split if "
                                   "this really is held-out text",
                         f->valid);
    }
    return 0;
}

/* ---- Progress ---- */

struct progress {
    int quiet;
    int64_t evals_total;
};

static void on_progress(void *ctx, const struct alc_search *s,
                        const struct alc_search_cand *c)
{
    const struct progress *p = ctx;
    const struct alc_search_cand *b = alc_search_best(s);
    if (p->quiet || (c->status != ALC_CS_EVALUATED &&
                     c->status != ALC_CS_INVALID)) {
        return;
    }
    double el = alc_now() - s->t_start;
    int64_t left = s->algo.evals - s->n_evals;
    double per = s->evals_this_run > 0 ? el / s->evals_this_run : 0.0;
    fprintf(stderr, "search: %" PRId64 "/%" PRId64 " evals, gen %d, #%"
                    PRId64 " %s",
            s->n_evals, s->algo.evals, s->gen, c->id,
            alc_cand_status_name[c->status]);
    if (c->status == ALC_CS_EVALUATED) {
        fprintf(stderr, " ppl %.4g", c->fitness);
    } else {
        fprintf(stderr, " (%s)", alc_reject_name[c->reject]);
    }
    if (b != NULL) {
        fprintf(stderr, " | best %.4g (#%" PRId64 ")", b->fitness, b->id);
    }
    if (per > 0.0) {
        fprintf(stderr, " | %.2f s/eval, ETA %.0f s", per, per * left);
    }
    fputc('\n', stderr);
}

/* ---- Summary ---- */

static void print_summary(const struct alc_search *s, double dense)
{
    int64_t rej[ALC_REJ_COUNT];
    const struct alc_search_cand *b = alc_search_best(s);
    alc_search_reject_counts(s, rej);
    printf("search: %" PRId64 " evaluations of %" PRId64 " candidates, %"
           PRId64 " cache hits; not evaluated:",
           s->n_evals, s->n_cand, alc_search_cache_hits(s));
    for (int r = 1; r < ALC_REJ_COUNT; r++) {
        printf(" %s %" PRId64, alc_reject_name[r], rej[r]);
    }
    printf("\n");
    if (b == NULL) {
        printf("best: none (no candidate had a finite perplexity)\n");
        return;
    }
    printf("best: candidate %" PRId64 ", validation perplexity %.6g", b->id,
           b->fitness);
    if (isfinite(dense)) {
        printf(" (dense %.6g)", dense);
    }
    printf("\n");
}

/* ---- Running ---- */

static int load_seeds(struct alc_search *s, const struct args *a,
                      struct alc_diag *d)
{
    for (int i = 0; i < a->n_seeds && !a->resume; i++) {
        char *src = NULL;
        size_t len = 0;
        if (alc_read_file(a->seeds[i], &src, &len, d) != 0) {
            return -1;
        }
        int rc = alc_search_add_seed(s, a->seeds[i], src, d);
        free(src);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static void command_line(int argc, char **argv, struct alc_sb *out)
{
    alc_sb_puts(out, "dsac search");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--resume") != 0 &&
            strcmp(argv[i], "--quiet") != 0) {
            alc_sb_printf(out, " %s", argv[i]);
        }
    }
}

static int write_outputs(const struct alc_search *s, const struct args *a,
                         const char *desc, double dense, const char *cmd,
                         struct alc_diag *d)
{
    struct alc_search_meta m = {desc, cmd, a->fit.S, a->fit.method, dense};
    struct alc_sb best;
    int rc = alc_search_write_outputs(s, &m, a->state, d);
    alc_sb_init(&best);
    if (rc == 0 && a->out != NULL && alc_search_best(s) != NULL) {
        rc = alc_search_best_text(s, &m, &best, d);
        rc = rc == 0 ? alc_write_file_atomic(a->out, best.s, best.len, d)
                     : rc;
    }
    alc_sb_free(&best);
    return rc;
}

/* The coordinator (rank 0, or the only process). */
static int coordinate(const struct args *a, int size, int argc, char **argv,
                      struct alc_diag *d)
{
    struct alc_space sp;
    struct alc_search s;
    struct alc_search_exec ex;
    struct alc_sb cfg, desc, cmd;
    struct progress pg = {a->quiet, a->algo.evals};
    double dense = NAN;
    int rc = -1, have_sp = 0, have_s = 0;
    struct alc_search_fitness fit = a->fit;
    memset(&ex, 0, sizeof ex);
    alc_sb_init(&cfg);
    alc_sb_init(&desc);
    alc_sb_init(&cmd);
    command_line(argc, argv, &cmd);
    if (alc_space_load(&sp, a->space, d) != 0) {
        goto done;
    }
    have_sp = 1;
    fit.inputs = sp.inputs;
    config_text(a, &sp, &cfg);
    if (alc_search_open(&s, &sp, &a->algo, cfg.s, a->state, a->resume, d) !=
        0) {
        goto done;
    }
    have_s = 1;
    /* the state exists from here on, so a kill during the workers' setup
     * can be resumed */
    if (load_seeds(&s, a, d) != 0 || alc_search_state_save(&s, d) != 0) {
        goto done;
    }
    if (size > 1) {
        if (search_mpi_exec(&ex, size, &desc, &dense, d) != 0) {
            goto done;
        }
    } else {
        if (alc_search_exec_local(&ex, a->workers, &fit, d) != 0) {
            goto done;
        }
        struct alc_search_worker *w = alc_search_exec_local_worker(&ex);
        alc_search_worker_describe(w, &desc);
        dense = alc_search_worker_dense_ppl(w);
    }
    if (ex.n_slots > a->algo.batch && !a->quiet) {
        fprintf(stderr, "dsac search: note: %d workers but --batch %d: at "
                        "most %d evaluations run at once\n",
                ex.n_slots, a->algo.batch, a->algo.batch);
    }
    s.progress = on_progress;
    s.progress_ctx = &pg;
    if (alc_search_run(&s, &ex, d) != 0) {
        goto done;
    }
    rc = write_outputs(&s, a, desc.s, dense, cmd.s, d);
    if (rc == 0) {
        print_summary(&s, dense);
        printf("wrote %s/best.alloc, history.csv, history.json, "
               "search.svg\n", a->state);
    }
done:
    if (ex.close != NULL) {
        ex.close(ex.ctx);
    }
    if (have_s) {
        alc_search_close(&s);
    }
    if (have_sp) {
        alc_space_free(&sp);
    }
    alc_sb_free(&cfg);
    alc_sb_free(&desc);
    alc_sb_free(&cmd);
    return rc;
}

static int plot_mode(const struct args *a, int argc, char **argv)
{
    struct alc_diag d;
    int rc = CLI_OK;
    if (optind >= argc || a->out == NULL) {
        return cli_usage_error("search", "--plot needs state directories "
                                         "and -o FILE.svg");
    }
    alc_diag_init(&d);
    if (alc_search_plot((const char *const *)argv + optind, argc - optind,
                        a->out, &d) != 0) {
        cli_print_diag("search", &d);
        rc = CLI_ERR;
    }
    alc_diag_free(&d);
    return rc;
}

/* A worker rank: the space's inputs tell the session which dense
 * statistics to compute; a bad space is reported by rank 0. */
static int worker_rank(struct args *a)
{
    struct alc_space sp;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_space_load(&sp, a->space, &d) == 0) {
        a->fit.inputs = sp.inputs;
        alc_space_free(&sp);
    }
    alc_diag_free(&d);
    return search_mpi_worker(&a->fit);
}

int cmd_search(int argc, char **argv)
{
    struct args a;
    struct alc_diag d;
    int rank = 0, size = 1, rc = CLI_OK;
    int r = parse_args(argc, argv, &a);
    if (r != 0) {
        return r == 1 ? CLI_OK : r;
    }
    if (a.plot) {
        return plot_mode(&a, argc, argv);
    }
    if (optind < argc) {
        return cli_usage_error("search", "unexpected argument '%s'",
                               argv[optind]);
    }
    r = check_args(&a);
    if (r != 0) {
        return r;
    }
    alc_diag_init(&d);
    if (search_mpi_launched() && search_mpi_init(&rank, &size, &d) != 0) {
        cli_print_diag("search", &d);
        alc_diag_free(&d);
        return CLI_ERR;
    }
    if (rank > 0) {
        alc_diag_free(&d);
        return worker_rank(&a);
    }
    if (check_valid(&a) != 0 || coordinate(&a, size, argc, argv, &d) != 0) {
        cli_print_diag("search", &d);
        rc = CLI_ERR;
    }
    if (size > 1 || search_mpi_launched()) {
        search_mpi_finish(size);
    }
    alc_diag_free(&d);
    return rc;
}
