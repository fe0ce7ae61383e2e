/*
 * test_print.c: the canonical printer (ast.h). parse(print(p)) is
 * structurally equal to p and print is idempotent, over every stdlib file
 * and thousands of random programs (which also must pass the checker and
 * lower); comments survive; literals round-trip bit for bit; the canonical
 * hash ignores layout and comments; deep copies are equal.
 */
#include "alc_test.h"

#include <dirent.h>

#include "front.h"

/* Parses src (must succeed); the program lives in arena a. */
static struct alc_program *parse_ok(struct alc_arena *a, const char *name,
                                    const char *src)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_program *p = alc_parse(a, name, src, strlen(src), &d);
    if (p == NULL) {
        fail_msg("parse of %s failed:\n%s\n--- source:\n%s", name,
                 alc_diag_text(&d), src);
    }
    alc_diag_free(&d);
    return p;
}

static char *print_prog(const struct alc_program *p, unsigned flags)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_print_program(p, flags, &sb);
    return alc_sb_take(&sb);
}

/* print(p) parses back to p, and printing that again gives the same text. */
static void assert_round_trip(const struct alc_program *p, const char *what)
{
    struct alc_arena a;
    alc_arena_init(&a, 0);
    char *t1 = print_prog(p, 0);
    struct alc_program *q = parse_ok(&a, what, t1);
    if (!alc_ast_equal(p, q)) {
        fail_msg("%s: parse(print(p)) != p; printed:\n%s", what, t1);
    }
    char *t2 = print_prog(q, 0);
    if (strcmp(t1, t2) != 0) {
        fail_msg("%s: print not idempotent:\n%s\n---\n%s", what, t1, t2);
    }
    assert_true(alc_ast_hash(p) == alc_ast_hash(q));
    free(t1);
    free(t2);
    alc_arena_free(&a);
}

/* ---- stdlib ---- */

/* Every stdlib file round-trips, is already formatted, checks, lowers. */
static void test_print_stdlib_round_trip(void **state)
{
    char dir[4096];
    int n = 0;
    (void)state;
    snprintf(dir, sizeof dir, "%s/stdlib", ALC_SOURCE_DIR);
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de = NULL;
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".alloc") != 0) {
            continue;
        }
        char *path = alc_path_join(dir, de->d_name);
        char *src = NULL;
        size_t srclen = 0;
        struct alc_diag d;
        struct alc_arena a;
        alc_diag_init(&d);
        alc_arena_init(&a, 0);
        assert_int_equal(alc_read_file(path, &src, &srclen, &d), 0);
        struct alc_program *p = parse_ok(&a, de->d_name, src);
        assert_round_trip(p, de->d_name);
        char *t = print_prog(p, 0);
        if (strcmp(t, src) != 0) {
            fail_msg("%s is not in canonical layout (dsac fmt -w it):\n%s",
                     de->d_name, t);
        }
        if (strcmp(de->d_name, "prelude.alloc") != 0) {
            struct alc_ir ir;
            alc_ir_init(&ir);
            if (alc_check(p, &d) != 0 || alc_lower(p, &ir, &d) != 0) {
                fail_msg("%s: %s", de->d_name, alc_diag_text(&d));
            }
            alc_ir_free(&ir);
        }
        free(t);
        free(src);
        free(path);
        alc_arena_free(&a);
        alc_diag_free(&d);
        n++;
    }
    closedir(dh);
    assert_true(n >= 9);
}

/* ---- random programs ---- */

static void random_round_trips(const struct alc_random_opts *o, int count,
                               uint64_t seed)
{
    struct alc_rng rng;
    alc_rng_seed(&rng, seed);
    for (int i = 0; i < count; i++) {
        struct alc_arena a;
        struct alc_diag d;
        struct alc_ir ir;
        char what[64];
        alc_arena_init(&a, 0);
        alc_diag_init(&d);
        alc_ir_init(&ir);
        snprintf(what, sizeof what, "random program %d (seed %llu)", i,
                 (unsigned long long)seed);
        struct alc_program *p = alc_ast_random(&a, &rng, o);
        if (p == NULL) {
            fail_msg("%s: generator failed", what);
        }
        /* the generated tree checks as it is (prelude attached by
         * alc_check) */
        if (alc_check(p, &d) != 0) {
            fail_msg("%s does not check:\n%s", what, alc_diag_text(&d));
        }
        char *src = print_prog(p, 0);
        struct alc_program *q = parse_ok(&a, what, src);
        /* the generated tree checks and lowers */
        if (alc_check(q, &d) != 0 || alc_lower(q, &ir, &d) != 0) {
            fail_msg("%s does not check:\n%s\n%s", what, alc_diag_text(&d),
                     src);
        }
        assert_round_trip(q, what);
        if (!alc_ast_equal(p, q)) {
            fail_msg("%s: parse(print(p)) != p:\n%s", what, src);
        }
        free(src);
        alc_ir_free(&ir);
        alc_diag_free(&d);
        alc_arena_free(&a);
    }
}

