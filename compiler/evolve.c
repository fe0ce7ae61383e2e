/*
 * evolve.c: mutation, crossover and the child check of the search
 * (evolve.h). Chain operators edit the stages' op lists decoded from the
 * candidate's call chain; free operators edit the searched expression
 * tree in place through pointers to its slots (struct site), sampled by a
 * walk of the tree.
 */
#include <math.h>
#include <stdlib.h>

#include "evolve.h"
#include "front.h"

const char *const alc_reject_name[ALC_REJ_COUNT] = {
    [ALC_REJ_NONE] = "none",         [ALC_REJ_LEVEL] = "level",
    [ALC_REJ_ARITY] = "arity",       [ALC_REJ_DEPTH] = "depth",
    [ALC_REJ_CHECK] = "check",       [ALC_REJ_DUPLICATE] = "duplicate",
    [ALC_REJ_COMPILE] = "compile",   [ALC_REJ_NAN] = "nan",
    [ALC_REJ_RANGE] = "range",       [ALC_REJ_PPL] = "ppl",
};

_Static_assert(ALC_REJ_COUNT == 10, "alc_reject_name must list every reason");

enum alc_reject alc_evolve_classify(const char *first_error)
{
    if (strstr(first_error, "-level") != NULL) {
        return ALC_REJ_LEVEL;
    }
    if (strstr(first_error, " takes ") != NULL &&
        strstr(first_error, "argument") != NULL) {
        return ALC_REJ_ARITY;
    }
    if (strstr(first_error, "too deep") != NULL) {
        return ALC_REJ_DEPTH;
    }
    return ALC_REJ_CHECK;
}

/* ---- Shared helpers ---- */

static int below(struct alc_rng *rng, int n)
{
    return n <= 1 ? 0 : (int)alc_rng_below(rng, (uint64_t)n);
}

static double round_digits(double v, int digits)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    return strtod(buf, NULL);
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

double alc_evolve_perturb(struct alc_rng *rng, double v, double lo,
                          double hi, double sigma, int digits)
{
    double w = v + alc_rng_normal(rng) * sigma * (hi - lo);
    w = round_digits(clampd(w, lo, hi), digits > 0 ? digits : 17);
    return clampd(w, lo, hi);
}

/* The template's (or a foreign program's) params: name, range. */
struct pinfo {
    const char *name;
    double lo, hi;
};

static int param_info(const struct alc_space *sp, const struct alc_cand *c,
                      struct pinfo *v)
{
    const struct alc_program *p = c->foreign != NULL ? c->foreign : sp->tmpl;
    int n = 0;
    for (int i = 0; i < p->n_stmts && n < c->n_params; i++) {
        const struct alc_stmt *s = p->stmts[i];
        if (s->kind == ALC_ST_PARAM) {
            v[n].name = s->name;
            v[n].lo = s->lo;
            v[n].hi = s->hi;
            n++;
        }
    }
    return n;
}

/* One param moved (a few tries until the value changes). */
static int mut_param(const struct alc_space *sp, struct alc_rng *rng,
                     struct alc_cand *c, struct alc_sb *what)
{
    struct pinfo pi[ALC_SPACE_MAX_PARAMS];
    int n = param_info(sp, c, pi);
    if (n == 0) {
        return 1;
    }
    int k = below(rng, n);
    for (int tries = 0; tries < 8; tries++) {
        double v = alc_evolve_perturb(rng, c->params[k], pi[k].lo, pi[k].hi,
                                      sp->sigma, sp->digits);
        if (v != c->params[k]) {
            c->params[k] = v;
            alc_sb_printf(what, "param %s", pi[k].name);
            return 0;
        }
    }
    return 1;
}

/* ---- Chain mutations ---- */

enum chain_mut { CM_SWAP, CM_INSERT, CM_DELETE, CM_REDUCE, CM_PARAM,
                 CM_COUNT };

static int other_op(const struct alc_space *sp, struct alc_rng *rng, int s,
                    int cur, int allow_identity)
{
    const struct alc_space_stage *st = &sp->stages[s];
    int cand[ALC_SPACE_MAX_OPS], n = 0;
    for (int i = st->first; i < st->first + st->n; i++) {
        if (i != cur && (allow_identity || !sp->ops[i].identity)) {
            cand[n++] = i;
        }
    }
    return n > 0 ? cand[below(rng, n)] : -1;
}

