/*
 * session_pass.c: the two passes of the session (session.h) over the
 * calibration windows, block by block (forward.h's pruning loop):
 *   pass 1 (alc_session_prepare -> alc_session_pass1): dense model, Wanda's
 *     scaler_row per linear -> the act vectors of the units view;
 *   pass 2 (alc_session_prune): sequential pruning, statistics of block l
 *     from the still-dense block l fed with the pruned blocks' outputs.
 * Linears that read the same input (q/k/v; gate/up) share one statistics
 * object: Q, K and V see bit-identical X, so their statistics are equal.
 *
 * Dimension letters: N calibration windows of T tokens, B windows per
 * forward batch, C hidden size, L blocks.
 */
#include <math.h>
#include <stdlib.h>

#include "forward.h"
#include "session.h"
#include "session_internal.h"

/* ---- Linears grouped by their input ---- */

/* ORDER enum alc_lin: q k v read the normed hidden state, o the attention
 * output, gate and up the normed MLP input, down the MLP hidden state. */
static const int group_of[ALC_LIN_COUNT] = {
    [ALC_LIN_Q] = 0, [ALC_LIN_K] = 0,    [ALC_LIN_V] = 0, [ALC_LIN_O] = 1,
    [ALC_LIN_GATE] = 2, [ALC_LIN_UP] = 2, [ALC_LIN_DOWN] = 3,
};
_Static_assert(ALC_LIN_COUNT == 7, "group_of out of sync with enum alc_lin");
#define N_GROUPS 4

/* Statistics of one block, fed by the forward pass's hook. */
struct block_stats {
    struct alc_prune_stats st[N_GROUPS];
    int leader[N_GROUPS]; /* first present linear of the group, or -1 */
    int last[N_GROUPS];   /* last present linear of the group, or -1 */
    int64_t nseq;         /* sequences in the batch being fed */
    struct alc_pool *pool;
    struct alc_diag *d;
};

static void stats_free(struct block_stats *h)
{
    for (int g = 0; g < N_GROUPS; g++) {
        alc_prune_stats_free(&h->st[g]);
    }
}

static int stats_init(struct block_stats *h, const struct alc_block *b,
                      unsigned which, struct alc_pool *pool,
                      struct alc_diag *d)
{
    memset(h, 0, sizeof *h);
    h->pool = pool;
    h->d = d;
    for (int g = 0; g < N_GROUPS; g++) {
        h->leader[g] = h->last[g] = -1;
    }
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        int g = group_of[lin];
        if (b->w[lin] == NULL) {
            continue;
        }
        h->last[g] = lin;
        if (h->leader[g] < 0) {
            h->leader[g] = lin;
        }
    }
    for (int g = 0; g < N_GROUPS; g++) {
        if (h->leader[g] >= 0 &&
            alc_prune_stats_init(&h->st[g], b->in[h->leader[g]], which,
                                 d) != 0) {
            stats_free(h);
            return -1;
        }
    }
    return 0;
}

/* alc_lin_hook: feeds the batch to the group's statistics once. */
static int stats_hook(void *ctx, int layer, enum alc_lin lin, const float *x,
                      int64_t rows, int in)
{
    struct block_stats *h = ctx;
    int g = group_of[lin];
    (void)layer;
    (void)in;
    if (h->leader[g] != (int)lin) {
        return 0;
    }
    return alc_prune_stats_add_batch(&h->st[g], x, rows, h->nseq, h->pool,
                                     h->d);
}

/* ---- Calibration inputs ---- */

int alc_session_calib_batch(const struct alc_session *s)
{
    int N = s->calib.nsamples, T = s->calib.seqlen;
    int B = s->calib_batch > 0 ? s->calib_batch : 4096 / T;
    B = B < N ? B : N;
    return B < 1 ? 1 : B;
}

