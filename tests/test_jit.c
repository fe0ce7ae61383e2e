/*
 * test_jit.c: the LLVM backend (compiler/jit_*.c) on hand-built IRs against
 * the reference interpreter (alc_backend_interp) and closed forms: every
 * element-wise op bit for bit, every reduction, weight dtype conversions
 * with NaN/Inf/subnormals/-0, the vectorised log/exp/log1p against glibc,
 * bit-identical results for any thread count, ill-conditioned variance,
 * quantile, errors, and memory staying flat over many compile/free cycles.
 */
#include <pthread.h>

#include "alc_test.h"
#include "ir_build.h"
#include "jit.h"
#include "logw_table.h"
#include "unit_fixture.h"

/* ---- Helpers ---- */

static struct alc_jit *compile_or_fail(const struct alc_ir *ir,
                                       const struct alc_jit_opts *o)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_jit *j = alc_jit_compile(ir, o, &d);
    if (j == NULL) {
        fail_msg("compile: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return j;
}

/* Evaluates j over U; nodes (n_nodes * n_units) of the compacted IR. */
static void eval_or_fail(struct alc_jit *j, const struct alc_units *U,
                         int threads, double *sparsity, double *nodes)
{
    struct alc_diag d;
    struct alc_eval_opts o = {.S = 0.5, .params = NULL, .n_threads = threads};
    struct alc_eval_out out = {.sparsity = sparsity, .nodes = nodes};
    alc_diag_init(&d);
    if (alc_jit_evaluate(j, U, &o, NULL, &out, &d) != 0) {
        fail_msg("evaluate: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

static int same_bits(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* The node of the constant k (it must exist). */
static int ir_find_const(const struct alc_ir *ir, double k)
{
    for (int i = 0; i < ir->n_nodes; i++) {
        if (ir->nodes[i].op == ALC_OP_CONST && ir->nodes[i].u.k == k) {
            return i;
        }
    }
    fail_msg("no constant %g", k);
    return -1;
}

/* Units of one 1x1 matrix each, weight w[i] (F32) and act a[i]. */
struct single {
    struct alc_unit_view uv[64];
    struct alc_mat_view mv[64];
    float w[64], act[64];
    struct alc_units units;
};

static void single_init(struct single *s, const float *w, const float *a, int n)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < n; i++) {
        s->w[i] = w[i];
        s->act[i] = a[i];
        s->mv[i] = (struct alc_mat_view){&s->w[i],   ALC_DT_F32, 1,   1,
                                         &s->act[i], 1.0,        1.0, NULL};
        s->uv[i] = (struct alc_unit_view){&s->mv[i], 1, i, NULL};
    }
    s->units = (struct alc_units){s->uv, n};
}

static const float special_w[] = {
    0.0f,   -0.0f,  1.0f,    -1.0f, 2.5f,  -3.75f, INFINITY, -INFINITY,
    NAN,    1e-40f, -1e-40f, 0.5f,  1e30f, -1e30f, 20.0f,    20.5f,
    -20.0f, 710.0f, -746.0f, 0.75f, 3.0f,  -0.25f, 1e-8f,    7.0f,
};
static const float special_a[] = {
    1.0f, 2.0f,     -0.0f, 0.0f,  NAN,    0.5f, 3.0f,  -2.0f,
    1.0f, INFINITY, -1.0f, 0.25f, 1e-30f, 4.0f, 20.0f, -20.5f,
    0.5f, 1.0f,     2.0f,  0.75f, -3.0f,  0.0f, 1e8f,  7.0f,
};
#define N_SPECIAL ((int)(sizeof special_w / sizeof special_w[0]))

/* ---- Element-wise ops, bit for bit ---- */

/* ops whose lowering is exact (not log/exp and friends) */
static int exact_op(enum alc_op op)
{
    return op != ALC_OP_LOG && op != ALC_OP_EXP && op != ALC_OP_SIGMOID &&
           op != ALC_OP_SOFTPLUS;
}

/* max over a single element is that element, so each unit's result is
 * one evaluation of the op on (weight, act, layer value) lanes. */
static void check_map_op(enum alc_op op, int libm)
{
    struct alc_ir ir;
    struct single s;
    struct alc_jit_opts o = {.libm = libm};
    const struct alc_op_info *info = &alc_op_table[op];
    double sp[64], nodes[64 * 16];
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WEIGHT);
    int a = IN(&ir, ALC_IN_ACT);
    int lay = OP1(&ir, ALC_OP_NEG, IN(&ir, ALC_IN_BLOCK)); /* layer */
    int e = info->nargs == 1   ? OP1(&ir, op, w)
            : info->nargs == 2 ? OP2(&ir, op, w, a)
                               : OP3(&ir, op, w, a, lay);
    ir.sparsity = OP1(&ir, ALC_OP_MAX, e);
    single_init(&s, special_w, special_a, N_SPECIAL);
    struct alc_jit *j = compile_or_fail(&ir, &o);
    eval_or_fail(j, &s.units, 1, sp, nodes);
    for (int i = 0; i < N_SPECIAL; i++) {
        double x = special_w[i], y = special_a[i], z = -(double)i;
        double want = info->map1   ? info->map1(x)
                      : info->map2 ? info->map2(x, y)
                                   : info->map3(x, y, z);
        if (exact_op(op) || libm) {
            if (!same_bits(sp[i], want)) {
                fail_msg("%s(%g, %g, %g): jit %.17g want %.17g", info->name, x,
                         y, z, sp[i], want);
            }
        } else {
            /* log/exp family: vectorised, a few ulps (see vmath test) */
            assert_close(sp[i], want, 1e-15);
        }
    }
    alc_jit_free(j);
    alc_ir_free(&ir);
}

/* Every map op of the table on special operands equals ops.c's function
 * (exactly, or within 1e-15 for the vectorised log/exp family). */
static void test_jit_map_ops_exact(void **state)
{
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (alc_op_table[op].kind == ALC_OPK_MAP) {
            check_map_op((enum alc_op)op, 0);
            if (!exact_op((enum alc_op)op)) {
                check_map_op((enum alc_op)op, 1);
            }
        }
    }
}

/* ---- Reductions and programs against the reference ---- */

/* Compares every layer/model node of the JIT with the reference. */
static void compare_nodes(const struct alc_ir *ir, const double *got,
                          const double *want, int L, double tol)
{
    for (int i = 0; i < ir->n_nodes; i++) {
        if (ir->nodes[i].level == ALC_LV_ELEM) {
            continue;
        }
        int integral = alc_op_table[ir->nodes[i].op].flags & ALC_OPF_INTEGRAL;
        for (int u = 0; u < L; u++) {
            double g = got[(size_t)i * L + u], w = want[(size_t)i * L + u];
            if (isnan(g) != isnan(w)) {
                fail_msg("node %%%d (%s) unit %d: jit %.17g ref %.17g", i,
                         alc_op_table[ir->nodes[i].op].name, u, g, w);
            }
            if (integral && !isnan(g) && g != w) {
                fail_msg("node %%%d (%s) unit %d: jit %.17g ref %.17g "
                         "(integral)",
                         i, alc_op_table[ir->nodes[i].op].name, u, g, w);
            }
            assert_close(g, w, tol);
        }
    }
}

/* Runs ir with the JIT (options o) and the reference over U; node values
 * agree. */
static void check_program_opts(struct alc_ir *ir, const struct alc_units *U,
                               double tol, struct alc_jit_opts o)
{
    struct alc_jit *j = compile_or_fail(ir, &o);
    const struct alc_ir *c = alc_jit_ir(j);
    int L = U->n_units;
    double *sp = calloc((size_t)L, sizeof *sp);
    double *got = calloc((size_t)c->n_nodes * (size_t)L, sizeof *got);
    double *want = calloc((size_t)c->n_nodes * (size_t)L, sizeof *want);
    double *isp = calloc((size_t)L, sizeof *isp);
    eval_or_fail(j, U, 2, sp, got);
    fx_interp_eval(c, U, 0.5, NULL, isp, want);
    compare_nodes(c, got, want, L, tol);
    for (int u = 0; u < L; u++) {
        assert_true(same_bits(sp[u], got[(size_t)c->sparsity * L + u]));
    }
    free(sp);
    free(isp);
    free(got);
    free(want);
    alc_jit_free(j);
}

static void check_program(struct alc_ir *ir, const struct alc_units *U,
                          double tol, int libm)
{
    check_program_opts(ir, U, tol, (struct alc_jit_opts){.libm = libm});
}

/* Every reduction of several element expressions on finite data over
 * shapes that exercise the unrolled loop and the masked tail. Tolerance
 * 1e-12 relative: sums in another order (the interpreter's are
 * compensated) differ by a few ulps times log2(n). */
static void test_jit_reductions_vs_ref(void **state)
{
    static const enum alc_op reds[] = {
        ALC_OP_MEAN,    ALC_OP_VAR,     ALC_OP_STD,     ALC_OP_SUM,
        ALC_OP_MIN,     ALC_OP_MAX,     ALC_OP_L1,      ALC_OP_L2,
        ALC_OP_MEANABS, ALC_OP_GEOMEAN, ALC_OP_ENTROPY, ALC_OP_CNT,
    };
    struct alc_rng r;
    alc_rng_seed(&r, 11);
    for (int dt = 0; dt < ALC_DT_COUNT; dt++) {
        struct fx_units f;
        fx_units_make(&f, &r, 5, 3, 40, 150, dt, 0.0);
        for (int e = 0; e < 3; e++) {
            struct alc_ir ir;
            alc_ir_init(&ir);
            int x = e == 0   ? IN(&ir, ALC_IN_WEIGHT)
                    : e == 1 ? IN(&ir, ALC_IN_WANDA)
                             : IN(&ir, ALC_IN_ACT);
            if (e == 1) { /* wanda > 0: + a zero now and then via where */
                int half = K(&ir, 0.5);
                int lt = OP2(&ir, ALC_OP_LT, x, half);
                int z = K(&ir, 0.0);
                x = OP3(&ir, ALC_OP_WHERE, lt, z, x);
            }
            int acc = -1;
            for (size_t k = 0; k < sizeof reds / sizeof reds[0]; k++) {
                int rv = OP1(&ir, reds[k], x);
                acc = acc < 0 ? rv : OP2(&ir, ALC_OP_ADD, acc, rv);
            }
            ir.sparsity = acc;
            check_program(&ir, &f.units, 1e-12, 0);
            alc_ir_free(&ir);
        }
        fx_units_free(&f);
    }
}

/* OWL (2 passes) and DSA (1 pass, vectorised log) against the reference,
 * on data with zeros and specials in every dtype. */
static void test_jit_owl_dsa_vs_ref(void **state)
{
    struct alc_rng r;
    alc_rng_seed(&r, 5);
    for (int dt = 0; dt < ALC_DT_COUNT; dt++) {
        struct fx_units f;
        struct alc_ir ir;
        fx_units_make(&f, &r, 6, 7, 30, 200, dt, 0.0);
        alc_ir_init(&ir);
        irb_owl(&ir);
        check_program(&ir, &f.units, 1e-12, 0);
        alc_ir_free(&ir);
        alc_ir_init(&ir);
        irb_dsa(&ir);
        /* var of logs: a few ulps per log, averaged: 1e-12 relative;
         * the default's moments in float (BF16): 1e-6 */
        struct alc_jit_opts ex = {.logw = ALC_JIT_LOGW_EXACT};
        check_program_opts(&ir, &f.units, 1e-12, ex);
        check_program(&ir, &f.units, dt == ALC_DT_BF16 ? 1e-6 : 1e-12, 0);
        check_program(&ir, &f.units, 1e-12, 1);
        alc_ir_free(&ir);
        fx_units_free(&f);
    }
}

/* ---- Moments in float (jit_codegen.c) ---- */

/* var(log|where(wanda == 0, 1, wanda)|) (DSA), std(log(where(0 !=
 * wanda, wanda, 1))) and var(log|where(-wanda == 0, 1, -wanda)|) as the
 * score, each a
 * single reduction. */
static int fm_program(struct alc_ir *ir, int which)
{
    int w = IN(ir, ALC_IN_WANDA), red = -1;
    if (which == 0) {
        int x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_EQ, w, K(ir, 0.0)),
                    K(ir, 1.0), w);
        red = OP1(ir, ALC_OP_VAR, OP1(ir, ALC_OP_LOG, OP1(ir, ALC_OP_ABS, x)));
    } else if (which == 1) {
        int x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_NE, K(ir, 0.0), w), w,
                    K(ir, 1.0));
        red = OP1(ir, ALC_OP_STD, OP1(ir, ALC_OP_LOG, x));
    } else {
        int n = OP1(ir, ALC_OP_NEG, w);
        int x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_EQ, n, K(ir, 0.0)),
                    K(ir, 1.0), n);
        red = OP1(ir, ALC_OP_VAR, OP1(ir, ALC_OP_LOG, OP1(ir, ALC_OP_ABS, x)));
    }
    ir->score = red;
    ir->sparsity = OP2(ir, ALC_OP_ADD, IN(ir, ALC_IN_S),
                       OP2(ir, ALC_OP_MUL, K(ir, 1e-3), red));
    return red;
}

