/*
 * test_check.c: every class of compile error, with its exact message,
 * source line, caret and hint: syntax errors (from the parser), names
 * (unknown with and without a suggestion, used before definition,
 * redefinition, reserved names), calls (arity, non-functions, recursion,
 * nesting), params, outputs, levels (outputs, reductions, quantile, rank,
 * alpha_peak, inside user and prelude fns). Also: one mistake gives one
 * error, errors come in source order, and valid programs check.
 */
#include "alc_test.h"

#include "front.h"

/* Parses and checks src; returns the diagnostics text (malloc'd) and the
 * number of errors. */
static char *check_text(const char *src, int *n_err)
{
    struct alc_arena a;
    struct alc_diag d;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    struct alc_program *p = alc_front_load(&a, "t.alloc", src, strlen(src),
                                           &d);
    if (p != NULL) {
        struct alc_ir ir;
        alc_ir_init(&ir);
        if (!alc_program_is_library(p)) {
            assert_int_equal(alc_lower(p, &ir, &d), 0);
        }
        alc_ir_free(&ir);
    }
    *n_err = d.n_err;
    char *t = alc_sb_take(&d.text);
    alc_diag_free(&d);
    alc_arena_free(&a);
    return t;
}

/* src gives exactly one error whose full rendering is want. */
static void expect_one(const char *src, const char *want)
{
    int n = 0;
    char *t = check_text(src, &n);
    if (n != 1 || strcmp(t, want) != 0) {
        fail_msg("checking:\n%s\n%d errors:\n%s\nwant:\n%s", src, n, t,
                 want);
    }
    free(t);
}

/* src gives exactly one error whose first line is want. */
static void expect_first(const char *src, const char *want)
{
    int n = 0;
    char *t = check_text(src, &n);
    size_t len = strcspn(t, "\n");
    if (n != 1 || strlen(want) != len || strncmp(t, want, len) != 0) {
        fail_msg("checking:\n%s\n%d errors:\n%s\nwant first line:\n%s", src,
                 n, t, want);
    }
    free(t);
}

static void expect_ok(const char *src)
{
    int n = 0;
    char *t = check_text(src, &n);
    if (n != 0) {
        fail_msg("checking:\n%s\nunexpected errors:\n%s", src, t);
    }
    free(t);
}

/* ---- Syntax (parser) ---- */

static void test_check_syntax(void **state)
{
    (void)state;
    expect_one("sparsity = S +",
               "t.alloc:1:15: error: unexpected end of input; expected an "
               "expression after '+'\n"
               " sparsity = S +\n"
               "               ^\n");
    expect_one("let x = 1\nsparsity = S +\n\n",
               "t.alloc:2:15: error: unexpected end of input; expected an "
               "expression after '+'\n"
               " sparsity = S +\n"
               "               ^\n");
    expect_one("sparsity = (S + 1\n",
               "t.alloc:1:18: error: unexpected end of input\n"
               " sparsity = (S + 1\n"
               "                  ^\n");
    expect_one("sparsity = S + )",
               "t.alloc:1:16: error: unexpected ')'; expected an expression "
               "after '+'\n"
               " sparsity = S + )\n"
               "                ^\n");
    expect_one("let x = a b\n",
               "t.alloc:1:12: error: unexpected end of input\n"
               " let x = a b\n"
               "            ^\n"
               "hint: is an operator missing before 'b'?\n");
    expect_first("let x = a b + 1\nsparsity = S",
                 "t.alloc:1:13: error: unexpected '+'");
    expect_one("sparsity = S @ 2",
               "t.alloc:1:14: error: unrecognized token '@'\n"
               " sparsity = S @ 2\n"
               "              ^\n");
    expect_first("sparsity = 1.2.3", "t.alloc:1:12: error: malformed number "
                                     "'1.2.3'");
    expect_first("sparsity = 1e999", "t.alloc:1:12: error: number '1e999' is "
                                     "out of range for a double");
    expect_one("sparsity = a ** 2",
               "t.alloc:1:15: error: unexpected '*'; expected an expression "
               "after '*'\n"
               " sparsity = a ** 2\n"
               "               ^\n"
               "hint: use ^ for powers\n");
    expect_first("let x = a = b", "t.alloc:1:11: error: unexpected '='");
    expect_one("param M = 5 [1, 2]\n",
               "t.alloc:1:13: error: unexpected '['\n"
               " param M = 5 [1, 2]\n"
               "             ^\n"
               "hint: a param is declared as: param NAME = VALUE in [LO, "
               "HI]\n");
    expect_first("sparsity = a < b < c", "t.alloc:1:18: error: unexpected "
                                         "'<'");
    expect_first("sparsity = !a", "t.alloc:1:12: error: unrecognized token "
                                  "'!'");
    expect_first("let é = 1", "t.alloc:1:5: error: unrecognized token 'é'");
}

