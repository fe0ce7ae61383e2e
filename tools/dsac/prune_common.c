/*
 * prune_common.c: options and session setup shared by `dsac prune`,
 * `dsac alloc` and `dsac tune` (prune_common.h).
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "prune_common.h"

/* ---- Help ---- */

const char pc_help_alloc[] =
    "allocation:\n"
    "  --alloc FILE        .alloc program (default: uniform, sparsity = S);\n"
    "                      stdlib/ has uniform, owl, atp, dsa, dsa_atan,\n"
    "                      alphapruning, er\n"
    "  --sparsity S        target mean sparsity S in [0, 1) (default with\n"
    "                      --nm: N/M)\n"
    "  --param NAME=VALUE  set a param of the program (repeatable; within\n"
    "                      its declared range)\n"
    "  --granularity G     block (one unit per decoder block, all its\n"
    "                      linears share the ratio; default) or linear\n"
    "  --backend B         auto (default: the GPU backend when built and a\n"
    "                      GPU is usable, else llvm), llvm, interp, cuda\n";

const char pc_help_calib[] =
    "calibration (needed by wanda, sparsegpt and programs reading wanda/act):\n"
    "  --calib FILE        raw text (tokenized whole, no BOS) or C4 JSON\n"
    "                      lines (documents in file order, EOS between)\n"
    "  --calib-format F    raw, wikitext, c4, text (default by name)\n"
    "  --nsamples N        calibration windows (default 32; the reference\n"
    "                      repositories use 128)\n"
    "  --seqlen T          tokens per window (default 256; the references\n"
    "                      use 2048); also the evaluation's default\n"
    "  --calib-mode M      even (default: window i starts at token\n"
    "                      floor(i*(n-T)/N)) or random (seeded, our RNG:\n"
    "                      not Python's random; C4: Wanda's per-document\n"
    "                      sampling)\n"
    "  --seed S            seed of the random mode (default 0)\n"
    "  --calib-docs K      C4: use the first K documents (default all)\n"
    "  --calib-batch B     windows per forward batch (default 4096/T; does\n"
    "                      not depend on --threads)\n"
    "  --dump-calib FILE   write the windows' token ids as JSON\n";

const char pc_help_method[] =
    "pruning:\n"
    "  --method M          magnitude (one threshold per matrix), wanda\n"
    "                      (|W|*||X||, floor(cols*s) per row; default) or\n"
    "                      sparsegpt (OBS updates, 128-column blocks)\n"
    "  --nm N:M            N:M sparsity (2:4, 4:8): needs every ratio = N/M\n"
    "  --blocksize B       SparseGPT column block (default 128)\n"
    "  --percdamp P        SparseGPT damping, times mean diag H (0.01)\n";

const char pc_help_eval[] =
    "evaluation:\n"
    "  --eval FILE         perplexity after pruning (dsac eval's protocol)\n"
    "  --eval-format F     raw, wikitext, c4, text (default by name)\n"
    "  --eval-seqlen T     window length (default: --seqlen)\n"
    "  --eval-max-chunks K score only the first K windows\n";

const char pc_help_common[] =
    "  --report FILE       JSON report: every knob, per-unit sparsity asked\n"
    "                      and achieved, timings, perplexity\n"
    "  --plot FILE.svg     SVG plot of the per-unit sparsity\n"
    "  --json              print the JSON report instead of the text\n"
    "  --threads N         threads (default: all cores; results do not\n"
    "                      depend on it)\n"
    "  --quiet             no progress lines\n";

/* ---- Options ---- */

enum {
    O_MODEL = 256, O_ALLOC, O_SPARSITY, O_PARAM, O_GRAN, O_BACKEND, O_CALIB,
    O_CALIB_FMT, O_NSAMPLES, O_SEQLEN, O_CALIB_MODE, O_SEED, O_CALIB_DOCS,
    O_CALIB_BATCH, O_DUMP_CALIB, O_METHOD, O_NM, O_BLOCKSIZE, O_PERCDAMP,
    O_EVAL, O_EVAL_FMT, O_EVAL_SEQLEN, O_EVAL_CHUNKS, O_EVAL_DENSE,
    O_ALLOW_TEST, O_OUT, O_FORCE, O_REPORT, O_PLOT, O_JSON, O_THREADS,
    O_QUIET, O_HELP
};

