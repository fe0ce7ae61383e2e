/*
 * cmd_eval.c: `dsac eval` scores a model's perplexity on a text under the
 * GPTQ / SparseGPT / Wanda protocol (runtime/eval.h): tokenize the whole
 * file once (BOS once at the start when the tokenizer adds one), cut into
 * floor(n / seqlen) non-overlapping windows, PPL = exp(mean over windows of
 * the mean next-token loss). Every knob of the protocol is printed with
 * the result, in text or --json.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "data.h"
#include "eval.h"
#include "forward.h"
#include "model.h"
#include "safetensors.h"
#include "tokenizer.h"

int cmd_eval(int argc, char **argv);

static const char *const usage_text =
    "usage: dsac eval --model DIR (--data FILE | --ids FILE) [options]\n"
    "\n"
    "Perplexity of DIR on FILE: the whole file is tokenized once (BOS once\n"
    "at the start when the tokenizer adds one), cut into floor(n/seqlen)\n"
    "non-overlapping windows, and PPL = exp(mean over windows of the mean\n"
    "next-token cross-entropy), as GPTQ, SparseGPT and Wanda compute it.\n"
    "\n"
    "  --model DIR         Hugging Face model directory\n"
    "  --data FILE         text to score\n"
    "  --data-format F     raw (verbatim), wikitext (HF wikitext-2-raw-v1\n"
    "                      rows joined with \"\\n\\n\", as Wanda/SparseGPT on\n"
    "                      wiki.test.raw), c4 (JSON lines, .json.gz ok; the\n"
    "                      first --c4-docs documents joined with \" \"), text\n"
    "                      (verbatim). Default by name: wiki.*.raw ->\n"
    "                      wikitext, *.json[l][.gz] -> c4, else raw\n"
    "  --c4-docs N         documents of a c4 file to join (default 1100)\n"
    "  --ids FILE          score pre-tokenized ids ({\"ids\": [...]})\n"
    "  --seqlen N          tokens per window (default min(2048,\n"
    "                      max_position_embeddings))\n"
    "  --max-chunks K      score only the first K windows (c4 default 256)\n"
    "  --batch B           windows per forward batch (default automatic)\n"
    "  --threads N         threads (default: all cores; results do not\n"
    "                      depend on it)\n"
    "  --json              print one JSON object instead of the report\n"
    "  --quiet             no progress line\n";

enum {
    OPT_MODEL = 256,
    OPT_DATA,
    OPT_FORMAT,
    OPT_C4,
    OPT_IDS,
    OPT_SEQLEN,
    OPT_CHUNKS,
    OPT_BATCH,
    OPT_THREADS,
    OPT_JSON,
    OPT_QUIET,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"data", required_argument, NULL, OPT_DATA},
    {"data-format", required_argument, NULL, OPT_FORMAT},
    {"c4-docs", required_argument, NULL, OPT_C4},
    {"ids", required_argument, NULL, OPT_IDS},
    {"seqlen", required_argument, NULL, OPT_SEQLEN},
    {"max-chunks", required_argument, NULL, OPT_CHUNKS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct args {
    const char *model, *data, *ids_file;
    int fmt; /* enum alc_data_fmt, -1 = by name */
    long c4_docs, seqlen, chunks, batch, threads;
    int json, quiet;
};

/* What was tokenized, for the report. */
struct input {
    int32_t *ids;
    int64_t n;
    enum alc_data_fmt fmt;
    uint64_t bytes, hash;
    int64_t docs, docs_used;
    int bos_id; /* -1: none added or unknown (ids file) */
    char bos_piece[64];
};

/* ---- Options ---- */

