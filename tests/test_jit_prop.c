/*
 * test_jit_prop.c: the LLVM backend against the reference interpreter on
 * every stdlib allocation and on 5000 random well-levelled programs over
 * the full op table (alc_ast_random), over random units of F32, F16 and
 * BF16 weights with zeros, negatives, subnormals, NaN and Inf (and act
 * vectors with some too), small chunks so that every case combines partial
 * results, 1 and 2 threads.
 *
 * Tolerance. A value agrees when both are NaN, or both are the same
 * infinity, or |jit - ref| <= 1e-6 max(|jit|, |ref|); integer-valued nodes
 * (count, comparisons, logic, rank: ALC_OPF_INTEGRAL) must be equal.
 *
 * Procedure for one case (alc_jit_eval hooks, jit.h):
 *  1. Pass by pass, given identical inputs: the JIT runs with every
 *     element reduction replaced by the interpreter's value after each pass
 *     ("injection"), recording its own values. Its layer/model nodes must
 *     then equal the interpreter's bit for bit (the host stages use the
 *     interpreter's own functions), and each element reduction must agree
 *     -- or be ill-conditioned in itself:
 *       cancellation: |jit - ref| <= 1e-12 * scale, the scale being what a
 *         summation in another order can lose (sum: sum|x|; mean: mean|x|;
 *         var: mean|x|^2; std: mean|x|; entropy: 1 + |log sum(x >= 0)|,
 *         computed by the interpreter on an auxiliary program); n * eps is
 *         below 1e-12 for the test's unit sizes;
 *       overflow: finiteness differs and sum|x| or sum x^2 overflows, so
 *         the result depends on the order of the sum.
 *     A reduction that still disagrees is re-run in libm mode (log/exp
 *     through ops.c, the interpreter's functions): if that agrees and a
 *     4.5-ulp perturbation of each log/exp result (libm mode, perturb
 *     1e-15) alone moves it beyond the tolerance, the case is
 *     ill-conditioned at element level; otherwise it fails.
 *  2. End to end: every layer/model node of a plain JIT run must agree. If
 *     one does not, the case is ill-conditioned at layer/model level when
 *     multiplying every element reduction by (1 +- 1e-12) alone moves that
 *     node beyond the tolerance, or when step 1 needed the cancellation or
 *     overflow allowance; otherwise it fails.
 *  3. 1 and 2 threads give identical bits.
 * The counts of each class are printed.
 */
#include <dirent.h>

#include "alc_test.h"
#include "backend.h"
#include "front.h"
#include "jit.h"
#include "unit_fixture.h"

#ifndef N_RANDOM
#define N_RANDOM 5000
#endif
#ifndef N_LOGW
#define N_LOGW 1000
#endif
#define BATCH 25
#define TOL 1e-6

/* ---- Agreement ---- */

static int close_enough(double a, double b, int integral)
{
    if (isnan(a) || isnan(b)) {
        return isnan(a) && isnan(b);
    }
    if (isinf(a) || isinf(b) || integral) {
        return a == b;
    }
    return fabs(a - b) <= TOL * fmax(fabs(a), fabs(b));
}

static int is_integral(const struct alc_ir *ir, int i)
{
    return (alc_op_table[ir->nodes[i].op].flags & ALC_OPF_INTEGRAL) != 0;
}

static int is_elem_red(const struct alc_ir *ir, int i)
{
    const struct alc_ir_node *n = &ir->nodes[i];
    return alc_op_table[n->op].kind == ALC_OPK_REDUCE &&
           ir->nodes[n->arg[0]].level == ALC_LV_ELEM;
}

/* ---- Cases ---- */

enum klass {
    K_PASS,       /* agrees */
    K_PASS_ALLOW, /* agrees given the cancellation/overflow allowance */
    K_ILL_HOST,   /* outputs sensitive to 1e-12 changes of reductions */
    K_ILL_CANCEL, /* a reduction ill-conditioned in itself, propagated */
    K_ILL_ELEM,   /* log/exp ulps amplified within the element code */
    K_COUNT
};

