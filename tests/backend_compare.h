/*
 * backend_compare.h: programs for the backend tests (every stdlib file;
 * random programs from the front end's generator, printed and parsed back
 * so the prelude is attached) and the comparison of a backend's results
 * with the LLVM JIT's, the reference (test_cuda_emu.c, test_cuda_run.c).
 *
 * The comparison. Every layer- and model-level node of every unit (and
 * sparsity, score) of the backend must match the JIT's, which runs with
 * libm math (opts.libm = 1, exactly the interpreter's functions):
 *   - element reductions that are exact in any summation order (min, max,
 *     count, and sums/means of integer-valued operands) bit for bit;
 *   - every other value within a relative 1e-6 (assert_close: |a - b| <=
 *     1e-6 max(1, |a|, |b|)). The backends sum in different orders (JIT:
 *     chunks of whole rows and 8 lanes; GPU: tiles of 65536 elements and a
 *     256-thread tree), so sums differ by a few ulps of the sum of
 *     magnitudes: ~1e-13 relative for these data, far below 1e-6;
 *   - NaN where the JIT has NaN.
 * A value is compared only if it is well conditioned, i.e. it stays within
 * the tolerance of the JIT's when
 *   (a) the JIT runs again with every element reduction scaled by
 *       (1 +- 1e-9) before the host stages read it (perturb_red), which
 *       moves thresholds such as x > M * mean(x) inside later passes;
 *   (b) the JIT runs again with the log/exp family scaled by (1 +- 1e-9);
 *   (c) the host stages (alc_plan_execute) run again on the JIT's element
 *       reductions, each scaled by (1 + 1e-9 s) with a pseudo-random sign
 *       s per node and unit (two patterns), which breaks near-ties between
 *       units (rank) and between reductions (mean(x) < mean(y)) that a
 *       uniform scaling keeps.
 * A value downstream of such a discontinuity can jump by a whole element or
 * rank under a last-bit change of a sum; those are counted, not compared,
 * and a test requires most values compared.
 */
#ifndef ALC_BACKEND_COMPARE_H
#define ALC_BACKEND_COMPARE_H

#include <dirent.h>

#include "alc_test.h"
#include "backend.h"
#include "front.h"
#include "jit.h"
#include "plan.h"
#include "unit_fixture.h"

/* ---- Programs ---- */

/* Loads an .alloc file into ir (initialised here); fails the test. */
static inline void bc_load_file(const char *path, struct alc_ir *ir)
{
    struct alc_diag d;
    alc_diag_init(&d);
    alc_ir_init(ir);
    if (alc_front_compile_file(path, ir, &d) != 0) {
        fail_msg("%s: %s", path, alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* The stdlib programs (not the prelude), sorted; n returned; free each. */
static inline int bc_stdlib_files(char **paths, int max)
{
    char dir[4096];
    int n = 0;
    snprintf(dir, sizeof dir, "%s/stdlib", ALC_SOURCE_DIR);
    DIR *dh = opendir(dir);
    struct dirent *de;
    assert_non_null(dh);
    while ((de = readdir(dh)) != NULL && n < max) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".alloc") != 0 ||
            strcmp(de->d_name, "prelude.alloc") == 0) {
            continue;
        }
        paths[n++] = alc_path_join(dir, de->d_name);
    }
    closedir(dh);
    for (int i = 1; i < n; i++) { /* insertion sort: a fixed order */
        for (int j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
            char *t = paths[j];
            paths[j] = paths[j - 1];
            paths[j - 1] = t;
        }
    }
    return n;
}

/* Options of the random programs: the full op table (every element-wise op,
 * every reduction, rank, quantile, alpha_*), every input. */
static inline void bc_random_opts(struct alc_random_opts *o)
{
    alc_random_opts_default(o);
    o->ops = ~0ull;
    o->n_params = 2;
    o->n_lets = 3;
    o->n_fns = 1;
}

/* Random program -> source text -> parse + check + lower into ir. Returns
 * the source (malloc'd) for messages. */
static inline char *bc_random_ir(struct alc_rng *rng,
                                 const struct alc_random_opts *o,
                                 struct alc_ir *ir)
{
    struct alc_arena a;
    struct alc_diag d;
    struct alc_sb sb;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    alc_sb_init(&sb);
    alc_ir_init(ir);
    struct alc_program *p = alc_ast_random(&a, rng, o);
    assert_non_null(p);
    p->prelude = NULL;
    alc_print_program(p, 0, &sb);
    struct alc_program *q =
        alc_front_load(&a, "random.alloc", sb.s, sb.len, &d);
    if (q == NULL || alc_lower(q, ir, &d) != 0) {
        fail_msg("random program does not load:\n%s\n%s", alc_diag_text(&d),
                 alc_sb_str(&sb));
    }
    alc_diag_free(&d);
    alc_arena_free(&a);
    return alc_sb_take(&sb);
}

