/*
 * report.c: text, JSON and SVG reports of a pruning run (report.h).
 */
#include <math.h>
#include <stdlib.h>

#include "forward.h"
#include "report.h"
#include "safetensors.h"

/* ---- Shared ---- */

void alc_json_put_num(struct alc_sb *sb, double v)
{
    if (isfinite(v)) {
        alc_sb_printf(sb, "%.17g", v);
    } else {
        alc_sb_puts(sb, "null");
    }
}

void alc_report_unit_counts(const struct alc_session *s,
                            const struct alc_prune_report *pr,
                            int64_t *zeros, int64_t *pruned, int64_t *numel)
{
    for (int u = 0; u < s->view.n_units; u++) {
        const struct alc_unit_view *v = &s->units[u];
        zeros[u] = pruned[u] = numel[u] = 0;
        for (int j = 0; j < v->n_mats; j++) {
            int i = (int)(v->mats + j - s->mats);
            const struct alc_lin_result *lr = &pr->lin[s->mat_slot[i]];
            zeros[u] += lr->zeros;
            pruned[u] += lr->pruned;
            numel[u] += lr->numel;
        }
    }
}

static double frac(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/* min and max of the ratios (NaN skipped). */
static void ratio_range(const struct alc_alloc_result *a, double *lo,
                        double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int u = 0; u < a->n_units; u++) {
        double x = a->ratio[u];
        *lo = x < *lo ? x : *lo;
        *hi = x > *hi ? x : *hi;
    }
}

/* Appends s with XML's special characters escaped. */
static void xml_put(struct alc_sb *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            alc_sb_puts(sb, "&lt;");
            break;
        case '>':
            alc_sb_puts(sb, "&gt;");
            break;
        case '&':
            alc_sb_puts(sb, "&amp;");
            break;
        case '"':
            alc_sb_puts(sb, "&quot;");
            break;
        default:
            alc_sb_putc(sb, *s);
        }
    }
}

static const char *method_name(const struct alc_prune_opts *o)
{
    return alc_prune_method_name[o->method];
}

/* ---- Text ---- */

static void knobs_model(const struct alc_report_run *r, struct alc_sb *out)
{
    const struct alc_session *s = r->s;
    const struct alc_config *c = &s->model.cfg;
    alc_sb_printf(out, "model      %s: %s, %d layers, hidden %d, %.2f M "
                  "parameters, %s weights, %.2f MB of safetensors (header "
                  "hash %016llx)\n",
                  s->model.dir, alc_arch_table[c->arch].hf_name, c->n_layers,
                  c->dim, (double)s->model.n_params / 1e6,
                  alc_dtype_table[s->model.dtype].hf_name,
                  (double)s->model_bytes / 1e6,
                  (unsigned long long)s->model_hash);
}

static void knobs_calib(const struct alc_report_run *r, struct alc_sb *out)
{
    const struct alc_calib *k = &r->s->calib;
    if (!r->s->have_calib) {
        alc_sb_puts(out, "calib      none (not needed: the allocation reads "
                         "no activation and the method needs none)\n");
        return;
    }
    alc_sb_printf(out, "calib      %s: %llu bytes, hash %016llx, format %s; "
                  "%d windows of %d tokens, %s", k->path,
                  (unsigned long long)k->file_bytes,
                  (unsigned long long)k->file_hash,
                  alc_data_fmt_names[k->fmt], k->nsamples, k->seqlen,
                  alc_calib_mode_name[k->mode]);
    if (k->mode == ALC_CALIB_RANDOM) {
        alc_sb_printf(out, " (seed %llu, our RNG, not Python's)",
                      (unsigned long long)k->seed);
    } else {
        alc_sb_puts(out, " (window i at floor(i*(n-T)/N))");
    }
    alc_sb_printf(out, " over %lld tokens, no BOS; ids hash %016llx\n",
                  (long long)k->n_tokens, (unsigned long long)k->ids_hash);
}

static void knobs_alloc(const struct alc_report_run *r, struct alc_sb *out)
{
    const struct alc_allocfn *f = r->fn;
    alc_sb_printf(out, "allocation %s (ast hash %016llx) on %s units, S = "
                  "%.6g, backend %s", f->path,
                  (unsigned long long)f->ast_hash, alc_gran_name[r->gran],
                  r->S, r->backend ? r->backend : "?");
    for (int i = 0; i < f->ir.n_params; i++) {
        alc_sb_printf(out, "%s%s = %.6g", i ? ", " : "; params ",
                      f->ir.params[i].name, f->params[i]);
    }
    alc_sb_putc(out, '\n');
}

