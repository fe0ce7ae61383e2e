/*
 * interp.c: the reference interpreter, `alc_backend_interp` (backend.h):
 * the oracle every other backend is compared with. It evaluates the
 * compacted IR naively, in double precision and in one thread: nodes in
 * topological order; layer- and model-level values memoised per unit in a
 * node-major table; every reduction over elements re-evaluates the
 * element-level subexpression at each element of each unit (matrices in
 * order, row-major) into a buffer and reduces it. Map semantics are the
 * op table's C functions (ops.c); reductions and rank are defined here.
 *
 * Memory: 8 bytes per weight of the largest unit (the element buffer)
 * plus the node table. Speed is not a goal.
 */
#include <math.h>
#include <stdlib.h>

#include "backend.h"
#include "interp.h"

/* ---- Reductions ---- */

/* Neumaier-compensated sum; a non-finite running sum is returned as is. */
static double sum_comp(const double *x, size_t n)
{
    double s = 0.0, c = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = s + x[i];
        if (fabs(s) >= fabs(x[i])) {
            c += (s - t) + x[i];
        } else {
            c += (x[i] - t) + s;
        }
        s = t;
    }
    return isfinite(s) ? s + c : s;
}

/* Sum of f(x[i]) through the buffer's own storage, chunk by chunk. */
static double sum_map(const double *x, size_t n, double (*f)(double, double),
                      double arg)
{
    double chunk[256];
    double s = 0.0, c = 0.0;
    size_t i = 0;
    while (i < n) {
        size_t k = n - i < 256 ? n - i : 256;
        for (size_t j = 0; j < k; j++) {
            chunk[j] = f(x[i + j], arg);
        }
        /* compensated across chunks too */
        for (size_t j = 0; j < k; j++) {
            double t = s + chunk[j];
            if (fabs(s) >= fabs(chunk[j])) {
                c += (s - t) + chunk[j];
            } else {
                c += (chunk[j] - t) + s;
            }
            s = t;
        }
        i += k;
    }
    return isfinite(s) ? s + c : s;
}

static double f_sqdev(double x, double m) { return (x - m) * (x - m); }
static double f_abs(double x, double m) { (void)m; return fabs(x); }
static double f_sq(double x, double m) { (void)m; return x * x; }
static double f_log(double x, double m) { (void)m; return log(x); }

static double red_minmax(const double *x, size_t n, int want_max)
{
    double r = x[0];
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            return NAN;
        }
        if (want_max ? x[i] > r : x[i] < r) {
            r = x[i];
        }
    }
    return r;
}

static double red_var(const double *x, size_t n)
{
    if (n < 2) {
        return NAN;
    }
    double m = sum_comp(x, n) / (double)n;
    return sum_map(x, n, f_sqdev, m) / (double)(n - 1);
}

/* DSA's entropy: the x >= 0 (NaN dropped) as a distribution. */
static double red_entropy(const double *x, size_t n)
{
    double s = 0.0, c = 0.0, h = 0.0, hc = 0.0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] >= 0.0) {
            double t = s + x[i];
            c += fabs(s) >= x[i] ? (s - t) + x[i] : (x[i] - t) + s;
            s = t;
            k++;
        }
    }
    s = isfinite(s) ? s + c : s;
    if (k == 0 || !(s > 0.0) || isinf(s)) {
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        if (x[i] >= 0.0) {
            double p = x[i] / s;
            double term = p > 0.0 ? -p * log(p) : 0.0;
            double t = h + term;
            hc += fabs(h) >= fabs(term) ? (h - t) + term : (term - t) + h;
            h = t;
        }
    }
    return isfinite(h) ? h + hc : h;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* torch.quantile(x, q, interpolation='linear'), lerp as ATen's. */
static double red_quantile(double *x, size_t n, double q)
{
    if (isnan(q) || q < 0.0 || q > 1.0) {
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            return NAN;
        }
    }
    qsort(x, n, sizeof *x, cmp_double);
    double rank = q * (double)(n - 1);
    size_t lo = (size_t)floor(rank);
    size_t hi = (size_t)ceil(rank);
    double w = rank - (double)lo;
    double a = x[lo], b = x[hi];
    return fabs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1.0 - w);
}

