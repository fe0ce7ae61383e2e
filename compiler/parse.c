/*
 * parse.c: the parser's driver and its grammar actions. alc_parse checks
 * that the input is text, feeds the re2c lexer's tokens (grammar/alloc.re)
 * into the Lemon parser (grammar/alloc.y) in one loop, skipping blanks and
 * collecting comments, stops at the first error, and attaches the comments
 * to statements so that the printer can keep them. Also the rendering of
 * compile errors (file:line:col + source line + caret + hint) that the
 * checker and lowering share.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "front.h"
#include "parse_int.h"

/* ---- Tokens ---- */

struct tok_info {
    int type;
    const char *name; /* for lexer dumps */
    const char *desc; /* for messages */
};

static const struct tok_info tok_table[] = {
    {0, "EOF", "end of input"},
    {TK_SPACE, "SPACE", "blank"},
    {TK_COMMENT, "COMMENT", "comment"},
    {TK_ILLEGAL, "ILLEGAL", "unrecognized token"},
    {TK_OR, "OR", "'or'"},
    {TK_AND, "AND", "'and'"},
    {TK_NOT, "NOT", "'not'"},
    {TK_LT, "LT", "'<'"},
    {TK_LE, "LE", "'<='"},
    {TK_GT, "GT", "'>'"},
    {TK_GE, "GE", "'>='"},
    {TK_EQEQ, "EQEQ", "'=='"},
    {TK_NE, "NE", "'!='"},
    {TK_PLUS, "PLUS", "'+'"},
    {TK_MINUS, "MINUS", "'-'"},
    {TK_STAR, "STAR", "'*'"},
    {TK_SLASH, "SLASH", "'/'"},
    {TK_NEG, "NEG", "'-'"},
    {TK_CARET, "CARET", "'^'"},
    {TK_PARAM, "PARAM", "'param'"},
    {TK_NAME, "NAME", "name"},
    {TK_EQ, "EQ", "'='"},
    {TK_IN, "IN", "'in'"},
    {TK_LBRACKET, "LBRACKET", "'['"},
    {TK_COMMA, "COMMA", "','"},
    {TK_RBRACKET, "RBRACKET", "']'"},
    {TK_NUMBER, "NUMBER", "number"},
    {TK_FN, "FN", "'fn'"},
    {TK_LP, "LP", "'('"},
    {TK_RP, "RP", "')'"},
    {TK_LET, "LET", "'let'"},
};

#define N_TOK ((int)(sizeof tok_table / sizeof tok_table[0]))

static const struct tok_info *tok_info(int type)
{
    for (int i = 0; i < N_TOK; i++) {
        if (tok_table[i].type == type) {
            return &tok_table[i];
        }
    }
    return &tok_table[3];
}

const char *alc_tok_name(int type)
{
    return tok_info(type)->name;
}

const char *alc_tok_describe(int type)
{
    return tok_info(type)->desc;
}

/* Tokens after which an expression must follow. */
static int wants_operand(int type)
{
    switch (type) {
    case TK_OR: case TK_AND: case TK_NOT: case TK_LT: case TK_LE:
    case TK_GT: case TK_GE: case TK_EQEQ: case TK_NE: case TK_PLUS:
    case TK_MINUS: case TK_STAR: case TK_SLASH: case TK_CARET: case TK_EQ:
    case TK_LP: case TK_COMMA:
        return 1;
    default:
        return 0;
    }
}

/* ---- Rendering compile errors ---- */

/* Characters (UTF-8 sequences) in s[0..n). */
static int count_chars(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    return c;
}

/* Start of 1-based line `line` in src, or NULL. */
static const char *line_start(const char *src, size_t len, int line)
{
    const char *s = src;
    const char *end = src + len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL) {
            return NULL;
        }
        s = nl + 1;
    }
    return s;
}

