/*
 * search_worker.c: a worker of the search (search.h): compiles a
 * candidate's program and allocates (ALLOC), prunes and measures the
 * validation perplexity (EVAL). Every worker thread or MPI rank opens its
 * own.
 *
 * Two kinds:
 *   session    the pruning session of runtime/session.h on a model: dense
 *              statistics once (alc_session_prepare), then per candidate
 *              allocate -> prune (from dense) -> perplexity on the first
 *              K validation windows;
 *   synthetic  (tests, --synthetic) eight synthetic units of random
 *              weights; the allocation is the real compiled program over
 *              them; the "perplexity" is 10 + 1000 mean_u (r_u - t_u)^2
 *              for a fixed target t_u = S + 0.1 (u / (U - 1) - 0.5), after
 *              an optional sleep, so that tests exercise the whole search
 *              in milliseconds per candidate.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "front.h"
#include "interp.h"
#include "search.h"
#include "search_worker.h"

/* ---- Compiling ---- */

/* Parse, check, lower and compile src; NULL with the reason in *why. */
static struct alc_compiled *compile_src(const char *src, enum alc_backend be,
                                        struct alc_task_result *r)
{
    struct alc_arena a;
    struct alc_ir ir;
    struct alc_diag d;
    struct alc_compiled *c = NULL;
    double t0 = alc_now();
    alc_arena_init(&a, 0);
    alc_ir_init(&ir);
    alc_diag_init(&d);
    struct alc_program *p = alc_front_load(&a, "<candidate>", src,
                                           strlen(src), &d);
    if (p != NULL && alc_lower(p, &ir, &d) == 0) {
        c = alc_compile(&ir, be, &d);
    }
    if (c == NULL) {
        r->reject = ALC_REJ_COMPILE;
        r->why = strdup(d.n_err > 0 ? d.first : "compile failed");
    } else {
        r->compile_cached = alc_compiled_cache_hit(c);
    }
    r->t_compile = alc_now() - t0;
    alc_diag_free(&d);
    alc_ir_free(&ir);
    alc_arena_free(&a);
    return c;
}

/* ---- Validity of ratios (the synthetic worker's; sessions have their
 * own, with the same classes) ---- */

enum alc_reject alc_search_ratio_reject(const double *ratio, int n)
{
    int nan = 0, bad = 0;
    for (int u = 0; u < n; u++) {
        nan += isnan(ratio[u]);
        bad += !(ratio[u] >= 0.0 && ratio[u] < 1.0);
    }
    return nan > 0 ? ALC_REJ_NAN : (bad > 0 ? ALC_REJ_RANGE : ALC_REJ_NONE);
}

static char *bad_units(const double *ratio, int n, const struct alc_ir *ir,
                       const double *nodes, const struct alc_units *units)
{
    struct alc_sb sb;
    int shown = 0;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "invalid allocation: sparsity must be in [0, 1) for "
                     "every unit, but ");
    for (int u = 0; u < n; u++) {
        if (ratio[u] >= 0.0 && ratio[u] < 1.0) {
            continue;
        }
        if (shown++ < 8 && isnan(ratio[u])) {
            alc_sb_printf(&sb, "%sunit %d = NaN", shown > 1 ? ", " : "", u);
        } else if (shown <= 8) {
            alc_sb_printf(&sb, "%sunit %d = %.6g", shown > 1 ? ", " : "", u,
                          ratio[u]);
        }
    }
    if (nodes != NULL) {
        struct alc_sb ex;
        alc_sb_init(&ex);
        alc_explain(ir, nodes, n, units, &ex);
        if (ex.len > 0) {
            alc_sb_printf(&sb, "\nwhere the NaN / inf came from:\n%s", ex.s);
        }
        alc_sb_free(&ex);
    }
    while (sb.len > 0 && sb.s[sb.len - 1] == '\n') {
        sb.s[--sb.len] = '\0';
    }
    return alc_sb_take(&sb);
}

/* ---- Synthetic units ---- */

#define SYN_U 8
#define SYN_MATS 3
#define SYN_COLS 24

