/*
 * unit_fixture.h: random allocation units for the backend tests (weights in
 * F32/F16/BF16 with zeros, negatives, NaN, Inf and subnormals; activation
 * norms) and the reference evaluation through the interpreter
 * (alc_backend_interp, the oracle every backend is compared with).
 */
#ifndef ALC_UNIT_FIXTURE_H
#define ALC_UNIT_FIXTURE_H

#include "alc_test.h"
#include "alloc.h"
#include "backend.h"
#include "ir.h"

/* ---- Units ---- */

struct fx_units {
    struct alc_units units;
    struct alc_unit_view *uv; /* (n_units) */
    struct alc_mat_view *mv;  /* (n_mats) all matrices */
    void **w;                 /* (n_mats) owned weight buffers */
    float **act;              /* (n_mats) owned act vectors */
    int n_mats;
};

/* Special values mixed into the data with probability p_special each. */
static inline float fx_special(struct alc_rng *r)
{
    static const float sp[] = {0.0f,   -0.0f,   INFINITY, -INFINITY, NAN,
                               1e-40f, -3e-39f, 65504.0f, 1.0f,      -1.0f};
    return sp[alc_rng_below(r, sizeof sp / sizeof sp[0])];
}

static inline float fx_value(struct alc_rng *r, double p_special, double scale)
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
                                 int n_units, int mats_per_unit, int max_rows,
                                 int max_cols, int dt, double p_special)
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
        enum alc_dtype d = dt >= 0
                               ? (enum alc_dtype)dt
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
        *mv = (struct alc_mat_view){f->w[m],
                                    d,
                                    rows,
                                    cols,
                                    f->act[m],
                                    alc_rng_double(r) * 4.0 + 1.0,
                                    alc_rng_double(r) * 4.0 + 1.0,
                                    NULL};
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

/*
 * Evaluates ir (compacted) over U with the reference interpreter
 * (alc_backend_interp). nodes_out is (n_nodes * n_units), node-major, as
 * alc_eval_out.nodes. Fails the test on an evaluation error.
 */
static inline void fx_interp_eval(const struct alc_ir *ir,
                                  const struct alc_units *U, double S,
                                  const double *params, double *sparsity,
                                  double *nodes_out)
{
    struct alc_diag d;
    struct alc_eval_opts o = {.S = S, .params = params, .n_threads = 1};
    struct alc_eval_out out = {.sparsity = sparsity, .nodes = nodes_out};
    alc_diag_init(&d);
    void *st = alc_backend_interp.compile(ir, &d);
    if (st == NULL ||
        alc_backend_interp.evaluate(st, ir, U, &o, &out, &d) != 0) {
        fail_msg("interpreter: %s", alc_diag_text(&d));
    }
    alc_backend_interp.release(st);
    alc_diag_free(&d);
}

#endif /* ALC_UNIT_FIXTURE_H */