/* The source line and a caret line under columns [col, col + len). */
static void render_caret(struct alc_sb *out, const char *src, size_t len,
                         struct alc_span sp)
{
    const char *ls = line_start(src, len, sp.line);
    const char *end = src + len;
    const char *le = NULL;
    const char *p = NULL;
    int col = 1;
    if (ls == NULL) {
        return;
    }
    le = memchr(ls, '\n', (size_t)(end - ls));
    le = le ? le : end;
    if (le > ls && le[-1] == '\r') {
        le--;
    }
    alc_sb_putc(out, ' ');
    alc_sb_append(out, ls, (size_t)(le - ls));
    alc_sb_puts(out, "\n ");
    for (p = ls; p < le && col < sp.col; p++) {
        if (((unsigned char)*p & 0xc0) == 0x80) {
            continue;
        }
        alc_sb_putc(out, *p == '\t' ? '\t' : ' ');
        col++;
    }
    alc_sb_putc(out, '^');
    /* underline the rest of the span on this line */
    int width = count_chars(p, (size_t)(le - p));
    int n = sp.len - 1;
    if (n > width - 1) {
        n = width - 1;
    }
    for (int i = 0; i < n; i++) {
        alc_sb_putc(out, '~');
    }
    alc_sb_putc(out, '\n');
}

static void render(struct alc_diag *d, const char *file, const char *src,
                   size_t len, struct alc_span sp, const char *hint,
                   const char *note, const char *msg)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    if (sp.line > 0) {
        alc_sb_printf(&sb, "%s:%d:%d: error: %s\n", file, sp.line, sp.col,
                      msg);
        if (src != NULL) {
            render_caret(&sb, src, len, sp);
        }
    } else {
        alc_sb_printf(&sb, "%s: error: %s\n", file, msg);
    }
    if (note != NULL) {
        alc_sb_printf(&sb, "note: %s\n", note);
    }
    if (hint != NULL) {
        alc_sb_printf(&sb, "hint: %s\n", hint);
    }
    alc_diag_raw(d, 1, alc_sb_str(&sb));
    alc_sb_free(&sb);
}

void alc_front_error(struct alc_diag *d, const struct alc_program *p,
                     struct alc_span sp, const char *hint, const char *fmt,
                     ...)
{
    struct alc_sb msg;
    va_list ap;
    alc_sb_init(&msg);
    va_start(ap, fmt);
    alc_sb_vprintf(&msg, fmt, ap);
    va_end(ap);
    render(d, p->file ? p->file : "<generated>", p->src, p->src_len, sp,
           hint, NULL, alc_sb_str(&msg));
    alc_sb_free(&msg);
}

/* Used by the checker for errors inside an instantiated fn body. */
void alc_front_error_note(struct alc_diag *d, const struct alc_program *p,
                          struct alc_span sp, const char *hint,
                          const char *note, const char *msg);
void alc_front_error_note(struct alc_diag *d, const struct alc_program *p,
                          struct alc_span sp, const char *hint,
                          const char *note, const char *msg)
{
    render(d, p->file ? p->file : "<generated>", p->src, p->src_len, sp,
           hint, note, msg);
}

static void parse_errorf(struct alc_parse *p, struct alc_span sp,
                         const char *hint, const char *fmt, ...)
    ALC_PRINTF(4, 5);

static void parse_errorf(struct alc_parse *p, struct alc_span sp,
                         const char *hint, const char *fmt, ...)
{
    struct alc_sb msg;
    va_list ap;
    if (p->n_err > 0) {
        return; /* the parser stops at its first error */
    }
    p->n_err++;
    alc_sb_init(&msg);
    va_start(ap, fmt);
    alc_sb_vprintf(&msg, fmt, ap);
    va_end(ap);
    render(p->d, p->prog->file, p->prog->src, p->prog->src_len, sp, hint,
           NULL, alc_sb_str(&msg));
    alc_sb_free(&msg);
}

/* ---- Text check (binary files get one error) ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static int utf8_len(const unsigned char *s, size_t n)
{
    int len = 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if ((size_t)len > n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (int i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

static int is_bad_control(unsigned char c)
{
    if (c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        return 0;
    }
    return c < 0x20 || c == 0x7f;
}

/* Position of the first byte that is not text, or len. */
static size_t first_bad_byte(const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    while (i < len) {
        if (is_bad_control(s[i])) {
            return i;
        }
        int n = utf8_len(s + i, len - i);
        if (n == 0) {
            return i;
        }
        i += (size_t)n;
    }
    return len;
}

/* Line and column of byte offset off. */
static struct alc_span span_at(const char *src, size_t off, int n)
{
    struct alc_span sp = {1, 1, n};
    size_t ls = 0;
    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            sp.line++;
            ls = i + 1;
        }
    }
    sp.col = 1 + count_chars(src + ls, off - ls);
    return sp;
}

