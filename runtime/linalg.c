/*
 * linalg.c: deterministic tiled dense kernels on the pool (see linalg.h):
 * X^T X into an upper triangle, Cholesky of a lower triangle, and the
 * inverse of a lower-triangular matrix. Each tile is one single-threaded
 * BLAS/LAPACK call; the tiles' update order is fixed, so the bits do not
 * depend on how many threads run them.
 *
 * T = ALC_LA_TILE; tile ti covers rows/columns [ti*T, min((ti+1)*T, n)).
 * Layout note: a row-major lower triangle is LAPACK's column-major upper
 * triangle of the same memory, hence the 'U' in the LAPACKE calls below.
 */
#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>

#include "linalg.h"

/* ---- OpenBLAS threads ---- */

int alc_la_serial_begin(void)
{
    int prev = openblas_get_num_threads();
    if (prev != 1) {
        openblas_set_num_threads(1);
    }
    return prev;
}

void alc_la_serial_end(int prev)
{
    if (prev != 1) {
        openblas_set_num_threads(prev);
    }
}

/* Size of tile ti of an n-long dimension. */
static int64_t tsz(int64_t n, int64_t ti)
{
    int64_t r = n - ti * ALC_LA_TILE;
    return r < ALC_LA_TILE ? r : ALC_LA_TILE;
}

static int64_t ntiles(int64_t n)
{
    return (n + ALC_LA_TILE - 1) / ALC_LA_TILE;
}

/* ---- X^T X into the upper triangle ---- */

struct syrk_job {
    void *H;       /* float or double (n, n) */
    const void *X; /* (k, n) with leading dimension ldx */
    int64_t k, n, ldx, nt;
    float alpha, beta; /* float version only */
    int dbl;
};

/* One tile (ti, tj), tj >= ti, over all k rows of X in chunks of 2^20 (BLAS
 * dimensions are int); beta applies to the first chunk only. */
static void syrk_tile_f(struct syrk_job *j, int64_t ti, int64_t tj)
{
    const float *X = j->X;
    float *H = (float *)j->H + ti * ALC_LA_TILE * j->n + tj * ALC_LA_TILE;
    int64_t mi = tsz(j->n, ti), mj = tsz(j->n, tj), chunk = 1 << 20;
    float beta = j->beta;
    for (int64_t k0 = 0; k0 < j->k; k0 += chunk) {
        int kk = (int)(j->k - k0 < chunk ? j->k - k0 : chunk);
        const float *XI = X + k0 * j->ldx + ti * ALC_LA_TILE;
        const float *XJ = X + k0 * j->ldx + tj * ALC_LA_TILE;
        if (ti == tj) {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)mi, kk,
                        j->alpha, XI, (int)j->ldx, beta, H, (int)j->n);
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mi,
                        (int)mj, kk, j->alpha, XI, (int)j->ldx, XJ, (int)j->ldx,
                        beta, H, (int)j->n);
        }
        beta = 1.0f;
    }
}

/* Double tile: G += X^T X (k < 2^31 checked by the caller). */
static void syrk_tile_d(struct syrk_job *j, int64_t ti, int64_t tj)
{
    const double *XI = (const double *)j->X + ti * ALC_LA_TILE;
    const double *XJ = (const double *)j->X + tj * ALC_LA_TILE;
    double *G = (double *)j->H + ti * ALC_LA_TILE * j->n + tj * ALC_LA_TILE;
    int64_t mi = tsz(j->n, ti), mj = tsz(j->n, tj);
    if (ti == tj) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)mi, (int)j->k,
                    1.0, XI, (int)j->ldx, 1.0, G, (int)j->n);
    } else {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)mi, (int)mj,
                    (int)j->k, 1.0, XI, (int)j->ldx, XJ, (int)j->ldx, 1.0, G,
                    (int)j->n);
    }
}

static void syrk_task(void *ctx, int64_t task, int worker)
{
    struct syrk_job *j = ctx;
    int64_t ti = task / j->nt, tj = task % j->nt;
    (void)worker;
    if (tj < ti) {
        return;
    }
    if (j->dbl) {
        syrk_tile_d(j, ti, tj);
    } else {
        syrk_tile_f(j, ti, tj);
    }
}

void alc_la_ssyrk_upper(float *H, const float *X, int64_t k, int64_t n,
                        float alpha, float beta, struct alc_pool *pool)
{
    struct syrk_job j = {H, X, k, n, n, ntiles(n), alpha, beta, 0};
    alc_pool_run(pool, j.nt * j.nt, syrk_task, &j);
}

void alc_la_dsyrk_upper(double *G, const double *X, int64_t k, int64_t n,
                        int64_t ldx, struct alc_pool *pool)
{
    struct syrk_job j = {G, X, k, n, ldx, ntiles(n), 1.0f, 1.0f, 1};
    alc_pool_run(pool, j.nt * j.nt, syrk_task, &j);
}

/* ---- Cholesky: right-looking, one tile column per step ---- */

struct potrf_job {
    float *A;
    int64_t n, nt, tk; /* the current step */
};

/* Tile pointer (ti, tj). */
static float *tile(float *A, int64_t n, int64_t ti, int64_t tj)
{
    return A + ti * ALC_LA_TILE * n + tj * ALC_LA_TILE;
}