/*
 * The default (ALC_JIT_LOGW_AUTO) reduces these in float over BF16
 * blocks of normal or zero weights (a unit with half its weights zero
 * among them): within 1e-6 relative of the interpreter, the
 * same bits with 1 and 2 threads, different bits from ALC_JIT_LOGW_EXACT
 * (the path ran), and exactly EXACT's bits on a unit where the host turns
 * it off (a zero act column; for log(wanda) also a negative act).
 */
static void test_jit_fm_moments(void **state)
{
    struct alc_rng r;
    struct fx_units f;
    alc_rng_seed(&r, 11);
    fx_units_make(&f, &r, 6, 3, 40, 900, ALC_DT_BF16, 0.0);
    for (int m = 0; m < f.n_mats; m++) {
        const struct alc_mat_view *mv = &f.mv[m];
        uint16_t *h = f.w[m];
        double pz = m >= 15 ? 0.5 : 0.002; /* unit 5: pruned to half */
        for (int64_t i = 0; i < mv->rows * mv->cols; i++) {
            if (alc_rng_double(&r) < pz) {
                h[i] = 0; /* d = log(1) - K in float */
            }
        }
    }
    for (int m = 0; m < 3; m++) {
        f.act[m][f.mv[m].cols / 2] = 0.0f; /* unit 0: off */
    }
    f.act[3][0] = -1.0f; /* unit 1: off for log(wanda) only */
    double worst = 0.0;
    for (int which = 0; which < 3; which++) {
        struct alc_ir ir;
        alc_ir_init(&ir);
        fm_program(&ir, which);
        struct alc_jit_opts ex = {.logw = ALC_JIT_LOGW_EXACT};
        struct alc_jit *ja = compile_or_fail(&ir, NULL);
        struct alc_jit *je = compile_or_fail(&ir, &ex);
        const struct alc_ir *c = alc_jit_ir(ja);
        int L = f.units.n_units, N = c->n_nodes, red = -1;
        for (int i = 0; i < N; i++) {
            if (c->nodes[i].op == ALC_OP_VAR || c->nodes[i].op == ALC_OP_STD) {
                red = i;
            }
        }
        assert_true(red >= 0);
        double *a2 = calloc((size_t)(N * L), sizeof(double));
        double *a1 = calloc((size_t)(N * L), sizeof(double));
        double *e2 = calloc((size_t)(N * L), sizeof(double));
        double *want = calloc((size_t)(N * L), sizeof(double));
        double *sp = calloc((size_t)L, sizeof(double));
        eval_or_fail(ja, &f.units, 2, sp, a2);
        eval_or_fail(ja, &f.units, 1, sp, a1);
        eval_or_fail(je, &f.units, 2, sp, e2);
        fx_interp_eval(c, &f.units, 0.5, NULL, sp, want);
        assert_memory_equal(a1, a2, (size_t)(N * L) * sizeof(double));
        int differ = 0;
        for (int u = 0; u < L; u++) {
            double g = a2[(size_t)red * L + u], x = e2[(size_t)red * L + u];
            double w = want[(size_t)red * L + u];
            double rel = isnan(g) && isnan(w) ? 0.0 : fabs(g - w) / fabs(w);
            worst = rel > worst ? rel : worst;
            if (!(rel <= 1e-6)) {
                fail_msg("program %d unit %d: jit %.17g ref %.17g", which, u, g,
                         w);
            }
            differ += !same_bits(g, x);
            if (u == 0 || (u == 1 && which == 1)) {
                assert_true(same_bits(g, x)); /* the path was off */
            }
        }
        if (differ == 0) {
            fail_msg("program %d: the float path did not run", which);
        }
        for (int un = 1; un <= 4; un++) { /* copies; 3: no float path */
            struct alc_jit_opts uo = {.unroll = un};
            struct alc_jit *ju = compile_or_fail(&ir, &uo);
            eval_or_fail(ju, &f.units, 2, sp, e2);
            for (int u = 0; u < L; u++) {
                assert_close(e2[(size_t)red * L + u], want[(size_t)red * L + u],
                             1e-6);
            }
            alc_jit_free(ju);
        }
        alc_jit_free(ja);
        alc_jit_free(je);
        alc_ir_free(&ir);
        free(a2);
        free(a1);
        free(e2);
        free(want);
        free(sp);
    }
    print_message("moments in float: worst relative difference %.2g\n", worst);
    fx_units_free(&f);
}