static int check_text(struct alc_parse *p, const char *src, size_t len)
{
    size_t bad = first_bad_byte(src, len);
    unsigned char c = 0;
    if (bad == len) {
        return 0;
    }
    c = (unsigned char)src[bad];
    struct alc_span sp = span_at(src, bad, 1);
    struct alc_sb msg;
    alc_sb_init(&msg);
    if (c == 0) {
        alc_sb_puts(&msg, "not a text file: NUL byte");
    } else if (c < 0x80) {
        alc_sb_printf(&msg, "not a text file: control character 0x%02x", c);
    } else {
        alc_sb_printf(&msg, "not a text file: invalid UTF-8 byte 0x%02x", c);
    }
    /* No source line: it is not text. */
    p->n_err++;
    render(p->d, p->prog->file, NULL, 0, sp,
           ".alloc files are UTF-8 text", NULL, alc_sb_str(&msg));
    alc_sb_free(&msg);
    return -1;
}

/* ---- The driver ---- */

struct lexer {
    const char *src;  /* NUL-terminated */
    size_t len;
    size_t pos;
    int line;
    size_t line_off;  /* offset of the current line's first byte */
};

struct pcomment {
    const char *z;
    int n;
    int line;
    unsigned off;
};

struct pstmt {
    unsigned off, end;
    int line, end_line;
};

/* Vectors of the driver (malloc'd, freed by the driver). */
struct pvec {
    struct pcomment *c;
    int nc, capc;
    struct pstmt *s;
    int ns, caps;
};

static struct alc_tok lex_next(struct lexer *lx, int *type)
{
    struct alc_tok t;
    int n = 0;
    *type = alc_lex_token(lx->src + lx->pos, &n);
    t.z = lx->src + lx->pos;
    t.n = n;
    t.line = lx->line;
    t.col = 1 + count_chars(lx->src + lx->line_off, lx->pos - lx->line_off);
    t.off = (unsigned)lx->pos;
    for (int i = 0; i < n; i++) {
        if (t.z[i] == '\n') {
            lx->line++;
            lx->line_off = lx->pos + (size_t)i + 1;
        }
    }
    lx->pos += (size_t)n;
    return t;
}

static struct alc_span tok_span(const struct alc_tok *t)
{
    struct alc_span sp = {t->line, t->col, t->n};
    return sp;
}

static int push_comment(struct pvec *v, const struct alc_tok *t)
{
    if (v->nc == v->capc) {
        int cap = v->capc ? v->capc * 2 : 16;
        struct pcomment *c = realloc(v->c, (size_t)cap * sizeof *c);
        if (c == NULL) {
            return -1;
        }
        v->c = c;
        v->capc = cap;
    }
    v->c[v->nc].z = t->z;
    v->c[v->nc].n = t->n;
    v->c[v->nc].line = t->line;
    v->c[v->nc].off = t->off;
    v->nc++;
    return 0;
}

static void illegal_token(struct alc_parse *p, const struct alc_tok *t)
{
    struct alc_span sp = tok_span(t);
    int n = t->n > 40 ? 40 : t->n;
    sp.len = count_chars(t->z, (size_t)t->n);
    if (t->z[0] >= '0' && t->z[0] <= '9') {
        parse_errorf(p, sp, NULL, "malformed number '%.*s'", n, t->z);
    } else if (t->z[0] == '.' && t->n > 1) {
        parse_errorf(p, sp, NULL, "malformed number '%.*s'", n, t->z);
    } else if (t->z[0] == '!') {
        parse_errorf(p, sp, "use `not x` for negation, `!=` to compare",
                     "unrecognized token '!'");
    } else {
        parse_errorf(p, sp, NULL, "unrecognized token '%.*s'", n, t->z);
    }
}

