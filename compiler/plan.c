/*
 * plan.c: building the pass schedule of a compacted IR (plan.h), its text
 * dump for `dsac emit --target plan`, accumulator states (identity, combine,
 * finish), and the host side of evaluation: the layer- and model-level
 * stages between passes (maps through ops.c, layer -> model reductions and
 * rank through interp.c's definitions) and the checks on the units.
 * Called by the compiled backends (jit_llvm.c, the CUDA backend).
 */
#include <math.h>
#include <stdlib.h>

#include "interp.h"
#include "plan.h"

const int alc_acc_slots[ALC_ACC_COUNT] = {
    [ALC_ACC_SUM] = 1, [ALC_ACC_MIN] = 2,   [ALC_ACC_MAX] = 2,
    [ALC_ACC_VAR] = 4, [ALC_ACC_STORE] = 0,
};
_Static_assert(ALC_ACC_COUNT == 5, "accumulator tables out of sync");

const char *const alc_acc_kind_name[ALC_ACC_COUNT] = {
    [ALC_ACC_SUM] = "sum", [ALC_ACC_MIN] = "min",     [ALC_ACC_MAX] = "max",
    [ALC_ACC_VAR] = "var", [ALC_ACC_STORE] = "store",
};

const char *const alc_acc_fn_name[ALC_AF_COUNT] = {
    [ALC_AF_ID] = "x",    [ALC_AF_ABS] = "abs",     [ALC_AF_SQ] = "sq",
    [ALC_AF_LOG] = "log", [ALC_AF_NZ] = "nz",       [ALC_AF_POS] = "pos",
    [ALC_AF_GE0] = "ge0", [ALC_AF_XLOGX] = "xlogx",
};
_Static_assert(ALC_AF_COUNT == 8, "accumulator function table out of sync");

/* ---- Building ---- */

