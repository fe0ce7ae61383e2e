/*
 * lower.c: checked syntax tree -> IR DAG (alc_lower, front.h). Params are
 * declared in order; lets are lowered once and shared by every use; user
 * and prelude fns are inlined at each call site, memoised on (fn, the
 * arguments' nodes) so that chains of fns calling fns twice stay linear;
 * alpha_peak(weight) becomes an input; identical subexpressions merge in
 * the IR's hash-consing. Constant folding is conservative, like lcode.c's
 * constfolding(): only map ops whose operands are all literals, and only
 * when the result is finite and not -0.0 (never NaN, inf or -0.0). Params,
 * S and L are runtime values, never folded.
 */
#include <math.h>
#include <stdlib.h>

#include "front.h"

#define MAX_TOTAL_DEPTH 2000

/* Memo entry: a fn applied to argument nodes. */
struct call_memo {
    const struct alc_stmt *fn; /* NULL = empty slot */
    int nargs;
    int32_t args[ALC_MAX_FN_PARAMS];
    int result;
};

struct lowerer {
    const struct alc_program *p;
    struct alc_ir *ir;
    struct alc_diag *d;
    int *let_node;   /* (n_stmts) node of each let, -1 before it */
    int *param_idx;  /* (n_stmts) IR param index of each param */
    struct call_memo *memo;
    int memo_cap, memo_n;
    int depth;
    int failed;
    /* Inside a prelude fn, nodes take the span of the user's call: the
     * prelude's own positions mean nothing in the user's file. */
    int in_prelude;
    struct alc_span call_at;
};

static int is_prelude_fn(const struct lowerer *lw, const struct alc_stmt *fn)
{
    for (int i = 0; i < lw->p->n_prelude; i++) {
        if (lw->p->prelude[i] == fn) {
            return 1;
        }
    }
    return 0;
}

/* The span a node lowered from e gets. */
static struct alc_span at(const struct lowerer *lw, const struct alc_expr *e)
{
    return lw->in_prelude ? lw->call_at : e->at;
}

static void fail(struct lowerer *lw, struct alc_span sp, const char *msg)
{
    if (!lw->failed) {
        alc_front_error(lw->d, lw->p, sp, NULL, "%s", msg);
    }
    lw->failed = 1;
}

/* ---- Call memo ---- */

static uint64_t memo_hash(const struct alc_stmt *fn, int nargs,
                          const int *args)
{
    uint64_t h = alc_hash_mix((uint64_t)(uintptr_t)fn, (uint64_t)nargs);
    for (int i = 0; i < nargs; i++) {
        h = alc_hash_mix(h, (uint64_t)(uint32_t)args[i]);
    }
    return h;
}

static int memo_same(const struct call_memo *m, const struct alc_stmt *fn,
                     int nargs, const int *args)
{
    if (m->fn != fn || m->nargs != nargs) {
        return 0;
    }
    for (int i = 0; i < nargs; i++) {
        if (m->args[i] != args[i]) {
            return 0;
        }
    }
    return 1;
}

static int memo_get(const struct lowerer *lw, const struct alc_stmt *fn,
                    int nargs, const int *args)
{
    if (lw->memo_cap == 0) {
        return -1;
    }
    int i = (int)(memo_hash(fn, nargs, args) & (uint64_t)(lw->memo_cap - 1));
    while (lw->memo[i].fn != NULL) {
        if (memo_same(&lw->memo[i], fn, nargs, args)) {
            return lw->memo[i].result;
        }
        i = (i + 1) & (lw->memo_cap - 1);
    }
    return -1;
}

static void memo_insert(struct call_memo *v, int cap,
                        const struct call_memo *m)
{
    int i = (int)(memo_hash(m->fn, m->nargs, m->args) & (uint64_t)(cap - 1));
    while (v[i].fn != NULL) {
        i = (i + 1) & (cap - 1);
    }
    v[i] = *m;
}

