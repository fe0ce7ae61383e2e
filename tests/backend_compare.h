/*
 * backend_compare.h: programs for the backend tests (every stdlib file;
 * random programs from the front end's generator, printed and parsed back
 * so the prelude is attached) and the comparison of a backend's results
 * with the LLVM JIT's, the reference (test_cuda_emu.c, test_cuda_run.c).
 *
 * The comparison, pass by pass with identical inputs. The JIT (libm math:
 * ops.c's functions, exactly the interpreter's) evaluates the program with
 * the backend's element reductions injected after each pass
 * (alc_jit_eval.inject), so every pass of the JIT reads the same layer and
 * model values the backend's pass read; the JIT's own reductions come back
 * in red_out. Then
 *   - every layer/model node that is not an element reduction must equal
 *     the backend's bit for bit: both run plan.c's host stages on the same
 *     inputs;
 *   - every element reduction must equal the JIT's own bit for bit where
 *     the result does not depend on the order of summation nor on how the
 *     log/exp family is computed (min and max of element code without it,
 *     count, and sums/means of integer-valued operands), else within a
 *     relative 1e-6 (|a - b| <= 1e-6 max(1, |a|, |b|)): the backends sum
 *     in different orders (JIT: chunks of whole rows, 8 lanes; GPU: tiles of
 *     65536 elements, 256-thread trees), ~1e-13 relative for these data;
 *     NaN where the JIT has NaN.
 * A reduction is compared only if it is well conditioned with respect to
 * the element-level math: the JIT's own value stays within the tolerance
 * when its log/exp family is scaled by (1 +- 1e-9) (the GPU's functions
 * differ from glibc's by up to 2 ulp; the host emulation uses glibc's, so
 * there nothing is ever skipped). Skipped values are counted.
 */
#ifndef ALC_BACKEND_COMPARE_H
#define ALC_BACKEND_COMPARE_H

#include <dirent.h>

#include "alc_test.h"
#include "backend.h"
#include "front.h"
#include "jit.h"
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
        enum alc_dtype d = dt >= 0
                               ? (enum alc_dtype)dt
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
        f->mv[m] = (struct alc_mat_view){f->w[m],
                                         d,
                                         sh->rows,
                                         sh->cols,
                                         f->act[m],
                                         alc_rng_double(r) * 4.0 + 1.0,
                                         alc_rng_double(r) * 4.0 + 1.0,
                                         NULL};
    }
    for (int u = 0; u < n_units; u++) {
        f->uv[u].mats = &f->mv[u * n_shapes];
        f->uv[u].n_mats = n_shapes;
        f->uv[u].block = u / 2;
    }
    f->units.units = f->uv;
    f->units.n_units = n_units;
}

/*
 * One pass with many accumulators of every kind and function: 13 element
 * reductions (each kind of op) of distinct element expressions over wanda
 * and weight, summed into the sparsity (the emitter's names for 30+
 * accumulator states must not collide).
 */
static inline void bc_wide_ir(struct alc_ir *ir)
{
    static const enum alc_op reds[] = {
        ALC_OP_MEAN,     ALC_OP_VAR,     ALC_OP_STD,     ALC_OP_SUM,
        ALC_OP_MIN,      ALC_OP_MAX,     ALC_OP_L1,      ALC_OP_L2,
        ALC_OP_MEANABS,  ALC_OP_GEOMEAN, ALC_OP_ENTROPY, ALC_OP_CNT,
        ALC_OP_QUANTILE,
    };
    struct alc_span sp = {1, 1, 1};
    alc_ir_init(ir);
    int wa = alc_ir_input(ir, ALC_IN_WANDA, sp);
    int w = alc_ir_input(ir, ALC_IN_WEIGHT, sp);
    int sum = alc_ir_input(ir, ALC_IN_S, sp);
    for (size_t i = 0; i < sizeof reds / sizeof reds[0]; i++) {
        int k = alc_ir_const(ir, 1.0 + (double)i, sp);
        int args[2] = {i % 2 ? wa : w, k};
        int e = alc_ir_op(ir, ALC_OP_MUL, 2, args, sp);
        int rargs[2] = {e, alc_ir_const(ir, 0.25, sp)};
        int r = alc_ir_op(ir, reds[i], reds[i] == ALC_OP_QUANTILE ? 2 : 1,
                          rargs, sp);
        int add[2] = {sum, r};
        sum = alc_ir_op(ir, ALC_OP_ADD, 2, add, sp);
    }
    ir->sparsity = sum;
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
 * family scaled by 1, 1 + p, 1 - p).
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

