/*
 * eval.c: perplexity over non-overlapping windows (protocol in eval.h).
 * Batches of windows stream through the model block by block
 * (alc_fwd_nll); the per-window losses are summed in double in a fixed
 * order, so the result has the same bits for any thread count and batch.
 */
#include <math.h>
#include <stdlib.h>

#include "eval.h"
#include "forward.h"

int alc_eval_auto_batch(const struct alc_model *m, int seqlen,
                        int64_t n_windows, int n_threads)
{
    const struct alc_config *c = &m->cfg;
    /* enough rows for efficient GEMM tiles and work for every thread ... */
    int64_t b = (4096 + seqlen - 1) / seqlen;
    if (b < n_threads) {
        b = n_threads;
    }
    /* ... within about 2 GB of activations */
    double row_bytes = 4.0 * (2.0 * c->dim + 2.0 * c->n_heads * c->head_dim +
                              2.0 * c->n_kv_heads * c->head_dim +
                              2.0 * c->hidden_dim + 4096.0);
    int64_t cap = (int64_t)(2e9 / (row_bytes * seqlen));
    b = b < cap ? b : cap;
    b = b < n_windows ? b : n_windows;
    return b < 1 ? 1 : (int)b;
}

static void summarize(struct alc_eval_result *r)
{
    double sum = 0.0, ss = 0.0;
    for (int64_t w = 0; w < r->n_windows; w++) {
        sum += r->window_nll[w];
    }
    r->mean_nll = sum / (double)r->n_windows;
    for (int64_t w = 0; w < r->n_windows; w++) {
        double e = r->window_nll[w] - r->mean_nll;
        ss += e * e;
    }
    r->nll_sd = r->n_windows > 1 ? sqrt(ss / (double)(r->n_windows - 1)) : 0;
    r->ppl = exp(r->mean_nll);
    r->ppl_se = r->ppl * r->nll_sd / sqrt((double)r->n_windows);
}

static int check_opts(const struct alc_model *m, int64_t n,
                      const struct alc_eval_opts *o, struct alc_diag *d)
{
    if (o->seqlen < 2) {
        alc_diag_errorf(d, "eval: seqlen %d is below 2", o->seqlen);
        return -1;
    }
    if (n / o->seqlen < 1) {
        alc_diag_errorf(d, "eval: %lld tokens do not fill one window of %d",
                        (long long)n, o->seqlen);
        return -1;
    }
    if (!m->cfg.rope && o->seqlen > m->cfg.max_pos) {
        alc_diag_errorf(d,
                        "eval: seqlen %d exceeds the model's %d learned "
                        "positions",
                        o->seqlen, m->cfg.max_pos);
        return -1;
    }
    return 0;
}

int alc_eval_ppl(const struct alc_model *m, const int32_t *ids, int64_t n,
                 const struct alc_eval_opts *o, struct alc_eval_result *r,
                 struct alc_diag *d)
{
    struct alc_fwd f;
    struct alc_progress pr;
    float *nll = NULL;
    int rc = -1, T = o->seqlen, have_fwd = 0;
    memset(r, 0, sizeof *r);
    if (check_opts(m, n, o, d) != 0) {
        return -1;
    }
    r->n_ids = n;
    r->seqlen = T;
    r->n_avail = n / T;
    r->n_windows = r->n_avail;
    if (o->max_windows > 0 && o->max_windows < r->n_windows) {
        r->n_windows = o->max_windows;
    }
    r->n_dropped = n - r->n_avail * T;
    r->n_scored = r->n_windows * (T - 1);
    int threads = o->n_threads > 0 ? o->n_threads : alc_default_threads();
    int B = o->batch > 0 ? o->batch
                         : alc_eval_auto_batch(m, T, r->n_windows, threads);
    B = B < r->n_windows ? B : (int)r->n_windows;
    r->batch = B;
    r->window_nll = calloc((size_t)r->n_windows, sizeof(double));
    nll = malloc((size_t)B * (T - 1) * sizeof(float));
    if (r->window_nll == NULL || nll == NULL) {
        alc_diag_errorf(d, "eval: out of memory");
        goto done;
    }
    if (alc_fwd_init(&f, m, B, T, threads, d) != 0) {
        goto done;
    }
    have_fwd = 1;
    r->n_threads = f.n_threads;
    double t0 = alc_now(), run = 0.0;
    alc_progress_begin(&pr, "eval", r->n_windows);
    pr.quiet = pr.quiet || !o->progress;
    for (int64_t w0 = 0; w0 < r->n_windows; w0 += B) {
        int nb = r->n_windows - w0 < B ? (int)(r->n_windows - w0) : B;
        if (alc_fwd_nll(&f, ids + w0 * T, nb, T, nll, d) != 0) {
            goto done;
        }
        for (int b = 0; b < nb; b++) {
            double s = 0.0;
            for (int t = 0; t < T - 1; t++) {
                s += nll[(int64_t)b * (T - 1) + t];
            }
            r->window_nll[w0 + b] = s / (T - 1);
            run += r->window_nll[w0 + b];
        }
        alc_progress_stepf(&pr, nb, "ppl %.4f", exp(run / (double)(w0 + nb)));
    }
    alc_progress_end(&pr);
    r->seconds = alc_now() - t0;
    r->tokens_per_s =
        r->seconds > 0 ? (double)r->n_windows * T / r->seconds : 0.0;
    summarize(r);
    rc = 0;
done:
    if (have_fwd) {
        alc_fwd_free(&f);
    }
    free(nll);
    if (rc != 0) {
        alc_eval_result_free(r);
    }
    return rc;
}

void alc_eval_result_free(struct alc_eval_result *r)
{
    free(r->window_nll);
    r->window_nll = NULL;
}
