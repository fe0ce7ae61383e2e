/*
 * esd.c: AlphaPruning's heavy-tail metrics of a weight matrix's empirical
 * spectral density (haiquanlu/AlphaPruning lib/esd_utils.py,
 * net_esd_estimator; methods.md §6.1): the eigenvalues of W^T W and the
 * power-law exponent alpha fitted by maximum likelihood, with x_min chosen
 * by the KS distance near the histogram peak (alpha_peak, the default
 * metric) or fixed at the median eigenvalue (alpha_hill / alpha_mid).
 * Called by the pruning pipeline to fill alc_mat_view.alpha_peak/alpha_hill.
 *
 * N = min(rows, cols) eigenvalues lambda, ascending. Everything is double;
 * the reference is float32 (see alc_esd_eigs in prune.h for why).
 */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "linalg.h"
#include "prune.h"

/* ---- Eigenvalues ---- */

enum { GRAM_CHUNK = 512 };

/*
 * G (n, n), upper triangle: W^T W when rows >= cols (row chunks of W), else
 * W W^T (column chunks of W, gathered transposed so both cases are
 * G += C^T C with C (chunk, n)). Each chunk is converted to double first.
 */
static void gram(double *G, const void *w, enum alc_dtype dt, int64_t rows,
                 int64_t cols, double *dbuf, float *fbuf, struct alc_pool *pool)
{
    int64_t n = rows < cols ? rows : cols, big = rows < cols ? cols : rows;
    size_t esz = (size_t)alc_dtype_table[dt].size;
    for (int64_t k0 = 0; k0 < big; k0 += GRAM_CHUNK) {
        int64_t nk = big - k0 < GRAM_CHUNK ? big - k0 : GRAM_CHUNK;
        if (rows >= cols) {
            alc_to_f32(fbuf, (const char *)w + (size_t)(k0 * cols) * esz, dt,
                       (size_t)(nk * cols));
            for (int64_t i = 0; i < nk * cols; i++) {
                dbuf[i] = (double)fbuf[i];
            }
        } else {
            for (int64_t r = 0; r < rows; r++) {
                alc_to_f32(fbuf,
                           (const char *)w + (size_t)(r * cols + k0) * esz, dt,
                           (size_t)nk);
                for (int64_t c = 0; c < nk; c++) {
                    dbuf[c * rows + r] = (double)fbuf[c];
                }
            }
        }
        alc_la_dsyrk_upper(G, dbuf, nk, n, n, pool);
    }
}

int alc_esd_eigs(const void *w, enum alc_dtype dt, int64_t rows, int64_t cols,
                 struct alc_pool *pool, double *eigs, struct alc_diag *d)
{
    int rc = -1;
    int64_t n = rows < cols ? rows : cols, big = rows < cols ? cols : rows;
    double *G = NULL, *dbuf = NULL;
    float *fbuf = NULL;
    if (w == NULL || rows <= 0 || cols <= 0 || big > INT32_MAX || (int)dt < 0 ||
        dt >= ALC_DT_COUNT) {
        alc_diag_errorf(d, "esd: invalid matrix (%lld x %lld)", (long long)rows,
                        (long long)cols);
        return -1;
    }
    G = calloc((size_t)n * (size_t)n, sizeof *G);
    dbuf = malloc((size_t)GRAM_CHUNK * (size_t)n * sizeof *dbuf);
    fbuf = malloc((size_t)GRAM_CHUNK * (size_t)n * sizeof *fbuf);
    if (G == NULL || dbuf == NULL || fbuf == NULL) {
        alc_diag_errorf(d, "esd: out of memory for a %lld^2 Gram matrix",
                        (long long)n);
        goto done;
    }
    int blas = alc_la_serial_begin();
    gram(G, w, dt, rows, cols, dbuf, fbuf, pool);
    /* Row-major upper = column-major lower; values only, ascending. */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)n,
                                     G, (lapack_int)n, eigs);
    alc_la_serial_end(blas);
    if (info != 0) {
        alc_diag_errorf(d, "esd: eigenvalue solver failed (info %d)",
                        (int)info);
        goto done;
    }
    /* Below N eps lambda_max the Gram's eigenvalues are rounding noise:
     * numerical zeros (a rank-deficient W). */
    double floor0 = (double)n * DBL_EPSILON * eigs[n - 1];
    for (int64_t i = 0; i < n; i++) {
        eigs[i] = eigs[i] > floor0 ? eigs[i] : 0.0;
    }
    rc = 0;