static void knobs_method(const struct alc_report_run *r, struct alc_sb *out)
{
    const struct alc_prune_opts *o = r->prune;
    alc_sb_printf(out, "method     %s", method_name(o));
    if (o->n > 0) {
        alc_sb_printf(out, ", %d:%d (n of every m input columns per row)",
                      o->n, o->m);
    } else {
        alc_sb_puts(out, ", unstructured");
    }
    if (o->method == ALC_PRUNE_SPARSEGPT) {
        alc_sb_printf(out, ", blocksize %d, percdamp %g, %d damping "
                      "retries", o->blocksize, o->percdamp, o->max_retries);
    }
    if (o->method == ALC_PRUNE_MAGNITUDE && o->n == 0) {
        alc_sb_puts(out, ", one threshold per matrix");
    }
    if (o->method == ALC_PRUNE_WANDA && o->n == 0) {
        alc_sb_puts(out, ", floor(cols*s) per output row");
    }
    alc_sb_printf(out, "; sequential block by block; %d threads, "
                  "calibration batch %d, OpenBLAS %s\n", r->s->n_threads,
                  r->s->have_calib ? alc_session_calib_batch(r->s) : 0,
                  alc_fwd_blas_core());
}

void alc_report_knobs(const struct alc_report_run *r, struct alc_sb *out)
{
    knobs_model(r, out);
    knobs_calib(r, out);
    knobs_alloc(r, out);
    if (r->prune != NULL) {
        knobs_method(r, out);
    }
    if (r->eval_idx >= 0) {
        const struct alc_session_data *x = &r->s->data[r->eval_idx];
        alc_sb_printf(out, "eval       %s: %llu bytes, hash %016llx, format "
                      "%s, %lld tokens (BOS %s)\n", x->path,
                      (unsigned long long)x->file_bytes,
                      (unsigned long long)x->file_hash,
                      alc_data_fmt_names[x->fmt], (long long)x->n,
                      x->bos_id >= 0 ? "once at the start" : "none");
    }
}

void alc_report_table(const struct alc_report_run *r, struct alc_sb *out)
{
    const struct alc_session *s = r->s;
    int U = s->view.n_units;
    int64_t *z = calloc((size_t)U * 3 + 1, sizeof *z);
    if (z == NULL) {
        return;
    }
    int64_t *p = z + U, *n = z + 2 * U;
    if (r->pr != NULL) {
        alc_report_unit_counts(s, r->pr, z, p, n);
    }
    alc_sb_printf(out, "%-4s %-34s %12s %10s", "unit",
                  s->gran == ALC_GRAN_BLOCK ? "block" : "linear", "score",
                  "asked");
    if (r->pr != NULL) {
        alc_sb_printf(out, " %10s %22s", "achieved", "zeros / numel");
    }
    alc_sb_putc(out, '\n');
    for (int u = 0; u < U; u++) {
        alc_sb_printf(out, "%-4d %-34s %12.6g %10.6f", u, s->unit_name[u],
                      r->alloc->score[u], r->alloc->ratio[u]);
        if (r->pr != NULL) {
            alc_sb_printf(out, " %10.6f %10lld / %-10lld", frac(z[u], n[u]),
                          (long long)z[u], (long long)n[u]);
        }
        alc_sb_putc(out, '\n');
    }
    if (r->pr != NULL) {
        alc_sb_printf(out, "overall    %.6f of %lld pruned weights are zero "
                      "(%lld zeros; the masks selected %lld = %.6f); "
                      "embeddings and lm_head are never pruned\n",
                      frac(r->pr->zeros, r->pr->numel),
                      (long long)r->pr->numel, (long long)r->pr->zeros,
                      (long long)r->pr->pruned,
                      frac(r->pr->pruned, r->pr->numel));
    }
    free(z);
}

