/*
 * sparsegpt.c: SparseGPT's fasterprune (IST-DASLab/sparsegpt, sparsegpt.py;
 * methods.md §5) on one f32 matrix in place, called by alc_prune.
 *
 *   1. dead inputs: diag(H) == 0 -> H[j][j] = 1 and W[:, j] = 0;
 *   2. H += percdamp * mean(diag H) * I;
 *   3. Hinv = U, the upper Cholesky factor of H^-1 (H^-1 = U^T U), in
 *      float32 like the reference (see factorize() for how);
 *   4. for each block of `blocksize` columns [i1, i2): the mask from
 *      w^2 / diag(Hinv1)^2 over the whole rows x block (threshold
 *      sorted[int(numel*s)], `<=`), or N:M per row at each column
 *      i % m == 0; then per column the OBS update of the block's remaining
 *      columns, and after the block W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:].
 *
 * Float32 rather than double for the factorization: it is the reference's
 * arithmetic (our weights match its to ~1e-7 relative), H stays cols^2
 * floats, and the damping keeps H well enough conditioned for float32; when
 * a factorization still fails, factorize() documents the fallback.
 *
 * Rows are independent within a block (a row's mask, OBS updates and N:M
 * choices read only that row), so each block runs as tasks of 64 rows: the
 * OBS loop of each row, then that chunk's share of the lazy update as one
 * single-threaded sgemm. Chunks and tiles have fixed sizes, so the result
 * is the same for every thread count (linalg.h explains why OpenBLAS's own
 * threads are not used).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "linalg.h"
#include "prune.h"
#include "prune_impl.h"

/* ---- Hessian preparation ---- */

/* Dead inputs (step 1): returns how many; zeroes their columns of W. */
static int64_t mark_dead(float *W, int64_t rows, int64_t cols, float *H)
{
    int64_t dead = 0;
    for (int64_t j = 0; j < cols; j++) {
        if (H[j * cols + j] != 0.0f) {
            continue;
        }
        H[j * cols + j] = 1.0f;
        for (int64_t r = 0; r < rows; r++) {
            W[r * cols + j] = 0.0f;
        }
        dead++;
    }
    return dead;
}

/*
 * Copies the upper triangle into the strict lower one (a blocked
 * transpose): makes H fully symmetric, and restores a lower triangle that
 * a failed factorization left behind from its untouched upper copy.
 */
static void mirror_upper(float *H, int64_t n)
{
    const int64_t B = 64;
    for (int64_t i0 = 0; i0 < n; i0 += B) {
        for (int64_t j0 = 0; j0 <= i0; j0 += B) {
            for (int64_t i = i0; i < i0 + B && i < n; i++) {
                for (int64_t j = j0; j < j0 + B && j < i; j++) {
                    H[i * n + j] = H[j * n + i];
                }
            }
        }
    }
}

/* A -> J A J (J the reversal permutation): the flat array reversed. */
static void reverse(float *A, int64_t n)
{
    for (int64_t i = 0, k = n * n - 1; i < k; i++, k--) {
        float t = A[i];
        A[i] = A[k];
        A[k] = t;
    }
}

/* The identity fallback: the lower triangle (reversed later) = I. */
static void set_identity_lower(float *A, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        memset(A + i * n, 0, (size_t)i * sizeof *A);
        A[i * n + i] = 1.0f;
    }
}

/* One attempt at step 3 with damping rel: Cholesky of J H J (lower). */
static int64_t try_damping(float *A, int64_t n, const float *diag0, double rel,
                           double mean, int restore, struct alc_pool *pool)
{
    if (restore) {
        mirror_upper(A, n);
    }
    float damp = (float)(rel * mean); /* the reference's float32 scalar */
    for (int64_t i = 0; i < n; i++) {
        A[i * n + i] = diag0[i] + damp;
    }
    return alc_la_potrf_lower(A, n, pool);
}

