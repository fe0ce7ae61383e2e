/*
 * unit_fixture.h: random allocation units for the backend tests (weights in
 * F32/F16/BF16 with zeros, negatives, NaN, Inf and subnormals; activation
 * norms), and a naive reference evaluation of an IR that materialises every
 * element-level node of a unit and applies the definitions of ops.c
 * directly -- an oracle independent of the plan, the chunking and the
 * generated code (the front end's interpreter is the other one).
 */
#ifndef ALC_UNIT_FIXTURE_H
#define ALC_UNIT_FIXTURE_H

#include "alc_test.h"
#include "alloc.h"
#include "ir.h"

/* ---- Units ---- */

struct fx_units {
    struct alc_units units;
    struct alc_unit_view *uv;  /* (n_units) */
    struct alc_mat_view *mv;   /* (n_mats) all matrices */
    void **w;                  /* (n_mats) owned weight buffers */
    float **act;               /* (n_mats) owned act vectors */
    int n_mats;
};

/* Special values mixed into the data with probability p_special each. */
static inline float fx_special(struct alc_rng *r)
{
    static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN,
                               1e-40f, -3e-39f, 65504.0f, 1.0f, -1.0f};
    return sp[alc_rng_below(r, sizeof sp / sizeof sp[0])];
}

static inline float fx_value(struct alc_rng *r, double p_special,
                             double scale)
{
    if (alc_rng_double(r) < p_special) {
        return fx_special(r);
    }
    return (float)(alc_rng_normal(r) * scale);
}

/*
 * n_units units; unit u has mats_per_unit matrices of random shapes
 * (rows in [1, max_rows], cols in [1, max_cols]), dtype dt (or a random
 * dtype per matrix when dt < 0). act values are positive except for
 * specials when p_special > 0.
 */
static inline void fx_units_make(struct fx_units *f, struct alc_rng *r,
                                 int n_units, int mats_per_unit,
                                 int max_rows, int max_cols, int dt,
                                 double p_special)
{
    memset(f, 0, sizeof *f);
    f->n_mats = n_units * mats_per_unit;
    f->uv = calloc((size_t)n_units, sizeof *f->uv);
    f->mv = calloc((size_t)f->n_mats, sizeof *f->mv);
    f->w = calloc((size_t)f->n_mats, sizeof *f->w);
    f->act = calloc((size_t)f->n_mats, sizeof *f->act);
    for (int m = 0; m < f->n_mats; m++) {
        struct alc_mat_view *mv = &f->mv[m];
        int64_t rows = 1 + (int64_t)alc_rng_below(r, (uint64_t)max_rows);
        int64_t cols = 1 + (int64_t)alc_rng_below(r, (uint64_t)max_cols);
        enum alc_dtype d =
            dt >= 0 ? (enum alc_dtype)dt
                    : (enum alc_dtype)alc_rng_below(r, ALC_DT_COUNT);
        size_t n = (size_t)(rows * cols);
        float *tmp = malloc((n + 1) * sizeof *tmp);
        double scale = exp(4.0 * (alc_rng_double(r) - 0.5)); /* per matrix */
        for (size_t i = 0; i < n; i++) {
            tmp[i] = fx_value(r, p_special, scale);
        }
        f->w[m] = malloc((n + 1) * (size_t)alc_dtype_table[d].size);
        alc_from_f32(f->w[m], tmp, d, n);
        free(tmp);
        f->act[m] = malloc(((size_t)cols + 1) * sizeof(float));
        for (int64_t c = 0; c < cols; c++) {
            f->act[m][c] = alc_rng_double(r) < p_special
                               ? fx_special(r)
                               : (float)(0.1 + 3.0 * alc_rng_double(r));
        }
        *mv = (struct alc_mat_view){f->w[m], d, rows, cols, f->act[m],
                                    alc_rng_double(r) * 4.0 + 1.0,
                                    alc_rng_double(r) * 4.0 + 1.0, NULL};
    }
    for (int u = 0; u < n_units; u++) {
        f->uv[u].mats = &f->mv[u * mats_per_unit];
        f->uv[u].n_mats = mats_per_unit;
        f->uv[u].block = u / 2;
    }
    f->units.units = f->uv;
    f->units.n_units = n_units;
}

static inline void fx_units_free(struct fx_units *f)
{
    for (int m = 0; m < f->n_mats; m++) {
        free(f->w[m]);
        free(f->act[m]);
    }
    free(f->w);
    free(f->act);
    free(f->uv);
    free(f->mv);
    memset(f, 0, sizeof *f);
}

/* The exact double value of weight i of a matrix. */
static inline double fx_weight(const struct alc_mat_view *m, int64_t i)
{
    const uint16_t *h = m->w;
    switch (m->dtype) {
    case ALC_DT_F32:
        return (double)((const float *)m->w)[i];
    case ALC_DT_F16:
        return (double)alc_f16_to_f32(h[i]);
    default:
        return (double)alc_bf16_to_f32(h[i]);
    }
}

/* ---- Reference evaluation ---- */

