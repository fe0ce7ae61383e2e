/*
 * ppl.c: alc_ppl_compute (ppl.h), the session's door to eval.h. Includes
 * eval.h and never alloc.h (see ppl.h for why).
 */
#include "eval.h"
#include "ppl.h"

int alc_ppl_compute(const struct alc_model *m, const int32_t *ids, int64_t n,
                    int seqlen, int64_t max_windows, int n_threads,
                    int progress, struct alc_ppl *out, struct alc_diag *d)
{
    struct alc_eval_opts o = {seqlen, max_windows, 0, n_threads, progress};
    struct alc_eval_result r;
    memset(out, 0, sizeof *out);
    if (alc_eval_ppl(m, ids, n, &o, &r, d) != 0) {
        return -1;
    }
    out->n_ids = r.n_ids;
    out->n_windows = r.n_windows;
    out->n_avail = r.n_avail;
    out->n_dropped = r.n_dropped;
    out->n_scored = r.n_scored;
    out->seqlen = r.seqlen;
    out->batch = r.batch;
    out->n_threads = r.n_threads;
    out->mean_nll = r.mean_nll;
    out->nll_sd = r.nll_sd;
    out->ppl = r.ppl;
    out->ppl_se = r.ppl_se;
    out->seconds = r.seconds;
    out->tokens_per_s = r.tokens_per_s;
    alc_eval_result_free(&r);
    return 0;
}
