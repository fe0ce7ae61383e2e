/*
 * test_lexer.c: the re2c lexer (grammar/alloc.re) on tiny strings, as
 * ninja's lexer_test.cc does: each input's token stream is serialised as
 * "TYPE(text) TYPE ..." and compared with the expected string. Also the
 * driver's positions (line:col) and its rejection of binary input.
 */
#include "alc_test.h"

#include "front.h"
#include "parse_int.h"

/* "NAME(x) PLUS NUMBER(1) EOF": types, with the text of names, numbers,
 * comments and illegal tokens; SPACE tokens shown as SPACE. */
static char *lex_dump(const char *src)
{
    struct alc_sb sb;
    const char *p = src;
    alc_sb_init(&sb);
    for (int guard = 0; guard < 1000; guard++) {
        int n = 0;
        int type = alc_lex_token(p, &n);
        if (sb.len > 0) {
            alc_sb_putc(&sb, ' ');
        }
        alc_sb_puts(&sb, alc_tok_name(type));
        if (type == 0) {
            break;
        }
        if (type == TK_NAME || type == TK_NUMBER || type == TK_COMMENT ||
            type == TK_ILLEGAL) {
            alc_sb_printf(&sb, "(%.*s)", n, p);
        }
        assert_true(n > 0);
        p += n;
    }
    return alc_sb_take(&sb);
}

static void expect_tokens(const char *src, const char *want)
{
    char *got = lex_dump(src);
    if (strcmp(got, want) != 0) {
        fail_msg("lexing \"%s\"\n got: %s\nwant: %s", src, got, want);
    }
    free(got);
}

/* Names, inputs and operators. */
static void test_lex_basic(void **state)
{
    (void)state;
    expect_tokens("", "EOF");
    expect_tokens("wanda+3", "NAME(wanda) PLUS NUMBER(3) EOF");
    expect_tokens(" x_1 *\t(y2)\n",
                  "SPACE NAME(x_1) SPACE STAR SPACE LP NAME(y2) RP SPACE "
                  "EOF");
    expect_tokens("a^-b/c", "NAME(a) CARET MINUS NAME(b) SLASH NAME(c) EOF");
}

/* Keywords are whole words; longer names stay names. */
static void test_lex_keywords(void **state)
{
    (void)state;
    expect_tokens("let lets fn fns param params in inx",
                  "LET SPACE NAME(lets) SPACE FN SPACE NAME(fns) SPACE PARAM "
                  "SPACE NAME(params) SPACE IN SPACE NAME(inx) EOF");
    expect_tokens("not note and andy or order",
                  "NOT SPACE NAME(note) SPACE AND SPACE NAME(andy) SPACE OR "
                  "SPACE NAME(order) EOF");
    expect_tokens("sparsity score S L _x",
                  "NAME(sparsity) SPACE NAME(score) SPACE NAME(S) SPACE "
                  "NAME(L) SPACE NAME(_x) EOF");
}

/* Numbers: integers, decimals, exponents; malformed ones are one token. */
static void test_lex_numbers(void **state)
{
    (void)state;
    expect_tokens("1 1.5 .5 1. 1e3 1.5e-3 2E+10",
                  "NUMBER(1) SPACE NUMBER(1.5) SPACE NUMBER(.5) SPACE "
                  "NUMBER(1.) SPACE NUMBER(1e3) SPACE NUMBER(1.5e-3) SPACE "
                  "NUMBER(2E+10) EOF");
    expect_tokens("1e", "ILLEGAL(1e) EOF");
    expect_tokens("1e+", "ILLEGAL(1e) PLUS EOF");
    expect_tokens("1.2.3", "ILLEGAL(1.2.3) EOF");
    expect_tokens("3x", "ILLEGAL(3x) EOF");
    expect_tokens(".", "ILLEGAL(.) EOF");
    expect_tokens("-2", "MINUS NUMBER(2) EOF");
}

/* Every operator and punctuation mark. */
static void test_lex_operators(void **state)
{
    (void)state;
    expect_tokens("<= < >= > == != =",
                  "LE SPACE LT SPACE GE SPACE GT SPACE EQEQ SPACE NE SPACE "
                  "EQ EOF");
    /* longest match: >== is >= then = */
    expect_tokens("<=<>=>==!==", "LE LT GE GE EQ NE EQ EOF");
    expect_tokens("+-*/^()[],", "PLUS MINUS STAR SLASH CARET LP RP LBRACKET "
                                "RBRACKET COMMA EOF");
    expect_tokens("= ==", "EQ SPACE EQEQ EOF");
}

