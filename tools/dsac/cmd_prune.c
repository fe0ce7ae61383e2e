/*
 * cmd_prune.c: `dsac prune`, the job users come for: calibrate a model,
 * allocate per-unit sparsities with a compiled .alloc program, prune block
 * by block with magnitude / Wanda / SparseGPT (unstructured or N:M),
 * evaluate, and save a Hugging Face directory, reporting every knob, the
 * per-unit sparsity asked and achieved, timings and perplexity
 * (runtime/session.h does the work, runtime/report.h the reporting).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "prune_common.h"

int cmd_prune(int argc, char **argv);

static const char usage_head[] =
    "usage: dsac prune --model DIR --sparsity S [--alloc FILE] [--method M]\n"
    "                  [--calib FILE] [--eval FILE] [--out DIR] [options]\n"
    "\n"
    "Prunes DIR to a mean sparsity S: the allocation program gives each\n"
    "unit (decoder block, or linear) its ratio from the dense model's\n"
    "statistics (pass 1); the pruner then runs sequentially block by block\n"
    "like the Wanda repository (pass 2: statistics of each block from the\n"
    "outputs of the already pruned blocks). Invalid ratios (NaN, outside\n"
    "[0, 1)) are an error that names the units, the values and the op that\n"
    "produced them; nothing is pruned then.\n"
    "\n"
    "  --model DIR         Hugging Face model directory\n";

static const char usage_tail[] =
    "output:\n"
    "  --out DIR           save the pruned model (safetensors in the input\n"
    "                      dtype, sharded like the input, config and\n"
    "                      tokenizer copied, written atomically) and\n"
    "                      DIR/dsac_report.json\n"
    "  --force             replace an existing non-empty DIR (never the\n"
    "                      input directory)\n"
    "  --eval-dense        also evaluate the dense model first\n";

static char *usage_text(void)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, usage_head);
    alc_sb_puts(&sb, pc_help_alloc);
    alc_sb_puts(&sb, pc_help_method);
    alc_sb_puts(&sb, pc_help_calib);
    alc_sb_puts(&sb, pc_help_eval);
    alc_sb_puts(&sb, usage_tail);
    alc_sb_puts(&sb, pc_help_common);
    return alc_sb_take(&sb);
}

/* Evaluation (dense first when asked), pruning in between. */
struct results {
    struct alc_alloc_result alloc;
    struct alc_prune_report pr;
    struct alc_ppl ppl, dense;
    int have_ppl, have_dense;
};

static int eval_seqlen(const struct pc_args *a)
{
    return a->eval_seqlen > 0 ? (int)a->eval_seqlen : a->calib.seqlen;
}

static int run(const struct pc_args *a, struct pc_run *x, struct results *r,
               struct alc_diag *d)
{
    if (alc_session_allocate(&x->s, x->fn.c, a->S, x->fn.params, &r->alloc,
                             d) != 0) {
        return -1;
    }
    if (!r->alloc.valid) {
        alc_diag_errorf(d, "%s", r->alloc.why);
        return -1;
    }
    if (a->eval != NULL && a->eval_dense) {
        if (alc_session_ppl(&x->s, x->eval_idx, eval_seqlen(a),
                            a->eval_chunks, &r->dense, d) != 0) {
            return -1;
        }
        r->have_dense = 1;
    }
    if (alc_session_prune(&x->s, r->alloc.ratio, &a->prune, &r->pr, d) !=
        0) {
        return -1;
    }
    if (a->eval != NULL) {
        if (alc_session_ppl(&x->s, x->eval_idx, eval_seqlen(a),
                            a->eval_chunks, &r->ppl, d) != 0) {
            return -1;
        }
        r->have_ppl = 1;
    }
    return 0;
}

/* Saves the model, then its report inside the directory. */
static int save(const struct pc_args *a, struct pc_run *x,
                struct alc_report_run *rep, struct alc_diag *d)
{
    struct alc_sb sb;
    if (alc_session_save(&x->s, a->out, a->force, d) != 0) {
        return -1;
    }
    rep->out_dir = a->out;
    rep->seconds_total = alc_now() - x->t0;
    alc_sb_init(&sb);
    alc_report_json(rep, &sb);
    char *path = alc_path_join(a->out, "dsac_report.json");
    int rc = alc_write_file_atomic(path, sb.s, sb.len, d);
    free(path);
    alc_sb_free(&sb);
    return rc;
}

static void print(const struct pc_args *a, const struct alc_report_run *rep)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    if (a->json) {
        alc_report_json(rep, &sb);
    } else {
        alc_report_knobs(rep, &sb);
        alc_report_table(rep, &sb);
        alc_report_summary(rep, &sb);
    }
    fputs(alc_sb_str(&sb), stdout);
    alc_sb_free(&sb);
}

int cmd_prune(int argc, char **argv)
{
    struct pc_args a;
    struct pc_run x;
    struct results r;
    struct alc_report_run rep;
    struct alc_diag d;
    char *usage = usage_text();
    int rc = pc_parse(&a, "prune", PC_ALLOC | PC_CALIB | PC_METHOD |
                                       PC_EVAL | PC_SAVE,
                      usage, argc, argv);
    free(usage);
    if (rc != 0) {
        return rc == 1 ? CLI_OK : rc;
    }
    alc_diag_init(&d);
    memset(&r, 0, sizeof r);
    rc = CLI_ERR;
    if (pc_setup(&a, &x, 0, &d) != 0 || run(&a, &x, &r, &d) != 0) {
        goto done;
    }
    pc_report_init(&a, &x, &rep);
    rep.alloc = &r.alloc;
    rep.pr = &r.pr;
    rep.ppl = r.have_ppl ? &r.ppl : NULL;
    rep.dense_ppl = r.have_dense ? &r.dense : NULL;
    if (a.out != NULL && save(&a, &x, &rep, &d) != 0) {
        goto done;
    }
    rep.seconds_total = alc_now() - x.t0;
    if (pc_write_outputs(&a, &rep, &d) != 0) {
        goto done;
    }
    print(&a, &rep);
    rc = CLI_OK;
done:
    if (rc != CLI_OK || d.n_warn > 0) {
        cli_print_diag("prune", &d);
    }
    alc_alloc_result_free(&r.alloc);
    alc_prune_report_free(&r.pr);
    pc_free(&x);
    alc_diag_free(&d);
    return rc;
}