void alc_report_summary(const struct alc_report_run *r, struct alc_sb *out)
{
    const struct alc_session_times *t = &r->s->t;
    alc_sb_printf(out, "time       load %.2f s, calibration %.2f s, pass 1 "
                  "%.2f s, alpha %.2f s, allocation %.4f s",
                  t->open, r->s->have_calib ? t->calibrate : 0.0, t->pass1,
                  t->alpha, r->alloc ? r->alloc->seconds : 0.0);
    if (r->pr != NULL) {
        alc_sb_printf(out, ", pass 2 %.2f s (statistics %.2f, kernels "
                      "%.2f, pruned forward %.2f, load/store %.2f)",
                      r->pr->seconds, r->pr->seconds_stats,
                      r->pr->seconds_prune, r->pr->seconds_forward,
                      r->pr->seconds_io);
    }
    alc_sb_printf(out, ", total %.2f s\n", r->seconds_total);
    if (r->alloc != NULL && r->alloc->warning != NULL) {
        alc_sb_printf(out, "WARNING    %s\n", r->alloc->warning);
    }
    if (r->pr != NULL && r->pr->warnings != NULL) {
        alc_sb_printf(out, "warnings   %d SparseGPT linears needed a "
                      "fallback:\n%s", r->pr->n_fallbacks, r->pr->warnings);
    }
    if (r->dense_ppl != NULL) {
        alc_sb_printf(out, "dense      PPL = %.4f +/- %.4f (%lld windows "
                      "of %d)\n", r->dense_ppl->ppl, r->dense_ppl->ppl_se,
                      (long long)r->dense_ppl->n_windows,
                      r->dense_ppl->seqlen);
    }
    if (r->ppl != NULL) {
        alc_sb_printf(out, "pruned     PPL = %.4f +/- %.4f (%lld windows of "
                      "%d, %lld tail tokens dropped)\n", r->ppl->ppl,
                      r->ppl->ppl_se, (long long)r->ppl->n_windows,
                      r->ppl->seqlen, (long long)r->ppl->n_dropped);
    }
    if (r->out_dir != NULL) {
        alc_sb_printf(out, "saved      %s\n", r->out_dir);
    }
}

/* ---- JSON ---- */

static void json_kv_str(struct alc_sb *sb, const char *k, const char *v)
{
    alc_sb_printf(sb, "\"%s\": ", k);
    if (v != NULL) {
        alc_json_put_str(sb, v);
    } else {
        alc_sb_puts(sb, "null");
    }
}

static void json_kv_num(struct alc_sb *sb, const char *k, double v)
{
    alc_sb_printf(sb, "\"%s\": ", k);
    alc_json_put_num(sb, v);
}

static void json_hex(struct alc_sb *sb, const char *k, uint64_t v)
{
    alc_sb_printf(sb, "\"%s\": \"%016llx\"", k, (unsigned long long)v);
}

static void json_model(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_session *s = r->s;
    const struct alc_config *c = &s->model.cfg;
    alc_sb_puts(sb, "  \"model\": {");
    json_kv_str(sb, "path", s->model.dir);
    alc_sb_printf(sb, ", \"architecture\": \"%s\", \"layers\": %d, "
                  "\"hidden\": %d, \"params\": %lld, \"dtype\": \"%s\", "
                  "\"safetensors_bytes\": %llu, ",
                  alc_arch_table[c->arch].hf_name, c->n_layers, c->dim,
                  (long long)s->model.n_params,
                  alc_dtype_table[s->model.dtype].hf_name,
                  (unsigned long long)s->model_bytes);
    json_hex(sb, "header_hash", s->model_hash);
    alc_sb_puts(sb, "},\n");
}

static void json_calib(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_calib *k = &r->s->calib;
    if (!r->s->have_calib) {
        alc_sb_puts(sb, "  \"calibration\": null,\n");
        return;
    }
    alc_sb_puts(sb, "  \"calibration\": {");
    json_kv_str(sb, "file", k->path);
    alc_sb_printf(sb, ", \"format\": \"%s\", \"bytes\": %llu, ",
                  alc_data_fmt_names[k->fmt],
                  (unsigned long long)k->file_bytes);
    json_hex(sb, "file_hash", k->file_hash);
    alc_sb_printf(sb, ", \"nsamples\": %d, \"seqlen\": %d, \"mode\": \"%s\","
                  " \"seed\": %llu, \"stream_tokens\": %lld, "
                  "\"documents\": %lld, \"documents_used\": %lld, "
                  "\"bos\": false, \"batch\": %d, ", k->nsamples, k->seqlen,
                  alc_calib_mode_name[k->mode], (unsigned long long)k->seed,
                  (long long)k->n_tokens, (long long)k->docs,
                  (long long)k->docs_used, alc_session_calib_batch(r->s));
    json_hex(sb, "ids_hash", k->ids_hash);
    alc_sb_puts(sb, "},\n");
}