#define BC_TOL 1e-6
#define BC_PERTURB 1e-9

/* ---- Units of given shapes ---- */

struct bc_shape {
    int64_t rows, cols;
};

/*
 * n_units units, each with the matrices shapes[0 .. n_shapes), dtype dt
 * (or random per matrix when dt < 0); values as fx_units_make (normal
 * with a random scale per matrix, specials with probability p_special).
 */
static inline void bc_units_shapes(struct fx_units *f, struct alc_rng *r,
                                   int n_units, const struct bc_shape *shapes,
                                   int n_shapes, int dt, double p_special)
{
    memset(f, 0, sizeof *f);
    f->n_mats = n_units * n_shapes;
    f->uv = calloc((size_t)n_units, sizeof *f->uv);
    f->mv = calloc((size_t)f->n_mats, sizeof *f->mv);
    f->w = calloc((size_t)f->n_mats, sizeof *f->w);
    f->act = calloc((size_t)f->n_mats, sizeof *f->act);
    for (int m = 0; m < f->n_mats; m++) {
        const struct bc_shape *sh = &shapes[m % n_shapes];
        enum alc_dtype d =
            dt >= 0 ? (enum alc_dtype)dt
                    : (enum alc_dtype)alc_rng_below(r, ALC_DT_COUNT);
        size_t n = (size_t)(sh->rows * sh->cols);
        float *tmp = malloc((n + 1) * sizeof *tmp);
        double scale = exp(4.0 * (alc_rng_double(r) - 0.5));
        for (size_t i = 0; i < n; i++) {
            tmp[i] = fx_value(r, p_special, scale);
        }
        f->w[m] = malloc((n + 1) * (size_t)alc_dtype_table[d].size);
        alc_from_f32(f->w[m], tmp, d, n);
        free(tmp);
        f->act[m] = malloc(((size_t)sh->cols + 1) * sizeof(float));
        for (int64_t c = 0; c < sh->cols; c++) {
            f->act[m][c] = alc_rng_double(r) < p_special
                               ? fx_special(r)
                               : (float)(0.1 + 3.0 * alc_rng_double(r));
        }
        f->mv[m] = (struct alc_mat_view){f->w[m], d, sh->rows, sh->cols,
                                         f->act[m],
                                         alc_rng_double(r) * 4.0 + 1.0,
                                         alc_rng_double(r) * 4.0 + 1.0, NULL};
    }
    for (int u = 0; u < n_units; u++) {
        f->uv[u].mats = &f->mv[u * n_shapes];
        f->uv[u].n_mats = n_shapes;
        f->uv[u].block = u / 2;
    }
    f->units.units = f->uv;
    f->units.n_units = n_units;
}

/* ---- Evaluation ---- */

/* nodes (n_nodes * n_units) and sparsity/score (n_units) of one run. */
struct bc_result {
    double *nodes, *sparsity, *score;
    int n_nodes;
};

static inline void bc_result_init(struct bc_result *r, int n_nodes, int L)
{
    r->n_nodes = n_nodes;
    r->nodes = calloc((size_t)n_nodes * (size_t)L + 1, sizeof(double));
    r->sparsity = calloc((size_t)L + 1, sizeof(double));
    r->score = calloc((size_t)L + 1, sizeof(double));
}

static inline void bc_result_free(struct bc_result *r)
{
    free(r->nodes);
    free(r->sparsity);
    free(r->score);
}

/*
 * The reference: the JIT with libm math, compiled three times (the log/exp
 * family scaled by 1, 1 + p, 1 - p); each evaluation may scale the element
 * reductions too (perturb_red).
 */
struct bc_ref {
    struct alc_jit *j[3];
    double seconds; /* spent compiling and evaluating */
};

static inline void bc_ref_init(struct bc_ref *r, const struct alc_ir *ir,
                               double p)
{
    const double pt[3] = {0.0, p, -p};
    struct alc_diag d;
    double t0 = alc_now();
    alc_diag_init(&d);
    for (int i = 0; i < 3; i++) {
        struct alc_jit_opts jo = {.libm = 1, .perturb = pt[i]};
        r->j[i] = alc_jit_compile(ir, &jo, &d);
        if (r->j[i] == NULL) {
            fail_msg("jit compile: %s", alc_diag_text(&d));
        }
    }
    alc_diag_free(&d);
    r->seconds = alc_now() - t0;
}