static const char *const klass_name[K_COUNT] = {
    "agree",
    "agree within the cancellation/overflow allowance",
    "ill-conditioned at layer/model level",
    "ill-conditioned reduction (cancellation/overflow) propagated",
    "ill-conditioned at element level (log/exp ulps amplified)",
};

struct pcase {
    char *src;            /* program text, for failure messages */
    const char *name;     /* "stdlib/owl.alloc" or "random 123" */
    struct alc_ir ir;     /* lowered */
    struct alc_jit *jit;  /* vector mode */
    struct alc_jit *gjit; /* ALC_JIT_LOGW_GATHER, or NULL: must give the
                             same bits as ejit */
    struct alc_jit *ejit; /* ALC_JIT_LOGW_EXACT (jit without the float
                             moments), with gjit */
    struct fx_units units;
    uint64_t seed;
    double S;
    double *params; /* (n_params) or NULL */
    int max_cols;   /* of the random units: 40; 200 for the logs by table
                       (blocks of 64 columns) */
};

struct stats {
    int n[K_COUNT];
    int cases;
    int verbose; /* print each case that is not K_PASS */
};

/* Everything the evaluations of one case need, sized for its IR. */
struct evals {
    int N, L;
    double *ref, *ref_sp;     /* interpreter: nodes, sparsity */
    double *nodes, *sp, *red; /* a JIT run */
    double *nodes2, *sp2, *red2;
};

static void evals_init(struct evals *e, const struct alc_ir *ir, int L)
{
    size_t nl = (size_t)ir->n_nodes * (size_t)L;
    e->N = ir->n_nodes;
    e->L = L;
    e->ref = calloc(nl, sizeof(double));
    e->nodes = calloc(nl, sizeof(double));
    e->red = calloc(nl, sizeof(double));
    e->nodes2 = calloc(nl, sizeof(double));
    e->red2 = calloc(nl, sizeof(double));
    e->ref_sp = calloc((size_t)L, sizeof(double));
    e->sp = calloc((size_t)L, sizeof(double));
    e->sp2 = calloc((size_t)L, sizeof(double));
}

static void evals_free(struct evals *e)
{
    free(e->ref);
    free(e->nodes);
    free(e->red);
    free(e->nodes2);
    free(e->red2);
    free(e->ref_sp);
    free(e->sp);
    free(e->sp2);
}

static void jit_run(struct pcase *c, struct alc_jit *j, int threads,
                    const struct alc_jit_eval *hooks, double *sp, double *nodes)
{
    struct alc_diag d;
    struct alc_eval_opts o = {c->S, c->params, threads};
    struct alc_eval_out out = {.sparsity = sp, .nodes = nodes};
    alc_diag_init(&d);
    if (alc_jit_evaluate(j, &c->units.units, &o, hooks, &out, &d) != 0) {
        fail_msg("%s: jit: %s\n%s", c->name, alc_diag_text(&d), c->src);
    }
    alc_diag_free(&d);
}

static struct alc_jit *compile_mode(struct pcase *c, int libm, double perturb)
{
    struct alc_diag d;
    struct alc_jit_opts o = {.libm = libm, .perturb = perturb, .chunk = 64};
    alc_diag_init(&d);
    struct alc_jit *j = alc_jit_compile(&c->ir, &o, &d);
    if (j == NULL) {
        fail_msg("%s: compile: %s\n%s", c->name, alc_diag_text(&d), c->src);
    }
    alc_diag_free(&d);
    return j;
}

/* ---- Conditioning of one element reduction ---- */

/* Interpreter values (unit-wise) of aux(x) for reduction node r, where
 * aux is one of: l1, meanabs, l2, log of the non-negative part's sum. */
