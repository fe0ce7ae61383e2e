/*
 * test_plan.c: the pass schedule (compiler/plan.c) of hand-built IRs --
 * OWL takes 2 passes, DSA 1, var written as mean((x - mean x)^2) 2, nested
 * thresholds 3 -- compared as printed text, plus the accumulator states
 * every compiled backend combines (variance, min/max).
 */
#include "alc_test.h"
#include "backend.h"
#include "interp.h"
#include "ir_build.h"
#include "plan.h"

/* ---- Helpers ---- */

/* Compacts ir, plans it and compares the dump with want. */
static void check_plan(struct alc_ir *ir, int passes, const char *want)
{
    struct alc_ir c;
    struct alc_plan p;
    struct alc_diag d;
    struct alc_sb sb;
    alc_diag_init(&d);
    alc_sb_init(&sb);
    assert_int_equal(alc_ir_compact(ir, &c), 0);
    assert_int_equal(alc_plan_build(&p, &c, &d), 0);
    assert_int_equal(p.n_passes, passes);
    alc_plan_dump(&p, &c, &sb);
    assert_string_equal(alc_sb_str(&sb), want);
    alc_plan_free(&p);
    alc_ir_free(&c);
    alc_sb_free(&sb);
    alc_diag_free(&d);
}

/* ---- Schedules ---- */

/* OWL: the threshold needs mean(wanda), so the ratio is a second pass. */
static void test_plan_owl_two_passes(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    irb_owl(&ir);
    check_plan(&ir, 2,
               "passes 2\n"
               "stage 0:\n"
               "  %1 = param M\n"
               "  %2 = param lambda\n"
               "  %14 = const 2\n"
               "  %15 = * %14 %2\n"
               "  %17 = input S\n"
               "pass 1: reads wanda\n"
               "  elem %0 = input wanda\n"
               "  acc  #0 = sum x(%0)\n"
               "  red  %3 = mean %0 <- #0\n"
               "stage 1:\n"
               "  %4 = * %1 %3\n"
               "pass 2: reads wanda\n"
               "  use  %4 = * %1 %3\n"
               "  elem %0 = input wanda\n"
               "  elem %5 = > %0 %4\n"
               "  acc  #0 = sum x(%5)\n"
               "  red  %6 = mean %5 <- #0\n"
               "stage 2:\n"
               "  %7 = min %6\n"
               "  %8 = max %6\n"
               "  %9 = - %6 %7\n"
               "  %10 = - %8 %7\n"
               "  %11 = / %9 %10\n"
               "  %12 = mean %11\n"
               "  %13 = - %11 %12\n"
               "  %16 = * %15 %13\n"
               "  %18 = - %17 %16\n"
               "sparsity = %18\n"
               "score = %6\n");
    alc_ir_free(&ir);
}

/* DSA: var(log|wanda|) is one pass (single-pass var). */
static void test_plan_dsa_one_pass(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    irb_dsa(&ir);
    check_plan(&ir, 1,
               "passes 1\n"
               "stage 0:\n"
               "  %1 = const 0\n"
               "  %2 = const 1\n"
               "  %10 = param lambda\n"
               "  %18 = const 2\n"
               "  %19 = * %18 %10\n"
               "  %21 = input S\n"
               "pass 1: reads wanda\n"
               "  use  %1 = const 0\n"
               "  use  %2 = const 1\n"
               "  elem %0 = input wanda\n"
               "  elem %3 = == %0 %1\n"
               "  elem %4 = abs %0\n"
               "  elem %5 = where %3 %2 %4\n"
               "  elem %6 = log %5\n"
               "  acc  #0 = var x(%6)\n"
               "  red  %7 = var %6 <- #0\n"
               "stage 1:\n"
               "  %8 = atan %7\n"
               "  %9 = asin %8\n"
               "  %11 = min %9\n"
               "  %12 = max %9\n"
               "  %13 = - %9 %11\n"
               "  %14 = - %12 %11\n"
               "  %15 = / %13 %14\n"
               "  %16 = mean %15\n"
               "  %17 = - %15 %16\n"
               "  %20 = * %19 %17\n"
               "  %22 = + %21 %20\n"
               "sparsity = %22\n"
               "score = %9\n");
    alc_ir_free(&ir);
}

/* var written out by hand needs the mean first: 2 passes. */
static void test_plan_var_as_mean_two_passes(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    int x = IN(&ir, ALC_IN_WEIGHT);
    int m = OP1(&ir, ALC_OP_MEAN, x);
    int d = OP2(&ir, ALC_OP_SUB, x, m);
    int two = K(&ir, 2);
    int sq = OP2(&ir, ALC_OP_POW, d, two);
    ir.sparsity = OP1(&ir, ALC_OP_MEAN, sq);
    check_plan(&ir, 2,
               "passes 2\n"
               "stage 0:\n"
               "  %3 = const 2\n"
               "pass 1: reads weight\n"
               "  elem %0 = input weight\n"
               "  acc  #0 = sum x(%0)\n"
               "  red  %1 = mean %0 <- #0\n"
               "stage 1:\n"
               "pass 2: reads weight\n"
               "  use  %1 = mean %0\n"
               "  use  %3 = const 2\n"
               "  elem %0 = input weight\n"
               "  elem %2 = - %0 %1\n"
               "  elem %4 = ^ %2 %3\n"
               "  acc  #0 = sum x(%4)\n"
               "  red  %5 = mean %4 <- #0\n"
               "stage 2:\n"
               "sparsity = %5\n");
    alc_ir_free(&ir);
}