static int num(const char *s, long lo, long *out)
{
    long v = 0;
    if (cli_parse_long(s, &v) != 0 || v < lo || v > 0x7fffffffL) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    int opt;
    memset(a, 0, sizeof *a);
    a->fmt = -1;
    a->c4_docs = 1100;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case OPT_MODEL:
            a->model = optarg;
            break;
        case OPT_DATA:
            a->data = optarg;
            break;
        case OPT_IDS:
            a->ids_file = optarg;
            break;
        case OPT_FORMAT:
            a->fmt = alc_data_fmt_from_name(optarg);
            bad = a->fmt < 0;
            break;
        case OPT_C4:
            bad = num(optarg, 1, &a->c4_docs);
            break;
        case OPT_SEQLEN:
            bad = num(optarg, 2, &a->seqlen);
            break;
        case OPT_CHUNKS:
            bad = num(optarg, 1, &a->chunks);
            break;
        case OPT_BATCH:
            bad = num(optarg, 1, &a->batch);
            break;
        case OPT_THREADS:
            bad = num(optarg, 1, &a->threads);
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_QUIET:
            a->quiet = 1;
            break;
        case OPT_HELP:
        case 'h':
            fputs(usage_text, stdout);
            return 1;
        default:
            return cli_usage_error("eval", "bad option");
        }
        if (bad) {
            return cli_usage_error("eval", "bad value '%s' for --%s", optarg,
                                   long_opts[opt - OPT_MODEL].name);
        }
    }
    if (optind < argc) {
        return cli_usage_error("eval", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (a->model == NULL || (a->data == NULL) == (a->ids_file == NULL)) {
        return cli_usage_error("eval", "--model and one of --data or --ids "
                                       "are required");
    }
    return 0;
}

/* ---- Input ---- */

static int tokenize(const struct args *a, struct input *in, struct alc_diag *d)
{
    struct alc_docs docs;
    struct alc_tokenizer *t = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;
    in->fmt =
        a->fmt >= 0 ? (enum alc_data_fmt)a->fmt : alc_data_fmt_guess(a->data);
    if (alc_data_read(a->data, in->fmt, &docs, d) != 0) {
        return -1;
    }
    in->bytes = docs.file_bytes;
    in->hash = docs.file_hash;
    in->docs = docs.n;
    text = alc_data_join(&docs, in->fmt, a->c4_docs, &in->docs_used, &len);
    alc_docs_free(&docs);
    t = alc_tok_load(a->model, d);
    if (t == NULL) {
        goto done;
    }
    if (alc_tok_encode(t, text, len, 1, &in->ids, &in->n, d) != 0) {
        goto done;
    }
    in->bos_id = alc_tok_bos_id(t);
    if (in->bos_id >= 0 && alc_tok_piece(t, in->bos_id) != NULL) {
        snprintf(in->bos_piece, sizeof in->bos_piece, "%s",
                 alc_tok_piece(t, in->bos_id));
    }
    rc = 0;
done:
    alc_tok_free(t);
    free(text);
    return rc;
}

static int read_input(const struct args *a, struct input *in,
                      struct alc_diag *d)
{
    memset(in, 0, sizeof *in);
    in->bos_id = -1;
    if (a->ids_file != NULL) {
        return alc_data_read_ids(a->ids_file, &in->ids, &in->n, d);
    }
    return tokenize(a, in, d);
}

/* ---- Report ---- */

static const char *fmt_note(enum alc_data_fmt f)
{
    static const char *const notes[ALC_DATA_COUNT] = {
        [ALC_DATA_RAW] = "the file verbatim",
        [ALC_DATA_WIKITEXT] = "HF wikitext rows joined with \"\\n\\n\"",
        [ALC_DATA_C4] = "JSON-lines documents joined with \" \"",
        [ALC_DATA_TEXT] = "the file verbatim",
    };
    return notes[f];
}

static void print_text(const struct args *a, const struct alc_model *m,
                       const struct input *in, const struct alc_eval_result *r)
{
    const struct alc_config *c = &m->cfg;
    printf("model      %s: %s, %d layers, hidden %d, %.2f M parameters, "
           "%s weights%s\n",
           a->model, alc_arch_table[c->arch].hf_name, c->n_layers, c->dim,
           (double)m->n_params / 1e6, alc_dtype_table[m->dtype].hf_name,
           m->n_overrides ? " (with overrides)" : "");
    if (a->ids_file != NULL) {
        printf("data       %s: pre-tokenized ids, used as given\n",
               a->ids_file);
    } else {
        printf("data       %s: %llu bytes, hash %016llx, format %s (%s)",
               a->data, (unsigned long long)in->bytes,
               (unsigned long long)in->hash, alc_data_fmt_names[in->fmt],
               fmt_note(in->fmt));
        if (in->fmt == ALC_DATA_C4) {
            printf(", %lld of %lld documents", (long long)in->docs_used,
                   (long long)in->docs);
        }
        printf("\n");
    }
    printf("tokens     %lld", (long long)r->n_ids);
    if (a->ids_file == NULL && in->bos_id >= 0) {
        printf(" (BOS %s = %d added once at the start)", in->bos_piece,
               in->bos_id);
    } else if (a->ids_file == NULL) {
        printf(" (the tokenizer adds no BOS)");
    }
    printf("\nwindows    %lld of %d tokens (%lld available, %lld tail tokens "
           "dropped), %lld predictions\n",
           (long long)r->n_windows, r->seqlen, (long long)r->n_avail,
           (long long)r->n_dropped, (long long)r->n_scored);
    printf("compute    fp32 on %d threads, batch %d, OpenBLAS %s kernels: "
           "%.2f s, %.0f tokens/s\n",
           r->n_threads, r->batch, alc_fwd_blas_core(), r->seconds,
           r->tokens_per_s);
    printf("protocol   PPL = exp(mean over windows of the mean next-token "
           "NLL); +/- = PPL * sd / sqrt(windows)\n");
    printf("Final estimate: PPL = %.4f +/- %.4f\n", r->ppl, r->ppl_se);
}

static void print_json(const struct args *a, const struct alc_model *m,
                       const struct input *in, const struct alc_eval_result *r)
{
    struct alc_sb sb;
    const struct alc_config *c = &m->cfg;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "{\"model\": ");
    alc_json_put_str(&sb, a->model);
    alc_sb_printf(&sb,
                  ", \"architecture\": \"%s\", \"layers\": %d, "
                  "\"hidden\": %d, \"params\": %lld, \"dtype\": \"%s\", "
                  "\"overrides\": %lld",
                  alc_arch_table[c->arch].hf_name, c->n_layers, c->dim,
                  (long long)m->n_params, alc_dtype_table[m->dtype].hf_name,
                  (long long)m->n_overrides);
    alc_sb_puts(&sb, ", \"data\": ");
    alc_json_put_str(&sb, a->ids_file ? a->ids_file : a->data);
    if (a->ids_file != NULL) {
        alc_sb_puts(&sb, ", \"data_format\": \"ids\"");
    } else {
        alc_sb_printf(&sb,
                      ", \"data_format\": \"%s\", \"data_bytes\": %llu,"
                      " \"data_hash\": \"%016llx\", \"documents\": %lld, "
                      "\"documents_used\": %lld, \"bos\": %s, "
                      "\"bos_id\": %d",
                      alc_data_fmt_names[in->fmt],
                      (unsigned long long)in->bytes,
                      (unsigned long long)in->hash, (long long)in->docs,
                      (long long)in->docs_used,
                      in->bos_id >= 0 ? "true" : "false", in->bos_id);
    }
    alc_sb_printf(&sb,
                  ", \"tokens\": %lld, \"seqlen\": %d, \"windows\": "
                  "%lld, \"windows_available\": %lld, \"tail_dropped\": "
                  "%lld, \"predictions\": %lld, \"threads\": %d, "
                  "\"batch\": %d, \"blas\": \"%s\", \"seconds\": %.6f, "
                  "\"tokens_per_s\": %.3f, "
                  "\"mean_nll\": %.17g, \"nll_sd\": %.17g, \"ppl\": %.17g, "
                  "\"ppl_stderr\": %.17g}\n",
                  (long long)r->n_ids, r->seqlen, (long long)r->n_windows,
                  (long long)r->n_avail, (long long)r->n_dropped,
                  (long long)r->n_scored, r->n_threads, r->batch,
                  alc_fwd_blas_core(), r->seconds, r->tokens_per_s, r->mean_nll,
                  r->nll_sd, r->ppl, r->ppl_se);
    fputs(sb.s, stdout);
    alc_sb_free(&sb);
}