static int can_swap(const struct alc_space *sp, const struct alc_chain *c,
                    int s)
{
    const struct alc_space_stage *st = &sp->stages[s];
    int real = st->n - (st->identity >= 0);
    return !st->reduces && c->n[s] > 0 && real > 1;
}

static int can_insert(const struct alc_space *sp, const struct alc_chain *c,
                      int s)
{
    const struct alc_space_stage *st = &sp->stages[s];
    return !st->reduces && c->n[s] < st->max && st->n > (st->identity >= 0);
}

static int can_delete(const struct alc_space *sp, const struct alc_chain *c,
                      int s)
{
    const struct alc_space_stage *st = &sp->stages[s];
    return !st->reduces && c->n[s] > 0 &&
           (c->n[s] - 1 >= st->min || st->identity >= 0);
}

/* Stages where operator m applies, into v. */
static int chain_sites(const struct alc_space *sp, const struct alc_chain *c,
                       enum chain_mut m, int *v)
{
    int n = 0;
    for (int s = 0; s < sp->n_stages; s++) {
        int ok = (m == CM_SWAP && can_swap(sp, c, s)) ||
                 (m == CM_INSERT && can_insert(sp, c, s)) ||
                 (m == CM_DELETE && can_delete(sp, c, s));
        if (ok) {
            v[n++] = s;
        }
    }
    return n;
}

static void do_swap(const struct alc_space *sp, struct alc_rng *rng,
                    struct alc_chain *c, int s, struct alc_sb *what)
{
    int j = below(rng, c->n[s]);
    c->op[s][j] = other_op(sp, rng, s, c->op[s][j], 0);
    alc_sb_printf(what, "swap %s", sp->stages[s].name);
}

static void do_insert(const struct alc_space *sp, struct alc_rng *rng,
                      struct alc_chain *c, int s, struct alc_sb *what)
{
    int j = below(rng, c->n[s] + 1);
    int op = other_op(sp, rng, s, -1, 0);
    memmove(&c->op[s][j + 1], &c->op[s][j],
            (size_t)(c->n[s] - j) * sizeof c->op[s][0]);
    c->op[s][j] = op;
    c->n[s]++;
    alc_sb_printf(what, "insert %s", sp->stages[s].name);
}

static void do_delete(const struct alc_space *sp, struct alc_rng *rng,
                      struct alc_chain *c, int s, struct alc_sb *what)
{
    int j = below(rng, c->n[s]);
    memmove(&c->op[s][j], &c->op[s][j + 1],
            (size_t)(c->n[s] - j - 1) * sizeof c->op[s][0]);
    c->n[s]--;
    alc_sb_printf(what, "delete %s", sp->stages[s].name);
}

/* The reducing stage's op for another one (its identity included). */
static int do_reduce(const struct alc_space *sp, struct alc_rng *rng,
                     struct alc_chain *c, struct alc_sb *what)
{
    int s = sp->reduce_stage;
    int cur = c->n[s] > 0 ? c->op[s][0] : sp->stages[s].identity;
    int op = other_op(sp, rng, s, cur, 1);
    if (op < 0) {
        return 1;
    }
    c->n[s] = sp->ops[op].identity ? 0 : 1;
    c->op[s][0] = op;
    alc_sb_printf(what, "reduction %s", sp->stages[s].name);
    return 0;
}

static int can_reduce(const struct alc_space *sp)
{
    int s = sp->reduce_stage;
    return s >= 0 && sp->stages[s].n > 1;
}

static int mutate_chain(const struct alc_space *sp, struct alc_rng *rng,
                        struct alc_cand *c, struct alc_sb *what)
{
    int avail[CM_COUNT], n = 0, st[ALC_SPACE_MAX_STAGES];
    for (int m = 0; m < CM_COUNT; m++) {
        int ok = m == CM_REDUCE  ? can_reduce(sp)
                 : m == CM_PARAM ? c->n_params > 0
                                 : chain_sites(sp, &c->chain,
                                               (enum chain_mut)m, st) > 0;
        if (ok) {
            avail[n++] = m;
        }
    }
    if (n == 0) {
        return 1;
    }
    enum chain_mut m = (enum chain_mut)avail[below(rng, n)];
    if (m == CM_REDUCE) {
        return do_reduce(sp, rng, &c->chain, what);
    }
    if (m == CM_PARAM) {
        return mut_param(sp, rng, c, what);
    }
    int k = chain_sites(sp, &c->chain, m, st);
    int s = st[below(rng, k)];
    if (m == CM_SWAP) {
        do_swap(sp, rng, &c->chain, s, what);
    } else if (m == CM_INSERT) {
        do_insert(sp, rng, &c->chain, s, what);
    } else {
        do_delete(sp, rng, &c->chain, s, what);
    }
    return 0;
}