/* mean(x > mean(x > mean(x))): each threshold is one more pass. */
static void test_plan_nested_three_passes(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    int x = IN(&ir, ALC_IN_WANDA);
    int m1 = OP1(&ir, ALC_OP_MEAN, x);
    int g1 = OP2(&ir, ALC_OP_GT, x, m1);
    int m2 = OP1(&ir, ALC_OP_MEAN, g1);
    int g2 = OP2(&ir, ALC_OP_GT, x, m2);
    ir.sparsity = OP1(&ir, ALC_OP_MEAN, g2);
    check_plan(&ir, 3,
               "passes 3\n"
               "stage 0:\n"
               "pass 1: reads wanda\n"
               "  elem %0 = input wanda\n"
               "  acc  #0 = sum x(%0)\n"
               "  red  %1 = mean %0 <- #0\n"
               "stage 1:\n"
               "pass 2: reads wanda\n"
               "  use  %1 = mean %0\n"
               "  elem %0 = input wanda\n"
               "  elem %2 = > %0 %1\n"
               "  acc  #0 = sum x(%2)\n"
               "  red  %3 = mean %2 <- #0\n"
               "stage 2:\n"
               "pass 3: reads wanda\n"
               "  use  %3 = mean %2\n"
               "  elem %0 = input wanda\n"
               "  elem %4 = > %0 %3\n"
               "  acc  #0 = sum x(%4)\n"
               "  red  %5 = mean %4 <- #0\n"
               "stage 3:\n"
               "sparsity = %5\n");
    alc_ir_free(&ir);
}

/* Reductions of one node share accumulators; a model-level value computed
 * from pass-1 results (over every unit) feeds pass 2. */
static void test_plan_shared_accs_and_model_dependency(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    int x = IN(&ir, ALC_IN_WEIGHT);
    int mean = OP1(&ir, ALC_OP_MEAN, x);
    int sum = OP1(&ir, ALC_OP_SUM, x);
    int a = OP2(&ir, ALC_OP_ADD, mean, sum);
    int var = OP1(&ir, ALC_OP_VAR, x);
    int sd = OP1(&ir, ALC_OP_STD, x);
    int b = OP2(&ir, ALC_OP_ADD, var, sd);
    int e = OP1(&ir, ALC_OP_ENTROPY, x);
    int ab = OP2(&ir, ALC_OP_ADD, a, b);
    int top = OP1(&ir, ALC_OP_MAX, ab); /* model level */
    int lt = OP2(&ir, ALC_OP_LT, x, top);
    int q = OP1(&ir, ALC_OP_CNT, lt);
    ir.sparsity = OP2(&ir, ALC_OP_ADD, e, q);
    check_plan(&ir, 2,
               "passes 2\n"
               "stage 0:\n"
               "pass 1: reads weight\n"
               "  elem %0 = input weight\n"
               "  acc  #0 = sum x(%0)\n"
               "  acc  #1 = var x(%0)\n"
               "  acc  #2 = sum pos(%0)\n"
               "  acc  #3 = sum ge0(%0)\n"
               "  acc  #4 = sum xlogx(%0)\n"
               "  red  %1 = mean %0 <- #0\n"
               "  red  %2 = sum %0 <- #0\n"
               "  red  %4 = var %0 <- #1\n"
               "  red  %5 = std %0 <- #1\n"
               "  red  %7 = entropy %0 <- #2 #3 #4\n"
               "stage 1:\n"
               "  %3 = + %1 %2\n"
               "  %6 = + %4 %5\n"
               "  %8 = + %3 %6\n"
               "  %9 = max %8\n"
               "pass 2: reads weight\n"
               "  use  %9 = max %8\n"
               "  elem %0 = input weight\n"
               "  elem %10 = < %0 %9\n"
               "  acc  #0 = sum nz(%10)\n"
               "  red  %11 = count %10 <- #0\n"
               "stage 2:\n"
               "  %12 = + %7 %11\n"
               "sparsity = %12\n");
    alc_ir_free(&ir);
}

/* quantile's q depends on pass 1, so the values are materialised in pass
 * 2, when q is known; a program without element reductions has no pass. */