static void aux_values(struct pcase *c, const struct alc_ir *cir, int r,
                       enum alc_op aux, int logpos, double *out)
{
    struct alc_ir ir;
    struct alc_span sp = {0, 0, 0};
    int L = c->units.units.n_units;
    assert_int_equal(alc_ir_compact(cir, &ir), 0);
    int x = ir.nodes[r].arg[0];
    if (logpos) { /* log(sum(where(x >= 0, x, 0))) */
        int zero = alc_ir_const(&ir, 0.0, sp);
        int ge[2] = {x, zero};
        int g = alc_ir_op(&ir, ALC_OP_GE, 2, ge, sp);
        int w[3] = {g, x, zero};
        x = alc_ir_op(&ir, ALC_OP_WHERE, 3, w, sp);
    }
    int s = alc_ir_op(&ir, aux, 1, &x, sp);
    if (logpos) {
        s = alc_ir_op(&ir, ALC_OP_LOG, 1, &s, sp);
    }
    ir.sparsity = s;
    ir.score = -1;
    struct alc_ir cc;
    assert_int_equal(alc_ir_compact(&ir, &cc), 0);
    double *nodes = calloc((size_t)cc.n_nodes * (size_t)L, sizeof *nodes);
    fx_interp_eval(&cc, &c->units.units, c->S, c->params, out, nodes);
    free(nodes);
    alc_ir_free(&cc);
    alc_ir_free(&ir);
}

/* Does reduction r (unit u) agree within the cancellation or overflow
 * allowance? (Step 1 of the header.) */
static int allowed(struct pcase *c, const struct alc_ir *ir, int r, int u,
                   double got, double want)
{
    enum alc_op op = ir->nodes[r].op;
    int L = c->units.units.n_units;
    double *v = calloc((size_t)L, sizeof *v);
    double *w = calloc((size_t)L, sizeof *w);
    int ok = 0;
    /* overflow: finiteness differs and sum|x| or sum x^2 overflows */
    if (!!isfinite(got) != !!isfinite(want)) {
        aux_values(c, ir, r, ALC_OP_L1, 0, v);
        aux_values(c, ir, r, ALC_OP_L2, 0, w);
        ok = isinf(v[u]) || isinf(w[u]) || isnan(v[u]) || isnan(w[u]);
        goto done;
    }
    double scale = NAN;
    switch (op) {
    case ALC_OP_SUM:
        aux_values(c, ir, r, ALC_OP_L1, 0, v);
        scale = v[u];
        break;
    case ALC_OP_MEAN:
    case ALC_OP_STD:
        aux_values(c, ir, r, ALC_OP_MEANABS, 0, v);
        scale = v[u];
        break;
    case ALC_OP_VAR:
        aux_values(c, ir, r, ALC_OP_MEANABS, 0, v);
        scale = v[u] * v[u];
        break;
    case ALC_OP_ENTROPY:
        aux_values(c, ir, r, ALC_OP_SUM, 1, v);
        scale = 100.0 * (1.0 + fabs(v[u]));
        break;
    default:
        break;
    }
    ok = isfinite(got) && isfinite(want) && fabs(got - want) <= 1e-12 * scale;
done:
    free(v);
    free(w);
    return ok;
}

/* ---- Step 1: pass by pass ---- */

/* Host nodes computed from injected reductions equal the interpreter's. */
static void check_host_exact(struct pcase *c, const struct alc_ir *ir,
                             const struct evals *e)
{
    for (int i = 0; i < e->N; i++) {
        if (ir->nodes[i].level == ALC_LV_ELEM || is_elem_red(ir, i)) {
            continue;
        }
        for (int u = 0; u < e->L; u++) {
            double a = e->nodes[(size_t)i * e->L + u];
            double b = e->ref[(size_t)i * e->L + u];
            if (!(isnan(a) && isnan(b)) && memcmp(&a, &b, sizeof a) != 0) {
                fail_msg("%s: host node %%%d (%s) unit %d: %.17g vs "
                         "interpreter %.17g\n%s",
                         c->name, i, alc_op_table[ir->nodes[i].op].name, u, a,
                         b, c->src);
            }
        }
    }
}

/* Reductions of red[] that disagree with ref[] beyond the tolerance and
 * the allowance: marks bad[i * L + u]; returns how many; *used_allow set
 * when the allowance was needed. */
static int bad_reductions(struct pcase *c, const struct alc_ir *ir,
                          const double *red, const double *ref,
                          unsigned char *bad, int *used_allow)
{
    int L = c->units.units.n_units, n_bad = 0;
    for (int i = 0; i < ir->n_nodes; i++) {
        if (!is_elem_red(ir, i)) {
            continue;
        }
        for (int u = 0; u < L; u++) {
            size_t at = (size_t)i * L + u;
            bad[at] = 0;
            if (close_enough(red[at], ref[at], is_integral(ir, i))) {
                continue;
            }
            if (!is_integral(ir, i) && allowed(c, ir, i, u, red[at], ref[at])) {
                *used_allow = 1;
                continue;
            }
            bad[at] = 1;
            n_bad++;
        }
    }
    return n_bad;
}

