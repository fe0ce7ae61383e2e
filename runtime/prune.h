/*
 * prune.h: the pruning mathematics of one linear layer. Calibration
 * statistics of the layer's inputs (Wanda's scaler_row, SparseGPT's Hessian),
 * the three pruners (magnitude, Wanda, SparseGPT; unstructured and N:M) on an
 * f32 weight matrix in place, and AlphaPruning's heavy-tail estimators of
 * the weight spectrum (alpha_peak, alpha_hill). Formulas and their sources:
 * shared/reference/methods.md §1.4, §4, §5, §6.1.
 *
 * Called by the block-by-block pruning pipeline (dsac prune): for each
 * decoder block it creates one struct alc_prune_stats per linear, feeds it
 * every calibration batch of the linear's input through the still-dense
 * block (alc_prune_stats_add_batch), then prunes each linear with the block's
 * sparsity (alc_prune) and frees the statistics. Everything takes plain f32
 * row-major arrays; nothing here knows about models or files.
 *
 * Shapes: W is (rows, cols) = (out_features, in_features) row-major f32;
 * X is (tokens, cols) row-major f32 with tokens = B*T of one batch.
 */
#ifndef ALC_PRUNE_H
#define ALC_PRUNE_H

#include <stdint.h>

#include "alc_common.h"

/* ---- Methods ---- */

enum alc_prune_method {
    ALC_PRUNE_MAGNITUDE, /* |W|, one threshold per matrix (no statistics) */
    ALC_PRUNE_WANDA,     /* |W|*sqrt(scaler_row), per output row */
    ALC_PRUNE_SPARSEGPT, /* OBS with the Hessian H = (2/n) sum X^T X */
    ALC_PRUNE_COUNT
};

/* "magnitude", "wanda", "sparsegpt" (ORDER enum alc_prune_method). */
extern const char *const alc_prune_method_name[ALC_PRUNE_COUNT];
/* Returns -1 when the name is unknown. */
int alc_prune_method_from_name(const char *name);

/* ---- Calibration statistics of one linear's input ---- */

/* Bits of struct alc_prune_stats.which. */
#define ALC_STAT_SCALER 1u  /* Wanda's scaler_row: (cols) doubles */
#define ALC_STAT_HESSIAN 2u /* SparseGPT's H: (cols, cols) floats */

/*
 * The statistics a method needs: magnitude 0, Wanda ALC_STAT_SCALER,
 * SparseGPT ALC_STAT_HESSIAN. The pipeline ORs in ALC_STAT_SCALER when the
 * allocation reads `act` (alc_compiled_inputs), and computes nothing else.
 */
unsigned alc_prune_stats_needed(enum alc_prune_method m);

/*
 * Running statistics over calibration batches, with the reference's exact
 * running updates (n counts sequences, b = sequences in the batch):
 *
 *   scaler_row *= n/(n+b); n += b; scaler_row += ||X_j||^2 / n
 *       so scaler_row[j] = (1/n) sum_seqs sum_tokens x_j^2  (Wanda §1.4);
 *   H *= n/(n+b); n += b; H += (2/n) X^T X
 *       so H = (2/n) sum X^T X  (SparseGPT sparsegpt.py add_batch).
 *
 * scaler_row is kept in double (the reference uses float32): it costs cols
 * doubles, makes each column's sum independent of the summation order and of
 * the thread count, and is at least as accurate as the reference's float32
 * norm; Wanda then uses sqrtf((float)scaler_row) exactly as the reference
 * uses sqrt of its float32 vector. H is float32 as in the reference (it is
 * the big one) and is accumulated with a tiled syrk per batch
 * (beta = n/(n+b), alpha = 2/(n+b)); only its upper triangle
 * (H[i][j], j >= i) is stored, and alc_prune_stats_hessian mirrors it.
 *
 * Memory: H is cols^2 * 4 bytes: 64 MB for cols = 4096, 485 MB for
 * LLaMA-7B's down_proj (cols = 11008). Linears that read the same input
 * (q/k/v, gate/up) have identical statistics, so the pipeline may feed one
 * object and prune several linears from it with consume = 0.
 */
