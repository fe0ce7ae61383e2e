/*
 * space_member.c: members of a search space (space.h): validating a
 * parsed space, encoding a member as a program, decoding a program back
 * into a member, random members.
 *
 * Decoding has two ways in. Programs written by alc_space_encode (the
 * search's own candidates, a previous best.alloc) are read directly: their
 * leading fns are the space's, their remaining statements the template's
 * with the chain of calls (or the free expression) in the hole. Any other
 * program (stdlib/dsa.alloc, written by `dsac import-dsa` as a list of
 * lets) is read by inlining every let and fn (prelude included) of both
 * the program and the template, matching the two (the hole binds the
 * searched expression), then matching the stages' inlined op bodies
 * against that expression from the outside in, last stage first, with
 * backtracking (an op such as ATAN may belong to two stages).
 */
#include <math.h>
#include <stdlib.h>

#include "front.h"
#include "space.h"
#include "space_internal.h"

/* ---- Scopes and inlining ---- */

static long expr_size(const struct alc_expr *e)
{
    long n = 1;
    for (int i = 0; i < e->nargs; i++) {
        n += expr_size(e->args[i]);
    }
    return n;
}

#define INLINE_MAX_NODES 200000
#define INLINE_MAX_DEPTH 2000

/* Where names are looked up: statements, then the prelude. */
struct scope {
    struct alc_stmt *const *stmts;
    int n;
    struct alc_stmt *const *pre;
    int n_pre;
};

static const struct alc_stmt *find_stmt(const struct scope *sc,
                                        enum alc_stmt_kind k,
                                        const char *name)
{
    for (int i = sc->n - 1; i >= 0; i--) {
        if (sc->stmts[i]->kind == k && strcmp(sc->stmts[i]->name, name) == 0) {
            return sc->stmts[i];
        }
    }
    for (int i = sc->n_pre - 1; k == ALC_ST_FN && i >= 0; i--) {
        if (strcmp(sc->pre[i]->name, name) == 0) {
            return sc->pre[i];
        }
    }
    return NULL;
}

/* A fn's parameters bound to (inlined) argument trees. */
struct env {
    const struct alc_stmt *fn;
    struct alc_expr *const *args;
};

struct inliner {
    struct alc_arena *a;
    const struct scope *sc;
    long nodes;
    int fail;
};

static struct alc_expr *inl(struct inliner *in, const struct alc_expr *e,
                            const struct env *env, int depth);

static struct alc_expr *inl_name(struct inliner *in, const struct alc_expr *e,
                                 const struct env *env, int depth)
{
    const char *nm = e->u.name.name;
    for (int i = 0; env != NULL && i < env->fn->n_fn_params; i++) {
        if (strcmp(env->fn->fn_params[i], nm) == 0) {
            in->nodes += expr_size(env->args[i]);
            return alc_ast_copy_expr(in->a, env->args[i]);
        }
    }
    const struct alc_stmt *let = find_stmt(in->sc, ALC_ST_LET, nm);
    if (let != NULL && let->expr != NULL) {
        return inl(in, let->expr, NULL, depth + 1);
    }
    return alc_ast_name(in->a, nm);
}

static struct alc_expr *inl_call(struct inliner *in, const struct alc_expr *e,
                                 const struct env *env, int depth)
{
    struct alc_expr *args[ALC_MAX_FN_PARAMS];
    const struct alc_stmt *fn = find_stmt(in->sc, ALC_ST_FN, e->u.call.name);
    if (fn == NULL || fn->n_fn_params != e->nargs || fn->expr == NULL ||
        e->nargs > ALC_MAX_FN_PARAMS) {
        in->fail = 1;
        return NULL;
    }
    for (int i = 0; i < e->nargs; i++) {
        args[i] = inl(in, e->args[i], env, depth + 1);
        if (args[i] == NULL) {
            return NULL;
        }
    }
    struct env inner = {fn, args};
    return inl(in, fn->expr, &inner, depth + 1);
}

static struct alc_expr *inl(struct inliner *in, const struct alc_expr *e,
                            const struct env *env, int depth)
{
    struct alc_expr *args[3] = {NULL, NULL, NULL};
    if (in->fail || depth > INLINE_MAX_DEPTH ||
        ++in->nodes > INLINE_MAX_NODES) {
        in->fail = 1;
        return NULL;
    }
    switch (e->kind) {
    case ALC_EX_NUM:
        return alc_ast_num(in->a, e->u.num);
    case ALC_EX_NAME:
        return inl_name(in, e, env, depth);
    case ALC_EX_CALL:
        return inl_call(in, e, env, depth);
    case ALC_EX_OP:
        if (e->nargs > 3) {
            in->fail = 1;
            return NULL;
        }
        for (int i = 0; i < e->nargs; i++) {
            args[i] = inl(in, e->args[i], env, depth + 1);
            if (args[i] == NULL) {
                return NULL;
            }
        }
        return alc_ast_op(in->a, e->u.op, args, e->nargs);
    default:
        in->fail = 1;
        return NULL;
    }
}

static struct alc_expr *inline_expr(struct alc_arena *a,
                                    const struct scope *sc,
                                    const struct alc_expr *e)
{
    struct inliner in = {a, sc, 0, 0};
    struct alc_expr *r = inl(&in, e, NULL, 0);
    return in.fail ? NULL : r;
}

