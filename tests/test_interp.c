/*
 * test_interp.c: the reference interpreter (alc_backend_interp) against
 * values computed independently here: every map op on chosen points
 * (closed forms, IEEE edge cases) at element and model level, every
 * reduction and rank on tiny units with hand-computed results, the
 * inputs and dtypes, errors for inputs the units cannot supply, every
 * stdlib allocation on small hand-computed units (AlphaPruning against
 * the sparsities derived from its published alpha values), determinism,
 * and alc_explain on DSA's function where it is undefined.
 */
#include "alc_test.h"

#include "front.h"
#include "backend.h"
#include "interp.h"

/* ---- Fixtures ---- */

#define MAX_MATS 8

/* Units built from float arrays (F32 weights), for the tests. */
struct tunits {
    struct alc_mat_view mats[16][MAX_MATS];
    struct alc_unit_view units[40];
    struct alc_units view;
};

static void tu_init(struct tunits *t)
{
    memset(t, 0, sizeof *t);
    t->view.units = t->units;
}

/* Adds a matrix (rows x cols, row-major w, act of cols or NULL) to unit u
 * (units are created in order). */
static void tu_mat(struct tunits *t, int u, const float *w, const float *act,
                   int rows, int cols)
{
    struct alc_unit_view *uv = &t->units[u];
    if (u >= t->view.n_units) {
        t->view.n_units = u + 1;
        uv->mats = t->mats[u % 16];
        uv->block = u;
    }
    struct alc_mat_view *m = &t->mats[u % 16][uv->n_mats++];
    m->w = w;
    m->dtype = ALC_DT_F32;
    m->rows = rows;
    m->cols = cols;
    m->act = act;
    m->alpha_peak = NAN;
    m->alpha_hill = NAN;
}

static const float ones[64] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

struct result {
    double sparsity[40];
    double score[40];
    double *nodes;
    struct alc_ir ir; /* compacted IR of the evaluation */
};

/* Compiles src and evaluates it over t; returns 0 or -1 with d filled. */
static int run(const char *src, const struct tunits *t, double S,
               const double *params, struct result *r, struct alc_diag *d)
{
    struct alc_arena a;
    struct alc_ir ir;
    struct alc_compiled *c = NULL;
    int rc = -1;
    alc_arena_init(&a, 0);
    alc_ir_init(&ir);
    alc_ir_init(&r->ir);
    r->nodes = NULL;
    struct alc_program *p = alc_front_load(&a, "test.alloc", src,
                                           strlen(src), d);
    if (p == NULL || alc_lower(p, &ir, d) != 0) {
        goto done;
    }
    c = alc_compile(&ir, ALC_BE_INTERP, d);
    if (c == NULL) {
        goto done;
    }
    const struct alc_ir *cir = alc_compiled_ir(c);
    r->nodes = malloc((size_t)cir->n_nodes * (size_t)t->view.n_units *
                      sizeof *r->nodes);
    struct alc_eval_opts opts = {S, params, 1};
    struct alc_eval_out out = {r->sparsity, r->score, r->nodes, 0};
    rc = alc_evaluate(c, &t->view, &opts, &out, d);
    alc_ir_compact(cir, &r->ir);
done:
    alc_compiled_free(c);
    alc_ir_free(&ir);
    alc_arena_free(&a);
    return rc;
}

static void result_free(struct result *r)
{
    free(r->nodes);
    alc_ir_free(&r->ir);
}

