/*
 * random.c: random well-levelled programs (alc_ast_random) and
 * expressions (alc_ast_random_expr) over the op table, for the printer's
 * round-trip tests, the searcher's free mode and subtree mutations, and
 * the JIT/CUDA property tests. Every op is applied only at levels it
 * accepts, so the result always passes alc_check:
 *   - a map's result level is the finest of its operands: one operand
 *     (the anchor) gets the wanted level, the others that level or coarser;
 *   - a reduction to layer level reduces an element-level operand, to model
 *     level a layer-level one; quantile's q is a literal in [0, 1];
 *   - rank takes a layer-level operand; alpha_peak/alpha_hill take `weight`;
 *   - user fns have element-wise bodies over their parameters (so they are
 *     polymorphic), and a call's level is the finest level among the
 *     arguments its body reads.
 * A level that cannot be built within the remaining depth (e.g. element
 * level with no element input allowed) is never asked for: min_depth[]
 * holds the smallest depth that builds each level.
 */
#include <math.h>
#include <stdlib.h>

#include "ast.h"

#define INF_DEPTH 1000000
#define MAX_NAMES 256
#define MAX_GEN_FNS 32

/* Prelude fns the generator may call: their first argument must not be
 * model-level when first_not_model (they reduce it); the result level is
 * the finest argument level. Checked against the prelude by test_print. */
struct prelude_fn {
    const char *name;
    int nargs;
    int first_not_model;
};

static const struct prelude_fn prelude_fns[] = {
    {"minmax", 1, 1},     {"zscore", 1, 1},       {"nan_to", 2, 0},
    {"floor_nonpos", 2, 0}, {"owl_sparsity", 2, 1}, {"dsa_sparsity", 2, 1},
    {"dsa_score", 1, 0},
};

#define N_PRELUDE_FNS ((int)(sizeof prelude_fns / sizeof prelude_fns[0]))

struct gname {
    const char *name;
    int level;
};

struct gfn {
    const char *name;
    int nargs;
    unsigned used; /* parameters the body reads */
};

struct gen {
    struct alc_arena *a;
    struct alc_rng *rng;
    const struct alc_random_opts *o;
    struct gname names[MAX_NAMES]; /* params and lets in scope */
    int n_names;
    struct gfn fns[MAX_GEN_FNS];
    int n_fns;
    int in_fn_body;   /* generating a fn body: maps over args only */
    int n_args;       /* its parameters (element-level leaves) */
    unsigned used;    /* parameters read so far */
    int min_depth[ALC_LV_COUNT];
    int failed;
};

static const char *const arg_names[] = {"a", "b", "c"};

/* ---- Helpers ---- */

static int below(struct gen *g, int n)
{
    return n <= 1 ? 0 : (int)alc_rng_below(g->rng, (uint64_t)n);
}

static int chance(struct gen *g, double p)
{
    return alc_rng_double(g->rng) < p;
}

static int op_ok(const struct gen *g, int op)
{
    return (g->o->ops >> op) & 1u;
}

static int input_ok(const struct gen *g, int in)
{
    return alc_input_table[in].name != NULL && ((g->o->inputs >> in) & 1u);
}

static struct alc_expr *check(struct gen *g, struct alc_expr *e)
{
    if (e == NULL) {
        g->failed = 1;
    }
    return e;
}

static double literal(struct gen *g, double lo, double hi)
{
    double v = lo + (hi - lo) * alc_rng_double(g->rng);
    if (g->o->const_digits > 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*g", g->o->const_digits, v);
        v = strtod(buf, NULL);
    }
    return v >= 0.0 && isfinite(v) ? v : 0.0;
}

/* ---- Leaves ---- */

enum leaf_kind { LK_ARG, LK_NAME, LK_INPUT, LK_LITERAL };

struct leafc {
    int kind; /* enum leaf_kind */
    int idx;  /* argument, name or input index */
};