/* The forward state and inps (N, T, C) = embeddings of every window. */
static int begin_inputs(struct alc_session *s, struct alc_fwd *f,
                        float **inps, struct alc_diag *d)
{
    const struct alc_model *m = &s->model;
    int N = s->calib.nsamples, T = s->calib.seqlen, B = alc_session_calib_batch(s);
    size_t C = (size_t)m->cfg.dim;
    *inps = NULL;
    if (alc_fwd_init(f, m, B, T, s->n_threads, d) != 0) {
        return -1;
    }
    *inps = malloc((size_t)N * T * C * sizeof **inps);
    if (*inps == NULL) {
        alc_diag_errorf(d, "calibration: out of memory for %d x %d x %zu "
                        "hidden states", N, T, C);
        alc_fwd_free(f);
        return -1;
    }
    for (int b0 = 0; b0 < N; b0 += B) {
        int nb = N - b0 < B ? N - b0 : B;
        if (alc_fwd_embed(f, s->calib.ids + (int64_t)b0 * T, nb, T,
                          *inps + (size_t)b0 * T * C, d) != 0) {
            free(*inps);
            *inps = NULL;
            alc_fwd_free(f);
            return -1;
        }
    }
    return 0;
}

/*
 * Runs every batch of inps through block b. With a hook, the statistics
 * are fed; in_place = 0 runs on a copy per batch (tmp, B*T*C floats) and
 * leaves inps alone.
 */
static int run_block(struct alc_session *s, struct alc_fwd *f,
                     const struct alc_block *b, float *inps, float *tmp,
                     struct block_stats *h, int in_place, struct alc_diag *d)
{
    int N = s->calib.nsamples, T = s->calib.seqlen, B = alc_session_calib_batch(s);
    size_t C = (size_t)s->model.cfg.dim;
    for (int b0 = 0; b0 < N; b0 += B) {
        int nb = N - b0 < B ? N - b0 : B;
        float *x = inps + (size_t)b0 * T * C;
        if (!in_place) {
            memcpy(tmp, x, (size_t)nb * T * C * sizeof *tmp);
            x = tmp;
        }
        if (h != NULL) {
            h->nseq = nb;
        }
        if (alc_fwd_block(f, b, x, nb, T, h ? stats_hook : NULL, h, d) !=
            0) {
            return -1;
        }
    }
    return 0;
}

/* ---- Pass 1: act vectors of the dense model ---- */

static int keep_act(struct alc_session *s, const struct alc_block *b,
                    struct block_stats *h, struct alc_diag *d)
{
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        int k = b->layer * ALC_LIN_COUNT + lin;
        if (b->w[lin] == NULL) {
            continue;
        }
        s->act[k] = malloc((size_t)b->in[lin] * sizeof *s->act[k]);
        if (s->act[k] == NULL) {
            alc_diag_errorf(d, "pass 1: out of memory");
            return -1;
        }
        alc_prune_stats_act_norm(&h->st[group_of[lin]], s->act[k]);
    }
    return 0;
}

int alc_session_pass1(struct alc_session *s, struct alc_diag *d)
{
    struct alc_fwd f;
    struct alc_progress pr;
    float *inps = NULL;
    int rc = -1, L = s->model.cfg.n_layers;
    double t0 = alc_now();
    if (!s->have_calib) {
        alc_diag_errorf(d, "the allocation reads `wanda` or `act`, which "
                        "need calibration data (--calib FILE)");
        return -1;
    }
    alc_session_reset(s); /* pass 1 sees the dense weights */
    if (begin_inputs(s, &f, &inps, d) != 0) {
        return -1;
    }
    alc_progress_begin(&pr, "pass 1 (dense statistics)", L);
    pr.quiet = pr.quiet || !s->progress;
    for (int l = 0; l < L; l++) {
        struct alc_block b;
        struct block_stats h;
        if (alc_block_load(&b, &s->model, l, f.pool, d) != 0) {
            goto done;
        }
        int ok = stats_init(&h, &b, ALC_STAT_SCALER, f.pool, d) == 0;
        ok = ok && run_block(s, &f, &b, inps, NULL, &h, 1, d) == 0 &&
             keep_act(s, &b, &h, d) == 0;
        stats_free(&h);
        alc_block_free(&b);
        if (!ok) {
            goto done;
        }
        alc_progress_step(&pr, 1);
    }
    alc_progress_end(&pr);
    s->have_act = 1;
    rc = 0;
done:
    free(inps);
    alc_fwd_free(&f);
    s->t.pass1 = alc_now() - t0;
    return rc;
}

