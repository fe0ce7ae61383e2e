/*
 * session_alloc.c: the session's side of the compiled-allocation interface
 * (compiler/alloc.h): the dense statistics a program reads (pass 1's act
 * vectors, AlphaPruning's alpha per matrix), the units view over the
 * mmapped dense weights, evaluating a compiled program into per-unit
 * ratios, and checking them (never prune with NaN): an invalid allocation
 * gets one message naming the units and values, plus alc_explain's
 * account of the op that produced a NaN or inf.
 */
#include <math.h>
#include <stdlib.h>

#include "interp.h"
#include "session.h"
#include "session_internal.h"

#if defined(__has_include)
#if __has_include("backend_select.h")
#include "backend_select.h" /* the CUDA helper's selection (GPU probe) */
#define HAVE_BACKEND_SELECT 1
#endif
#endif

/* ---- Backends ---- */

int alc_session_backend(const char *name, enum alc_backend *be,
                        struct alc_diag *d)
{
#ifdef HAVE_BACKEND_SELECT
    return alc_backend_select(name, be, d);
#else
    /* No GPU backend in this tree yet: when compiler/backend_select.h
     * lands, the branch above picks CUDA for auto when a GPU is usable. */
    if (strcmp(name, "auto") == 0 || strcmp(name, "llvm") == 0) {
        *be = ALC_BE_LLVM;
        return 0;
    }
    if (strcmp(name, "interp") == 0) {
        *be = ALC_BE_INTERP;
        return 0;
    }
    if (strcmp(name, "cuda") == 0) {
        alc_diag_errorf(d, "the CUDA backend is not part of this build "
                        "(use auto, llvm or interp)");
        return -1;
    }
    alc_diag_errorf(d, "unknown backend '%s' (auto|llvm|interp|cuda)", name);
    return -1;
#endif
}

/* ---- AlphaPruning's statistics ---- */

static int compute_alpha(struct alc_session *s, struct alc_diag *d)
{
    struct alc_progress pr;
    double t0 = alc_now();
    alc_progress_begin(&pr, "alpha (ESD of every matrix)", s->n_slots);
    pr.quiet = pr.quiet || !s->progress;
    for (int k = 0; k < s->n_slots; k++) {
        struct alc_tref r = alc_model_bref(&s->model, k / ALC_LIN_COUNT,
                                           k % ALC_LIN_COUNT);
        const struct alc_st_tensor *t = alc_model_st(&s->model, r);
        if (t != NULL &&
            alc_esd_matrix(t->data, (enum alc_dtype)t->dtype, t->shape[0],
                           t->shape[1], s->pool, &s->esd[k], d) != 0) {
            return -1;
        }
        if (t != NULL) {
            alc_model_release(&s->model, r);
        }
        alc_progress_step(&pr, 1);
    }
    alc_progress_end(&pr);
    s->have_alpha = 1;
    s->t.alpha = alc_now() - t0;
    return 0;
}

/* ---- Units view ---- */

/* The matrices: every present linear, block by block. */
static void build_mats(struct alc_session *s)
{
    s->n_mats = 0;
    for (int k = 0; k < s->n_slots; k++) {
        struct alc_tref r = alc_model_bref(&s->model, k / ALC_LIN_COUNT,
                                           k % ALC_LIN_COUNT);
        const struct alc_st_tensor *t = alc_model_st(&s->model, r);
        if (t == NULL) {
            continue;
        }
        struct alc_mat_view *v = &s->mats[s->n_mats];
        v->w = t->data; /* the mapped dense bytes, never an override */
        v->dtype = (enum alc_dtype)t->dtype;
        v->rows = t->shape[0];
        v->cols = t->shape[1];
        v->act = s->act[k];
        v->alpha_peak = s->have_alpha ? s->esd[k].alpha_peak : NAN;
        v->alpha_hill = s->have_alpha ? s->esd[k].alpha_hill : NAN;
        v->name = t->name;
        s->mat_slot[s->n_mats++] = k;
    }
}

void alc_session_free_units(struct alc_session *s)
{
    for (int u = 0; s->unit_name != NULL && u < s->view.n_units; u++) {
        free(s->unit_name[u]);
    }
    free(s->unit_name);
    free(s->units);
    free(s->unit_layer);
    free(s->unit_lin);
    s->unit_name = NULL;
    s->units = NULL;
    s->unit_layer = NULL;
    s->unit_lin = NULL;
    s->view.units = NULL;
    s->view.n_units = 0;
    s->have_view = 0;
}