/* The body of unary fn f, inlined, over the name of its parameter. */
static struct alc_expr *inline_body(struct alc_arena *a,
                                    const struct scope *sc,
                                    const struct alc_stmt *f)
{
    struct inliner in = {a, sc, 0, 0};
    struct alc_expr *x = alc_ast_name(a, f->fn_params[0]);
    if (x == NULL) {
        return NULL;
    }
    struct env env = {f, &x};
    struct alc_expr *r = inl(&in, f->expr, &env, 0);
    return in.fail ? NULL : r;
}

/* ---- Matching ---- */

/* Does e have the shape of pat, where the name var in pat stands for one
 * subtree (the same one at every occurrence)? */
static int match(const struct alc_expr *pat, const struct alc_expr *e,
                 const char *var, const struct alc_expr **bind)
{
    if (pat->kind == ALC_EX_NAME && strcmp(pat->u.name.name, var) == 0) {
        if (*bind == NULL) {
            *bind = e;
            return 1;
        }
        return alc_ast_expr_equal(*bind, e);
    }
    if (pat->kind != e->kind || pat->nargs != e->nargs) {
        return 0;
    }
    switch (pat->kind) {
    case ALC_EX_NUM:
        if (memcmp(&pat->u.num, &e->u.num, sizeof e->u.num) != 0) {
            return 0;
        }
        break;
    case ALC_EX_NAME:
        return strcmp(pat->u.name.name, e->u.name.name) == 0;
    case ALC_EX_OP:
        if (pat->u.op != e->u.op) {
            return 0;
        }
        break;
    case ALC_EX_CALL:
        if (strcmp(pat->u.call.name, e->u.call.name) != 0) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    for (int i = 0; i < pat->nargs; i++) {
        if (!match(pat->args[i], e->args[i], var, bind)) {
            return 0;
        }
    }
    return 1;
}

/* ---- Levels and depth ---- */

int alc_space_expr_depth(const struct alc_expr *e)
{
    int d = 0;
    for (int i = 0; i < e->nargs; i++) {
        int k = alc_space_expr_depth(e->args[i]);
        d = k > d ? k : d;
    }
    return d + 1;
}

static int finest(const struct alc_expr *e, int from)
{
    int r = ALC_LV_MODEL;
    for (int i = from; i < e->nargs; i++) {
        int lv = alc_space_expr_level(e->args[i]);
        if (lv < 0) {
            return -1;
        }
        r = lv < r ? lv : r;
    }
    return r;
}

int alc_space_expr_level(const struct alc_expr *e)
{
    int in = -1, lv = -1;
    switch (e->kind) {
    case ALC_EX_NUM:
        return ALC_LV_MODEL;
    case ALC_EX_NAME:
        in = alc_input_lookup(e->u.name.name);
        return in >= 0 ? (int)alc_input_table[in].level : -1;
    case ALC_EX_CALL:
        return finest(e, 0);
    case ALC_EX_OP:
        break;
    default:
        return -1;
    }
    switch (alc_op_table[e->u.op].kind) {
    case ALC_OPK_MAP:
        return finest(e, 0);
    case ALC_OPK_REDUCE:
        lv = e->nargs > 0 ? alc_space_expr_level(e->args[0]) : -1;
        return lv >= 0 && lv < ALC_LV_MODEL ? lv + 1 : -1;
    case ALC_OPK_ACROSS:
    case ALC_OPK_MATRIX:
        return ALC_LV_LAYER;
    default:
        return -1;
    }
}

/* Every name of e is an input. */
static int names_are_inputs(const struct alc_expr *e)
{
    if (e->kind == ALC_EX_NAME) {
        return alc_input_lookup(e->u.name.name) >= 0;
    }
    for (int i = 0; i < e->nargs; i++) {
        if (!names_are_inputs(e->args[i])) {
            return 0;
        }
    }
    return 1;
}

/* ---- Chains ---- */

int alc_chain_len(const struct alc_chain *c)
{
    int n = 0;
    for (int s = 0; s < ALC_SPACE_MAX_STAGES; s++) {
        n += c->n[s];
    }
    return n;
}

static int chain_reduces(const struct alc_space *sp, const struct alc_chain *c)
{
    return sp->reduce_stage >= 0 && c->n[sp->reduce_stage] > 0;
}

/* A stage may hold cnt non-identity ops (identity fills up to min). */
static int stage_count_ok(const struct alc_space_stage *st, int cnt)
{
    return cnt <= st->max && (cnt >= st->min || st->identity >= 0);
}

int alc_space_chain_valid(const struct alc_space *sp,
                          const struct alc_chain *c)
{
    for (int s = 0; s < sp->n_stages; s++) {
        if (!stage_count_ok(&sp->stages[s], c->n[s])) {
            return 0;
        }
    }
    return 1;
}

/* The chain's expression: input, then every op's call, then finish when
 * nothing reduced. */
static struct alc_expr *chain_expr(const struct alc_space *sp,
                                   struct alc_arena *a,
                                   const struct alc_chain *c)
{
    struct alc_expr *e = alc_ast_name(a, alc_input_table[sp->input].name);
    for (int s = 0; s < sp->n_stages && e != NULL; s++) {
        for (int j = 0; j < c->n[s] && e != NULL; j++) {
            e = alc_ast_call(a, sp->ops[c->op[s][j]].fn, &e, 1);
        }
    }
    if (e != NULL && sp->finish != NULL && !chain_reduces(sp, c)) {
        e = alc_ast_call(a, sp->finish->name, &e, 1);
    }
    return e;
}

/* ---- Encoding ---- */

static int append_copy(struct alc_program *p, struct alc_arena *a,
                       const struct alc_stmt *s)
{
    struct alc_stmt *c = alc_ast_copy_stmt(a, s);
    return c != NULL ? alc_ast_append(p, c) : -1;
}

/* Replaces every hole of e (in place) by a copy of h. */
static struct alc_expr *fill_hole(struct alc_arena *a, struct alc_expr *e,
                                  const struct alc_expr *h)
{
    if (e->kind == ALC_EX_NAME &&
        strcmp(e->u.name.name, ALC_SPACE_HOLE) == 0) {
        return alc_ast_copy_expr(a, h);
    }
    for (int i = 0; i < e->nargs; i++) {
        e->args[i] = fill_hole(a, e->args[i], h);
        if (e->args[i] == NULL) {
            return NULL;
        }
    }
    return e;
}

static int append_template(const struct alc_space *sp, struct alc_program *p,
                           struct alc_arena *a, const struct alc_cand *c,
                           const struct alc_expr *hole)
{
    int k = 0;
    for (int i = 0; i < sp->tmpl->n_stmts; i++) {
        struct alc_stmt *s = alc_ast_copy_stmt(a, sp->tmpl->stmts[i]);
        if (s == NULL) {
            return -1;
        }
        if (s->kind == ALC_ST_PARAM && k < c->n_params) {
            s->value = c->params[k++];
        }
        if (s->expr != NULL && s->kind != ALC_ST_FN) {
            s->expr = fill_hole(a, s->expr, hole);
            if (s->expr == NULL) {
                return -1;
            }
        }
        if (alc_ast_append(p, s) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The fn declarations a chain needs, in the space's order: helpers, ops,
 * finish. */
static int append_chain_fns(const struct alc_space *sp, struct alc_program *p,
                            struct alc_arena *a, const struct alc_chain *c)
{
    int used[ALC_SPACE_MAX_OPS] = {0};
    uint64_t helpers = 0;
    int fin = sp->finish != NULL && !chain_reduces(sp, c);
    for (int s = 0; s < sp->n_stages; s++) {
        for (int j = 0; j < c->n[s]; j++) {
            used[c->op[s][j]] = 1;
            helpers |= sp->ops[c->op[s][j]].helpers;
        }
    }
    helpers |= fin ? sp->finish_helpers : 0;
    for (int h = 0; h < sp->n_helpers; h++) {
        if (((helpers >> h) & 1u) && append_copy(p, a, sp->helpers[h]) != 0) {
            return -1;
        }
    }
    for (int i = 0; i < sp->n_ops; i++) {
        if (used[i] && append_copy(p, a, sp->ops[i].decl) != 0) {
            return -1;
        }
    }
    return fin ? append_copy(p, a, sp->finish) : 0;
}

static struct alc_program *encode_foreign(struct alc_arena *a,
                                          const struct alc_cand *c)
{
    struct alc_program *p = alc_ast_program(a);
    int k = 0;
    if (p == NULL) {
        return NULL;
    }
    p->file = "<candidate>";
    for (int i = 0; i < c->foreign->n_stmts; i++) {
        struct alc_stmt *s = alc_ast_copy_stmt(a, c->foreign->stmts[i]);
        if (s == NULL) {
            return NULL;
        }
        if (s->kind == ALC_ST_PARAM && k < c->n_params) {
            s->value = c->params[k++];
        }
        if (alc_ast_append(p, s) != 0) {
            return NULL;
        }
    }
    return p;
}

struct alc_program *alc_space_encode(const struct alc_space *sp,
                                     struct alc_arena *a,
                                     const struct alc_cand *c)
{
    struct alc_program *p = NULL;
    const struct alc_expr *hole = NULL;
    if (c->foreign != NULL) {
        return encode_foreign(a, c);
    }
    p = alc_ast_program(a);
    if (p == NULL) {
        return NULL;
    }
    p->file = "<candidate>";
    if (sp->mode == ALC_SPACE_CHAIN) {
        if (append_chain_fns(sp, p, a, &c->chain) != 0) {
            return NULL;
        }
        hole = chain_expr(sp, a, &c->chain);
    } else {
        hole = c->expr;
    }
    if (hole == NULL || append_template(sp, p, a, c, hole) != 0) {
        return NULL;
    }
    return p;
}

/* ---- Params ---- */

void alc_space_default_params(const struct alc_space *sp,
                              struct alc_cand *out)
{
    out->n_params = 0;
    for (int i = 0; i < sp->tmpl->n_stmts; i++) {
        const struct alc_stmt *s = sp->tmpl->stmts[i];
        if (s->kind == ALC_ST_PARAM && out->n_params < ALC_SPACE_MAX_PARAMS) {
            out->params[out->n_params++] = s->value;
        }
    }
}

/* A foreign program's params, in its order. */
static void foreign_params(const struct alc_program *p, struct alc_cand *out)
{
    out->n_params = 0;
    for (int i = 0; i < p->n_stmts; i++) {
        if (p->stmts[i]->kind == ALC_ST_PARAM &&
            out->n_params < ALC_SPACE_MAX_PARAMS) {
            out->params[out->n_params++] = p->stmts[i]->value;
        }
    }
}

/* ---- Decoding: the encoded form ---- */

static const struct alc_stmt *space_fn(const struct alc_space *sp,
                                       const char *name, int *op)
{
    *op = -1;
    for (int i = 0; i < sp->n_helpers; i++) {
        if (strcmp(sp->helpers[i]->name, name) == 0) {
            return sp->helpers[i];
        }
    }
    for (int i = 0; i < sp->n_ops; i++) {
        if (strcmp(sp->ops[i].fn, name) == 0) {
            *op = i;
            return sp->ops[i].decl;
        }
    }
    if (sp->finish != NULL && strcmp(sp->finish->name, name) == 0) {
        return sp->finish;
    }
    return NULL;
}

static int same_fn(const struct alc_stmt *a, const struct alc_stmt *b)
{
    if (a->kind != ALC_ST_FN || a->n_fn_params != b->n_fn_params) {
        return 0;
    }
    for (int i = 0; i < a->n_fn_params; i++) {
        if (strcmp(a->fn_params[i], b->fn_params[i]) != 0) {
            return 0;
        }
    }
    return alc_ast_expr_equal(a->expr, b->expr);
}

/* Template statement t against program statement s; the hole binds. */
static int match_stmt(const struct alc_stmt *t, const struct alc_stmt *s,
                      const struct alc_expr **hole, struct alc_cand *out)
{
    if (t->kind != s->kind || strcmp(t->name, s->name) != 0) {
        return 0;
    }
    if (t->kind == ALC_ST_PARAM) {
        if (t->lo != s->lo || t->hi != s->hi ||
            out->n_params == ALC_SPACE_MAX_PARAMS) {
            return 0;
        }
        out->params[out->n_params++] = s->value;
        return 1;
    }
    if (t->kind == ALC_ST_FN) {
        return same_fn(t, s);
    }
    return match(t->expr, s->expr, ALC_SPACE_HOLE, hole);
}

/* The calls of an encoded chain, outermost first, into a chain. */
static int read_calls(const struct alc_space *sp, const struct alc_expr *e,
                      struct alc_chain *ch)
{
    int seq[ALC_SPACE_MAX_STAGES * ALC_SPACE_MAX_CHAIN], n = 0, fin = 0;
    memset(ch, 0, sizeof *ch);
    if (sp->finish != NULL && e->kind == ALC_EX_CALL &&
        strcmp(e->u.call.name, sp->finish->name) == 0 && e->nargs == 1) {
        fin = 1;
        e = e->args[0];
    }
    while (e->kind == ALC_EX_CALL && e->nargs == 1) {
        int op = -1;
        if (space_fn(sp, e->u.call.name, &op) == NULL || op < 0 ||
            sp->ops[op].identity || n == (int)(sizeof seq / sizeof seq[0])) {
            return 0;
        }
        seq[n++] = op;
        e = e->args[0];
    }
    if (e->kind != ALC_EX_NAME ||
        strcmp(e->u.name.name, alc_input_table[sp->input].name) != 0) {
        return 0;
    }
    for (int i = n - 1, prev = 0; i >= 0; i--) {
        int s = sp->ops[seq[i]].stage;
        if (s < prev || ch->n[s] == ALC_SPACE_MAX_CHAIN) {
            return 0;
        }
        ch->op[s][ch->n[s]++] = seq[i];
        prev = s;
    }
    if (!alc_space_chain_valid(sp, ch)) {
        return 0;
    }
    return fin == (sp->finish != NULL && !chain_reduces(sp, ch));
}

static int free_ok(const struct alc_space *sp, const struct alc_expr *e)
{
    return names_are_inputs(e) && alc_space_expr_level(e) == (int)sp->level;
}

static int decode_encoded(const struct alc_space *sp, struct alc_arena *a,
                          const struct alc_program *p, struct alc_cand *out)
{
    int nt = sp->tmpl->n_stmts, nf = p->n_stmts - nt, op = -1;
    const struct alc_expr *hole = NULL;
    if (nf < 0 || (sp->mode == ALC_SPACE_FREE && nf != 0)) {
        return 0;
    }
    for (int i = 0; i < nf; i++) {
        const struct alc_stmt *f = space_fn(sp, p->stmts[i]->name, &op);
        if (f == NULL || !same_fn(p->stmts[i], f)) {
            return 0;
        }
    }
    out->n_params = 0;
    for (int j = 0; j < nt; j++) {
        if (!match_stmt(sp->tmpl->stmts[j], p->stmts[nf + j], &hole, out)) {
            return 0;
        }
    }
    if (hole == NULL) {
        return 0;
    }
    if (sp->mode == ALC_SPACE_CHAIN) {
        return read_calls(sp, hole, &out->chain);
    }
    if (!free_ok(sp, hole)) {
        return 0;
    }
    out->expr = alc_ast_copy_expr(a, hole);
    return out->expr != NULL ? 1 : -1;
}

/* ---- Decoding by matching inlined forms ---- */

struct dfs {
    const struct alc_space *sp;
    int path[ALC_SPACE_MAX_STAGES * ALC_SPACE_MAX_CHAIN]; /* outermost
                                                             first */
    int n;
    int need_reduce; /* 1: a reducing op must appear, 0: none may */
};

static int lower_stages_ok(const struct alc_space *sp, int s)
{
    for (int t = 0; t < s; t++) {
        if (!stage_count_ok(&sp->stages[t], 0)) {
            return 0;
        }
    }
    return 1;
}

static int path_reduces(const struct dfs *f)
{
    for (int i = 0; i < f->n; i++) {
        if (f->sp->ops[f->path[i]].reduces) {
            return 1;
        }
    }
    return 0;
}

static int is_input(const struct alc_space *sp, const struct alc_expr *e)
{
    return e->kind == ALC_EX_NAME &&
           strcmp(e->u.name.name, alc_input_table[sp->input].name) == 0;
}

/* Matches the ops of stage s (cnt of them taken so far) and below. */
static int dfs_stage(struct dfs *f, const struct alc_expr *e, int s, int cnt)
{
    const struct alc_space *sp = f->sp;
    const struct alc_space_stage *st = &sp->stages[s];
    if (is_input(sp, e) && stage_count_ok(st, cnt) &&
        lower_stages_ok(sp, s) && path_reduces(f) == f->need_reduce) {
        return 1;
    }
    /* an op goes to the earliest stage that can take it: descend first */
    if (s > 0 && stage_count_ok(st, cnt) && dfs_stage(f, e, s - 1, 0)) {
        return 1;
    }
    if (cnt < st->max && f->n < (int)(sizeof f->path / sizeof f->path[0])) {
        for (int i = st->first; i < st->first + st->n; i++) {
            const struct alc_space_op *o = &sp->ops[i];
            const struct alc_expr *inner = NULL;
            if (o->identity || !match(o->inl, e, o->param, &inner) ||
                inner == NULL) {
                continue;
            }
            f->path[f->n++] = i;
            if (dfs_stage(f, inner, s, cnt + 1)) {
                return 1;
            }
            f->n--;
        }
    }
    return 0;
}

static int path_to_chain(const struct dfs *f, struct alc_chain *ch)
{
    memset(ch, 0, sizeof *ch);
    for (int i = f->n - 1; i >= 0; i--) {
        int s = f->sp->ops[f->path[i]].stage;
        if (ch->n[s] == ALC_SPACE_MAX_CHAIN) {
            return 0;
        }
        ch->op[s][ch->n[s]++] = f->path[i];
    }
    return 1;
}

static int match_chain(const struct alc_space *sp, const struct alc_expr *e,
                       struct alc_chain *ch)
{
    struct dfs f;
    const struct alc_expr *inner = NULL;
    memset(&f, 0, sizeof f);
    f.sp = sp;
    if (sp->finish_inl != NULL &&
        match(sp->finish_inl, e, sp->finish_param, &inner) &&
        inner != NULL) {
        f.need_reduce = 0;
        if (dfs_stage(&f, inner, sp->n_stages - 1, 0)) {
            return path_to_chain(&f, ch);
        }
    }
    f.n = 0;
    f.need_reduce = sp->reduce_stage >= 0 || sp->finish == NULL;
    if (sp->reduce_stage < 0 && sp->finish != NULL) {
        return 0;
    }
    if (dfs_stage(&f, e, sp->n_stages - 1, 0)) {
        return path_to_chain(&f, ch);
    }
    return 0;
}

static void scope_of(const struct alc_program *p, struct scope *sc)
{
    sc->stmts = p->stmts;
    sc->n = p->n_stmts;
    sc->pre = p->prelude;
    sc->n_pre = p->n_prelude;
}

static const struct alc_stmt *find_out(const struct alc_program *p,
                                       const char *name)
{
    for (int i = 0; i < p->n_stmts; i++) {
        if (p->stmts[i]->kind == ALC_ST_OUT &&
            strcmp(p->stmts[i]->name, name) == 0) {
            return p->stmts[i];
        }
    }
    return NULL;
}

/* The template's params against p's, by name and range; values into out. */
static int match_params(const struct alc_space *sp,
                        const struct alc_program *p, struct alc_cand *out)
{
    int n_p = 0;
    out->n_params = 0;
    for (int i = 0; i < p->n_stmts; i++) {
        n_p += p->stmts[i]->kind == ALC_ST_PARAM;
    }
    for (int i = 0; i < sp->tmpl->n_stmts; i++) {
        const struct alc_stmt *t = sp->tmpl->stmts[i];
        const struct alc_stmt *s = NULL;
        if (t->kind != ALC_ST_PARAM) {
            continue;
        }
        for (int j = 0; j < p->n_stmts && s == NULL; j++) {
            if (p->stmts[j]->kind == ALC_ST_PARAM &&
                strcmp(p->stmts[j]->name, t->name) == 0) {
                s = p->stmts[j];
            }
        }
        if (s == NULL || s->lo != t->lo || s->hi != t->hi ||
            out->n_params == ALC_SPACE_MAX_PARAMS) {
            return 0;
        }
        out->params[out->n_params++] = s->value;
    }
    return n_p == out->n_params;
}

/* Both outputs of the template, inlined, against the program's. */
static int match_outputs(const struct alc_space *sp, struct alc_arena *a,
                         const struct alc_program *p,
                         const struct alc_expr **hole)
{
    struct scope tsc, psc;
    scope_of(sp->tmpl, &tsc);
    scope_of(p, &psc);
    for (int k = 0; k < ALC_OUT_COUNT; k++) {
        const struct alc_stmt *t = find_out(sp->tmpl, alc_output_name[k]);
        const struct alc_stmt *s = find_out(p, alc_output_name[k]);
        if ((t == NULL) != (s == NULL)) {
            return 0;
        }
        if (t == NULL) {
            continue;
        }
        struct alc_expr *te = inline_expr(a, &tsc, t->expr);
        struct alc_expr *pe = inline_expr(a, &psc, s->expr);
        if (te == NULL || pe == NULL ||
            !match(te, pe, ALC_SPACE_HOLE, hole)) {
            return 0;
        }
    }
    return *hole != NULL;
}

static int decode_matched(const struct alc_space *sp, struct alc_arena *a,
                          const struct alc_program *p, struct alc_cand *out)
{
    const struct alc_expr *hole = NULL;
    struct alc_arena tmp;
    int ok = 0;
    alc_arena_init(&tmp, 0);
    if (match_params(sp, p, out) && match_outputs(sp, &tmp, p, &hole)) {
        if (sp->mode == ALC_SPACE_CHAIN) {
            ok = match_chain(sp, hole, &out->chain);
        } else if (free_ok(sp, hole) &&
                   alc_space_expr_depth(hole) <= sp->gen.max_depth) {
            out->expr = alc_ast_copy_expr(a, hole);
            ok = out->expr != NULL ? 1 : -1;
        }
    }
    alc_arena_free(&tmp);
    return ok;
}

int alc_space_decode(const struct alc_space *sp, struct alc_arena *a,
                     const struct alc_program *p, struct alc_cand *out)
{
    int r = 0;
    memset(out, 0, sizeof *out);
    r = decode_encoded(sp, a, p, out);
    if (r == 0) {
        memset(out, 0, sizeof *out);
        r = decode_matched(sp, a, p, out);
    }
    if (r == 0) {
        memset(out, 0, sizeof *out);
        out->foreign = p;
        foreign_params(p, out);
    }
    return r;
}

/* ---- Random members ---- */

static int random_chain(const struct alc_space *sp, struct alc_rng *rng,
                        struct alc_chain *ch)
{
    memset(ch, 0, sizeof *ch);
    for (int s = 0; s < sp->n_stages; s++) {
        const struct alc_space_stage *st = &sp->stages[s];
        int k = st->min + (int)alc_rng_below(rng, (uint64_t)(st->max -
                                                            st->min + 1));
        for (int j = 0; j < k; j++) {
            int op = st->first + (int)alc_rng_below(rng, (uint64_t)st->n);
            if (!sp->ops[op].identity) {
                ch->op[s][ch->n[s]++] = op;
            }
        }
    }
    return 0;
}

int alc_space_random(const struct alc_space *sp, struct alc_arena *a,
                     struct alc_rng *rng, struct alc_cand *out)
{
    memset(out, 0, sizeof *out);
    alc_space_default_params(sp, out);
    if (sp->mode == ALC_SPACE_CHAIN) {
        return random_chain(sp, rng, &out->chain);
    }
    out->expr = alc_ast_random_expr(a, rng, &sp->gen, NULL, 0, sp->level);
    return out->expr != NULL ? 0 : -1;
}

/* ---- Describing ---- */

void alc_space_describe(const struct alc_space *sp, const struct alc_cand *c,
                        struct alc_sb *out)
{
    if (c->foreign != NULL) {
        alc_sb_printf(out, "(not a member of space %s)", sp->name);
        return;
    }
    if (sp->mode == ALC_SPACE_FREE) {
        alc_print_expr(c->expr, out);
        return;
    }
    for (int s = 0; s < sp->n_stages; s++) {
        const struct alc_space_stage *st = &sp->stages[s];
        alc_sb_puts(out, s > 0 ? " -> " : "");
        if (c->chain.n[s] == 0) {
            alc_sb_puts(out, st->identity >= 0 ? sp->ops[st->identity].label
                                                : "-");
        }
        for (int j = 0; j < c->chain.n[s]; j++) {
            alc_sb_printf(out, "%s%s", j > 0 ? "," : "",
                          sp->ops[c->chain.op[s][j]].label);
        }
    }
}

/* ---- Validation ---- */

/* helpers[] bit mask of the fns called in e (directly). */
static uint64_t calls_helpers(const struct alc_space *sp,
                              const struct alc_expr *e)
{
    uint64_t m = 0;
    if (e->kind == ALC_EX_CALL) {
        for (int h = 0; h < sp->n_helpers; h++) {
            if (strcmp(sp->helpers[h]->name, e->u.call.name) == 0) {
                m |= 1ull << h;
            }
        }
    }
    for (int i = 0; i < e->nargs; i++) {
        m |= calls_helpers(sp, e->args[i]);
    }
    return m;
}

static uint64_t helper_closure(const struct alc_space *sp, uint64_t m)
{
    for (int iter = 0; iter < ALC_SPACE_MAX_HELPERS; iter++) {
        uint64_t next = m;
        for (int h = 0; h < sp->n_helpers; h++) {
            if ((m >> h) & 1u) {
                next |= calls_helpers(sp, sp->helpers[h]->expr);
            }
        }
        if (next == m) {
            break;
        }
        m = next;
    }
    return m;
}

/* Level of op o applied to `arg` (an expression over the input), checked
 * with the helpers it needs: -1 with errors in d. */
static int op_level(const struct alc_space *sp,
                    const struct alc_program *loc, const struct alc_stmt *f,
                    uint64_t helpers, int at_layer, struct alc_diag *d)
{
    struct alc_arena a;
    int lv = -1;
    alc_arena_init(&a, 0);
    struct alc_program *p = alc_ast_program(&a);
    struct alc_expr *x = alc_ast_name(&a, alc_input_table[sp->input].name);
    if (at_layer && x != NULL) {
        x = alc_ast_op(&a, ALC_OP_MEAN, &x, 1);
    }
    struct alc_stmt *t = alc_ast_stmt(&a, ALC_ST_LET, "_level");
    struct alc_stmt *o = alc_ast_stmt(&a, ALC_ST_OUT, "sparsity");
    int ok = p != NULL && x != NULL && t != NULL && o != NULL;
    for (int h = 0; ok && h < sp->n_helpers; h++) {
        ok = !((helpers >> h) & 1u) || append_copy(p, &a, sp->helpers[h]) == 0;
    }
    if (ok) {
        t->expr = alc_ast_call(&a, f->name, &x, 1);
        o->expr = alc_ast_name(&a, "S");
        ok = t->expr != NULL && o->expr != NULL && append_copy(p, &a, f) == 0 &&
             alc_ast_append(p, t) == 0 && alc_ast_append(p, o) == 0;
    }
    if (ok) {
        p->file = loc->file;
        p->src = loc->src;
        p->src_len = loc->src_len;
        lv = alc_check(p, d) == 0 ? (int)t->level : -1;
    } else {
        alc_diag_errorf(d, "out of memory");
    }
    alc_arena_free(&a);
    return lv;
}

static void level_errorf(const struct alc_program *loc,
                         const struct alc_stmt *f, struct alc_diag *d,
                         const char *msg)
{
    alc_front_error(d, loc, f->name_span, NULL, "'%s' %s", f->name, msg);
}

static int classify_op(struct alc_space *sp, const struct alc_program *loc,
                       struct alc_space_op *o, struct alc_diag *d)
{
    int lv = op_level(sp, loc, o->decl, o->helpers, 0, d);
    if (lv < 0) {
        return -1;
    }
    if (lv == ALC_LV_MODEL) {
        level_errorf(loc, o->decl, d, "gives one value for the model; a "
                                      "stage op keeps the input's level or "
                                      "reduces an element-level input to "
                                      "one value per unit");
        return -1;
    }
    o->reduces = lv == ALC_LV_LAYER;
    if (!o->reduces && !o->identity &&
        op_level(sp, loc, o->decl, o->helpers, 1, d) != ALC_LV_LAYER) {
        if (d->n_err == 0) {
            level_errorf(loc, o->decl, d, "is element-wise on elements but "
                                          "does not keep the level of one "
                                          "value per unit");
        }
        return -1;
    }
    return 0;
}

static void stage_errorf(const struct alc_program *loc,
                         const struct alc_space_stage *st,
                         struct alc_diag *d, const char *msg)
{
    struct alc_span at = {st->line, 1, 5};
    alc_front_error(d, loc, at, NULL, "stage '%s' %s", st->name, msg);
}

/* Reducing stages: all non-identity ops reduce, one op at most, one such
 * stage; finish wherever a chain can stay element-level. */
static int check_stages(struct alc_space *sp, const struct alc_program *loc,
                        struct alc_diag *d)
{
    for (int s = 0; s < sp->n_stages; s++) {
        struct alc_space_stage *st = &sp->stages[s];
        int red = 0, map = 0;
        for (int i = st->first; i < st->first + st->n; i++) {
            red += !sp->ops[i].identity && sp->ops[i].reduces;
            map += !sp->ops[i].identity && !sp->ops[i].reduces;
        }
        if (red > 0 && map > 0) {
            stage_errorf(loc, st, d, "mixes reducing and element-wise ops");
            return -1;
        }
        if (red > 0 && (st->max != 1 || sp->reduce_stage >= 0)) {
            stage_errorf(loc, st, d, st->max != 1
                                         ? "reduces, so it holds at most "
                                           "one op (stage NAME MIN 1)"
                                         : "reduces, but an earlier stage "
                                           "reduces already");
            return -1;
        }
        st->reduces = red > 0;
        if (red > 0) {
            sp->reduce_stage = s;
        }
    }
    return 0;
}

static int check_finish(struct alc_space *sp, const struct alc_program *loc,
                        struct alc_diag *d)
{
    int rs = sp->reduce_stage;
    int may_stay = rs < 0 || sp->stages[rs].min == 0 ||
                   sp->stages[rs].identity >= 0;
    if (sp->finish != NULL) {
        sp->finish_helpers = helper_closure(sp, calls_helpers(sp,
                                                          sp->finish->expr));
        int lv = op_level(sp, loc, sp->finish, sp->finish_helpers, 0, d);
        if (lv < 0) {
            return -1;
        }
        if (lv != ALC_LV_LAYER) {
            level_errorf(loc, sp->finish, d, "must reduce the element-level "
                                             "chain to one value per unit");
            return -1;
        }
    } else if (may_stay) {
        struct alc_span at = {rs >= 0 ? sp->stages[rs].line : 1, 1, 5};
        alc_front_error(d, loc, at, NULL,
                        "a chain can end element-level here (no reducing "
                        "op, or a NO_OP reduction): add a `finish` section "
                        "with the fn that reduces it, e.g. mean(x)");
        return -1;
    }
    return 0;
}

/* Scope of the space's fns (helpers, ops, finish) + prelude, for
 * inlining the ops' bodies. */
static int inline_ops(struct alc_space *sp, struct alc_diag *d)
{
    int n = sp->n_helpers + sp->n_ops + 1;
    struct alc_stmt **v = alc_arena_alloc(&sp->arena, (size_t)n * sizeof *v);
    struct scope sc;
    int k = 0;
    if (v == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    for (int h = 0; h < sp->n_helpers; h++) {
        v[k++] = (struct alc_stmt *)sp->helpers[h];
    }
    sc.stmts = v;
    sc.n = k;
    sc.pre = sp->tmpl->prelude;
    sc.n_pre = sp->tmpl->n_prelude;
    for (int i = 0; i < sp->n_ops; i++) {
        sp->ops[i].inl = inline_body(&sp->arena, &sc, sp->ops[i].decl);
        if (sp->ops[i].inl == NULL) {
            alc_diag_errorf(d, "%s: cannot inline '%s'", sp->file,
                            sp->ops[i].fn);
            return -1;
        }
    }
    if (sp->finish != NULL) {
        sp->finish_inl = inline_body(&sp->arena, &sc, sp->finish);
        if (sp->finish_inl == NULL) {
            alc_diag_errorf(d, "%s: cannot inline '%s'", sp->file,
                            sp->finish->name);
            return -1;
        }
    }
    return 0;
}

/* Bit set of the inputs named in e. */
static unsigned inputs_of(const struct alc_expr *e)
{
    unsigned m = 0;
    if (e == NULL) {
        return 0;
    }
    if (e->kind == ALC_EX_NAME) {
        int in = alc_input_lookup(e->u.name.name);
        m |= in >= 0 ? 1u << in : 0u;
    }
    if (e->kind == ALC_EX_OP && e->u.op == ALC_OP_ALPHA_PEAK) {
        m |= 1u << ALC_IN_ALPHA_PEAK;
    }
    if (e->kind == ALC_EX_OP && e->u.op == ALC_OP_ALPHA_HILL) {
        m |= 1u << ALC_IN_ALPHA_HILL;
    }
    for (int i = 0; i < e->nargs; i++) {
        m |= inputs_of(e->args[i]);
    }
    return m;
}

static void collect_inputs(struct alc_space *sp)
{
    unsigned m = 0;
    for (int i = 0; i < sp->tmpl->n_stmts; i++) {
        m |= inputs_of(sp->tmpl->stmts[i]->expr);
    }
    if (sp->mode == ALC_SPACE_CHAIN) {
        m |= 1u << sp->input;
        for (int i = 0; i < sp->n_ops; i++) {
            m |= inputs_of(sp->ops[i].inl);
        }
        m |= sp->finish_inl != NULL ? inputs_of(sp->finish_inl) : 0u;
    } else {
        m |= sp->gen.inputs;
        if (sp->gen.ops & (1ull << ALC_OP_ALPHA_PEAK)) {
            m |= 1u << ALC_IN_ALPHA_PEAK;
        }
        if (sp->gen.ops & (1ull << ALC_OP_ALPHA_HILL)) {
            m |= 1u << ALC_IN_ALPHA_HILL;
        }
    }
    sp->inputs = m;
}

/* The template with a sample member in the hole passes the checker. */
static int check_template(struct alc_space *sp, const struct alc_program *loc,
                          struct alc_diag *d)
{
    struct alc_arena a;
    struct alc_cand c;
    struct alc_rng rng;
    int rc = -1;
    alc_arena_init(&a, 0);
    alc_rng_seed(&rng, 1);
    if (alc_space_random(sp, &a, &rng, &c) != 0) {
        alc_diag_errorf(d, "%s: no expression can be built from the free "
                           "mode's ops, inputs and depth", sp->file);
        goto done;
    }
    struct alc_program *p = alc_space_encode(sp, &a, &c);
    if (p == NULL) {
        alc_diag_errorf(d, "out of memory");
        goto done;
    }
    p->file = loc->file;
    p->src = loc->src;
    p->src_len = loc->src_len;
    rc = alc_check(p, d);
done:
    alc_arena_free(&a);
    return rc;
}

static int has_hole(const struct alc_expr *e)
{
    if (e->kind == ALC_EX_NAME) {
        return strcmp(e->u.name.name, ALC_SPACE_HOLE) == 0;
    }
    for (int i = 0; i < e->nargs; i++) {
        if (has_hole(e->args[i])) {
            return 1;
        }
    }
    return 0;
}

static int check_hole(struct alc_space *sp, const struct alc_program *loc,
                      struct alc_diag *d)
{
    int n_params = 0;
    for (int i = 0; i < sp->tmpl->n_stmts; i++) {
        const struct alc_stmt *s = sp->tmpl->stmts[i];
        n_params += s->kind == ALC_ST_PARAM;
        if (s->kind != ALC_ST_FN && s->expr != NULL && has_hole(s->expr)) {
            if (n_params > ALC_SPACE_MAX_PARAMS) {
                break;
            }
            return 0;
        }
    }
    struct alc_span at = {1, 1, 1};
    alc_front_error(d, loc, at, NULL, n_params > ALC_SPACE_MAX_PARAMS
                                          ? "the template declares more "
                                            "than 16 params"
                                          : "the template never uses `_`, "
                                            "the searched expression");
    return -1;
}

int alc_space_validate(struct alc_space *sp, const struct alc_program *loc,
                       struct alc_diag *d)
{
    if (check_hole(sp, loc, d) != 0) {
        return -1;
    }
    if (sp->mode == ALC_SPACE_CHAIN) {
        for (int i = 0; i < sp->n_ops; i++) {
            struct alc_space_op *o = &sp->ops[i];
            o->helpers = helper_closure(sp, calls_helpers(sp, o->decl->expr));
            if (classify_op(sp, loc, o, d) != 0) {
                return -1;
            }
        }
        if (check_stages(sp, loc, d) != 0 || check_finish(sp, loc, d) != 0 ||
            inline_ops(sp, d) != 0) {
            return -1;
        }
    }
    collect_inputs(sp);
    return check_template(sp, loc, d);
}
