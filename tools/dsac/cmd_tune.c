/*
 * cmd_tune.c: `dsac tune FILE --param NAME=LO:HI:STEP --eval VALID`, ATP's
 * beta search (methods.md §2.2) for any program: every point of a grid over
 * one or two params is allocated, pruned and scored by perplexity on a
 * validation text, reusing one session (dense statistics, calibration and
 * tokenized text computed once; params are runtime values, so the program
 * is compiled once). Points whose allocation is invalid (e.g. ATP's beta
 * above its legality bound) are reported with the reason. The best point
 * is written as the same program with those param defaults (-o FILE).
 *
 * The scoring text must not be a test split: a file whose name contains
 * "test" is refused (tuning on the split you report is what ATP's search.sh
 * does, and it biases the reported number); --allow-test-split overrides.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "prune_common.h"

int cmd_tune(int argc, char **argv);

static const char usage_head[] =
    "usage: dsac tune FILE --model DIR --sparsity S --param NAME=LO:HI:STEP\n"
    "                 [--param NAME2=LO:HI:STEP] --eval VALID [-o OUT.alloc]\n"
    "                 [options]\n"
    "\n"
    "Grid search over one or two params of the allocation program FILE:\n"
    "each point is allocated, pruned and scored by perplexity on VALID (a\n"
    "validation split; a name containing \"test\" is refused unless\n"
    "--allow-test-split). Prints a table (param values, ratio range, PPL),\n"
    "and writes the best instantiation of FILE (param defaults set, comments\n"
    "kept, a header with the results) to -o.\n"
    "\n"
    "  --model DIR         Hugging Face model directory\n"
    "  --param NAME=LO:HI:STEP  a grid axis (LO, LO+STEP, ... <= HI);\n"
    "                      NAME=VALUE fixes a param instead\n"
    "  -o FILE             write the best program here\n"
    "  --allow-test-split  score on a file named *test* anyway\n";

static char *usage_text(void)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, usage_head);
    alc_sb_puts(&sb, pc_help_alloc);
    alc_sb_puts(&sb, pc_help_method);
    alc_sb_puts(&sb, pc_help_calib);
    alc_sb_puts(&sb, pc_help_eval);
    alc_sb_puts(&sb, pc_help_common);
    return alc_sb_take(&sb);
}

/* ---- The grid ---- */

#define MAX_POINTS 10000

struct axis {
    char name[64];
    int param;        /* index in the IR's params */
    double lo, hi, step;
    int n;            /* points */
};

struct point {
    double v[2];
    int valid, error;
    double rmin, rmax, ppl, ppl_se;
    char *why;        /* first line of the invalid reason */
    double seconds;
};

struct grid {
    struct axis ax[2];
    int n_axes;
    struct point *pt;
    int n_pt;
    int best;         /* -1 when no point is valid */
};

/* lo + i*step, rounded to 12 significant digits (0.006, not 0.006000001). */
static double grid_value(const struct axis *a, int i)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.12g", a->lo + (double)i * a->step);
    return strtod(buf, NULL);
}

static int parse_axis(struct alc_allocfn *f, const char *spec,
                      struct axis *a, struct alc_diag *d)
{
    const char *eq = strchr(spec, '=');
    char tail = 0;
    memset(a, 0, sizeof *a);
    if (eq == NULL || (size_t)(eq - spec) >= sizeof a->name ||
        sscanf(eq + 1, "%lf:%lf:%lf%c", &a->lo, &a->hi, &a->step, &tail) !=
            3 ||
        !(a->step > 0) || !(a->hi >= a->lo)) {
        alc_diag_errorf(d, "bad grid '%s' (expected NAME=LO:HI:STEP with "
                        "LO <= HI and STEP > 0)", spec);
        return -1;
    }
    memcpy(a->name, spec, (size_t)(eq - spec));
    a->param = alc_ir_param_find(&f->ir, a->name);
    if (a->param < 0) {
        /* reports "no param 'x' (it declares ...)" */
        alc_allocfn_set_param(f, a->name, 0.0, d);
        return -1;
    }
    a->n = (int)floor((a->hi - a->lo) / a->step + 1e-9) + 1;
    const struct alc_ir_param *p = &f->ir.params[a->param];
    if (a->lo < p->lo || grid_value(a, a->n - 1) > p->hi) {
        alc_diag_errorf(d, "%s: grid %s = %g .. %g leaves the param's "
                        "declared range [%g, %g]", f->path, a->name, a->lo,
                        grid_value(a, a->n - 1), p->lo, p->hi);
        return -1;
    }
    return 0;
}