static void json_alloc(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_allocfn *f = r->fn;
    alc_sb_puts(sb, "  \"allocation\": {");
    json_kv_str(sb, "file", f->path);
    alc_sb_puts(sb, ", ");
    json_hex(sb, "ast_hash", f->ast_hash);
    alc_sb_puts(sb, ", ");
    json_hex(sb, "source_hash", f->src_hash);
    alc_sb_puts(sb, ", \"params\": {");
    for (int i = 0; i < f->ir.n_params; i++) {
        alc_sb_puts(sb, i ? ", " : "");
        alc_json_put_str(sb, f->ir.params[i].name);
        alc_sb_puts(sb, ": ");
        alc_json_put_num(sb, f->params[i]);
    }
    alc_sb_puts(sb, "}, ");
    json_kv_num(sb, "S", r->S);
    alc_sb_printf(sb, ", \"granularity\": \"%s\", ", alc_gran_name[r->gran]);
    json_kv_str(sb, "backend", r->backend);
    alc_sb_printf(sb, ", \"valid\": %s, ",
                  r->alloc->valid ? "true" : "false");
    json_kv_str(sb, "invalid_reason", r->alloc->why);
    alc_sb_puts(sb, ", ");
    json_kv_str(sb, "warning", r->alloc->warning);
    double lo = 0, hi = 0;
    ratio_range(r->alloc, &lo, &hi);
    alc_sb_puts(sb, ", ");
    json_kv_num(sb, "ratio_min", lo);
    alc_sb_puts(sb, ", ");
    json_kv_num(sb, "ratio_max", hi);
    alc_sb_puts(sb, ", ");
    json_kv_num(sb, "seconds", r->alloc->seconds);
    alc_sb_puts(sb, "},\n");
}

static void json_method(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_prune_opts *o = r->prune;
    if (o == NULL) {
        alc_sb_puts(sb, "  \"method\": null,\n");
        return;
    }
    alc_sb_printf(sb, "  \"method\": {\"name\": \"%s\", \"n\": %d, \"m\": %d,"
                  " \"blocksize\": %d, \"percdamp\": %.17g, "
                  "\"max_retries\": %d, \"exact\": %d, \"sequential\": "
                  "true, \"threads\": %d},\n", method_name(o), o->n, o->m,
                  o->blocksize, o->percdamp, o->max_retries, o->exact,
                  r->s->n_threads);
}

static void json_units(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_session *s = r->s;
    int U = s->view.n_units;
    int64_t *z = calloc((size_t)U * 3 + 1, sizeof *z);
    if (z == NULL) {
        return;
    }
    if (r->pr != NULL) {
        alc_report_unit_counts(s, r->pr, z, z + U, z + 2 * U);
    }
    alc_sb_puts(sb, "  \"units\": [");
    for (int u = 0; u < U; u++) {
        alc_sb_printf(sb, "%s\n    {\"unit\": %d, ", u ? "," : "", u);
        json_kv_str(sb, "name", s->unit_name[u]);
        alc_sb_printf(sb, ", \"block\": %d, ", s->unit_layer[u]);
        json_kv_num(sb, "score", r->alloc->score[u]);
        alc_sb_puts(sb, ", ");
        json_kv_num(sb, "asked", r->alloc->ratio[u]);
        if (r->pr != NULL) {
            alc_sb_puts(sb, ", ");
            json_kv_num(sb, "achieved", frac(z[u], z[2 * U + u]));
            alc_sb_printf(sb, ", \"zeros\": %lld, \"pruned\": %lld, "
                          "\"numel\": %lld", (long long)z[u],
                          (long long)z[U + u], (long long)z[2 * U + u]);
        }
        alc_sb_puts(sb, "}");
    }
    alc_sb_puts(sb, "\n  ],\n");
    free(z);
}