/* Evaluates src (which must succeed) over t. */
static void run_ok(const char *src, const struct tunits *t, double S,
                   const double *params, struct result *r)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (run(src, t, S, params, r, &d) != 0) {
        fail_msg("%s\n%s", src, alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* ---- Maps ---- */

struct map_case {
    const char *expr; /* over a, b, c */
    double a, b, c;
    double want;
};

/* Expected values are closed forms or IEEE rules, not the ops' C code. */
static const struct map_case map_cases[] = {
    {"-a", 2, 0, 0, -2},
    {"not a", 0, 0, 0, 1},
    {"not a", 3, 0, 0, 0},
    {"not a", NAN, 0, 0, NAN},
    {"abs(a)", -2.5, 0, 0, 2.5},
    {"log(a)", 1, 0, 0, 0},
    {"log(a)", 0, 0, 0, -INFINITY},
    {"log(a)", -1, 0, 0, NAN},
    {"exp(a)", 0, 0, 0, 1},
    {"exp(a)", 1000, 0, 0, INFINITY},
    {"sqrt(a)", 6.25, 0, 0, 2.5},
    {"sqrt(a)", -1, 0, 0, NAN},
    {"sin(a)", 0.5235987755982988, 0, 0, 0.5},
    {"cos(a)", 0, 0, 0, 1},
    {"tan(a)", 0.7853981633974483, 0, 0, 1},
    {"asin(a)", 0.5, 0, 0, 0.5235987755982989},
    {"asin(a)", 1.25, 0, 0, NAN},
    {"acos(a)", 0.5, 0, 0, 1.0471975511965979},
    {"acos(a)", -1.5, 0, 0, NAN},
    {"atan(a)", 1, 0, 0, 0.7853981633974483},
    {"sigmoid(a)", 0, 0, 0, 0.5},
    {"sigmoid(a)", -1000, 0, 0, 0},
    {"tanh(a)", 0, 0, 0, 0},
    {"softplus(a)", 0, 0, 0, 0.6931471805599453},
    {"softplus(a)", 30, 0, 0, 30},
    {"isnan(a)", NAN, 0, 0, 1},
    {"isnan(a)", INFINITY, 0, 0, 0},
    {"isinf(a)", -INFINITY, 0, 0, 1},
    {"isinf(a)", NAN, 0, 0, 0},
    {"a + b", 1.5, 2.25, 0, 3.75},
    {"a - b", 1.5, 2.25, 0, -0.75},
    {"a * b", 1.5, -2, 0, -3},
    {"a / b", 3, 4, 0, 0.75},
    {"a / b", 1, 0, 0, INFINITY},
    {"a / b", 0, 0, 0, NAN},
    {"a ^ b", 2, 10, 0, 1024},
    {"a ^ b", -8, 0.5, 0, NAN},
    {"a ^ b", 0, 0, 0, 1},
    {"a ^ b", NAN, 0, 0, 1},
    {"a < b", 1, 2, 0, 1},
    {"a < b", NAN, 2, 0, 0},
    {"a <= b", 2, 2, 0, 1},
    {"a > b", 1, 2, 0, 0},
    {"a >= b", NAN, NAN, 0, 0},
    {"a == b", 2, 2, 0, 1},
    {"a == b", NAN, NAN, 0, 0},
    {"a != b", NAN, NAN, 0, 1},
    {"a != b", 1, 1, 0, 0},
    {"a and b", 2, -1, 0, 1},
    {"a and b", 2, 0, 0, 0},
    {"a and b", 0, NAN, 0, NAN},
    {"a or b", 0, 0, 0, 0},
    {"a or b", 0, 3, 0, 1},
    {"a or b", NAN, 1, 0, NAN},
    {"min(a, b)", 1, 2, 0, 1},
    {"min(a, b)", NAN, 2, 0, NAN},
    {"max(a, b)", 1, 2, 0, 2},
    {"max(a, b)", 1, NAN, 0, NAN},
    {"where(a, b, c)", 1, 2, 3, 2},
    {"where(a, b, c)", 0, 2, 3, 3},
    {"where(a, b, c)", NAN, 2, 3, NAN},
    {"clamp(a, b, c)", 5, 0, 1, 1},
    {"clamp(a, b, c)", -5, 0, 1, 0},
    {"clamp(a, b, c)", 0.5, 0, 1, 0.5},
    {"clamp(a, b, c)", NAN, 0, 1, NAN},
};

/* Every map op, at model level (params) and element level (one weight). */
static void test_interp_maps(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof map_cases / sizeof map_cases[0]; i++) {
        const struct map_case *mc = &map_cases[i];
        char src[512];
        struct tunits t;
        struct result r;
        double params[3] = {mc->a, mc->b, mc->c};
        float w = (float)mc->a, act = (float)mc->b;
        tu_init(&t);
        tu_mat(&t, 0, &w, &act, 1, 1);
        /* model level: a, b, c are params (never folded) */
        snprintf(src, sizeof src,
                 "param a = 0 in [-1, 1]\nparam b = 0 in [-1, 1]\n"
                 "param c = 0 in [-1, 1]\nscore = %s\nsparsity = S\n",
                 mc->expr);
        run_ok(src, &t, 0.5, params, &r);
        if (!(isnan(mc->want) && isnan(r.score[0])) &&
            r.score[0] != mc->want) {
            assert_close(r.score[0], mc->want, 1e-15);
        }
        result_free(&r);
        /* element level: a = weight, b = act, c a param; sum of one */
        if (isnan(mc->a) == 0 && (double)w == mc->a &&
            (double)act == mc->b) {
            snprintf(src, sizeof src,
                     "param c = 0 in [-1, 1]\nlet a = weight\nlet b = act\n"
                     "score = sum(%s)\nsparsity = S\n", mc->expr);
            run_ok(src, &t, 0.5, params + 2, &r);
            assert_close(r.score[0], mc->want, 1e-15);
            result_free(&r);
        }
    }
}

/* ---- Reductions ---- */

struct red_case {
    const char *expr;
    double want;
};

/* weights 1 2 3 4 (2 x 2), act 1. */
static void test_interp_reductions(void **state)
{
    static const float w[4] = {1, 2, 3, 4};
    const double h = -(0.1 * log(0.1) + 0.2 * log(0.2) + 0.3 * log(0.3) +
                       0.4 * log(0.4));
    const struct red_case cases[] = {
        {"mean(weight)", 2.5},
        {"var(weight)", 5.0 / 3.0},
        {"std(weight)", sqrt(5.0 / 3.0)},
        {"sum(weight)", 10},
        {"min(weight)", 1},
        {"max(weight)", 4},
        {"l1(-weight)", 10},
        {"l2(weight)", sqrt(30.0)},
        {"meanabs(-weight)", 2.5},
        {"geomean(weight)", pow(24.0, 0.25)},
        {"entropy(weight)", h},
        {"entropy(weight - 2)", -(1.0 / 3 * log(1.0 / 3) +
                                  2.0 / 3 * log(2.0 / 3))},
        {"entropy(-weight)", NAN},
        {"entropy(weight * 0)", NAN},
        {"count(weight - 2)", 3},
        {"count(log(weight - 2))", 2},
        {"quantile(weight, 0.5)", 2.5},
        {"quantile(weight, 0.25)", 1.75},
        {"quantile(weight, 0)", 1},
        {"quantile(weight, 1)", 4},
        {"quantile(weight, 1.5)", NAN},
        {"mean(log(weight - 2))", NAN},
        {"min(log(weight - 2))", NAN},
        {"max(sqrt(weight - 2))", NAN},
        {"geomean(weight - 1)", 0},
        {"geomean(weight - 2)", NAN},
        {"var(weight * 0 + 7)", 0},
        {"sum(rows * cols)", 16},
        {"mean(wanda)", 2.5},
        {"mean(act)", 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        struct tunits t;
        struct result r;
        tu_init(&t);
        tu_mat(&t, 0, w, ones, 2, 2);
        snprintf(src, sizeof src, "score = %s\nsparsity = S\n",
                 cases[i].expr);
        run_ok(src, &t, 0.5, NULL, &r);
        if (isnan(cases[i].want) != isnan(r.score[0])) {
            fail_msg("%s = %g, want %g", cases[i].expr, r.score[0],
                     cases[i].want);
        }
        /* 1e-15: these closed forms are within a few ulps */
        assert_close(r.score[0], cases[i].want, 1e-15);
        result_free(&r);
    }
}

/* Reductions of layer values give one model value; var of one is NaN. */
static void test_interp_reduce_units(void **state)
{
    struct tunits t;
    struct result r;
    (void)state;
    tu_init(&t);
    for (int u = 0; u < 4; u++) {
        tu_mat(&t, u, ones, ones, 1, 1);
    }
    run_ok("score = var(layer) + 0 * layer\nsparsity = mean(layer) + "
           "max(layer) * 0\n",
           &t, 0.5, NULL, &r);
    for (int u = 0; u < 4; u++) {
        assert_close(r.score[u], 5.0 / 3.0, 1e-15);
        assert_close(r.sparsity[u], 1.5, 1e-15);
    }
    result_free(&r);
    tu_init(&t);
    tu_mat(&t, 0, ones, ones, 1, 1);
    run_ok("score = var(layer) + layer\nsparsity = S\n", &t, 0.5, NULL, &r);
    assert_true(isnan(r.score[0]));
    result_free(&r);
}

/* rank: 0-based, ties averaged, NaN stays NaN and is not ranked. */
static void test_interp_rank(void **state)
{
    static const float w[5][2] = {{3, 3}, {1, 1}, {3, 3}, {NAN, 1}, {2, 2}};
    struct tunits t;
    struct result r;
    const double want[5] = {2.5, 0, 2.5, NAN, 1};
    (void)state;
    tu_init(&t);
    for (int u = 0; u < 5; u++) {
        tu_mat(&t, u, w[u], ones, 1, 2);
    }
    run_ok("score = rank(mean(weight))\nsparsity = S\n", &t, 0.5, NULL, &r);
    for (int u = 0; u < 5; u++) {
        assert_close(r.score[u], want[u], 0);
    }
    result_free(&r);
}

/* ---- Inputs and dtypes ---- */

static void test_interp_inputs(void **state)
{
    static const float w0[6] = {1, -2, 3, -4, 5, -6}; /* 2 x 3 */
    static const float a0[3] = {0.5f, 2, 4};
    static const float w1[2] = {7, 8}; /* 2 x 1 */
    struct tunits t;
    struct result r;
    double params[1] = {3};
    (void)state;
    tu_init(&t);
    tu_mat(&t, 0, w0, a0, 2, 3);
    tu_mat(&t, 0, w1, ones, 2, 1);
    tu_mat(&t, 1, w1, ones, 1, 2);
    t.units[1].block = 7;
    t.mats[0][0].alpha_peak = 2;
    t.mats[0][1].alpha_peak = 3;
    t.mats[1][0].alpha_peak = 5;
    /* wanda = |w| act: 0.5 4 12 2 10 24 | 7 8 */
    run_ok("param k = 1 in [0, 4]\n"
           "score = sum(wanda) + 1000 * numel + 100000 * block\n"
           "sparsity = alpha_peak(weight) + 10 * layer + 100 * L + k * S\n",
           &t, 0.25, params, &r);
    assert_close(r.score[0], 0.5 + 4 + 12 + 2 + 10 + 24 + 7 + 8 + 8000,
                 1e-15);
    assert_close(r.score[1], 15 + 2000 + 700000, 1e-15);
    assert_close(r.sparsity[0], 2.5 + 0 + 200 + 0.75, 1e-15);
    assert_close(r.sparsity[1], 5 + 10 + 200 + 0.75, 1e-15);
    result_free(&r);
    run_ok("score = mean(rows * 10 + cols)\nsparsity = S\n", &t, 0.5, NULL,
           &r);
    assert_close(r.score[0], (6 * 23.0 + 2 * 21.0) / 8, 1e-15);
    result_free(&r);
}

/* F16 and BF16 weights convert exactly. */
static void test_interp_dtypes(void **state)
{
    static const uint16_t bf16[3] = {0x3fc0, 0xc040, 0x0001}; /* 1.5 -3 */
    static const uint16_t f16[3] = {0x3e00, 0xc200, 0x0001};  /* 1.5 -3 */
    struct tunits t;
    struct result r;
    (void)state;
    tu_init(&t);
    tu_mat(&t, 0, ones, ones, 1, 3);
    tu_mat(&t, 1, ones, ones, 1, 3);
    t.mats[0][0].w = bf16;
    t.mats[0][0].dtype = ALC_DT_BF16;
    t.mats[1][0].w = f16;
    t.mats[1][0].dtype = ALC_DT_F16;
    run_ok("score = sum(weight * 2 ^ 140)\nsparsity = S\n", &t, 0.5, NULL,
           &r);
    /* bf16 0x0001 = 2^-133; f16 0x0001 = 2^-24 */
    assert_close(r.score[0], (1.5 - 3) * ldexp(1, 140) + ldexp(1, 7), 0);
    assert_close(r.score[1], (1.5 - 3) * ldexp(1, 140) + ldexp(1, 116), 0);
    result_free(&r);
}

/* Missing act vectors or alpha statistics are errors naming the unit. */
static void test_interp_missing_inputs(void **state)
{
    struct tunits t;
    struct result r;
    struct alc_diag d;
    (void)state;
    tu_init(&t);
    tu_mat(&t, 0, ones, ones, 1, 2);
    tu_mat(&t, 1, ones, NULL, 1, 2);
    t.units[1].name = "block 1";
    t.mats[1][0].name = "mlp.up_proj";
    alc_diag_init(&d);
    assert_int_equal(run("sparsity = mean(wanda)\n", &t, 0.5, NULL, &r, &d),
                     -1);
    assert_string_equal(d.first,
                        "error: unit 1 (block 1), matrix 0 (mlp.up_proj) has "
                        "no activation norms (the program reads `wanda` or "
                        "`act`: calibrate first)");
    result_free(&r);
    alc_diag_reset(&d);
    assert_int_equal(run("sparsity = alpha_hill(weight)\n", &t, 0.5, NULL,
                         &r, &d),
                     -1);
    assert_non_null(strstr(d.first, "unit 0 (unnamed), matrix 0 (unnamed) "
                                     "has no alpha_hill"));
    result_free(&r);
    alc_diag_free(&d);
    /* a program that reads neither needs neither */
    run_ok("sparsity = mean(weight)\n", &t, 0.5, NULL, &r);
    assert_close(r.sparsity[1], 1, 0);
    result_free(&r);
}

/* The nodes table: layer values per unit, model values repeated,
 * element-level rows NaN; evaluation is deterministic. */
static void test_interp_nodes_and_determinism(void **state)
{
    static const float w[6] = {0.1f, 0.7f, 0.3f, 0.9f, 0.5f, 0.2f};
    struct tunits t;
    struct result r1, r2;
    (void)state;
    tu_init(&t);
    tu_mat(&t, 0, w, ones, 2, 3);
    tu_mat(&t, 1, w + 2, ones, 2, 2);
    const char *src = "let v = var(log(wanda))\nscore = v\n"
                      "sparsity = S + v - mean(v)\n";
    run_ok(src, &t, 0.5, NULL, &r1);
    run_ok(src, &t, 0.5, NULL, &r2);
    assert_memory_equal(r1.sparsity, r2.sparsity, 2 * sizeof(double));
    for (int i = 0; i < r1.ir.n_nodes; i++) {
        const double *v = r1.nodes + 2 * i;
        switch (r1.ir.nodes[i].level) {
        case ALC_LV_ELEM:
            assert_true(isnan(v[0]) && isnan(v[1]));
            break;
        case ALC_LV_MODEL:
            assert_memory_equal(&v[0], &v[1], sizeof(double));
            break;
        default:
            break;
        }
    }
    assert_close(r1.sparsity[0] + r1.sparsity[1], 1.0, 1e-15);
    result_free(&r1);
    result_free(&r2);
}

/* ---- stdlib allocations ---- */

/* Runs stdlib/<name> over t. */
static void run_stdlib(const char *name, const struct tunits *t, double S,
                       struct result *r)
{
    char path[4096];
    char *src = NULL;
    size_t len = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    snprintf(path, sizeof path, "%s/stdlib/%s", ALC_SOURCE_DIR, name);
    assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
    if (run(src, t, S, NULL, r, &d) != 0) {
        fail_msg("%s: %s", name, alc_diag_text(&d));
    }
    free(src);
    alc_diag_free(&d);
}

static void test_interp_stdlib_uniform_atp(void **state)
{
    struct tunits t;
    struct result r;
    (void)state;
    tu_init(&t);
    for (int u = 0; u < 4; u++) {
        tu_mat(&t, u, ones, ones, 2, 2);
    }
    run_stdlib("uniform.alloc", &t, 0.6, &r);
    for (int u = 0; u < 4; u++) {
        assert_close(r.sparsity[u], 0.6, 0);
    }
    result_free(&r);
    run_stdlib("atp.alloc", &t, 0.7, &r);
    /* beta = 0.01: 0.7 - 0.015 + 0.01 u */
    for (int u = 0; u < 4; u++) {
        assert_close(r.sparsity[u], 0.685 + 0.01 * u, 1e-15);
        assert_close(r.score[u], u, 0);
    }
    result_free(&r);
}

/* OWL: units of 20 weights with 1, 0 and 2 outliers of 1000 among ones:
 * LOD 0.05, 0, 0.1 (M = 5); minmax 0.5, 0, 1; r = 0.16 u, mean 0.08. */
static void test_interp_stdlib_owl(void **state)
{
    static float w[3][20];
    struct tunits t;
    struct result r;
    (void)state;
    for (int u = 0; u < 3; u++) {
        for (int i = 0; i < 20; i++) {
            w[u][i] = 1;
        }
    }
    w[0][7] = 1000;
    w[2][3] = -1000;
    w[2][19] = 1000;
    tu_init(&t);
    for (int u = 0; u < 3; u++) {
        tu_mat(&t, u, w[u], ones, 4, 5);
    }
    run_stdlib("owl.alloc", &t, 0.7, &r);
    const double lod[3] = {0.05, 0, 0.1};
    const double want[3] = {0.7, 0.78, 0.62};
    for (int u = 0; u < 3; u++) {
        assert_close(r.score[u], lod[u], 1e-15);
        assert_close(r.sparsity[u], want[u], 1e-14);
    }
    result_free(&r);
}

/* Two-pass unbiased variance, written out here independently. */
static double var_of(const double *x, int n)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) {
        m += x[i];
    }
    m /= n;
    for (int i = 0; i < n; i++) {
        s += (x[i] - m) * (x[i] - m);
    }
    return s / (n - 1);
}