static inline void bc_ref_free(struct bc_ref *r)
{
    for (int i = 0; i < 3; i++) {
        alc_jit_free(r->j[i]);
    }
}

/* JIT variant v with element reductions scaled by (1 + pr). */
static inline void bc_eval_jit(struct bc_ref *ref, int v,
                               const struct alc_units *U, double S, double pr,
                               struct bc_result *r)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = S, .params = NULL, .n_threads = 2};
    double t0 = alc_now();
    alc_diag_init(&d);
    bc_result_init(r, alc_jit_ir(ref->j[v])->n_nodes, U->n_units);
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0.0};
    if (alc_jit_evaluate(ref->j[v], U, &eo, pr, &out, &d) != 0) {
        fail_msg("jit evaluate: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    ref->seconds += alc_now() - t0;
}

/* alc_compile + alc_evaluate with backend be; the compiled handle is
 * returned (free it) so callers can evaluate again. */
static inline struct alc_compiled *bc_eval(const struct alc_ir *ir,
                                           enum alc_backend be,
                                           const struct alc_units *U,
                                           double S, struct bc_result *r)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = S, .params = NULL, .n_threads = 2};
    alc_diag_init(&d);
    struct alc_compiled *c = alc_compile(ir, be, &d);
    if (c == NULL) {
        fail_msg("compile (%s): %s", alc_backend_name[be],
                 alc_diag_text(&d));
    }
    bc_result_init(r, alc_compiled_ir(c)->n_nodes, U->n_units);
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0.0};
    if (alc_evaluate(c, U, &eo, &out, &d) != 0) {
        fail_msg("evaluate (%s): %s", alc_backend_name[be],
                 alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return c;
}

/* ---- Host stages on perturbed reductions (check (c)) ---- */

struct bc_hs {
    const struct alc_plan *plan;
    const struct bc_result *src; /* the JIT's values, node-major */
    int L, nn;
    uint64_t seed;
    double p;
};

static inline int bc_exact_node(const struct alc_ir *ir, int i);
static const struct alc_ir *bc_hs_ir;

static inline int bc_hs_pass(void *ctx, int pass, double *env,
                             struct alc_diag *d)
{
    struct bc_hs *h = ctx;
    const struct alc_plan_pass *ps = &h->plan->passes[pass - 1];
    (void)d;
    for (int i = 0; i < ps->n_reds; i++) {
        int node = ps->reds[i].node;
        for (int u = 0; u < h->L; u++) {
            double v = h->src->nodes[(size_t)node * (size_t)h->L + (size_t)u];
            uint64_t k = alc_hash_mix(h->seed, (uint64_t)node * 1000003u +
                                                   (uint64_t)u);
            if (!bc_exact_node(bc_hs_ir, node)) {
                v *= 1.0 + ((k & 1) ? h->p : -h->p);
            }
            env[(size_t)u * (size_t)h->nn + (size_t)node] = v;
        }
    }
    return 0;
}

/* r = the host stages of cir over the JIT's element reductions (src),
 * perturbed with sign pattern `seed`. */
static inline void bc_host_stages(const struct alc_ir *cir,
                                  const struct alc_units *U, double S,
                                  const struct bc_result *src, uint64_t seed,
                                  struct bc_result *r)
{
    struct alc_plan plan;
    struct alc_diag d;
    int L = U->n_units;
    double *pv = calloc((size_t)cir->n_params + 1, sizeof *pv);
    double *env = malloc(((size_t)L * (size_t)cir->n_nodes + 1) *
                         sizeof *env);
    alc_diag_init(&d);
    for (int i = 0; i < cir->n_params; i++) {
        pv[i] = cir->params[i].value;
    }
    if (alc_plan_build(&plan, cir, &d) != 0) {
        fail_msg("plan: %s", alc_diag_text(&d));
    }
    struct bc_hs h = {&plan, src, L, cir->n_nodes, seed, BC_PERTURB};
    struct alc_eval_opts eo = {.S = S, .params = pv, .n_threads = 1};
    bc_result_init(r, cir->n_nodes, L);
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0.0};
    bc_hs_ir = cir;
    if (alc_plan_execute(&plan, cir, U, &eo, bc_hs_pass, &h, env, &out,
                         &d) != 0) {
        fail_msg("host stages: %s", alc_diag_text(&d));
    }
    alc_plan_free(&plan);
    alc_diag_free(&d);
    free(env);
    free(pv);
}

/* ---- Comparison ---- */


struct bc_counts {
    long compared, exact, skipped;
};