struct syn {
    float *w[SYN_U][SYN_MATS];   /* (rows, SYN_COLS) F32 */
    float *act[SYN_U][SYN_MATS]; /* (SYN_COLS) */
    struct alc_mat_view mats[SYN_U][SYN_MATS];
    struct alc_unit_view units[SYN_U];
    struct alc_units view;
    char names[SYN_U][16];
};

static void syn_free(struct syn *s)
{
    for (int u = 0; s != NULL && u < SYN_U; u++) {
        for (int m = 0; m < SYN_MATS; m++) {
            free(s->w[u][m]);
            free(s->act[u][m]);
        }
    }
    free(s);
}

/* Unit u: rows 16 + 4 u, weights N(0, 0.02) with every 7th weight of
 * units 0, 3 and 6 scaled by 20 (outliers), act_j in (0.5, 1.5 + u). */
static int syn_fill(struct syn *s, int u, struct alc_rng *rng)
{
    int rows = 16 + 4 * u;
    for (int m = 0; m < SYN_MATS; m++) {
        float *w = malloc((size_t)rows * SYN_COLS * sizeof *w);
        float *a = malloc(SYN_COLS * sizeof *a);
        s->w[u][m] = w;
        s->act[u][m] = a;
        if (w == NULL || a == NULL) {
            return -1;
        }
        for (int i = 0; i < rows * SYN_COLS; i++) {
            double x = 0.02 * alc_rng_normal(rng);
            w[i] = (float)(u % 3 == 0 && i % 7 == 0 ? 20.0 * x : x);
        }
        for (int j = 0; j < SYN_COLS; j++) {
            a[j] = (float)(0.5 + alc_rng_double(rng) * (1.0 + u));
        }
        struct alc_mat_view *v = &s->mats[u][m];
        v->w = w;
        v->dtype = ALC_DT_F32;
        v->rows = rows;
        v->cols = SYN_COLS;
        v->act = a;
        v->alpha_peak = 2.0 + 0.25 * u + 0.1 * m;
        v->alpha_hill = 3.0 - 0.125 * u + 0.1 * m;
        v->name = NULL;
    }
    snprintf(s->names[u], sizeof s->names[u], "unit %d", u);
    s->units[u].mats = s->mats[u];
    s->units[u].n_mats = SYN_MATS;
    s->units[u].block = u;
    s->units[u].name = s->names[u];
    return 0;
}

static struct syn *syn_new(void)
{
    struct syn *s = calloc(1, sizeof *s);
    struct alc_rng rng;
    if (s == NULL) {
        return NULL;
    }
    alc_rng_seed(&rng, 20240607);
    for (int u = 0; u < SYN_U; u++) {
        if (syn_fill(s, u, &rng) != 0) {
            syn_free(s);
            return NULL;
        }
    }
    s->view.units = s->units;
    s->view.n_units = SYN_U;
    return s;
}