/* ---- Pass 2: sequential pruning ---- */

static int64_t count_zeros(const float *w, int64_t n)
{
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++) {
        z += w[i] == 0.0f;
    }
    return z;
}

/* The pruning job of one pass-2 call. */
struct pass2 {
    struct alc_session *s;
    const struct alc_prune_opts *o;
    const double *slot_ratio;        /* [n_slots] */
    struct alc_prune_report *r;
    struct alc_sb warn;
};

static void note_fallback(struct pass2 *p, const struct alc_block *b,
                          int lin, const struct alc_prune_result *res,
                          const struct alc_diag *kd)
{
    const char *name = alc_lin_name(p->s->model.cfg.arch, (enum alc_lin)lin);
    const char *txt = alc_diag_text(kd);
    alc_sb_printf(&p->warn, "block %d %s: %s", b->layer, name,
                  txt[0] ? txt : "SparseGPT fallback\n");
    p->r->n_fallbacks++;
    (void)res;
}

/* Prunes every linear of block b (f32, in place) from h's statistics. */
static int prune_block(struct pass2 *p, struct alc_block *b,
                       struct block_stats *h, struct alc_pool *pool,
                       struct alc_diag *d)
{
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        int k = b->layer * ALC_LIN_COUNT + lin, g = group_of[lin];
        struct alc_lin_result *lr = &p->r->lin[k];
        struct alc_prune_opts po = *p->o;
        struct alc_prune_result res;
        struct alc_diag kd;
        if (b->w[lin] == NULL) {
            continue;
        }
        memset(&res, 0, sizeof res);
        po.sparsity = p->slot_ratio[k];
        po.pool = pool;
        po.consume = h != NULL && h->last[g] == lin;
        alc_diag_init(&kd);
        int rc = alc_prune(b->w[lin], b->out[lin], b->in[lin],
                           h ? &h->st[g] : NULL, &po, &res, &kd);
        if (rc != 0) {
            alc_diag_errorf(d, "block %d %s: %s", b->layer,
                            alc_lin_name(p->s->model.cfg.arch,
                                         (enum alc_lin)lin),
                            kd.first[0] ? kd.first : "pruning failed");
            alc_diag_free(&kd);
            return -1;
        }
        if (res.fallback != ALC_FALLBACK_NONE) {
            note_fallback(p, b, lin, &res, &kd);
        }
        alc_diag_free(&kd);
        lr->pruned = res.pruned;
        lr->loss = res.loss;
        lr->fallback = res.fallback;
        lr->seconds = res.seconds;
    }
    return 0;
}

/* After alc_block_store rounded b's weights: the zeros a reload sees. */
static void count_block(struct pass2 *p, const struct alc_block *b)
{
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        int k = b->layer * ALC_LIN_COUNT + lin;
        struct alc_lin_result *lr = &p->r->lin[k];
        if (b->w[lin] == NULL) {
            continue;
        }
        lr->zeros = count_zeros(b->w[lin], lr->numel);
        p->r->numel += lr->numel;
        p->r->pruned += lr->pruned;
        p->r->zeros += lr->zeros;
    }
}

/*
 * One block of pass 2: load (dense: the model has no override for it
 * yet), statistics from the inputs on a copy, prune, store, and unless it
 * is the last block, the pruned block's outputs replace inps.
 */