static void fail_reduction(struct pcase *c, const struct alc_ir *ir,
                           const unsigned char *bad, const double *red,
                           const double *ref, const char *why)
{
    int L = c->units.units.n_units;
    for (size_t at = 0; at < (size_t)ir->n_nodes * L; at++) {
        if (bad[at]) {
            int i = (int)(at / (size_t)L), u = (int)(at % (size_t)L);
            fail_msg("%s: %s: reduction %%%d (%s) unit %d: jit %.17g "
                     "interpreter %.17g\n%s",
                     c->name, why, i, alc_op_table[ir->nodes[i].op].name, u,
                     red[at], ref[at], c->src);
        }
    }
}

/* Bad reductions re-checked in libm mode; returns K_ILL_ELEM or fails. */
static enum klass elem_level(struct pcase *c, const struct alc_ir *ir,
                             struct evals *e, unsigned char *bad)
{
    struct alc_jit_eval hk = {.inject = e->ref, .red_out = e->red2};
    struct alc_jit *lj = compile_mode(c, 1, 0.0);
    struct alc_jit *pj = compile_mode(c, 1, 1e-15);
    int dummy = 0, L = e->L;
    jit_run(c, lj, 2, &hk, e->sp2, e->nodes2);
    unsigned char *bad2 = calloc((size_t)e->N * L, 1);
    if (bad_reductions(c, ir, e->red2, e->ref, bad2, &dummy) != 0) {
        fail_reduction(c, ir, bad2, e->red2, e->ref, "libm mode");
    }
    /* sensitivity of the libm-mode values to a 4.5-ulp log/exp change */
    double *red3 = calloc((size_t)e->N * L, sizeof *red3);
    hk.red_out = red3;
    jit_run(c, pj, 2, &hk, e->sp2, e->nodes2);
    for (size_t at = 0; at < (size_t)e->N * L; at++) {
        int i = (int)(at / (size_t)L);
        if (bad[at] &&
            close_enough(red3[at], e->red2[at], is_integral(ir, i))) {
            fail_reduction(c, ir, bad, e->red, e->ref,
                           "well-conditioned, vector log/exp differ");
        }
    }
    free(red3);
    free(bad2);
    alc_jit_free(lj);
    alc_jit_free(pj);
    return K_ILL_ELEM;
}

/* ---- Step 2: end to end ---- */

/* Nodes of nodes[] that disagree with ref[]: marks them; returns count. */
static int bad_nodes(const struct alc_ir *ir, const double *nodes,
                     const double *ref, int L, unsigned char *bad)
{
    int n = 0;
    for (int i = 0; i < ir->n_nodes; i++) {
        for (int u = 0; u < L; u++) {
            size_t at = (size_t)i * L + u;
            bad[at] = ir->nodes[i].level != ALC_LV_ELEM &&
                      !close_enough(nodes[at], ref[at], is_integral(ir, i));
            n += bad[at];
        }
    }
    return n;
}