/*
 * The float path centres on K from a matrix's first ALC_FM_SAMPLE weights
 * (jit_codegen.c). Here those are 2^-30 and the rest ~N(0, 0.02^2): K lies
 * ~16 from the mean of log|wanda| (sd ~1.1), so the float sums carry
 * ~(16 / 1.1)^2 times their usual rounding relative to the variance. It
 * must still be within 1e-6 of the interpreter (measured ~1e-7 on the
 * larger bench data).
 */
static void test_jit_fm_far_k(void **state)
{
    struct alc_rng r;
    struct fx_units f;
    alc_rng_seed(&r, 12);
    fx_units_make(&f, &r, 1, 1, 1, 1, ALC_DT_BF16, 0.0);
    const int64_t rows = 600, cols = 832, n = rows * cols;
    float *tmp = malloc((size_t)n * sizeof *tmp);
    for (int64_t i = 0; i < n; i++) {
        tmp[i] = (float)(alc_rng_normal(&r) * 0.02);
    }
    for (int64_t i = 0; i < 512; i++) {
        tmp[i] = 0x1p-30f;
    }
    free(f.w[0]);
    free(f.act[0]);
    f.w[0] = malloc((size_t)n * sizeof(uint16_t));
    alc_from_f32(f.w[0], tmp, ALC_DT_BF16, (size_t)n);
    free(tmp);
    f.act[0] = malloc((size_t)cols * sizeof(float));
    for (int64_t c = 0; c < cols; c++) {
        f.act[0][c] = (float)(0.1 + 3.0 * alc_rng_double(&r));
    }
    f.mv[0].w = f.w[0];
    f.mv[0].act = f.act[0];
    f.mv[0].rows = rows;
    f.mv[0].cols = cols;
    struct alc_ir ir;
    alc_ir_init(&ir);
    fm_program(&ir, 0);
    struct alc_jit_opts ex = {.logw = ALC_JIT_LOGW_EXACT};
    struct alc_jit *ja = compile_or_fail(&ir, NULL);
    struct alc_jit *je = compile_or_fail(&ir, &ex);
    const struct alc_ir *c = alc_jit_ir(ja);
    int N = c->n_nodes, red = -1;
    for (int i = 0; i < N; i++) {
        red = c->nodes[i].op == ALC_OP_VAR ? i : red;
    }
    assert_true(red >= 0);
    double *a = calloc((size_t)N, sizeof(double));
    double *e = calloc((size_t)N, sizeof(double));
    double *want = calloc((size_t)N, sizeof(double));
    double sp[1];
    eval_or_fail(ja, &f.units, 2, sp, a);
    eval_or_fail(je, &f.units, 2, sp, e);
    fx_interp_eval(c, &f.units, 0.5, NULL, sp, want);
    double rel = fabs(a[red] - want[red]) / fabs(want[red]);
    print_message("moments in float, K far from the mean: var %.6g, relative "
                  "difference %.2g\n",
                  want[red], rel);
    assert_false(same_bits(a[red], e[red])); /* the float path ran */
    assert_true(rel <= 1e-6);
    alc_jit_free(ja);
    alc_jit_free(je);
    alc_ir_free(&ir);
    free(a);
    free(e);
    free(want);
    fx_units_free(&f);
}

/* ---- Dtypes ---- */

/* Every F16 and BF16 bit pattern converts exactly (NaN, inf, subnormal,
 * -0 included): max over a single element returns it bit for bit. */
static void test_jit_dtype_conversions(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WEIGHT);
    ir.sparsity = OP1(&ir, ALC_OP_MAX, w);
    struct alc_jit *j = compile_or_fail(&ir, NULL);
    enum { N = 65536 };
    uint16_t *h = malloc(N * sizeof *h);
    struct alc_mat_view *mv = calloc(N, sizeof *mv);
    struct alc_unit_view *uv = calloc(N, sizeof *uv);
    double *sp = malloc(N * sizeof *sp);
    double *nodes = malloc((size_t)N * 3 * sizeof *nodes);
    for (int dt = ALC_DT_F16; dt <= ALC_DT_BF16; dt++) {
        for (int i = 0; i < N; i++) {
            h[i] = (uint16_t)i;
            mv[i] = (struct alc_mat_view){
                &h[i], (enum alc_dtype)dt, 1, 1, NULL, 1, 1, NULL};
            uv[i] = (struct alc_unit_view){&mv[i], 1, 0, NULL};
        }
        struct alc_units U = {uv, N};
        eval_or_fail(j, &U, 2, sp, nodes);
        for (int i = 0; i < N; i++) {
            double want =
                dt == ALC_DT_F16 ? alc_f16_to_f32(h[i]) : alc_bf16_to_f32(h[i]);
            if (!same_bits(sp[i], want)) {
                fail_msg("dtype %d pattern 0x%04x: %a vs %a", dt, i, sp[i],
                         want);
            }
        }
    }
    free(h);
    free(mv);
    free(uv);
    free(sp);
    free(nodes);
    alc_jit_free(j);
    alc_ir_free(&ir);
}

/* Mixed dtypes within one unit and specials everywhere: min, max, count
 * and isnan-count are exact, sums within 1e-12. */
