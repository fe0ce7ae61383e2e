/*
 * cmd_alloc.c: `dsac alloc`, the allocation step of `dsac prune` alone:
 * calibration and pass 1 on the dense model when the program reads
 * activations (alpha when it reads alpha_*), then the compiled program's
 * ratio and score per unit, printed as a table or JSON, with --report and
 * --plot. Nothing is pruned.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "prune_common.h"

int cmd_alloc(int argc, char **argv);

static const char usage_head[] =
    "usage: dsac alloc --model DIR --sparsity S [--alloc FILE] "
    "[--calib FILE] [options]\n"
    "\n"
    "Evaluates an allocation program on DIR's dense statistics and prints\n"
    "the sparsity (and score) of every unit, as `dsac prune` would use\n"
    "them. Invalid ratios (NaN, outside [0, 1)) are an error naming the\n"
    "units, the values and the op that produced them.\n"
    "\n"
    "  --model DIR         Hugging Face model directory\n";

static char *usage_text(void)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, usage_head);
    alc_sb_puts(&sb, pc_help_alloc);
    alc_sb_puts(&sb, pc_help_calib);
    alc_sb_puts(&sb, pc_help_common);
    return alc_sb_take(&sb);
}

int cmd_alloc(int argc, char **argv)
{
    struct pc_args a;
    struct pc_run x;
    struct alc_alloc_result r;
    struct alc_report_run rep;
    struct alc_diag d;
    struct alc_sb sb;
    char *usage = usage_text();
    int rc = pc_parse(&a, "alloc", PC_ALLOC | PC_CALIB, usage, argc, argv);
    free(usage);
    if (rc != 0) {
        return rc == 1 ? CLI_OK : rc;
    }
    alc_diag_init(&d);
    alc_sb_init(&sb);
    memset(&r, 0, sizeof r);
    rc = CLI_ERR;
    if (pc_setup(&a, &x, 0, &d) != 0 ||
        alc_session_allocate(&x.s, x.fn.c, a.S, x.fn.params, &r, &d) != 0) {
        goto done;
    }
    pc_report_init(&a, &x, &rep);
    rep.alloc = &r;
    rep.seconds_total = alc_now() - x.t0;
    if (!r.valid) {
        alc_diag_errorf(&d, "%s", r.why);
        goto done;
    }
    if (pc_write_outputs(&a, &rep, &d) != 0) {
        goto done;
    }
    if (a.json) {
        alc_report_json(&rep, &sb);
    } else {
        alc_report_knobs(&rep, &sb);
        alc_report_table(&rep, &sb);
        alc_report_summary(&rep, &sb);
    }
    fputs(alc_sb_str(&sb), stdout);
    rc = CLI_OK;
done:
    if (rc != CLI_OK || d.n_warn > 0) {
        cli_print_diag("alloc", &d);
    }
    alc_sb_free(&sb);
    alc_alloc_result_free(&r);
    pc_free(&x);
    alc_diag_free(&d);
    return rc;
}