void alc_parse_syntax_error(struct alc_parse *p, int major,
                            const struct alc_tok *tok)
{
    struct alc_span sp = tok_span(tok);
    const char *hint = NULL;
    int ends_value = p->have_prev && (p->prev_type == TK_NAME ||
                                      p->prev_type == TK_NUMBER ||
                                      p->prev_type == TK_RP);
    struct alc_sb what;
    alc_sb_init(&what);
    if (major == 0) {
        sp = tok_span(&p->end);
        sp.len = 1;
        alc_sb_puts(&what, "unexpected end of input");
    } else if (major == TK_NAME || major == TK_NUMBER) {
        alc_sb_printf(&what, "unexpected %s '%.*s'", alc_tok_describe(major),
                      tok->n > 40 ? 40 : tok->n, tok->z);
    } else {
        alc_sb_printf(&what, "unexpected %s", alc_tok_describe(major));
    }
    if (p->have_prev && wants_operand(p->prev_type)) {
        alc_sb_printf(&what, "; expected an expression after %s",
                      alc_tok_describe(p->prev_type));
    }
    if (p->have_prev && p->prev_type == TK_NAME && p->prev2_ends_value &&
        major != TK_EQ && major != TK_LP) {
        /* `a b`: b would start an output statement `b = ...` */
        struct alc_sb h;
        alc_sb_init(&h);
        alc_sb_printf(&h, "is an operator missing before '%.*s'?",
                      p->prev.n > 40 ? 40 : p->prev.n, p->prev.z);
        parse_errorf(p, sp, alc_sb_str(&h), "%s", alc_sb_str(&what));
        alc_sb_free(&h);
        alc_sb_free(&what);
        return;
    }
    if (major == TK_STAR && p->have_prev && p->prev_type == TK_STAR) {
        hint = "use ^ for powers";
    } else if (major == TK_EQ && ends_value) {
        hint = "use == to compare";
    } else if (major == TK_LBRACKET && p->in_param) {
        hint = "a param is declared as: param NAME = VALUE in [LO, HI]";
    }
    parse_errorf(p, sp, hint, "%s", alc_sb_str(&what));
    alc_sb_free(&what);
}

void alc_parse_overflow(struct alc_parse *p)
{
    parse_errorf(p, tok_span(&p->cur), NULL,
                 "expression nested too deeply (parser stack overflow)");
}

/* Feeds every token of the source to a fresh Lemon parser. */
static int run_parser(struct alc_parse *p, struct lexer *lx, struct pvec *v)
{
    void *parser = alc_parserAlloc(malloc, p);
    int rc = -1;
    if (parser == NULL) {
        alc_diag_errorf(p->d, "out of memory");
        return -1;
    }
    for (;;) {
        int type = 0;
        struct alc_tok t = lex_next(lx, &type);
        if (type == TK_SPACE) {
            continue;
        }
        if (type == TK_COMMENT) {
            if (push_comment(v, &t) != 0) {
                alc_diag_errorf(p->d, "out of memory");
                goto done;
            }
            continue;
        }
        if (type == TK_ILLEGAL) {
            illegal_token(p, &t);
            goto done;
        }
        if (type == 0) {
            alc_parser(parser, 0, t);
            break;
        }
        p->cur = t;
        if (type == TK_PARAM || type == TK_FN || type == TK_LET) {
            p->in_param = type == TK_PARAM;
        }
        alc_parser(parser, type, t);
        if (p->n_err > 0) {
            goto done;
        }
        p->prev2_ends_value = p->have_prev && (p->prev_type == TK_NAME ||
                                               p->prev_type == TK_NUMBER ||
                                               p->prev_type == TK_RP);
        p->prev = t;
        p->prev_type = type;
        p->have_prev = 1;
        p->end = t;
        p->end.col += count_chars(t.z, (size_t)t.n);
        p->end.n = 0;
    }
    rc = p->n_err > 0 ? -1 : 0;
done:
    alc_parserFree(parser, free);
    return p->n_err > 0 ? -1 : rc;
}

/* ---- Attaching comments to statements ---- */

static const char *comment_text(struct alc_arena *a, const struct pcomment *c)
{
    int n = c->n - 1; /* drop the '#' */
    const char *z = c->z + 1;
    while (n > 0 && (z[n - 1] == ' ' || z[n - 1] == '\t' ||
                     z[n - 1] == '\r' || z[n - 1] == '\f' ||
                     z[n - 1] == '\v')) {
        n--;
    }
    return alc_arena_strndup(a, z, (size_t)n);
}

static struct alc_comment *comment_array(struct alc_arena *a, int n)
{
    return n > 0 ? alc_arena_alloc(a, (size_t)n * sizeof(struct alc_comment))
                 : NULL;
}

/* Comments before statement i (and inside it) become its leading comments;
 * the first one on the previous statement's last line is that one's
 * trailing comment; the rest after the last statement end the program. */