static void test_jit_specials_mixed_dtypes(void **state)
{
    struct alc_rng r;
    alc_rng_seed(&r, 99);
    struct fx_units f;
    fx_units_make(&f, &r, 4, 5, 25, 90, -1, 0.05);
    struct alc_ir ir;
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WANDA);
    int mn = OP1(&ir, ALC_OP_MIN, w);
    int mx = OP1(&ir, ALC_OP_MAX, w);
    int nan = OP1(&ir, ALC_OP_ISNAN, w);
    int nn = OP1(&ir, ALC_OP_SUM, nan);
    int inf = OP1(&ir, ALC_OP_ISINF, w);
    int ni = OP1(&ir, ALC_OP_SUM, inf);
    int cnt = OP1(&ir, ALC_OP_CNT, w);
    int t1 = OP2(&ir, ALC_OP_ADD, mn, mx);
    int t2 = OP2(&ir, ALC_OP_ADD, nn, ni);
    int t3 = OP2(&ir, ALC_OP_ADD, t1, t2);
    ir.sparsity = OP2(&ir, ALC_OP_ADD, t3, cnt);
    check_program(&ir, &f.units, 0.0, 0);
    alc_ir_free(&ir);
    fx_units_free(&f);
}

/* ---- Determinism ---- */

/* 1, 2 and 3 threads give the same bits on units large enough to be cut
 * into many chunks (sums, var, entropy, two passes). */
static void test_jit_threads_bit_identical(void **state)
{
    struct alc_rng r;
    alc_rng_seed(&r, 3);
    struct fx_units f;
    fx_units_make(&f, &r, 3, 2, 700, 900, ALC_DT_BF16, 0.0);
    struct alc_ir ir;
    alc_ir_init(&ir);
    irb_owl(&ir);
    int w = IN(&ir, ALC_IN_WANDA);
    int e = OP1(&ir, ALC_OP_ENTROPY, w);
    int v = OP1(&ir, ALC_OP_VAR, w);
    int s = OP1(&ir, ALC_OP_SUM, w);
    int ev = OP2(&ir, ALC_OP_ADD, e, v);
    int evs = OP2(&ir, ALC_OP_ADD, ev, s);
    ir.sparsity = OP2(&ir, ALC_OP_ADD, ir.sparsity, evs);
    struct alc_jit *j = compile_or_fail(&ir, NULL);
    int N = alc_jit_ir(j)->n_nodes, L = f.units.n_units;
    double *sp[3], *nd[3];
    for (int t = 0; t < 3; t++) {
        sp[t] = calloc((size_t)L, sizeof(double));
        nd[t] = calloc((size_t)N * (size_t)L, sizeof(double));
        eval_or_fail(j, &f.units, t + 1, sp[t], nd[t]);
    }
    for (int t = 1; t < 3; t++) {
        assert_memory_equal(sp[0], sp[t], (size_t)L * sizeof(double));
        assert_memory_equal(nd[0], nd[t], (size_t)N * L * sizeof(double));
    }
    for (int t = 0; t < 3; t++) {
        free(sp[t]);
        free(nd[t]);
    }
    alc_jit_free(j);
    alc_ir_free(&ir);
    fx_units_free(&f);
}

/* ---- Vector math ---- */

static double ulp_diff(double a, double b)
{
    if (a == b || (isnan(a) && isnan(b))) {
        return 0;
    }
    if (isnan(a) || isnan(b) || isinf(a) || isinf(b)) {
        return INFINITY;
    }
    double u = nextafter(fabs(b), INFINITY) - fabs(b);
    if (u == 0 || !isfinite(u)) {
        u = 0x1p-1074;
    }
    return fabs(a - b) / u;
}

static double check_vfn(alc_jit_vfn_ptr f, double (*ref)(double),
                        const double *x, int64_t n, const char *name)
{
    double *y = malloc((size_t)n * sizeof *y);
    double worst = 0;
    f(x, y, n);
    for (int64_t i = 0; i < n; i++) {
        double u = ulp_diff(y[i], ref(x[i]));
        if (u > worst) {
            worst = u;
        }
        if (u > 2.0) {
            fail_msg("%s(%a) = %a, libm %a (%g ulp)", name, x[i], y[i],
                     ref(x[i]), u);
        }
    }
    free(y);
    return worst;
}

/* log, exp, log1p within 2 ulps of glibc everywhere: random magnitudes
 * over the whole double range (subnormals included), near 1, and the
 * special values, which must be exact (0, -0, negatives, inf, NaN). */
static void test_jit_vmath_vs_libm(void **state)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_jit *j = alc_jit_compile_vmath(&d);
    assert_non_null(j);
    enum { N = 1 << 18 };
    double *x = malloc(N * sizeof *x);
    struct alc_rng r;
    alc_rng_seed(&r, 1);
    /* log: |bits| uniform over positive doubles, and near 1 */
    for (int i = 0; i < N; i++) {
        uint64_t b = alc_rng_u64(&r) & 0x7fffffffffffffffull;
        memcpy(&x[i], &b, sizeof b);
        if (!isfinite(x[i]) || i % 4 == 0) {
            x[i] = 1.0 + (alc_rng_double(&r) - 0.5) * 1e-3 * (i % 7);
        }
    }
    double wl = check_vfn(alc_jit_vmath(j, ALC_VFN_LOG), log, x, N, "log");
    /* exp: over [-750, 720] and small arguments */
    for (int i = 0; i < N; i++) {
        x[i] = i % 3 ? (alc_rng_double(&r) - 0.5) * 1470.0 - 15.0
                     : (alc_rng_double(&r) - 0.5) * 1e-3 * (i % 11);
    }
    double we = check_vfn(alc_jit_vmath(j, ALC_VFN_EXP), exp, x, N, "exp");
    /* log1p on [0, 1e9] with many tiny arguments */
    for (int i = 0; i < N; i++) {
        x[i] = exp((alc_rng_double(&r) - 0.8) * 60.0);
    }
    double wp =
        check_vfn(alc_jit_vmath(j, ALC_VFN_LOG1P), log1p, x, N, "log1p");
    print_message("vmath worst error: log %.3f, exp %.3f, log1p %.3f ulp\n", wl,
                  we, wp);
    static const double sp[16] = {
        0.0,    -0.0,   -1.0,      INFINITY,  -INFINITY,
        NAN,    1.0,    0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp1023,
        709.78, 709.79, -745.1,    -745.2,    -0x1p-1074,
        2.0};
    double y[16];
    alc_jit_vmath(j, ALC_VFN_LOG)(sp, y, 16);
    for (int i = 0; i < 16; i++) {
        assert_true(same_bits(y[i], log(sp[i])));
    }
    alc_jit_vmath(j, ALC_VFN_EXP)(sp, y, 16);
    for (int i = 0; i < 16; i++) {
        assert_true(ulp_diff(y[i], exp(sp[i])) <= 1.0);
        assert_true(isnan(y[i]) == isnan(exp(sp[i])));
    }
    free(x);
    alc_jit_free(j);
    alc_diag_free(&d);
}

/* ---- Conditioning, quantile, errors ---- */

/* Variance of data with mean 1e8 and spread 1e-2: single-pass shifted
 * sums agree with the interpreter's compensated two-pass variance to
 * 1e-9. */
static void test_jit_var_large_mean(void **state)
{
    struct alc_rng r;
    alc_rng_seed(&r, 17);
    struct fx_units f;
    fx_units_make(&f, &r, 3, 2, 300, 500, ALC_DT_F32, 0.0);
    struct alc_ir ir;
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WEIGHT);
    int s = K(&ir, 1e-2);
    int big = K(&ir, 1e8);
    int x = OP2(&ir, ALC_OP_ADD, big, OP2(&ir, ALC_OP_MUL, s, w));
    int v = OP1(&ir, ALC_OP_VAR, x);
    int sd = OP1(&ir, ALC_OP_STD, x);
    ir.sparsity = OP2(&ir, ALC_OP_ADD, v, sd);
    check_program(&ir, &f.units, 1e-9, 0);
    alc_ir_free(&ir);
    fx_units_free(&f);
}