/* The leaves available at a level; c (may be NULL) receives them. */
static int leaf_cands(const struct gen *g, int level, struct leafc *c)
{
    int n = 0;
    if (g->in_fn_body && level == ALC_LV_ELEM) {
        for (int i = 0; i < g->n_args; i++, n++) {
            if (c != NULL) {
                c[n] = (struct leafc){LK_ARG, i};
            }
        }
    }
    for (int i = 0; i < g->n_names; i++) {
        if (g->names[i].level == level &&
            !(g->in_fn_body && level != ALC_LV_MODEL)) {
            if (c != NULL) {
                c[n] = (struct leafc){LK_NAME, i};
            }
            n++;
        }
    }
    for (int in = 0; in < ALC_IN_COUNT; in++) {
        /* fn bodies read no element or layer input: they would pin the
         * result's level whatever the arguments */
        if (input_ok(g, in) && (int)alc_input_table[in].level == level &&
            !(g->in_fn_body && level != ALC_LV_MODEL)) {
            if (c != NULL) {
                c[n] = (struct leafc){LK_INPUT, in};
            }
            n++;
        }
    }
    if (level == ALC_LV_MODEL) {
        /* literals weigh as much as the other model leaves, plus one */
        int lits = n + 1;
        for (int i = 0; i < lits; i++, n++) {
            if (c != NULL) {
                c[n] = (struct leafc){LK_LITERAL, 0};
            }
        }
    }
    return n;
}

static struct alc_expr *leaf(struct gen *g, int level)
{
    struct leafc c[2 * (MAX_NAMES + ALC_IN_COUNT) + 8];
    int n = leaf_cands(g, level, c);
    if (n == 0) {
        return NULL;
    }
    struct leafc k = c[below(g, n)];
    switch (k.kind) {
    case LK_ARG:
        g->used |= 1u << k.idx;
        return check(g, alc_ast_name(g->a, arg_names[k.idx]));
    case LK_NAME:
        return check(g, alc_ast_name(g->a, g->names[k.idx].name));
    case LK_INPUT:
        return check(g, alc_ast_name(g->a, alc_input_table[k.idx].name));
    default:
        return check(g, alc_ast_num(g->a, literal(g, g->o->const_lo,
                                                  g->o->const_hi)));
    }
}

/* ---- Feasibility ---- */

static int any_op_of(const struct gen *g, enum alc_opkind k)
{
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (op_ok(g, op) && alc_op_table[op].kind == k) {
            return 1;
        }
    }
    return 0;
}

static void compute_min_depth(struct gen *g)
{
    for (int lv = 0; lv < ALC_LV_COUNT; lv++) {
        g->min_depth[lv] = leaf_cands(g, lv, NULL) > 0 ? 1 : INF_DEPTH;
    }
    if (g->in_fn_body) {
        return;
    }
    int red = any_op_of(g, ALC_OPK_REDUCE);
    int mat = (op_ok(g, ALC_OP_ALPHA_PEAK) || op_ok(g, ALC_OP_ALPHA_HILL));
    for (int iter = 0; iter < 3; iter++) {
        if (red && g->min_depth[ALC_LV_ELEM] + 1 < g->min_depth[ALC_LV_LAYER]) {
            g->min_depth[ALC_LV_LAYER] = g->min_depth[ALC_LV_ELEM] + 1;
        }
        if (mat && 2 < g->min_depth[ALC_LV_LAYER]) {
            g->min_depth[ALC_LV_LAYER] = 2;
        }
        if (red && g->min_depth[ALC_LV_LAYER] + 1 <
                       g->min_depth[ALC_LV_MODEL]) {
            g->min_depth[ALC_LV_MODEL] = g->min_depth[ALC_LV_LAYER] + 1;
        }
    }
}

/* ---- Composite expressions ---- */

static struct alc_expr *gen_expr(struct gen *g, int level, int depth);

/* A level in [lo, MODEL] buildable within depth, or -1. */
static int coarser_level(struct gen *g, int lo, int depth)
{
    int cand[ALC_LV_COUNT], n = 0;
    for (int lv = lo; lv < ALC_LV_COUNT; lv++) {
        if (g->min_depth[lv] <= depth) {
            cand[n++] = lv;
        }
    }
    return n > 0 ? cand[below(g, n)] : -1;
}

static struct alc_expr *gen_map(struct gen *g, int op, int level, int depth)
{
    struct alc_expr *args[3] = {NULL, NULL, NULL};
    int n = alc_op_table[op].nargs;
    int anchor = below(g, n);
    for (int i = 0; i < n; i++) {
        int lv = i == anchor ? level : coarser_level(g, level, depth - 1);
        args[i] = gen_expr(g, lv, depth - 1);
        if (args[i] == NULL) {
            return NULL;
        }
    }
    return check(g, alc_ast_op(g->a, (enum alc_op)op, args, n));
}

static struct alc_expr *gen_reduce(struct gen *g, int op, int level,
                                   int depth)
{
    struct alc_expr *args[2] = {NULL, NULL};
    args[0] = gen_expr(g, level - 1, depth - 1);
    if (args[0] == NULL) {
        return NULL;
    }
    if (op == ALC_OP_QUANTILE) {
        args[1] = check(g, alc_ast_num(g->a, literal(g, 0.0, 1.0)));
    }
    return check(g, alc_ast_op(g->a, (enum alc_op)op, args,
                               alc_op_table[op].nargs));
}

