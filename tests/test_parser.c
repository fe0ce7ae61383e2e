/*
 * test_parser.c: the Lemon grammar (grammar/alloc.y) through its driver,
 * by comparing S-expression dumps of the tree (alc_ast_dump) with expected
 * strings: precedence and associativity, prefix operators, calls (builtins
 * by arity, user fns), every statement form, statements without
 * separators, spans, comment attachment, and the depth limits.
 */
#include "alc_test.h"

#include "front.h"

static char *dump(const char *src)
{
    struct alc_arena a;
    struct alc_diag d;
    struct alc_sb sb;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    alc_sb_init(&sb);
    struct alc_program *p = alc_parse(&a, "t", src, strlen(src), &d);
    if (p == NULL) {
        fail_msg("parse failed: %s", alc_diag_text(&d));
    }
    alc_ast_dump(p, &sb);
    alc_diag_free(&d);
    alc_arena_free(&a);
    return alc_sb_take(&sb);
}

/* The dump of `let x = <expr>` without the program wrapper. */
static void expect_expr(const char *expr, const char *want)
{
    char src[1024], w[1024];
    snprintf(src, sizeof src, "let x = %s", expr);
    snprintf(w, sizeof w, "(program\n  (let x %s))\n", want);
    char *got = dump(src);
    if (strcmp(got, w) != 0) {
        fail_msg("parsing %s\n got: %s\nwant: %s", expr, got, w);
    }
    free(got);
}

