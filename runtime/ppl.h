/*
 * ppl.h: perplexity for the pruning session, in a struct of its own.
 *
 * Why this file exists: runtime/eval.h and compiler/alloc.h both define a
 * `struct alc_eval_opts` (the perplexity protocol's knobs and the
 * allocation's S/params), so no translation unit can include both. The
 * session (session.h) needs the allocation interface, so it reaches
 * alc_eval_ppl through this wrapper (ppl.c includes eval.h, never
 * alloc.h). The protocol is eval.h's, unchanged.
 */
#ifndef ALC_PPL_H
#define ALC_PPL_H

#include <stdint.h>

#include "alc_common.h"
#include "model.h"

/* The fields of struct alc_eval_result (eval.h), without the per-window
 * losses. */
struct alc_ppl {
    int64_t n_ids;       /* tokens given */
    int64_t n_windows;   /* windows evaluated */
    int64_t n_avail;     /* floor(n_ids / T) */
    int64_t n_dropped;   /* tail tokens that fill no window */
    int64_t n_scored;    /* n_windows * (T - 1) predictions */
    int seqlen, batch, n_threads;
    double mean_nll;     /* mean over windows of the window mean NLL */
    double nll_sd;       /* sample standard deviation of window losses */
    double ppl;          /* exp(mean_nll) */
    double ppl_se;       /* ppl * nll_sd / sqrt(n_windows) */
    double seconds;
    double tokens_per_s;
};

/* alc_eval_ppl (eval.h) with seqlen T, the first max_windows windows
 * (0 = all), automatic batch, n_threads (<= 0: all cores). */
int alc_ppl_compute(const struct alc_model *m, const int32_t *ids, int64_t n,
                    int seqlen, int64_t max_windows, int n_threads,
                    int progress, struct alc_ppl *out, struct alc_diag *d);

#endif /* ALC_PPL_H */