static enum klass end_to_end(struct pcase *c, const struct alc_ir *ir,
                             struct evals *e, int used_allow)
{
    int L = e->L;
    unsigned char *bad = calloc((size_t)e->N * L, 1);
    enum klass k = used_allow ? K_PASS_ALLOW : K_PASS;
    jit_run(c, c->jit, 2, NULL, e->sp, e->nodes);
    if (bad_nodes(ir, e->nodes, e->ref, L, bad) == 0) {
        goto done;
    }
    int sensitive = 0;
    for (int sgn = -1; sgn <= 1 && !sensitive; sgn += 2) {
        struct alc_jit_eval hk = {.perturb_red = sgn * 1e-12};
        jit_run(c, c->jit, 2, &hk, e->sp2, e->nodes2);
        for (size_t at = 0; at < (size_t)e->N * L; at++) {
            int i = (int)(at / (size_t)L);
            sensitive |= bad[at] && !close_enough(e->nodes2[at], e->nodes[at],
                                                  is_integral(ir, i));
        }
    }
    for (size_t at = 0; at < (size_t)e->N * L && getenv("ALC_PROP_VERBOSE");
         at++) {
        if (bad[at]) {
            int i = (int)(at / (size_t)L);
            print_message("%s: node %%%d (%s) unit %d: jit %.17g interp "
                          "%.17g (sensitive %d allow %d)\n",
                          c->name, i, alc_op_table[ir->nodes[i].op].name,
                          (int)(at % (size_t)L), e->nodes[at], e->ref[at],
                          sensitive, used_allow);
        }
    }
    if (sensitive) {
        k = K_ILL_HOST;
    } else if (used_allow) {
        k = K_ILL_CANCEL;
    } else {
        for (size_t at = 0; at < (size_t)e->N * L; at++) {
            if (bad[at]) {
                int i = (int)(at / (size_t)L);
                fail_msg("%s: node %%%d (%s) unit %d: jit %.17g interpreter "
                         "%.17g, not ill-conditioned\n%s",
                         c->name, i, alc_op_table[ir->nodes[i].op].name,
                         (int)(at % (size_t)L), e->nodes[at], e->ref[at],
                         c->src);
            }
        }
    }
done:
    free(bad);
    return k;
}

/* ---- One case ---- */

static enum klass run_case(struct pcase *c)
{
    const struct alc_ir *ir = alc_jit_ir(c->jit);
    int L = c->units.units.n_units, used_allow = 0;
    struct evals e;
    enum klass k;
    evals_init(&e, ir, L);
    fx_interp_eval(ir, &c->units.units, c->S, c->params, e.ref_sp, e.ref);
    /* step 1 */
    struct alc_jit_eval hk = {.inject = e.ref, .red_out = e.red};
    jit_run(c, c->jit, 2, &hk, e.sp, e.nodes);
    check_host_exact(c, ir, &e);
    unsigned char *bad = calloc((size_t)e.N * L, 1);
    if (bad_reductions(c, ir, e.red, e.ref, bad, &used_allow) != 0) {
        k = elem_level(c, ir, &e, bad);
    } else {
        k = end_to_end(c, ir, &e, used_allow); /* step 2 */
    }
    /* step 3: 1 thread, same bits as 2 (and as the gathers only) */
    jit_run(c, c->jit, 2, NULL, e.sp, e.nodes);
    jit_run(c, c->jit, 1, NULL, e.sp2, e.nodes2);
    if (memcmp(e.nodes, e.nodes2, (size_t)e.N * L * sizeof(double)) != 0 ||
        memcmp(e.sp, e.sp2, (size_t)L * sizeof(double)) != 0) {
        fail_msg("%s: 1 and 2 threads differ\n%s", c->name, c->src);
    }
    if (c->gjit != NULL) {
        jit_run(c, c->ejit, 2, NULL, e.sp, e.nodes);
        jit_run(c, c->gjit, 2, NULL, e.sp2, e.nodes2);
        if (memcmp(e.nodes, e.nodes2, (size_t)e.N * L * sizeof(double)) != 0) {
            fail_msg("%s: gathers and registers differ\n%s", c->name, c->src);
        }
    }
    free(bad);
    evals_free(&e);
    return k;
}

/* ---- Building cases ---- */

static void case_units(struct pcase *c, int dtype)
{
    struct alc_rng r;
    alc_rng_seed(&r, c->seed * 7919 + 13);
    int n_units = 2 + (int)alc_rng_below(&r, 4);
    int mats = 1 + (int)alc_rng_below(&r, 3);
    fx_units_make(&c->units, &r, n_units, mats, 6,
                  c->max_cols > 0 ? c->max_cols : 40, dtype, 0.03);
    c->S = 0.3 + 0.5 * alc_rng_double(&r);
    if (c->ir.n_params > 0 && alc_rng_below(&r, 2)) {
        c->params = calloc((size_t)c->ir.n_params, sizeof *c->params);
        for (int i = 0; i < c->ir.n_params; i++) {
            const struct alc_ir_param *p = &c->ir.params[i];
            c->params[i] = p->lo + (p->hi - p->lo) * alc_rng_double(&r);
        }
    }
}