/* ---- Driver ---- */

int cmd_eval(int argc, char **argv)
{
    struct args a;
    struct alc_model m;
    struct input in;
    struct alc_eval_result r;
    struct alc_diag d;
    int rc = parse_args(argc, argv, &a), have_model = 0;
    if (rc != 0) {
        return rc == 1 ? CLI_OK : rc;
    }
    alc_diag_init(&d);
    memset(&in, 0, sizeof in);
    memset(&r, 0, sizeof r);
    rc = CLI_ERR;
    if (alc_model_load(&m, a.model, &d) != 0) {
        goto done;
    }
    have_model = 1;
    if (alc_fwd_blas_advice() != NULL) {
        fprintf(stderr, "dsac eval: warning: %s\n", alc_fwd_blas_advice());
    }
    if (read_input(&a, &in, &d) != 0) {
        goto done;
    }
    int max_seq =
        m.cfg.max_pos > 0 && m.cfg.max_pos < 2048 ? m.cfg.max_pos : 2048;
    long chunks = a.chunks;
    if (chunks == 0 && a.ids_file == NULL && in.fmt == ALC_DATA_C4) {
        chunks = 256; /* SparseGPT's C4 evaluation */
    }
    struct alc_eval_opts o = {a.seqlen > 0 ? (int)a.seqlen : max_seq, chunks,
                              (int)a.batch, (int)a.threads, !a.quiet};
    if (alc_eval_ppl(&m, in.ids, in.n, &o, &r, &d) != 0) {
        goto done;
    }
    if (a.json) {
        print_json(&a, &m, &in, &r);
    } else {
        print_text(&a, &m, &in, &r);
    }
    rc = CLI_OK;
done:
    if (rc != CLI_OK) {
        cli_print_diag("eval", &d);
    }
    alc_eval_result_free(&r);
    free(in.ids);
    if (have_model) {
        alc_model_free(&m);
    }
    alc_diag_free(&d);
    return rc;
}