/* DSA's README function and its atan variant on three units. */
static void test_interp_stdlib_dsa(void **state)
{
    static const float w[3][4] = {{1, 2, 0, 2}, {1, 4, -2, 1}, {3, 1, 1, 1}};
    double v[3], u[3], s[3];
    struct tunits t;
    struct result r;
    (void)state;
    tu_init(&t);
    for (int k = 0; k < 3; k++) {
        double l[4];
        tu_mat(&t, k, w[k], ones, 2, 2);
        for (int i = 0; i < 4; i++) {
            l[i] = w[k][i] == 0 ? 0.0 : log(fabs(w[k][i]));
        }
        v[k] = var_of(l, 4);
    }
    /* asin(atan(v)): all three variances are below tan(1) */
    double lo = 1e9, hi = -1e9;
    for (int k = 0; k < 3; k++) {
        s[k] = asin(atan(v[k]));
        lo = fmin(lo, s[k]);
        hi = fmax(hi, s[k]);
    }
    double mu = 0;
    for (int k = 0; k < 3; k++) {
        u[k] = (s[k] - lo) / (hi - lo);
        mu += u[k] / 3;
    }
    run_stdlib("dsa.alloc", &t, 0.7, &r);
    for (int k = 0; k < 3; k++) {
        assert_close(r.score[k], s[k], 1e-14);
        assert_close(r.sparsity[k], 0.7 + 0.16 * (u[k] - mu), 1e-14);
    }
    result_free(&r);
    run_stdlib("dsa_atan.alloc", &t, 0.7, &r);
    for (int k = 0; k < 3; k++) {
        assert_close(r.score[k], atan(v[k]), 1e-14);
    }
    result_free(&r);
    /* Norm -> Var -> Abs: the variance of a z-score is 1 up to rounding */
    run_stdlib("dsa_poster.alloc", &t, 0.7, &r);
    for (int k = 0; k < 3; k++) {
        assert_close(r.score[k], 1.0, 1e-14);
    }
    result_free(&r);
}