static void case_free(struct pcase *c)
{
    alc_jit_free(c->jit);
    alc_jit_free(c->gjit);
    alc_jit_free(c->ejit);
    alc_ir_free(&c->ir);
    fx_units_free(&c->units);
    free(c->params);
    free(c->src);
    memset(c, 0, sizeof *c);
}

/* Lowers src into c->ir. */
static void case_load(struct pcase *c, const char *name, const char *src)
{
    struct alc_arena a;
    struct alc_diag d;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    c->name = name;
    c->src = strdup(src);
    alc_ir_init(&c->ir);
    struct alc_program *p = alc_front_load(&a, name, src, strlen(src), &d);
    if (p == NULL || alc_lower(p, &c->ir, &d) != 0) {
        fail_msg("%s does not compile:\n%s\n%s", name, alc_diag_text(&d), src);
    }
    alc_arena_free(&a);
    alc_diag_free(&d);
}

/* Compiles cases c[0 .. n) in one module, then runs them; gather: also
 * with ALC_JIT_LOGW_GATHER and _EXACT, compared bit for bit. */
static void run_batch(struct pcase *c, int n, int dtype, int unroll, int gather,
                      struct stats *st)
{
    const struct alc_ir *irs[BATCH];
    struct alc_jit *js[BATCH], *gs[BATCH], *es[BATCH];
    struct alc_diag d;
    struct alc_jit_opts o = {.unroll = unroll, .chunk = 64};
    o.dtypes = dtype < 0 ? 0 : 1u << dtype;
    alc_diag_init(&d);
    for (int i = 0; i < n; i++) {
        irs[i] = &c[i].ir;
        gs[i] = es[i] = NULL;
    }
    if (alc_jit_compile_batch(irs, n, &o, js, &d) != 0) {
        fail_msg("batch compile: %s", alc_diag_text(&d));
    }
    o.logw = ALC_JIT_LOGW_GATHER;
    if (gather && alc_jit_compile_batch(irs, n, &o, gs, &d) != 0) {
        fail_msg("batch compile: %s", alc_diag_text(&d));
    }
    o.logw = ALC_JIT_LOGW_EXACT;
    if (gather && alc_jit_compile_batch(irs, n, &o, es, &d) != 0) {
        fail_msg("batch compile: %s", alc_diag_text(&d));
    }
    for (int i = 0; i < n; i++) {
        c[i].jit = js[i];
        c[i].gjit = gs[i];
        c[i].ejit = es[i];
        case_units(&c[i], dtype);
        enum klass k = run_case(&c[i]);
        if (k > K_PASS_ALLOW && (st->verbose || getenv("ALC_PROP_VERBOSE"))) {
            print_message("  %s (dtype %d): %s\n", c[i].name, dtype,
                          klass_name[k]);
        }
        st->n[k]++;
        st->cases++;
    }
    alc_diag_free(&d);
}

static void print_stats(const char *what, const struct stats *st)
{
    print_message("%s: %d cases\n", what, st->cases);
    for (int k = 0; k < K_COUNT; k++) {
        print_message("  %5d %s\n", st->n[k], klass_name[k]);
    }
}

/* ---- Random programs around the logs by table ---- */

/*
 * The random generator rarely builds log(wanda), log|w| or log through
 * where/abs (about 190 of the 5000 programs above read a table, with
 * narrow units), so these programs are built around them: a reduction of
 * log(X), geomean(X) or entropy(X) with X from the grammar of
 * jit_codegen.c's "Logs by table" (leaves wanda, weight, act; abs, abs of
 * a negation, where with a per-unit branch -- constants, a param, layer
 * values -- and the zero tests where(X == 0, K, X), where(X != 0, X, K)),
 * plus a second reduction of an arbitrary log form, over units up to 200
 * columns wide with specials.
 */
static const char *pick(struct alc_rng *r, const char *const *v, size_t n)
{
    return v[alc_rng_below(r, n)];
}

#define PICK(r, v) pick(r, v, sizeof v / sizeof v[0])

