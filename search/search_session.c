/*
 * search_session.c: the search worker's model part (search_worker.h) on
 * the pruning session of runtime/session.h. Opening a worker loads the
 * model, cuts the calibration windows, computes the dense statistics the
 * space's programs read (pass 1, once), and tokenizes the validation text;
 * then per candidate:
 *   ALLOC  alc_session_allocate: the compiled program over the units view
 *          (the session checks the ratios: NaN or outside [0, 1) is an
 *          invalid allocation, with alc_explain's account of the NaN);
 *   EVAL   alc_session_prune (pass 2 from the dense weights, sequential,
 *          block by block) and alc_session_ppl on the first K validation
 *          windows.
 * The session's passes are bit-identical for any thread count, so the
 * fitness of a candidate does not depend on where it was evaluated.
 */
#include <math.h>
#include <stdlib.h>

#include "search_worker.h"
#include "session.h"

struct search_session {
    struct alc_session s;
    int open;
    int valid_idx;
    struct alc_prune_opts popts;
};

static int setup(struct search_session *ses, const struct alc_search_fitness *f,
                 struct alc_diag *d)
{
    struct alc_session_opts so = {f->model, f->threads, f->progress, 0};
    struct alc_calib_opts co = {f->calib, -1, f->nsamples, f->seqlen,
                                ALC_CALIB_EVEN, 0, 0};
    int method = alc_prune_method_from_name(f->method);
    if (method < 0) {
        alc_diag_errorf(d, "search: unknown method '%s'", f->method);
        return -1;
    }
    alc_prune_opts_default(&ses->popts, (enum alc_prune_method)method, f->S);
    ses->popts.n = f->nm_n;
    ses->popts.m = f->nm_m;
    if (alc_session_open(&ses->s, &so, d) != 0) {
        return -1;
    }
    ses->open = 1;
    if (f->calib != NULL && alc_session_calibrate(&ses->s, &co, d) != 0) {
        return -1;
    }
    if (alc_session_prepare(&ses->s, f->inputs, ALC_GRAN_BLOCK, d) != 0) {
        return -1;
    }
    ses->valid_idx = alc_session_data_add(&ses->s, f->valid, -1, 0, d);
    return ses->valid_idx >= 0 ? 0 : -1;
}

int alc_search_session_open(struct alc_search_worker *w, struct alc_diag *d)
{
    struct search_session *ses = calloc(1, sizeof *ses);
    struct alc_ppl ppl;
    if (ses == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    w->ses = ses;
    if (setup(ses, &w->f, d) != 0) {
        alc_search_session_close(w);
        return -1;
    }
    if (w->f.dense) {
        if (alc_session_ppl(&ses->s, ses->valid_idx, w->f.valid_seqlen,
                            w->f.valid_chunks, &ppl, d) != 0) {
            alc_search_session_close(w);
            return -1;
        }
        w->dense_ppl = ppl.ppl;
    }
    ses->s.progress = 0; /* the search prints one line per candidate */
    return 0;
}

void alc_search_session_close(struct alc_search_worker *w)
{
    if (w->ses == NULL) {
        return;
    }
    if (w->ses->open) {
        alc_session_close(&w->ses->s);
    }
    free(w->ses);
    w->ses = NULL;
}

int alc_search_session_alloc(struct alc_search_worker *w,
                             struct alc_compiled *c,
                             struct alc_task_result *r, struct alc_diag *d)
{
    struct alc_alloc_result ar;
    double t0 = alc_now();
    if (alc_session_allocate(&w->ses->s, c, w->f.S, NULL, &ar, d) != 0) {
        return -1;
    }
    r->t_alloc = alc_now() - t0;
    if (ar.valid) {
        r->ratio = ar.ratio;
        r->n_units = ar.n_units;
        ar.ratio = NULL;
    } else {
        r->reject = alc_search_ratio_reject(ar.ratio, ar.n_units);
        if (r->reject == ALC_REJ_NONE) {
            r->reject = ALC_REJ_RANGE;
        }
        r->why = ar.why;
        ar.why = NULL;
    }
    alc_alloc_result_free(&ar);
    return 0;
}

int alc_search_session_eval(struct alc_search_worker *w,
                            const struct alc_task *t,
                            struct alc_task_result *r, struct alc_diag *d)
{
    struct alc_prune_report rep;
    struct alc_ppl ppl;
    struct search_session *ses = w->ses;
    memset(&rep, 0, sizeof rep);
    if (alc_session_prune(&ses->s, t->ratio, &ses->popts, &rep, d) != 0) {
        alc_prune_report_free(&rep);
        return -1;
    }
    r->t_prune = rep.seconds;
    alc_prune_report_free(&rep);
    if (alc_session_ppl(&ses->s, ses->valid_idx, w->f.valid_seqlen,
                        w->f.valid_chunks, &ppl, d) != 0) {
        return -1;
    }
    r->t_eval = ppl.seconds;
    r->fitness = ppl.ppl;
    if (!isfinite(ppl.ppl)) {
        char why[128];
        snprintf(why, sizeof why, "validation perplexity is %g", ppl.ppl);
        r->reject = ALC_REJ_PPL;
        r->why = strdup(why);
    }
    return 0;
}

int alc_search_session_units(const struct alc_search_worker *w)
{
    return w->ses != NULL ? w->ses->s.view.n_units : 0;
}

const char *alc_search_session_unit_name(const struct alc_search_worker *w,
                                         int u)
{
    const struct alc_session *s = &w->ses->s;
    return u >= 0 && u < s->view.n_units ? s->unit_name[u] : "?";
}

void alc_search_session_describe(const struct alc_search_worker *w,
                                 struct alc_sb *out)
{
    const struct alc_session *s = &w->ses->s;
    const struct alc_config *c = &s->model.cfg;
    alc_sb_printf(out, "%s (%s, %d blocks, hidden %d, %lld parameters, "
                       "safetensors headers %016llx)",
                  s->model.dir, alc_arch_table[c->arch].model_type,
                  c->n_layers, c->dim, (long long)s->model.n_params,
                  (unsigned long long)s->model_hash);
}
