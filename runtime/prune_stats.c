/*
 * prune_stats.c: calibration statistics of one linear layer's inputs, fed
 * one batch at a time by the pruning pipeline's forward hooks: Wanda's
 * scaler_row (double) and SparseGPT's Hessian (float, upper triangle,
 * tiled X^T X per batch, linalg.c). See prune.h for the running updates.
 *
 * X (tokens, cols) row-major f32; n = sequences seen; b = sequences in X.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "linalg.h"
#include "prune.h"

unsigned alc_prune_stats_needed(enum alc_prune_method m)
{
    static const unsigned need[ALC_PRUNE_COUNT] = {
        [ALC_PRUNE_MAGNITUDE] = 0,
        [ALC_PRUNE_WANDA] = ALC_STAT_SCALER,
        [ALC_PRUNE_SPARSEGPT] = ALC_STAT_HESSIAN,
    };
    _Static_assert(ALC_PRUNE_COUNT == 3, "update need[]");
    return (int)m >= 0 && m < ALC_PRUNE_COUNT ? need[m] : 0;
}

/* ---- Lifetime ---- */

int alc_prune_stats_init(struct alc_prune_stats *s, int64_t cols,
                         unsigned which, struct alc_diag *d)
{
    memset(s, 0, sizeof *s);
    if (cols <= 0 || (which & ~(ALC_STAT_SCALER | ALC_STAT_HESSIAN)) != 0) {
        alc_diag_errorf(d, "stats: invalid request (cols %lld, which %#x)",
                        (long long)cols, which);
        return -1;
    }
    s->cols = cols;
    s->which = which;
    if (which & ALC_STAT_SCALER) {
        s->scaler = calloc((size_t)cols, sizeof *s->scaler);
    }
    if (which & ALC_STAT_HESSIAN) {
        if (cols > INT_MAX ||
            (uint64_t)cols > SIZE_MAX / sizeof(float) / (uint64_t)cols) {
            alc_diag_errorf(d,
                            "stats: Hessian of %lld columns is too "
                            "large",
                            (long long)cols);
            return -1;
        }
        s->H = calloc((size_t)cols * (size_t)cols, sizeof *s->H);
    }
    if (((which & ALC_STAT_SCALER) && s->scaler == NULL) ||
        ((which & ALC_STAT_HESSIAN) && s->H == NULL)) {
        alc_diag_errorf(d,
                        "stats: out of memory for %lld-column "
                        "statistics (Hessian %.0f MB)",
                        (long long)cols,
                        (which & ALC_STAT_HESSIAN)
                            ? (double)cols * (double)cols * 4.0 / 1e6
                            : 0.0);
        alc_prune_stats_free(s);
        return -1;
    }
    return 0;
}

void alc_prune_stats_free(struct alc_prune_stats *s)
{
    free(s->scaler);
    free(s->H);
    s->scaler = NULL;
    s->H = NULL;
}

/* ---- scaler_row ---- */

/*
 * scaler_row[j] = scaler_row[j] * n/(n+b) + sum_t x_tj^2 / (n+b), a column
 * chunk per task: each column's sum runs over the tokens in order, so the
 * result does not depend on the number of threads.
 */
enum { SCALER_CHUNK = 256 };

struct scaler_job {
    const float *X;
    int64_t tokens, cols;
    double keep, inv_n; /* n/(n+b), 1/(n+b) */
    double *scaler;
};

static void scaler_task(void *ctx, int64_t task, int worker)
{
    struct scaler_job *j = ctx;
    double acc[SCALER_CHUNK] = {0};
    int64_t c0 = task * SCALER_CHUNK, nc = j->cols - c0;
    (void)worker;
    nc = nc > SCALER_CHUNK ? SCALER_CHUNK : nc;
    for (int64_t t = 0; t < j->tokens; t++) {
        const float *x = j->X + t * j->cols + c0;
        if (nc == SCALER_CHUNK) { /* a constant trip count vectorizes */
            for (int c = 0; c < SCALER_CHUNK; c++) {
                acc[c] += (double)x[c] * (double)x[c];
            }
            continue;
        }
        for (int64_t c = 0; c < nc; c++) {
            acc[c] += (double)x[c] * (double)x[c];
        }
    }
    for (int64_t c = 0; c < nc; c++) {
        j->scaler[c0 + c] = j->scaler[c0 + c] * j->keep + acc[c] * j->inv_n;
    }
}

int alc_prune_stats_add_batch(struct alc_prune_stats *s, const float *X,
                              int64_t tokens, int64_t n_seqs,
                              struct alc_pool *pool, struct alc_diag *d)
{
    if (X == NULL || tokens <= 0 || n_seqs <= 0) {
        alc_diag_errorf(d,
                        "stats: empty batch (%lld tokens, %lld "
                        "sequences)",
                        (long long)tokens, (long long)n_seqs);
        return -1;
    }
    int64_t n_new = s->nsamples + n_seqs;
    if (s->scaler != NULL) {
        struct scaler_job j = {X,
                               tokens,
                               s->cols,
                               (double)s->nsamples / (double)n_new,
                               1.0 / (double)n_new,
                               s->scaler};
        alc_pool_run(pool, (s->cols + SCALER_CHUNK - 1) / SCALER_CHUNK,
                     scaler_task, &j);
    }
    if (s->H != NULL) {
        /* The reference's H *= n/(n+b) and X *= sqrt(2/(n+b)), as float
         * scalars, folded into syrk's beta and alpha. */
        int blas = alc_la_serial_begin();
        alc_la_ssyrk_upper(s->H, X, tokens, s->cols,
                           (float)(2.0 / (double)n_new),
                           (float)((double)s->nsamples / (double)n_new), pool);
        alc_la_serial_end(blas);
    }
    s->nsamples = n_new;
    s->ntokens += tokens;
    return 0;
}

/* ---- Accessors ---- */

void alc_prune_stats_scaler_row(const struct alc_prune_stats *s, float *out)
{
    for (int64_t j = 0; j < s->cols; j++) {
        out[j] = s->scaler != NULL ? (float)s->scaler[j] : 0.0f;
    }
}

void alc_prune_stats_act_norm(const struct alc_prune_stats *s, float *act)
{
    for (int64_t j = 0; j < s->cols; j++) {
        act[j] = s->scaler != NULL ? sqrtf((float)s->scaler[j]) : 0.0f;
    }
}

int alc_prune_stats_hessian(const struct alc_prune_stats *s, float *out,
                            struct alc_diag *d)
{
    int64_t n = s->cols;
    if (s->H == NULL) {
        alc_diag_errorf(d, "stats: no Hessian (not requested, or consumed "
                           "by pruning)");
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++) {
            out[i * n + j] = j >= i ? s->H[i * n + j] : s->H[j * n + i];
        }
    }
    return 0;
}