static int attach_comments(struct alc_parse *p, const struct pvec *v)
{
    struct alc_program *prog = p->prog;
    int ci = 0;
    int prev_line = 0; /* last line of the previous item, 0 = none */
    for (int i = 0; i < prog->n_stmts && i < v->ns; i++) {
        struct alc_stmt *s = prog->stmts[i];
        const struct pstmt *ps = &v->s[i];
        int first = ci, n = 0;
        if (i > 0 && ci < v->nc && v->c[ci].off < ps->off &&
            v->c[ci].line == v->s[i - 1].end_line) {
            prog->stmts[i - 1]->trailing = comment_text(p->arena, &v->c[ci]);
            ci++;
            first = ci;
        }
        while (ci < v->nc && v->c[ci].off < ps->end) {
            ci++;
        }
        n = ci - first;
        s->comments = comment_array(p->arena, n);
        s->n_comments = n;
        for (int k = 0; k < n; k++) {
            const struct pcomment *c = &v->c[first + k];
            s->comments[k].text = comment_text(p->arena, c);
            if (c->off < ps->off) {
                s->comments[k].blank_before =
                    prev_line > 0 && c->line - prev_line >= 2;
                prev_line = c->line;
            }
        }
        s->blank_before = prev_line > 0 && ps->line - prev_line >= 2;
        prev_line = ps->end_line;
    }
    if (prog->n_stmts > 0 && ci < v->nc &&
        v->c[ci].line == v->s[prog->n_stmts - 1].end_line) {
        prog->stmts[prog->n_stmts - 1]->trailing =
            comment_text(p->arena, &v->c[ci]);
        ci++;
    }
    prog->n_end_comments = v->nc - ci;
    prog->end_comments = comment_array(p->arena, v->nc - ci);
    for (int k = 0; ci < v->nc; k++, ci++) {
        prog->end_comments[k].text = comment_text(p->arena, &v->c[ci]);
        prog->end_comments[k].blank_before =
            prev_line > 0 && v->c[ci].line - prev_line >= 2;
        prev_line = v->c[ci].line;
    }
    return 0;
}

/* ---- Entry points ---- */

static struct alc_program *parse_text(struct alc_arena *a, const char *file,
                                      const char *src, size_t len,
                                      struct alc_diag *d)
{
    struct alc_parse p;
    struct lexer lx;
    struct pvec v;
    struct alc_program *prog = alc_ast_program(a);
    char *copy = NULL;
    memset(&p, 0, sizeof p);
    memset(&v, 0, sizeof v);
    if (prog == NULL) {
        alc_diag_errorf(d, "out of memory");
        return NULL;
    }
    prog->file = alc_arena_strdup(a, file ? file : "<input>");
    copy = alc_arena_alloc(a, len + 1);
    if (prog->file == NULL || copy == NULL) {
        alc_diag_errorf(d, "out of memory");
        return NULL;
    }
    memcpy(copy, src, len);
    copy[len] = '\0';
    prog->src = copy;
    prog->src_len = len;
    p.arena = a;
    p.prog = prog;
    p.d = d;
    p.vec = &v;
    p.end.line = 1;
    p.end.col = 1;
    if (len > ALC_MAX_SOURCE) {
        struct alc_span sp = {0, 0, 0};
        render(d, prog->file, NULL, 0, sp, NULL, NULL,
               "file too large for an .alloc program (over 16 MiB)");
        return NULL;
    }
    if (check_text(&p, copy, len) != 0) {
        return NULL;
    }
    memset(&lx, 0, sizeof lx);
    lx.src = copy;
    lx.len = len;
    lx.line = 1;
    if (len >= 3 && memcmp(copy, "\xef\xbb\xbf", 3) == 0) {
        lx.pos = 3; /* a UTF-8 byte order mark */
        lx.line_off = 3;
    }
    int rc = run_parser(&p, &lx, &v);
    if (rc == 0) {
        rc = attach_comments(&p, &v);
    }
    free(v.c);
    free(v.s);
    return rc == 0 ? prog : NULL;
}

int alc_front_attach_prelude(struct alc_program *p, struct alc_diag *d)
{
    struct alc_program *pre = parse_text(p->arena, "prelude.alloc",
                                         (const char *)alc_prelude_src,
                                         alc_prelude_src_len, d);
    if (pre == NULL) {
        return -1;
    }
    p->prelude = pre->stmts;
    p->n_prelude = pre->n_stmts;
    return 0;
}

