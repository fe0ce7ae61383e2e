/*
 * report.h: what `dsac prune`, `dsac alloc` and `dsac tune` tell users
 * about a run: every knob (users.md §1.3: the causes of mismatched numbers
 * are unrecorded knobs), the per-unit table (score, ratio asked, ratio
 * achieved, zeros / numel), overall sparsity, timings and perplexity, as
 * text, as one JSON object (--report, <out>/dsac_report.json) and as an
 * SVG plot of the per-unit sparsity (hand-written SVG, no library).
 * Pure formatting: everything comes from the session and the results.
 */
#ifndef ALC_REPORT_H
#define ALC_REPORT_H

#include "alc_common.h"
#include "allocfn.h"
#include "session.h"

/* One run, as much of it as happened (NULL members are left out). */
struct alc_report_run {
    const char *command;                 /* "prune", "alloc", "tune" */
    const struct alc_session *s;
    const struct alc_allocfn *fn;        /* program and param values */
    const char *backend;                 /* as chosen ("llvm") */
    double S;
    enum alc_gran gran;
    const struct alc_prune_opts *prune;  /* method knobs, or NULL */
    const struct alc_alloc_result *alloc;
    const struct alc_prune_report *pr;   /* NULL when nothing was pruned */
    int eval_idx;                        /* session dataset, -1 = none */
    const struct alc_ppl *ppl;           /* pruned model, or NULL */
    const struct alc_ppl *dense_ppl;     /* dense model, or NULL */
    const char *out_dir;                 /* saved model, or NULL */
    double seconds_total;
};

/* The knobs, one per line ("model      DIR: llama, 8 layers, ..."). */
void alc_report_knobs(const struct alc_report_run *r, struct alc_sb *out);
/* The per-unit table and the overall line. */
void alc_report_table(const struct alc_report_run *r, struct alc_sb *out);
/* Timings and perplexity lines. */
void alc_report_summary(const struct alc_report_run *r, struct alc_sb *out);
/* The whole run as one JSON object (NaN and inf as null). */
void alc_report_json(const struct alc_report_run *r, struct alc_sb *out);
/* An SVG plot of the per-unit sparsity: asked (bars), achieved (marks)
 * and the target S (dashed line). */
void alc_report_svg(const struct alc_report_run *r, struct alc_sb *out);

/* Per unit achieved sparsity from a prune report: zeros and numel summed
 * over the unit's linears (both arrays n_units). */
void alc_report_unit_counts(const struct alc_session *s,
                            const struct alc_prune_report *pr,
                            int64_t *zeros, int64_t *pruned, int64_t *numel);

/* Appends v as a JSON number (17 significant digits) or null. */
void alc_json_put_num(struct alc_sb *sb, double v);

#endif /* ALC_REPORT_H */