/*
 * Steps 2-3. The reference computes L = chol(H), H^-1 = cholesky_inverse(L)
 * and U = chol(H^-1, upper). We get the same U (the upper Cholesky factor
 * with a positive diagonal is unique) in 2/3 of the flops and without
 * forming H^-1: with J the reversal, chol(J H J) = L' gives H = V V^T with
 * V = J L' J upper, so H^-1 = V^-T V^-1 = U^T U with U = V^-1 = J L'^-1 J.
 * Both kernels are tiled and deterministic (linalg.c); the results agree
 * with the reference's to float32 rounding (tests/test_prune.c).
 *
 * Fallback: attempt 0 uses percdamp; when the Cholesky fails (not positive
 * definite in float32: a rank-deficient or badly conditioned H), attempt
 * r = 1..max_retries restores H and uses max(percdamp, 0.01) * 10^r; when
 * every attempt fails, U = I, which turns SparseGPT into magnitude pruning
 * within each block with no weight update (llm-compressor's identity-
 * Hessian fallback, users.md §1.3H). Both cases are warnings, not errors.
 *
 * On return the upper triangle of H holds U.
 */
static int factorize(float *H, int64_t n, const struct alc_prune_opts *o,
                     struct alc_prune_result *res, struct alc_diag *d)
{
    float *diag0 = malloc((size_t)n * sizeof *diag0);
    double mean = 0.0;
    int64_t info = -1;
    if (diag0 == NULL) {
        alc_diag_errorf(d, "sparsegpt: out of memory");
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        mean += H[i * n + i];
    }
    mean /= (double)n;
    mirror_upper(H, n);
    reverse(H, n); /* now J H J; its upper triangle stays as the backup */
    for (int64_t i = 0; i < n; i++) {
        diag0[i] = H[i * n + i];
    }
    for (int r = 0; r <= o->max_retries && info != 0; r++) {
        double rel = o->percdamp > 0.01 ? o->percdamp : 0.01;
        rel = r == 0 ? o->percdamp : rel * pow(10.0, r);
        info = try_damping(H, n, diag0, rel, mean, r > 0, o->pool);
        res->damp = rel;
        if (info == 0 && r > 0) {
            res->fallback = ALC_FALLBACK_DAMP;
            alc_diag_warnf(d,
                           "sparsegpt: Cholesky failed with damping "
                           "%g; succeeded with %g x mean(diag H)",
                           o->percdamp, rel);
        }
    }
    free(diag0);
    if (info != 0) {
        set_identity_lower(H, n);
        res->fallback = ALC_FALLBACK_IDENTITY;
        alc_diag_warnf(d,
                       "sparsegpt: Cholesky failed with every damping "
                       "up to %g x mean(diag H); pruned with an identity "
                       "Hessian (magnitude within %d-column blocks, no "
                       "weight update)",
                       res->damp, o->blocksize);
    } else if (alc_la_trtri_lower(H, n, o->pool) != 0) {
        alc_diag_errorf(d, "sparsegpt: out of memory");
        return -1;
    }
    reverse(H, n); /* J L'^-1 J = U, upper */
    return 0;
}

/* ---- The block loop ---- */

enum { SGPT_ROWS = 64 }; /* rows per task: fixed, for determinism */

struct sgpt_job {
    float *W;       /* (rows, cols) */
    const float *U; /* (cols, cols) upper factor of H^-1, row-major */
    int64_t rows, cols;
    int64_t i1, cnt;   /* the current block [i1, i1 + cnt) */
    int bs;            /* blocksize: row stride of err and mask1 */
    int n, m;          /* N:M, or 0 */
    const float *dinv; /* (cnt) diag(Hinv1) */
    float *err;        /* (rows, bs) Err1 */
    uint8_t *mask1;    /* (rows, bs) 1 = pruned */
    double *loss;      /* (rows) sum of (w-q)^2/d^2 so far */
};

/* N:M at column c of one row: the n smallest w^2/d^2 of the next m. */
static void nm_pick(const float *w, const float *dinv, int m, int n,
                    uint8_t *mk)
{
    uint32_t keys[64];
    for (int l = 0; l < m; l++) {
        keys[l] = alc_prune_key((w[l] * w[l]) / (dinv[l] * dinv[l]));
    }
    alc_prune_nm_group(keys, m, n, mk);
}