/* quantile materialises each unit's values and selects; q from a param
 * and from a pass-1 result. */
static void test_jit_quantile(void **state)
{
    struct alc_rng r;
    alc_rng_seed(&r, 23);
    struct fx_units f;
    fx_units_make(&f, &r, 4, 3, 60, 70, -1, 0.0);
    struct alc_ir ir;
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WANDA);
    int q = PARAM(&ir, "q", 0.3);
    int a = OP2(&ir, ALC_OP_QUANTILE, w, q);
    int m = OP1(&ir, ALC_OP_MEAN, IN(&ir, ALC_IN_ACT));
    int mm = OP1(&ir, ALC_OP_MEAN, m);
    int q2 = OP2(&ir, ALC_OP_DIV, mm, K(&ir, 4.0));
    int wt = IN(&ir, ALC_IN_WEIGHT);
    int b = OP2(&ir, ALC_OP_QUANTILE, wt, q2);
    ir.sparsity = OP2(&ir, ALC_OP_ADD, a, b);
    check_program(&ir, &f.units, 0.0, 0);
    alc_ir_free(&ir);
    fx_units_free(&f);
}

/* A program reading wanda over units without act vectors is an error
 * naming the unit, not a crash. */
static void test_jit_missing_act_is_error(void **state)
{
    struct alc_ir ir;
    struct alc_diag d;
    alc_ir_init(&ir);
    irb_dsa(&ir);
    struct alc_jit *j = compile_or_fail(&ir, NULL);
    float w[4] = {1, 2, 3, 4};
    struct alc_mat_view mv = {w, ALC_DT_F32, 2, 2, NULL, 1, 1, "q_proj"};
    struct alc_unit_view uv = {&mv, 1, 0, "block 0"};
    struct alc_units U = {&uv, 1};
    struct alc_eval_opts o = {.S = 0.5};
    double sp[1];
    struct alc_eval_out out = {.sparsity = sp};
    alc_diag_init(&d);
    assert_int_equal(alc_jit_evaluate(j, &U, &o, NULL, &out, &d), -1);
    assert_non_null(strstr(alc_diag_text(&d), "q_proj"));
    assert_non_null(strstr(alc_diag_text(&d), "block 0"));
    alc_diag_free(&d);
    alc_jit_free(j);
    alc_ir_free(&ir);
}

/* ---- Memory ---- */

static long rss_kb(void)
{
    long pages = 0, res = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp == NULL) {
        return -1;
    }
    if (fscanf(fp, "%ld %ld", &pages, &res) != 2) {
        res = -1;
    }
    fclose(fp);
    return res * 4;
}

/* A new structure each time (the constant differs). */
static struct alc_jit *compile_nth(int i)
{
    struct alc_ir ir;
    struct alc_jit_opts o = {.dtypes = 1u << ALC_DT_BF16};
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WANDA);
    int k = K(&ir, 1.0 + i);
    int m = OP2(&ir, ALC_OP_MUL, w, k);
    int x = OP1(&ir, ALC_OP_LOG, m);
    int v = OP1(&ir, ALC_OP_VAR, x);
    int e = OP1(&ir, ALC_OP_ENTROPY, x);
    ir.sparsity = OP2(&ir, ALC_OP_ADD, v, e);
    struct alc_jit *j = compile_or_fail(&ir, &o);
    alc_ir_free(&ir);
    return j;
}

/* Compiling and freeing many distinct functions (as a search does) leaves
 * the resident size flat: the JIT's code is released with the state. The
 * yardstick is the growth per compilation when nothing is freed. */
static void test_jit_compile_release_flat_rss(void **state)
{
    enum { WARM = 40, CYCLES = 160, KEPT = 40 };
    struct alc_jit *kept[KEPT];
    for (int i = 0; i < WARM; i++) {
        alc_jit_free(compile_nth(i));
    }
    long r0 = rss_kb();
    for (int i = 0; i < CYCLES; i++) {
        alc_jit_free(compile_nth(WARM + i));
    }
    long r1 = rss_kb();
    for (int i = 0; i < KEPT; i++) {
        kept[i] = compile_nth(WARM + CYCLES + i);
    }
    long r2 = rss_kb();
    for (int i = 0; i < KEPT; i++) {
        alc_jit_free(kept[i]);
    }
    double per = (double)(r2 - r1) / KEPT;
    print_message("RSS: +%ld kB over %d compile/free cycles; %.1f kB per "
                  "compilation kept\n",
                  r1 - r0, CYCLES, per);
    assert_true(per > 0);
    /* freed cycles must grow less than a tenth of what keeping would */
    assert_true((double)(r1 - r0) < 0.1 * per * CYCLES);
}

/* ---- Through alloc.c: cache and dispatch ---- */

/* OWL with another default for M: same structure, same hash. */
static void owl_with_m(struct alc_ir *ir, double m)
{
    alc_ir_init(ir);
    irb_owl(ir);
    ir->params[0].value = m;
}

/* Compiling a structure again is a cache hit (no compilation, 0 s); a
 * param's default is not part of the structure, and evaluation reads the
 * defaults of the IR it was given; a new constant is a new structure. */
static void test_jit_cache_hit(void **state)
{
    struct alc_ir a, b, c;
    struct alc_diag d;
    alc_diag_init(&d);
    owl_with_m(&a, 5.0);
    owl_with_m(&b, 2.0);
    owl_with_m(&c, 5.0);
    c.nodes[ir_find_const(&c, 2.0)].u.k = 3.0; /* another structure */
    struct alc_compiled *ca = alc_compile(&a, ALC_BE_LLVM, &d);
    struct alc_compiled *cb = alc_compile(&b, ALC_BE_LLVM, &d);
    struct alc_compiled *cc = alc_compile(&c, ALC_BE_LLVM, &d);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cc);
    assert_false(alc_compiled_cache_hit(ca));
    assert_true(alc_compiled_compile_seconds(ca) > 0.0);
    assert_true(alc_compiled_cache_hit(cb));
    assert_true(alc_compiled_compile_seconds(cb) == 0.0);
    assert_false(alc_compiled_cache_hit(cc));
    /* b evaluates with its own M = 2 on the shared code: same as the
     * interpreter with M = 2, different from a */
    struct alc_rng r;
    alc_rng_seed(&r, 8);
    struct fx_units f;
    fx_units_make(&f, &r, 4, 2, 30, 80, ALC_DT_BF16, 0.0);
    double sa[4], sb[4], si[4];
    double *nb = calloc((size_t)alc_compiled_ir(cb)->n_nodes * 4, 8);
    struct alc_eval_opts o = {.S = 0.6};
    struct alc_eval_out oa = {.sparsity = sa}, ob = {.sparsity = sb};
    assert_int_equal(alc_evaluate(ca, &f.units, &o, &oa, &d), 0);
    assert_int_equal(alc_evaluate(cb, &f.units, &o, &ob, &d), 0);
    fx_interp_eval(alc_compiled_ir(cb), &f.units, 0.6, NULL, si, nb);
    for (int u = 0; u < 4; u++) {
        assert_close(sb[u], si[u], 1e-12);
    }
    assert_true(memcmp(sa, sb, sizeof sa) != 0);
    free(nb);
    alc_compiled_free(ca);
    alc_compiled_free(cb);
    alc_compiled_free(cc);
    fx_units_free(&f);
    alc_ir_free(&a);
    alc_ir_free(&b);
    alc_ir_free(&c);
    alc_diag_free(&d);
}