static struct alc_expr *gen_matrix(struct gen *g, int op)
{
    struct alc_expr *w = check(g, alc_ast_name(g->a, "weight"));
    return w ? check(g, alc_ast_op(g->a, (enum alc_op)op, &w, 1)) : NULL;
}

/* A call of a generated fn (element-wise body) at `level`: an argument
 * the body reads gets the level, the others that level or coarser. */
static struct alc_expr *gen_user_call(struct gen *g, int f, int level,
                                      int depth)
{
    struct alc_expr *args[3] = {NULL, NULL, NULL};
    const struct gfn *fn = &g->fns[f];
    int anchor = -1, n_used = 0;
    for (int i = 0; i < fn->nargs; i++) {
        n_used += (fn->used >> i) & 1u;
    }
    int k = below(g, n_used);
    for (int i = 0; i < fn->nargs; i++) {
        if (((fn->used >> i) & 1u) && k-- == 0) {
            anchor = i;
        }
    }
    for (int i = 0; i < fn->nargs; i++) {
        int lv = i == anchor ? level : coarser_level(g, level, depth - 1);
        args[i] = gen_expr(g, lv, depth - 1);
        if (args[i] == NULL) {
            return NULL;
        }
    }
    return check(g, alc_ast_call(g->a, fn->name, args, fn->nargs));
}

static struct alc_expr *gen_prelude_call(struct gen *g, int f, int level,
                                         int depth)
{
    struct alc_expr *args[2] = {NULL, NULL};
    const struct prelude_fn *pf = &prelude_fns[f];
    for (int i = 0; i < pf->nargs; i++) {
        int lv = i == 0 ? level : coarser_level(g, level, depth - 1);
        args[i] = gen_expr(g, lv, depth - 1);
        if (args[i] == NULL) {
            return NULL;
        }
    }
    return check(g, alc_ast_call(g->a, pf->name, args, pf->nargs));
}

static struct alc_expr *gen_rank(struct gen *g, int depth)
{
    struct alc_expr *x = gen_expr(g, ALC_LV_LAYER, depth - 1);
    return x ? check(g, alc_ast_op(g->a, ALC_OP_RANK, &x, 1)) : NULL;
}

/* Kinds of composite node, tried in a random order. */
enum choice { CH_MAP, CH_REDUCE, CH_RANK, CH_MATRIX, CH_FN, CH_PRELUDE,
              CH_COUNT };

static int pick_op(struct gen *g, enum alc_opkind kind)
{
    int ops[ALC_OP_COUNT], n = 0;
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (op_ok(g, op) && alc_op_table[op].kind == kind) {
            ops[n++] = op;
        }
    }
    return n > 0 ? ops[below(g, n)] : -1;
}

static struct alc_expr *try_choice(struct gen *g, enum choice c, int level,
                                   int depth)
{
    int op = -1;
    switch (c) {
    case CH_MAP:
        op = pick_op(g, ALC_OPK_MAP);
        return op >= 0 ? gen_map(g, op, level, depth) : NULL;
    case CH_REDUCE:
        if (g->in_fn_body || level == ALC_LV_ELEM ||
            g->min_depth[level - 1] > depth - 1) {
            return NULL;
        }
        op = pick_op(g, ALC_OPK_REDUCE);
        return op >= 0 ? gen_reduce(g, op, level, depth) : NULL;
    case CH_RANK:
        if (g->in_fn_body || level != ALC_LV_LAYER ||
            !op_ok(g, ALC_OP_RANK)) {
            return NULL;
        }
        return gen_rank(g, depth);
    case CH_MATRIX:
        if (g->in_fn_body || level != ALC_LV_LAYER || depth < 2) {
            return NULL;
        }
        op = pick_op(g, ALC_OPK_MATRIX);
        return op >= 0 ? gen_matrix(g, op) : NULL;
    case CH_FN:
        if (g->in_fn_body || g->n_fns == 0) {
            return NULL;
        }
        return gen_user_call(g, below(g, g->n_fns), level, depth);
    case CH_PRELUDE:
        if (g->in_fn_body || !g->o->use_prelude) {
            return NULL;
        }
        op = below(g, N_PRELUDE_FNS);
        if (prelude_fns[op].first_not_model && level == ALC_LV_MODEL) {
            return NULL;
        }
        return gen_prelude_call(g, op, level, depth);
    default:
        return NULL;
    }
}