static inline uint64_t fx_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* IEEE 754-2019 minimum / maximum (order-independent on +-0). */
static inline double fx_min(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    if (a == b) {
        uint64_t u = fx_bits(a) | fx_bits(b);
        double r;
        memcpy(&r, &u, sizeof r);
        return r;
    }
    return a < b ? a : b;
}

static inline double fx_max(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    if (a == b) {
        uint64_t u = fx_bits(a) & fx_bits(b);
        double r;
        memcpy(&r, &u, sizeof r);
        return r;
    }
    return a > b ? a : b;
}

static inline int fx_cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A reduction of n values by the definitions in ops.c, in long double
 * where a sum is involved (so the oracle is more accurate than either
 * backend). */
static inline double fx_reduce(enum alc_op op, const double *x, int64_t n,
                               double q)
{
    long double s = 0, s2 = 0;
    double m;
    int64_t cnt = 0;
    switch (op) {
    case ALC_OP_SUM:
    case ALC_OP_MEAN:
        for (int64_t i = 0; i < n; i++) {
            s += x[i];
        }
        return op == ALC_OP_SUM ? (double)s : (double)(s / n);
    case ALC_OP_VAR:
    case ALC_OP_STD:
        if (n < 2) {
            return NAN;
        }
        for (int64_t i = 0; i < n; i++) {
            s += x[i];
        }
        s /= n;
        for (int64_t i = 0; i < n; i++) {
            s2 += (x[i] - s) * (x[i] - s);
        }
        m = (double)(s2 / (n - 1));
        return op == ALC_OP_VAR ? m : sqrt(m);
    case ALC_OP_MIN:
    case ALC_OP_MAX:
        m = op == ALC_OP_MIN ? INFINITY : -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            m = op == ALC_OP_MIN ? fx_min(m, x[i]) : fx_max(m, x[i]);
        }
        return m;
    case ALC_OP_L1:
    case ALC_OP_MEANABS:
        for (int64_t i = 0; i < n; i++) {
            s += fabs(x[i]);
        }
        return op == ALC_OP_L1 ? (double)s : (double)(s / n);
    case ALC_OP_L2:
        for (int64_t i = 0; i < n; i++) {
            s += (long double)x[i] * x[i];
        }
        return sqrt((double)s);
    case ALC_OP_GEOMEAN:
        for (int64_t i = 0; i < n; i++) {
            s += log(x[i]);
        }
        return exp((double)(s / n));
    case ALC_OP_ENTROPY:
        for (int64_t i = 0; i < n; i++) {
            if (x[i] >= 0) {
                s += x[i];
                cnt++;
            }
        }
        if (cnt == 0 || s == 0) {
            return NAN;
        }
        for (int64_t i = 0; i < n; i++) {
            long double p = x[i] / s;
            if (x[i] >= 0 && p != 0) {
                s2 -= p * logl(p);
            }
        }
        return (double)s2;
    case ALC_OP_CNT:
        for (int64_t i = 0; i < n; i++) {
            cnt += x[i] != 0 && !isnan(x[i]);
        }
        return (double)cnt;
    case ALC_OP_QUANTILE: {
        if (n == 0 || !(q >= 0 && q <= 1)) {
            return NAN;
        }
        double *v = malloc((size_t)n * sizeof *v);
        for (int64_t i = 0; i < n; i++) {
            if (isnan(x[i])) {
                free(v);
                return NAN;
            }
            v[i] = x[i];
        }
        qsort(v, (size_t)n, sizeof *v, fx_cmpd);
        double pos = q * (double)(n - 1), w;
        int64_t lo = (int64_t)floor(pos), hi = (int64_t)ceil(pos);
        w = pos - (double)lo;
        m = w < 0.5 ? v[lo] + w * (v[hi] - v[lo])
                    : v[hi] - (v[hi] - v[lo]) * (1.0 - w);
        free(v);
        return m;
    }
    default:
        return NAN;
    }
}

static inline double fx_layer_input(const struct alc_units *U, int u, int in,
                                    double S)
{
    const struct alc_unit_view *uv = &U->units[u];
    double s = 0;
    int64_t n = 0;
    switch (in) {
    case ALC_IN_LAYER:
        return u;
    case ALC_IN_BLOCK:
        return uv->block;
    case ALC_IN_NUMEL:
        for (int m = 0; m < uv->n_mats; m++) {
            n += uv->mats[m].rows * uv->mats[m].cols;
        }
        return (double)n;
    case ALC_IN_ALPHA_PEAK:
    case ALC_IN_ALPHA_HILL:
        for (int m = 0; m < uv->n_mats; m++) {
            s += in == ALC_IN_ALPHA_PEAK ? uv->mats[m].alpha_peak
                                         : uv->mats[m].alpha_hill;
        }
        return s / uv->n_mats;
    case ALC_IN_S:
        return S;
    case ALC_IN_L:
        return U->n_units;
    default:
        return NAN;
    }
}

