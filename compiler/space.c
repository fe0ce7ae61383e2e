/*
 * space.c: the search-space file parser (space.h, grammar/SEARCH.md).
 *
 * A space file is a list of lines. A line whose first character is not a
 * blank and whose first word is a directive (space, mode, input, stage,
 * helpers, finish, template, level, depth, inputs, ops, literals, leaf,
 * sigma, digits) is a directive; `helpers`, `stage`, `finish` and
 * `template` open a section, and every other line up to the next
 * directive is .alloc text belonging to it. Each section is parsed by the
 * .alloc front end in place (the rest of the file blanked out, newlines
 * kept), so that its errors carry the file's own line:col. The sections
 * are then checked together: every stage op is a one-parameter fn that
 * keeps the level (element-wise) or reduces element -> layer, a reducing
 * stage holds one op, the template accepts the searched expression.
 * Members (encode, decode, random) are in space_member.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "front.h"
#include "space.h"
#include "space_internal.h"

const char *const alc_space_mode_name[ALC_SPACE_MODE_COUNT] = {
    [ALC_SPACE_CHAIN] = "chain",
    [ALC_SPACE_FREE] = "free",
};

/* ---- Directives ---- */

enum dir {
    DIR_SPACE,
    DIR_MODE,
    DIR_INPUT,
    DIR_HELPERS,
    DIR_STAGE,
    DIR_FINISH,
    DIR_TEMPLATE,
    DIR_LEVEL,
    DIR_DEPTH,
    DIR_INPUTS,
    DIR_OPS,
    DIR_LITERALS,
    DIR_LEAF,
    DIR_SIGMA,
    DIR_DIGITS,
    DIR_COUNT
};

static const char *const dir_name[DIR_COUNT] = {
    [DIR_SPACE] = "space",       [DIR_MODE] = "mode",
    [DIR_INPUT] = "input",       [DIR_HELPERS] = "helpers",
    [DIR_STAGE] = "stage",       [DIR_FINISH] = "finish",
    [DIR_TEMPLATE] = "template", [DIR_LEVEL] = "level",
    [DIR_DEPTH] = "depth",       [DIR_INPUTS] = "inputs",
    [DIR_OPS] = "ops",           [DIR_LITERALS] = "literals",
    [DIR_LEAF] = "leaf",         [DIR_SIGMA] = "sigma",
    [DIR_DIGITS] = "digits",
};

_Static_assert(DIR_COUNT == 15, "dir_name must list every directive");

/* One word of a directive line. */
struct word {
    const char *s;
    int n;
    int col; /* 1-based */
};

#define MAX_WORDS 128

/* A section: the .alloc text of bytes [start, end). */
struct section {
    enum dir kind;
    int stage;     /* DIR_STAGE: its index */
    size_t start, end;
    int line;      /* of the directive */
};

#define MAX_SECTIONS (ALC_SPACE_MAX_STAGES + 8)

struct sp_parse {
    struct alc_space *sp;
    struct alc_diag *d;
    struct alc_program loc;     /* file + source for messages */
    struct section sec[MAX_SECTIONS];
    int n_sec;
    int seen[DIR_COUNT];
    int line;                   /* current line (1-based) */
    int open;                   /* the last directive opened a section */
    int have_ops, have_inputs;
    /* the parsed fragments */
    struct alc_program *helpers, *finish, *tmpl;
    struct alc_program *stage_prog[ALC_SPACE_MAX_STAGES];
};

static void err_at(struct sp_parse *ps, int line, int col, int len,
                   const char *fmt, ...) ALC_PRINTF(5, 6);

static void err_at(struct sp_parse *ps, int line, int col, int len,
                   const char *fmt, ...)
{
    struct alc_sb msg;
    va_list ap;
    struct alc_span sp = {line, col, len > 0 ? len : 1};
    alc_sb_init(&msg);
    va_start(ap, fmt);
    alc_sb_vprintf(&msg, fmt, ap);
    va_end(ap);
    alc_front_error(ps->d, &ps->loc, sp, NULL, "%s", alc_sb_str(&msg));
    alc_sb_free(&msg);
}

static void err_word(struct sp_parse *ps, const struct word *w,
                     const char *fmt, const char *arg)
{
    err_at(ps, ps->line, w->col, w->n, fmt, arg);
}