/* ---- Free-tree sites ---- */

#define MAX_SITES 4096

/* A slot of the tree (the pointer that holds a node), its level and its
 * depth from the root (1). */
struct site {
    struct alc_expr **slot;
    int level;
    int depth;
};

static int collect(struct alc_expr **slot, int depth, struct site *v, int n)
{
    if (n >= MAX_SITES) {
        return n;
    }
    v[n].slot = slot;
    v[n].level = alc_space_expr_level(*slot);
    v[n].depth = depth;
    n++;
    for (int i = 0; i < (*slot)->nargs; i++) {
        n = collect(&(*slot)->args[i], depth + 1, v, n);
    }
    return n;
}

static int op_allowed(const struct alc_space *sp, int op)
{
    return (sp->gen.ops >> op) & 1u;
}

/* Ops of the same kind and arity as e's, allowed and different. */
static int point_cands(const struct alc_space *sp, const struct alc_expr *e,
                       int *v)
{
    int n = 0;
    if (e->kind != ALC_EX_OP) {
        return 0;
    }
    const struct alc_op_info *o = &alc_op_table[e->u.op];
    if (o->kind != ALC_OPK_MAP && o->kind != ALC_OPK_REDUCE) {
        return 0;
    }
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        const struct alc_op_info *q = &alc_op_table[op];
        if (op != (int)e->u.op && op_allowed(sp, op) && q->kind == o->kind &&
            q->nargs == o->nargs) {
            v[n++] = op;
        }
    }
    return n;
}

static int unary_maps(const struct alc_space *sp, int *v)
{
    int n = 0;
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (op_allowed(sp, op) && alc_op_table[op].kind == ALC_OPK_MAP &&
            alc_op_table[op].nargs == 1) {
            v[n++] = op;
        }
    }
    return n;
}

static int is_unary_map(const struct alc_expr *e)
{
    return e->kind == ALC_EX_OP && alc_op_table[e->u.op].kind == ALC_OPK_MAP &&
           e->nargs == 1;
}

enum free_mut { FM_POINT, FM_SUBTREE, FM_WRAP, FM_UNWRAP, FM_LITERAL,
                FM_PARAM, FM_COUNT };

static const char *const free_mut_name[FM_COUNT] = {
    [FM_POINT] = "point",     [FM_SUBTREE] = "subtree",
    [FM_WRAP] = "wrap",       [FM_UNWRAP] = "unwrap",
    [FM_LITERAL] = "literal", [FM_PARAM] = "param",
};

/* Sites where operator m applies, as indices into s[]. */
static int free_sites(const struct alc_space *sp, const struct site *s,
                      int n, enum free_mut m, int *v)
{
    int k = 0, ops[ALC_OP_COUNT];
    for (int i = 0; i < n; i++) {
        const struct alc_expr *e = *s[i].slot;
        int ok = 0;
        switch (m) {
        case FM_POINT:
            ok = point_cands(sp, e, ops) > 0;
            break;
        case FM_SUBTREE:
            ok = s[i].level >= 0;
            break;
        case FM_WRAP:
            ok = s[i].level >= 0 && s[i].depth < sp->gen.max_depth &&
                 unary_maps(sp, ops) > 0;
            break;
        case FM_UNWRAP:
            ok = is_unary_map(e);
            break;
        case FM_LITERAL:
            ok = e->kind == ALC_EX_NUM &&
                 sp->gen.const_hi > sp->gen.const_lo;
            break;
        default:
            break;
        }
        if (ok) {
            v[k++] = i;
        }
    }
    return k;
}