static int syn_alloc(struct alc_search_worker *w, struct alc_compiled *c,
                     struct alc_task_result *r, struct alc_diag *d)
{
    const struct alc_ir *ir = alc_compiled_ir(c);
    double *nodes = malloc((size_t)ir->n_nodes * SYN_U * sizeof *nodes + 1);
    r->ratio = calloc(SYN_U, sizeof *r->ratio);
    if (nodes == NULL || r->ratio == NULL) {
        free(nodes);
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    struct alc_eval_opts eo = {w->f.S, NULL, 1};
    struct alc_eval_out out = {r->ratio, NULL, nodes, 0.0};
    double t0 = alc_now();
    int rc = alc_evaluate(c, &w->syn->view, &eo, &out, d);
    r->t_alloc = alc_now() - t0;
    if (rc == 0) {
        r->n_units = SYN_U;
        r->reject = alc_search_ratio_reject(r->ratio, SYN_U);
        if (r->reject != ALC_REJ_NONE) {
            r->why = bad_units(r->ratio, SYN_U, ir, nodes, &w->syn->view);
            free(r->ratio);
            r->ratio = NULL;
            r->n_units = 0;
        }
    }
    free(nodes);
    return rc;
}

static void sleep_s(double s)
{
    struct timespec ts;
    if (s <= 0.0) {
        return;
    }
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static int syn_eval(struct alc_search_worker *w, const struct alc_task *t,
                    struct alc_task_result *r)
{
    double t0 = alc_now(), sum = 0.0;
    sleep_s(w->f.synthetic_delay);
    for (int u = 0; u < t->n_units; u++) {
        double target = w->f.S + 0.1 * ((double)u / (t->n_units - 1) - 0.5);
        double e = t->ratio[u] - target;
        sum += e * e;
    }
    r->fitness = 10.0 + 1000.0 * sum / t->n_units;
    r->t_eval = alc_now() - t0;
    return 0;
}

/* ---- The worker ---- */

int alc_search_worker_open(struct alc_search_worker **out,
                           const struct alc_search_fitness *f,
                           struct alc_diag *d)
{
    struct alc_search_worker *w = calloc(1, sizeof *w);
    *out = NULL;
    if (w == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    w->f = *f;
    w->dense_ppl = NAN;
    w->be = f->backend != NULL && strcmp(f->backend, "interp") == 0
                ? ALC_BE_INTERP
                : ALC_BE_LLVM;
    if (f->synthetic) {
        w->syn = syn_new();
        if (w->syn == NULL) {
            alc_diag_errorf(d, "out of memory");
            free(w);
            return -1;
        }
        w->dense_ppl = f->dense ? 10.0 : NAN; /* the target's fitness */
    } else if (alc_search_session_open(w, d) != 0) {
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void alc_search_worker_close(struct alc_search_worker *w)
{
    if (w == NULL) {
        return;
    }
    syn_free(w->syn);
    alc_search_session_close(w);
    free(w);
}

static int run_alloc(struct alc_search_worker *w, const struct alc_task *t,
                     struct alc_task_result *r, struct alc_diag *d)
{
    struct alc_compiled *c = compile_src(t->src, w->be, r);
    int rc = 0;
    if (c == NULL) {
        return 0; /* the candidate's fault: r->reject says so */
    }
    if (w->syn != NULL) {
        rc = syn_alloc(w, c, r, d);
    } else {
        rc = alc_search_session_alloc(w, c, r, d);
    }
    alc_compiled_free(c);
    return rc;
}

int alc_search_worker_run(struct alc_search_worker *w,
                          const struct alc_task *t, struct alc_task_result *r,
                          struct alc_diag *d)
{
    memset(r, 0, sizeof *r);
    r->kind = t->kind;
    r->id = t->id;
    r->fitness = NAN;
    if (t->kind == ALC_TASK_ALLOC) {
        return run_alloc(w, t, r, d);
    }
    if (t->ratio == NULL || t->n_units != alc_search_worker_units(w)) {
        alc_diag_errorf(d, "search: candidate %lld has %d ratios for %d "
                           "units", (long long)t->id, t->n_units,
                        alc_search_worker_units(w));
        return -1;
    }
    if (w->syn != NULL) {
        return syn_eval(w, t, r);
    }
    return alc_search_session_eval(w, t, r, d);
}

int alc_search_worker_units(const struct alc_search_worker *w)
{
    return w->syn != NULL ? SYN_U : alc_search_session_units(w);
}

const char *alc_search_worker_unit_name(const struct alc_search_worker *w,
                                        int u)
{
    if (w->syn != NULL) {
        return u >= 0 && u < SYN_U ? w->syn->names[u] : "?";
    }
    return alc_search_session_unit_name(w, u);
}

void alc_search_worker_describe(const struct alc_search_worker *w,
                                struct alc_sb *out)
{
    if (w->syn != NULL) {
        alc_sb_printf(out, "synthetic (%d units of %d random matrices; "
                           "fitness 10 + 1000 mean (r - t)^2)",
                      SYN_U, SYN_MATS);
        return;
    }
    alc_search_session_describe(w, out);
}

double alc_search_worker_dense_ppl(const struct alc_search_worker *w)
{
    return w->dense_ppl;
}