static void json_linears(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_prune_report *pr = r->pr;
    int first = 1;
    alc_sb_puts(sb, "  \"linears\": [");
    for (int k = 0; k < pr->n_slots; k++) {
        const struct alc_lin_result *l = &pr->lin[k];
        if (l->numel == 0) {
            continue;
        }
        alc_sb_printf(sb, "%s\n    {\"block\": %d, \"linear\": \"%s\", "
                      "\"rows\": %lld, \"cols\": %lld, ", first ? "" : ",",
                      l->layer, alc_lin_name(r->s->model.cfg.arch, l->lin),
                      (long long)l->rows, (long long)l->cols);
        json_kv_num(sb, "asked", l->ratio);
        alc_sb_printf(sb, ", \"pruned\": %lld, \"zeros\": %lld, ",
                      (long long)l->pruned, (long long)l->zeros);
        json_kv_num(sb, "loss", l->loss);
        alc_sb_printf(sb, ", \"fallback\": %d, ", (int)l->fallback);
        json_kv_num(sb, "seconds", l->seconds);
        alc_sb_puts(sb, "}");
        first = 0;
    }
    alc_sb_puts(sb, "\n  ],\n");
}

static void json_ppl(struct alc_sb *sb, const char *k, const struct alc_ppl *p)
{
    alc_sb_printf(sb, "  \"%s\": ", k);
    if (p == NULL) {
        alc_sb_puts(sb, "null,\n");
        return;
    }
    alc_sb_printf(sb, "{\"seqlen\": %d, \"windows\": %lld, "
                  "\"windows_available\": %lld, \"tail_dropped\": %lld, "
                  "\"tokens\": %lld, ", p->seqlen, (long long)p->n_windows,
                  (long long)p->n_avail, (long long)p->n_dropped,
                  (long long)p->n_ids);
    json_kv_num(sb, "ppl", p->ppl);
    alc_sb_puts(sb, ", ");
    json_kv_num(sb, "ppl_stderr", p->ppl_se);
    alc_sb_puts(sb, ", ");
    json_kv_num(sb, "mean_nll", p->mean_nll);
    alc_sb_puts(sb, ", ");
    json_kv_num(sb, "seconds", p->seconds);
    alc_sb_puts(sb, "},\n");
}

static void json_eval(const struct alc_report_run *r, struct alc_sb *sb)
{
    if (r->eval_idx < 0) {
        alc_sb_puts(sb, "  \"eval\": null,\n");
        return;
    }
    const struct alc_session_data *x = &r->s->data[r->eval_idx];
    alc_sb_puts(sb, "  \"eval\": {");
    json_kv_str(sb, "file", x->path);
    alc_sb_printf(sb, ", \"format\": \"%s\", \"bytes\": %llu, ",
                  alc_data_fmt_names[x->fmt],
                  (unsigned long long)x->file_bytes);
    json_hex(sb, "file_hash", x->file_hash);
    alc_sb_printf(sb, ", \"tokens\": %lld, \"bos\": %s, \"protocol\": "
                  "\"floor(n/seqlen) non-overlapping windows; PPL = exp(mean"
                  " over windows of the mean next-token NLL)\"},\n",
                  (long long)x->n, x->bos_id >= 0 ? "true" : "false");
}

static void json_overall(const struct alc_report_run *r, struct alc_sb *sb)
{
    const struct alc_session_times *t = &r->s->t;
    if (r->pr != NULL) {
        alc_sb_printf(sb, "  \"overall\": {\"numel\": %lld, \"zeros\": %lld, "
                      "\"pruned\": %lld, ", (long long)r->pr->numel,
                      (long long)r->pr->zeros, (long long)r->pr->pruned);
        json_kv_num(sb, "sparsity", frac(r->pr->zeros, r->pr->numel));
        alc_sb_printf(sb, ", \"sparsegpt_fallbacks\": %d},\n",
                      r->pr->n_fallbacks);
    }
    alc_sb_printf(sb, "  \"seconds\": {\"load\": %.6f, \"calibration\": %.6f,"
                  " \"pass1\": %.6f, \"alpha\": %.6f, \"allocation\": %.6f",
                  t->open, r->s->have_calib ? t->calibrate : 0.0, t->pass1,
                  t->alpha, r->alloc->seconds);
    if (r->pr != NULL) {
        alc_sb_printf(sb, ", \"pass2\": %.6f, \"pass2_statistics\": %.6f, "
                      "\"pass2_kernels\": %.6f, \"pass2_forward\": %.6f, "
                      "\"pass2_io\": %.6f", r->pr->seconds,
                      r->pr->seconds_stats, r->pr->seconds_prune,
                      r->pr->seconds_forward, r->pr->seconds_io);
    }
    if (r->ppl != NULL) {
        alc_sb_printf(sb, ", \"eval\": %.6f", r->ppl->seconds);
    }
    alc_sb_printf(sb, ", \"total\": %.6f},\n", r->seconds_total);
}