/* An expression of exactly `level`, at most `depth` deep. */
static struct alc_expr *gen_expr(struct gen *g, int level, int depth)
{
    if (g->failed || level < 0 || g->min_depth[level] > depth) {
        return NULL;
    }
    int must_compose = leaf_cands(g, level, NULL) == 0;
    if (depth <= 1 || (!must_compose && chance(g, g->o->p_leaf))) {
        struct alc_expr *e = leaf(g, level);
        if (e != NULL || depth <= 1) {
            return e;
        }
    }
    /* weights: maps are the bulk; the rest are tried when they apply */
    static const int weight[CH_COUNT] = {6, 3, 1, 1, 1, 1};
    for (int tries = 0; tries < 16; tries++) {
        int total = 0, r = 0;
        for (int c = 0; c < CH_COUNT; c++) {
            total += weight[c];
        }
        r = below(g, total);
        int c = 0;
        while (r >= weight[c]) {
            r -= weight[c];
            c++;
        }
        struct alc_expr *e = try_choice(g, (enum choice)c, level, depth);
        if (e != NULL || g->failed) {
            return e;
        }
    }
    /* fall back to what always works at this level */
    if (level > ALC_LV_ELEM && g->min_depth[level - 1] <= depth - 1 &&
        !g->in_fn_body && any_op_of(g, ALC_OPK_REDUCE)) {
        struct alc_expr *e = try_choice(g, CH_REDUCE, level, depth);
        if (e != NULL) {
            return e;
        }
    }
    if (level == ALC_LV_LAYER && depth >= 2 && !g->in_fn_body) {
        int op = pick_op(g, ALC_OPK_MATRIX);
        if (op >= 0) {
            return gen_matrix(g, op);
        }
    }
    return leaf(g, level);
}

/* ---- Programs ---- */

void alc_random_opts_default(struct alc_random_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_depth = 6;
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (alc_op_table[op].flags & ALC_OPF_SEARCH) {
            o->ops |= 1ull << op;
        }
    }
    o->ops |= (1ull << ALC_OP_WHERE) | (1ull << ALC_OP_CLAMP) |
              (1ull << ALC_OP_RANK) | (1ull << ALC_OP_QUANTILE);
    for (int in = 0; in < ALC_IN_COUNT; in++) {
        if (alc_input_table[in].name != NULL) {
            o->inputs |= 1u << in;
        }
    }
    o->const_lo = 0.0;
    o->const_hi = 4.0;
    o->const_digits = 3;
    o->p_leaf = 0.3;
    o->n_params = 1;
    o->n_lets = 2;
    o->n_fns = 1;
    o->score = 1;
    o->use_prelude = 1;
}

static void gen_init(struct gen *g, struct alc_arena *a, struct alc_rng *rng,
                     const struct alc_random_opts *o)
{
    memset(g, 0, sizeof *g);
    g->a = a;
    g->rng = rng;
    g->o = o;
}

static char *fmt_name(struct alc_arena *a, const char *prefix, int i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s%d", prefix, i);
    return alc_arena_strdup(a, buf);
}

static int add_name(struct gen *g, const char *name, int level)
{
    if (g->n_names >= MAX_NAMES || name == NULL) {
        return -1;
    }
    g->names[g->n_names].name = name;
    g->names[g->n_names].level = level;
    g->n_names++;
    return 0;
}

static struct alc_stmt *gen_param(struct gen *g, int i)
{
    struct alc_stmt *s = alc_ast_stmt(g->a, ALC_ST_PARAM,
                                      fmt_name(g->a, "p", i));
    if (s == NULL) {
        return NULL;
    }
    s->lo = 0.0;
    s->hi = literal(g, g->o->const_lo + 1.0, g->o->const_hi + 1.0);
    s->value = literal(g, 0.0, s->hi);
    if (!(s->value <= s->hi)) {
        s->value = s->hi;
    }
    return add_name(g, s->name, ALC_LV_MODEL) == 0 ? s : NULL;
}