/* An element-level reduction: REDUCE whose operand 0 is element-level. */
static int is_elem_red(const struct alc_ir *ir, int i)
{
    const struct alc_ir_node *n = &ir->nodes[i];
    return alc_op_table[n->op].kind == ALC_OPK_REDUCE &&
           ir->nodes[n->arg[0]].level == ALC_LV_ELEM;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/*
 * depth[] of layer/model nodes, and eldep[] of element nodes: the largest
 * depth of a layer/model node read by the element subtree.
 */
static void compute_depths(const struct alc_ir *ir, int *depth, int *eldep)
{
    for (int i = 0; i < ir->n_nodes; i++) {
        const struct alc_ir_node *n = &ir->nodes[i];
        int m = 0;
        for (int a = 0; a < n->nargs; a++) {
            int x = n->arg[a];
            m = imax(m,
                     ir->nodes[x].level == ALC_LV_ELEM ? eldep[x] : depth[x]);
        }
        if (n->level == ALC_LV_ELEM) {
            depth[i] = -1;
            eldep[i] = m;
        } else {
            depth[i] = is_elem_red(ir, i) ? m + 1 : m;
            eldep[i] = 0;
        }
    }
}

static int push_int(int **v, int *n, int x)
{
    int *nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
    if (nv == NULL) {
        return -1;
    }
    nv[(*n)++] = x;
    *v = nv;
    return 0;
}

/* Index of the accumulator (kind, fn, node) in pass, added if new. */
static int acc_get(struct alc_plan_pass *ps, enum alc_acc_kind k,
                   enum alc_acc_fn fn, int node)
{
    for (int i = 0; i < ps->n_accs; i++) {
        const struct alc_plan_acc *a = &ps->accs[i];
        if (a->kind == k && a->fn == fn && a->node == node) {
            return i;
        }
    }
    struct alc_plan_acc *na =
        realloc(ps->accs, (size_t)(ps->n_accs + 1) * sizeof *na);
    if (na == NULL) {
        return -1;
    }
    ps->accs = na;
    na[ps->n_accs] = (struct alc_plan_acc){k, fn, node, ps->n_slots};
    ps->n_slots += alc_acc_slots[k];
    ps->n_stores += k == ALC_ACC_STORE;
    return ps->n_accs++;
}

/* The accumulators a reduction op reads, in the order alc_plan_finish
 * expects them. Returns how many (0 for an op that is not a reduction). */
static int red_accs(enum alc_op op, enum alc_acc_kind *k, enum alc_acc_fn *f)
{
    switch (op) {
    case ALC_OP_MEAN:
    case ALC_OP_SUM:
        k[0] = ALC_ACC_SUM, f[0] = ALC_AF_ID;
        return 1;
    case ALC_OP_VAR:
    case ALC_OP_STD:
        k[0] = ALC_ACC_VAR, f[0] = ALC_AF_ID;
        return 1;
    case ALC_OP_MIN:
        k[0] = ALC_ACC_MIN, f[0] = ALC_AF_ID;
        return 1;
    case ALC_OP_MAX:
        k[0] = ALC_ACC_MAX, f[0] = ALC_AF_ID;
        return 1;
    case ALC_OP_L1:
    case ALC_OP_MEANABS:
        k[0] = ALC_ACC_SUM, f[0] = ALC_AF_ABS;
        return 1;
    case ALC_OP_L2:
        k[0] = ALC_ACC_SUM, f[0] = ALC_AF_SQ;
        return 1;
    case ALC_OP_GEOMEAN:
        k[0] = ALC_ACC_SUM, f[0] = ALC_AF_LOG;
        return 1;
    case ALC_OP_CNT:
        k[0] = ALC_ACC_SUM, f[0] = ALC_AF_NZ;
        return 1;
    case ALC_OP_ENTROPY:
        k[0] = k[1] = k[2] = ALC_ACC_SUM;
        f[0] = ALC_AF_POS, f[1] = ALC_AF_GE0, f[2] = ALC_AF_XLOGX;
        return 3;
    case ALC_OP_QUANTILE:
        k[0] = ALC_ACC_STORE, f[0] = ALC_AF_ID;
        return 1;
    default:
        return 0;
    }
}

/* Marks the element nodes of red's operand tree in mark[] (2 = needed). */
static void mark_elems(const struct alc_ir *ir, int root, unsigned char *mark)
{
    mark[root] = 2;
    for (int i = root; i >= 0; i--) {
        const struct alc_ir_node *n = &ir->nodes[i];
        if (mark[i] != 2) {
            continue;
        }
        for (int a = 0; a < n->nargs; a++) {
            if (ir->nodes[n->arg[a]].level == ALC_LV_ELEM) {
                mark[n->arg[a]] = 2;
            }
        }
    }
}

static int add_red(struct alc_plan_pass *ps, const struct alc_ir *ir, int r,
                   struct alc_diag *d)
{
    enum alc_acc_kind k[3];
    enum alc_acc_fn f[3];
    struct alc_plan_red red = {r, {-1, -1, -1}};
    int n = red_accs(ir->nodes[r].op, k, f);
    if (n == 0) {
        alc_diag_errorf(d, "plan: %s is not an element reduction",
                        alc_op_table[ir->nodes[r].op].name);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        red.acc[i] = acc_get(ps, k[i], f[i], ir->nodes[r].arg[0]);
        if (red.acc[i] < 0) {
            return -1;
        }
    }
    struct alc_plan_red *nr =
        realloc(ps->reds, (size_t)(ps->n_reds + 1) * sizeof *nr);
    if (nr == NULL) {
        return -1;
    }
    ps->reds = nr;
    nr[ps->n_reds++] = red;
    return 0;
}

/* Fills pass number k (1-based) from the element reductions of depth k. */
static int build_pass(struct alc_plan *p, const struct alc_ir *ir, int k,
                      unsigned char *mark, struct alc_diag *d)
{
    struct alc_plan_pass *ps = &p->passes[k - 1];
    memset(mark, 0, (size_t)ir->n_nodes);
    for (int i = 0; i < ir->n_nodes; i++) {
        if (p->depth[i] == k && is_elem_red(ir, i)) {
            if (add_red(ps, ir, i, d) != 0) {
                return -1;
            }
            mark_elems(ir, ir->nodes[i].arg[0], mark);
        }
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        const struct alc_ir_node *n = &ir->nodes[i];
        if (mark[i] != 2) {
            continue;
        }
        if (push_int(&ps->elems, &ps->n_elems, i) != 0) {
            return -1;
        }
        if (n->op == ALC_OP_INPUT) {
            ps->inputs |= 1u << n->u.input;
        }
        for (int a = 0; a < n->nargs; a++) {
            if (ir->nodes[n->arg[a]].level != ALC_LV_ELEM) {
                mark[n->arg[a]] = 1;
            }
        }
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        if (mark[i] == 1 && push_int(&ps->uses, &ps->n_uses, i) != 0) {
            return -1;
        }
    }
    return 0;
}

int alc_plan_build(struct alc_plan *p, const struct alc_ir *ir,
                   struct alc_diag *d)
{
    int rc = -1;
    int *eldep = malloc(((size_t)ir->n_nodes + 1) * sizeof *eldep);
    unsigned char *mark = malloc((size_t)ir->n_nodes + 1);
    memset(p, 0, sizeof *p);
    p->n_nodes = ir->n_nodes;
    p->depth = malloc(((size_t)ir->n_nodes + 1) * sizeof *p->depth);
    if (eldep == NULL || mark == NULL || p->depth == NULL) {
        goto oom;
    }
    compute_depths(ir, p->depth, eldep);
    alc_ir_reachable(ir, mark);
    for (int i = 0; i < ir->n_nodes; i++) {
        if (mark[i] && p->depth[i] > p->n_passes) {
            p->n_passes = p->depth[i];
        }
    }
    p->passes = calloc((size_t)p->n_passes + 1, sizeof *p->passes);
    p->stages = calloc((size_t)p->n_passes + 1, sizeof *p->stages);
    if (p->passes == NULL || p->stages == NULL) {
        goto oom;
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        int k = p->depth[i];
        if (!mark[i] || k < 0 || is_elem_red(ir, i)) {
            continue;
        }
        if (push_int(&p->stages[k].nodes, &p->stages[k].n_nodes, i) != 0) {
            goto oom;
        }
    }
    for (int k = 1; k <= p->n_passes; k++) {
        if (build_pass(p, ir, k, mark, d) != 0) {
            goto fail;
        }
    }
    rc = 0;
    goto done;
oom:
    alc_diag_errorf(d, "out of memory building the evaluation plan");
fail:
    alc_plan_free(p);
done:
    free(eldep);
    free(mark);
    return rc;
}

void alc_plan_free(struct alc_plan *p)
{
    for (int k = 0; p->passes != NULL && k < p->n_passes; k++) {
        free(p->passes[k].elems);
        free(p->passes[k].uses);
        free(p->passes[k].reds);
        free(p->passes[k].accs);
    }
    for (int k = 0; p->stages != NULL && k <= p->n_passes; k++) {
        free(p->stages[k].nodes);
    }
    free(p->passes);
    free(p->stages);
    free(p->depth);
    memset(p, 0, sizeof *p);
}

/* ---- Dump ---- */

static void node_text(const struct alc_ir *ir, int i, struct alc_sb *out)
{
    const struct alc_ir_node *n = &ir->nodes[i];
    alc_sb_printf(out, "%%%d = ", i);
    switch (n->op) {
    case ALC_OP_CONST:
        alc_sb_printf(out, "const %.17g", n->u.k);
        return;
    case ALC_OP_INPUT: {
        const struct alc_input_info *in = &alc_input_table[n->u.input];
        alc_sb_printf(out, "input %s", in->name ? in->name : in->def);
        return;
    }
    case ALC_OP_PARAM:
        alc_sb_printf(out, "param %s", ir->params[n->u.param].name);
        return;
    default:
        alc_sb_puts(out,
                    n->op == ALC_OP_NEG ? "neg" : alc_op_table[n->op].name);
        for (int a = 0; a < n->nargs; a++) {
            alc_sb_printf(out, " %%%d", n->arg[a]);
        }
        return;
    }
}

static void dump_inputs(unsigned inputs, struct alc_sb *out)
{
    const char *sep = "";
    for (int i = 0; i < ALC_IN_COUNT; i++) {
        if (inputs & (1u << i)) {
            alc_sb_printf(out, "%s%s", sep, alc_input_table[i].name);
            sep = " ";
        }
    }
}

static void dump_pass(const struct alc_plan_pass *ps, const struct alc_ir *ir,
                      int k, struct alc_sb *out)
{
    alc_sb_printf(out, "pass %d: reads ", k);
    dump_inputs(ps->inputs, out);
    alc_sb_puts(out, "\n");
    for (int i = 0; i < ps->n_uses; i++) {
        alc_sb_puts(out, "  use  ");
        node_text(ir, ps->uses[i], out);
        alc_sb_puts(out, "\n");
    }
    for (int i = 0; i < ps->n_elems; i++) {
        alc_sb_puts(out, "  elem ");
        node_text(ir, ps->elems[i], out);
        alc_sb_puts(out, "\n");
    }
    for (int i = 0; i < ps->n_accs; i++) {
        const struct alc_plan_acc *a = &ps->accs[i];
        alc_sb_printf(out, "  acc  #%d = %s %s(%%%d)\n", i,
                      alc_acc_kind_name[a->kind], alc_acc_fn_name[a->fn],
                      a->node);
    }
    for (int i = 0; i < ps->n_reds; i++) {
        const struct alc_plan_red *r = &ps->reds[i];
        alc_sb_puts(out, "  red  ");
        node_text(ir, r->node, out);
        alc_sb_puts(out, " <-");
        for (int j = 0; j < 3 && r->acc[j] >= 0; j++) {
            alc_sb_printf(out, " #%d", r->acc[j]);
        }
        alc_sb_puts(out, "\n");
    }
}

void alc_plan_dump(const struct alc_plan *p, const struct alc_ir *ir,
                   struct alc_sb *out)
{
    alc_sb_printf(out, "passes %d\n", p->n_passes);
    for (int k = 0; k <= p->n_passes; k++) {
        if (k > 0) {
            dump_pass(&p->passes[k - 1], ir, k, out);
        }
        alc_sb_printf(out, "stage %d:\n", k);
        for (int i = 0; i < p->stages[k].n_nodes; i++) {
            alc_sb_puts(out, "  ");
            node_text(ir, p->stages[k].nodes[i], out);
            alc_sb_puts(out, "\n");
        }
    }
    alc_sb_printf(out, "sparsity = %%%d\n", ir->sparsity);
    if (ir->score >= 0) {
        alc_sb_printf(out, "score = %%%d\n", ir->score);
    }
}

/* ---- Accumulator states ---- */

void alc_plan_acc_identity(enum alc_acc_kind k, double *s)
{
    switch (k) {
    case ALC_ACC_SUM:
        s[0] = 0.0;
        break;
    case ALC_ACC_MIN:
        s[0] = INFINITY;
        s[1] = INFINITY;
        break;
    case ALC_ACC_MAX:
        s[0] = -INFINITY;
        s[1] = INFINITY;
        break;
    case ALC_ACC_VAR:
        s[0] = s[1] = s[2] = s[3] = 0.0;
        break;
    default:
        break;
    }
}

/* min/max states {m, i}: NaN wins; else the smaller (larger) value; on
 * equal values (+0 and -0 among them) the earlier element. */
static void minmax_combine(int is_min, double *a, const double *b)
{
    if (isnan(a[0]) || isnan(b[0])) {
        a[0] = NAN;
        return;
    }
    int take = is_min ? b[0] < a[0] : b[0] > a[0];
    if (take || (b[0] == a[0] && b[1] < a[1])) {
        a[0] = b[0];
        a[1] = b[1];
    }
}

/*
 * Chan, Golub and LeVeque's pairwise update of {n, K, d, m2}. The
 * difference of the means is formed as (Kb - Ka) + (db - da): the shifts are
 * data values, so when the data sit far from 0 (mean 1e9, spread 1e-3)
 * Kb - Ka is exact and the means' offsets carry full precision, where
 * subtracting two rounded means would lose ulp(1e9) / spread.
 */
static void var_combine(double *a, const double *b)
{
    if (b[0] == 0.0) {
        return;
    }
    if (a[0] == 0.0) {
        memcpy(a, b, 4 * sizeof *a);
        return;
    }
    double n = a[0] + b[0];
    double delta = (b[1] - a[1]) + (b[2] - a[2]);
    a[2] = a[2] + delta * (b[0] / n);
    a[3] = a[3] + b[3] + delta * delta * (a[0] * b[0] / n);
    a[0] = n;
}

void alc_plan_acc_combine(enum alc_acc_kind k, double *a, const double *b)
{
    switch (k) {
    case ALC_ACC_SUM:
        a[0] += b[0];
        break;
    case ALC_ACC_MIN:
    case ALC_ACC_MAX:
        minmax_combine(k == ALC_ACC_MIN, a, b);
        break;
    case ALC_ACC_VAR:
        var_combine(a, b);
        break;
    default:
        break;
    }
}

static void record_combine(const struct alc_plan_pass *p, double *a,
                           const double *b)
{
    for (int i = 0; i < p->n_accs; i++) {
        const struct alc_plan_acc *acc = &p->accs[i];
        alc_plan_acc_combine(acc->kind, a + acc->slot, b + acc->slot);
    }
}

void alc_plan_combine_tree(const struct alc_plan_pass *p, double *rec,
                           int64_t n)
{
    size_t w = (size_t)p->n_slots;
    for (int64_t step = 1; step < n; step *= 2) {
        for (int64_t i = 0; i + step < n; i += 2 * step) {
            record_combine(p, rec + (size_t)i * w,
                           rec + (size_t)(i + step) * w);
        }
    }
}

/*
 * Shifted sums: with K one of the values (a backend takes the first of
 * each lane), s1 and s2 are sums of deviations from a point inside the
 * data, so m2 = s2 - s1^2 / n cancels only as much as (mean - K)^2 / var,
 * which stays small for any data whose spread is not dwarfed by its
 * range; a large common offset (mean 1e8, spread 1) costs nothing. Chan's
 * update then merges lanes and chunks without forming large sums of
 * squares. Any NaN or infinite value makes the result NaN, as the
 * two-pass definition does.
 */
void alc_plan_var_from_shifted(double n, double K, double s1, double s2,
                               double *state)
{
    if (n == 0.0) {
        alc_plan_acc_identity(ALC_ACC_VAR, state);
        return;
    }
    state[0] = n;
    state[1] = K;
    state[2] = s1 / n;
    state[3] = s2 - s1 * (s1 / n);
}

static double var_finish(const double *s)
{
    return s[0] < 2.0 ? NAN : s[3] / (s[0] - 1.0);
}

/* DSA's entropy from S = sum of p, n = how many p, T = sum p log p:
 * -sum (p/S) log(p/S) = log S - T / S. NaN when nothing qualifies or the
 * sum is 0 or infinite (interp.c's rule). */
static double entropy_finish(double S, double n, double T)
{
    if (n == 0.0 || !(S > 0.0) || isinf(S)) {
        return NAN;
    }
    return log(S) - T / S;
}

double alc_plan_finish(const struct alc_plan_pass *p,
                       const struct alc_plan_red *red, const struct alc_ir *ir,
                       const double *rec, double numel)
{
    const double *s0 = rec + p->accs[red->acc[0]].slot;
    switch (ir->nodes[red->node].op) {
    case ALC_OP_SUM:
    case ALC_OP_L1:
    case ALC_OP_MIN:
    case ALC_OP_MAX:
    case ALC_OP_CNT:
        return s0[0];
    case ALC_OP_MEAN:
    case ALC_OP_MEANABS:
        return s0[0] / numel;
    case ALC_OP_L2:
        return sqrt(s0[0]);
    case ALC_OP_GEOMEAN:
        return exp(s0[0] / numel);
    case ALC_OP_VAR:
        return var_finish(s0);
    case ALC_OP_STD:
        return sqrt(var_finish(s0));
    case ALC_OP_ENTROPY:
        return entropy_finish(s0[0], rec[p->accs[red->acc[1]].slot],
                              rec[p->accs[red->acc[2]].slot]);
    default:
        return NAN;
    }
}

/* ---- Execution ---- */

int64_t alc_unit_numel(const struct alc_unit_view *u)
{
    int64_t n = 0;
    for (int m = 0; m < u->n_mats; m++) {
        n += u->mats[m].rows * u->mats[m].cols;
    }
    return n;
}

static const char *unit_name(const struct alc_unit_view *u)
{
    return u->name != NULL ? u->name : "unnamed";
}

/* Why matrix m cannot be evaluated by a program reading `inputs`, or
 * NULL. The same rules and words as interp.c's check_units. */
static const char *mat_problem(unsigned inputs, const struct alc_mat_view *m)
{
    const unsigned need_act = (1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT);
    if (m->rows <= 0 || m->cols <= 0) {
        return "has no elements";
    }
    if (m->w == NULL || (int)m->dtype < 0 || m->dtype >= ALC_DT_COUNT) {
        return "has no weights or an unsupported dtype";
    }
    if ((inputs & need_act) && m->act == NULL) {
        return "has no activation norms (the program reads `wanda` or "
               "`act`: calibrate first)";
    }
    if ((inputs & (1u << ALC_IN_ALPHA_PEAK)) && isnan(m->alpha_peak)) {
        return "has no alpha_peak (the runtime computes it when "
               "alc_compiled_inputs asks for it)";
    }
    if ((inputs & (1u << ALC_IN_ALPHA_HILL)) && isnan(m->alpha_hill)) {
        return "has no alpha_hill (the runtime computes it when "
               "alc_compiled_inputs asks for it)";
    }
    return NULL;
}

int alc_plan_check_units(unsigned inputs, const struct alc_units *units,
                         struct alc_diag *d)
{
    if (units->n_units <= 0) {
        alc_diag_errorf(d, "no allocation units to evaluate");
        return -1;
    }
    for (int u = 0; u < units->n_units; u++) {
        const struct alc_unit_view *uv = &units->units[u];
        if (uv->n_mats <= 0) {
            alc_diag_errorf(d, "unit %d (%s) has no matrices", u,
                            unit_name(uv));
            return -1;
        }
        for (int m = 0; m < uv->n_mats; m++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            const char *why = mat_problem(inputs, mv);
            if (why != NULL) {
                alc_diag_errorf(d, "unit %d (%s), matrix %d (%s) %s", u,
                                unit_name(uv), m,
                                mv->name ? mv->name : "unnamed", why);
                return -1;
            }
        }
    }
    return 0;
}

struct exec {
    const struct alc_ir *ir;
    const struct alc_units *units;
    const struct alc_eval_opts *opts;
    double *env;
    double *tmp; /* (n_units) scratch */
    size_t nn;   /* env stride: ir->n_nodes */
};

static double *val(struct exec *x, int u, int node)
{
    return &x->env[(size_t)u * x->nn + (size_t)node];
}

static double input_value(struct exec *x, int u, int in)
{
    const struct alc_unit_view *uv = &x->units->units[u];
    double s = 0.0;
    switch (in) {
    case ALC_IN_LAYER:
        return (double)u;
    case ALC_IN_BLOCK:
        return (double)uv->block;
    case ALC_IN_NUMEL:
        return (double)alc_unit_numel(uv);
    case ALC_IN_ALPHA_PEAK:
    case ALC_IN_ALPHA_HILL:
        for (int m = 0; m < uv->n_mats; m++) {
            s += in == ALC_IN_ALPHA_PEAK ? uv->mats[m].alpha_peak
                                         : uv->mats[m].alpha_hill;
        }
        return s / (double)uv->n_mats;
    case ALC_IN_S:
        return x->opts->S;
    case ALC_IN_L:
        return (double)x->units->n_units;
    default:
        return NAN;
    }
}

/* A layer -> model reduction or rank: reads every unit's value. */
static void eval_across(struct exec *x, int i)
{
    const struct alc_ir_node *n = &x->ir->nodes[i];
    int L = x->units->n_units;
    for (int u = 0; u < L; u++) {
        x->tmp[u] = *val(x, u, n->arg[0]);
    }
    if (n->op == ALC_OP_RANK) {
        double *r = x->tmp + L;
        alc_interp_rank(x->tmp, L, r);
        for (int u = 0; u < L; u++) {
            *val(x, u, i) = r[u];
        }
        return;
    }
    double q = n->nargs > 1 ? *val(x, 0, n->arg[1]) : 0.0;
    double v = alc_interp_reduce(n->op, x->tmp, (size_t)L, q);
    for (int u = 0; u < L; u++) {
        *val(x, u, i) = v;
    }
}

static double eval_map(struct exec *x, int u, const struct alc_ir_node *n)
{
    const struct alc_op_info *o = &alc_op_table[n->op];
    double a = *val(x, u, n->arg[0]);
    if (o->map1 != NULL) {
        return o->map1(a);
    }
    double b = *val(x, u, n->arg[1]);
    if (o->map2 != NULL) {
        return o->map2(a, b);
    }
    return o->map3(a, b, *val(x, u, n->arg[2]));
}

static void eval_node(struct exec *x, int i)
{
    const struct alc_ir_node *n = &x->ir->nodes[i];
    const double *pv = x->opts->params;
    if (alc_op_table[n->op].kind == ALC_OPK_REDUCE ||
        alc_op_table[n->op].kind == ALC_OPK_ACROSS) {
        eval_across(x, i);
        return;
    }
    for (int u = 0; u < x->units->n_units; u++) {
        double v = NAN;
        switch (n->op) {
        case ALC_OP_CONST:
            v = n->u.k;
            break;
        case ALC_OP_PARAM:
            v = pv ? pv[n->u.param] : x->ir->params[n->u.param].value;
            break;
        case ALC_OP_INPUT:
            v = input_value(x, u, n->u.input);
            break;
        default:
            v = eval_map(x, u, n);
            break;
        }
        *val(x, u, i) = v;
    }
}

static void write_outputs(struct exec *x, struct alc_eval_out *out)
{
    int L = x->units->n_units;
    for (int u = 0; u < L; u++) {
        out->sparsity[u] = *val(x, u, x->ir->sparsity);
        if (out->score != NULL) {
            out->score[u] = x->ir->score >= 0 ? *val(x, u, x->ir->score) : NAN;
        }
    }
    if (out->nodes == NULL) {
        return;
    }
    for (int i = 0; i < x->ir->n_nodes; i++) {
        for (int u = 0; u < L; u++) {
            out->nodes[(size_t)i * (size_t)L + (size_t)u] = *val(x, u, i);
        }
    }
}

int alc_plan_execute(const struct alc_plan *p, const struct alc_ir *ir,
                     const struct alc_units *units,
                     const struct alc_eval_opts *opts, alc_plan_pass_fn fn,
                     void *ctx, double *env, struct alc_eval_out *out,
                     struct alc_diag *d)
{
    struct exec x = {ir, units, opts, env, NULL, (size_t)ir->n_nodes};
    int rc = -1;
    if (alc_plan_check_units(alc_ir_inputs_used(ir), units, d) != 0) {
        return -1;
    }
    x.tmp = malloc(2 * ((size_t)units->n_units + 1) * sizeof *x.tmp);
    if (x.tmp == NULL) {
        alc_diag_errorf(d, "out of memory evaluating the allocation");
        return -1;
    }
    for (size_t i = 0; i < (size_t)units->n_units * x.nn; i++) {
        env[i] = NAN;
    }
    for (int k = 0; k <= p->n_passes; k++) {
        if (k > 0 && fn(ctx, k, env, d) != 0) {
            goto done;
        }
        for (int i = 0; i < p->stages[k].n_nodes; i++) {
            eval_node(&x, p->stages[k].nodes[i]);
        }
    }
    write_outputs(&x, out);
    rc = 0;
done:
    free(x.tmp);
    return rc;
}