struct alc_program *alc_parse(struct alc_arena *a, const char *file,
                              const char *src, size_t len,
                              struct alc_diag *d)
{
    struct alc_program *prog = parse_text(a, file, src, len, d);
    if (prog == NULL || alc_front_attach_prelude(prog, d) != 0) {
        return NULL;
    }
    return prog;
}

struct alc_program *alc_front_load(struct alc_arena *a, const char *file,
                                   const char *src, size_t len,
                                   struct alc_diag *d)
{
    struct alc_program *p = alc_parse(a, file, src, len, d);
    if (p == NULL || alc_check(p, d) != 0) {
        return NULL;
    }
    return p;
}

int alc_front_compile_file(const char *path, struct alc_ir *ir,
                           struct alc_diag *d)
{
    struct alc_arena a;
    char *src = NULL;
    size_t len = 0;
    int rc = -1;
    alc_arena_init(&a, 0);
    if (alc_read_file(path, &src, &len, d) != 0) {
        goto done;
    }
    struct alc_program *p = alc_front_load(&a, path, src, len, d);
    if (p == NULL) {
        goto done;
    }
    rc = alc_lower(p, ir, d);
done:
    free(src);
    alc_arena_free(&a);
    return rc;
}

/* ---- Grammar actions ---- */

static struct alc_span span_join(struct alc_span a, unsigned a_off,
                                 struct alc_span b, unsigned b_off)
{
    struct alc_span sp = a;
    sp.len = (int)(b_off + (unsigned)b.len - a_off);
    return sp;
}

static void oom(struct alc_parse *p)
{
    if (p->n_err == 0) {
        p->n_err++;
        alc_diag_errorf(p->d, "out of memory");
    }
}

/* A placeholder so that actions always return a node. */
static struct alc_expr *dummy(struct alc_parse *p)
{
    oom(p);
    memset(&p->dummy, 0, sizeof p->dummy);
    return &p->dummy;
}

static int check_depth(struct alc_parse *p, struct alc_expr *e)
{
    if (e->depth > ALC_AST_MAX_DEPTH) {
        parse_errorf(p, e->at, "split it with `let`",
                     "expression nested too deeply (more than %d levels)",
                     ALC_AST_MAX_DEPTH);
        return -1;
    }
    return 0;
}

static void add_stmt(struct alc_parse *p, struct alc_stmt *s, unsigned off,
                     unsigned end, int end_line)
{
    struct pvec *v = p->vec;
    if (v->ns == v->caps) {
        int cap = v->caps ? v->caps * 2 : 16;
        struct pstmt *n = realloc(v->s, (size_t)cap * sizeof *n);
        if (n == NULL) {
            oom(p);
            return;
        }
        v->s = n;
        v->caps = cap;
    }
    if (alc_ast_append(p->prog, s) != 0) {
        oom(p);
        return;
    }
    v->s[v->ns].off = off;
    v->s[v->ns].end = end;
    v->s[v->ns].line = s->span.line;
    v->s[v->ns].end_line = end_line;
    v->ns++;
}

/* Last line of an expression's span. */
static int end_line_of(struct alc_parse *p, const struct alc_expr *e)
{
    int line = e->span.line;
    const char *s = p->prog->src + e->off;
    for (int i = 0; i < e->span.len; i++) {
        if (s[i] == '\n') {
            line++;
        }
    }
    return line;
}

struct alc_num ast_num_token(struct alc_parse *p, const struct alc_tok *t,
                             const struct alc_tok *minus)
{
    struct alc_num n;
    struct alc_expr *e = ast_number(p, t);
    n.v = minus ? -e->u.num : e->u.num;
    n.span = tok_span(minus ? minus : t);
    if (minus) {
        n.span.len = (int)(t->off + (unsigned)t->n - minus->off);
    }
    return n;
}

void ast_stmt_param(struct alc_parse *p, const struct alc_tok *kw,
                    const struct alc_tok *name, const struct alc_num *v,
                    const struct alc_num *lo, const struct alc_num *hi,
                    const struct alc_tok *end)
{
    struct alc_stmt *s = NULL;
    char *nm = alc_arena_strndup(p->arena, name->z, (size_t)name->n);
    if (nm == NULL || (s = alc_ast_stmt(p->arena, ALC_ST_PARAM, nm)) == NULL) {
        oom(p);
        return;
    }
    s->span = tok_span(kw);
    s->span.len = (int)(end->off + 1 - kw->off);
    s->name_span = tok_span(name);
    s->value = v->v;
    s->lo = lo->v;
    s->hi = hi->v;
    /* Spans of the three numbers are not kept; the checker points at the
     * name for range errors. */
    add_stmt(p, s, kw->off, end->off + 1, end->line);
}