done:
    free(G);
    free(dbuf);
    free(fbuf);
    return rc;
}

/* ---- Power-law fits ---- */

/*
 * alpha and KS distance for x_min = lambda_i, given ln lambda (lg) and the
 * suffix sums of lg (suf[i] = sum_{j>=i} lg[j]). want_d = 0 skips D.
 */
static double fit_at(const double *lg, const double *suf, int64_t N, int64_t i,
                     int want_d, double *D)
{
    double n = (double)(N - i);
    double alpha = 1.0 + n / (suf[i] - n * lg[i]);
    if (!want_d) {
        return alpha;
    }
    double dmax = 0.0;
    for (int64_t k = 0; k < N - i; k++) {
        /* (lambda_{i+k} / x_min)^(1 - alpha), through the logs */
        double cdf = 1.0 - exp((1.0 - alpha) * (lg[i + k] - lg[i]));
        double dist = fabs(cdf - (double)k / n);
        dmax = dist > dmax ? dist : dmax;
    }
    *D = dmax;
    return alpha;
}

/* ln lambda and its suffix sums; 0 when some lambda <= 0 or is not finite. */
static int log_suffix(const double *eigs, int64_t N, double *lg, double *suf)
{
    for (int64_t i = 0; i < N; i++) {
        if (!(eigs[i] > 0.0) || !isfinite(eigs[i])) {
            return 0;
        }
        lg[i] = log(eigs[i]);
    }
    double s = 0.0;
    for (int64_t i = N - 1; i >= 0; i--) {
        s += lg[i];
        suf[i] = s;
    }
    return 1;
}

void alc_esd_fit_mid(const double *eigs, int64_t n, double *alpha, double *D)
{
    double *lg = malloc((size_t)(n > 0 ? n : 1) * sizeof *lg);
    double *suf = malloc((size_t)(n > 0 ? n : 1) * sizeof *suf);
    double dd = NAN, a = NAN;
    if (lg != NULL && suf != NULL && n >= 2 && log_suffix(eigs, n, lg, suf)) {
        a = fit_at(lg, suf, n, n / 2, 1, &dd); /* i = int(N / xmin_pos) */
    }
    *alpha = a;
    if (D != NULL) {
        *D = dd;
    }
    free(lg);
    free(suf);
}

/*
 * The peak of the ESD: a 100-bin histogram of log10 lambda over
 * [min, max] (torch.histc: bin = int((x - min) * bins / (max - min)), the
 * last bin closed), the left edge of the fullest bin (first on ties, as
 * torch.argmax), as torch.linspace(min, max, bins + 1)[ih] computes it.
 */
static double esd_peak(const double *eigs, int64_t N)
{
    enum { BINS = 100 };
    int64_t counts[BINS] = {0};
    double lo = log10(eigs[0]), hi = log10(eigs[N - 1]);
    int ih = 0;
    if (hi > lo) {
        for (int64_t i = 0; i < N; i++) {
            int b = (int)((log10(eigs[i]) - lo) * BINS / (hi - lo));
            b = b >= BINS ? BINS - 1 : (b < 0 ? 0 : b);
            counts[b]++;
        }
        for (int b = 1; b < BINS; b++) {
            ih = counts[b] > counts[ih] ? b : ih;
        }
    }
    double step = (hi - lo) / BINS;
    double edge = ih < BINS / 2 ? lo + step * ih : hi - step * (BINS - ih);
    return pow(10.0, edge);
}

struct peak_job {
    const double *lg, *suf;
    int64_t N, i0, per, count; /* candidates [i0, i0 + count) */
    double *alphas, *Ds;       /* (N - 1) */
};

static void peak_task(void *ctx, int64_t task, int worker)
{
    struct peak_job *j = ctx;
    int64_t a = j->i0 + task * j->per, b = a + j->per;
    (void)worker;
    b = b > j->i0 + j->count ? j->i0 + j->count : b;
    for (int64_t i = a; i < b; i++) {
        double D = 1.0;
        double alpha = fit_at(j->lg, j->suf, j->N, i, 0, &D);
        if (alpha > 1.0) { /* the reference computes D only then */
            fit_at(j->lg, j->suf, j->N, i, 1, &D);
        }
        j->alphas[i] = alpha;
        j->Ds[i] = D;
    }
}