static int apply_free(const struct alc_space *sp, struct alc_arena *a,
                      struct alc_rng *rng, const struct site *st,
                      enum free_mut m)
{
    struct alc_expr **slot = st->slot;
    struct alc_expr *e = *slot;
    int ops[ALC_OP_COUNT], n = 0;
    switch (m) {
    case FM_POINT:
        n = point_cands(sp, e, ops);
        e->u.op = (enum alc_op)ops[below(rng, n)];
        return 0;
    case FM_SUBTREE: {
        struct alc_random_opts o = sp->gen;
        int room = sp->gen.max_depth - st->depth + 1;
        o.max_depth = room < 1 ? 1 : (room > 3 ? 3 : room);
        struct alc_expr *r = alc_ast_random_expr(a, rng, &o, NULL, 0,
                                                 (enum alc_level)st->level);
        if (r == NULL) {
            return 1;
        }
        *slot = r;
        return 0;
    }
    case FM_WRAP:
        n = unary_maps(sp, ops);
        *slot = alc_ast_op(a, (enum alc_op)ops[below(rng, n)], &e, 1);
        return *slot != NULL ? 0 : -1;
    case FM_UNWRAP:
        *slot = e->args[0];
        return 0;
    case FM_LITERAL:
        e->u.num = alc_evolve_perturb(rng, e->u.num, sp->gen.const_lo,
                                      sp->gen.const_hi, sp->sigma,
                                      sp->gen.const_digits);
        return 0;
    default:
        return 1;
    }
}

static int mutate_free(const struct alc_space *sp, struct alc_arena *a,
                       struct alc_rng *rng, struct alc_cand *c,
                       struct alc_sb *what)
{
    struct site *s = malloc(MAX_SITES * sizeof *s);
    int *idx = malloc(MAX_SITES * sizeof *idx);
    int avail[FM_COUNT], n_av = 0, rc = -1;
    if (s == NULL || idx == NULL) {
        goto done;
    }
    int n = collect(&c->expr, 1, s, 0);
    for (int m = 0; m < FM_COUNT; m++) {
        int ok = m == FM_PARAM ? c->n_params > 0
                               : free_sites(sp, s, n, (enum free_mut)m,
                                            idx) > 0;
        if (ok) {
            avail[n_av++] = m;
        }
    }
    if (n_av == 0) {
        rc = 1;
        goto done;
    }
    enum free_mut m = (enum free_mut)avail[below(rng, n_av)];
    if (m == FM_PARAM) {
        rc = mut_param(sp, rng, c, what);
        goto done;
    }
    int k = free_sites(sp, s, n, m, idx);
    rc = apply_free(sp, a, rng, &s[idx[below(rng, k)]], m);
    if (rc == 0) {
        alc_sb_puts(what, free_mut_name[m]);
    }
done:
    free(s);
    free(idx);
    return rc;
}

/* ---- Mutation ---- */

int alc_evolve_mutate(const struct alc_space *sp, struct alc_arena *a,
                      struct alc_rng *rng, const struct alc_cand *parent,
                      struct alc_cand *child, struct alc_sb *what)
{
    *child = *parent;
    if (parent->foreign != NULL) {
        return mut_param(sp, rng, child, what);
    }
    if (sp->mode == ALC_SPACE_CHAIN) {
        return mutate_chain(sp, rng, child, what);
    }
    child->expr = alc_ast_copy_expr(a, parent->expr);
    if (child->expr == NULL) {
        return -1;
    }
    return mutate_free(sp, a, rng, child, what);
}

/* ---- Crossover ---- */

static int same_stage(const struct alc_chain *x, const struct alc_chain *y,
                      int s)
{
    if (x->n[s] != y->n[s]) {
        return 0;
    }
    for (int j = 0; j < x->n[s]; j++) {
        if (x->op[s][j] != y->op[s][j]) {
            return 0;
        }
    }
    return 1;
}

/* Each param from x or y. */
static void mix_params(struct alc_rng *rng, const struct alc_cand *y,
                       struct alc_cand *child)
{
    for (int k = 0; k < child->n_params && k < y->n_params; k++) {
        if (alc_rng_below(rng, 2) == 1) {
            child->params[k] = y->params[k];
        }
    }
}

static int cross_chain(const struct alc_space *sp, struct alc_rng *rng,
                       const struct alc_cand *y, struct alc_cand *child,
                       struct alc_sb *what)
{
    int diff[ALC_SPACE_MAX_STAGES], n = 0;
    for (int s = 0; s < sp->n_stages; s++) {
        if (!same_stage(&child->chain, &y->chain, s)) {
            diff[n++] = s;
        }
    }
    if (n == 0) {
        return 1;
    }
    int s = diff[below(rng, n)];
    child->chain.n[s] = y->chain.n[s];
    memcpy(child->chain.op[s], y->chain.op[s], sizeof child->chain.op[s]);
    mix_params(rng, y, child);
    alc_sb_printf(what, "crossover %s", sp->stages[s].name);
    return 0;
}