struct alc_prune_stats {
    int64_t cols;     /* in_features */
    unsigned which;   /* ALC_STAT_* bits that are computed */
    int64_t nsamples; /* sequences seen so far (the reference's nsamples) */
    int64_t ntokens;  /* tokens seen so far, for reports */
    double *scaler;   /* (cols) scaler_row, or NULL; owned */
    float *H;         /* (cols, cols) upper triangle valid, or NULL; owned.
                         NULL after a consuming SparseGPT prune. */
};

/* Allocates zeroed statistics; fails (with the size) when memory is short. */
int alc_prune_stats_init(struct alc_prune_stats *s, int64_t cols,
                         unsigned which, struct alc_diag *d);
void alc_prune_stats_free(struct alc_prune_stats *s);
/*
 * Adds one batch: X (tokens, cols) f32 row-major, n_seqs sequences in it
 * (tokens = n_seqs * T in the pipeline; any tokens >= 1 is accepted). The
 * pool (may be NULL) parallelises scaler_row over columns and H over
 * 256 x 256 tiles. Results are bit-identical for every thread count.
 *
 * Threads: every BLAS/LAPACK-heavy function here (H accumulation,
 * SparseGPT, the ESD) parallelises over fixed tiles with the pool and runs
 * OpenBLAS single-threaded meanwhile (restoring its setting on return),
 * because OpenBLAS's own threads change the bits with the thread count. Do
 * not call BLAS from another thread at the same time.
 */
int alc_prune_stats_add_batch(struct alc_prune_stats *s, const float *X,
                              int64_t tokens, int64_t n_seqs,
                              struct alc_pool *pool, struct alc_diag *d);
/* scaler_row rounded to float: (cols), as the reference's float32 vector. */
void alc_prune_stats_scaler_row(const struct alc_prune_stats *s, float *out);
/*
 * act_j = sqrtf((float)scaler_row[j]): (cols) F32, the `act` vector of
 * struct alc_mat_view (Wanda's sqrt(scaler_row) = ||X_j||_2 / sqrt(n)).
 */
void alc_prune_stats_act_norm(const struct alc_prune_stats *s, float *act);
/* The full symmetric H: (cols, cols) f32 into out. Needs ALC_STAT_HESSIAN. */
int alc_prune_stats_hessian(const struct alc_prune_stats *s, float *out,
                            struct alc_diag *d);

/* ---- Pruning ---- */

/* How SparseGPT got an inverse Hessian factor (struct alc_prune_result). */
enum alc_prune_fallback {
    ALC_FALLBACK_NONE,     /* Cholesky succeeded with percdamp */
    ALC_FALLBACK_DAMP,     /* succeeded after raising the damping */
    ALC_FALLBACK_IDENTITY, /* every damping failed: H replaced by I */
    ALC_FALLBACK_COUNT
};

struct alc_prune_opts {
    enum alc_prune_method method;
    double sparsity;       /* s in [0, 1): unstructured ratio. Ignored when
                              n > 0 (the reference's N:M ignores it too). */
    int n, m;              /* N:M: prune n of every m consecutive input
                              columns of each row (2:4, 4:8); n = m = 0 for
                              unstructured. cols % m must be 0. */
    int blocksize;         /* SparseGPT column block (128); for N:M a
                              multiple of m */
    double percdamp;       /* SparseGPT damping, times mean(diag H) (0.01) */
    int max_retries;       /* SparseGPT: Cholesky retries, damping x10 each
                              (3: up to 10 * mean diag); then identity */
    int exact;             /* magnitude and SparseGPT unstructured: 0 = the
                              reference's `metric <= sorted[k]` (prunes k+1
                              entries plus ties); 1 = exactly k = int(numel*s)
                              entries, ties broken by lower flat index
                              (numel of the matrix for magnitude, of each
                              rows x blocksize block for SparseGPT) */
    int consume;           /* SparseGPT: 1 = factorize stats->H in place and
                              free it (saves cols^2 floats); 0 = work on a copy
                              and leave the statistics usable */
    struct alc_pool *pool; /* rows and tiles in parallel; NULL = the
                              calling thread only (same results) */
};