static void expect_error(const char *src, const char *first)
{
    struct alc_arena a;
    struct alc_diag d;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    assert_null(alc_parse(&a, "t", src, strlen(src), &d));
    assert_int_equal(d.n_err, 1);
    if (strcmp(d.first, first) != 0) {
        fail_msg("parsing %.60s\n got: %s\nwant: %s", src, d.first, first);
    }
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* Binary operators: precedence, left associativity, ^ to the right. */
static void test_parse_precedence(void **state)
{
    (void)state;
    expect_expr("1 + 2 * 3", "(+ 1 (* 2 3))");
    expect_expr("1 * 2 + 3", "(+ (* 1 2) 3)");
    expect_expr("a - b - c", "(- (- a b) c)");
    expect_expr("a / b * c", "(* (/ a b) c)");
    expect_expr("2 ^ 3 ^ 4", "(^ 2 (^ 3 4))");
    expect_expr("2 * 3 ^ 4", "(* 2 (^ 3 4))");
    expect_expr("a + b < c * d", "(< (+ a b) (* c d))");
    expect_expr("a < b and c >= d or e", "(or (and (< a b) (>= c d)) e)");
    expect_expr("a or b and c", "(or a (and b c))");
    expect_expr("a == b", "(== a b)");
    expect_expr("a != b", "(!= a b)");
    expect_expr("a <= b", "(<= a b)");
    expect_expr("a > b", "(> a b)");
    expect_expr("(a + b) * c", "(* (+ a b) c)");
    expect_expr("((a))", "a");
}

/* Prefix minus binds tighter than * but looser than ^; not is loose. */
static void test_parse_prefix(void **state)
{
    (void)state;
    expect_expr("-x ^ 2", "(neg (^ x 2))");
    expect_expr("-2 * x", "(* (neg 2) x)");
    expect_expr("a - -b", "(- a (neg b))");
    expect_expr("2 ^ -1", "(^ 2 (neg 1))");
    expect_expr("- - x", "(neg (neg x))");
    expect_expr("not a < b", "(not (< a b))");
    expect_expr("not a and b", "(and (not a) b)");
    expect_expr("not not a", "(not (not a))");
    expect_expr("a + not b * c", "(+ a (not (* b c)))");
}

/* Builtins by arity (min/1 is the reduction, min/2 the map), user fns. */
static void test_parse_calls(void **state)
{
    (void)state;
    expect_expr("min(x)", "(min x)");
    expect_expr("min(x, 2)", "(min x 2)");
    expect_expr("where(c, a, b)", "(where c a b)");
    expect_expr("quantile(wanda, 0.5)", "(quantile wanda 0.5)");
    expect_expr("minmax(lod)", "(call minmax lod)");
    expect_expr("f()", "(call f)");
    expect_expr("min(a, b, c)", "(call min a b c)");
    expect_expr("mean(wanda > 5 * mean(wanda))",
                "(mean (> wanda (* 5 (mean wanda))))");
    expect_expr("alpha_peak(weight)", "(alpha_peak weight)");
    expect_expr("1.5e3 + .25", "(+ 1500 0.25)");
}

/* Every statement form, without separators, across lines. */
static void test_parse_statements(void **state)
{
    (void)state;
    char *got = dump("param M = 5 in [1, 20] param n = -0.5 in [-1, -0.25]\n"
                     "fn minmax2(x) = (x - min(x))\n"
                     "   / (max(x) - min(x))\n"
                     "fn two() = 2 fn add(a, b, c) = a + b + c\n"
                     "let lod = mean(wanda)\n"
                     "sparsity = S + lod score = lod");
    assert_string_equal(got,
                        "(program\n"
                        "  (param M 5 1 20)\n"
                        "  (param n -0.5 -1 -0.25)\n"
                        "  (fn minmax2 (x) (/ (- x (min x)) (- (max x) "
                        "(min x))))\n"
                        "  (fn two () 2)\n"
                        "  (fn add (a b c) (+ (+ a b) c))\n"
                        "  (let lod (mean wanda))\n"
                        "  (out sparsity (+ S lod))\n"
                        "  (out score lod))\n");
    free(got);
    got = dump("");
    assert_string_equal(got, "(program)\n");
    free(got);
    got = dump("# only a comment\n");
    assert_string_equal(got, "(program)\n");
    free(got);
}

/* Spans: statements, operators, calls, parenthesised expressions. */
static void test_parse_spans(void **state)
{
    struct alc_arena a;
    struct alc_diag d;
    (void)state;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    const char *src = "param k = -2 in [-5, 5]\n"
                      "sparsity = (S + k) * mean(wanda)\n";
    struct alc_program *p = alc_parse(&a, "t", src, strlen(src), &d);
    assert_non_null(p);
    const struct alc_stmt *s0 = p->stmts[0], *s1 = p->stmts[1];
    assert_int_equal(s0->span.len, 23);
    assert_int_equal(s1->span.line, 2);
    assert_int_equal(s1->span.len, 32);
    const struct alc_expr *mul = s1->expr;
    assert_int_equal(mul->at.col, 20);
    assert_int_equal(mul->span.col, 12);
    assert_int_equal(mul->span.len, 21);
    const struct alc_expr *paren = mul->args[0];
    assert_int_equal(paren->span.col, 12);
    assert_int_equal(paren->span.len, 7);
    assert_int_equal(paren->at.col, 15); /* the '+' */
    const struct alc_expr *call = mul->args[1];
    assert_int_equal(call->at.col, 22);
    assert_int_equal(call->at.len, 4);
    assert_int_equal(call->span.len, 11);
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* Comments attach to the statement after them, or trail on its line. */
static void test_parse_comments(void **state)
{
    struct alc_arena a;
    struct alc_diag d;
    (void)state;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    const char *src = "# one\n"
                      "\n"
                      "# two\n"
                      "let x = 1 +  # inner\n"
                      "  2  # trail\n"
                      "\n"
                      "sparsity = S\n"
                      "# end";
    struct alc_program *p = alc_parse(&a, "t", src, strlen(src), &d);
    assert_non_null(p);
    const struct alc_stmt *x = p->stmts[0];
    assert_int_equal(x->n_comments, 3);
    assert_string_equal(x->comments[0].text, " one");
    assert_int_equal(x->comments[0].blank_before, 0);
    assert_string_equal(x->comments[1].text, " two");
    assert_int_equal(x->comments[1].blank_before, 1);
    assert_string_equal(x->comments[2].text, " inner");
    assert_string_equal(x->trailing, " trail");
    assert_int_equal(x->blank_before, 0);
    assert_int_equal(p->stmts[1]->blank_before, 1);
    assert_int_equal(p->stmts[1]->n_comments, 0);
    assert_int_equal(p->n_end_comments, 1);
    assert_string_equal(p->end_comments[0].text, " end");
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* Nesting limits: an error, never a stack overflow. */
static void test_parse_depth_limits(void **state)
{
    struct alc_sb sb;
    (void)state;
    /* 250 nested negations: deeper than ALC_AST_MAX_DEPTH */
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "sparsity = ");
    for (int i = 0; i < 250; i++) {
        alc_sb_puts(&sb, "-");
    }
    alc_sb_puts(&sb, "S\n");
    expect_error(alc_sb_str(&sb), "t:1:62: error: expression nested too "
                                  "deeply (more than 200 levels)");
    alc_sb_free(&sb);
    /* a left-leaning chain of 300 additions needs no parser stack but is
     * 300 levels deep */
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "sparsity = S");
    for (int i = 0; i < 300; i++) {
        alc_sb_puts(&sb, " + S");
    }
    expect_error(alc_sb_str(&sb), "t:1:810: error: expression nested too "
                                  "deeply (more than 200 levels)");
    alc_sb_free(&sb);
    /* 5000 parentheses overflow the parser's stack */
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "sparsity = ");
    for (int i = 0; i < 5000; i++) {
        alc_sb_putc(&sb, '(');
    }
    expect_error(alc_sb_str(&sb), "t:1:1008: error: expression nested too "
                                  "deeply (parser stack overflow)");
    alc_sb_free(&sb);
    /* 190 levels are fine */
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "sparsity = ");
    for (int i = 0; i < 190; i++) {
        alc_sb_puts(&sb, "abs(");
    }
    alc_sb_puts(&sb, "S");
    for (int i = 0; i < 190; i++) {
        alc_sb_puts(&sb, ")");
    }
    char *got = dump(alc_sb_str(&sb));
    assert_non_null(strstr(got, "(abs (abs S)"));
    free(got);
    alc_sb_free(&sb);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_precedence),
        cmocka_unit_test(test_parse_prefix),
        cmocka_unit_test(test_parse_calls),
        cmocka_unit_test(test_parse_statements),
        cmocka_unit_test(test_parse_spans),
        cmocka_unit_test(test_parse_comments),
        cmocka_unit_test(test_parse_depth_limits),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