/* 5000 random programs over the full op table and every input. */
static void test_print_random_full_table(void **state)
{
    struct alc_random_opts o;
    (void)state;
    alc_random_opts_default(&o);
    o.ops = ~0ull;
    o.n_params = 2;
    o.n_lets = 3;
    o.n_fns = 2;
    o.const_digits = 0; /* all 17 digits: exercises literal printing */
    o.const_hi = 1e6;
    random_round_trips(&o, 5000, 1);
}

/* Deep trees, few leaves, literals near 0: precedence and parentheses. */
static void test_print_random_deep(void **state)
{
    struct alc_random_opts o;
    (void)state;
    alc_random_opts_default(&o);
    o.ops = ~0ull;
    o.max_depth = 12;
    o.p_leaf = 0.15;
    o.const_lo = 0;
    o.const_hi = 1e-3;
    random_round_trips(&o, 300, 2);
}

/* Programs with only maps over element inputs still find a layer-level
 * sparsity through reductions; without reductions they are model-level. */
static void test_print_random_restricted(void **state)
{
    struct alc_random_opts o;
    (void)state;
    alc_random_opts_default(&o);
    o.ops = (1ull << ALC_OP_ADD) | (1ull << ALC_OP_MUL) |
            (1ull << ALC_OP_MEAN);
    o.inputs = 1u << ALC_IN_WANDA;
    o.n_params = 0;
    o.n_fns = 0;
    o.use_prelude = 0;
    random_round_trips(&o, 300, 3);
    o.ops = 1ull << ALC_OP_ADD;
    o.inputs = 1u << ALC_IN_S;
    random_round_trips(&o, 100, 4);
}

/* alc_ast_random_expr builds an expression of the asked level. */
static void test_print_random_expr_levels(void **state)
{
    struct alc_random_opts o;
    struct alc_rng rng;
    (void)state;
    alc_random_opts_default(&o);
    alc_rng_seed(&rng, 7);
    for (int lv = 0; lv < ALC_LV_COUNT; lv++) {
        for (int i = 0; i < 100; i++) {
            struct alc_arena a;
            struct alc_diag d;
            alc_arena_init(&a, 0);
            alc_diag_init(&d);
            struct alc_expr *e = alc_ast_random_expr(&a, &rng, &o, NULL, 0,
                                                     (enum alc_level)lv);
            assert_non_null(e);
            struct alc_sb sb;
            alc_sb_init(&sb);
            alc_sb_puts(&sb, "let x = ");
            alc_print_expr(e, &sb);
            alc_sb_puts(&sb, "\nsparsity = S\n");
            struct alc_program *p = parse_ok(&a, "expr", alc_sb_str(&sb));
            if (alc_check(p, &d) != 0) {
                fail_msg("%s\n%s", alc_sb_str(&sb), alc_diag_text(&d));
            }
            assert_int_equal(p->stmts[0]->level, lv);
            alc_sb_free(&sb);
            alc_diag_free(&d);
            alc_arena_free(&a);
        }
    }
}

/* ---- literals, layout, comments ---- */

/* Literals print in the shortest form that reads back bit for bit. */
static void test_print_numbers_round_trip(void **state)
{
    struct alc_rng rng;
    (void)state;
    alc_rng_seed(&rng, 11);
    struct {
        double v;
        const char *text;
    } fixed[] = {
        {0.0, "0"},       {1.0, "1"},         {20.0, "20"},
        {0.1, "0.1"},     {0.08, "0.08"},     {1e-6, "1e-06"},
        {1e-5, "0.00001"}, {123456789.0, "123456789"},
        {1e20, "1e+20"},  {0.30000000000000004, "0.30000000000000004"},
        {5e-324, "5e-324"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct alc_sb sb;
        alc_sb_init(&sb);
        alc_print_number(fixed[i].v, &sb);
        assert_string_equal(alc_sb_str(&sb), fixed[i].text);
        alc_sb_free(&sb);
    }
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = alc_rng_u64(&rng) & ~(1ull << 63);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) {
            continue;
        }
        struct alc_sb sb;
        alc_sb_init(&sb);
        alc_print_number(v, &sb);
        double back = strtod(alc_sb_str(&sb), NULL);
        assert_memory_equal(&back, &v, sizeof v);
        alc_sb_free(&sb);
    }
}