static int memo_put(struct lowerer *lw, const struct alc_stmt *fn, int nargs,
                    const int *args, int result)
{
    struct call_memo m;
    if ((lw->memo_n + 1) * 2 > lw->memo_cap) {
        int cap = lw->memo_cap ? lw->memo_cap * 2 : 64;
        struct call_memo *v = calloc((size_t)cap, sizeof *v);
        if (v == NULL) {
            return -1;
        }
        for (int k = 0; k < lw->memo_cap; k++) {
            if (lw->memo[k].fn != NULL) {
                memo_insert(v, cap, &lw->memo[k]);
            }
        }
        free(lw->memo);
        lw->memo = v;
        lw->memo_cap = cap;
    }
    memset(&m, 0, sizeof m);
    m.fn = fn;
    m.nargs = nargs;
    for (int i = 0; i < nargs; i++) {
        m.args[i] = args[i];
    }
    m.result = result;
    memo_insert(lw->memo, lw->memo_cap, &m);
    lw->memo_n++;
    return 0;
}

/* ---- Expressions ---- */

static int lower_expr(struct lowerer *lw, const struct alc_expr *e,
                      const int *env);

/* A map over constants: the folded constant, or -1 to build the op. */
static int try_fold(struct lowerer *lw, enum alc_op op, int nargs,
                    const int *args, struct alc_span sp)
{
    const struct alc_op_info *o = &alc_op_table[op];
    double k[3] = {0, 0, 0};
    double v = NAN;
    if (o->kind != ALC_OPK_MAP) {
        return -1;
    }
    for (int i = 0; i < nargs; i++) {
        if (lw->ir->nodes[args[i]].op != ALC_OP_CONST) {
            return -1;
        }
        k[i] = lw->ir->nodes[args[i]].u.k;
    }
    if (o->map1 != NULL) {
        v = o->map1(k[0]);
    } else if (o->map2 != NULL) {
        v = o->map2(k[0], k[1]);
    } else if (o->map3 != NULL) {
        v = o->map3(k[0], k[1], k[2]);
    }
    if (!isfinite(v) || (v == 0.0 && signbit(v))) {
        return -1;
    }
    return alc_ir_const(lw->ir, v, sp);
}

static int lower_op(struct lowerer *lw, const struct alc_expr *e,
                    const int *env)
{
    int args[3] = {-1, -1, -1};
    enum alc_op op = e->u.op;
    if (op == ALC_OP_ALPHA_PEAK || op == ALC_OP_ALPHA_HILL) {
        return alc_ir_input(lw->ir,
                            op == ALC_OP_ALPHA_PEAK ? ALC_IN_ALPHA_PEAK
                                                    : ALC_IN_ALPHA_HILL,
                            at(lw, e));
    }
    if (e->nargs > 3) {
        return -1;
    }
    for (int i = 0; i < e->nargs; i++) {
        args[i] = lower_expr(lw, e->args[i], env);
        if (args[i] < 0) {
            return -1;
        }
    }
    int n = try_fold(lw, op, e->nargs, args, at(lw, e));
    if (n >= 0) {
        return n;
    }
    return alc_ir_op(lw->ir, op, e->nargs, args, at(lw, e));
}

static int lower_call(struct lowerer *lw, const struct alc_expr *e,
                      const int *env)
{
    int args[ALC_MAX_FN_PARAMS];
    const struct alc_stmt *fn = e->u.call.fn;
    if (fn == NULL || e->nargs > ALC_MAX_FN_PARAMS ||
        e->nargs != fn->n_fn_params) {
        return -1;
    }
    for (int i = 0; i < e->nargs; i++) {
        args[i] = lower_expr(lw, e->args[i], env);
        if (args[i] < 0) {
            return -1;
        }
    }
    int r = memo_get(lw, fn, e->nargs, args);
    if (r >= 0) {
        return r;
    }
    int was = lw->in_prelude;
    if (!was && is_prelude_fn(lw, fn)) {
        lw->in_prelude = 1;
        lw->call_at = e->at;
    }
    r = lower_expr(lw, fn->expr, args);
    lw->in_prelude = was;
    if (r >= 0 && memo_put(lw, fn, e->nargs, args, r) != 0) {
        return -1;
    }
    return r;
}