/* Reference defaults: unstructured, blocksize 128, percdamp 0.01, 3
 * retries, exact 0, consume 0, no pool. */
void alc_prune_opts_default(struct alc_prune_opts *o,
                            enum alc_prune_method method, double sparsity);

struct alc_prune_result {
    uint8_t *mask;  /* in: (rows, cols) buffer to receive the mask
                       (1 = pruned by the method), or NULL */
    int64_t pruned; /* entries the mask selected */
    int64_t zeros;  /* entries of W equal to 0 afterwards (pruned plus
                       any that were zero already) */
    double loss;    /* SparseGPT: sum of the OBS losses (w-q)^2/d^2/2,
                       the reference's "error"; 0 otherwise */
    double damp;    /* SparseGPT: relative damping finally used */
    enum alc_prune_fallback fallback; /* SparseGPT only */
    double seconds;                   /* wall time of the call */
};

/*
 * Prunes W (rows, cols) in place with opts->method. stats must hold what
 * alc_prune_stats_needed(method) says (magnitude accepts NULL). Semantics
 * (methods.md; k = int(count * s) computed in double like Python's int()):
 *
 *  - magnitude: t = sorted(|W|.flatten())[int(numel*s)], prune |W| <= t
 *    (Wanda repo's prune_magnitude; at least k+1 entries plus ties; with
 *    exact = 1 exactly k). N:M: in each group of m columns of a row the n
 *    smallest |W|.
 *  - Wanda: metric |W_ij| * sqrtf(scaler_row_j); each row zeroes the first
 *    int(cols*s) entries of a stable ascending sort: the k smallest, ties
 *    taken in column order (== torch.sort(stable=True)). N:M: the n smallest
 *    metrics of each group of m.
 *  - SparseGPT: fasterprune of sparsegpt.py (see sparsegpt.c): dead inputs,
 *    damping, upper Cholesky factor of H^-1 (float32 like the reference),
 *    128-column blocks with the mask chosen jointly over rows x 128 from
 *    w^2/diag(Hinv1)^2 (threshold sorted[int(numel*s)] with <=), OBS updates
 *    within the block and the lazy GEMM update after it. N:M decided at
 *    every column i % m == 0 from the updated weights. If Cholesky fails,
 *    retries with damping x10 (max_retries times), then prunes with H = I
 *    (magnitude within each 128-column block, no weight update, the
 *    llm-compressor fallback); both are reported as warnings in d and in
 *    res->fallback.
 *
 * Ties among equal metrics are broken by lower index first wherever a count
 * is fixed (Wanda rows, N:M groups, exact mode), so results never depend on
 * the thread count. s = 0 (unstructured) leaves W untouched for every
 * method (the reference would still prune the minimum under `<=`). Metric
 * NaNs sort after +inf.
 *
 * Cost: magnitude is 4-6 passes over W (min/max, 2-3 radix histograms,
 * apply, count); Wanda one radix select per row (linear time, no sort);
 * SparseGPT ~(2/3) cols^3 flops for the factorization plus rows * cols^2
 * for the lazy updates. Memory besides W: magnitude a 2048-count histogram
 * per thread; Wanda 2 * cols uint32 per thread; SparseGPT a cols^2 copy of
 * H unless consume, plus rows * blocksize floats, uint32s and bytes and a
 * cols * 256 float scratch.
 */
int alc_prune(float *W, int64_t rows, int64_t cols,
              struct alc_prune_stats *stats, const struct alc_prune_opts *o,
              struct alc_prune_result *res, struct alc_diag *d);