static int pass2_block(struct pass2 *p, struct alc_fwd *f, int l,
                       float *inps, float *tmp, struct alc_diag *d)
{
    struct alc_session *s = p->s;
    struct alc_block b;
    struct block_stats h;
    unsigned which = alc_prune_stats_needed(p->o->method);
    struct alc_pool *pool = f ? f->pool : s->pool;
    int rc = -1, have_h = 0;
    double t0 = alc_now();
    if (alc_block_load(&b, &s->model, l, pool, d) != 0) {
        return -1;
    }
    p->r->seconds_io += alc_now() - t0;
    if (which != 0) {
        t0 = alc_now();
        if (stats_init(&h, &b, which, pool, d) != 0) {
            goto done;
        }
        have_h = 1;
        if (run_block(s, f, &b, inps, tmp, &h, 0, d) != 0) {
            goto done;
        }
        p->r->seconds_stats += alc_now() - t0;
    }
    t0 = alc_now();
    if (prune_block(p, &b, have_h ? &h : NULL, pool, d) != 0) {
        goto done;
    }
    p->r->seconds_prune += alc_now() - t0;
    t0 = alc_now();
    if (alc_block_store(&s->model, &b, d) != 0) {
        goto done;
    }
    p->r->seconds_io += alc_now() - t0;
    count_block(p, &b);
    if (which != 0 && l + 1 < s->model.cfg.n_layers) {
        t0 = alc_now();
        if (run_block(s, f, &b, inps, NULL, NULL, 1, d) != 0) {
            goto done;
        }
        p->r->seconds_forward += alc_now() - t0;
    }
    rc = 0;
done:
    if (have_h) {
        stats_free(&h);
    }
    alc_block_free(&b);
    return rc;
}

static int pass2_layers(struct pass2 *p, struct alc_diag *d)
{
    struct alc_session *s = p->s;
    struct alc_fwd f;
    struct alc_progress pr;
    float *inps = NULL, *tmp = NULL;
    int rc = -1, L = s->model.cfg.n_layers, fwd = 0;
    if (alc_prune_stats_needed(p->o->method) != 0) {
        double t0 = alc_now();
        if (begin_inputs(s, &f, &inps, d) != 0) {
            return -1;
        }
        fwd = 1;
        tmp = malloc((size_t)alc_session_calib_batch(s) * s->calib.seqlen *
                     (size_t)s->model.cfg.dim * sizeof *tmp);
        if (tmp == NULL) {
            alc_diag_errorf(d, "pass 2: out of memory");
            goto done;
        }
        p->r->seconds_forward += alc_now() - t0;
    }
    alc_progress_begin(&pr, p->r->method, L);
    pr.quiet = pr.quiet || !s->progress;
    for (int l = 0; l < L; l++) {
        if (pass2_block(p, fwd ? &f : NULL, l, inps, tmp, d) != 0) {
            goto done;
        }
        alc_progress_stepf(&pr, 1, "block %d", l);
    }
    alc_progress_end(&pr);
    rc = 0;
done:
    free(tmp);
    free(inps);
    if (fwd) {
        alc_fwd_free(&f);
    }
    return rc;
}

/* ---- Checks and the public entry ---- */

static int check_ratios(const struct alc_session *s, const double *ratio,
                        const struct alc_prune_opts *o, struct alc_diag *d)
{
    for (int u = 0; u < s->view.n_units; u++) {
        double r = ratio[u];
        if (!(r >= 0.0 && r < 1.0)) {
            alc_diag_errorf(d, "%s: sparsity %.17g is outside [0, 1); "
                            "nothing was pruned", s->unit_name[u], r);
            return -1;
        }
        if (o->n > 0 && r != (double)o->n / o->m) {
            alc_diag_errorf(d, "%d:%d sparsity prunes exactly %g of every "
                            "row, but %s asks for %.6g; N:M needs the "
                            "uniform allocation with S = %g (as Wanda's "
                            "main.py asserts)", o->n, o->m,
                            (double)o->n / o->m, s->unit_name[u], r,
                            (double)o->n / o->m);
            return -1;
        }
    }
    return 0;
}