/* JIT variant v with testing hooks (may be NULL). */
static inline void bc_eval_jit(struct bc_ref *ref, int v,
                               const struct alc_units *U, double S,
                               const struct alc_jit_eval *hooks,
                               struct bc_result *r)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = S, .params = NULL, .n_threads = 2};
    double t0 = alc_now();
    alc_diag_init(&d);
    bc_result_init(r, alc_jit_ir(ref->j[v])->n_nodes, U->n_units);
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0.0};
    if (alc_jit_evaluate(ref->j[v], U, &eo, hooks, &out, &d) != 0) {
        fail_msg("jit evaluate: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    ref->seconds += alc_now() - t0;
}

/* alc_compile + alc_evaluate with backend be; the compiled handle is
 * returned (free it) so callers can evaluate again. */
static inline struct alc_compiled *bc_eval(const struct alc_ir *ir,
                                           enum alc_backend be,
                                           const struct alc_units *U, double S,
                                           struct bc_result *r)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = S, .params = NULL, .n_threads = 2};
    alc_diag_init(&d);
    struct alc_compiled *c = alc_compile(ir, be, &d);
    if (c == NULL) {
        fail_msg("compile (%s): %s", alc_backend_name[be], alc_diag_text(&d));
    }
    bc_result_init(r, alc_compiled_ir(c)->n_nodes, U->n_units);
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0.0};
    if (alc_evaluate(c, U, &eo, &out, &d) != 0) {
        fail_msg("evaluate (%s): %s", alc_backend_name[be], alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return c;
}

/* Evaluates ir with backend ops be directly, past alloc.c's cache (which
 * would hand one device's or setting's compiled state to another). */
static inline void bc_run_direct(const struct alc_backend_ops *be,
                                 const struct alc_ir *ir,
                                 const struct alc_units *U, double S,
                                 struct bc_result *r)
{
    struct alc_ir cir;
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = S};
    alc_diag_init(&d);
    assert_int_equal(alc_ir_compact(ir, &cir), 0);
    void *st = be->compile(&cir, &d);
    if (st == NULL) {
        fail_msg("compile: %s", alc_diag_text(&d));
    }
    bc_result_init(r, cir.n_nodes, U->n_units);
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0.0};
    if (be->evaluate(st, &cir, U, &eo, &out, &d) != 0) {
        fail_msg("evaluate: %s", alc_diag_text(&d));
    }
    be->release(st);
    alc_ir_free(&cir);
    alc_diag_free(&d);
}

/* ---- Comparison ---- */

struct bc_counts {
    long compared, exact, skipped, host;
};

/* Whether node i is an element -> layer reduction. */
static inline int bc_elem_red(const struct alc_ir *ir, int i)
{
    const struct alc_ir_node *n = &ir->nodes[i];
    return alc_op_table[n->op].kind == ALC_OPK_REDUCE &&
           ir->nodes[n->arg[0]].level == ALC_LV_ELEM;
}

/* Whether the element code of node x reads log, exp, sigmoid or softplus
 * (the family the reference perturbs, which a backend may compute to other
 * bits: the GPU's libm, the table path for logs of BF16 weights). */
static inline int bc_elem_transc(const struct alc_ir *ir, int x,
                                 unsigned char *seen)
{
    const struct alc_ir_node *n = &ir->nodes[x];
    if (n->level != ALC_LV_ELEM || seen[x]) {
        return 0;
    }
    seen[x] = 1;
    if (n->op == ALC_OP_LOG || n->op == ALC_OP_EXP || n->op == ALC_OP_SIGMOID ||
        n->op == ALC_OP_SOFTPLUS) {
        return 1;
    }
    for (int a = 0; a < n->nargs; a++) {
        if (bc_elem_transc(ir, n->arg[a], seen)) {
            return 1;
        }
    }
    return 0;
}

/* Whether element reduction i is exact in any summation order and with
 * any correctly rounded element code: min and max of values without the
 * log/exp family, count, sums of integer-valued operands. */