/* ---- Names ---- */

static void test_check_names(void **state)
{
    (void)state;
    expect_one("sparsity = mean(wandaa)\n",
               "t.alloc:1:17: error: unknown name 'wandaa'; did you mean "
               "'wanda'?\n"
               " sparsity = mean(wandaa)\n"
               "                 ^~~~~~\n");
    expect_first("sparsity = zzz", "t.alloc:1:12: error: unknown name 'zzz'");
    expect_first("let lod = 1\nsparsity = lood",
                 "t.alloc:2:12: error: unknown name 'lood'; did you mean "
                 "'lod'?");
    expect_one("sparsity = x\nlet x = 1\n",
               "t.alloc:1:12: error: 'x' is used before its definition "
               "(line 2)\n"
               " sparsity = x\n"
               "            ^\n"
               "hint: move the definition before its first use\n");
    expect_first("let x = 1\nlet x = 2\nsparsity = x",
                 "t.alloc:2:5: error: redefinition of 'x' (first defined at "
                 "line 1)");
    expect_first("let wanda = 1\nsparsity = S",
                 "t.alloc:1:5: error: cannot define 'wanda': it is an input");
    expect_first("fn mean(x) = x\nsparsity = S",
                 "t.alloc:1:4: error: cannot define 'mean': it is a builtin "
                 "function");
    expect_first("param score = 1 in [0, 2]\nsparsity = S",
                 "t.alloc:1:7: error: cannot define 'score': it is an "
                 "output");
    expect_first("fn f(S) = S\nsparsity = S",
                 "t.alloc:1:6: error: cannot name a parameter 'S': it is an "
                 "input");
    expect_first("fn f(x, x) = x\nsparsity = S",
                 "t.alloc:1:9: error: duplicate parameter 'x'");
    expect_first("sparsity = minmax",
                 "t.alloc:1:12: error: 'minmax' is a function; call it as "
                 "minmax(...)");
    expect_first("sparsity = mean",
                 "t.alloc:1:12: error: 'mean' is a builtin function; call it "
                 "as mean(...)");
    expect_one("let x = score\nscore = S\nsparsity = S\n",
               "t.alloc:1:9: error: the output 'score' cannot be read\n"
               " let x = score\n"
               "         ^~~~~\n"
               "hint: define the value with `let` and use that name\n");
    /* a user definition shadows the prelude's */
    expect_ok("fn minmax(x) = x * 2\nsparsity = minmax(S)\n");
    expect_ok("let zscore = 3\nsparsity = S * zscore\n");
}

/* ---- Calls ---- */