double alc_interp_reduce(enum alc_op op, double *x, size_t n, double q)
{
    size_t cnt = 0;
    if (n == 0) {
        return NAN;
    }
    switch (op) {
    case ALC_OP_MEAN:
        return sum_comp(x, n) / (double)n;
    case ALC_OP_VAR:
        return red_var(x, n);
    case ALC_OP_STD:
        return sqrt(red_var(x, n));
    case ALC_OP_SUM:
        return sum_comp(x, n);
    case ALC_OP_MIN:
        return red_minmax(x, n, 0);
    case ALC_OP_MAX:
        return red_minmax(x, n, 1);
    case ALC_OP_L1:
        return sum_map(x, n, f_abs, 0.0);
    case ALC_OP_L2:
        return sqrt(sum_map(x, n, f_sq, 0.0));
    case ALC_OP_MEANABS:
        return sum_map(x, n, f_abs, 0.0) / (double)n;
    case ALC_OP_GEOMEAN:
        return exp(sum_map(x, n, f_log, 0.0) / (double)n);
    case ALC_OP_ENTROPY:
        return red_entropy(x, n);
    case ALC_OP_CNT:
        for (size_t i = 0; i < n; i++) {
            cnt += x[i] != 0.0 && !isnan(x[i]);
        }
        return (double)cnt;
    case ALC_OP_QUANTILE:
        return red_quantile(x, n, q);
    default:
        return NAN;
    }
}

/* ---- rank ---- */

struct ranked {
    double v;
    int u;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->v != y->v) {
        return x->v < y->v ? -1 : 1;
    }
    return (x->u > y->u) - (x->u < y->u);
}

void alc_interp_rank(const double *x, int n, double *out)
{
    struct ranked *r = malloc(((size_t)n + 1) * sizeof *r);
    int k = 0;
    for (int u = 0; u < n; u++) {
        out[u] = NAN;
        if (r != NULL && !isnan(x[u])) {
            r[k].v = x[u];
            r[k].u = u;
            k++;
        }
    }
    if (r == NULL) {
        return;
    }
    qsort(r, (size_t)k, sizeof *r, cmp_ranked);
    for (int i = 0; i < k;) {
        int j = i + 1;
        while (j < k && r[j].v == r[i].v) {
            j++;
        }
        double avg = 0.5 * (double)(i + j - 1); /* mean of ranks i..j-1 */
        for (int t = i; t < j; t++) {
            out[r[t].u] = avg;
        }
        i = j;
    }
    free(r);
}

/* ---- Element evaluation ---- */

double alc_interp_weight(const struct alc_mat_view *m, int64_t i)
{
    const unsigned char *w = m->w;
    uint16_t h = 0;
    float f = 0.0f;
    switch (m->dtype) {
    case ALC_DT_F32:
        memcpy(&f, w + 4 * i, 4);
        return (double)f;
    case ALC_DT_F16:
        memcpy(&h, w + 2 * i, 2);
        return (double)alc_f16_to_f32(h);
    case ALC_DT_BF16:
        memcpy(&h, w + 2 * i, 2);
        return (double)alc_bf16_to_f32(h);
    default:
        return NAN;
    }
}

static double elem_input(const struct alc_mat_view *m, int in, int64_t r,
                         int64_t c)
{
    switch (in) {
    case ALC_IN_WANDA:
        return fabs(alc_interp_weight(m, r * m->cols + c)) *
               (double)m->act[c];
    case ALC_IN_WEIGHT:
        return alc_interp_weight(m, r * m->cols + c);
    case ALC_IN_ACT:
        return (double)m->act[c];
    case ALC_IN_ROWS:
        return (double)m->rows;
    case ALC_IN_COLS:
        return (double)m->cols;
    default:
        return NAN;
    }
}

static double apply_map(const struct alc_ir_node *n, const double *a)
{
    const struct alc_op_info *o = &alc_op_table[n->op];
    if (o->map1 != NULL) {
        return o->map1(a[0]);
    }
    if (o->map2 != NULL) {
        return o->map2(a[0], a[1]);
    }
    if (o->map3 != NULL) {
        return o->map3(a[0], a[1], a[2]);
    }
    return NAN;
}

