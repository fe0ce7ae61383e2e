/*
 * test_ops.c: the op table (compiler/ops.c) is consistent and
 * grammar/LANGUAGE.md documents it word for word: every row has the
 * fields its kind needs, call names resolve by arity, and every op's and
 * input's definition string appears in the reference.
 */
#include "alc_test.h"

#include "ops.h"

/* Each kind has the fields it needs and no others. */
static void test_ops_rows_consistent(void **state)
{
    (void)state;
    for (int i = 0; i < ALC_OP_COUNT; i++) {
        const struct alc_op_info *o = &alc_op_table[i];
        int fns = (o->map1 != NULL) + (o->map2 != NULL) + (o->map3 != NULL);
        assert_non_null(o->def);
        if (o->kind == ALC_OPK_LEAF) {
            assert_null(o->name);
            assert_int_equal(o->nargs, 0);
            continue;
        }
        assert_non_null(o->name);
        if (o->kind == ALC_OPK_MAP) {
            assert_int_equal(fns, 1);
            assert_true((o->nargs == 1 && o->map1) ||
                        (o->nargs == 2 && o->map2) ||
                        (o->nargs == 3 && o->map3));
        } else {
            assert_int_equal(fns, 0);
            assert_int_equal(o->prec, 0);
        }
        if (o->flags & ALC_OPF_PREFIX) {
            assert_int_equal(o->nargs, 1);
            assert_true(o->prec > 0);
        } else if (o->prec > 0) {
            assert_int_equal(o->nargs, 2);
        }
        if (o->prec == 0) {
            /* calls resolve by name and arity to exactly this row */
            assert_int_equal(alc_op_lookup_call(o->name, o->nargs), i);
            assert_true(alc_op_lookup_name(o->name) >= 0);
            assert_int_equal(alc_input_lookup(o->name), -1);
        }
    }
    assert_int_equal(alc_op_lookup_call("min", 1), ALC_OP_MIN);
    assert_int_equal(alc_op_lookup_call("min", 2), ALC_OP_MIN2);
    assert_int_equal(alc_op_lookup_call("count", 1), ALC_OP_CNT);
    assert_int_equal(alc_op_lookup_call("+", 2), -1);
    assert_int_equal(alc_op_lookup_call("mean", 2), -1);
}

/* Inputs: named ones resolve; the alpha rows have no name. */
static void test_ops_inputs(void **state)
{
    (void)state;
    for (int i = 0; i < ALC_IN_COUNT; i++) {
        const struct alc_input_info *in = &alc_input_table[i];
        assert_non_null(in->def);
        if (in->name != NULL) {
            assert_int_equal(alc_input_lookup(in->name), i);
            assert_int_equal(alc_op_lookup_name(in->name), -1);
        }
    }
    assert_null(alc_input_table[ALC_IN_ALPHA_PEAK].name);
    assert_int_equal(alc_input_lookup("alpha_peak"), -1);
}

/* LANGUAGE.md with markdown's table escapes (\|) undone. */
static char *language_md(void)
{
    char path[4096];
    char *src = NULL;
    size_t len = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    snprintf(path, sizeof path, "%s/grammar/LANGUAGE.md", ALC_SOURCE_DIR);
    assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
    alc_diag_free(&d);
    char *w = src;
    for (const char *r = src; *r != '\0'; r++) {
        if (r[0] == '\\' && r[1] == '|') {
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
    return src;
}

/* Every definition string is in the reference, next to its op. */
static void test_ops_documented(void **state)
{
    (void)state;
    char *md = language_md();
    for (int i = 0; i < ALC_OP_COUNT; i++) {
        const struct alc_op_info *o = &alc_op_table[i];
        char row[1024];
        if (o->name == NULL) {
            continue;
        }
        snprintf(row, sizeof row, " | %d | %s | %s |", o->nargs,
                 o->kind == ALC_OPK_MAP      ? "map"
                 : o->kind == ALC_OPK_REDUCE ? "reduction"
                 : o->kind == ALC_OPK_ACROSS ? "across units"
                                             : "matrix",
                 o->def);
        if (strstr(md, row) == NULL) {
            fail_msg("LANGUAGE.md lacks the row of '%s':%s", o->name, row);
        }
    }
    for (int i = 0; i < ALC_IN_COUNT; i++) {
        const struct alc_input_info *in = &alc_input_table[i];
        char row[1024];
        snprintf(row, sizeof row, "| %s | %s | %s |",
                 in->name ? in->name : "(none)", alc_level_name[in->level],
                 in->def);
        if (strstr(md, row) == NULL) {
            fail_msg("LANGUAGE.md lacks the input row:%s", row);
        }
    }
    free(md);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_rows_consistent),
        cmocka_unit_test(test_ops_inputs),
        cmocka_unit_test(test_ops_documented),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