static void test_check_calls(void **state)
{
    struct alc_sb sb;
    (void)state;
    expect_one("sparsity = mena(wanda)\n",
               "t.alloc:1:12: error: unknown function 'mena'; did you mean "
               "'mean'?\n"
               " sparsity = mena(wanda)\n"
               "            ^~~~\n");
    expect_first("fn scale(x) = 2 * x\nsparsity = scal(S)",
                 "t.alloc:2:12: error: unknown function 'scal'; did you mean "
                 "'scale'?");
    expect_first("sparsity = frobnicate(S)",
                 "t.alloc:1:12: error: unknown function 'frobnicate'");
    expect_first("sparsity = min(wanda, 2, 3)",
                 "t.alloc:1:12: error: 'min' takes 1 or 2 arguments, but 3 "
                 "were given");
    expect_first("sparsity = mean(wanda, 2)",
                 "t.alloc:1:12: error: 'mean' takes 1 argument, but 2 were "
                 "given");
    expect_first("sparsity = where(S, 1)",
                 "t.alloc:1:12: error: 'where' takes 3 arguments, but 2 were "
                 "given");
    expect_first("sparsity = minmax(S, 1)",
                 "t.alloc:1:12: error: 'minmax' takes 1 argument, but 2 were "
                 "given");
    expect_first("let lod = 1\nsparsity = lod(1)",
                 "t.alloc:2:12: error: 'lod' is a let, not a function");
    expect_first("sparsity = wanda(1)",
                 "t.alloc:1:12: error: 'wanda' is an input, not a function");
    expect_first("fn f(g) = g(1)\nsparsity = S",
                 "t.alloc:1:11: error: 'g' is a parameter, not a function");
    expect_first("fn f(x) = f(x) + 1\nsparsity = f(S)",
                 "t.alloc:1:11: error: 'f' calls itself: functions cannot be "
                 "recursive");
    expect_first("sparsity = alpha_peak(wanda)",
                 "t.alloc:1:12: error: alpha_peak takes the input `weight` "
                 "itself as its argument");
    /* 40 fns, each calling the previous one */
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "fn f0(x) = x + 1\n");
    for (int i = 1; i < 40; i++) {
        alc_sb_printf(&sb, "fn f%d(x) = f%d(x) * 2\n", i, i - 1);
    }
    alc_sb_puts(&sb, "sparsity = f39(S)\n");
    int n = 0;
    char *t = check_text(alc_sb_str(&sb), &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(t, "error: function calls nested too deeply "
                              "(more than 32 levels)"));
    free(t);
    alc_sb_free(&sb);
    /* fns calling each other twice stay cheap (memoised) */
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "fn g0(x) = x + 1\n");
    for (int i = 1; i < 30; i++) {
        alc_sb_printf(&sb, "fn g%d(x) = g%d(x) * g%d(x + 1)\n", i, i - 1,
                      i - 1);
    }
    alc_sb_puts(&sb, "sparsity = g29(S)\n");
    expect_ok(alc_sb_str(&sb));
    alc_sb_free(&sb);
}

/* ---- Params and outputs ---- */

static void test_check_params_outputs(void **state)
{
    (void)state;
    expect_one("param M = 25 in [1, 20]\nsparsity = S * M\n",
               "t.alloc:1:7: error: param 'M' = 25 is outside its range "
               "[1, 20]\n"
               " param M = 25 in [1, 20]\n"
               "       ^\n");
    expect_first("param M = 5 in [20, 1]\nsparsity = S",
                 "t.alloc:1:7: error: param 'M' has an empty range [20, 1]");
    expect_one("sparsty = S\n",
               "t.alloc:1:1: error: unknown output 'sparsty'; did you mean "
               "'sparsity'?\n"
               " sparsty = S\n"
               " ^~~~~~~\n"
               "hint: `NAME = EXPR` sets an output (sparsity or score); "
               "define a name with `let NAME = EXPR`\n");
    expect_first("foo = 1\nsparsity = S",
                 "t.alloc:1:1: error: unknown output 'foo'");
    expect_first("sparsity = S\nsparsity = S",
                 "t.alloc:2:1: error: 'sparsity' is set twice (first at "
                 "line 1)");
    expect_one("let x = 1\n",
               "t.alloc: error: no `sparsity = ...` statement\n"
               "hint: every program sets one sparsity per unit, e.g. "
               "`sparsity = S`\n");
    expect_first("", "t.alloc: error: no `sparsity = ...` statement");
    /* a file of fns only is a library */
    expect_ok("fn double(x) = 2 * x\n");
}

/* ---- Levels ---- */