static int alloc_units(struct alc_session *s, int n)
{
    s->units = calloc((size_t)n, sizeof *s->units);
    s->unit_layer = calloc((size_t)n, sizeof *s->unit_layer);
    s->unit_lin = calloc((size_t)n, sizeof *s->unit_lin);
    s->unit_name = calloc((size_t)n, sizeof *s->unit_name);
    s->view.units = s->units;
    s->view.n_units = n;
    return s->units && s->unit_layer && s->unit_lin && s->unit_name ? 0
                                                                     : -1;
}

static char *block_name(int l)
{
    char buf[32];
    snprintf(buf, sizeof buf, "block %d", l);
    return strdup(buf);
}

static int build_units(struct alc_session *s, enum alc_gran gran)
{
    int L = s->model.cfg.n_layers;
    int n = gran == ALC_GRAN_BLOCK ? L : s->n_mats;
    if (alloc_units(s, n) != 0) {
        return -1;
    }
    for (int i = 0, u = -1; i < s->n_mats; i++) {
        int k = s->mat_slot[i], l = k / ALC_LIN_COUNT;
        if (gran == ALC_GRAN_LINEAR || u < 0 || s->unit_layer[u] != l) {
            u++;
            s->units[u].mats = &s->mats[i];
            s->units[u].block = l;
            s->unit_layer[u] = l;
            s->unit_lin[u] = gran == ALC_GRAN_LINEAR ? k % ALC_LIN_COUNT : -1;
            s->unit_name[u] = gran == ALC_GRAN_LINEAR
                                  ? strdup(s->mats[i].name)
                                  : block_name(l);
            if (s->unit_name[u] == NULL) {
                return -1;
            }
        }
        s->units[u].n_mats++;
    }
    for (int u = 0; u < n; u++) {
        s->units[u].name = s->unit_name[u];
    }
    s->gran = gran;
    s->have_view = 1;
    return 0;
}

int alc_session_prepare(struct alc_session *s, unsigned inputs,
                        enum alc_gran gran, struct alc_diag *d)
{
    unsigned act = (1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT);
    unsigned alpha = (1u << ALC_IN_ALPHA_PEAK) | (1u << ALC_IN_ALPHA_HILL);
    if ((int)gran < 0 || gran >= ALC_GRAN_COUNT) {
        alc_diag_errorf(d, "unknown granularity %d", (int)gran);
        return -1;
    }
    if ((inputs & act) && !s->have_act && alc_session_pass1(s, d) != 0) {
        return -1;
    }
    if ((inputs & alpha) && !s->have_alpha && compute_alpha(s, d) != 0) {
        return -1;
    }
    alc_session_free_units(s);
    build_mats(s); /* cheap: refreshes act and alpha pointers */
    if (build_units(s, gran) != 0) {
        alc_session_free_units(s);
        alc_diag_errorf(d, "out of memory for the units view");
        return -1;
    }
    return 0;
}

void alc_session_slot_ratios(const struct alc_session *s,
                             const double *unit_ratio, double *slot_ratio)
{
    for (int k = 0; k < s->n_slots; k++) {
        slot_ratio[k] = 0.0;
    }
    for (int u = 0; u < s->view.n_units; u++) {
        const struct alc_unit_view *v = &s->units[u];
        for (int j = 0; j < v->n_mats; j++) {
            int i = (int)(v->mats + j - s->mats);
            slot_ratio[s->mat_slot[i]] = unit_ratio[u];
        }
    }
}

/* ---- Allocation ---- */

void alc_alloc_result_free(struct alc_alloc_result *r)
{
    free(r->ratio);
    free(r->score);
    free(r->why);
    free(r->warning);
    memset(r, 0, sizeof *r);
}

/* Lists the bad units with their values: "block 0 = nan, block 1 = nan". */
static void put_bad_units(const struct alc_session *s, const double *ratio,
                          struct alc_sb *sb)
{
    int shown = 0, bad = 0;
    for (int u = 0; u < s->view.n_units; u++) {
        double r = ratio[u];
        if (r >= 0.0 && r < 1.0) {
            continue;
        }
        bad++;
        if (shown < 12) {
            alc_sb_printf(sb, "%s%s = ", shown ? ", " : "", s->unit_name[u]);
            if (isnan(r)) {
                alc_sb_puts(sb, "NaN");
            } else {
                alc_sb_printf(sb, "%.6g", r);
            }
            shown++;
        }
    }
    if (bad > shown) {
        alc_sb_printf(sb, " and %d more", bad - shown);
    }
}