static void test_plan_quantile_waits_for_q(void **state)
{
    struct alc_ir ir;
    alc_ir_init(&ir);
    int x = IN(&ir, ALC_IN_WEIGHT);
    int m = OP1(&ir, ALC_OP_MEAN, x);
    int mm = OP1(&ir, ALC_OP_MEAN, m);
    int lo = K(&ir, 0.0);
    int hi = K(&ir, 1.0);
    int q = OP3(&ir, ALC_OP_CLAMP, mm, lo, hi);
    ir.sparsity = OP2(&ir, ALC_OP_QUANTILE, x, q);
    check_plan(&ir, 2,
               "passes 2\n"
               "stage 0:\n"
               "  %3 = const 0\n"
               "  %4 = const 1\n"
               "pass 1: reads weight\n"
               "  elem %0 = input weight\n"
               "  acc  #0 = sum x(%0)\n"
               "  red  %1 = mean %0 <- #0\n"
               "stage 1:\n"
               "  %2 = mean %1\n"
               "  %5 = clamp %2 %3 %4\n"
               "pass 2: reads weight\n"
               "  elem %0 = input weight\n"
               "  acc  #0 = store x(%0)\n"
               "  red  %6 = quantile %0 %5 <- #0\n"
               "stage 2:\n"
               "sparsity = %6\n");
    alc_ir_free(&ir);

    alc_ir_init(&ir);
    int S = IN(&ir, ALC_IN_S);
    int layer = IN(&ir, ALC_IN_LAYER);
    ir.sparsity = OP2(&ir, ALC_OP_MUL, S, layer);
    check_plan(&ir, 0,
               "passes 0\n"
               "stage 0:\n"
               "  %0 = input S\n"
               "  %1 = input layer\n"
               "  %2 = * %0 %1\n"
               "sparsity = %2\n");
    alc_ir_free(&ir);
}

/* ---- Host pieces ---- */

/* Shifted sums + Chan's combination on a large mean with a tiny spread
 * match the two-pass variance; naive sum-of-squares would lose it all. */
static void test_plan_var_ill_conditioned(void **state)
{
    struct alc_plan_pass ps = {0};
    struct alc_plan_acc acc = {ALC_ACC_VAR, ALC_AF_ID, 0, 0};
    ps.accs = &acc;
    ps.n_accs = 1;
    ps.n_slots = 4;
    enum { N = 1000, PARTS = 7 };
    double x[N], rec[PARTS * 4];
    for (int i = 0; i < N; i++) {
        x[i] = 1e9 + 1e-3 * (double)((i * 37) % 101);
    }
    for (int p = 0; p < PARTS; p++) {
        int lo = p * N / PARTS, hi = (p + 1) * N / PARTS;
        double K = x[lo], s1 = 0, s2 = 0;
        for (int i = lo; i < hi; i++) {
            s1 += x[i] - K;
            s2 += (x[i] - K) * (x[i] - K);
        }
        alc_plan_var_from_shifted(hi - lo, K, s1, s2, rec + 4 * p);
    }
    alc_plan_combine_tree(&ps, rec, PARTS);
    double xc[N];
    memcpy(xc, x, sizeof xc);
    double want = alc_interp_reduce(ALC_OP_VAR, xc, N, 0);
    /* the data's values are exact to ~1e-7 relative of their spread:
     * both forms agree to 1e-9 relative */
    assert_true(want > 8e-4 && want < 9e-4);
    double got = rec[3] / (rec[0] - 1);
    assert_true(fabs(got - want) <= 1e-9 * want);
}

/* min/max states: NaN sticks; of equal values (+0, -0) the one with the
 * smaller element index wins, in either combination order. */
static void test_plan_minmax_first_wins(void **state)
{
    double a[2] = {0.0, 5.0}, b[2] = {-0.0, 3.0};
    alc_plan_acc_combine(ALC_ACC_MIN, a, b);
    assert_true(a[0] == 0.0 && signbit(a[0]) && a[1] == 3.0);
    double c[2] = {-0.0, 3.0}, e[2] = {0.0, 5.0};
    alc_plan_acc_combine(ALC_ACC_MAX, c, e);
    assert_true(c[0] == 0.0 && signbit(c[0]) && c[1] == 3.0);
    double f[2] = {1.0, 9.0}, g[2] = {-2.0, 10.0};
    alc_plan_acc_combine(ALC_ACC_MIN, f, g);
    assert_true(f[0] == -2.0 && f[1] == 10.0);
    g[0] = NAN;
    alc_plan_acc_combine(ALC_ACC_MAX, f, g);
    assert_true(isnan(f[0]));
    g[0] = 5.0;
    alc_plan_acc_combine(ALC_ACC_MAX, f, g);
    assert_true(isnan(f[0]));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_owl_two_passes),
        cmocka_unit_test(test_plan_dsa_one_pass),
        cmocka_unit_test(test_plan_var_as_mean_two_passes),
        cmocka_unit_test(test_plan_nested_three_passes),
        cmocka_unit_test(test_plan_shared_accs_and_model_dependency),
        cmocka_unit_test(test_plan_quantile_waits_for_q),
        cmocka_unit_test(test_plan_var_ill_conditioned),
        cmocka_unit_test(test_plan_minmax_first_wins),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