static void test_check_levels(void **state)
{
    (void)state;
    expect_one("sparsity = wanda\n",
               "t.alloc:1:12: error: sparsity must be layer- or model-level, "
               "but `wanda` is element-level\n"
               " sparsity = wanda\n"
               "            ^~~~~\n"
               "hint: reduce it to one value per unit, e.g. mean(...)\n");
    expect_first("score = weight * 2\nsparsity = S",
                 "t.alloc:1:9: error: score must be layer- or model-level, "
                 "but `weight * 2` is element-level");
    expect_one("sparsity = mean(S * 2)\n",
               "t.alloc:1:12: error: mean needs an element- or layer-level "
               "argument, but `S * 2` is model-level\n"
               " sparsity = mean(S * 2)\n"
               "            ^~~~\n"
               "hint: a model-level value is already one number\n");
    expect_first("sparsity = var(mean(mean(wanda)))",
                 "t.alloc:1:12: error: var needs an element- or layer-level "
                 "argument, but `mean(mean(wanda))` is model-level");
    expect_first("sparsity = quantile(wanda, act)",
                 "t.alloc:1:28: error: quantile's argument 2 must be "
                 "model-level, but `act` is element-level");
    expect_one("sparsity = rank(wanda)\n",
               "t.alloc:1:12: error: rank needs a layer-level argument, but "
               "`wanda` is element-level\n"
               " sparsity = rank(wanda)\n"
               "            ^~~~\n"
               "hint: reduce it to one value per unit first, e.g. "
               "rank(mean(...))\n");
    expect_first("sparsity = rank(S)",
                 "t.alloc:1:12: error: rank needs a layer-level argument, but "
                 "`S` is model-level");
    /* inside a user fn: at the body, with a note naming the call */
    expect_one("fn f(x) = mean(x)\nsparsity = f(S)\n",
               "t.alloc:1:11: error: mean needs an element- or layer-level "
               "argument, but `x` is model-level\n"
               " fn f(x) = mean(x)\n"
               "           ^~~~\n"
               "note: in the call of 'f' at line 2, column 12\n"
               "hint: a model-level value is already one number\n");
    /* inside a prelude fn: at the user's call */
    expect_one("sparsity = minmax(S)\n",
               "t.alloc:1:12: error: in 'minmax' (prelude): min needs an "
               "element- or layer-level argument, but `x` is model-level\n"
               " sparsity = minmax(S)\n"
               "            ^~~~~~\n"
               "hint: a model-level value is already one number\n");
    /* the same fn is fine at other levels */
    expect_ok("fn f(x) = x - mean(x)\nlet a = f(wanda)\nlet b = f(mean(a))\n"
              "sparsity = S + b\n");
    expect_ok("sparsity = S\n");
    expect_ok("sparsity = 0.5\n");
    expect_ok("sparsity = S + 0 * rank(mean(wanda)) + alpha_peak(weight) * 0"
              "\n");
}

/* One mistake, one error; several mistakes, in source order. */
static void test_check_collects_in_order(void **state)
{
    int n = 0;
    (void)state;
    char *t = check_text("let a = mena(wanda) + 1\n"
                         "let b = a * 2\n"
                         "sparsity = mean(b) + c\n"
                         "score = mean(S)\n",
                         &n);
    assert_int_equal(n, 3);
    const char *e1 = strstr(t, "t.alloc:1:9: error: unknown function 'mena'");
    const char *e2 = strstr(t, "t.alloc:3:22: error: unknown name 'c'");
    const char *e3 = strstr(t, "t.alloc:4:9: error: mean needs");
    assert_non_null(e1);
    assert_non_null(e2);
    assert_non_null(e3);
    assert_true(e1 < e2 && e2 < e3);
    free(t);
}

/* The stdlib and the prelude check. */
static void test_check_stdlib(void **state)
{
    static const char *const files[] = {
        "prelude.alloc", "uniform.alloc", "owl.alloc", "atp.alloc",
        "dsa.alloc", "dsa_atan.alloc", "dsa_poster.alloc", "er.alloc",
        "alphapruning.alloc",
    };
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        char *src = NULL;
        size_t len = 0;
        struct alc_diag d;
        alc_diag_init(&d);
        snprintf(path, sizeof path, "%s/stdlib/%s", ALC_SOURCE_DIR, files[i]);
        assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
        expect_ok(src);
        free(src);
        alc_diag_free(&d);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_syntax),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_check_calls),
        cmocka_unit_test(test_check_params_outputs),
        cmocka_unit_test(test_check_levels),
        cmocka_unit_test(test_check_collects_in_order),
        cmocka_unit_test(test_check_stdlib),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