/*
 * The kernels behind alc_prune, for callers that hold raw statistics:
 * scaler_row (cols) f32 as the reference's float32 vector; H (cols, cols)
 * f32 with at least the upper triangle (j >= i) valid, which SparseGPT
 * overwrites (its strict lower triangle too).
 */
int alc_prune_magnitude(float *W, int64_t rows, int64_t cols,
                        const struct alc_prune_opts *o,
                        struct alc_prune_result *res, struct alc_diag *d);
int alc_prune_wanda(float *W, int64_t rows, int64_t cols,
                    const float *scaler_row, const struct alc_prune_opts *o,
                    struct alc_prune_result *res, struct alc_diag *d);
int alc_prune_sparsegpt(float *W, int64_t rows, int64_t cols, float *H,
                        const struct alc_prune_opts *o,
                        struct alc_prune_result *res, struct alc_diag *d);

/* ---- AlphaPruning: heavy-tail exponent of the weight spectrum ---- */

/*
 * lambda = singular values of W squared, ascending, N = min(rows, cols) of
 * them, computed as the eigenvalues of the smaller Gram matrix (W^T W or
 * W W^T) in double (tiled syrk over f32->double chunks on the pool, then
 * LAPACK dsyevd, values only, single-threaded for reproducibility). The
 * reference uses float32 svdvals; the double Gram is more accurate for
 * every eigenvalue above ~1e-15 lambda_max and cheaper than an SVD. Values
 * <= N * DBL_EPSILON * lambda_max are numerical zeros and set to 0.
 * Memory: N^2 doubles (134 MB for N = 4096).
 */
int alc_esd_eigs(const void *w, enum alc_dtype dt, int64_t rows, int64_t cols,
                 struct alc_pool *pool, double *eigs, struct alc_diag *d);

/*
 * Power-law fits of ascending eigenvalues (lib/esd_utils.py,
 * net_esd_estimator). For a candidate x_min = lambda_i, n = N - i:
 *   alpha_i = 1 + n / (sum_{j>=i} ln lambda_j - n ln lambda_i)
 *   D_i = max_k |1 - (lambda_{i+k}/x_min)^(1-alpha_i) - k/n|, k < n
 * alc_esd_fit_peak: fix_fingers='xmin_peak' (AlphaPruning's default
 * metric): candidates near the peak of a 100-bin histogram of log10 lambda,
 * alpha of the first minimal D (see esd.c for the log10 quirk).
 * alc_esd_fit_mid: fix_fingers='xmin_mid', x_min = lambda_{int(N/2)}: the
 * Hill estimator (PL_Alpha_Hill). Every lambda must be > 0 (else NaN).
 * D may be NULL. The pool (may be NULL) spreads the candidates.
 */
void alc_esd_fit_peak(const double *eigs, int64_t n, struct alc_pool *pool,
                      double *alpha, double *D);
void alc_esd_fit_mid(const double *eigs, int64_t n, double *alpha, double *D);

struct alc_esd_result {
    double alpha_peak, D_peak; /* fix_fingers='xmin_peak' */
    double alpha_hill, D_hill; /* fix_fingers='xmin_mid' */
    double spectral_norm;      /* lambda_max, as the reference names it */
    int64_t n_eigs;            /* min(rows, cols) */
};

/*
 * Both estimators of one matrix (w: (rows, cols) of dtype dt, e.g. the
 * model's BF16 weights; converted to f32 as the reference does). A matrix
 * with an eigenvalue <= 0 (rank-deficient) gets NaN alphas and a warning.
 */
int alc_esd_matrix(const void *w, enum alc_dtype dt, int64_t rows, int64_t cols,
                   struct alc_pool *pool, struct alc_esd_result *out,
                   struct alc_diag *d);

/*
 * AlphaPruning's block_wise mapping input: out[i] = mean of alpha over the
 * group of per_block consecutive matrices containing i (7 for LLaMA). n need
 * not be a multiple of per_block (the last group is shorter).
 */
void alc_esd_block_mean(const double *alpha, int64_t n, int per_block,
                        double *out);

#endif /* ALC_PRUNE_H */