/* ER: density shape k = mean over elements of (rows + cols) / (rows cols);
 * the numel-weighted mean sparsity is S. */
static void test_interp_stdlib_er(void **state)
{
    struct tunits t;
    struct result r;
    (void)state;
    tu_init(&t);
    tu_mat(&t, 0, ones, ones, 4, 4);   /* 16 weights, (4+4)/16 = 0.5 */
    tu_mat(&t, 0, ones, ones, 2, 8);   /* 16 weights, 10/16 */
    tu_mat(&t, 1, ones, ones, 8, 8);   /* 64 weights, 16/64 */
    run_stdlib("er.alloc", &t, 0.8, &r);
    double k0 = (16 * 0.5 + 16 * 0.625) / 32, k1 = 0.25;
    double eps = 0.2 * 96 / (32 * k0 + 64 * k1);
    assert_close(r.score[0], k0, 1e-15);
    assert_close(r.score[1], k1, 1e-15);
    assert_close(r.sparsity[0], 1 - eps * k0, 1e-15);
    assert_close(r.sparsity[1], 1 - eps * k1, 1e-15);
    assert_close((32 * r.sparsity[0] + 64 * r.sparsity[1]) / 96, 0.8, 1e-15);
    result_free(&r);
}

/* AlphaPruning on LLaMA-7B's per-block mean alpha_peak (methods.md 6.3,
 * from the repository's data/llama-7b/alpha_peak.npy): at S = 0.7 and
 * eps = 0.2 the published-derived sparsities, printed to 3 decimals from
 * alphas printed to 3 decimals: tolerance 1e-3. */