static const struct option long_opts[] = {
    {"model", required_argument, NULL, O_MODEL},
    {"alloc", required_argument, NULL, O_ALLOC},
    {"sparsity", required_argument, NULL, O_SPARSITY},
    {"param", required_argument, NULL, O_PARAM},
    {"granularity", required_argument, NULL, O_GRAN},
    {"backend", required_argument, NULL, O_BACKEND},
    {"calib", required_argument, NULL, O_CALIB},
    {"calib-format", required_argument, NULL, O_CALIB_FMT},
    {"nsamples", required_argument, NULL, O_NSAMPLES},
    {"seqlen", required_argument, NULL, O_SEQLEN},
    {"calib-mode", required_argument, NULL, O_CALIB_MODE},
    {"seed", required_argument, NULL, O_SEED},
    {"calib-docs", required_argument, NULL, O_CALIB_DOCS},
    {"calib-batch", required_argument, NULL, O_CALIB_BATCH},
    {"dump-calib", required_argument, NULL, O_DUMP_CALIB},
    {"method", required_argument, NULL, O_METHOD},
    {"nm", required_argument, NULL, O_NM},
    {"blocksize", required_argument, NULL, O_BLOCKSIZE},
    {"percdamp", required_argument, NULL, O_PERCDAMP},
    {"eval", required_argument, NULL, O_EVAL},
    {"eval-format", required_argument, NULL, O_EVAL_FMT},
    {"eval-seqlen", required_argument, NULL, O_EVAL_SEQLEN},
    {"eval-max-chunks", required_argument, NULL, O_EVAL_CHUNKS},
    {"eval-dense", no_argument, NULL, O_EVAL_DENSE},
    {"allow-test-split", no_argument, NULL, O_ALLOW_TEST},
    {"out", required_argument, NULL, O_OUT},
    {"force", no_argument, NULL, O_FORCE},
    {"report", required_argument, NULL, O_REPORT},
    {"plot", required_argument, NULL, O_PLOT},
    {"json", no_argument, NULL, O_JSON},
    {"threads", required_argument, NULL, O_THREADS},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* The group an option belongs to (0: every command). */
static unsigned opt_group(int opt)
{
    switch (opt) {
    case O_ALLOC: case O_SPARSITY: case O_GRAN: case O_BACKEND:
        return PC_ALLOC;
    case O_CALIB: case O_CALIB_FMT: case O_NSAMPLES: case O_SEQLEN:
    case O_CALIB_MODE: case O_SEED: case O_CALIB_DOCS: case O_CALIB_BATCH:
    case O_DUMP_CALIB:
        return PC_CALIB;
    case O_METHOD: case O_NM: case O_BLOCKSIZE: case O_PERCDAMP:
        return PC_METHOD;
    case O_EVAL: case O_EVAL_FMT: case O_EVAL_SEQLEN: case O_EVAL_CHUNKS:
    case O_EVAL_DENSE: case O_ALLOW_TEST:
        return PC_EVAL;
    case O_OUT: case O_FORCE:
        return PC_SAVE;
    default:
        return 0;
    }
}

static int num(const char *s, long lo, long *out)
{
    long v = 0;
    if (cli_parse_long(s, &v) != 0 || v < lo || v > 0x7fffffffL) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_nm(const char *s, struct alc_prune_opts *o)
{
    int n = 0, m = 0;
    char tail = 0;
    if (sscanf(s, "%d:%d%c", &n, &m, &tail) != 2 || n < 1 || m <= n ||
        m > 64) {
        return -1;
    }
    o->n = n;
    o->m = m;
    return 0;
}

static void defaults(struct pc_args *a, const char *cmd, unsigned groups)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->groups = groups;
    a->gran = ALC_GRAN_BLOCK;
    a->backend = "auto";
    a->calib.fmt = -1;
    a->calib.nsamples = 32;
    a->calib.seqlen = 256;
    a->calib.mode = ALC_CALIB_EVEN;
    a->eval_fmt = -1;
    alc_prune_opts_default(&a->prune, ALC_PRUNE_WANDA, 0.0);
}

/* One option; returns 0, or -1 for a bad value. */
static int take(struct pc_args *a, int opt, const char *v)
{
    long n = 0;
    double x = 0;
    switch (opt) {
    case O_MODEL: a->model = v; return 0;
    case O_ALLOC: a->alloc = v; return 0;
    case O_SPARSITY:
        a->have_S = 1;
        return cli_parse_double(v, &a->S) != 0 || a->S < 0 || a->S >= 1
                   ? -1 : 0;
    case O_PARAM:
        if (a->n_params == PC_MAX_PARAMS) {
            return -1;
        }
        a->params[a->n_params++] = v;
        return 0;
    case O_GRAN: a->gran = alc_gran_from_name(v); return a->gran < 0 ? -1 : 0;
    case O_BACKEND: a->backend = v; return 0;
    case O_CALIB: a->calib.path = v; return 0;
    case O_CALIB_FMT:
        a->calib.fmt = alc_data_fmt_from_name(v);
        return a->calib.fmt < 0 ? -1 : 0;
    case O_NSAMPLES:
        if (num(v, 1, &n) != 0) {
            return -1;
        }
        a->calib.nsamples = (int)n;
        return 0;
    case O_SEQLEN:
        if (num(v, 2, &n) != 0) {
            return -1;
        }
        a->calib.seqlen = (int)n;
        return 0;
    case O_CALIB_MODE:
        n = alc_calib_mode_from_name(v);
        a->calib.mode = (enum alc_calib_mode)n;
        return n < 0 ? -1 : 0;
    case O_SEED:
        if (cli_parse_long(v, &n) != 0 || n < 0) {
            return -1;
        }
        a->calib.seed = (uint64_t)n;
        return 0;
    case O_CALIB_DOCS:
        if (num(v, 1, &n) != 0) {
            return -1;
        }
        a->calib.max_docs = n;
        return 0;
    case O_CALIB_BATCH: return num(v, 1, &a->calib_batch);
    case O_DUMP_CALIB: a->dump_calib = v; return 0;
    case O_METHOD:
        n = alc_prune_method_from_name(v);
        a->prune.method = (enum alc_prune_method)n;
        return n < 0 ? -1 : 0;
    case O_NM: return parse_nm(v, &a->prune);
    case O_BLOCKSIZE:
        if (num(v, 1, &n) != 0) {
            return -1;
        }
        a->prune.blocksize = (int)n;
        return 0;
    case O_PERCDAMP:
        if (cli_parse_double(v, &x) != 0 || x < 0) {
            return -1;
        }
        a->prune.percdamp = x;
        return 0;
    case O_EVAL: a->eval = v; return 0;
    case O_EVAL_FMT:
        a->eval_fmt = alc_data_fmt_from_name(v);
        return a->eval_fmt < 0 ? -1 : 0;
    case O_EVAL_SEQLEN: return num(v, 2, &a->eval_seqlen);
    case O_EVAL_CHUNKS: return num(v, 1, &a->eval_chunks);
    case O_EVAL_DENSE: a->eval_dense = 1; return 0;
    case O_ALLOW_TEST: a->allow_test = 1; return 0;
    case O_OUT: a->out = v; return 0;
    case O_FORCE: a->force = 1; return 0;
    case O_REPORT: a->report = v; return 0;
    case O_PLOT: a->plot = v; return 0;
    case O_JSON: a->json = 1; return 0;
    case O_THREADS: return num(v, 1, &a->threads);
    case O_QUIET: a->quiet = 1; return 0;
    default: return -1;
    }
}

static int check_args(struct pc_args *a)
{
    if (a->model == NULL) {
        return cli_usage_error(a->cmd, "--model DIR is required");
    }
    if (!a->have_S && a->prune.n > 0) {
        a->S = (double)a->prune.n / a->prune.m;
        a->have_S = 1;
    }
    if (!a->have_S) {
        return cli_usage_error(a->cmd, "--sparsity S is required");
    }
    if (a->prune.n > 0 && a->prune.blocksize % a->prune.m != 0) {
        return cli_usage_error(a->cmd, "--blocksize %d is not a multiple of "
                               "M = %d", a->prune.blocksize, a->prune.m);
    }
    return 0;
}

int pc_parse(struct pc_args *a, const char *cmd, unsigned groups,
             const char *usage, int argc, char **argv)
{
    int opt;
    defaults(a, cmd, groups);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == O_HELP) {
            fputs(usage, stdout);
            return 1;
        }
        if (opt == 'o' && (groups & PC_TUNE)) {
            a->out_alloc = optarg;
            continue;
        }
        unsigned g = opt_group(opt);
        if (opt == '?' || opt == 'o' || (g != 0 && !(groups & g))) {
            return cli_usage_error(cmd, "bad option%s%s",
                                   opt == '?' ? "" : " ",
                                   opt == '?' ? "" : argv[optind - 1]);
        }
        if (take(a, opt, optarg) != 0) {
            return cli_usage_error(cmd, "bad value '%s' for --%s", optarg,
                                   long_opts[opt - O_MODEL].name);
        }
    }
    if (optind < argc && !(groups & PC_TUNE)) {
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    alc_progress_set_quiet(a->quiet);
    return check_args(a);
}