static int lower_name(struct lowerer *lw, const struct alc_expr *e,
                      const int *env)
{
    const struct alc_stmt *s = e->u.name.decl;
    switch (e->u.name.ref) {
    case ALC_REF_INPUT:
        return alc_ir_input(lw->ir, (enum alc_input)e->u.name.index,
                            at(lw, e));
    case ALC_REF_PARAM:
        return alc_ir_param(lw->ir, lw->param_idx[s->index], at(lw, e));
    case ALC_REF_LET:
        return lw->let_node[s->index];
    case ALC_REF_ARG:
        return env != NULL ? env[e->u.name.index] : -1;
    default:
        return -1;
    }
}

static int lower_expr(struct lowerer *lw, const struct alc_expr *e,
                      const int *env)
{
    int r = -1;
    if (lw->failed) {
        return -1;
    }
    if (lw->depth >= MAX_TOTAL_DEPTH || lw->ir->n_nodes > ALC_MAX_IR_NODES) {
        fail(lw, e->at, "program too large once functions are inlined");
        return -1;
    }
    lw->depth++;
    switch (e->kind) {
    case ALC_EX_NUM:
        r = alc_ir_const(lw->ir, e->u.num, at(lw, e));
        break;
    case ALC_EX_NAME:
        r = lower_name(lw, e, env);
        break;
    case ALC_EX_OP:
        r = lower_op(lw, e, env);
        break;
    case ALC_EX_CALL:
        r = lower_call(lw, e, env);
        break;
    default:
        break;
    }
    lw->depth--;
    if (r < 0) {
        fail(lw, e->at, "internal error: cannot lower this expression "
                        "(out of memory, or an unchecked tree)");
    }
    return r;
}

/* ---- Statements ---- */

static int lower_stmt(struct lowerer *lw, const struct alc_stmt *s)
{
    int n = -1;
    switch (s->kind) {
    case ALC_ST_PARAM:
        n = alc_ir_add_param(lw->ir, s->name, s->value, s->lo, s->hi,
                             s->name_span);
        lw->param_idx[s->index] = n;
        return n < 0 ? -1 : 0;
    case ALC_ST_FN:
        return 0; /* inlined at its calls */
    case ALC_ST_LET:
        n = lower_expr(lw, s->expr, NULL);
        lw->let_node[s->index] = n;
        return n < 0 ? -1 : 0;
    case ALC_ST_OUT:
        n = lower_expr(lw, s->expr, NULL);
        if (n < 0) {
            return -1;
        }
        if (s->output == ALC_OUT_SPARSITY) {
            lw->ir->sparsity = n;
        } else if (s->output == ALC_OUT_SCORE) {
            lw->ir->score = n;
        }
        return 0;
    default:
        return -1;
    }
}

int alc_lower(const struct alc_program *p, struct alc_ir *ir,
              struct alc_diag *d)
{
    struct lowerer lw;
    int rc = -1;
    memset(&lw, 0, sizeof lw);
    lw.p = p;
    lw.ir = ir;
    lw.d = d;
    if (!p->checked) {
        alc_diag_errorf(d, "%s: internal error: lowering an unchecked "
                           "program", p->file ? p->file : "<generated>");
        return -1;
    }
    lw.let_node = malloc(((size_t)p->n_stmts + 1) * sizeof *lw.let_node);
    lw.param_idx = malloc(((size_t)p->n_stmts + 1) * sizeof *lw.param_idx);
    if (lw.let_node == NULL || lw.param_idx == NULL) {
        alc_diag_errorf(d, "out of memory");
        goto done;
    }
    free(ir->file);
    ir->file = strdup(p->file ? p->file : "<generated>");
    for (int i = 0; i < p->n_stmts; i++) {
        lw.let_node[i] = -1;
        lw.param_idx[i] = -1;
    }
    for (int i = 0; i < p->n_stmts; i++) {
        if (lower_stmt(&lw, p->stmts[i]) != 0) {
            struct alc_span none = {0, 0, 0};
            fail(&lw, none, "internal error: lowering failed");
            goto done;
        }
    }
    rc = ir->sparsity >= 0 ? 0 : -1;
    if (rc != 0) {
        alc_diag_errorf(d, "%s: no sparsity output", p->file);
    }
done:
    free(lw.let_node);
    free(lw.param_idx);
    free(lw.memo);
    return rc;
}