void ast_stmt_fn(struct alc_parse *p, const struct alc_tok *kw,
                 const struct alc_tok *name, struct alc_namelist *params,
                 struct alc_expr *body)
{
    struct alc_stmt *s = NULL;
    char *nm = alc_arena_strndup(p->arena, name->z, (size_t)name->n);
    int n = params ? params->n : 0;
    if (nm == NULL || (s = alc_ast_stmt(p->arena, ALC_ST_FN, nm)) == NULL) {
        oom(p);
        return;
    }
    s->span = span_join(tok_span(kw), kw->off, body->span, body->off);
    s->name_span = tok_span(name);
    s->expr = body;
    s->n_fn_params = n;
    if (n > 0) {
        s->fn_params = alc_arena_alloc(p->arena, (size_t)n *
                                                     sizeof *s->fn_params);
        s->fn_param_spans = alc_arena_alloc(p->arena,
                                            (size_t)n *
                                                sizeof *s->fn_param_spans);
        if (s->fn_params == NULL || s->fn_param_spans == NULL) {
            oom(p);
            return;
        }
        for (struct alc_namelist *l = params; l != NULL; l = l->prev) {
            s->fn_params[l->n - 1] =
                alc_arena_strndup(p->arena, l->tok.z, (size_t)l->tok.n);
            s->fn_param_spans[l->n - 1] = tok_span(&l->tok);
        }
    }
    add_stmt(p, s, kw->off, body->off + (unsigned)body->span.len,
             end_line_of(p, body));
}

void ast_stmt_let(struct alc_parse *p, const struct alc_tok *kw,
                  const struct alc_tok *name, struct alc_expr *x)
{
    struct alc_stmt *s = NULL;
    char *nm = alc_arena_strndup(p->arena, name->z, (size_t)name->n);
    if (nm == NULL || (s = alc_ast_stmt(p->arena, ALC_ST_LET, nm)) == NULL) {
        oom(p);
        return;
    }
    s->span = span_join(tok_span(kw), kw->off, x->span, x->off);
    s->name_span = tok_span(name);
    s->expr = x;
    add_stmt(p, s, kw->off, x->off + (unsigned)x->span.len,
             end_line_of(p, x));
}

void ast_stmt_out(struct alc_parse *p, const struct alc_tok *name,
                  struct alc_expr *x)
{
    struct alc_stmt *s = NULL;
    char *nm = alc_arena_strndup(p->arena, name->z, (size_t)name->n);
    if (nm == NULL || (s = alc_ast_stmt(p->arena, ALC_ST_OUT, nm)) == NULL) {
        oom(p);
        return;
    }
    s->span = span_join(tok_span(name), name->off, x->span, x->off);
    s->name_span = tok_span(name);
    s->expr = x;
    add_stmt(p, s, name->off, x->off + (unsigned)x->span.len,
             end_line_of(p, x));
}

struct alc_namelist *ast_names(struct alc_parse *p, struct alc_namelist *l,
                               const struct alc_tok *name)
{
    struct alc_namelist *n = alc_arena_alloc(p->arena, sizeof *n);
    if (n == NULL) {
        oom(p);
        return l;
    }
    n->tok = *name;
    n->prev = l;
    n->n = l ? l->n + 1 : 1;
    return n;
}

struct alc_exprlist *ast_args(struct alc_parse *p, struct alc_exprlist *l,
                              struct alc_expr *x)
{
    struct alc_exprlist *n = alc_arena_alloc(p->arena, sizeof *n);
    if (n == NULL) {
        oom(p);
        return l;
    }
    n->e = x;
    n->prev = l;
    n->n = l ? l->n + 1 : 1;
    return n;
}

/* expr -> '(' expr ')': no node; the span grows to the parentheses. */
struct alc_expr *ast_paren(struct alc_parse *p, struct alc_expr *x,
                           const struct alc_tok *lp, const struct alc_tok *rp)
{
    (void)p;
    x->span = tok_span(lp);
    x->span.len = (int)(rp->off + 1 - lp->off);
    x->off = lp->off;
    return x;
}