/* Element-level nodes root depends on, in increasing order. */
static int *elem_cone(const struct alc_ir *ir, int root, int *n_out)
{
    unsigned char *mark = calloc((size_t)ir->n_nodes + 1, 1);
    int *cone = malloc(((size_t)ir->n_nodes + 1) * sizeof *cone);
    int n = 0;
    if (mark == NULL || cone == NULL) {
        free(mark);
        free(cone);
        return NULL;
    }
    mark[root] = 1;
    for (int i = root; i >= 0; i--) {
        const struct alc_ir_node *nd = &ir->nodes[i];
        if (!mark[i] || nd->level != ALC_LV_ELEM) {
            continue;
        }
        for (int a = 0; a < nd->nargs; a++) {
            mark[nd->arg[a]] = 1;
        }
    }
    for (int i = 0; i <= root; i++) {
        if (mark[i] && ir->nodes[i].level == ALC_LV_ELEM) {
            cone[n++] = i;
        }
    }
    free(mark);
    *n_out = n;
    return cone;
}

int alc_interp_elements(const struct alc_ir *ir, const double *val,
                        int n_units, const struct alc_units *units, int u,
                        int root,
                        int (*visit)(void *ctx, const double *ev, int mat,
                                     int64_t row, int64_t col),
                        void *ctx)
{
    int n_cone = 0, rc = 0;
    int *cone = elem_cone(ir, root, &n_cone);
    double *ev = malloc(((size_t)ir->n_nodes + 1) * sizeof *ev);
    const struct alc_unit_view *uv = &units->units[u];
    if (cone == NULL || ev == NULL) {
        free(cone);
        free(ev);
        return -1;
    }
    for (int m = 0; m < uv->n_mats && rc == 0; m++) {
        const struct alc_mat_view *mv = &uv->mats[m];
        for (int64_t r = 0; r < mv->rows && rc == 0; r++) {
            for (int64_t c = 0; c < mv->cols && rc == 0; c++) {
                for (int k = 0; k < n_cone; k++) {
                    const struct alc_ir_node *nd = &ir->nodes[cone[k]];
                    double a[3] = {0, 0, 0};
                    if (nd->op == ALC_OP_INPUT) {
                        ev[cone[k]] = elem_input(mv, nd->u.input, r, c);
                        continue;
                    }
                    for (int j = 0; j < nd->nargs; j++) {
                        int x = nd->arg[j];
                        a[j] = ir->nodes[x].level == ALC_LV_ELEM
                                   ? ev[x]
                                   : val[(size_t)x * (size_t)n_units +
                                         (size_t)u];
                    }
                    ev[cone[k]] = apply_map(nd, a);
                }
                rc = visit(ctx, ev, m, r, c) != 0 ? 1 : 0;
            }
        }
    }
    free(cone);
    free(ev);
    return rc;
}

/* ---- The backend ---- */

struct interp_state {
    int n_nodes; /* of the IR it was compiled from, for a sanity check */
};

static void *interp_compile(const struct alc_ir *ir, struct alc_diag *d)
{
    struct interp_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        alc_diag_errorf(d, "out of memory");
        return NULL;
    }
    s->n_nodes = ir->n_nodes;
    return s;
}

static void interp_release(void *state)
{
    free(state);
}

struct eval {
    const struct alc_ir *ir;
    const struct alc_units *units;
    const struct alc_eval_opts *opts;
    int U;
    double *val;   /* (n_nodes * U) node-major; element-level rows NaN */
    double *buf;   /* (max numel) element values of one unit */
    size_t n_buf;
};

static const char *unit_name(const struct alc_units *us, int u)
{
    return us->units[u].name ? us->units[u].name : "unnamed";
}

static const char *mat_name(const struct alc_mat_view *m)
{
    return m->name ? m->name : "unnamed";
}