static void test_interp_stdlib_alphapruning(void **state)
{
    static const double alpha[32] = {
        2.622, 2.890, 2.969, 2.964, 3.090, 3.064, 2.961, 2.746,
        2.775, 2.609, 2.717, 2.730, 2.784, 2.852, 2.897, 3.177,
        3.123, 3.446, 3.872, 3.606, 3.894, 4.066, 3.755, 3.715,
        3.994, 4.220, 4.102, 4.160, 3.851, 4.093, 4.160, 3.537};
    static const double want[32] = {
        0.570, 0.618, 0.632, 0.631, 0.653, 0.648, 0.630, 0.592,
        0.597, 0.568, 0.587, 0.589, 0.599, 0.611, 0.619, 0.668,
        0.659, 0.716, 0.791, 0.744, 0.795, 0.825, 0.770, 0.763,
        0.812, 0.852, 0.831, 0.841, 0.787, 0.830, 0.841, 0.732};
    struct tunits t;
    struct result r;
    struct alc_diag d;
    char *src = NULL;
    size_t len = 0;
    char path[4096];
    (void)state;
    tu_init(&t);
    for (int u = 0; u < 32; u++) {
        tu_mat(&t, u, ones, ones, 2, 2);
        t.mats[u % 16][0].alpha_peak = alpha[u];
    }
    /* units 16..31 share mats[] rows with 0..15: give each its own */
    static struct alc_mat_view own[32];
    for (int u = 0; u < 32; u++) {
        own[u] = t.units[u].mats[0];
        own[u].alpha_peak = alpha[u];
        t.units[u].mats = &own[u];
    }
    alc_diag_init(&d);
    snprintf(path, sizeof path, "%s/stdlib/alphapruning.alloc",
             ALC_SOURCE_DIR);
    assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
    double eps[1] = {0.2};
    assert_int_equal(run(src, &t, 0.7, eps, &r, &d), 0);
    double mean = 0;
    for (int u = 0; u < 32; u++) {
        assert_close(r.sparsity[u], want[u], 1e-3);
        assert_close(r.score[u], alpha[u], 1e-15);
        mean += r.sparsity[u] / 32;
    }
    assert_close(mean, 0.7, 1e-15);
    result_free(&r);
    /* default eps = 0.3: range [0.501, 0.930] */
    assert_int_equal(run(src, &t, 0.7, NULL, &r, &d), 0);
    double lo = 1, hi = 0;
    for (int u = 0; u < 32; u++) {
        lo = fmin(lo, r.sparsity[u]);
        hi = fmax(hi, r.sparsity[u]);
    }
    assert_close(lo, 0.501, 1e-3);
    assert_close(hi, 0.930, 1e-3);
    result_free(&r);
    free(src);
    alc_diag_free(&d);
}

