/*
 * eval.h: perplexity under the GPTQ / SparseGPT / Wanda protocol
 * (methods.md §1.5, users.md §2.5): the token ids of the whole text
 * (tokenized once, BOS once at the start when the tokenizer adds one) are
 * cut into floor(n / T) non-overlapping windows of T tokens (the tail is
 * dropped); each window's loss is the mean next-token cross-entropy over
 * its T - 1 predictions; PPL = exp(mean over windows of the window losses).
 * The reported uncertainty is the delta-method standard error
 * PPL * sd(window losses) / sqrt(windows). Used by `dsac eval`, the bench,
 * and Runtime II (pruned models: overrides are seen).
 */
#ifndef ALC_EVAL_H
#define ALC_EVAL_H

#include <stdint.h>

#include "alc_common.h"
#include "model.h"

struct alc_eval_opts {
    int seqlen;          /* T, tokens per window (>= 2) */
    int64_t max_windows; /* use the first K windows; 0 = all */
    int batch;           /* windows per forward batch; <= 0: automatic */
    int n_threads;       /* <= 0: all cores */
    int progress;        /* progress line with ETA on stderr */
};

struct alc_eval_result {
    int64_t n_ids;     /* tokens given */
    int64_t n_windows; /* windows evaluated */
    int64_t n_avail;   /* floor(n_ids / T) */
    int64_t n_dropped; /* tail tokens that fill no window */
    int64_t n_scored;  /* n_windows * (T - 1) predictions */
    int seqlen, batch, n_threads;
    double mean_nll;     /* mean over windows of the window mean NLL (nats) */
    double nll_sd;       /* sample standard deviation of the window losses */
    double ppl;          /* exp(mean_nll) */
    double ppl_se;       /* ppl * nll_sd / sqrt(n_windows) */
    double seconds;      /* wall time of the evaluation */
    double tokens_per_s; /* n_windows * T / seconds */
    double *window_nll;  /* [n_windows]; malloc'd, see alc_eval_result_free */
};

int alc_eval_ppl(const struct alc_model *m, const int32_t *ids, int64_t n,
                 const struct alc_eval_opts *o, struct alc_eval_result *r,
                 struct alc_diag *d);
void alc_eval_result_free(struct alc_eval_result *r);
/* The batch the automatic choice gives for a model and window length. */
int alc_eval_auto_batch(const struct alc_model *m, int seqlen,
                        int64_t n_windows, int n_threads);

#endif /* ALC_EVAL_H */
