/*
 * explain.c: alc_explain (interp.h). After an evaluation whose sparsity or
 * score is not finite, the runtime calls it with the `nodes` table the
 * backend filled, so that a user learns which op of the program produced
 * the first NaN or inf, where it is in the source, for which units, and
 * with which operands (e.g. "asin(1.2036): argument outside [-1, 1]").
 * Nodes whose operands were already non-finite only pass the value on and
 * are not reported. For reductions over elements, the elements are
 * evaluated again (alc_interp_elements) to find the element op at fault.
 */
#include <math.h>
#include <stdlib.h>

#include "interp.h"

/* ---- Text helpers ---- */

/* Units marked in bits[0..n) as ranges: "units 0-7, 9". */
static void put_units(const unsigned char *bits, int n, struct alc_sb *out)
{
    int count = 0, first = 1;
    for (int u = 0; u < n; u++) {
        count += bits[u];
    }
    if (count == n && n > 1) {
        alc_sb_printf(out, "all %d units", n);
        return;
    }
    alc_sb_puts(out, count == 1 ? "unit " : "units ");
    for (int u = 0; u < n;) {
        if (!bits[u]) {
            u++;
            continue;
        }
        int v = u;
        while (v + 1 < n && bits[v + 1]) {
            v++;
        }
        alc_sb_printf(out, "%s%d", first ? "" : ", ", u);
        if (v > u) {
            alc_sb_printf(out, "-%d", v);
        }
        first = 0;
        u = v + 1;
    }
}

static void put_num(double v, struct alc_sb *out)
{
    alc_sb_printf(out, "%.6g", v);
}

static const char *op_name(enum alc_op op)
{
    return op == ALC_OP_NEG ? "negation" : alc_op_table[op].name;
}

static void put_where(const struct alc_ir *ir, const struct alc_ir_node *n,
                      struct alc_sb *out)
{
    alc_sb_printf(out, "%s at %s:%d:%d", op_name(n->op),
                  ir->file ? ir->file : "<program>", n->span.line,
                  n->span.col);
}

/* ---- Why a map went non-finite ---- */

/* max(x) - min(x) with the same x: minmax's denominator. */
static int is_range_of_same(const struct alc_ir *ir, int den)
{
    const struct alc_ir_node *s = &ir->nodes[den];
    if (s->op != ALC_OP_SUB) {
        return 0;
    }
    const struct alc_ir_node *a = &ir->nodes[s->arg[0]];
    const struct alc_ir_node *b = &ir->nodes[s->arg[1]];
    return a->op == ALC_OP_MAX && b->op == ALC_OP_MIN && a->nargs == 1 &&
           b->nargs == 1 && a->arg[0] == b->arg[0];
}

/* Operands and reason of a map that turned finite a[] into r. */
static void map_reason(const struct alc_ir *ir, const struct alc_ir_node *n,
                       const double *a, double r, struct alc_sb *out)
{
    const struct alc_op_info *o = &alc_op_table[n->op];
    if (o->prec > 0 && n->nargs == 2) {
        put_num(a[0], out);
        alc_sb_printf(out, " %s ", o->name);
        put_num(a[1], out);
    } else {
        alc_sb_printf(out, "%s(", o->prec > 0 ? o->name : o->name);
        for (int i = 0; i < n->nargs; i++) {
            if (i > 0) {
                alc_sb_puts(out, ", ");
            }
            put_num(a[i], out);
        }
        alc_sb_putc(out, ')');
    }
    alc_sb_puts(out, ": ");
    switch (n->op) {
    case ALC_OP_ASIN:
    case ALC_OP_ACOS:
        alc_sb_puts(out, "argument outside [-1, 1]");
        return;
    case ALC_OP_LOG:
        alc_sb_puts(out, a[0] == 0.0 ? "log(0) = -inf" : "argument < 0");
        return;
    case ALC_OP_SQRT:
        alc_sb_puts(out, "argument < 0");
        return;
    case ALC_OP_DIV:
        if (a[1] == 0.0) {
            alc_sb_puts(out, a[0] == 0.0 ? "0/0" : "division by zero");
            if (is_range_of_same(ir, n->arg[1])) {
                alc_sb_puts(out, ir->nodes[n->arg[1]].level == ALC_LV_MODEL
                                     ? " (max == min: every unit has the "
                                       "same value)"
                                     : " (max == min: every element of the "
                                       "unit has the same value)");
            }
            return;
        }
        break;
    case ALC_OP_POW:
        if (a[0] < 0.0 && a[1] != floor(a[1])) {
            alc_sb_puts(out, "negative base with a non-integer exponent");
            return;
        }
        if (a[0] == 0.0 && a[1] < 0.0) {
            alc_sb_puts(out, "zero to a negative power");
            return;
        }
        break;
    default:
        break;
    }
    alc_sb_puts(out, isnan(r) ? "undefined" : "overflow");
}

