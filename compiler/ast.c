/*
 * ast.c: syntax-tree constructors, the walker, deep copy and structural
 * equality (ast.h). The parser (parse.c), checker (check.c), printer
 * (print.c), random generator (random.c) and the searcher use them.
 */
#include <stdlib.h>

#include "ast.h"

const char *const alc_output_name[ALC_OUT_COUNT] = {
    [ALC_OUT_SPARSITY] = "sparsity",
    [ALC_OUT_SCORE] = "score",
};

/* ---- Constructors ---- */

static struct alc_expr *expr_new(struct alc_arena *a, enum alc_expr_kind k,
                                 struct alc_expr *const *args, int nargs)
{
    struct alc_expr *e = alc_arena_alloc(a, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    e->kind = k;
    e->depth = 1;
    if (nargs > 0) {
        e->args = alc_arena_alloc(a, (size_t)nargs * sizeof *e->args);
        if (e->args == NULL) {
            return NULL;
        }
        for (int i = 0; i < nargs; i++) {
            e->args[i] = args[i];
            if (args[i] != NULL && args[i]->depth + 1 > e->depth) {
                e->depth = args[i]->depth + 1;
            }
        }
    }
    e->nargs = nargs;
    return e;
}

struct alc_expr *alc_ast_num(struct alc_arena *a, double v)
{
    struct alc_expr *e = expr_new(a, ALC_EX_NUM, NULL, 0);
    if (e != NULL) {
        e->u.num = v;
    }
    return e;
}

struct alc_expr *alc_ast_name(struct alc_arena *a, const char *name)
{
    struct alc_expr *e = expr_new(a, ALC_EX_NAME, NULL, 0);
    if (e != NULL) {
        e->u.name.name = alc_arena_strdup(a, name);
        if (e->u.name.name == NULL) {
            return NULL;
        }
    }
    return e;
}

struct alc_expr *alc_ast_op(struct alc_arena *a, enum alc_op op,
                            struct alc_expr *const *args, int nargs)
{
    struct alc_expr *e = expr_new(a, ALC_EX_OP, args, nargs);
    if (e != NULL) {
        e->u.op = op;
    }
    return e;
}

struct alc_expr *alc_ast_call(struct alc_arena *a, const char *fn,
                              struct alc_expr *const *args, int nargs)
{
    struct alc_expr *e = expr_new(a, ALC_EX_CALL, args, nargs);
    if (e != NULL) {
        e->u.call.name = alc_arena_strdup(a, fn);
        if (e->u.call.name == NULL) {
            return NULL;
        }
    }
    return e;
}

struct alc_stmt *alc_ast_stmt(struct alc_arena *a, enum alc_stmt_kind kind,
                              const char *name)
{
    struct alc_stmt *s = alc_arena_alloc(a, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->kind = kind;
    s->output = -1;
    s->name = alc_arena_strdup(a, name);
    return s->name != NULL ? s : NULL;
}

struct alc_program *alc_ast_program(struct alc_arena *a)
{
    struct alc_program *p = alc_arena_alloc(a, sizeof *p);
    if (p != NULL) {
        p->arena = a;
        p->file = "<generated>";
    }
    return p;
}

int alc_ast_append(struct alc_program *p, struct alc_stmt *s)
{
    if (p->n_stmts == p->cap_stmts) {
        int cap = p->cap_stmts > 0 ? p->cap_stmts * 2 : 8;
        struct alc_stmt **v = alc_arena_alloc(p->arena, (size_t)cap *
                                                            sizeof *v);
        if (v == NULL) {
            return -1;
        }
        if (p->n_stmts > 0) {
            memcpy(v, p->stmts, (size_t)p->n_stmts * sizeof *v);
        }
        p->stmts = v;
        p->cap_stmts = cap;
    }
    p->stmts[p->n_stmts++] = s;
    p->checked = 0;
    return 0;
}

/* ---- Walker ---- */

enum alc_walk alc_walk_expr(struct alc_walker *w, struct alc_expr *e)
{
    int max = w->max_depth > 0 ? w->max_depth : ALC_AST_MAX_DEPTH;
    enum alc_walk r = ALC_WALK_CONTINUE;
    if (e == NULL) {
        return ALC_WALK_CONTINUE;
    }
    if (w->depth >= max) {
        w->too_deep = 1;
        return ALC_WALK_ABORT;
    }
    if (w->expr != NULL) {
        r = w->expr(w, e);
    }
    if (r == ALC_WALK_ABORT) {
        return ALC_WALK_ABORT;
    }
    if (r == ALC_WALK_PRUNE) {
        return ALC_WALK_CONTINUE;
    }
    w->depth++;
    for (int i = 0; i < e->nargs; i++) {
        if (alc_walk_expr(w, e->args[i]) == ALC_WALK_ABORT) {
            w->depth--;
            return ALC_WALK_ABORT;
        }
    }
    w->depth--;
    if (w->expr_post != NULL && w->expr_post(w, e) == ALC_WALK_ABORT) {
        return ALC_WALK_ABORT;
    }
    return ALC_WALK_CONTINUE;
}

enum alc_walk alc_walk_program(struct alc_walker *w, struct alc_program *p)
{
    for (int i = 0; i < p->n_stmts; i++) {
        struct alc_stmt *s = p->stmts[i];
        enum alc_walk r = ALC_WALK_CONTINUE;
        w->cur_stmt = s;
        if (w->stmt != NULL) {
            r = w->stmt(w, s);
        }
        if (r == ALC_WALK_ABORT) {
            return ALC_WALK_ABORT;
        }
        if (r == ALC_WALK_PRUNE || s->expr == NULL) {
            continue;
        }
        w->depth = 0;
        if (alc_walk_expr(w, s->expr) == ALC_WALK_ABORT) {
            return ALC_WALK_ABORT;
        }
    }
    w->cur_stmt = NULL;
    return ALC_WALK_CONTINUE;
}

/* ---- Copy ---- */

/* Recursion is bounded: expressions deeper than ALC_AST_MAX_DEPTH are
 * refused (NULL), as the parser and checker refuse them. */
static struct alc_expr *copy_expr(struct alc_arena *a,
                                  const struct alc_expr *e, int depth)
{
    struct alc_expr *args[ALC_MAX_FN_PARAMS];
    struct alc_expr **argv = args;
    struct alc_expr *c = NULL;
    if (depth > ALC_AST_MAX_DEPTH + 1) {
        return NULL;
    }
    if (e->nargs > ALC_MAX_FN_PARAMS) {
        argv = alc_arena_alloc(a, (size_t)e->nargs * sizeof *argv);
        if (argv == NULL) {
            return NULL;
        }
    }
    for (int i = 0; i < e->nargs; i++) {
        argv[i] = copy_expr(a, e->args[i], depth + 1);
        if (argv[i] == NULL) {
            return NULL;
        }
    }
    c = expr_new(a, e->kind, argv, e->nargs);
    if (c == NULL) {
        return NULL;
    }
    c->span = e->span;
    c->at = e->at;
    c->off = e->off;
    switch (e->kind) {
    case ALC_EX_NUM:
        c->u.num = e->u.num;
        break;
    case ALC_EX_NAME:
        c->u.name.name = alc_arena_strdup(a, e->u.name.name);
        return c->u.name.name != NULL ? c : NULL;
    case ALC_EX_OP:
        c->u.op = e->u.op;
        break;
    case ALC_EX_CALL:
        c->u.call.name = alc_arena_strdup(a, e->u.call.name);
        return c->u.call.name != NULL ? c : NULL;
    default:
        return NULL;
    }
    return c;
}

struct alc_expr *alc_ast_copy_expr(struct alc_arena *a,
                                   const struct alc_expr *e)
{
    return copy_expr(a, e, 0);
}

static struct alc_comment *copy_comments(struct alc_arena *a,
                                         const struct alc_comment *c, int n)
{
    struct alc_comment *v = NULL;
    if (n == 0) {
        return NULL;
    }
    v = alc_arena_alloc(a, (size_t)n * sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        v[i].blank_before = c[i].blank_before;
        v[i].text = alc_arena_strdup(a, c[i].text);
        if (v[i].text == NULL) {
            return NULL;
        }
    }
    return v;
}

static struct alc_stmt *copy_stmt(struct alc_arena *a,
                                  const struct alc_stmt *s)
{
    struct alc_stmt *c = alc_ast_stmt(a, s->kind, s->name);
    if (c == NULL) {
        return NULL;
    }
    c->span = s->span;
    c->name_span = s->name_span;
    c->value = s->value;
    c->lo = s->lo;
    c->hi = s->hi;
    c->blank_before = s->blank_before;
    c->n_fn_params = s->n_fn_params;
    if (s->n_fn_params > 0) {
        c->fn_params = alc_arena_alloc(a, (size_t)s->n_fn_params *
                                              sizeof *c->fn_params);
        if (c->fn_params == NULL) {
            return NULL;
        }
        for (int i = 0; i < s->n_fn_params; i++) {
            c->fn_params[i] = alc_arena_strdup(a, s->fn_params[i]);
            if (c->fn_params[i] == NULL) {
                return NULL;
            }
        }
    }
    if (s->expr != NULL) {
        c->expr = copy_expr(a, s->expr, 0);
        if (c->expr == NULL) {
            return NULL;
        }
    }
    c->n_comments = s->n_comments;
    if (s->n_comments > 0) {
        c->comments = copy_comments(a, s->comments, s->n_comments);
        if (c->comments == NULL) {
            return NULL;
        }
    }
    if (s->trailing != NULL) {
        c->trailing = alc_arena_strdup(a, s->trailing);
        if (c->trailing == NULL) {
            return NULL;
        }
    }
    return c;
}

struct alc_stmt *alc_ast_copy_stmt(struct alc_arena *a,
                                   const struct alc_stmt *s)
{
    return copy_stmt(a, s);
}

static int copy_stmts(struct alc_arena *a, struct alc_stmt *const *src, int n,
                      struct alc_stmt ***dst)
{
    *dst = NULL;
    if (n == 0) {
        return 0;
    }
    *dst = alc_arena_alloc(a, (size_t)n * sizeof **dst);
    if (*dst == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        (*dst)[i] = copy_stmt(a, src[i]);
        if ((*dst)[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

struct alc_program *alc_ast_copy(struct alc_arena *a,
                                 const struct alc_program *p,
                                 int with_prelude)
{
    struct alc_program *c = alc_ast_program(a);
    if (c == NULL || copy_stmts(a, p->stmts, p->n_stmts, &c->stmts) != 0) {
        return NULL;
    }
    c->n_stmts = p->n_stmts;
    c->cap_stmts = p->n_stmts;
    if (with_prelude && p->n_prelude > 0) {
        if (copy_stmts(a, p->prelude, p->n_prelude, &c->prelude) != 0) {
            return NULL;
        }
        c->n_prelude = p->n_prelude;
    }
    c->n_end_comments = p->n_end_comments;
    if (p->n_end_comments > 0) {
        c->end_comments = copy_comments(a, p->end_comments,
                                        p->n_end_comments);
        if (c->end_comments == NULL) {
            return NULL;
        }
    }
    c->file = alc_arena_strdup(a, p->file ? p->file : "<generated>");
    if (p->src != NULL) {
        c->src = alc_arena_strndup(a, p->src, p->src_len);
        c->src_len = p->src_len;
    }
    return c->file != NULL ? c : NULL;
}

/* ---- Structural equality ---- */

int alc_ast_expr_equal(const struct alc_expr *a, const struct alc_expr *b)
{
    if (a->kind != b->kind || a->nargs != b->nargs) {
        return 0;
    }
    switch (a->kind) {
    case ALC_EX_NUM:
        if (memcmp(&a->u.num, &b->u.num, sizeof a->u.num) != 0) {
            return 0;
        }
        break;
    case ALC_EX_NAME:
        if (strcmp(a->u.name.name, b->u.name.name) != 0) {
            return 0;
        }
        break;
    case ALC_EX_OP:
        if (a->u.op != b->u.op) {
            return 0;
        }
        break;
    case ALC_EX_CALL:
        if (strcmp(a->u.call.name, b->u.call.name) != 0) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    for (int i = 0; i < a->nargs; i++) {
        if (!alc_ast_expr_equal(a->args[i], b->args[i])) {
            return 0;
        }
    }
    return 1;
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int stmt_equal(const struct alc_stmt *a, const struct alc_stmt *b)
{
    if (a->kind != b->kind || strcmp(a->name, b->name) != 0) {
        return 0;
    }
    if (a->kind == ALC_ST_PARAM) {
        return same_double(a->value, b->value) && same_double(a->lo, b->lo) &&
               same_double(a->hi, b->hi);
    }
    if (a->n_fn_params != b->n_fn_params) {
        return 0;
    }
    for (int i = 0; i < a->n_fn_params; i++) {
        if (strcmp(a->fn_params[i], b->fn_params[i]) != 0) {
            return 0;
        }
    }
    if ((a->expr == NULL) != (b->expr == NULL)) {
        return 0;
    }
    return a->expr == NULL || alc_ast_expr_equal(a->expr, b->expr);
}

int alc_ast_equal(const struct alc_program *a, const struct alc_program *b)
{
    if (a->n_stmts != b->n_stmts) {
        return 0;
    }
    for (int i = 0; i < a->n_stmts; i++) {
        if (!stmt_equal(a->stmts[i], b->stmts[i])) {
            return 0;
        }
    }
    return 1;
}