/* A(ti,tk) <- A(ti,tk) L(tk,tk)^-T for the tiles below the diagonal. */
static void potrf_trsm_task(void *ctx, int64_t task, int worker)
{
    struct potrf_job *j = ctx;
    int64_t ti = j->tk + 1 + task;
    (void)worker;
    cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
                (int)tsz(j->n, ti), (int)tsz(j->n, j->tk), 1.0f,
                tile(j->A, j->n, j->tk, j->tk), (int)j->n,
                tile(j->A, j->n, ti, j->tk), (int)j->n);
}

/* A(ti,tj) -= A(ti,tk) A(tj,tk)^T, tk < tj <= ti (lower of A(ti,ti)). */
static void potrf_update_task(void *ctx, int64_t task, int worker)
{
    struct potrf_job *j = ctx;
    int64_t m = j->nt - j->tk - 1;
    int64_t ti = j->tk + 1 + task / m, tj = j->tk + 1 + task % m;
    int kk = (int)tsz(j->n, j->tk), n = (int)j->n;
    (void)worker;
    if (tj > ti) {
        return;
    }
    if (ti == tj) {
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)tsz(j->n, ti),
                    kk, -1.0f, tile(j->A, j->n, ti, j->tk), n, 1.0f,
                    tile(j->A, j->n, ti, ti), n);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tsz(j->n, ti),
                (int)tsz(j->n, tj), kk, -1.0f, tile(j->A, j->n, ti, j->tk), n,
                tile(j->A, j->n, tj, j->tk), n, 1.0f, tile(j->A, j->n, ti, tj),
                n);
}

int64_t alc_la_potrf_lower(float *A, int64_t n, struct alc_pool *pool)
{
    struct potrf_job j = {A, n, ntiles(n), 0};
    for (j.tk = 0; j.tk < j.nt; j.tk++) {
        int64_t kk = tsz(n, j.tk), m = j.nt - j.tk - 1;
        lapack_int info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)kk,
                                         tile(A, n, j.tk, j.tk), (lapack_int)n);
        if (info != 0) { /* < 0: a NaN in the tile (LAPACKE's check) */
            return j.tk * ALC_LA_TILE + (info > 0 ? info : 1);
        }
        alc_pool_run(pool, m, potrf_trsm_task, &j);
        alc_pool_run(pool, m * m, potrf_update_task, &j);
    }
    return 0;
}

/* ---- Triangular inverse: block columns right to left ---- */

/*
 * With L = [L11 0; L21 L22] and X22 = L22^-1 already in place (later block
 * columns are done first), X21 = -X22 L21 L11^-1. Tile ti of block column tj
 * is computed in scratch S_ti from the old tiles (k, tj), k > tj, then written
 * back after every tile is done; then L11 is inverted (LAPACK's strtri order).
 */
struct trtri_job {
    float *A;
    float *S; /* (n, T) scratch, row stride T */
    int64_t n, nt, tj;
};

static void trtri_tile_task(void *ctx, int64_t task, int worker)
{
    struct trtri_job *j = ctx;
    int64_t ti = j->tj + 1 + task, mi = tsz(j->n, ti), jj = tsz(j->n, j->tj);
    int n = (int)j->n, T = ALC_LA_TILE;
    float *S = j->S + ti * ALC_LA_TILE * ALC_LA_TILE;
    (void)worker;
    for (int64_t r = 0; r < mi; r++) {
        memcpy(S + r * T, tile(j->A, j->n, ti, j->tj) + r * j->n,
               (size_t)jj * sizeof *S);
    }
    cblas_strmm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans,
                CblasNonUnit, (int)mi, (int)jj, 1.0f, tile(j->A, j->n, ti, ti),
                n, S, T);
    for (int64_t tk = j->tj + 1; tk < ti; tk++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mi, (int)jj,
                    (int)tsz(j->n, tk), 1.0f, tile(j->A, j->n, ti, tk), n,
                    tile(j->A, j->n, tk, j->tj), n, 1.0f, S, T);
    }
    cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans,
                CblasNonUnit, (int)mi, (int)jj, -1.0f,
                tile(j->A, j->n, j->tj, j->tj), n, S, T);
}

static void trtri_store_task(void *ctx, int64_t task, int worker)
{
    struct trtri_job *j = ctx;
    int64_t ti = j->tj + 1 + task, mi = tsz(j->n, ti), jj = tsz(j->n, j->tj);
    const float *S = j->S + ti * ALC_LA_TILE * ALC_LA_TILE;
    (void)worker;
    for (int64_t r = 0; r < mi; r++) {
        memcpy(tile(j->A, j->n, ti, j->tj) + r * j->n, S + r * ALC_LA_TILE,
               (size_t)jj * sizeof *S);
    }
}

int alc_la_trtri_lower(float *A, int64_t n, struct alc_pool *pool)
{
    struct trtri_job j = {A, NULL, n, ntiles(n), 0};
    j.S = malloc((size_t)(j.nt * ALC_LA_TILE) * ALC_LA_TILE * sizeof *j.S);
    if (j.S == NULL) {
        return -1;
    }
    for (j.tj = j.nt - 1; j.tj >= 0; j.tj--) {
        int64_t m = j.nt - j.tj - 1;
        alc_pool_run(pool, m, trtri_tile_task, &j);
        alc_pool_run(pool, m, trtri_store_task, &j);
        LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)tsz(n, j.tj),
                       tile(A, n, j.tj, j.tj), (lapack_int)n);
    }
    free(j.S);
    return 0;
}