static inline int bc_exact_node(const struct alc_ir *ir, int i)
{
    const struct alc_ir_node *n = &ir->nodes[i];
    unsigned fl = alc_op_table[ir->nodes[n->arg[0]].op].flags;
    unsigned char *seen = NULL;
    int transc = 0;
    switch (n->op) {
    case ALC_OP_MIN:
    case ALC_OP_MAX:
        seen = calloc((size_t)ir->n_nodes + 1, 1);
        transc = bc_elem_transc(ir, n->arg[0], seen);
        free(seen);
        return !transc;
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

/* Bit for bit (any NaN equals any NaN). */
static inline int bc_same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static inline const char *bc_op_name(const struct alc_ir *ir, int i)
{
    const char *nm = alc_op_table[ir->nodes[i].op].name;
    return nm != NULL ? nm : "leaf";
}

/*
 * got: the backend; inj: the JIT with got's reductions injected; red[0]:
 * the JIT's own reductions, red[1..nr): the same with perturbed math.
 */
static inline void bc_compare(const struct alc_ir *ir,
                              const struct bc_result *got,
                              const struct bc_result *inj,
                              const struct bc_result *red, int nr, int L,
                              const char *what, struct bc_counts *cnt)
{
    for (int i = 0; i < ir->n_nodes; i++) {
        if (ir->nodes[i].level == ALC_LV_ELEM) {
            continue;
        }
        int is_red = bc_elem_red(ir, i);
        int exact = is_red && bc_exact_node(ir, i);
        for (int u = 0; u < L; u++) {
            size_t k = (size_t)i * (size_t)L + (size_t)u;
            double g = got->nodes[k];
            if (!is_red) { /* host stages: the same code on the same input */
                if (!bc_same(g, inj->nodes[k])) {
                    fail_msg("%s: host node %%%d (%s) unit %d: backend %a, "
                             "jit %a",
                             what, i, bc_op_name(ir, i), u, g, inj->nodes[k]);
                }
                cnt->host++;
                continue;
            }
            double r = red[0].nodes[k];
            int stable = 1;
            for (int p = 1; p < nr && !exact; p++) {
                stable &= bc_close(r, red[p].nodes[k], BC_TOL);
            }
            if (!stable) {
                cnt->skipped++;
                continue;
            }
            int ok = exact ? bc_same(g, r) : bc_close(g, r, BC_TOL);
            if (!ok) {
                fail_msg("%s: reduction %%%d (%s) unit %d: backend %.17g, "
                         "jit %.17g (%s)",
                         what, i, bc_op_name(ir, i), u, g, r,
                         exact ? "exact" : "tol 1e-6");
            }
            cnt->compared++;
            cnt->exact += exact;
        }
    }
}

/*
 * Evaluates ir with backend be and with the JIT reference (three variants,
 * the backend's reductions injected) on U and compares; also checks that
 * sparsity agrees with its node. Returns the seconds the backend took
 * (compile + evaluate).
 */
static inline double bc_check(const struct alc_ir *ir, enum alc_backend be,
                              struct bc_ref *ref, const struct alc_units *U,
                              double S, const char *what, struct bc_counts *cnt)
{
    struct bc_result got, inj[3], red[3];
    double t0 = alc_now();
    struct alc_compiled *c = bc_eval(ir, be, U, S, &got);
    double sec = alc_now() - t0;
    const struct alc_ir *cir = alc_compiled_ir(c);
    for (int v = 0; v < 3; v++) {
        bc_result_init(&red[v], cir->n_nodes, U->n_units);
        struct alc_jit_eval hooks = {0.0, got.nodes, red[v].nodes};
        bc_eval_jit(ref, v, U, S, &hooks, &inj[v]);
        assert_int_equal(inj[v].n_nodes, got.n_nodes);
    }
    bc_compare(cir, &got, &inj[0], red, 3, U->n_units, what, cnt);
    for (int u = 0; u < U->n_units; u++) {
        size_t k = (size_t)cir->sparsity * (size_t)U->n_units + (size_t)u;
        assert_true(bc_same(got.sparsity[u], got.nodes[k]));
    }
    alc_compiled_free(c);
    bc_result_free(&got);
    for (int v = 0; v < 3; v++) {
        bc_result_free(&inj[v]);
        bc_result_free(&red[v]);
    }
    return sec;
}

#endif /* ALC_BACKEND_COMPARE_H */