struct compile_job {
    int first, n, failures;
};

static void *compile_thread(void *arg)
{
    struct compile_job *job = arg;
    for (int i = job->first; i < job->first + job->n; i++) {
        struct alc_jit *j = compile_nth(1000 + i);
        struct alc_rng r;
        struct fx_units f;
        double sp[3], nodes[3 * 64];
        alc_rng_seed(&r, (uint64_t)i);
        fx_units_make(&f, &r, 3, 1, 10, 40, ALC_DT_BF16, 0.0);
        struct alc_eval_opts o = {.S = 0.5, .n_threads = 1};
        struct alc_eval_out out = {.sparsity = sp, .nodes = nodes};
        struct alc_diag d;
        alc_diag_init(&d);
        job->failures += alc_jit_evaluate(j, &f.units, &o, NULL, &out, &d);
        job->failures += !isfinite(sp[0]);
        alc_diag_free(&d);
        fx_units_free(&f);
        alc_jit_free(j);
    }
    return NULL;
}

/* Several threads compiling, evaluating and freeing different functions
 * at the same time. */
static void test_jit_concurrent_compiles(void **state)
{
    pthread_t t[3];
    struct compile_job jobs[3] = {{0, 15, 0}, {15, 15, 0}, {30, 15, 0}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, compile_thread, &jobs[i]),
                         0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].failures, 0);
    }
}

/* ---- Logs by table (jit_logw.c, jit_codegen.c) ---- */

/* Error of x against the exact y, in ulps of y rounded to double. */
static double ulps_exact(double x, long double y)
{
    double r = (double)y;
    double u = nextafter(fabs(r), INFINITY) - fabs(r);
    return (double)(fabsl((long double)x - y) / u);
}

static double ulp_of(double x)
{
    double a = fabs(x);
    return isfinite(a) ? nextafter(a, INFINITY) - a : 0.0;
}

/* Every table entry: F16's are libm's log|w| (the interpreter's function),
 * bit for bit; BF16's are libm's for zeros, subnormals, inf and NaN, and
 * within 1 ulp of the exact log (logl, 64-bit significand, as the
 * independent reference) for the 32512 normal values. */
static void test_jit_logw_tables(void **state)
{
    const double *f16 = alc_logw_table(ALC_DT_F16);
    const double *bf = alc_logw_table(ALC_DT_BF16);
    double worst = 0.0;
    int not_cr = 0;
    assert_null(alc_logw_table(ALC_DT_F32));
    for (unsigned v = 0; v < 32768; v++) {
        double x16 = (double)alc_f16_to_f32((uint16_t)v);
        double xb = (double)alc_bf16_to_f32((uint16_t)v);
        unsigned e = v >> 7;
        if (!same_bits(f16[v], log(x16))) {
            fail_msg("F16 0x%04x: table %a, log %a", v, f16[v], log(x16));
        }
        if (e == 0 || e == 255) {
            assert_true(same_bits(bf[v], log(xb)));
            continue;
        }
        long double ex = logl((long double)xb);
        worst = fmax(worst, ulps_exact(bf[v], ex));
        not_cr += bf[v] != (double)ex;
    }
    print_message("BF16 log|w| table: worst %.3f ulp, %d of 32512 normal "
                  "values not correctly rounded\n",
                  worst, not_cr);
    /* jit_logw.c's formula: measured 0.9 ulp at most; 1 ulp is its
     * documented bound */
    assert_true(worst < 1.0);
}

/* Units of one 1x1 matrix of a 16-bit dtype each: every weight pattern
 * of w with every act value of a. */
struct single16 {
    struct alc_unit_view *uv;
    struct alc_mat_view *mv;
    uint16_t *w;
    float *act;
    struct alc_units units;
};

static void single16_init(struct single16 *s, enum alc_dtype dt,
                          const uint16_t *w, int nw, const float *a, int na)
{
    int n = nw * na;
    s->uv = calloc((size_t)n, sizeof *s->uv);
    s->mv = calloc((size_t)n, sizeof *s->mv);
    s->w = calloc((size_t)n, sizeof *s->w);
    s->act = calloc((size_t)n, sizeof *s->act);
    for (int i = 0; i < n; i++) {
        s->w[i] = w[i / na];
        s->act[i] = a[i % na];
        s->mv[i] = (struct alc_mat_view){&s->w[i],   dt,  1,   1,
                                         &s->act[i], 1.0, 1.0, NULL};
        s->uv[i] = (struct alc_unit_view){&s->mv[i], 1, i, NULL};
    }
    s->units = (struct alc_units){s->uv, n};
}

static void single16_free(struct single16 *s)
{
    free(s->uv);
    free(s->mv);
    free(s->w);
    free(s->act);
}

/* F16 and BF16 specials: +-0, +-inf, +-NaN, smallest and largest
 * subnormal, smallest normal, +-1, 0.5, largest finite, two others. */
static const uint16_t special_f16[] = {
    0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x0001, 0x03ff,
    0x0400, 0x3c00, 0xbc00, 0x3800, 0x7bff, 0x3555, 0xc4d2,
};
static const uint16_t special_bf16[] = {
    0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x0001, 0x007f,
    0x0080, 0x3f80, 0xbf80, 0x3f00, 0x7f7f, 0x3eab, 0xc09a,
};
/* act: +-0, +-inf, NaN, negative, negative subnormal, smallest
 * subnormal, tiny, ordinary, huge, largest finite. */
static const float special_act16[] = {
    0.0f,   -0.0f, INFINITY, -INFINITY, NAN,  -1.5f, -1e-40f,       1e-45f,
    1e-30f, 0.5f,  1.0f,     2.0f,      3.7f, 1e30f, 3.4028235e38f,
};
#define N_SP16 ((int)(sizeof special_f16 / sizeof special_f16[0]))
#define N_SPA16 ((int)(sizeof special_act16 / sizeof special_act16[0]))

enum { LOGF_WANDA, LOGF_WEIGHT, LOGF_ACT, LOGF_OTHER };

/* The forms of the specials test: the IR of `max(form)` over a 1x1 unit,
 * i.e. one evaluation of the form; *reads says which logs it adds. */
static int logw_form(struct alc_ir *ir, int k, int *reads)
{
    int w = IN(ir, ALC_IN_WANDA), wt = IN(ir, ALC_IN_WEIGHT);
    int a = IN(ir, ALC_IN_ACT), zero = K(ir, 0.0), one = K(ir, 1.0);
    int x = -1;
    *reads = LOGF_WANDA;
    switch (k) {
    case 0: /* log(wanda) */
        x = w;
        break;
    case 1: /* log|wanda| */
        x = OP1(ir, ALC_OP_ABS, w);
        break;
    case 2: /* log|-wanda| */
        x = OP1(ir, ALC_OP_ABS, OP1(ir, ALC_OP_NEG, w));
        break;
    case 3: /* DSA's ABSLOG as dsa.alloc writes it */
        x = OP1(ir, ALC_OP_ABS,
                OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_EQ, w, zero), one, w));
        break;
    case 4: /* ... and as ir_build.h's irb_dsa does */
        x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_EQ, w, zero), one,
                OP1(ir, ALC_OP_ABS, w));
        break;
    case 5: /* log(where(wanda != 0, wanda, 2.5)) */
        x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_NE, w, zero), w, K(ir, 2.5));
        break;
    case 6: /* log(weight) */
        *reads = LOGF_WEIGHT;
        x = wt;
        break;
    case 7: /* log|weight| */
        *reads = LOGF_WEIGHT;
        x = OP1(ir, ALC_OP_ABS, wt);
        break;
    case 8: /* log(where(weight == 0, 1, weight)) */
        *reads = LOGF_WEIGHT;
        x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_EQ, wt, zero), one, wt);
        break;
    case 9: /* log(act), log|act| */
        *reads = LOGF_ACT;
        x = a;
        break;
    case 10:
        *reads = LOGF_ACT;
        x = OP1(ir, ALC_OP_ABS, a);
        break;
    default: /* log(where(act > 1, wanda, p)), a param branch */
        *reads = LOGF_OTHER;
        x = OP3(ir, ALC_OP_WHERE, OP2(ir, ALC_OP_GT, a, one), w,
                PARAM(ir, "p", 0.375));
        break;
    }
    return OP1(ir, ALC_OP_MAX, OP1(ir, ALC_OP_LOG, x));
}
#define N_LOGW_FORMS 12