/* Splits --param into grid axes (with ':') and fixed values. */
static int build_grid(const struct pc_args *a, struct pc_run *x,
                      struct grid *g, struct alc_diag *d)
{
    memset(g, 0, sizeof *g);
    g->best = -1;
    for (int i = 0; i < a->n_params; i++) {
        const char *eq = strchr(a->params[i], '=');
        if (eq != NULL && strchr(eq, ':') == NULL) {
            if (alc_allocfn_set_param_str(&x->fn, a->params[i], d) != 0) {
                return -1;
            }
            continue;
        }
        if (g->n_axes == 2) {
            alc_diag_errorf(d, "at most two grid axes (--param NAME=LO:HI:"
                            "STEP)");
            return -1;
        }
        if (parse_axis(&x->fn, a->params[i], &g->ax[g->n_axes], d) != 0) {
            return -1;
        }
        g->n_axes++;
    }
    if (g->n_axes == 0) {
        alc_diag_errorf(d, "no grid: give --param NAME=LO:HI:STEP");
        return -1;
    }
    int n1 = g->n_axes > 1 ? g->ax[1].n : 1;
    if ((int64_t)g->ax[0].n * n1 > MAX_POINTS) {
        alc_diag_errorf(d, "the grid has more than %d points", MAX_POINTS);
        return -1;
    }
    g->n_pt = g->ax[0].n * n1;
    g->pt = calloc((size_t)g->n_pt, sizeof *g->pt);
    if (g->pt == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    for (int i = 0; i < g->n_pt; i++) {
        g->pt[i].v[0] = grid_value(&g->ax[0], i / n1);
        g->pt[i].v[1] = g->n_axes > 1 ? grid_value(&g->ax[1], i % n1) : 0;
    }
    return 0;
}

static void grid_free(struct grid *g)
{
    for (int i = 0; i < g->n_pt; i++) {
        free(g->pt[i].why);
    }
    free(g->pt);
}

/* ---- One point ---- */

static char *first_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    char *t = malloc(n + 1);
    if (t != NULL) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

static void set_point(struct pc_run *x, const struct grid *g,
                      const struct point *p)
{
    for (int k = 0; k < g->n_axes; k++) {
        x->fn.params[g->ax[k].param] = p->v[k];
    }
}

static int eval_seqlen(const struct pc_args *a)
{
    return a->eval_seqlen > 0 ? (int)a->eval_seqlen : a->calib.seqlen;
}

/* Allocates, prunes and scores one point; -1 only on a hard error. */
static int run_point(const struct pc_args *a, struct pc_run *x,
                     const struct grid *g, struct point *p,
                     struct alc_diag *d)
{
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_ppl ppl;
    double t0 = alc_now();
    set_point(x, g, p);
    if (alc_session_allocate(&x->s, x->fn.c, a->S, x->fn.params, &r, d) !=
        0) {
        return -1;
    }
    p->rmin = INFINITY;
    p->rmax = -INFINITY;
    for (int u = 0; u < r.n_units; u++) {
        p->rmin = r.ratio[u] < p->rmin ? r.ratio[u] : p->rmin;
        p->rmax = r.ratio[u] > p->rmax ? r.ratio[u] : p->rmax;
    }
    p->valid = r.valid;
    if (!r.valid) {
        p->why = first_line(r.why);
        alc_alloc_result_free(&r);
        return 0;
    }
    int rc = alc_session_prune(&x->s, r.ratio, &a->prune, &pr, d);
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    if (rc != 0 || alc_session_ppl(&x->s, x->eval_idx, eval_seqlen(a),
                                   a->eval_chunks, &ppl, d) != 0) {
        return -1;
    }
    p->ppl = ppl.ppl;
    p->ppl_se = ppl.ppl_se;
    p->seconds = alc_now() - t0;
    return 0;
}

static int run_grid(const struct pc_args *a, struct pc_run *x,
                    struct grid *g, struct alc_diag *d)
{
    struct alc_progress pr;
    int progress = x->s.progress;
    x->s.progress = 0; /* one line per point instead */
    alc_progress_begin(&pr, "tune", g->n_pt);
    pr.quiet = pr.quiet || a->quiet;
    for (int i = 0; i < g->n_pt; i++) {
        struct point *p = &g->pt[i];
        if (run_point(a, x, g, p, d) != 0) {
            x->s.progress = progress;
            return -1;
        }
        if (p->valid && (g->best < 0 || p->ppl < g->pt[g->best].ppl)) {
            g->best = i;
        }
        if (p->valid) {
            alc_progress_stepf(&pr, 1, "%s = %g: PPL %.4f", g->ax[0].name,
                               p->v[0], p->ppl);
        } else {
            alc_progress_stepf(&pr, 1, "%s = %g: invalid", g->ax[0].name,
                               p->v[0]);
        }
    }
    alc_progress_end(&pr);
    x->s.progress = progress;
    return 0;
}

/* ---- Output ---- */

static void put_row(const struct grid *g, const struct point *p, int best,
                    const char *prefix, struct alc_sb *sb)
{
    alc_sb_puts(sb, prefix);
    for (int k = 0; k < g->n_axes; k++) {
        alc_sb_printf(sb, "%-12.6g ", p->v[k]);
    }
    if (!p->valid) {
        alc_sb_printf(sb, "invalid: %s\n", p->why ? p->why : "");
        return;
    }
    alc_sb_printf(sb, "%.4f .. %.4f   %10.4f +/- %.4f%s\n", p->rmin, p->rmax,
                  p->ppl, p->ppl_se, best ? "  <- best" : "");
}

static void put_table(const struct grid *g, const char *prefix,
                      struct alc_sb *sb)
{
    alc_sb_puts(sb, prefix);
    for (int k = 0; k < g->n_axes; k++) {
        alc_sb_printf(sb, "%-12s ", g->ax[k].name);
    }
    alc_sb_puts(sb, "ratios             valid PPL\n");
    for (int i = 0; i < g->n_pt; i++) {
        put_row(g, &g->pt[i], i == g->best, prefix, sb);
    }
}

static void put_header(const struct pc_args *a, const struct pc_run *x,
                       const struct grid *g, struct alc_sb *sb)
{
    const struct alc_calib *c = &x->s.calib;
    alc_sb_printf(sb, "tuned by dsac tune on %s (header hash %016llx):\n",
                  x->s.model.dir, (unsigned long long)x->s.model_hash);
    alc_sb_printf(sb, "%s pruning at S = %g, %s units, calibration %s "
                  "(%d x %d, %s)\n", alc_prune_method_name[a->prune.method],
                  a->S, alc_gran_name[a->gran],
                  x->s.have_calib ? c->path : "none",
                  x->s.have_calib ? c->nsamples : 0,
                  x->s.have_calib ? c->seqlen : 0,
                  x->s.have_calib ? alc_calib_mode_name[c->mode] : "-");
    alc_sb_printf(sb, "scored by perplexity on %s (seqlen %d%s)\n", a->eval,
                  eval_seqlen(a), a->eval_chunks ? ", first windows only" :
                                                   "");
    put_table(g, "", sb);
}

static int write_best(const struct pc_args *a, struct pc_run *x,
                      const struct grid *g, struct alc_diag *d)
{
    struct alc_sb hdr;
    char *text = NULL;
    int rc = -1;
    alc_sb_init(&hdr);
    set_point(x, g, &g->pt[g->best]);
    put_header(a, x, g, &hdr);
    if (hdr.len > 0 && hdr.s[hdr.len - 1] == '\n') {
        hdr.s[--hdr.len] = '\0';
    }
    if (alc_allocfn_print(&x->fn, hdr.s, &text, d) == 0) {
        rc = alc_write_file_atomic(a->out_alloc, text, strlen(text), d);
    }
    free(text);
    alc_sb_free(&hdr);
    return rc;
}

static int write_report(const struct pc_args *a, const struct pc_run *x,
                        const struct grid *g, struct alc_diag *d)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "{\"dsac\": \"tune\", \"model\": ");
    alc_json_put_str(&sb, x->s.model.dir);
    alc_sb_printf(&sb, ", \"model_header_hash\": \"%016llx\", \"alloc\": ",
                  (unsigned long long)x->s.model_hash);
    alc_json_put_str(&sb, x->fn.path);
    alc_sb_printf(&sb, ", \"ast_hash\": \"%016llx\", \"method\": \"%s\", "
                  "\"n\": %d, \"m\": %d, \"S\": %.17g, \"granularity\": "
                  "\"%s\", \"eval\": ", (unsigned long long)x->fn.ast_hash,
                  alc_prune_method_name[a->prune.method], a->prune.n,
                  a->prune.m, a->S, alc_gran_name[a->gran]);
    alc_json_put_str(&sb, a->eval);
    alc_sb_printf(&sb, ", \"eval_seqlen\": %d, \"eval_max_chunks\": %ld, "
                  "\"points\": [", eval_seqlen(a), a->eval_chunks);
    for (int i = 0; i < g->n_pt; i++) {
        const struct point *p = &g->pt[i];
        alc_sb_puts(&sb, i ? ",\n  {" : "\n  {");
        for (int k = 0; k < g->n_axes; k++) {
            alc_json_put_str(&sb, g->ax[k].name);
            alc_sb_printf(&sb, ": %.17g, ", p->v[k]);
        }
        alc_sb_printf(&sb, "\"valid\": %s, \"ratio_min\": ",
                      p->valid ? "true" : "false");
        alc_json_put_num(&sb, p->rmin);
        alc_sb_puts(&sb, ", \"ratio_max\": ");
        alc_json_put_num(&sb, p->rmax);
        alc_sb_puts(&sb, ", \"ppl\": ");
        alc_json_put_num(&sb, p->valid ? p->ppl : NAN);
        alc_sb_puts(&sb, ", \"reason\": ");
        if (p->why != NULL) {
            alc_json_put_str(&sb, p->why);
        } else {
            alc_sb_puts(&sb, "null");
        }
        alc_sb_puts(&sb, "}");
    }
    alc_sb_printf(&sb, "\n], \"best\": %d}\n", g->best);
    int rc = alc_write_file_atomic(a->report, sb.s, sb.len, d);
    alc_sb_free(&sb);
    return rc;
}