/* Whether node i's value is exact in any summation order. */
static inline int bc_exact_node(const struct alc_ir *ir, int i)
{
    const struct alc_ir_node *n = &ir->nodes[i];
    if (alc_op_table[n->op].kind != ALC_OPK_REDUCE ||
        ir->nodes[n->arg[0]].level != ALC_LV_ELEM) {
        return 0;
    }
    unsigned fl = alc_op_table[ir->nodes[n->arg[0]].op].flags;
    switch (n->op) {
    case ALC_OP_MIN:
    case ALC_OP_MAX:
    case ALC_OP_CNT:
        return 1;
    case ALC_OP_SUM:
    case ALC_OP_MEAN:
    case ALC_OP_L1:
    case ALC_OP_MEANABS:
        return (fl & ALC_OPF_INTEGRAL) != 0;
    default:
        return 0;
    }
}

static inline int bc_close(double a, double b, double tol)
{
    if (isnan(a) || isnan(b)) {
        return isnan(a) && isnan(b);
    }
    if (a == b) {
        return 1;
    }
    return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static inline int bc_stable(double ref, const struct bc_result *p, int np,
                            size_t k)
{
    for (int i = 0; i < np; i++) {
        if (!bc_close(ref, p[i].nodes[k], BC_TOL)) {
            return 0;
        }
    }
    return 1;
}

/*
 * Compares got (a backend) with ref (the JIT) on every reachable layer- and
 * model-level node of every unit; p[0..np) are the perturbed JIT runs.
 * Fails the test with `what` on a mismatch.
 */
static inline void bc_compare(const struct alc_ir *ir,
                              const struct bc_result *got,
                              const struct bc_result *ref,
                              const struct bc_result *p, int np, int L,
                              const char *what, struct bc_counts *cnt)
{
    for (int i = 0; i < ir->n_nodes; i++) {
        if (ir->nodes[i].level == ALC_LV_ELEM) {
            continue;
        }
        int exact = bc_exact_node(ir, i);
        for (int u = 0; u < L; u++) {
            size_t k = (size_t)i * (size_t)L + (size_t)u;
            double g = got->nodes[k], r = ref->nodes[k];
            if (!exact && !bc_stable(r, p, np, k)) {
                cnt->skipped++;
                continue;
            }
            int ok = exact ? bc_close(g, r, 0.0) &&
                                 (isnan(g) || signbit(g) == signbit(r))
                           : bc_close(g, r, BC_TOL);
            if (!ok) {
                fail_msg("%s: node %%%d (%s) unit %d: got %.17g, jit %.17g "
                         "(%s)",
                         what, i,
                         alc_op_table[ir->nodes[i].op].name
                             ? alc_op_table[ir->nodes[i].op].name
                             : "leaf",
                         u, g, r, exact ? "exact" : "tol 1e-6");
            }
            cnt->compared++;
            cnt->exact += exact;
        }
    }
}

/*
 * Evaluates ir with backend be and with the JIT reference (plus 4
 * perturbed runs) on U and compares; also checks that sparsity agrees with
 * its node. Returns the seconds the backend took (compile + evaluate).
 */
static inline double bc_check(const struct alc_ir *ir, enum alc_backend be,
                              struct bc_ref *ref, const struct alc_units *U,
                              double S, const char *what,
                              struct bc_counts *cnt)
{
    struct bc_result got, base, p[6];
    static const int var[4] = {0, 0, 1, 2};
    static const double pr[4] = {BC_PERTURB, -BC_PERTURB, 0.0, 0.0};
    double t0 = alc_now();
    struct alc_compiled *c = bc_eval(ir, be, U, S, &got);
    double sec = alc_now() - t0;
    const struct alc_ir *cir = alc_compiled_ir(c);
    bc_eval_jit(ref, 0, U, S, 0.0, &base);
    for (int i = 0; i < 4; i++) {
        bc_eval_jit(ref, var[i], U, S, pr[i], &p[i]);
    }
    bc_host_stages(cir, U, S, &base, 1, &p[4]);
    bc_host_stages(cir, U, S, &base, 2, &p[5]);
    assert_int_equal(got.n_nodes, base.n_nodes);
    bc_compare(cir, &got, &base, p, 6, U->n_units, what, cnt);
    for (int u = 0; u < U->n_units; u++) {
        size_t k = (size_t)cir->sparsity * (size_t)U->n_units + (size_t)u;
        assert_true(bc_close(got.sparsity[u], got.nodes[k], 0.0));
    }
    alc_compiled_free(c);
    bc_result_free(&got);
    bc_result_free(&base);
    for (int i = 0; i < 6; i++) {
        bc_result_free(&p[i]);
    }
    return sec;
}

#endif /* ALC_BACKEND_COMPARE_H */