/* got (JIT) against want (interpreter) for weight w and act a of a form
 * reading `reads`: same NaN and inf positions always; act's logs bit for
 * bit (ops.c's log); F16's log|w| bit for bit; otherwise within 1 ulp of
 * log|w| + 1/2 ulp of log|act| + 1 ulp of the result (the sum's rounding
 * and the interpreter's own), jit_codegen.c's bound. */
static void check_logw_value(double got, double want, double w, double a,
                             int reads, enum alc_dtype dt, const char *what)
{
    double lw = log(fabs(w)), la = log(fabs(a));
    if (same_bits(got, want)) {
        return;
    }
    int exact = reads == LOGF_ACT || (reads == LOGF_WEIGHT && dt == ALC_DT_F16);
    double tol = reads == LOGF_ACT ? 0.0
                 : reads == LOGF_WEIGHT
                     ? ulp_of(lw) + ulp_of(want)
                     : ulp_of(lw) + 0.5 * ulp_of(la) + ulp_of(want);
    if (exact || !isfinite(got) || !isfinite(want) || fabs(got - want) > tol) {
        fail_msg("%s, dtype %d, w %a, act %a: jit %a, interpreter %a", what, dt,
                 w, a, got, want);
    }
}

/* Every form of log through the tables on every special weight of each
 * 16-bit dtype times every special act: NaN and inf where the
 * interpreter has them, the values within the bound of check_logw_value.
 * Compared at unit level through max(), one element per unit. */
static void test_jit_logw_specials(void **state)
{
    for (int dt = ALC_DT_F16; dt <= ALC_DT_BF16; dt++) {
        struct single16 s;
        single16_init(&s, (enum alc_dtype)dt,
                      dt == ALC_DT_F16 ? special_f16 : special_bf16, N_SP16,
                      special_act16, N_SPA16);
        int L = s.units.n_units;
        for (int k = 0; k < N_LOGW_FORMS; k++) {
            struct alc_ir ir;
            int reads = 0;
            char what[32];
            alc_ir_init(&ir);
            ir.sparsity = logw_form(&ir, k, &reads);
            struct alc_jit *j = compile_or_fail(&ir, NULL);
            const struct alc_ir *c = alc_jit_ir(j);
            double *sp = calloc((size_t)L, sizeof *sp);
            double *want = calloc((size_t)L, sizeof *want);
            double *nodes = calloc((size_t)c->n_nodes * L, sizeof *nodes);
            eval_or_fail(j, &s.units, 2, sp, nodes);
            fx_interp_eval(c, &s.units, 0.5, NULL, want, nodes);
            snprintf(what, sizeof what, "form %d", k);
            for (int u = 0; u < L; u++) {
                double w = fx_weight(&s.mv[u], 0), a = s.act[u];
                int r = reads == LOGF_OTHER ? (a > 1 ? LOGF_WANDA : LOGF_ACT)
                                            : reads;
                if (reads == LOGF_OTHER && !(a > 1)) {
                    /* log of the param (read at run time: the vector log,
                     * 1 ulp), or NaN for a NaN act */
                    assert_close(sp[u], want[u], 1e-15);
                    continue;
                }
                check_logw_value(sp[u], want[u], w, a, r, (enum alc_dtype)dt,
                                 what);
            }
            free(sp);
            free(want);
            free(nodes);
            alc_jit_free(j);
            alc_ir_free(&ir);
        }
        single16_free(&s);
    }
}

/* Every 16-bit magnitude (and its negation) of each dtype, paired with
 * acts from 1e-30 to 1e30 in turn, through log(wanda), log|wanda| and
 * log(weight): the bound of check_logw_value on all of them. */
static void test_jit_logw_all_values(void **state)
{
    static const float acts[] = {1e-30f, 0.001f, 0.37f, 1.0f,
                                 2.5f,   913.0f, 1e30f};
    enum { N = 65536, NA = (int)(sizeof acts / sizeof acts[0]) };
    static const int forms[] = {0, 1, 6};
    for (int dt = ALC_DT_F16; dt <= ALC_DT_BF16; dt++) {
        struct single16 s;
        uint16_t *w = malloc(N * sizeof *w);
        for (int v = 0; v < N; v++) {
            w[v] = (uint16_t)v;
        }
        /* unit v * NA + k: weight v, act k; keep every NA-th pairing */
        single16_init(&s, (enum alc_dtype)dt, w, N, acts, NA);
        for (int i = 0; i < N; i++) {
            s.uv[i] = s.uv[i * NA + i % NA];
        }
        s.units.n_units = N;
        for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
            struct alc_ir ir;
            int reads = 0;
            alc_ir_init(&ir);
            ir.sparsity = logw_form(&ir, forms[k], &reads);
            struct alc_jit *j = compile_or_fail(&ir, NULL);
            const struct alc_ir *c = alc_jit_ir(j);
            double *sp = calloc(N, sizeof *sp), *want = calloc(N, sizeof *sp);
            double *nodes = calloc((size_t)c->n_nodes * N, sizeof *nodes);
            eval_or_fail(j, &s.units, 2, sp, nodes);
            fx_interp_eval(c, &s.units, 0.5, NULL, want, nodes);
            for (int u = 0; u < N; u++) {
                const struct alc_mat_view *m = s.uv[u].mats;
                check_logw_value(sp[u], want[u], fx_weight(m, 0),
                                 (double)m->act[0], reads, (enum alc_dtype)dt,
                                 "all values");
            }
            free(sp);
            free(want);
            free(nodes);
            alc_jit_free(j);
            alc_ir_free(&ir);
        }
        single16_free(&s);
        free(w);
    }
}

/* Forms over wide BF16 and F16 matrices (blocks of 64 in registers,
 * with zeros patched, gathered blocks with specials, the unrolled loop,
 * the masked tail):
 * ALC_JIT_LOGW_AUTO and _GATHER give the same bits, both agree with the
 * interpreter within 1e-12 (sums of ~1-ulp logs), and the generated code
 * uses the path it should. */