/* ---- alc_explain ---- */

/* DSA's README function is undefined where var(ln|wanda|) > tan(1): the
 * explanation names asin, its line, the units and the operand. */
static void test_interp_explain_dsa(void **state)
{
    static const float w[3][2] = {{1, 2}, {1, 100}, {1, 200}};
    struct tunits t;
    struct result r;
    struct alc_sb sb;
    (void)state;
    tu_init(&t);
    for (int u = 0; u < 3; u++) {
        tu_mat(&t, u, w[u], ones, 1, 2);
    }
    run_stdlib("dsa.alloc", &t, 0.7, &r);
    /* units 1 and 2: NaN scores read as 0 by dsa_score */
    assert_close(r.score[1], 0, 0);
    double v1 = 0.5 * log(100) * log(100); /* var of {0, ln 100} */
    alc_sb_init(&sb);
    alc_explain(&r.ir, r.nodes, 3, &t.view, &sb);
    /* where asin is in stdlib/dsa.alloc */
    char path[4096], want[256];
    char *src = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/stdlib/dsa.alloc", ALC_SOURCE_DIR);
    struct alc_diag d;
    alc_diag_init(&d);
    assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
    alc_diag_free(&d);
    const char *at = strstr(src, "asin(x");
    assert_non_null(at);
    int line = 1, col = 1;
    for (const char *p = src; p < at; p++) {
        line += *p == '\n';
        col = *p == '\n' ? 1 : col + 1;
    }
    free(src);
    snprintf(want, sizeof want,
             "  asin at test.alloc:%d:%d, units 1-2: asin(%.6g): argument "
             "outside [-1, 1]\n",
             line, col, atan(v1));
    if (strstr(alc_sb_str(&sb), want) == NULL) {
        fail_msg("explanation:\n%s\nlacks:\n%s", alc_sb_str(&sb), want);
    }
    alc_sb_free(&sb);
    result_free(&r);
    /* equal scores everywhere: minmax divides 0 by 0 */
    tu_init(&t);
    for (int u = 0; u < 3; u++) {
        tu_mat(&t, u, w[0], ones, 1, 2);
    }
    run_ok("let v = var(wanda)\nscore = v\n"
           "sparsity = S + minmax(v) - mean(minmax(v))\n",
           &t, 0.5, NULL, &r);
    alc_sb_init(&sb);
    alc_explain(&r.ir, r.nodes, 3, &t.view, &sb);
    assert_string_equal(alc_sb_str(&sb),
                        "sparsity is NaN for all 3 units\n"
                        "  / at test.alloc:3:16, all 3 units: 0 / 0: 0/0 "
                        "(max == min: every unit has the same value)\n");
    alc_sb_free(&sb);
    result_free(&r);
}