void alc_report_json(const struct alc_report_run *r, struct alc_sb *sb)
{
    alc_sb_printf(sb, "{\n  \"dsac\": \"%s\",\n", r->command);
    json_model(r, sb);
    json_calib(r, sb);
    json_alloc(r, sb);
    json_method(r, sb);
    json_units(r, sb);
    if (r->pr != NULL) {
        json_linears(r, sb);
    }
    json_overall(r, sb);
    json_eval(r, sb);
    json_ppl(sb, "dense_ppl", r->dense_ppl);
    json_ppl(sb, "ppl", r->ppl);
    alc_sb_puts(sb, "  \"out\": ");
    if (r->out_dir != NULL) {
        alc_json_put_str(sb, r->out_dir);
    } else {
        alc_sb_puts(sb, "null");
    }
    alc_sb_printf(sb, ",\n  \"threads\": %d\n}\n", r->s->n_threads);
}

/* ---- SVG ---- */

/* Plot geometry (pixels). */
#define SVG_W 960
#define SVG_H 440
#define SVG_L 72   /* left margin: y labels */
#define SVG_R 24
#define SVG_T 56   /* top: title and legend */
#define SVG_B 64   /* bottom: x labels and axis title */

struct plot {
    double lo, hi;  /* y range */
    int n;          /* units */
    double pw, ph;  /* plot area */
};

static double ypix(const struct plot *p, double v)
{
    double t = (v - p->lo) / (p->hi - p->lo);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return SVG_T + p->ph * (1.0 - t);
}

static double xpix(const struct plot *p, double u)
{
    return SVG_L + p->pw * (u + 0.5) / p->n;
}

/* A y range with margins, in steps of 0.05, inside [0, 1]. */
static void y_range(const struct alc_report_run *r, const double *ach,
                    struct plot *p)
{
    double lo = r->S, hi = r->S;
    for (int u = 0; u < p->n; u++) {
        double a = r->alloc->ratio[u];
        if (isfinite(a)) {
            lo = a < lo ? a : lo;
            hi = a > hi ? a : hi;
        }
        if (ach != NULL) {
            lo = ach[u] < lo ? ach[u] : lo;
            hi = ach[u] > hi ? ach[u] : hi;
        }
    }
    lo = floor(lo * 20.0 - 1.0) / 20.0;
    hi = ceil(hi * 20.0 + 1.0) / 20.0;
    p->lo = lo < 0 ? 0 : lo;
    p->hi = hi > 1 ? 1 : hi;
    if (p->hi - p->lo < 0.1) {
        p->hi = p->lo + 0.1;
    }
}

static void svg_axes(const struct plot *p, struct alc_sb *sb)
{
    double step = p->hi - p->lo > 0.5 ? 0.1 : 0.05;
    for (double v = ceil(p->lo / step - 1e-9) * step; v <= p->hi + 1e-9;
         v += step) {
        double y = ypix(p, v);
        alc_sb_printf(sb, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"#ddd\"/>\n<text x=\"%d\" "
                      "y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", SVG_L,
                      y, SVG_L + p->pw, y, SVG_L - 8, y + 4, v);
    }
    int every = p->n <= 40 ? 1 : (p->n + 39) / 40;
    for (int u = 0; u < p->n; u += every) {
        alc_sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor="
                      "\"middle\">%d</text>\n", xpix(p, u),
                      SVG_T + p->ph + 18, u);
    }
    alc_sb_printf(sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" "
                  "stroke=\"#333\"/>\n<line x1=\"%d\" y1=\"%.1f\" "
                  "x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", SVG_L, SVG_T,
                  SVG_L, SVG_T + p->ph, SVG_L, SVG_T + p->ph, SVG_L + p->pw,
                  SVG_T + p->ph);
}

