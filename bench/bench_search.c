/*
 * bench_search.c: evaluations per minute of `dsac search` on the bundled
 * model (70 % Wanda, DSA's space, calibration kjv.train.raw 32 x 256,
 * fitness on K windows of 256 tokens of kjv.valid.raw), the time split of
 * one evaluation (compile, allocate, prune, perplexity, and the search's
 * own bookkeeping: breeding, checks, cache, state writes), for one worker
 * with every thread and for one worker per core, in one run; and the
 * extrapolation of an evaluation to LLaMA-7B by FLOPs:
 *
 *   FLOPs(forward of B x T tokens) = alc_fwd_flops: 2 M N K for every
 *     linear and the head, 4 D per causal query-key pair;
 *   prune (Wanda, sequential) = 2 forwards of the N x T calibration tokens
 *     through the blocks (statistics with the dense block, then the pruned
 *     block's outputs for the next one), no head;
 *   perplexity = 1 forward (head included) of the K x T validation tokens;
 *   time(7B) = FLOPs(7B) / (the FLOP rate measured here), and at an
 *     assumed GPU rate (printed as an assumption).
 *
 *   bench_search [EVALS] [K]     (default 24 evaluations, K = 32)
 * ALC_SOURCE_DIR selects the source tree (examples/), ALC_THREADS the
 * thread count. Run from the repository root.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "forward.h"
#include "search.h"
#include "search_internal.h"

#ifndef ALC_SOURCE_DIR
#define ALC_SOURCE_DIR "."
#endif

#define NSAMPLES 32
#define SEQLEN 256

/* The assumed sustained GPU rate for the 7B figure: an A100/H100-class
 * GPU at 40 % of a ~300 TFLOP/s BF16 dense peak. An assumption, not a
 * measurement (no GPU here). */
#define GPU_FLOPS 120e12

struct run {
    int workers, threads;
    double setup, wall;          /* seconds */
    double compile, alloc, prune, eval, book; /* per evaluation */
    int64_t evals, cands;
    struct alc_sb history;       /* candidates without times */
};

static const char *src_dir(void)
{
    const char *s = getenv("ALC_SOURCE_DIR");
    return s != NULL ? s : ALC_SOURCE_DIR;
}

static void fitness(struct alc_search_fitness *f, const struct alc_space *sp,
                    int64_t k, char *model, char *calib, char *valid)
{
    memset(f, 0, sizeof *f);
    snprintf(model, 1024, "%s/examples/tiny-llama", src_dir());
    snprintf(calib, 1024, "%s/examples/corpus/kjv.train.raw", src_dir());
    snprintf(valid, 1024, "%s/examples/corpus/kjv.valid.raw", src_dir());
    f->model = model;
    f->S = 0.7;
    f->method = "wanda";
    f->calib = calib;
    f->nsamples = NSAMPLES;
    f->seqlen = SEQLEN;
    f->valid = valid;
    f->valid_chunks = k;
    f->valid_seqlen = SEQLEN;
    f->backend = "llvm";
    f->inputs = sp->inputs;
}

static void summarise(const struct alc_search *s, struct run *r)
{
    double sum = 0.0;
    alc_sb_init(&r->history);
    for (int64_t i = 0; i < s->n_cand; i++) {
        const struct alc_search_cand *c = &s->cand[i];
        r->compile += c->t_compile;
        r->alloc += c->t_alloc;
        r->prune += c->t_prune;
        r->eval += c->t_eval;
        alc_search_cand_json(c, 0, &r->history);
    }
    sum = r->compile + r->alloc + r->prune + r->eval;
    r->evals = s->n_evals;
    r->cands = s->n_cand;
    /* with w workers the task times overlap: wall * w is the busy time */
    r->book = r->wall * r->workers - sum;
    r->compile /= (double)r->evals;
    r->alloc /= (double)r->evals;
    r->prune /= (double)r->evals;
    r->eval /= (double)r->evals;
    r->book /= (double)r->evals;
}

static int one_run(const struct alc_space *sp, int64_t evals, int64_t k,
                   struct run *r)
{
    struct alc_search_algo algo;
    struct alc_search_fitness f;
    struct alc_search s;
    struct alc_search_exec ex;
    struct alc_diag d;
    char model[1024], calib[1024], valid[1024], dir[256], cmd[512];
    int rc = -1;
    alc_diag_init(&d);
    alc_search_algo_default(&algo);
    algo.evals = evals;
    algo.population = 8;
    algo.batch = 4;
    fitness(&f, sp, k, model, calib, valid);
    f.threads = r->threads;
    snprintf(dir, sizeof dir, "/tmp/bench_search.%d.%d", (int)getpid(),
             r->workers);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0 ||
        alc_search_open(&s, sp, &algo, "bench\n", dir, 0, &d) != 0) {
        fprintf(stderr, "bench_search: %s", alc_diag_text(&d));
        return -1;
    }
    double t0 = alc_now();
    if (alc_search_exec_local(&ex, r->workers, &f, &d) == 0) {
        double t1 = alc_now();
        r->setup = t1 - t0;
        rc = alc_search_run(&s, &ex, &d);
        r->wall = alc_now() - t1;
        ex.close(ex.ctx);
    }
    if (rc == 0) {
        summarise(&s, r);
    } else {
        fprintf(stderr, "bench_search: %s", alc_diag_text(&d));
    }
    alc_search_close(&s);
    if (system(cmd) != 0) {
        rc = -1;
    }
    alc_diag_free(&d);
    return rc;
}

static void print_run(const struct run *r)
{
    printf("| %d x %d | %.1f | %.1f | %.2f | %.3f | %.4f | %.3f | %.3f | "
           "%.3f | %.1f |\n",
           r->workers, r->threads, r->setup, r->wall,
           r->evals / r->wall * 60.0, r->compile, r->alloc, r->prune,
           r->eval, r->book, r->evals / r->wall * 60.0 * 60.0);
}