/* The canonical layout of a messy program, comments kept in place. */
static void test_print_layout_and_comments(void **state)
{
    struct alc_arena a;
    (void)state;
    alc_arena_init(&a, 0);
    const char *src =
        "  # header\n"
        "# second line\n"
        "\n"
        "\n"
        "param   M=5 in[1,2e1]   # threshold\n"
        "fn f( x ,y )=x*(y+1)\n"
        "let lod = mean(wanda >   # inside\n"
        "    M * mean(wanda))\n"
        "\n"
        "# before sparsity\n"
        "sparsity=S+(-lod)^2-(1-lod)  #  end  \n"
        "\n"
        "# trailer\n";
    const char *want =
        "# header\n"
        "# second line\n"
        "\n"
        "param M = 5 in [1, 20]  # threshold\n"
        "fn f(x, y) = x * (y + 1)\n"
        "# inside\n"
        "let lod = mean(wanda > M * mean(wanda))\n"
        "\n"
        "# before sparsity\n"
        "sparsity = S + (-lod) ^ 2 - (1 - lod)  #  end\n"
        "\n"
        "# trailer\n";
    struct alc_program *p = parse_ok(&a, "messy", src);
    char *t = print_prog(p, 0);
    assert_string_equal(t, want);
    assert_round_trip(p, "messy");
    free(t);
    t = print_prog(p, ALC_PRINT_NO_COMMENTS);
    assert_string_equal(t, "param M = 5 in [1, 20]\n"
                           "fn f(x, y) = x * (y + 1)\n"
                           "let lod = mean(wanda > M * mean(wanda))\n"
                           "sparsity = S + (-lod) ^ 2 - (1 - lod)\n");
    free(t);
    alc_arena_free(&a);
}

/* Parentheses appear exactly where the tree needs them. */
static void test_print_parentheses(void **state)
{
    static const char *const cases[][2] = {
        {"(a - b) - c", "a - b - c"},
        {"a - (b - c)", "a - (b - c)"},
        {"a ^ (b ^ c)", "a ^ b ^ c"},
        {"(a ^ b) ^ c", "(a ^ b) ^ c"},
        {"-(a ^ 2)", "-a ^ 2"},
        {"(-a) ^ 2", "(-a) ^ 2"},
        {"-(-a)", "-(-a)"},
        {"a ^ -b", "a ^ (-b)"},
        {"a * -b", "a * -b"},
        {"not not a", "not not a"},
        {"not (a and b)", "not (a and b)"},
        {"(not a) and b", "not a and b"},
        {"(a < b) == c", "(a < b) == c"},
        {"a + (not b)", "a + (not b)"},
        {"not (a + b)", "not a + b"},
        {"(a or b) and c", "(a or b) and c"},
        {"-(a * b)", "-(a * b)"},
        {"(-a) * b", "-a * b"},
        {"((a))", "a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct alc_arena a;
        char src[128], want[128];
        alc_arena_init(&a, 0);
        snprintf(src, sizeof src, "let x = %s\n", cases[i][0]);
        snprintf(want, sizeof want, "let x = %s\n", cases[i][1]);
        struct alc_program *p = parse_ok(&a, "paren", src);
        char *t = print_prog(p, 0);
        assert_string_equal(t, want);
        assert_round_trip(p, src);
        free(t);
        alc_arena_free(&a);
    }
}

/* Layout and comments do not change the canonical hash; code does. */
static void test_print_hash(void **state)
{
    struct alc_arena a;
    (void)state;
    alc_arena_init(&a, 0);
    struct alc_program *p1 = parse_ok(&a, "1", "let x = (wanda)*2 # c\n"
                                               "sparsity = mean(x)\n");
    struct alc_program *p2 = parse_ok(&a, "2", "# other\nlet x=wanda * 2\n\n"
                                               "sparsity=mean( x )\n");
    struct alc_program *p3 = parse_ok(&a, "3", "let x = wanda * 3\n"
                                               "sparsity = mean(x)\n");
    assert_true(alc_ast_hash(p1) == alc_ast_hash(p2));
    assert_true(alc_ast_hash(p1) != alc_ast_hash(p3));
    assert_true(alc_ast_equal(p1, p2));
    assert_false(alc_ast_equal(p1, p3));
    alc_arena_free(&a);
}

/* A deep copy into another arena is equal and independent. */
static void test_print_copy(void **state)
{
    struct alc_arena a, b;
    struct alc_diag d;
    (void)state;
    alc_arena_init(&a, 0);
    alc_arena_init(&b, 0);
    alc_diag_init(&d);
    struct alc_program *p = parse_ok(&a, "c", "# keep\nparam k = 1 in [0, 2]\n"
                                              "fn g(x) = x * k\n"
                                              "sparsity = mean(g(wanda))\n");
    assert_int_equal(alc_check(p, &d), 0);
    struct alc_program *q = alc_ast_copy(&b, p, 1);
    assert_non_null(q);
    char *t1 = print_prog(p, 0);
    alc_arena_free(&a); /* the copy must not point into a */
    char *t2 = print_prog(q, 0);
    assert_string_equal(t1, t2);
    assert_int_equal(q->checked, 0);
    assert_int_equal(alc_check(q, &d), 0);
    free(t1);
    free(t2);
    alc_arena_free(&b);
    alc_diag_free(&d);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_stdlib_round_trip),
        cmocka_unit_test(test_print_random_full_table),
        cmocka_unit_test(test_print_random_deep),
        cmocka_unit_test(test_print_random_restricted),
        cmocka_unit_test(test_print_random_expr_levels),
        cmocka_unit_test(test_print_numbers_round_trip),
        cmocka_unit_test(test_print_layout_and_comments),
        cmocka_unit_test(test_print_parentheses),
        cmocka_unit_test(test_print_hash),
        cmocka_unit_test(test_print_copy),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