static int cross_free(const struct alc_space *sp, struct alc_arena *a,
                      struct alc_rng *rng, const struct alc_cand *y,
                      struct alc_cand *child, struct alc_sb *what)
{
    struct site *sx = malloc(MAX_SITES * sizeof *sx);
    struct site *sy = malloc(MAX_SITES * sizeof *sy);
    int *idx = malloc(MAX_SITES * sizeof *idx);
    struct alc_expr *ycopy = alc_ast_copy_expr(a, y->expr);
    int rc = -1;
    if (sx == NULL || sy == NULL || idx == NULL || ycopy == NULL) {
        goto done;
    }
    int nx = collect(&child->expr, 1, sx, 0);
    int ny = collect(&ycopy, 1, sy, 0);
    const struct site *t = &sx[below(rng, nx)];
    int k = 0;
    for (int i = 0; i < ny; i++) {
        if (sy[i].level == t->level && t->level >= 0) {
            idx[k++] = i;
        }
    }
    rc = 1;
    if (k > 0) {
        *t->slot = *sy[idx[below(rng, k)]].slot;
        mix_params(rng, y, child);
        alc_sb_puts(what, "crossover");
        rc = 0;
    }
done:
    free(sx);
    free(sy);
    free(idx);
    return rc;
}

int alc_evolve_crossover(const struct alc_space *sp, struct alc_arena *a,
                         struct alc_rng *rng, const struct alc_cand *x,
                         const struct alc_cand *y, struct alc_cand *child,
                         struct alc_sb *what)
{
    *child = *x;
    if (x->foreign != NULL || y->foreign != NULL) {
        return 1;
    }
    if (sp->mode == ALC_SPACE_CHAIN) {
        return cross_chain(sp, rng, y, child, what);
    }
    child->expr = alc_ast_copy_expr(a, x->expr);
    if (child->expr == NULL) {
        return -1;
    }
    return cross_free(sp, a, rng, y, child, what);
}

/* ---- The child check ---- */

void alc_evolve_child_free(struct alc_evolve_child *c)
{
    free(c->src);
    free(c->why);
    memset(c, 0, sizeof *c);
}

static int reject(struct alc_evolve_child *out, enum alc_reject r,
                  const char *why)
{
    out->reject = r;
    out->why = strdup(why);
    return out->why != NULL ? 0 : -1;
}

int alc_evolve_finish(const struct alc_space *sp, const struct alc_cand *c,
                      struct alc_evolve_child *out)
{
    struct alc_arena a;
    struct alc_sb text;
    struct alc_diag d;
    int rc = -1;
    memset(out, 0, sizeof *out);
    alc_arena_init(&a, 0);
    alc_sb_init(&text);
    alc_diag_init(&d);
    d.max_err = 1;
    if (sp->mode == ALC_SPACE_FREE && c->foreign == NULL &&
        alc_space_expr_depth(c->expr) > sp->gen.max_depth) {
        rc = reject(out, ALC_REJ_DEPTH, "deeper than the space's depth "
                                        "limit");
        goto done;
    }
    struct alc_program *p = alc_space_encode(sp, &a, c);
    if (p == NULL) {
        goto done;
    }
    alc_print_program(p, ALC_PRINT_NO_COMMENTS, &text);
    struct alc_program *q = alc_front_load(&a, "<candidate>", text.s,
                                           text.len, &d);
    if (q == NULL) {
        rc = reject(out, alc_evolve_classify(d.first), d.first);
        goto done;
    }
    out->hash = alc_ast_hash(q);
    out->src = alc_sb_take(&text);
    rc = out->src != NULL ? 0 : -1;
done:
    alc_diag_free(&d);
    alc_sb_free(&text);
    alc_arena_free(&a);
    return rc;
}

int alc_evolve_read(const struct alc_space *sp, struct alc_arena *a,
                    const char *name, const char *src, struct alc_cand *out,
                    struct alc_diag *d)
{
    struct alc_program *p = alc_front_load(a, name, src, strlen(src), d);
    if (p == NULL) {
        return -1;
    }
    return alc_space_decode(sp, a, p, out);
}