static void gen_k(struct alc_rng *r, struct alc_sb *sb)
{
    static const char *const k[] = {
        "0",     "1",         "2.5",
        "0.001", "1e30",      "-1",
        "p",     "mean(act)", "max(abs(weight))",
    };
    alc_sb_puts(sb, PICK(r, k));
}

static void gen_x(struct alc_rng *r, int depth, struct alc_sb *sb)
{
    static const char *const leaf[] = {"wanda", "wanda", "weight", "weight",
                                       "act"};
    static const char *const cond[] = {
        "weight > 0.01", "act < 1.5",       "wanda >= 0.1", "isnan(weight)",
        "weight < 0",    "act > mean(act)", "isinf(wanda)",
    };
    struct alc_sb y;
    int k = depth >= 3 ? 0 : (int)alc_rng_below(r, 7);
    switch (k) {
    case 0:
        alc_sb_puts(sb, PICK(r, leaf));
        return;
    case 1:
    case 2:
        alc_sb_puts(sb, k == 1 ? "abs(" : "abs(-");
        gen_x(r, depth + 1, sb);
        alc_sb_puts(sb, ")");
        return;
    case 3:
    case 4:
        alc_sb_printf(sb, "where(%s, ", PICK(r, cond));
        if (k == 3) {
            gen_x(r, depth + 1, sb);
            alc_sb_puts(sb, ", ");
            gen_k(r, sb);
        } else {
            gen_k(r, sb);
            alc_sb_puts(sb, ", ");
            gen_x(r, depth + 1, sb);
        }
        alc_sb_puts(sb, ")");
        return;
    default: /* zero tests of the branch itself */
        alc_sb_init(&y);
        gen_x(r, depth + 1, &y);
        if (k == 5) {
            alc_sb_printf(sb, "where(%s == 0, ", alc_sb_str(&y));
            gen_k(r, sb);
            alc_sb_printf(sb, ", %s)", alc_sb_str(&y));
        } else {
            alc_sb_printf(sb, "where(%s != 0, %s, ", alc_sb_str(&y),
                          alc_sb_str(&y));
            gen_k(r, sb);
            alc_sb_puts(sb, ")");
        }
        alc_sb_free(&y);
        return;
    }
}

/* One layer-level use of a log form. */
static void gen_use(struct alc_rng *r, struct alc_sb *sb)
{
    static const char *const red[] = {"var", "mean", "min",     "max",
                                      "std", "sum",  "quantile"};
    int k = (int)alc_rng_below(r, 10);
    if (k < 8) {
        const char *rd = PICK(r, red);
        alc_sb_printf(sb, "%s(log(", rd);
        gen_x(r, 0, sb);
        alc_sb_puts(sb, strcmp(rd, "quantile") == 0 ? "), 0.3)" : "))");
        return;
    }
    alc_sb_puts(sb, k == 8 ? "geomean(" : "entropy(");
    gen_x(r, 0, sb);
    alc_sb_puts(sb, ")");
}

static char *gen_logw_program(struct alc_rng *r)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "param p = 0.7 in [0.01, 3]\nlet r = ");
    gen_use(r, &sb);
    alc_sb_puts(&sb, " + ");
    gen_use(r, &sb);
    alc_sb_puts(&sb, "\nscore = r\nsparsity = S + 0.001 * p * r\n");
    char *s = strdup(alc_sb_str(&sb));
    alc_sb_free(&sb);
    return s;
}

/* ---- Tests ---- */

/* Every stdlib allocation, in each dtype and mixed. */
static void test_jit_prop_stdlib(void **state)
{
    struct stats st = {{0}, 0, 1};
    char path[1024];
    DIR *dir = opendir(ALC_SOURCE_DIR "/stdlib");
    struct dirent *de;
    int files = 0;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".alloc") != 0 ||
            strcmp(de->d_name, "prelude.alloc") == 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/stdlib/%s", ALC_SOURCE_DIR, de->d_name);
        char *src = NULL;
        size_t n = 0;
        struct alc_diag d;
        alc_diag_init(&d);
        assert_int_equal(alc_read_file(path, &src, &n, &d), 0);
        for (int dt = -1; dt < ALC_DT_COUNT; dt++) {
            for (int rep = 0; rep < 3; rep++) {
                struct pcase c;
                memset(&c, 0, sizeof c);
                c.seed = (uint64_t)(files * 100 + (dt + 1) * 10 + rep);
                case_load(&c, de->d_name, src);
                run_batch(&c, 1, dt, 1 << rep, 0, &st);
                case_free(&c);
            }
        }
        free(src);
        alc_diag_free(&d);
        files++;
    }
    closedir(dir);
    assert_true(files >= 5);
    print_stats("stdlib", &st);
    /* every case agrees or is classified (a failure stops the test);
     * the common ones must simply agree */
    assert_int_equal(st.cases, files * 12);
    assert_true(st.n[K_PASS] >= st.cases - 12);
}