/* Checks that the units can supply every input the program reads. */
static int check_units(const struct alc_ir *ir, const struct alc_units *us,
                       struct alc_diag *d)
{
    unsigned used = alc_ir_inputs_used(ir);
    int need_act = (used & ((1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT))) != 0;
    for (int u = 0; u < us->n_units; u++) {
        const struct alc_unit_view *uv = &us->units[u];
        for (int m = 0; m < uv->n_mats; m++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            const char *why = NULL;
            if (mv->rows <= 0 || mv->cols <= 0) {
                why = "has no elements";
            } else if (mv->w == NULL || (int)mv->dtype < 0 ||
                       mv->dtype >= ALC_DT_COUNT) {
                why = "has no weights or an unsupported dtype";
            } else if (need_act && mv->act == NULL) {
                why = "has no activation norms (the program reads `wanda` "
                      "or `act`: calibrate first)";
            } else if ((used & (1u << ALC_IN_ALPHA_PEAK)) &&
                       isnan(mv->alpha_peak)) {
                why = "has no alpha_peak (the runtime computes it when "
                      "alc_compiled_inputs asks for it)";
            } else if ((used & (1u << ALC_IN_ALPHA_HILL)) &&
                       isnan(mv->alpha_hill)) {
                why = "has no alpha_hill (the runtime computes it when "
                      "alc_compiled_inputs asks for it)";
            }
            if (why != NULL) {
                alc_diag_errorf(d, "unit %d (%s), matrix %d (%s) %s", u,
                                unit_name(us, u), m, mat_name(mv), why);
                return -1;
            }
        }
    }
    return 0;
}

static double layer_input(const struct eval *ev, int in, int u)
{
    const struct alc_unit_view *uv = &ev->units->units[u];
    double s = 0.0;
    switch (in) {
    case ALC_IN_LAYER:
        return (double)u;
    case ALC_IN_BLOCK:
        return (double)uv->block;
    case ALC_IN_NUMEL:
        for (int m = 0; m < uv->n_mats; m++) {
            s += (double)uv->mats[m].rows * (double)uv->mats[m].cols;
        }
        return s;
    case ALC_IN_ALPHA_PEAK:
    case ALC_IN_ALPHA_HILL:
        for (int m = 0; m < uv->n_mats; m++) {
            s += in == ALC_IN_ALPHA_PEAK ? uv->mats[m].alpha_peak
                                         : uv->mats[m].alpha_hill;
        }
        return s / (double)uv->n_mats;
    case ALC_IN_S:
        return ev->opts->S;
    case ALC_IN_L:
        return (double)ev->U;
    default:
        return NAN;
    }
}

struct fill {
    double *buf;
    size_t k;
    int root;
};

static int fill_visit(void *ctx, const double *v, int mat, int64_t row,
                      int64_t col)
{
    struct fill *f = ctx;
    (void)mat;
    (void)row;
    (void)col;
    f->buf[f->k++] = v[f->root];
    return 0;
}

/* A reduction of an element-level operand: one value per unit. */
static int reduce_elements(struct eval *ev, int i, struct alc_diag *d)
{
    const struct alc_ir_node *nd = &ev->ir->nodes[i];
    double q = nd->nargs > 1 ? ev->val[(size_t)nd->arg[1] * (size_t)ev->U]
                             : 0.0;
    for (int u = 0; u < ev->U; u++) {
        struct fill f = {ev->buf, 0, nd->arg[0]};
        if (alc_interp_elements(ev->ir, ev->val, ev->U, ev->units, u,
                                nd->arg[0], fill_visit, &f) != 0) {
            alc_diag_errorf(d, "out of memory evaluating the allocation");
            return -1;
        }
        ev->val[(size_t)i * (size_t)ev->U + (size_t)u] =
            alc_interp_reduce(nd->op, ev->buf, f.k, q);
    }
    return 0;
}

/* A reduction of a layer-level operand: one model value. */
static int reduce_units(struct eval *ev, int i, struct alc_diag *d)
{
    const struct alc_ir_node *nd = &ev->ir->nodes[i];
    size_t U = (size_t)ev->U;
    double *x = malloc(U * sizeof *x);
    if (x == NULL) {
        alc_diag_errorf(d, "out of memory evaluating the allocation");
        return -1;
    }
    memcpy(x, ev->val + (size_t)nd->arg[0] * U, U * sizeof *x);
    double q = nd->nargs > 1 ? ev->val[(size_t)nd->arg[1] * U] : 0.0;
    double r = alc_interp_reduce(nd->op, x, U, q);
    for (size_t u = 0; u < U; u++) {
        ev->val[(size_t)i * U + u] = r;
    }
    free(x);
    return 0;
}

static double param_value(const struct eval *ev, int k)
{
    if (ev->opts->params != NULL) {
        return ev->opts->params[k];
    }
    return ev->ir->params[k].value;
}