static void svg_title(const struct alc_report_run *r, const struct plot *p,
                      struct alc_sb *sb)
{
    const char *file = strrchr(r->fn->path, '/');
    file = file ? file + 1 : r->fn->path;
    alc_sb_puts(sb, "<text x=\"12\" y=\"22\" font-size=\"15\" "
                    "font-weight=\"bold\">");
    alc_sb_puts(sb, "Per-unit sparsity: ");
    xml_put(sb, file);
    alc_sb_printf(sb, ", %s, S = %.3g",
                  r->prune ? method_name(r->prune) : "allocation only",
                  r->S);
    alc_sb_puts(sb, "</text>\n");
    alc_sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                  "unit (%s)</text>\n", SVG_L + p->pw / 2, SVG_H - 12.0,
                  r->s->gran == ALC_GRAN_BLOCK ? "decoder block"
                                               : "linear layer");
    alc_sb_printf(sb, "<text transform=\"translate(16,%.1f) rotate(-90)\" "
                  "text-anchor=\"middle\">sparsity</text>\n",
                  SVG_T + p->ph / 2);
}

static void svg_legend(int achieved, struct alc_sb *sb)
{
    int x = SVG_W - 420;
    alc_sb_printf(sb, "<rect x=\"%d\" y=\"32\" width=\"14\" height=\"10\" "
                  "fill=\"#9ecae1\" stroke=\"#3182bd\"/><text x=\"%d\" "
                  "y=\"41\">asked</text>\n", x, x + 18);
    if (achieved) {
        alc_sb_printf(sb, "<line x1=\"%d\" y1=\"37\" x2=\"%d\" y2=\"37\" "
                      "stroke=\"#08306b\" stroke-width=\"3\"/><text x=\"%d\""
                      " y=\"41\">achieved (zeros / numel)</text>\n", x + 80,
                      x + 96, x + 100);
    }
    alc_sb_printf(sb, "<line x1=\"%d\" y1=\"37\" x2=\"%d\" y2=\"37\" "
                  "stroke=\"#d62728\" stroke-dasharray=\"6,4\" "
                  "stroke-width=\"2\"/><text x=\"%d\" y=\"41\">target S"
                  "</text>\n", x + 290, x + 320, x + 324);
}

static void svg_bars(const struct alc_report_run *r, const double *ach,
                     const struct plot *p, struct alc_sb *sb)
{
    double bw = p->pw / p->n * 0.7;
    for (int u = 0; u < p->n; u++) {
        double a = r->alloc->ratio[u], x = xpix(p, u);
        if (isfinite(a)) {
            double y = ypix(p, a), base = SVG_T + p->ph;
            alc_sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                          "height=\"%.1f\" fill=\"#9ecae1\" stroke=\"#3182bd"
                          "\"><title>", x - bw / 2, y, bw, base - y);
            xml_put(sb, r->s->unit_name[u]);
            alc_sb_printf(sb, ": asked %.6f</title></rect>\n", a);
        }
        if (ach != NULL) {
            double y = ypix(p, ach[u]);
            alc_sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"#08306b\" stroke-width=\"3\">"
                          "<title>", x - bw / 2, y, x + bw / 2, y);
            xml_put(sb, r->s->unit_name[u]);
            alc_sb_printf(sb, ": achieved %.6f</title></line>\n", ach[u]);
        }
    }
    double ys = ypix(p, r->S);
    alc_sb_printf(sb, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#d62728\" stroke-dasharray=\"6,4\" "
                  "stroke-width=\"2\"/>\n", SVG_L, ys, SVG_L + p->pw, ys);
}

void alc_report_svg(const struct alc_report_run *r, struct alc_sb *sb)
{
    struct plot p;
    int U = r->s->view.n_units;
    double *ach = NULL;
    int64_t *z = NULL;
    p.n = U;
    p.pw = SVG_W - SVG_L - SVG_R;
    p.ph = SVG_H - SVG_T - SVG_B;
    if (r->pr != NULL) {
        ach = calloc((size_t)U + 1, sizeof *ach);
        z = calloc((size_t)U * 3 + 1, sizeof *z);
        if (ach != NULL && z != NULL) {
            alc_report_unit_counts(r->s, r->pr, z, z + U, z + 2 * U);
            for (int u = 0; u < U; u++) {
                ach[u] = frac(z[u], z[2 * U + u]);
            }
        } else {
            free(ach);
            ach = NULL;
        }
    }
    y_range(r, ach, &p);
    alc_sb_printf(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\""
                  " height=\"%d\" viewBox=\"0 0 %d %d\" font-family="
                  "\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  SVG_W, SVG_H, SVG_W, SVG_H);
    svg_title(r, &p, sb);
    svg_legend(ach != NULL, sb);
    svg_axes(&p, sb);
    svg_bars(r, ach, &p, sb);
    alc_sb_puts(sb, "</svg>\n");
    free(ach);
    free(z);
}