static void test_jit_logw_blocks(void **state)
{
    struct alc_rng r;
    alc_rng_seed(&r, 64);
    for (int set = 0; set < 3; set++) {
        int dt = set == 0 ? ALC_DT_F16 : ALC_DT_BF16;
        struct fx_units f;
        /* set 0, 1: 0.05% specials, one block in five takes the gathers;
         * set 2: 2% zeros only, every other block is patched */
        fx_units_make(&f, &r, 4, 3, 9, 300, dt, set < 2 ? 0.0005 : 0.0);
        for (int m = 0; set == 2 && m < f.n_mats; m++) {
            uint16_t *h = f.w[m];
            for (int64_t i = 0; i < f.mv[m].rows * f.mv[m].cols; i++) {
                if (alc_rng_below(&r, 50) == 0) { /* +0 or -0 */
                    h[i] = (uint16_t)(alc_rng_below(&r, 2) << 15);
                }
            }
        }
        struct alc_ir ir;
        alc_ir_init(&ir);
        irb_dsa(&ir);
        int w = IN(&ir, ALC_IN_WANDA), wt = IN(&ir, ALC_IN_WEIGHT);
        int a = IN(&ir, ALC_IN_ACT), one = K(&ir, 1.0);
        int t = OP1(&ir, ALC_OP_MEAN, OP1(&ir, ALC_OP_LOG, w));
        t = OP2(&ir, ALC_OP_ADD, t,
                OP1(&ir, ALC_OP_VAR,
                    OP1(&ir, ALC_OP_LOG, OP1(&ir, ALC_OP_ABS, wt))));
        t = OP2(&ir, ALC_OP_ADD, t, OP1(&ir, ALC_OP_ENTROPY, w));
        t = OP2(&ir, ALC_OP_ADD, t,
                OP1(&ir, ALC_OP_GEOMEAN, OP1(&ir, ALC_OP_ABS, wt)));
        int br =
            OP3(&ir, ALC_OP_WHERE, OP2(&ir, ALC_OP_GT, a, one), w, K(&ir, 2.5));
        t = OP2(&ir, ALC_OP_ADD, t,
                OP1(&ir, ALC_OP_MAX, OP1(&ir, ALC_OP_LOG, br)));
        ir.sparsity = OP2(&ir, ALC_OP_ADD, ir.sparsity, t);
        check_program(&ir, &f.units, 1e-12, 0);
        struct alc_jit_opts og = {.logw = ALC_JIT_LOGW_GATHER};
        struct alc_jit *ja = compile_or_fail(&ir, NULL);
        struct alc_jit *jg = compile_or_fail(&ir, &og);
        int N = alc_jit_ir(ja)->n_nodes, L = f.units.n_units;
        double *sp = calloc((size_t)L * 2, sizeof *sp);
        double *nd = calloc((size_t)N * L * 2, sizeof *nd);
        eval_or_fail(ja, &f.units, 2, sp, nd);
        eval_or_fail(jg, &f.units, 1, sp + L, nd + (size_t)N * L);
        assert_memory_equal(nd, nd + (size_t)N * L, (size_t)N * L * 8);
        alc_jit_free(ja);
        alc_jit_free(jg);
        free(sp);
        free(nd);
        alc_ir_free(&ir);
        fx_units_free(&f);
    }
}

/* The code reads BF16's log|w| in registers exactly on AVX-512 VBMI
 * hosts (AUTO), gathers it otherwise and for F16, and OFF keeps the
 * vector log. */
static void test_jit_logw_emit(void **state)
{
    static const char perm[] = "llvm.x86.avx512.vpermi2var.qi.512";
    static const char gather[] = "llvm.masked.gather";
    struct alc_ir ir;
    struct alc_sb sb;
    struct alc_diag d;
    alc_ir_init(&ir);
    irb_dsa(&ir);
    alc_sb_init(&sb);
    alc_diag_init(&d);
    struct alc_jit_opts o = {.dtypes = 1u << ALC_DT_BF16};
    assert_int_equal(alc_jit_emit(&ir, &o, ALC_JIT_EMIT_IR, &sb, &d), 0);
    int in_reg = strstr(alc_sb_str(&sb), perm) != NULL;
    assert_int_equal(in_reg, alc_jit_logw_in_registers());
    assert_non_null(strstr(alc_sb_str(&sb), gather));
    assert_null(strstr(alc_sb_str(&sb), "fdiv <8 x double>"));
    if (!in_reg) {
        print_message("no AVX-512 VBMI here: BF16 blocks in registers not "
                      "tested\n");
    }
    o.logw = ALC_JIT_LOGW_GATHER;
    alc_sb_reset(&sb);
    assert_int_equal(alc_jit_emit(&ir, &o, ALC_JIT_EMIT_IR, &sb, &d), 0);
    assert_null(strstr(alc_sb_str(&sb), perm));
    o.logw = ALC_JIT_LOGW_OFF;
    alc_sb_reset(&sb);
    assert_int_equal(alc_jit_emit(&ir, &o, ALC_JIT_EMIT_IR, &sb, &d), 0);
    assert_null(strstr(alc_sb_str(&sb), gather));
    assert_non_null(strstr(alc_sb_str(&sb), "fdiv <8 x double>"));
    struct alc_jit_opts f16 = {.dtypes = 1u << ALC_DT_F16};
    alc_sb_reset(&sb);
    assert_int_equal(alc_jit_emit(&ir, &f16, ALC_JIT_EMIT_IR, &sb, &d), 0);
    assert_non_null(strstr(alc_sb_str(&sb), gather));
    assert_null(strstr(alc_sb_str(&sb), perm));
    alc_sb_free(&sb);
    alc_diag_free(&d);
    alc_ir_free(&ir);
}

/* ---- Generated code ---- */

/* The DSA kernel is vectorised: <8 x double> arithmetic and no call of
 * the per-lane helper in the optimised IR; in libm mode, the call is
 * there. */
static void test_jit_emit_vectorised(void **state)
{
    struct alc_ir ir;
    struct alc_sb sb;
    struct alc_diag d;
    alc_ir_init(&ir);
    irb_dsa(&ir);
    alc_sb_init(&sb);
    alc_diag_init(&d);
    assert_int_equal(alc_jit_emit(&ir, NULL, ALC_JIT_EMIT_IR, &sb, &d), 0);
    assert_non_null(strstr(alc_sb_str(&sb), "fdiv <8 x double>"));
    assert_null(strstr(alc_sb_str(&sb), "call void @alc_jit_vmap"));
    alc_sb_reset(&sb);
    struct alc_jit_opts o = {.libm = 1};
    assert_int_equal(alc_jit_emit(&ir, &o, ALC_JIT_EMIT_IR, &sb, &d), 0);
    assert_non_null(strstr(alc_sb_str(&sb), "call void @alc_jit_vmap"));
    alc_sb_reset(&sb);
    assert_int_equal(alc_jit_emit(&ir, NULL, ALC_JIT_EMIT_ASM, &sb, &d), 0);
    assert_non_null(strstr(alc_sb_str(&sb), "vdivpd"));
    alc_sb_free(&sb);
    alc_diag_free(&d);
    alc_ir_free(&ir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jit_map_ops_exact),
        cmocka_unit_test(test_jit_reductions_vs_ref),
        cmocka_unit_test(test_jit_owl_dsa_vs_ref),
        cmocka_unit_test(test_jit_fm_moments),
        cmocka_unit_test(test_jit_fm_far_k),
        cmocka_unit_test(test_jit_dtype_conversions),
        cmocka_unit_test(test_jit_specials_mixed_dtypes),
        cmocka_unit_test(test_jit_threads_bit_identical),
        cmocka_unit_test(test_jit_vmath_vs_libm),
        cmocka_unit_test(test_jit_var_large_mean),
        cmocka_unit_test(test_jit_quantile),
        cmocka_unit_test(test_jit_missing_act_is_error),
        cmocka_unit_test(test_jit_compile_release_flat_rss),
        cmocka_unit_test(test_jit_emit_vectorised),
        cmocka_unit_test(test_jit_logw_tables),
        cmocka_unit_test(test_jit_logw_specials),
        cmocka_unit_test(test_jit_logw_all_values),
        cmocka_unit_test(test_jit_logw_blocks),
        cmocka_unit_test(test_jit_logw_emit),
        cmocka_unit_test(test_jit_cache_hit),
        cmocka_unit_test(test_jit_concurrent_compiles),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