/* Evaluates layer/model node i for every unit. */
static int eval_node(struct eval *ev, int i, struct alc_diag *d)
{
    const struct alc_ir_node *nd = &ev->ir->nodes[i];
    size_t U = (size_t)ev->U;
    double *out = ev->val + (size_t)i * U;
    if (nd->level == ALC_LV_ELEM) {
        return 0; /* evaluated inside the reductions that read it */
    }
    switch (alc_op_table[nd->op].kind) {
    case ALC_OPK_LEAF:
        for (size_t u = 0; u < U; u++) {
            out[u] = nd->op == ALC_OP_CONST   ? nd->u.k
                     : nd->op == ALC_OP_PARAM ? param_value(ev, nd->u.param)
                                              : layer_input(ev, nd->u.input,
                                                            (int)u);
        }
        return 0;
    case ALC_OPK_MAP:
        for (size_t u = 0; u < U; u++) {
            double a[3] = {0, 0, 0};
            for (int j = 0; j < nd->nargs; j++) {
                a[j] = ev->val[(size_t)nd->arg[j] * U + u];
            }
            out[u] = apply_map(nd, a);
        }
        return 0;
    case ALC_OPK_REDUCE:
        if (ev->ir->nodes[nd->arg[0]].level == ALC_LV_ELEM) {
            return reduce_elements(ev, i, d);
        }
        return reduce_units(ev, i, d);
    case ALC_OPK_ACROSS:
        alc_interp_rank(ev->val + (size_t)nd->arg[0] * U, ev->U, out);
        return 0;
    default:
        alc_diag_errorf(d, "internal error: op %d in the interpreter",
                        (int)nd->op);
        return -1;
    }
}

static size_t max_numel(const struct alc_units *us)
{
    size_t best = 0;
    for (int u = 0; u < us->n_units; u++) {
        size_t n = 0;
        for (int m = 0; m < us->units[u].n_mats; m++) {
            n += (size_t)us->units[u].mats[m].rows *
                 (size_t)us->units[u].mats[m].cols;
        }
        best = n > best ? n : best;
    }
    return best;
}

static int interp_evaluate(void *state, const struct alc_ir *ir,
                           const struct alc_units *units,
                           const struct alc_eval_opts *opts,
                           struct alc_eval_out *out, struct alc_diag *d)
{
    struct interp_state *s = state;
    struct eval ev;
    int rc = -1;
    memset(&ev, 0, sizeof ev);
    if (s->n_nodes != ir->n_nodes || ir->sparsity < 0) {
        alc_diag_errorf(d, "internal error: IR does not match its "
                           "compiled state");
        return -1;
    }
    if (check_units(ir, units, d) != 0) {
        return -1;
    }
    ev.ir = ir;
    ev.units = units;
    ev.opts = opts;
    ev.U = units->n_units;
    size_t U = (size_t)ev.U;
    ev.val = malloc(((size_t)ir->n_nodes * U + 1) * sizeof *ev.val);
    ev.n_buf = max_numel(units);
    ev.buf = malloc((ev.n_buf + 1) * sizeof *ev.buf);
    if (ev.val == NULL || ev.buf == NULL) {
        alc_diag_errorf(d, "out of memory: the interpreter needs 8 bytes per "
                           "weight of the largest unit (%zu weights)",
                        ev.n_buf);
        goto done;
    }
    for (size_t k = 0; k < (size_t)ir->n_nodes * U; k++) {
        ev.val[k] = NAN;
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        if (eval_node(&ev, i, d) != 0) {
            goto done;
        }
    }
    for (size_t u = 0; u < U; u++) {
        out->sparsity[u] = ev.val[(size_t)ir->sparsity * U + u];
        if (out->score != NULL) {
            out->score[u] = ir->score >= 0
                                ? ev.val[(size_t)ir->score * U + u]
                                : NAN;
        }
    }
    if (out->nodes != NULL) {
        memcpy(out->nodes, ev.val, (size_t)ir->n_nodes * U * sizeof *ev.val);
    }
    rc = 0;
done:
    free(ev.val);
    free(ev.buf);
    return rc;
}

const struct alc_backend_ops alc_backend_interp = {
    .name = "interp",
    .compile = interp_compile,
    .evaluate = interp_evaluate,
    .release = interp_release,
};