/* ---- Driver ---- */

/* The program comes as FILE (positional) or --alloc. */
static int tune_args(struct pc_args *a, int argc, char **argv)
{
    if (optind < argc) {
        if (a->alloc != NULL || optind + 1 < argc) {
            return cli_usage_error("tune", "give one program: FILE or "
                                   "--alloc FILE");
        }
        a->alloc = argv[optind];
    }
    if (a->alloc == NULL) {
        return cli_usage_error("tune", "no program to tune (FILE)");
    }
    if (a->eval == NULL) {
        return cli_usage_error("tune", "--eval VALID_FILE is required (a "
                               "validation split)");
    }
    const char *base = strrchr(a->eval, '/');
    base = base ? base + 1 : a->eval;
    if (strstr(base, "test") != NULL && !a->allow_test) {
        return cli_usage_error("tune", "refusing to tune on '%s': its name "
                               "says it is a test split, and tuning on the "
                               "split you report biases it (use the "
                               "validation split, e.g. kjv.valid.raw; "
                               "--allow-test-split overrides)", a->eval);
    }
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    struct pc_args a;
    struct pc_run x;
    struct grid g;
    struct alc_diag d;
    struct alc_sb sb;
    char *usage = usage_text();
    int rc = pc_parse(&a, "tune", PC_ALLOC | PC_CALIB | PC_METHOD | PC_EVAL |
                                      PC_TUNE,
                      usage, argc, argv);
    free(usage);
    if (rc == 0) {
        rc = tune_args(&a, argc, argv);
    }
    if (rc != 0) {
        return rc == 1 ? CLI_OK : rc;
    }
    alc_diag_init(&d);
    alc_sb_init(&sb);
    memset(&g, 0, sizeof g);
    rc = CLI_ERR;
    if (pc_setup(&a, &x, 1, &d) != 0 || build_grid(&a, &x, &g, &d) != 0 ||
        run_grid(&a, &x, &g, &d) != 0) {
        goto done;
    }
    put_header(&a, &x, &g, &sb);
    if (g.best >= 0) {
        alc_sb_printf(&sb, "best: ");
        for (int k = 0; k < g.n_axes; k++) {
            alc_sb_printf(&sb, "%s%s = %.12g", k ? ", " : "", g.ax[k].name,
                          g.pt[g.best].v[k]);
        }
        alc_sb_printf(&sb, " (valid PPL %.4f)\n", g.pt[g.best].ppl);
    } else {
        alc_sb_puts(&sb, "no grid point gave a valid allocation\n");
    }
    fputs(sb.s, stdout);
    if (a.report != NULL && write_report(&a, &x, &g, &d) != 0) {
        goto done;
    }
    if (a.out_alloc != NULL && g.best >= 0 &&
        write_best(&a, &x, &g, &d) != 0) {
        goto done;
    }
    rc = g.best >= 0 ? CLI_OK : CLI_ERR;
done:
    if (rc != CLI_OK || d.n_warn > 0) {
        cli_print_diag("tune", &d);
    }
    grid_free(&g);
    alc_sb_free(&sb);
    pc_free(&x);
    alc_diag_free(&d);
    return rc;
}