/* 1 when a layer- or model-level node is not finite for some unit (the
 * compacted IR holds reachable nodes only; element-level rows are NaN by
 * definition of the table and are skipped). */
static int nonfinite_nodes(const struct alc_ir *ir, const double *nodes,
                           int U)
{
    for (int i = 0; i < ir->n_nodes; i++) {
        if (ir->nodes[i].level == ALC_LV_ELEM) {
            continue;
        }
        for (int u = 0; u < U; u++) {
            if (!isfinite(nodes[(size_t)i * (size_t)U + (size_t)u])) {
                return 1;
            }
        }
    }
    return 0;
}

static char *explain(struct alc_session *s, struct alc_compiled *c,
                     const double *nodes, const char *intro)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_explain(alc_compiled_ir(c), nodes, s->view.n_units, &s->view, &sb);
    if (sb.len == 0) {
        alc_sb_free(&sb);
        return NULL;
    }
    while (sb.len > 0 && sb.s[sb.len - 1] == '\n') {
        sb.s[--sb.len] = '\0';
    }
    char *body = alc_sb_take(&sb);
    alc_sb_puts(&sb, intro);
    alc_sb_puts(&sb, body);
    free(body);
    return alc_sb_take(&sb);
}

static void check_result(struct alc_session *s, struct alc_compiled *c,
                         const double *nodes, struct alc_alloc_result *r)
{
    struct alc_sb sb;
    int bad = 0, nonfinite = 0;
    for (int u = 0; u < r->n_units; u++) {
        double x = r->ratio[u];
        bad += !(x >= 0.0 && x < 1.0);
        nonfinite += !isfinite(x);
    }
    r->valid = bad == 0;
    const struct alc_ir *ir = alc_compiled_ir(c);
    if (r->valid) {
        if (nonfinite_nodes(ir, nodes, r->n_units)) {
            r->warning = explain(s, c, nodes, "the allocation is defined, "
                                 "but part of the program is not (its NaN "
                                 "or inf became finite ratios):\n");
        }
        return;
    }
    alc_sb_init(&sb);
    alc_sb_printf(&sb, "%s: invalid allocation: sparsity must be in [0, 1) "
                  "for every unit, but %d of %d %s: ",
                  ir->file ? ir->file : "allocation", bad, r->n_units,
                  bad == 1 ? "is not" : "are not");
    put_bad_units(s, r->ratio, &sb);
    if (nonfinite > 0) {
        char *ex = explain(s, c, nodes, "\nwhere the NaN / inf came "
                                        "from:\n");
        if (ex != NULL) {
            alc_sb_puts(&sb, ex);
            free(ex);
        }
    }
    r->why = alc_sb_take(&sb);
}

int alc_session_allocate(struct alc_session *s, struct alc_compiled *c,
                         double S, const double *params,
                         struct alc_alloc_result *r, struct alc_diag *d)
{
    int U = s->view.n_units, rc = -1;
    double t0 = alc_now();
    double *nodes = NULL;
    memset(r, 0, sizeof *r);
    if (!s->have_view) {
        alc_diag_errorf(d, "allocate: no units view (alc_session_prepare)");
        return -1;
    }
    const struct alc_ir *ir = alc_compiled_ir(c);
    r->n_units = U;
    r->S = S;
    r->ratio = calloc((size_t)U, sizeof *r->ratio);
    r->score = calloc((size_t)U, sizeof *r->score);
    nodes = malloc((size_t)ir->n_nodes * (size_t)U * sizeof *nodes + 1);
    if (r->ratio == NULL || r->score == NULL || nodes == NULL) {
        alc_diag_errorf(d, "allocate: out of memory");
        goto done;
    }
    /* one evaluation that also records every layer- and model-level node,
     * so that a NaN anywhere can be explained without evaluating again */
    struct alc_eval_opts eo = {S, params, s->n_threads};
    struct alc_eval_out out = {r->ratio, r->score, nodes, 0.0};
    if (alc_evaluate(c, &s->view, &eo, &out, d) != 0) {
        goto done;
    }
    r->seconds = out.seconds;
    check_result(s, c, nodes, r);
    rc = 0;
done:
    free(nodes);
    if (rc != 0) {
        alc_alloc_result_free(r);
    }
    s->t.allocate = alc_now() - t0;
    return rc;
}