static inline double fx_elem_input(const struct alc_mat_view *m, int64_t r,
                                   int64_t c, int in)
{
    switch (in) {
    case ALC_IN_WANDA:
        return fabs(fx_weight(m, r * m->cols + c)) * (double)m->act[c];
    case ALC_IN_WEIGHT:
        return fx_weight(m, r * m->cols + c);
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

static inline double fx_map(const struct alc_ir_node *n, const double *a)
{
    const struct alc_op_info *o = &alc_op_table[n->op];
    if (o->map1) {
        return o->map1(a[0]);
    }
    if (o->map2) {
        return o->map2(a[0], a[1]);
    }
    return o->map3(a[0], a[1], a[2]);
}

/*
 * Evaluates ir (every node, reachable or not) over U. nodes_out is
 * (n_nodes * n_units), node-major, element-level nodes NaN, like
 * alc_eval_out.nodes. params NULL: the IR's defaults.
 */
static inline void fx_ref_eval(const struct alc_ir *ir,
                               const struct alc_units *U, double S,
                               const double *params, double *nodes_out)
{
    int L = U->n_units, N = ir->n_nodes;
    double **el = calloc((size_t)N * (size_t)L, sizeof *el);
    double *lv = nodes_out;
    double *tmp = malloc(2 * (size_t)L * sizeof *tmp);
    for (int i = 0; i < N; i++) {
        const struct alc_ir_node *n = &ir->nodes[i];
        for (int u = 0; u < L; u++) {
            const struct alc_unit_view *uv = &U->units[u];
            int64_t numel = (int64_t)fx_layer_input(U, u, ALC_IN_NUMEL, S);
            double a[3];
            lv[(size_t)i * L + u] = NAN;
            if (n->level == ALC_LV_ELEM) {
                double *v = malloc(((size_t)numel + 1) * sizeof *v);
                int64_t e = 0;
                for (int m = 0; m < uv->n_mats; m++) {
                    const struct alc_mat_view *mv = &uv->mats[m];
                    for (int64_t r = 0; r < mv->rows; r++) {
                        for (int64_t c = 0; c < mv->cols; c++, e++) {
                            if (n->op == ALC_OP_INPUT) {
                                v[e] = fx_elem_input(mv, r, c, n->u.input);
                                continue;
                            }
                            for (int k = 0; k < n->nargs; k++) {
                                int x = n->arg[k];
                                a[k] = ir->nodes[x].level == ALC_LV_ELEM
                                           ? el[(size_t)x * L + u][e]
                                           : lv[(size_t)x * L + u];
                            }
                            v[e] = fx_map(n, a);
                        }
                    }
                }
                el[(size_t)i * L + u] = v;
                continue;
            }
            if (alc_op_table[n->op].kind == ALC_OPK_REDUCE &&
                ir->nodes[n->arg[0]].level == ALC_LV_ELEM) {
                double q = n->nargs > 1 ? lv[(size_t)n->arg[1] * L + u] : 0;
                lv[(size_t)i * L + u] =
                    fx_reduce(n->op, el[(size_t)n->arg[0] * L + u], numel, q);
                continue;
            }
            switch (n->op) {
            case ALC_OP_CONST:
                lv[(size_t)i * L + u] = n->u.k;
                break;
            case ALC_OP_PARAM:
                lv[(size_t)i * L + u] = params ? params[n->u.param]
                                               : ir->params[n->u.param].value;
                break;
            case ALC_OP_INPUT:
                lv[(size_t)i * L + u] = fx_layer_input(U, u, n->u.input, S);
                break;
            default:
                if (alc_op_table[n->op].kind == ALC_OPK_MAP) {
                    for (int k = 0; k < n->nargs; k++) {
                        a[k] = lv[(size_t)n->arg[k] * L + u];
                    }
                    lv[(size_t)i * L + u] = fx_map(n, a);
                }
                break;
            }
        }
        /* across units: layer -> model reductions and rank */
        if (n->level != ALC_LV_ELEM &&
            (n->op == ALC_OP_RANK ||
             (alc_op_table[n->op].kind == ALC_OPK_REDUCE &&
              ir->nodes[n->arg[0]].level == ALC_LV_LAYER))) {
            for (int u = 0; u < L; u++) {
                tmp[u] = lv[(size_t)n->arg[0] * L + u];
            }
            for (int u = 0; u < L; u++) {
                if (n->op == ALC_OP_RANK) {
                    int below = 0, eq = 0;
                    for (int v = 0; v < L; v++) {
                        below += tmp[v] < tmp[u];
                        eq += tmp[v] == tmp[u];
                    }
                    lv[(size_t)i * L + u] =
                        isnan(tmp[u]) ? NAN : below + 0.5 * (eq - 1);
                } else {
                    double q = n->nargs > 1 ? lv[(size_t)n->arg[1] * L] : 0;
                    lv[(size_t)i * L + u] = fx_reduce(n->op, tmp, L, q);
                }
            }
        }
    }
    for (size_t i = 0; i < (size_t)N * (size_t)L; i++) {
        free(el[i]);
    }
    free(el);
    free(tmp);
}

#endif /* ALC_UNIT_FIXTURE_H */