/* One row through the block: q, err, OBS update of the later columns. */
static void obs_row(struct sgpt_job *j, int64_t r)
{
    float *w = j->W + r * j->cols + j->i1;
    float *e = j->err + r * j->bs;
    uint8_t *mk = j->mask1 + r * j->bs;
    double loss = 0.0;
    for (int64_t c = 0; c < j->cnt; c++) {
        if (j->n > 0 && c % j->m == 0) {
            nm_pick(w + c, j->dinv + c, j->m, j->n, mk + c);
        }
        float q = mk[c] ? 0.0f : w[c];
        float dd = j->dinv[c];
        float diff = w[c] - q;
        float err = diff / dd;
        loss += (double)((diff * diff) / (dd * dd));
        const float *u = j->U + (j->i1 + c) * j->cols + j->i1;
        for (int64_t l = c + 1; l < j->cnt; l++) {
            w[l] -= err * u[l];
        }
        w[c] = q; /* the reference writes Q1 back */
        e[c] = err;
    }
    j->loss[r] += loss;
}

/* Rows [r0, r1): OBS through the block, then W[r0:r1, i2:] -= Err1 @
 * Hinv[i1:i2, i2:] for those rows. */
static void obs_task(void *ctx, int64_t task, int worker)
{
    struct sgpt_job *j = ctx;
    int64_t r0 = task * SGPT_ROWS, r1 = r0 + SGPT_ROWS;
    int64_t i2 = j->i1 + j->cnt;
    (void)worker;
    r1 = r1 > j->rows ? j->rows : r1;
    for (int64_t r = r0; r < r1; r++) {
        obs_row(j, r);
    }
    if (i2 < j->cols) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0),
                    (int)(j->cols - i2), (int)j->cnt, -1.0f,
                    j->err + r0 * j->bs, j->bs, j->U + j->i1 * j->cols + i2,
                    (int)j->cols, 1.0f, j->W + r0 * j->cols + i2, (int)j->cols);
    }
}

/*
 * The unstructured mask of a block: w^2 / d^2 over rows x cnt flattened
 * row-major (torch's flatten order), threshold at int(numel * s).
 */
static void block_mask(struct sgpt_job *j, const struct alc_prune_opts *o,
                       uint32_t *keys, uint32_t *scratch, uint8_t *flat)
{
    int64_t numel = j->rows * j->cnt;
    for (int64_t r = 0; r < j->rows; r++) {
        const float *w = j->W + r * j->cols + j->i1;
        for (int64_t c = 0; c < j->cnt; c++) {
            float dd = j->dinv[c];
            keys[r * j->cnt + c] = alc_prune_key((w[c] * w[c]) / (dd * dd));
        }
    }
    int64_t k = alc_prune_count_k(numel, o->sparsity);
    alc_prune_mark_smallest(keys, numel, k, !o->exact, scratch, flat);
    for (int64_t r = 0; r < j->rows; r++) {
        memcpy(j->mask1 + r * j->bs, flat + r * j->cnt, (size_t)j->cnt);
    }
}

/* Copies the block's mask out and counts it. */
static void save_mask(const struct sgpt_job *j, struct alc_prune_result *res)
{
    for (int64_t r = 0; r < j->rows; r++) {
        const uint8_t *mk = j->mask1 + r * j->bs;
        for (int64_t c = 0; c < j->cnt; c++) {
            res->pruned += mk[c];
        }
        if (res->mask != NULL) {
            memcpy(res->mask + r * j->cols + j->i1, mk, (size_t)j->cnt);
        }
    }
}

static void run_block(struct sgpt_job *j, const struct alc_prune_opts *o,
                      uint32_t *keys, uint32_t *scratch, uint8_t *flat,
                      float *dinv)
{
    for (int64_t c = 0; c < j->cnt; c++) {
        dinv[c] = j->U[(j->i1 + c) * j->cols + j->i1 + c];
    }
    j->dinv = dinv;
    if (j->n == 0) {
        block_mask(j, o, keys, scratch, flat);
    } else {
        memset(j->mask1, 0, (size_t)(j->rows * j->bs));
    }
    alc_pool_run(o->pool, (j->rows + SGPT_ROWS - 1) / SGPT_ROWS, obs_task, j);
}