/*
 * The candidates x_min = lambda_i, i < N-1, that the reference tries:
 * it skips those below xmin_min = log10(0.95 * peak) and stops at the first
 * above xmin_max = 1.5 * peak. QUIRK (replicated on purpose): xmin_min is a
 * log10 value compared with linear eigenvalues, so the lower bound is far
 * looser than "0.95 * peak" whenever the peak is near or above 1 (for
 * LLaMA weights every eigenvalue up to 1.5 * peak is usually a candidate).
 */
static void peak_range(const double *eigs, int64_t N, int64_t *i0,
                       int64_t *count)
{
    double peak = esd_peak(eigs, N);
    double xmin_min = log10(0.95 * peak), xmin_max = 1.5 * peak;
    int64_t i = 0;
    while (i < N - 1 && eigs[i] < xmin_min) {
        i++;
    }
    *i0 = i;
    while (i < N - 1 && !(eigs[i] > xmin_max)) {
        i++;
    }
    *count = i - *i0;
}

void alc_esd_fit_peak(const double *eigs, int64_t n, struct alc_pool *pool,
                      double *alpha, double *D)
{
    struct peak_job j = {0};
    double *lg = malloc((size_t)(n > 0 ? n : 1) * sizeof *lg);
    double *suf = malloc((size_t)(n > 0 ? n : 1) * sizeof *suf);
    double *alphas = calloc((size_t)(n > 1 ? n - 1 : 1), sizeof *alphas);
    double *Ds = malloc((size_t)(n > 1 ? n - 1 : 1) * sizeof *Ds);
    *alpha = NAN;
    if (D != NULL) {
        *D = NAN;
    }
    if (lg == NULL || suf == NULL || alphas == NULL || Ds == NULL || n < 2 ||
        !log_suffix(eigs, n, lg, suf)) {
        goto done;
    }
    for (int64_t i = 0; i < n - 1; i++) { /* torch.zeros / torch.ones */
        Ds[i] = 1.0;
    }
    j = (struct peak_job){lg, suf, n, 0, 0, 0, alphas, Ds};
    peak_range(eigs, n, &j.i0, &j.count);
    j.per = (j.count + 63) / 64;
    j.per = j.per < 1 ? 1 : j.per;
    alc_pool_run(pool, (j.count + j.per - 1) / j.per, peak_task, &j);
    int64_t best = 0; /* torch.argmin: the first minimum */
    for (int64_t i = 1; i < n - 1; i++) {
        best = Ds[i] < Ds[best] ? i : best;
    }
    *alpha = alphas[best];
    if (D != NULL) {
        *D = Ds[best];
    }
done:
    free(lg);
    free(suf);
    free(alphas);
    free(Ds);
}

/* ---- Per matrix ---- */

int alc_esd_matrix(const void *w, enum alc_dtype dt, int64_t rows, int64_t cols,
                   struct alc_pool *pool, struct alc_esd_result *out,
                   struct alc_diag *d)
{
    int64_t n = rows < cols ? rows : cols;
    double *eigs = malloc((size_t)(n > 0 ? n : 1) * sizeof *eigs);
    int rc = -1;
    out->alpha_peak = out->D_peak = out->alpha_hill = out->D_hill = NAN;
    out->spectral_norm = NAN;
    out->n_eigs = n;
    if (eigs == NULL) {
        alc_diag_errorf(d, "esd: out of memory");
        return -1;
    }
    if (alc_esd_eigs(w, dt, rows, cols, pool, eigs, d) != 0) {
        goto done;
    }
    out->spectral_norm = eigs[n - 1];
    if (!(eigs[0] > 0.0)) {
        alc_diag_warnf(d,
                       "esd: %lld x %lld matrix is rank-deficient (an "
                       "eigenvalue of W^T W is 0); alpha is undefined",
                       (long long)rows, (long long)cols);
    } else {
        alc_esd_fit_peak(eigs, n, pool, &out->alpha_peak, &out->D_peak);
        alc_esd_fit_mid(eigs, n, &out->alpha_hill, &out->D_hill);
    }
    rc = 0;
done:
    free(eigs);
    return rc;
}

void alc_esd_block_mean(const double *alpha, int64_t n, int per_block,
                        double *out)
{
    int64_t g = per_block > 0 ? per_block : 1;
    for (int64_t b0 = 0; b0 < n; b0 += g) {
        int64_t b1 = b0 + g < n ? b0 + g : n;
        double s = 0.0;
        for (int64_t i = b0; i < b1; i++) {
            s += alpha[i];
        }
        for (int64_t i = b0; i < b1; i++) {
            out[i] = s / (double)(b1 - b0);
        }
    }
}