/* Element-level origins: the first element op that went NaN. */
static void test_interp_explain_elements(void **state)
{
    static const float w[4] = {1, 2, -3, 4};
    struct tunits t;
    struct result r;
    struct alc_sb sb;
    (void)state;
    tu_init(&t);
    tu_mat(&t, 0, w, ones, 2, 2);
    tu_mat(&t, 1, ones, ones, 2, 2);
    t.mats[0][0].name = "q";
    run_ok("let x = sqrt(weight) + 1\nsparsity = mean(x)\n", &t, 0.5, NULL,
           &r);
    alc_sb_init(&sb);
    alc_explain(&r.ir, r.nodes, 2, &t.view, &sb);
    assert_string_equal(alc_sb_str(&sb),
                        "sparsity is NaN for unit 0\n"
                        "  sqrt at test.alloc:1:9, unit 0: sqrt(-3): "
                        "argument < 0 (first at element [1, 0] of matrix 0 "
                        "(q) of unit 0)\n");
    alc_sb_free(&sb);
    result_free(&r);
    /* nothing to explain when everything is finite */
    run_ok("sparsity = mean(weight)\n", &t, 0.5, NULL, &r);
    alc_sb_init(&sb);
    alc_explain(&r.ir, r.nodes, 2, &t.view, &sb);
    assert_string_equal(alc_sb_str(&sb), "");
    alc_sb_free(&sb);
    result_free(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interp_maps),
        cmocka_unit_test(test_interp_reductions),
        cmocka_unit_test(test_interp_reduce_units),
        cmocka_unit_test(test_interp_rank),
        cmocka_unit_test(test_interp_inputs),
        cmocka_unit_test(test_interp_dtypes),
        cmocka_unit_test(test_interp_missing_inputs),
        cmocka_unit_test(test_interp_nodes_and_determinism),
        cmocka_unit_test(test_interp_stdlib_uniform_atp),
        cmocka_unit_test(test_interp_stdlib_owl),
        cmocka_unit_test(test_interp_stdlib_dsa),
        cmocka_unit_test(test_interp_stdlib_er),
        cmocka_unit_test(test_interp_stdlib_alphapruning),
        cmocka_unit_test(test_interp_explain_dsa),
        cmocka_unit_test(test_interp_explain_elements),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