static int check_prune(const struct alc_session *s, const double *ratio,
                       const struct alc_prune_opts *o, struct alc_diag *d)
{
    if (!s->have_view) {
        alc_diag_errorf(d, "prune: no units view (alc_session_prepare)");
        return -1;
    }
    if ((int)o->method < 0 || o->method >= ALC_PRUNE_COUNT) {
        alc_diag_errorf(d, "prune: unknown method");
        return -1;
    }
    if (o->n < 0 || (o->n > 0 && (o->m <= o->n))) {
        alc_diag_errorf(d, "prune: bad N:M pattern %d:%d", o->n, o->m);
        return -1;
    }
    if (alc_prune_stats_needed(o->method) != 0 && !s->have_calib) {
        alc_diag_errorf(d, "%s needs calibration data (--calib FILE)",
                        alc_prune_method_name[o->method]);
        return -1;
    }
    return check_ratios(s, ratio, o, d);
}

static void report_init(struct alc_session *s, const double *slot_ratio,
                        const struct alc_prune_opts *o,
                        struct alc_prune_report *r)
{
    struct alc_sb name;
    memset(r, 0, sizeof *r);
    r->n_slots = s->n_slots;
    r->lin = calloc((size_t)s->n_slots, sizeof *r->lin);
    alc_sb_init(&name);
    alc_sb_puts(&name, alc_prune_method_name[o->method]);
    if (o->n > 0) {
        alc_sb_printf(&name, " %d:%d", o->n, o->m);
    }
    r->method = alc_sb_take(&name);
    for (int k = 0; r->lin != NULL && k < s->n_slots; k++) {
        int l = k / ALC_LIN_COUNT, lin = k % ALC_LIN_COUNT;
        struct alc_tref t = alc_model_bref(&s->model, l, lin);
        const struct alc_st_tensor *st = alc_model_st(&s->model, t);
        r->lin[k].layer = l;
        r->lin[k].lin = (enum alc_lin)lin;
        if (st != NULL) {
            r->lin[k].rows = st->shape[0];
            r->lin[k].cols = st->shape[1];
            r->lin[k].numel = st->numel;
            r->lin[k].ratio = slot_ratio[k];
        }
    }
}

void alc_prune_report_free(struct alc_prune_report *r)
{
    free(r->lin);
    free(r->method);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}

int alc_session_prune(struct alc_session *s, const double *unit_ratio,
                      const struct alc_prune_opts *o,
                      struct alc_prune_report *r, struct alc_diag *d)
{
    struct pass2 p;
    double t0 = alc_now();
    double *slot = NULL;
    int rc = -1;
    memset(r, 0, sizeof *r);
    if (check_prune(s, unit_ratio, o, d) != 0) {
        return -1;
    }
    slot = calloc((size_t)s->n_slots, sizeof *slot);
    if (slot == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        return -1;
    }
    alc_session_slot_ratios(s, unit_ratio, slot);
    report_init(s, slot, o, r);
    if (r->lin == NULL || r->method == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        free(slot);
        return -1;
    }
    alc_session_reset(s); /* every candidate starts from the dense weights */
    memset(&p, 0, sizeof p);
    p.s = s;
    p.o = o;
    p.slot_ratio = slot;
    p.r = r;
    alc_sb_init(&p.warn);
    s->pruned = 1;
    rc = pass2_layers(&p, d);
    r->warnings = p.warn.len ? alc_sb_take(&p.warn) : NULL;
    alc_sb_free(&p.warn);
    free(slot);
    r->seconds = alc_now() - t0;
    s->t.prune = r->seconds;
    if (rc != 0) {
        alc_session_reset(s); /* never leave a half-pruned model */
    }
    return rc;
}