/* ---- Setup ---- */

static int set_params(const struct pc_args *a, struct pc_run *x,
                      struct alc_diag *d)
{
    for (int i = 0; i < a->n_params; i++) {
        if (alc_allocfn_set_param_str(&x->fn, a->params[i], d) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Calibration is needed by the method (pruning commands) or by the
 * program's inputs; --calib alone also builds it (reported). */
static int needs_calib(const struct pc_args *a, const struct pc_run *x)
{
    unsigned act = (1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT);
    int method = (a->groups & PC_METHOD) &&
                 alc_prune_stats_needed(a->prune.method) != 0;
    return method || (x->fn.inputs & act) != 0;
}

static int calibrate(const struct pc_args *a, struct pc_run *x,
                     struct alc_diag *d)
{
    if (a->calib.path == NULL) {
        if (!needs_calib(a, x)) {
            return 0;
        }
        alc_diag_errorf(d, "%s needs calibration data: --calib FILE (e.g. "
                        "examples/corpus/kjv.train.raw)",
                        (x->fn.inputs & ((1u << ALC_IN_WANDA) |
                                         (1u << ALC_IN_ACT)))
                            ? x->fn.path
                            : alc_prune_method_name[a->prune.method]);
        return -1;
    }
    if (alc_session_calibrate(&x->s, &a->calib, d) != 0) {
        return -1;
    }
    if (a->dump_calib != NULL &&
        alc_calib_write_ids(&x->s.calib, a->dump_calib, d) != 0) {
        return -1;
    }
    return 0;
}

int pc_setup(const struct pc_args *a, struct pc_run *x, int skip_params,
             struct alc_diag *d)
{
    struct alc_session_opts so = {a->model, (int)a->threads, !a->quiet,
                                  (int)a->calib_batch};
    memset(x, 0, sizeof *x);
    x->eval_idx = -1;
    x->t0 = alc_now();
    if (alc_session_backend(a->backend, &x->be, d) != 0) {
        return -1;
    }
    if (alc_allocfn_load(&x->fn, a->alloc, x->be, d) != 0) {
        return -1;
    }
    x->have_fn = 1;
    if (!skip_params && set_params(a, x, d) != 0) {
        return -1;
    }
    if (alc_session_open(&x->s, &so, d) != 0) {
        return -1;
    }
    x->have_s = 1;
    if (calibrate(a, x, d) != 0) {
        return -1;
    }
    if (alc_session_prepare(&x->s, x->fn.inputs, (enum alc_gran)a->gran,
                            d) != 0) {
        return -1;
    }
    if (a->eval != NULL) {
        x->eval_idx = alc_session_data_add(&x->s, a->eval, a->eval_fmt, 0, d);
        if (x->eval_idx < 0) {
            return -1;
        }
    }
    return 0;
}

void pc_free(struct pc_run *x)
{
    if (x->have_s) {
        alc_session_close(&x->s);
    }
    if (x->have_fn) {
        alc_allocfn_free(&x->fn);
    }
    memset(x, 0, sizeof *x);
}

void pc_report_init(const struct pc_args *a, const struct pc_run *x,
                    struct alc_report_run *r)
{
    memset(r, 0, sizeof *r);
    r->command = a->cmd;
    r->s = &x->s;
    r->fn = &x->fn;
    r->backend = alc_backend_name[x->be];
    r->S = a->S;
    r->gran = (enum alc_gran)a->gran;
    r->prune = (a->groups & PC_METHOD) ? &a->prune : NULL;
    r->eval_idx = x->eval_idx;
}

int pc_write_outputs(const struct pc_args *a, const struct alc_report_run *r,
                     struct alc_diag *d)
{
    struct alc_sb sb;
    int rc = 0;
    alc_sb_init(&sb);
    if (a->report != NULL) {
        alc_report_json(r, &sb);
        rc = alc_write_file_atomic(a->report, sb.s, sb.len, d);
        alc_sb_reset(&sb);
    }
    if (rc == 0 && a->plot != NULL) {
        alc_report_svg(r, &sb);
        rc = alc_write_file_atomic(a->plot, sb.s, sb.len, d);
    }
    alc_sb_free(&sb);
    return rc;
}