/* expr -> NUMBER */
struct alc_expr *ast_number(struct alc_parse *p, const struct alc_tok *t)
{
    char buf[64];
    char *text = buf;
    char *end = NULL;
    double v = 0;
    struct alc_expr *e = alc_ast_num(p->arena, 0.0);
    if (e == NULL) {
        return dummy(p);
    }
    if ((size_t)t->n >= sizeof buf) {
        text = alc_arena_strndup(p->arena, t->z, (size_t)t->n);
        if (text == NULL) {
            return dummy(p);
        }
    } else {
        memcpy(buf, t->z, (size_t)t->n);
        buf[t->n] = '\0';
    }
    errno = 0;
    v = strtod(text, &end);
    e->span = tok_span(t);
    e->at = e->span;
    e->off = t->off;
    if (isinf(v) || (errno == ERANGE && v == 0.0)) {
        parse_errorf(p, e->span, NULL,
                     "number '%.*s' is out of range for a double",
                     t->n > 40 ? 40 : t->n, t->z);
        v = 0.0;
    }
    e->u.num = v;
    return e;
}

/* expr -> NAME */
struct alc_expr *ast_name(struct alc_parse *p, const struct alc_tok *t)
{
    struct alc_expr *e = alc_arena_alloc(p->arena, sizeof *e);
    if (e == NULL) {
        return dummy(p);
    }
    e->kind = ALC_EX_NAME;
    e->depth = 1;
    e->u.name.name = alc_arena_strndup(p->arena, t->z, (size_t)t->n);
    if (e->u.name.name == NULL) {
        return dummy(p);
    }
    e->span = tok_span(t);
    e->at = e->span;
    e->off = t->off;
    return e;
}

/* expr -> NAME '(' args ')': a builtin op when the name and arity are in
 * alc_op_table, else a call (of a user fn, or a builtin with a wrong
 * arity, which the checker reports). */
struct alc_expr *ast_call(struct alc_parse *p, const struct alc_tok *name,
                          struct alc_exprlist *args, const struct alc_tok *rp)
{
    int n = args ? args->n : 0;
    struct alc_expr **argv = NULL;
    struct alc_expr *e = NULL;
    char *nm = alc_arena_strndup(p->arena, name->z, (size_t)name->n);
    if (nm == NULL) {
        return dummy(p);
    }
    if (n > 0) {
        argv = alc_arena_alloc(p->arena, (size_t)n * sizeof *argv);
        if (argv == NULL) {
            return dummy(p);
        }
        for (struct alc_exprlist *l = args; l != NULL; l = l->prev) {
            argv[l->n - 1] = l->e;
        }
    }
    int op = alc_op_lookup_call(nm, n);
    if (op >= 0) {
        e = alc_ast_op(p->arena, (enum alc_op)op, argv, n);
    } else {
        e = alc_ast_call(p->arena, nm, argv, n);
    }
    if (e == NULL) {
        return dummy(p);
    }
    e->span = tok_span(name);
    e->span.len = (int)(rp->off + 1 - name->off);
    e->at = tok_span(name);
    e->off = name->off;
    check_depth(p, e);
    return e;
}

/* expr -> '-' expr | 'not' expr */
struct alc_expr *ast_prefix(struct alc_parse *p, enum alc_op op,
                            const struct alc_tok *optok, struct alc_expr *x)
{
    struct alc_expr *e = alc_ast_op(p->arena, op, &x, 1);
    if (e == NULL) {
        return dummy(p);
    }
    e->span = span_join(tok_span(optok), optok->off, x->span, x->off);
    e->at = tok_span(optok);
    e->off = optok->off;
    check_depth(p, e);
    return e;
}

/* expr -> expr OP expr */
struct alc_expr *ast_infix(struct alc_parse *p, enum alc_op op,
                           struct alc_expr *x, const struct alc_tok *optok,
                           struct alc_expr *y)
{
    struct alc_expr *args[2] = {x, y};
    struct alc_expr *e = alc_ast_op(p->arena, op, args, 2);
    if (e == NULL) {
        return dummy(p);
    }
    e->span = span_join(x->span, x->off, y->span, y->off);
    e->at = tok_span(optok);
    e->off = x->off;
    check_depth(p, e);
    return e;
}
