/*
 * cmd_gen_model.c: `dsac gen-model` writes a random-weight model in the
 * Hugging Face layout (runtime/genmodel.h): any of the four architectures,
 * any size, F32/F16/BF16, optionally sharded, seeded.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "genmodel.h"

int cmd_gen_model(int argc, char **argv);

static const char *const usage_text =
    "usage: dsac gen-model --arch ARCH --out DIR [options]\n"
    "\n"
    "Writes a model with random weights (config.json + safetensors).\n"
    "\n"
    "  --arch A           llama, mistral, qwen2 or opt\n"
    "  --out DIR          output directory (written atomically)\n"
    "  --hidden N         hidden_size (default 128)\n"
    "  --layers N         num_hidden_layers (default 2)\n"
    "  --heads N          num_attention_heads (default 4)\n"
    "  --kv-heads N       num_key_value_heads (default: heads; not OPT)\n"
    "  --head-dim N       head_dim (default hidden / heads)\n"
    "  --ffn N            intermediate_size / ffn_dim (default 3x / 4x "
    "hidden)\n"
    "  --vocab N          vocab_size (default 1024)\n"
    "  --max-pos N        max_position_embeddings (default 2048)\n"
    "  --dtype T          f32, f16 or bf16 (default bf16)\n"
    "  --seed N           random seed (default 0)\n"
    "  --shards N         N safetensors files + index (default 1)\n"
    "  --tie              tie lm_head to the embeddings (OPT: always)\n"
    "  --rope-theta X     rope_theta (default 10000)\n"
    "  --rope-llama3 F    LLaMA-3.1 rope_scaling with factor F (low 1, high "
    "4,\n"
    "                     original_max_position_embeddings 8192)\n"
    "  --sliding-window W Mistral sliding window (default none)\n"
    "  --bias             attention and MLP biases (LLaMA attention_bias + "
    "mlp_bias)\n"
    "  --post-norm        OPT do_layer_norm_before = false\n"
    "  --proj-dim P       OPT word_embed_proj_dim (project_in/out)\n"
    "  --tokenizer DIR    copy the tokenizer files from DIR (ids must fit)\n"
    "  --force            replace an existing output directory\n";

enum {
    OPT_ARCH = 256,
    OPT_OUT,
    OPT_HIDDEN,
    OPT_LAYERS,
    OPT_HEADS,
    OPT_KV,
    OPT_HEAD_DIM,
    OPT_FFN,
    OPT_VOCAB,
    OPT_MAXPOS,
    OPT_DTYPE,
    OPT_SEED,
    OPT_SHARDS,
    OPT_TIE,
    OPT_THETA,
    OPT_LLAMA3,
    OPT_SW,
    OPT_BIAS,
    OPT_POST,
    OPT_PROJ,
    OPT_TOK,
    OPT_FORCE,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"arch", required_argument, NULL, OPT_ARCH},
    {"out", required_argument, NULL, OPT_OUT},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"heads", required_argument, NULL, OPT_HEADS},
    {"kv-heads", required_argument, NULL, OPT_KV},
    {"head-dim", required_argument, NULL, OPT_HEAD_DIM},
    {"ffn", required_argument, NULL, OPT_FFN},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"max-pos", required_argument, NULL, OPT_MAXPOS},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"shards", required_argument, NULL, OPT_SHARDS},
    {"tie", no_argument, NULL, OPT_TIE},
    {"rope-theta", required_argument, NULL, OPT_THETA},
    {"rope-llama3", required_argument, NULL, OPT_LLAMA3},
    {"sliding-window", required_argument, NULL, OPT_SW},
    {"bias", no_argument, NULL, OPT_BIAS},
    {"post-norm", no_argument, NULL, OPT_POST},
    {"proj-dim", required_argument, NULL, OPT_PROJ},
    {"tokenizer", required_argument, NULL, OPT_TOK},
    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};
_Static_assert(sizeof long_opts / sizeof long_opts[0] ==
                   OPT_HELP - OPT_ARCH + 2,
               "long_opts must follow the order of the OPT_ enum");

/* Sizes given on the command line (0 = default). */
struct sizes {
    long hidden, layers, heads, kv, head_dim, ffn, vocab, max_pos, sw, proj;
    double theta, llama3;
    int tie, bias, post;
};