/* fn fK(a, b, ...) = an element-wise expression over its parameters. */
static struct alc_stmt *gen_fn(struct gen *g, int i)
{
    int nargs = 1 + below(g, 3);
    int depth = g->o->max_depth > 3 ? 3 : g->o->max_depth;
    struct alc_stmt *s = alc_ast_stmt(g->a, ALC_ST_FN, fmt_name(g->a, "f", i));
    if (s == NULL || g->n_fns >= MAX_GEN_FNS) {
        return NULL;
    }
    s->fn_params = alc_arena_alloc(g->a, (size_t)nargs * sizeof *s->fn_params);
    if (s->fn_params == NULL) {
        return NULL;
    }
    for (int k = 0; k < nargs; k++) {
        s->fn_params[k] = arg_names[k];
    }
    s->n_fn_params = nargs;
    struct gen body = *g;
    body.in_fn_body = 1;
    body.n_args = nargs;
    body.used = 0;
    body.n_fns = 0;
    compute_min_depth(&body);
    s->expr = gen_expr(&body, ALC_LV_ELEM, depth < 1 ? 1 : depth);
    if (s->expr == NULL || body.failed) {
        return NULL;
    }
    g->fns[g->n_fns].name = s->name;
    g->fns[g->n_fns].nargs = nargs;
    g->fns[g->n_fns].used = body.used;
    if (body.used != 0) {
        g->n_fns++; /* a body reading no parameter is not polymorphic in a
                       useful way: keep the fn, never call it */
    }
    return s;
}

static struct alc_stmt *gen_out(struct gen *g, const char *name, int level)
{
    struct alc_stmt *s = alc_ast_stmt(g->a, ALC_ST_OUT, name);
    if (s == NULL) {
        return NULL;
    }
    s->expr = gen_expr(g, level, g->o->max_depth);
    return s->expr != NULL ? s : NULL;
}

/* Layer level when it can be built, else model. */
static int out_level(struct gen *g)
{
    int layer = g->min_depth[ALC_LV_LAYER] <= g->o->max_depth;
    return layer && !chance(g, 0.1) ? ALC_LV_LAYER : ALC_LV_MODEL;
}

struct alc_program *alc_ast_random(struct alc_arena *a, struct alc_rng *rng,
                                   const struct alc_random_opts *o)
{
    struct gen *g = malloc(sizeof *g);
    struct alc_program *p = alc_ast_program(a);
    struct alc_program *res = NULL;
    if (g == NULL || p == NULL || o->max_depth < 1 ||
        o->max_depth > ALC_AST_MAX_DEPTH) {
        free(g);
        return NULL;
    }
    gen_init(g, a, rng, o);
    p->file = "<random>";
    for (int i = 0; i < o->n_params; i++) {
        struct alc_stmt *s = gen_param(g, i);
        if (s == NULL || alc_ast_append(p, s) != 0) {
            goto done;
        }
    }
    for (int i = 0; i < o->n_fns && i < MAX_GEN_FNS; i++) {
        struct alc_stmt *s = gen_fn(g, i);
        if (s == NULL || alc_ast_append(p, s) != 0) {
            goto done;
        }
    }
    compute_min_depth(g);
    for (int i = 0; i < o->n_lets; i++) {
        int lv = coarser_level(g, ALC_LV_ELEM, o->max_depth);
        struct alc_stmt *s = alc_ast_stmt(a, ALC_ST_LET, fmt_name(a, "v", i));
        if (s == NULL || lv < 0) {
            goto done;
        }
        s->expr = gen_expr(g, lv, o->max_depth);
        if (s->expr == NULL || alc_ast_append(p, s) != 0 ||
            add_name(g, s->name, lv) != 0) {
            goto done;
        }
        compute_min_depth(g);
    }
    if (o->score) {
        struct alc_stmt *s = gen_out(g, "score", out_level(g));
        if (s == NULL || alc_ast_append(p, s) != 0) {
            goto done;
        }
    }
    struct alc_stmt *s = gen_out(g, "sparsity", out_level(g));
    if (s == NULL || alc_ast_append(p, s) != 0 || g->failed) {
        goto done;
    }
    res = p;
done:
    free(g);
    return res;
}

struct alc_expr *alc_ast_random_expr(struct alc_arena *a, struct alc_rng *rng,
                                     const struct alc_random_opts *o,
                                     const struct alc_program *p, int upto,
                                     enum alc_level level)
{
    struct gen *g = malloc(sizeof *g);
    struct alc_expr *e = NULL;
    if (g == NULL || (int)level < 0 || level >= ALC_LV_COUNT) {
        free(g);
        return NULL;
    }
    gen_init(g, a, rng, o);
    for (int i = 0; p != NULL && i < upto && i < p->n_stmts; i++) {
        const struct alc_stmt *s = p->stmts[i];
        if (s->kind == ALC_ST_PARAM) {
            add_name(g, s->name, ALC_LV_MODEL);
        } else if (s->kind == ALC_ST_LET && s->output != -2) {
            add_name(g, s->name, (int)s->level);
        }
    }
    compute_min_depth(g);
    e = gen_expr(g, (int)level, o->max_depth);
    if (g->failed) {
        e = NULL;
    }
    free(g);
    return e;
}