/* Reason a reduction over finite values gave a non-finite result. */
static void reduce_reason(const struct alc_ir_node *n, double q, double r,
                          struct alc_sb *out)
{
    switch (n->op) {
    case ALC_OP_VAR:
    case ALC_OP_STD:
        alc_sb_puts(out, isnan(r) ? "fewer than 2 values" : "overflow");
        return;
    case ALC_OP_ENTROPY:
        alc_sb_puts(out, "no value >= 0, or they sum to 0");
        return;
    case ALC_OP_GEOMEAN:
        alc_sb_puts(out, isnan(r) ? "a negative value" : "overflow");
        return;
    case ALC_OP_QUANTILE:
        if (isnan(q) || q < 0.0 || q > 1.0) {
            alc_sb_puts(out, "q = ");
            put_num(q, out);
            alc_sb_puts(out, " is outside [0, 1]");
            return;
        }
        break;
    default:
        break;
    }
    alc_sb_puts(out, isnan(r) ? "undefined" : "overflow");
}

/* ---- Element-level origins ---- */

struct elem_scan {
    const struct alc_ir *ir;
    const double *nodes;
    int U, u;
    int root;
    const unsigned char *cone; /* element nodes root depends on */
    int found;                 /* an element op at fault was found */
    int node;                  /* that op, or an input that is not finite */
    int mat;
    int64_t row, col;
    double a[3], r;
};

/* Value of operand x at this element. */
static double operand(const struct elem_scan *s, const double *ev, int x)
{
    if (s->ir->nodes[x].level == ALC_LV_ELEM) {
        return ev[x];
    }
    return s->nodes[(size_t)x * (size_t)s->U + (size_t)s->u];
}

/* At the first element where root is not finite, finds the first cone
 * node that is not finite while its operands are, and stops. */
static int scan_visit(void *ctx, const double *ev, int mat, int64_t row,
                      int64_t col)
{
    struct elem_scan *s = ctx;
    if (isfinite(ev[s->root])) {
        return 0;
    }
    for (int i = 0; i <= s->root; i++) {
        const struct alc_ir_node *n = &s->ir->nodes[i];
        double a[3] = {0, 0, 0};
        int ok = 1;
        if (!s->cone[i] || isfinite(ev[i])) {
            continue;
        }
        for (int j = 0; j < n->nargs; j++) {
            a[j] = operand(s, ev, n->arg[j]);
            ok &= isfinite(a[j]) != 0;
        }
        if (ok) {
            s->found = 1;
            s->node = i;
            s->mat = mat;
            s->row = row;
            s->col = col;
            memcpy(s->a, a, sizeof a);
            s->r = ev[i];
            return 1;
        }
    }
    return 1;
}

static void mark_cone(const struct alc_ir *ir, int root, unsigned char *cone)
{
    memset(cone, 0, (size_t)ir->n_nodes);
    cone[root] = 1;
    for (int i = root; i >= 0; i--) {
        const struct alc_ir_node *n = &ir->nodes[i];
        if (!cone[i] || n->level != ALC_LV_ELEM) {
            cone[i] = cone[i] && n->level == ALC_LV_ELEM;
            continue;
        }
        for (int a = 0; a < n->nargs; a++) {
            cone[n->arg[a]] = 1;
        }
    }
}

/* ---- Per-node findings ---- */

struct finding {
    unsigned char *bits; /* (U) units affected */
    int any;
    struct alc_sb why;   /* operands and reason, from the first unit */
};

struct explainer {
    const struct alc_ir *ir;
    const double *nodes;
    int U;
    const struct alc_units *units;
    struct finding *f;   /* (n_nodes) */
    unsigned char *cone; /* (n_nodes) scratch */
};

static double nv(const struct explainer *x, int node, int u)
{
    return x->nodes[(size_t)node * (size_t)x->U + (size_t)u];
}

static void note(struct explainer *x, int node, int u, int first_why)
{
    struct finding *f = &x->f[node];
    f->bits[u] = 1;
    if (!f->any && first_why) {
        f->any = 1;
    }
}

static void explain_elem_reduce(struct explainer *x, int i, int u)
{
    const struct alc_ir_node *n = &x->ir->nodes[i];
    struct elem_scan s;
    memset(&s, 0, sizeof s);
    s.ir = x->ir;
    s.nodes = x->nodes;
    s.U = x->U;
    s.u = u;
    s.root = n->arg[0];
    s.cone = x->cone;
    mark_cone(x->ir, s.root, x->cone);
    if (x->units == NULL ||
        alc_interp_elements(x->ir, x->nodes, x->U, x->units, u, s.root,
                            scan_visit, &s) < 0) {
        return;
    }
    if (s.found) {
        const struct alc_ir_node *e = &x->ir->nodes[s.node];
        struct finding *f = &x->f[s.node];
        if (!f->any) {
            const struct alc_mat_view *m = &x->units->units[u].mats[s.mat];
            if (e->op == ALC_OP_INPUT) {
                alc_sb_printf(&f->why, "input `%s` is ",
                              alc_input_table[e->u.input].name);
                put_num(s.r, &f->why);
            } else {
                map_reason(x->ir, e, s.a, s.r, &f->why);
            }
            alc_sb_printf(&f->why, " (first at element [%lld, %lld] of "
                                   "matrix %d (%s) of unit %d)",
                          (long long)s.row, (long long)s.col, s.mat,
                          m->name ? m->name : "unnamed", u);
        }
        note(x, s.node, u, 1);
        return;
    }
    /* every element finite: the reduction itself */
    struct finding *f = &x->f[i];
    if (!f->any) {
        double q = n->nargs > 1 ? nv(x, n->arg[1], u) : 0.0;
        alc_sb_printf(&f->why, "%s over the unit's elements: ",
                      op_name(n->op));
        reduce_reason(n, q, nv(x, i, u), &f->why);
    }
    note(x, i, u, 1);
}