static int int_arg(const char *s, long lo, long hi, long *out)
{
    long v = 0;
    if (cli_parse_long(s, &v) != 0 || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

static void apply_sizes(struct alc_config *c, const struct sizes *z)
{
    int opt = alc_arch_table[c->arch].is_opt;
    c->dim = (int)(z->hidden ? z->hidden : 128);
    c->n_layers = (int)(z->layers ? z->layers : 2);
    c->n_heads = (int)(z->heads ? z->heads : 4);
    c->n_kv_heads = opt ? c->n_heads : (int)(z->kv ? z->kv : c->n_heads);
    c->head_dim = (int)(z->head_dim ? z->head_dim : c->dim / c->n_heads);
    c->hidden_dim = (int)(z->ffn ? z->ffn : (opt ? 4 : 3) * c->dim);
    c->vocab_size = (int)(z->vocab ? z->vocab : 1024);
    c->max_pos = (int)(z->max_pos ? z->max_pos : 2048);
    c->tie_embeddings = opt ? 1 : z->tie; /* OPT always ties lm_head */
    if (z->theta > 0) {
        c->rope_theta = z->theta;
    }
    if (z->llama3 > 0) {
        c->rope_type = ALC_ROPE_LLAMA3;
        c->rope_factor = z->llama3;
        c->rope_low_freq = 1.0;
        c->rope_high_freq = 4.0;
        c->rope_orig_max_pos = 8192;
    }
    c->sliding_window = c->arch == ALC_ARCH_MISTRAL ? (int)z->sw : 0;
    if (z->bias && c->arch == ALC_ARCH_LLAMA) {
        c->qkv_bias = c->o_bias = c->mlp_bias = 1;
    }
    if (opt) {
        c->pre_norm = !z->post;
        c->final_norm = c->pre_norm;
        c->proj_dim = (int)(z->proj ? z->proj : c->dim);
    }
}

static int parse_size(int opt, const char *arg, struct sizes *z)
{
    static const long big = 1L << 20;
    switch (opt) {
    case OPT_HIDDEN:
        return int_arg(arg, 1, big, &z->hidden);
    case OPT_LAYERS:
        return int_arg(arg, 1, 4096, &z->layers);
    case OPT_HEADS:
        return int_arg(arg, 1, 4096, &z->heads);
    case OPT_KV:
        return int_arg(arg, 1, 4096, &z->kv);
    case OPT_HEAD_DIM:
        return int_arg(arg, 2, 1 << 14, &z->head_dim);
    case OPT_FFN:
        return int_arg(arg, 1, 4 * big, &z->ffn);
    case OPT_VOCAB:
        return int_arg(arg, 2, 16 * big, &z->vocab);
    case OPT_MAXPOS:
        return int_arg(arg, 2, 1L << 30, &z->max_pos);
    case OPT_SW:
        return int_arg(arg, 1, 1L << 30, &z->sw);
    case OPT_PROJ:
        return int_arg(arg, 1, big, &z->proj);
    case OPT_THETA:
        return cli_parse_double(arg, &z->theta) == 0 && z->theta > 0 ? 0 : -1;
    case OPT_LLAMA3:
        return cli_parse_double(arg, &z->llama3) == 0 && z->llama3 > 0 ? 0 : -1;
    default:
        return -1;
    }
}

int cmd_gen_model(int argc, char **argv)
{
    struct sizes z;
    struct alc_gen_opts o;
    struct alc_diag d;
    const char *out = NULL;
    int arch = -1, dtype = ALC_DT_BF16, opt;
    long seed = 0, shards = 1;
    memset(&z, 0, sizeof z);
    memset(&o, 0, sizeof o);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_ARCH:
            arch = alc_arch_from_name(optarg);
            if (arch < 0) {
                return cli_usage_error("gen-model",
                                       "unknown --arch '%s' "
                                       "(llama, mistral, qwen2, opt)",
                                       optarg);
            }
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_DTYPE:
            dtype = strcmp(optarg, "f32") == 0    ? ALC_DT_F32
                    : strcmp(optarg, "f16") == 0  ? ALC_DT_F16
                    : strcmp(optarg, "bf16") == 0 ? ALC_DT_BF16
                                                  : -1;
            if (dtype < 0) {
                return cli_usage_error("gen-model", "--dtype must be f32, "
                                                    "f16 or bf16");
            }
            break;
        case OPT_SEED:
            if (int_arg(optarg, 0, 0x7fffffffL, &seed) != 0) {
                return cli_usage_error("gen-model", "bad --seed '%s'", optarg);
            }
            break;
        case OPT_SHARDS:
            if (int_arg(optarg, 1, 10000, &shards) != 0) {
                return cli_usage_error("gen-model", "bad --shards '%s'",
                                       optarg);
            }
            break;
        case OPT_TIE:
            z.tie = 1;
            break;
        case OPT_BIAS:
            z.bias = 1;
            break;
        case OPT_POST:
            z.post = 1;
            break;
        case OPT_TOK:
            o.tokenizer_dir = optarg;
            break;
        case OPT_FORCE:
            o.force = 1;
            break;
        case OPT_HELP:
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        case '?':
            return cli_usage_error("gen-model", "bad option");
        default:
            if (parse_size(opt, optarg, &z) != 0) {
                return cli_usage_error("gen-model",
                                       "bad value '%s' for "
                                       "--%s",
                                       optarg, long_opts[opt - OPT_ARCH].name);
            }
            break;
        }
    }
    if (optind < argc) {
        return cli_usage_error("gen-model", "unexpected argument '%s'",
                               argv[optind]);
    }
    if (arch < 0 || out == NULL) {
        return cli_usage_error("gen-model", "--arch and --out are required");
    }
    alc_config_defaults(&o.cfg, (enum alc_arch)arch);
    apply_sizes(&o.cfg, &z);
    o.dtype = (enum alc_dtype)dtype;
    o.seed = (uint64_t)seed;
    o.n_shards = (int)shards;
    alc_diag_init(&d);
    int rc = alc_gen_model(&o, out, &d);
    if (rc != 0) {
        cli_print_diag("gen-model", &d);
    } else {
        printf("wrote %s: %s, %d layers, hidden %d, %lld parameters, %s\n", out,
               alc_arch_table[arch].hf_name, o.cfg.n_layers, o.cfg.dim,
               (long long)alc_config_n_params(&o.cfg),
               alc_dtype_table[dtype].hf_name);
    }
    alc_diag_free(&d);
    return rc == 0 ? CLI_OK : CLI_ERR;
}