/* 5000 random programs over the full op table. */
static void test_jit_prop_random(void **state)
{
    struct stats st = {{0}, 0, 0};
    struct alc_random_opts ro;
    struct pcase c[BATCH];
    alc_random_opts_default(&ro);
    for (int i = 0; i < ALC_OP_COUNT; i++) {
        if (alc_op_table[i].kind == ALC_OPK_MAP ||
            alc_op_table[i].kind == ALC_OPK_REDUCE ||
            alc_op_table[i].kind == ALC_OPK_ACROSS) {
            ro.ops |= 1ull << i;
        }
    }
    for (int b = 0; b < N_RANDOM / BATCH; b++) {
        for (int k = 0; k < BATCH; k++) {
            int i = b * BATCH + k;
            struct alc_arena a;
            struct alc_rng r;
            struct alc_sb sb;
            char *name = malloc(32);
            alc_arena_init(&a, 0);
            alc_rng_seed(&r, (uint64_t)i);
            struct alc_program *p = alc_ast_random(&a, &r, &ro);
            assert_non_null(p);
            p->prelude = NULL;
            alc_sb_init(&sb);
            alc_print_program(p, 0, &sb);
            snprintf(name, 32, "random %d", i);
            memset(&c[k], 0, sizeof c[k]);
            c[k].seed = (uint64_t)i;
            case_load(&c[k], name, alc_sb_str(&sb));
            alc_sb_free(&sb);
            alc_arena_free(&a);
        }
        /* dtype per batch: F32, F16, BF16, then mixed within units */
        run_batch(c, BATCH, b % 4 == 3 ? -1 : b % 4, 1 << (b % 3), 0, &st);
        for (int k = 0; k < BATCH; k++) {
            free((char *)c[k].name);
            case_free(&c[k]);
        }
    }
    print_stats("random programs", &st);
    assert_int_equal(st.cases, N_RANDOM);
}

/* N_LOGW random programs around the logs by table, over units up to 200
 * columns wide, cycling BF16, F16, mixed and F32 (where only act's logs
 * are tabled); registers and gathers must give the same bits. */
static void test_jit_prop_logw(void **state)
{
    struct stats st = {{0}, 0, 0};
    struct pcase c[BATCH];
    static const int dts[4] = {ALC_DT_BF16, ALC_DT_F16, -1, ALC_DT_F32};
    for (int b = 0; b < N_LOGW / BATCH; b++) {
        for (int k = 0; k < BATCH; k++) {
            int i = b * BATCH + k;
            struct alc_rng r;
            char *name = malloc(32);
            alc_rng_seed(&r, 0x106u * 1000003u + (uint64_t)i);
            char *src = gen_logw_program(&r);
            snprintf(name, 32, "logw %d", i);
            memset(&c[k], 0, sizeof c[k]);
            c[k].seed = (uint64_t)i + 77;
            c[k].max_cols = 200;
            case_load(&c[k], name, src);
            free(src);
        }
        run_batch(c, BATCH, dts[b % 4], 1 << (b % 3), 1, &st);
        for (int k = 0; k < BATCH; k++) {
            free((char *)c[k].name);
            case_free(&c[k]);
        }
    }
    print_stats("random programs around the logs by table", &st);
    assert_int_equal(st.cases, N_LOGW);
    /* classified cases are exceptions; most must simply agree */
    assert_true(st.n[K_PASS] + st.n[K_PASS_ALLOW] >= st.cases * 9 / 10);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jit_prop_stdlib),
        cmocka_unit_test(test_jit_prop_random),
        cmocka_unit_test(test_jit_prop_logw),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