/* Looks at node i for unit u, whose value is not finite. */
static void explain_at(struct explainer *x, int i, int u)
{
    const struct alc_ir_node *n = &x->ir->nodes[i];
    enum alc_opkind k = alc_op_table[n->op].kind;
    double a[3] = {0, 0, 0};
    int ok = 1;
    if (k == ALC_OPK_REDUCE && x->ir->nodes[n->arg[0]].level ==
                                   ALC_LV_ELEM) {
        explain_elem_reduce(x, i, u);
        return;
    }
    if (k == ALC_OPK_REDUCE) {
        for (int v = 0; v < x->U; v++) {
            ok &= isfinite(nv(x, n->arg[0], v)) != 0;
        }
        ok &= n->nargs < 2 || isfinite(nv(x, n->arg[1], u));
        if (ok) {
            struct finding *f = &x->f[i];
            if (!f->any) {
                alc_sb_printf(&f->why, "%s over the units: ",
                              op_name(n->op));
                reduce_reason(n, n->nargs > 1 ? nv(x, n->arg[1], u) : 0.0,
                              nv(x, i, u), &f->why);
            }
            note(x, i, u, 1);
        }
        return;
    }
    if (k != ALC_OPK_MAP) {
        return; /* leaves are inputs; rank keeps NaN as NaN */
    }
    for (int j = 0; j < n->nargs; j++) {
        a[j] = nv(x, n->arg[j], u);
        ok &= isfinite(a[j]) != 0;
    }
    if (!ok) {
        return; /* passed on from an operand */
    }
    if (!x->f[i].any) {
        map_reason(x->ir, n, a, nv(x, i, u), &x->f[i].why);
    }
    note(x, i, u, 1);
}

static void summary(const struct explainer *x, int node, const char *what,
                    struct alc_sb *out)
{
    unsigned char *bits = calloc((size_t)x->U + 1, 1);
    int any = 0, nan = 0;
    if (bits == NULL || node < 0) {
        free(bits);
        return;
    }
    for (int u = 0; u < x->U; u++) {
        double v = nv(x, node, u);
        bits[u] = !isfinite(v);
        any |= bits[u];
        nan |= isnan(v);
    }
    if (any) {
        alc_sb_printf(out, "%s is %s for ", what, nan ? "NaN" : "infinite");
        put_units(bits, x->U, out);
        alc_sb_putc(out, '\n');
    }
    free(bits);
}

void alc_explain(const struct alc_ir *ir, const double *nodes, int n_units,
                 const struct alc_units *units, struct alc_sb *out)
{
    struct explainer x;
    unsigned char *reach = malloc((size_t)ir->n_nodes + 1);
    memset(&x, 0, sizeof x);
    x.ir = ir;
    x.nodes = nodes;
    x.U = n_units;
    x.units = units;
    x.f = calloc((size_t)ir->n_nodes + 1, sizeof *x.f);
    x.cone = malloc((size_t)ir->n_nodes + 1);
    if (reach == NULL || x.f == NULL || x.cone == NULL || n_units <= 0) {
        goto done;
    }
    summary(&x, ir->sparsity, "sparsity", out);
    summary(&x, ir->score, "score", out);
    alc_ir_reachable(ir, reach);
    for (int i = 0; i < ir->n_nodes; i++) {
        x.f[i].bits = calloc((size_t)n_units, 1);
        alc_sb_init(&x.f[i].why);
        if (x.f[i].bits == NULL) {
            goto done;
        }
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        if (!reach[i] || ir->nodes[i].level == ALC_LV_ELEM) {
            continue;
        }
        for (int u = 0; u < n_units; u++) {
            if (!isfinite(nv(&x, i, u))) {
                explain_at(&x, i, u);
            }
        }
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        if (!x.f[i].any) {
            continue;
        }
        alc_sb_puts(out, "  ");
        put_where(ir, &ir->nodes[i], out);
        alc_sb_puts(out, ", ");
        if (ir->nodes[i].level == ALC_LV_MODEL) {
            alc_sb_puts(out, "model-level");
        } else {
            put_units(x.f[i].bits, n_units, out);
        }
        alc_sb_printf(out, ": %s\n", alc_sb_str(&x.f[i].why));
    }
done:
    if (x.f != NULL) {
        for (int i = 0; i < ir->n_nodes; i++) {
            free(x.f[i].bits);
            alc_sb_free(&x.f[i].why);
        }
    }
    free(x.f);
    free(x.cone);
    free(reach);
}