/* LLaMA-7B (LLaMA-1 / 2): C 4096, F 11008, 32 blocks, 32 heads, V 32000. */
static void llama7b(struct alc_config *c)
{
    alc_config_defaults(c, ALC_ARCH_LLAMA);
    c->dim = 4096;
    c->hidden_dim = 11008;
    c->n_layers = 32;
    c->n_heads = 32;
    c->n_kv_heads = 32;
    c->head_dim = 128;
    c->vocab_size = 32000;
    c->max_pos = 2048;
}

/* FLOPs of one evaluation: prune (2 forwards of the calibration without
 * the head) + perplexity (1 forward with the head). */
static void eval_flops(const struct alc_config *c, int n, int t, int k,
                       int tv, double *prune, double *ppl)
{
    double head = 2.0 * n * t * (double)c->dim * c->vocab_size;
    *prune = 2.0 * (alc_fwd_flops(c, n, t) - head);
    *ppl = alc_fwd_flops(c, k, tv);
}

static void extrapolate(const struct run *r, int64_t k)
{
    struct alc_config tiny, big;
    struct alc_diag d;
    char model[1024];
    double p_tiny = 0, e_tiny = 0, p_big = 0, e_big = 0;
    alc_diag_init(&d);
    snprintf(model, sizeof model, "%s/examples/tiny-llama", src_dir());
    if (alc_config_load(&tiny, model, &d) != 0) {
        fprintf(stderr, "bench_search: %s", alc_diag_text(&d));
        return;
    }
    eval_flops(&tiny, NSAMPLES, SEQLEN, (int)k, SEQLEN, &p_tiny, &e_tiny);
    double rate_p = p_tiny / r->prune, rate_e = e_tiny / r->eval;
    double rate = (p_tiny + e_tiny) / (r->prune + r->eval);
    llama7b(&big);
    eval_flops(&big, 128, 2048, 32, 2048, &p_big, &e_big);
    double t_cpu = (p_big + e_big) / rate, t_gpu = (p_big + e_big) / GPU_FLOPS;
    printf("\nFLOPs per evaluation, bundled model (N x T = %d x %d calib, "
           "K x T = %lld x %d valid):\n  prune %.3g (%.2f GFLOP/s), "
           "perplexity %.3g (%.2f GFLOP/s), together %.2f GFLOP/s\n",
           NSAMPLES, SEQLEN, (long long)k, SEQLEN, p_tiny, rate_p / 1e9,
           e_tiny, rate_e / 1e9, rate / 1e9);
    printf("LLaMA-7B, DSA's protocol (calibration 128 x 2048, fitness on "
           "32 x 2048 validation tokens):\n  prune %.3g + perplexity %.3g = "
           "%.3g FLOPs per evaluation\n",
           p_big, e_big, p_big + e_big);
    printf("  at the rate measured here (%.1f GFLOP/s): %.0f s = %.1f h per "
           "evaluation, %.1f evaluations/day\n",
           rate / 1e9, t_cpu, t_cpu / 3600.0, 86400.0 / t_cpu);
    printf("  at an ASSUMED %.0f TFLOP/s sustained on one GPU: %.0f s per "
           "evaluation, %.1f evaluations/min, 1000 evaluations in %.1f h\n",
           GPU_FLOPS / 1e12, t_gpu, 60.0 / t_gpu, 1000.0 * t_gpu / 3600.0);
    alc_diag_free(&d);
}

int main(int argc, char **argv)
{
    int64_t evals = argc > 1 ? atoll(argv[1]) : 24;
    int64_t k = argc > 2 ? atoll(argv[2]) : 32;
    int cores = alc_default_threads();
    struct alc_space sp;
    struct alc_diag d;
    struct run runs[2];
    alc_diag_init(&d);
    alc_progress_set_quiet(1);
    if (evals < 1 || k < 1 || alc_space_load(&sp, "dsa", &d) != 0) {
        fprintf(stderr, "usage: bench_search [EVALS] [K]\n%s",
                alc_diag_text(&d));
        return 2;
    }
    memset(runs, 0, sizeof runs);
    runs[0].workers = 1;
    runs[0].threads = cores;
    runs[1].workers = cores > 1 ? cores : 2;
    runs[1].threads = cores;
    printf("bench_search: %lld evaluations of DSA's space on the bundled "
           "model, 70%% Wanda, calib %d x %d, valid %lld x %d, %d cores\n\n",
           (long long)evals, NSAMPLES, SEQLEN, (long long)k, SEQLEN, cores);
    printf("| workers x threads | setup s | search s | evals/min | compile s "
           "| alloc s | prune s | ppl s | bookkeeping s | evals/hour |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < 2; i++) {
        if (one_run(&sp, evals, k, &runs[i]) != 0) {
            return 1;
        }
        print_run(&runs[i]);
        fflush(stdout);
    }
    printf("\n(per-evaluation seconds are averages over the evaluations; "
           "compile and alloc include\nthe candidates that were invalid or "
           "served by the cache; bookkeeping = workers x wall - task time)\n");
    printf("same history for both: %s\n",
           strcmp(runs[0].history.s, runs[1].history.s) == 0 ? "yes" : "NO");
    printf("%d workers vs 1: %.2fx the evaluations per minute\n",
           runs[1].workers, runs[0].wall / runs[1].wall);
    extrapolate(&runs[0], k);
    alc_sb_free(&runs[0].history);
    alc_sb_free(&runs[1].history);
    alc_space_free(&sp);
    alc_diag_free(&d);
    return 0;
}