static int block_loop(float *W, int64_t rows, int64_t cols, const float *U,
                      const struct alc_prune_opts *o,
                      struct alc_prune_result *res, struct alc_diag *d)
{
    int rc = -1;
    size_t blk = (size_t)rows * (size_t)o->blocksize;
    struct sgpt_job j = {W,    U,    rows, cols, 0,    0,   o->blocksize,
                         o->n, o->m, NULL, NULL, NULL, NULL};
    uint32_t *keys = malloc(blk * sizeof *keys);
    uint32_t *scratch = malloc(blk * sizeof *scratch);
    uint8_t *flat = malloc(blk);
    float *dinv = malloc((size_t)o->blocksize * sizeof *dinv);
    j.err = malloc(blk * sizeof *j.err);
    j.mask1 = malloc(blk);
    j.loss = calloc((size_t)rows, sizeof *j.loss);
    if (keys == NULL || scratch == NULL || flat == NULL || dinv == NULL ||
        j.err == NULL || j.mask1 == NULL || j.loss == NULL) {
        alc_diag_errorf(d, "sparsegpt: out of memory");
        goto done;
    }
    for (j.i1 = 0; j.i1 < cols; j.i1 += o->blocksize) {
        j.cnt = cols - j.i1 < o->blocksize ? cols - j.i1 : o->blocksize;
        run_block(&j, o, keys, scratch, flat, dinv);
        save_mask(&j, res);
    }
    for (int64_t r = 0; r < rows; r++) { /* Losses += sum(Losses1) / 2 */
        res->loss += j.loss[r] / 2.0;
    }
    rc = 0;
done:
    free(keys);
    free(scratch);
    free(flat);
    free(dinv);
    free(j.err);
    free(j.mask1);
    free(j.loss);
    return rc;
}

/* ---- Entry point ---- */

static int check_sparsegpt(int64_t cols, const float *H,
                           const struct alc_prune_opts *o, struct alc_diag *d)
{
    if (H == NULL) {
        alc_diag_errorf(d, "sparsegpt: no Hessian");
        return -1;
    }
    if (o->blocksize <= 0 || (o->n > 0 && o->blocksize % o->m != 0)) {
        alc_diag_errorf(d,
                        "sparsegpt: blocksize %d must be positive and "
                        "a multiple of M",
                        o->blocksize);
        return -1;
    }
    if (!(o->percdamp >= 0.0 && isfinite(o->percdamp)) || o->max_retries < 0) {
        alc_diag_errorf(d, "sparsegpt: invalid damping %g or retries %d",
                        o->percdamp, o->max_retries);
        return -1;
    }
    if (cols > INT32_MAX) {
        alc_diag_errorf(d, "sparsegpt: %lld columns exceed LAPACK's int",
                        (long long)cols);
        return -1;
    }
    for (int64_t i = 0; i < cols; i++) {
        if (!isfinite(H[i * cols + i]) || H[i * cols + i] < 0.0f) {
            alc_diag_errorf(d,
                            "sparsegpt: Hessian diagonal %lld is %g "
                            "(calibration activations contain NaN or Inf?)",
                            (long long)i, (double)H[i * cols + i]);
            return -1;
        }
    }
    return 0;
}

int alc_prune_sparsegpt(float *W, int64_t rows, int64_t cols, float *H,
                        const struct alc_prune_opts *o,
                        struct alc_prune_result *res, struct alc_diag *d)
{
    double t0 = alc_now();
    int rc = -1;
    res->pruned = 0;
    res->loss = 0.0;
    res->damp = 0.0;
    res->fallback = ALC_FALLBACK_NONE;
    if (alc_prune_check(W, rows, cols, o, d) != 0 ||
        check_sparsegpt(cols, H, o, d) != 0) {
        goto done;
    }
    if (o->n == 0 && o->sparsity == 0.0) { /* nothing to prune */
        if (res->mask != NULL) {
            memset(res->mask, 0, (size_t)(rows * cols));
        }
        rc = 0;
        goto count;
    }
    mark_dead(W, rows, cols, H);
    int blas = alc_la_serial_begin();
    rc = factorize(H, cols, o, res, d);
    if (rc == 0) {
        rc = block_loop(W, rows, cols, H, o, res, d);
    }
    alc_la_serial_end(blas);
    if (rc != 0) {
        goto done;
    }
count:
    alc_prune_count_zeros(W, rows, cols, o->pool, res);
done:
    res->seconds = alc_now() - t0;
    return rc;
}