/* Comments run to the end of the line. */
static void test_lex_comments(void **state)
{
    (void)state;
    expect_tokens("x # a + b\ny", "NAME(x) SPACE COMMENT(# a + b) SPACE "
                                  "NAME(y) EOF");
    expect_tokens("#", "COMMENT(#) EOF");
    expect_tokens("# é ünïcode\n", "COMMENT(# é ünïcode) SPACE EOF");
}

/* Anything else is one illegal token (a UTF-8 sequence as a whole). */
static void test_lex_illegal(void **state)
{
    (void)state;
    expect_tokens("@", "ILLEGAL(@) EOF");
    expect_tokens("a!b", "NAME(a) ILLEGAL(!) NAME(b) EOF");
    expect_tokens("é", "ILLEGAL(é) EOF");
    expect_tokens("x$", "NAME(x) ILLEGAL($) EOF");
    expect_tokens("{}", "ILLEGAL({) ILLEGAL(}) EOF");
}

/* Token positions: line and column (in characters) of the parse tree. */
static void test_lex_positions(void **state)
{
    struct alc_arena a;
    struct alc_diag d;
    (void)state;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    const char *src = "# é\nlet x =\n\t  wanda + 2\n";
    struct alc_program *p = alc_parse(&a, "pos", src, strlen(src), &d);
    assert_non_null(p);
    const struct alc_expr *e = p->stmts[0]->expr;
    assert_int_equal(p->stmts[0]->span.line, 2);
    assert_int_equal(p->stmts[0]->span.col, 1);
    assert_int_equal(p->stmts[0]->name_span.col, 5);
    assert_int_equal(e->at.line, 3);
    assert_int_equal(e->at.col, 10);           /* the '+' */
    assert_int_equal(e->args[0]->at.col, 4);   /* wanda, after tab + 2 */
    assert_int_equal(e->args[1]->at.col, 12);
    assert_int_equal(e->span.len, 9);          /* "wanda + 2" */
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* Binary input: one error at the first byte that is not text. */
static void test_lex_binary(void **state)
{
    static const struct {
        const char *src;
        size_t len;
        const char *first;
    } cases[] = {
        {"let x = 1\nsparsity = \xff\n", 22,
         "bin:2:12: error: not a text file: invalid UTF-8 byte 0xff"},
        {"sparsity = S\0\0", 14,
         "bin:1:13: error: not a text file: NUL byte"},
        {"# \x07\n", 4, "bin:1:3: error: not a text file: control character "
                        "0x07"},
        {"\x7f" "ELF\x02", 5,
         "bin:1:1: error: not a text file: control character 0x7f"},
        {"# \xc3\x28", 4,
         "bin:1:3: error: not a text file: invalid UTF-8 byte 0xc3"},
        {"# \xe0\x80\x80", 5, /* overlong */
         "bin:1:3: error: not a text file: invalid UTF-8 byte 0xe0"},
        {"# \xed\xa0\x80", 5, /* surrogate */
         "bin:1:3: error: not a text file: invalid UTF-8 byte 0xed"},
        {"# é\xf8", 5, "bin:1:4: error: not a text file: invalid UTF-8 byte "
                       "0xf8"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct alc_arena a;
        struct alc_diag d;
        alc_arena_init(&a, 0);
        alc_diag_init(&d);
        assert_null(alc_parse(&a, "bin", cases[i].src, cases[i].len, &d));
        assert_int_equal(d.n_err, 1);
        assert_string_equal(d.first, cases[i].first);
        alc_diag_free(&d);
        alc_arena_free(&a);
    }
}

/* A UTF-8 byte order mark is skipped; CR LF line ends are blanks. */
static void test_lex_bom_crlf(void **state)
{
    struct alc_arena a;
    struct alc_diag d;
    (void)state;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    const char *src = "\xef\xbb\xbf" "let x = 1\r\nsparsity = S\r\n";
    struct alc_program *p = alc_parse(&a, "bom", src, strlen(src), &d);
    assert_non_null(p);
    assert_int_equal(p->n_stmts, 2);
    assert_int_equal(p->stmts[0]->span.col, 1);
    assert_int_equal(p->stmts[1]->span.line, 2);
    alc_diag_free(&d);
    alc_arena_free(&a);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex_basic),
        cmocka_unit_test(test_lex_keywords),
        cmocka_unit_test(test_lex_numbers),
        cmocka_unit_test(test_lex_operators),
        cmocka_unit_test(test_lex_comments),
        cmocka_unit_test(test_lex_illegal),
        cmocka_unit_test(test_lex_positions),
        cmocka_unit_test(test_lex_binary),
        cmocka_unit_test(test_lex_bom_crlf),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