static int word_is(const struct word *w, const char *s)
{
    return (int)strlen(s) == w->n && strncmp(w->s, s, (size_t)w->n) == 0;
}

static char *word_dup(struct sp_parse *ps, const struct word *w)
{
    return alc_arena_strndup(&ps->sp->arena, w->s, (size_t)w->n);
}

/* Splits a directive line [s, e) into words, stopping at '#'. */
static int split_words(const char *s, const char *e, const char *line0,
                       struct word *w)
{
    int n = 0;
    const char *p = s;
    while (p < e && *p != '#' && n < MAX_WORDS) {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
            continue;
        }
        const char *q = p;
        while (q < e && *q != ' ' && *q != '\t' && *q != '\r' && *q != '#') {
            q++;
        }
        w[n].s = p;
        w[n].n = (int)(q - p);
        w[n].col = (int)(p - line0) + 1;
        n++;
        p = q;
    }
    return n;
}

static int find_dir(const struct word *w)
{
    for (int k = 0; k < DIR_COUNT; k++) {
        if (word_is(w, dir_name[k])) {
            return k;
        }
    }
    return -1;
}

static int parse_num(struct sp_parse *ps, const struct word *w, double lo,
                     double hi, double *out)
{
    char buf[64];
    char *end = NULL;
    if (w->n <= 0 || w->n >= (int)sizeof buf) {
        err_at(ps, ps->line, w->col, w->n, "expected a number, got '%.*s'",
               w->n, w->s);
        return -1;
    }
    memcpy(buf, w->s, (size_t)w->n);
    buf[w->n] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || errno != 0 || !isfinite(v)) {
        err_word(ps, w, "expected a number, got '%s'", buf);
        return -1;
    }
    if (v < lo || v > hi) {
        err_at(ps, ps->line, w->col, w->n, "%s is outside [%g, %g]", buf,
               lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(struct sp_parse *ps, const struct word *w, int lo,
                     int hi, int *out)
{
    double v = 0.0;
    if (parse_num(ps, w, lo, hi, &v) != 0) {
        return -1;
    }
    if (v != floor(v)) {
        err_at(ps, ps->line, w->col, w->n, "expected an integer, got '%.*s'",
               w->n, w->s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int want_args(struct sp_parse *ps, const struct word *w, int n,
                     int lo, int hi)
{
    if (n - 1 < lo || n - 1 > hi) {
        const struct word *at = n > hi + 1 ? &w[hi + 1] : &w[0];
        err_at(ps, ps->line, at->col, at->n, "'%.*s' takes %d%s argument%s",
               w[0].n, w[0].s, lo, lo == hi ? "" : " or more",
               hi == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

/* ---- One directive ---- */

static int dir_mode(struct sp_parse *ps, const struct word *w)
{
    for (int m = 0; m < ALC_SPACE_MODE_COUNT; m++) {
        if (word_is(w, alc_space_mode_name[m])) {
            ps->sp->mode = (enum alc_space_mode)m;
            return 0;
        }
    }
    err_word(ps, w, "unknown mode '%s' (chain or free)", word_dup(ps, w));
    return -1;
}

static int input_of(struct sp_parse *ps, const struct word *w)
{
    char *name = word_dup(ps, w);
    int in = name != NULL ? alc_input_lookup(name) : -1;
    if (in < 0) {
        err_word(ps, w, "unknown input '%s'", name ? name : "");
    }
    return in;
}

static int dir_input(struct sp_parse *ps, const struct word *w)
{
    int in = input_of(ps, w);
    if (in < 0) {
        return -1;
    }
    if (alc_input_table[in].level != ALC_LV_ELEM) {
        err_word(ps, w, "the chain's input must be element-level; '%s' is "
                        "not", alc_input_table[in].name);
        return -1;
    }
    ps->sp->input = in;
    return 0;
}

static int dir_level(struct sp_parse *ps, const struct word *w)
{
    for (int lv = 0; lv < ALC_LV_COUNT; lv++) {
        if (word_is(w, alc_level_name[lv])) {
            ps->sp->level = (enum alc_level)lv;
            return 0;
        }
    }
    err_word(ps, w, "unknown level '%s' (element, layer or model)",
             word_dup(ps, w));
    return -1;
}

static int dir_inputs(struct sp_parse *ps, const struct word *w, int n)
{
    ps->sp->gen.inputs = 0;
    for (int i = 1; i < n; i++) {
        int in = input_of(ps, &w[i]);
        if (in < 0) {
            return -1;
        }
        ps->sp->gen.inputs |= 1u << in;
    }
    ps->have_inputs = 1;
    return 0;
}

/* `ops search` or op names: every op with that surface name (min and max
 * name both the reduction and the element-wise minimum/maximum). */
static int dir_ops(struct sp_parse *ps, const struct word *w, int n)
{
    uint64_t ops = 0;
    for (int i = 1; i < n; i++) {
        int found = 0;
        for (int op = 0; op < ALC_OP_COUNT; op++) {
            const struct alc_op_info *o = &alc_op_table[op];
            int all = word_is(&w[i], "search") &&
                      (o->flags & ALC_OPF_SEARCH);
            if (all || (o->name != NULL && word_is(&w[i], o->name))) {
                if (o->kind == ALC_OPK_LEAF) {
                    continue;
                }
                ops |= 1ull << op;
                found = 1;
            }
        }
        if (!found) {
            err_word(ps, &w[i], "unknown op '%s'", word_dup(ps, &w[i]));
            return -1;
        }
    }
    ps->sp->gen.ops = ops;
    ps->have_ops = 1;
    return 0;
}

static int dir_literals(struct sp_parse *ps, const struct word *w)
{
    struct alc_random_opts *g = &ps->sp->gen;
    if (parse_num(ps, &w[1], 0.0, 1e15, &g->const_lo) != 0 ||
        parse_num(ps, &w[2], g->const_lo, 1e15, &g->const_hi) != 0 ||
        parse_int(ps, &w[3], 1, 17, &g->const_digits) != 0) {
        return -1;
    }
    return 0;
}

static int open_section(struct sp_parse *ps, enum dir k, size_t body)
{
    if (ps->n_sec == MAX_SECTIONS) {
        err_at(ps, ps->line, 1, 1, "too many sections (at most %d)",
               MAX_SECTIONS);
        return -1;
    }
    struct section *s = &ps->sec[ps->n_sec++];
    s->kind = k;
    s->stage = k == DIR_STAGE ? ps->sp->n_stages - 1 : -1;
    s->start = body;
    s->end = body;
    s->line = ps->line;
    ps->open = 1;
    return 0;
}

static int dir_stage(struct sp_parse *ps, const struct word *w, size_t body)
{
    struct alc_space *sp = ps->sp;
    struct alc_space_stage *st = NULL;
    if (sp->n_stages == ALC_SPACE_MAX_STAGES) {
        err_at(ps, ps->line, w[0].col, w[0].n, "too many stages (at most "
               "%d)", ALC_SPACE_MAX_STAGES);
        return -1;
    }
    st = &sp->stages[sp->n_stages];
    memset(st, 0, sizeof *st);
    st->name = word_dup(ps, &w[1]);
    st->line = ps->line;
    st->identity = -1;
    for (int i = 0; i < sp->n_stages; i++) {
        if (strcmp(sp->stages[i].name, st->name) == 0) {
            err_word(ps, &w[1], "stage '%s' is declared twice", st->name);
            return -1;
        }
    }
    if (parse_int(ps, &w[2], 0, ALC_SPACE_MAX_CHAIN, &st->min) != 0 ||
        parse_int(ps, &w[3], st->min, ALC_SPACE_MAX_CHAIN, &st->max) != 0) {
        return -1;
    }
    if (st->max < 1) {
        err_at(ps, ps->line, w[3].col, w[3].n, "a stage of at most 0 ops "
               "does nothing: remove it");
        return -1;
    }
    sp->n_stages++;
    return open_section(ps, DIR_STAGE, body);
}

/* Arguments expected by each directive: {min, max}. */
static const int dir_args[DIR_COUNT][2] = {
    [DIR_SPACE] = {1, 1},    [DIR_MODE] = {1, 1},   [DIR_INPUT] = {1, 1},
    [DIR_HELPERS] = {0, 0},  [DIR_STAGE] = {3, 3},  [DIR_FINISH] = {0, 0},
    [DIR_TEMPLATE] = {0, 0}, [DIR_LEVEL] = {1, 1},  [DIR_DEPTH] = {1, 1},
    [DIR_INPUTS] = {1, MAX_WORDS}, [DIR_OPS] = {1, MAX_WORDS},
    [DIR_LITERALS] = {3, 3}, [DIR_LEAF] = {1, 1},   [DIR_SIGMA] = {1, 1},
    [DIR_DIGITS] = {1, 1},
};

static int directive(struct sp_parse *ps, int k, const struct word *w, int n,
                     size_t body)
{
    struct alc_space *sp = ps->sp;
    if (want_args(ps, w, n, dir_args[k][0], dir_args[k][1]) != 0) {
        return -1;
    }
    if (k != DIR_STAGE && ps->seen[k]) {
        err_word(ps, &w[0], "'%s' is given twice", dir_name[k]);
        return -1;
    }
    ps->seen[k]++;
    switch ((enum dir)k) {
    case DIR_SPACE:
        sp->name = word_dup(ps, &w[1]);
        return sp->name != NULL ? 0 : -1;
    case DIR_MODE:
        return dir_mode(ps, &w[1]);
    case DIR_INPUT:
        return dir_input(ps, &w[1]);
    case DIR_STAGE:
        return dir_stage(ps, w, body);
    case DIR_HELPERS:
    case DIR_FINISH:
    case DIR_TEMPLATE:
        return open_section(ps, (enum dir)k, body);
    case DIR_LEVEL:
        return dir_level(ps, &w[1]);
    case DIR_DEPTH:
        return parse_int(ps, &w[1], 1, 64, &sp->gen.max_depth);
    case DIR_INPUTS:
        return dir_inputs(ps, w, n);
    case DIR_OPS:
        return dir_ops(ps, w, n);
    case DIR_LITERALS:
        return dir_literals(ps, w);
    case DIR_LEAF:
        return parse_num(ps, &w[1], 0.0, 1.0, &sp->gen.p_leaf);
    case DIR_SIGMA:
        return parse_num(ps, &w[1], 1e-6, 10.0, &sp->sigma);
    case DIR_DIGITS:
        return parse_int(ps, &w[1], 1, 17, &sp->digits);
    default:
        return -1;
    }
}

/* ---- Lines ---- */

static int blank_or_comment(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' ||
                     *s == '\v')) {
        s++;
    }
    return s == e || *s == '#';
}

/* One line [s, e); next = offset of the following line. */
static int scan_line(struct sp_parse *ps, const char *s, const char *e,
                     size_t next)
{
    struct word w[MAX_WORDS];
    int n = 0, k = -1;
    if (s < e && *s != ' ' && *s != '\t') {
        n = split_words(s, e, s, w);
        k = n > 0 ? find_dir(&w[0]) : -1;
    }
    if (k >= 0) {
        if (ps->open) {
            ps->sec[ps->n_sec - 1].end = (size_t)(s - ps->sp->src);
        }
        ps->open = 0;
        return directive(ps, k, w, n, next);
    }
    if (ps->open || blank_or_comment(s, e)) {
        return 0; /* .alloc text of the open section, or nothing */
    }
    n = split_words(s, e, s, w);
    err_at(ps, ps->line, n > 0 ? w[0].col : 1, n > 0 ? w[0].n : 1,
           "expected a directive (space, mode, input, stage, helpers, "
           "finish, template, level, depth, inputs, ops, literals, leaf, "
           "sigma, digits); .alloc text belongs in a stage, helpers, "
           "finish or template section");
    return -1;
}

static int scan_lines(struct sp_parse *ps)
{
    const char *src = ps->sp->src;
    size_t len = ps->sp->len, i = 0;
    ps->line = 0;
    while (i < len) {
        const char *nl = memchr(src + i, '\n', len - i);
        size_t e = nl != NULL ? (size_t)(nl - src) : len;
        size_t next = nl != NULL ? e + 1 : len;
        ps->line++;
        if (scan_line(ps, src + i, src + e, next) != 0) {
            return -1;
        }
        i = next;
    }
    if (ps->open) {
        ps->sec[ps->n_sec - 1].end = len;
    }
    return 0;
}

/* ---- Sections as .alloc fragments ---- */

/* Parses bytes [s->start, s->end) in place: everything else blanked. */
static struct alc_program *parse_section(struct sp_parse *ps,
                                         const struct section *s)
{
    struct alc_space *sp = ps->sp;
    char *buf = malloc(sp->len + 1);
    struct alc_program *p = NULL;
    if (buf == NULL) {
        alc_diag_errorf(ps->d, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < sp->len; i++) {
        int inside = i >= s->start && i < s->end;
        buf[i] = inside || sp->src[i] == '\n' ? sp->src[i] : ' ';
    }
    buf[sp->len] = '\0';
    p = alc_parse(&sp->arena, sp->file, buf, sp->len, ps->d);
    free(buf);
    return p;
}

static int is_unary_fn(const struct alc_stmt *s)
{
    return s->kind == ALC_ST_FN && s->n_fn_params == 1;
}

/* Every statement of a stage or finish section: `fn NAME(x) = ...`. */
static int want_unary_fns(struct sp_parse *ps, const struct alc_program *p,
                          const struct section *s)
{
    if (p->n_stmts == 0) {
        err_at(ps, s->line, 1, 1, "this %s holds no `fn NAME(x) = ...`",
               s->kind == DIR_STAGE ? "stage" : "section");
        return -1;
    }
    for (int i = 0; i < p->n_stmts; i++) {
        if (!is_unary_fn(p->stmts[i])) {
            struct alc_span at = p->stmts[i]->span;
            alc_front_error(ps->d, &ps->loc, at, NULL,
                            "a %s holds only fns of one parameter, "
                            "`fn NAME(x) = EXPR`",
                            s->kind == DIR_STAGE ? "stage" : "finish "
                                                             "section");
            return -1;
        }
    }
    return 0;
}

static int parse_sections(struct sp_parse *ps)
{
    for (int i = 0; i < ps->n_sec; i++) {
        const struct section *s = &ps->sec[i];
        struct alc_program *p = parse_section(ps, s);
        if (p == NULL) {
            return -1;
        }
        switch (s->kind) {
        case DIR_HELPERS:
            ps->helpers = p;
            break;
        case DIR_STAGE:
            ps->stage_prog[s->stage] = p;
            if (want_unary_fns(ps, p, s) != 0) {
                return -1;
            }
            break;
        case DIR_FINISH:
            ps->finish = p;
            if (want_unary_fns(ps, p, s) != 0) {
                return -1;
            }
            break;
        default:
            ps->tmpl = p;
            break;
        }
    }
    return 0;
}

/* ---- Building the space ---- */

static char *label_of(struct alc_arena *a, const char *fn)
{
    const char *u = strchr(fn, '_');
    char *l = alc_arena_strdup(a, u != NULL && u[1] != '\0' ? u + 1 : fn);
    for (char *c = l; c != NULL && *c != '\0'; c++) {
        *c = (char)toupper((unsigned char)*c);
    }
    return l;
}

static int name_taken(const struct alc_space *sp, const char *name)
{
    for (int i = 0; i < sp->n_helpers; i++) {
        if (strcmp(sp->helpers[i]->name, name) == 0) {
            return 1;
        }
    }
    for (int i = 0; i < sp->n_ops; i++) {
        if (strcmp(sp->ops[i].fn, name) == 0) {
            return 1;
        }
    }
    return sp->finish != NULL && strcmp(sp->finish->name, name) == 0;
}

static int dup_name(struct sp_parse *ps, const struct alc_stmt *s)
{
    if (!name_taken(ps->sp, s->name)) {
        return 0;
    }
    alc_front_error(ps->d, &ps->loc, s->name_span, NULL,
                    "'%s' is declared twice in this space", s->name);
    return -1;
}

static int add_helpers(struct sp_parse *ps)
{
    struct alc_space *sp = ps->sp;
    for (int i = 0; ps->helpers != NULL && i < ps->helpers->n_stmts; i++) {
        const struct alc_stmt *s = ps->helpers->stmts[i];
        if (s->kind != ALC_ST_FN) {
            alc_front_error(ps->d, &ps->loc, s->span, NULL,
                            "the helpers section holds only fns");
            return -1;
        }
        if (sp->n_helpers == ALC_SPACE_MAX_HELPERS || dup_name(ps, s)) {
            if (sp->n_helpers == ALC_SPACE_MAX_HELPERS) {
                alc_front_error(ps->d, &ps->loc, s->span, NULL,
                                "more than %d helpers",
                                ALC_SPACE_MAX_HELPERS);
            }
            return -1;
        }
        sp->helpers[sp->n_helpers++] = s;
    }
    return 0;
}

static int is_identity(const struct alc_stmt *s)
{
    const struct alc_expr *b = s->expr;
    return b != NULL && b->kind == ALC_EX_NAME &&
           strcmp(b->u.name.name, s->fn_params[0]) == 0;
}

static int add_stage_ops(struct sp_parse *ps, int k)
{
    struct alc_space *sp = ps->sp;
    struct alc_space_stage *st = &sp->stages[k];
    const struct alc_program *p = ps->stage_prog[k];
    st->first = sp->n_ops;
    for (int i = 0; i < p->n_stmts; i++) {
        const struct alc_stmt *s = p->stmts[i];
        if (sp->n_ops == ALC_SPACE_MAX_OPS) {
            alc_front_error(ps->d, &ps->loc, s->span, NULL,
                            "more than %d ops in the space",
                            ALC_SPACE_MAX_OPS);
            return -1;
        }
        if (dup_name(ps, s) != 0) {
            return -1;
        }
        struct alc_space_op *o = &sp->ops[sp->n_ops++];
        memset(o, 0, sizeof *o);
        o->fn = s->name;
        o->label = label_of(&sp->arena, s->name);
        o->decl = s;
        o->param = s->fn_params[0];
        o->stage = k;
        o->identity = is_identity(s);
        if (o->identity && st->identity < 0) {
            st->identity = sp->n_ops - 1;
        }
        st->n++;
    }
    return 0;
}

static int build(struct sp_parse *ps)
{
    struct alc_space *sp = ps->sp;
    if (add_helpers(ps) != 0) {
        return -1;
    }
    for (int k = 0; k < sp->n_stages; k++) {
        if (add_stage_ops(ps, k) != 0) {
            return -1;
        }
    }
    if (ps->finish != NULL) {
        if (ps->finish->n_stmts != 1) {
            alc_front_error(ps->d, &ps->loc, ps->finish->stmts[1]->span,
                            NULL, "the finish section holds one fn");
            return -1;
        }
        if (dup_name(ps, ps->finish->stmts[0]) != 0) {
            return -1;
        }
        sp->finish = ps->finish->stmts[0];
        sp->finish_param = sp->finish->fn_params[0];
    }
    /* the template's declarations join the candidate's fns: a name that a
     * helper, an op or the finish fn has would be declared twice in every
     * candidate (found by fuzz_space) */
    for (int i = 0; ps->tmpl != NULL && i < ps->tmpl->n_stmts; i++) {
        const struct alc_stmt *s = ps->tmpl->stmts[i];
        if (s->kind != ALC_ST_OUT && dup_name(ps, s) != 0) {
            return -1;
        }
    }
    sp->tmpl = ps->tmpl;
    return 0;
}

/* Directives that only one mode reads. */
static int mode_checks(struct sp_parse *ps)
{
    static const int chain_only[] = {DIR_INPUT, DIR_STAGE, DIR_FINISH,
                                     DIR_HELPERS};
    static const int free_only[] = {DIR_LEVEL, DIR_DEPTH, DIR_INPUTS,
                                    DIR_OPS, DIR_LITERALS, DIR_LEAF};
    int chain = ps->sp->mode == ALC_SPACE_CHAIN;
    const int *bad = chain ? free_only : chain_only;
    int n = chain ? 6 : 4;
    for (int i = 0; i < n; i++) {
        if (ps->seen[bad[i]]) {
            err_at(ps, 1, 1, 1, "'%s' is for %s spaces, but this one is "
                                "mode %s", dir_name[bad[i]],
                   chain ? "free" : "chain", alc_space_mode_name[chain ? 0
                                                                      : 1]);
            return -1;
        }
    }
    if (!ps->seen[DIR_TEMPLATE]) {
        err_at(ps, ps->line > 0 ? ps->line : 1, 1, 1,
               "the space has no `template` section");
        return -1;
    }
    if (chain && ps->sp->n_stages == 0) {
        err_at(ps, 1, 1, 1, "a chain space needs at least one `stage`");
        return -1;
    }
    return 0;
}

static void defaults(struct alc_space *sp)
{
    alc_random_opts_default(&sp->gen);
    sp->gen.ops = 0;
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (alc_op_table[op].flags & ALC_OPF_SEARCH) {
            sp->gen.ops |= 1ull << op;
        }
    }
    sp->gen.inputs = 1u << ALC_IN_WANDA;
    sp->gen.n_params = 0;
    sp->gen.n_lets = 0;
    sp->gen.n_fns = 0;
    sp->gen.score = 0;
    sp->gen.use_prelude = 0;
    sp->mode = ALC_SPACE_CHAIN;
    sp->input = ALC_IN_WANDA;
    sp->level = ALC_LV_LAYER;
    sp->reduce_stage = -1;
    sp->sigma = 0.1;
    sp->digits = 3;
}

/* The text must be text: no NUL byte (the .alloc sections are checked
 * further by the front end). */
static int check_text(struct sp_parse *ps)
{
    const char *nul = memchr(ps->sp->src, '\0', ps->sp->len);
    if (nul != NULL) {
        int line = 1, col = 1;
        for (const char *c = ps->sp->src; c < nul; c++) {
            line += *c == '\n';
            col = *c == '\n' ? 1 : col + 1;
        }
        err_at(ps, line, col, 1, "a NUL byte: not a text file");
        return -1;
    }
    return 0;
}

int alc_space_parse(struct alc_space *sp, const char *file, const char *src,
                    size_t len, struct alc_diag *d)
{
    struct sp_parse *ps = NULL;
    int rc = -1;
    memset(sp, 0, sizeof *sp);
    alc_arena_init(&sp->arena, 0);
    defaults(sp);
    if (len > ALC_SPACE_MAX_BYTES) {
        alc_diag_errorf(d, "%s: larger than %u bytes", file,
                        ALC_SPACE_MAX_BYTES);
        return -1;
    }
    ps = calloc(1, sizeof *ps);
    sp->file = alc_arena_strdup(&sp->arena, file);
    sp->src = alc_arena_strndup(&sp->arena, src, len);
    if (ps == NULL || sp->file == NULL || sp->src == NULL) {
        alc_diag_errorf(d, "out of memory");
        goto done;
    }
    sp->len = len;
    sp->hash = alc_hash64(src, len, 0);
    ps->sp = sp;
    ps->d = d;
    ps->loc.file = sp->file;
    ps->loc.src = sp->src;
    ps->loc.src_len = len;
    if (check_text(ps) != 0 || scan_lines(ps) != 0 || mode_checks(ps) != 0 ||
        parse_sections(ps) != 0 || build(ps) != 0 ||
        alc_space_validate(sp, &ps->loc, d) != 0) {
        goto done;
    }
    if (sp->name == NULL) {
        sp->name = "unnamed";
    }
    rc = 0;
done:
    free(ps);
    if (rc != 0) {
        alc_space_free(sp);
    }
    return rc;
}

int alc_space_load(struct alc_space *sp, const char *path,
                   struct alc_diag *d)
{
    char *src = NULL;
    size_t len = 0;
    int rc = -1;
    if (strcmp(path, "dsa") == 0) {
        return alc_space_parse(sp, "<builtin>/dsa.space",
                               (const char *)alc_space_dsa_src,
                               alc_space_dsa_src_len, d);
    }
    if (strcmp(path, "free") == 0) {
        return alc_space_parse(sp, "<builtin>/free.space",
                               (const char *)alc_space_free_src,
                               alc_space_free_src_len, d);
    }
    if (alc_read_file(path, &src, &len, d) != 0) {
        return -1;
    }
    rc = alc_space_parse(sp, path, src, len, d);
    free(src);
    return rc;
}

void alc_space_free(struct alc_space *sp)
{
    alc_arena_free(&sp->arena);
    memset(sp, 0, sizeof *sp);
}
