/*
 * config.c: config.json of the four supported architectures, parsed with
 * cJSON into struct alc_config (defaults as in transformers' config
 * classes), written back by the random-model generator, plus the rotary
 * frequencies (default, linear and llama3 rope_scaling).
 */
#include <math.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "config.h"

/* ---- Architectures ---- */

const struct alc_arch_info alc_arch_table[ALC_ARCH_COUNT] = {
    [ALC_ARCH_LLAMA] = {"LlamaForCausalLM", "llama", 0},
    [ALC_ARCH_MISTRAL] = {"MistralForCausalLM", "mistral", 0},
    [ALC_ARCH_QWEN2] = {"Qwen2ForCausalLM", "qwen2", 0},
    [ALC_ARCH_OPT] = {"OPTForCausalLM", "opt", 1},
};
_Static_assert(ALC_ARCH_COUNT == 4, "architecture table out of sync");

static const char *const act_names[ALC_ACT_COUNT] = {
    [ALC_ACT_SILU] = "silu",
    [ALC_ACT_RELU] = "relu",
    [ALC_ACT_GELU] = "gelu",
};
_Static_assert(ALC_ACT_COUNT == 3, "activation table out of sync");

int alc_arch_from_name(const char *name)
{
    for (int i = 0; i < ALC_ARCH_COUNT; i++) {
        if (strcmp(name, alc_arch_table[i].hf_name) == 0 ||
            strcmp(name, alc_arch_table[i].model_type) == 0) {
            return i;
        }
    }
    return -1;
}

void alc_config_defaults(struct alc_config *c, enum alc_arch arch)
{
    memset(c, 0, sizeof *c);
    c->arch = arch;
    c->dtype = -1;
    c->bos_id = -1;
    c->rope_type = ALC_ROPE_DEFAULT;
    c->rope_factor = 1.0;
    if (alc_arch_table[arch].is_opt) {
        c->norm_eps = 1e-5; /* nn.LayerNorm default, fixed in OPT */
        c->act = ALC_ACT_RELU;
        c->layer_norm = 1;
        c->pre_norm = 1;
        c->final_norm = 1;
        c->qkv_bias = c->o_bias = c->mlp_bias = 1;
        c->tie_embeddings = 1;
        c->pos_offset = 2;
        c->max_pos = 2048;
        c->bos_id = 2;
        c->n_eos = 1;
        c->eos_ids[0] = 2;
        return;
    }
    c->norm_eps = 1e-6;
    c->act = ALC_ACT_SILU;
    c->gated_mlp = 1;
    c->pre_norm = 1;
    c->final_norm = 1;
    c->rope = 1;
    c->rope_theta = 10000.0;
    c->bos_id = 1;
    c->n_eos = 1;
    c->eos_ids[0] = 2;
    c->max_pos = arch == ALC_ARCH_MISTRAL ? 131072
                 : arch == ALC_ARCH_QWEN2 ? 32768
                                          : 2048;
    if (arch == ALC_ARCH_MISTRAL) {
        c->sliding_window = 4096;
    }
    if (arch == ALC_ARCH_QWEN2) {
        c->qkv_bias = 1; /* Qwen2Attention: bias on q/k/v, not on o */
    }
}

/* ---- Field readers ---- */

struct jctx {
    const cJSON *root;
    const char *path;
    struct alc_diag *d;
    int err;
};

/* The value of key, or NULL when absent or JSON null. */
static const cJSON *field(const struct jctx *j, const cJSON *obj,
                          const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static void ferr(struct jctx *j, const char *key, const char *what)
{
    if (j->err++ == 0) {
        alc_diag_errorf(j->d, "%s: %s: %s", j->path, key, what);
    }
}

/* Integer field in [lo, hi]; *out unchanged when absent and optional. */
static void get_int(struct jctx *j, const cJSON *obj, const char *key,
                    int required, int lo, int hi, int *out)
{
    const cJSON *v = field(j, obj, key);
    char msg[96];
    if (v == NULL) {
        if (required) {
            ferr(j, key, "missing");
        }
        return;
    }
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x == floor(x)) || x < lo || x > hi) {
        snprintf(msg, sizeof msg, "expected an integer in [%d, %d]", lo, hi);
        ferr(j, key, msg);
        return;
    }
    *out = (int)x;
}

static void get_num(struct jctx *j, const cJSON *obj, const char *key,
                    double lo, double hi, double *out)
{
    const cJSON *v = field(j, obj, key);
    if (v == NULL) {
        return;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) ||
        !(v->valuedouble <= hi)) {
        ferr(j, key, "expected a number in range");
        return;
    }
    *out = v->valuedouble;
}

static void get_bool(struct jctx *j, const cJSON *obj, const char *key,
                     int *out)
{
    const cJSON *v = field(j, obj, key);
    if (v == NULL) {
        return;
    }
    if (!cJSON_IsBool(v)) {
        ferr(j, key, "expected true or false");
        return;
    }
    *out = cJSON_IsTrue(v) ? 1 : 0;
}

/* eos_token_id: an int or a list of ints (LLaMA-3 Instruct). */
static void get_eos(struct jctx *j, struct alc_config *c)
{
    const cJSON *v = field(j, j->root, "eos_token_id");
    if (v == NULL) {
        return;
    }
    if (cJSON_IsNumber(v)) {
        get_int(j, j->root, "eos_token_id", 0, 0, 1 << 30, &c->eos_ids[0]);
        c->n_eos = 1;
        return;
    }
    if (!cJSON_IsArray(v)) {
        ferr(j, "eos_token_id", "expected an integer or a list of integers");
        return;
    }
    c->n_eos = 0;
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
            e->valuedouble < 0 || e->valuedouble > (1 << 30)) {
            ferr(j, "eos_token_id", "list holds a non-integer");
            return;
        }
        if (c->n_eos < (int)(sizeof c->eos_ids / sizeof c->eos_ids[0])) {
            c->eos_ids[c->n_eos++] = (int)e->valuedouble;
        }
    }
}

/* torch_dtype (older) or dtype (transformers >= 4.56). */
static void get_dtype(struct jctx *j, struct alc_config *c)
{
    const cJSON *v = field(j, j->root, "dtype");
    if (v == NULL) {
        v = field(j, j->root, "torch_dtype");
    }
    if (cJSON_IsString(v)) {
        c->dtype = alc_dtype_from_hf(v->valuestring);
    }
}

static int parse_act(struct jctx *j, const char *key, struct alc_config *c)
{
    const cJSON *v = field(j, j->root, key);
    if (v == NULL) {
        return 0;
    }
    if (!cJSON_IsString(v)) {
        ferr(j, key, "expected a string");
        return -1;
    }
    const char *s = v->valuestring;
    for (int i = 0; i < ALC_ACT_COUNT; i++) {
        if (strcmp(s, act_names[i]) == 0) {
            c->act = (enum alc_act)i;
            return 0;
        }
    }
    if (strcmp(s, "swish") == 0) {
        c->act = ALC_ACT_SILU;
        return 0;
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "unsupported activation '%.60s' (silu, relu, "
             "gelu)",
             s);
    ferr(j, key, msg);
    return -1;
}

/* rope_scaling: null, {"rope_type"|"type": "default"|"linear"|"llama3"}. */
static void parse_rope_scaling(struct jctx *j, struct alc_config *c)
{
    const cJSON *rs = field(j, j->root, "rope_scaling");
    if (rs == NULL) {
        return;
    }
    if (!cJSON_IsObject(rs)) {
        ferr(j, "rope_scaling", "expected an object or null");
        return;
    }
    const cJSON *t = field(j, rs, "rope_type");
    if (t == NULL) {
        t = field(j, rs, "type");
    }
    if (!cJSON_IsString(t)) {
        ferr(j, "rope_scaling", "missing rope_type");
        return;
    }
    if (strcmp(t->valuestring, "default") == 0) {
        return;
    }
    double f = 0;
    get_num(j, rs, "factor", 1e-6, 1e6, &f);
    if (f <= 0) {
        ferr(j, "rope_scaling.factor", "missing or not positive");
        return;
    }
    c->rope_factor = f;
    if (strcmp(t->valuestring, "linear") == 0) {
        c->rope_type = ALC_ROPE_LINEAR;
        return;
    }
    if (strcmp(t->valuestring, "llama3") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "unsupported rope_type '%.40s' (default, "
                 "linear, llama3)",
                 t->valuestring);
        ferr(j, "rope_scaling", msg);
        return;
    }
    c->rope_type = ALC_ROPE_LLAMA3;
    c->rope_low_freq = 0;
    c->rope_high_freq = 0;
    get_num(j, rs, "low_freq_factor", 1e-6, 1e6, &c->rope_low_freq);
    get_num(j, rs, "high_freq_factor", 1e-6, 1e6, &c->rope_high_freq);
    get_int(j, rs, "original_max_position_embeddings", 1, 1, 1 << 30,
            &c->rope_orig_max_pos);
    if (!(c->rope_high_freq > c->rope_low_freq) || c->rope_low_freq <= 0) {
        ferr(j, "rope_scaling",
             "llama3 needs 0 < low_freq_factor < "
             "high_freq_factor");
    }
}

/* ---- Parsing ---- */

static int parse_arch(struct jctx *j)
{
    const cJSON *a = field(j, j->root, "architectures");
    const cJSON *mt = field(j, j->root, "model_type");
    const char *name = NULL;
    if (cJSON_IsArray(a) && cJSON_GetArraySize(a) > 0 &&
        cJSON_IsString(cJSON_GetArrayItem(a, 0))) {
        name = cJSON_GetArrayItem(a, 0)->valuestring;
    } else if (cJSON_IsString(mt)) {
        name = mt->valuestring;
    }
    if (name == NULL) {
        ferr(j, "architectures", "missing (and no model_type)");
        return -1;
    }
    int arch = alc_arch_from_name(name);
    if (arch < 0) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "unsupported architecture '%.80s' "
                 "(supported: LlamaForCausalLM, MistralForCausalLM, "
                 "Qwen2ForCausalLM, OPTForCausalLM)",
                 name);
        ferr(j, "architectures", msg);
        return -1;
    }
    return arch;
}

static void parse_llama(struct jctx *j, struct alc_config *c)
{
    const cJSON *r = j->root;
    int attn_bias = 0;
    get_int(j, r, "intermediate_size", 1, 1, 1 << 22, &c->hidden_dim);
    get_int(j, r, "num_attention_heads", 1, 1, 1 << 12, &c->n_heads);
    c->n_kv_heads = c->arch == ALC_ARCH_MISTRAL ? 8 : c->n_heads;
    get_int(j, r, "num_key_value_heads", 0, 1, 1 << 12, &c->n_kv_heads);
    get_int(j, r, "head_dim", 0, 2, 1 << 14, &c->head_dim);
    get_num(j, r, "rms_norm_eps", 0, 1, &c->norm_eps);
    get_num(j, r, "rope_theta", 1e-3, 1e12, &c->rope_theta);
    parse_act(j, "hidden_act", c);
    parse_rope_scaling(j, c);
    if (c->arch == ALC_ARCH_LLAMA) {
        get_bool(j, r, "attention_bias", &attn_bias);
        get_bool(j, r, "mlp_bias", &c->mlp_bias);
        c->qkv_bias = c->o_bias = attn_bias;
    }
    if (c->arch == ALC_ARCH_MISTRAL) {
        c->sliding_window = 0;
        get_int(j, r, "sliding_window", 0, 1, 1 << 30, &c->sliding_window);
    }
    if (c->arch == ALC_ARCH_QWEN2) {
        int sw = 0;
        get_bool(j, r, "use_sliding_window", &sw);
        if (sw) {
            ferr(j, "use_sliding_window", "true is not supported");
        }
    }
}

static void parse_opt(struct jctx *j, struct alc_config *c)
{
    const cJSON *r = j->root;
    int remove_final = 0, affine = 1;
    get_int(j, r, "ffn_dim", 1, 1, 1 << 22, &c->hidden_dim);
    get_int(j, r, "num_attention_heads", 1, 1, 1 << 12, &c->n_heads);
    c->n_kv_heads = c->n_heads;
    get_bool(j, r, "do_layer_norm_before", &c->pre_norm);
    get_bool(j, r, "_remove_final_layer_norm", &remove_final);
    get_bool(j, r, "enable_bias", &c->qkv_bias);
    c->o_bias = c->mlp_bias = c->qkv_bias;
    get_bool(j, r, "layer_norm_elementwise_affine", &affine);
    if (!affine) {
        ferr(j, "layer_norm_elementwise_affine", "false is not supported");
    }
    c->final_norm = c->pre_norm && !remove_final;
    c->proj_dim = c->dim;
    get_int(j, r, "word_embed_proj_dim", 0, 1, 1 << 20, &c->proj_dim);
    parse_act(j, "activation_function", c);
}

static void check_sizes(struct jctx *j, struct alc_config *c)
{
    if (j->err) {
        return;
    }
    if (c->head_dim == 0) {
        if (c->dim % c->n_heads != 0) {
            ferr(j, "num_attention_heads", "does not divide hidden_size");
            return;
        }
        c->head_dim = c->dim / c->n_heads;
        /* the bounds of an explicit head_dim (get_int above), so that a
         * config written back (alc_config_to_json) reads again */
        if (c->head_dim < 2 || c->head_dim > (1 << 14)) {
            char what[96];
            snprintf(what, sizeof what,
                     "hidden_size / num_attention_heads = %d, a head "
                     "dimension outside [2, 16384]",
                     c->head_dim);
            ferr(j, "num_attention_heads", what);
            return;
        }
    }
    if (c->n_heads % c->n_kv_heads != 0) {
        ferr(j, "num_key_value_heads", "does not divide num_attention_heads");
    } else if (c->rope && c->head_dim % 2 != 0) {
        ferr(j, "head_dim", "must be even for rotary embeddings");
    } else if ((int64_t)c->n_heads * c->head_dim > (1 << 20)) {
        ferr(j, "head_dim", "num_attention_heads * head_dim too large");
    } else if (!c->rope && c->max_pos <= 0) {
        ferr(j, "max_position_embeddings", "needed for learned positions");
    }
}

int alc_config_parse(struct alc_config *c, const char *json, size_t len,
                     const char *path, struct alc_diag *d)
{
    struct jctx j = {NULL, path, d, 0};
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        alc_diag_errorf(d, "%s: not a JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    j.root = root;
    int arch = parse_arch(&j);
    if (arch >= 0) {
        alc_config_defaults(c, (enum alc_arch)arch);
        get_int(&j, root, "hidden_size", 1, 1, 1 << 20, &c->dim);
        get_int(&j, root, "num_hidden_layers", 1, 1, 1 << 12, &c->n_layers);
        get_int(&j, root, "vocab_size", 1, 1, 1 << 24, &c->vocab_size);
        get_int(&j, root, "max_position_embeddings", 0, 1, 1 << 30,
                &c->max_pos);
        get_bool(&j, root, "tie_word_embeddings", &c->tie_embeddings);
        get_int(&j, root, "bos_token_id", 0, 0, 1 << 30, &c->bos_id);
        get_eos(&j, c);
        get_dtype(&j, c);
        if (alc_arch_table[arch].is_opt) {
            parse_opt(&j, c);
        } else {
            parse_llama(&j, c);
        }
        check_sizes(&j, c);
    }
    cJSON_Delete(root);
    return j.err ? -1 : 0;
}

int alc_config_load(struct alc_config *c, const char *dir, struct alc_diag *d)
{
    char *path = alc_path_join(dir, "config.json");
    char *text = NULL;
    size_t len = 0;
    int rc = alc_read_file(path, &text, &len, d);
    if (rc == 0) {
        rc = alc_config_parse(c, text, len, path, d);
    }
    free(text);
    free(path);
    return rc;
}

/* ---- Writing ---- */

/* Shortest decimal that reads back as the same double. */
static void put_num(struct alc_sb *sb, double v)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        strcat(buf, ".0"); /* Python writes floats with a point */
    }
    alc_sb_puts(sb, buf);
}

static void kv_int(struct alc_sb *sb, const char *k, long long v)
{
    alc_sb_printf(sb, ",\n  \"%s\": %lld", k, v);
}

static void kv_num(struct alc_sb *sb, const char *k, double v)
{
    alc_sb_printf(sb, ",\n  \"%s\": ", k);
    put_num(sb, v);
}

static void kv_bool(struct alc_sb *sb, const char *k, int v)
{
    alc_sb_printf(sb, ",\n  \"%s\": %s", k, v ? "true" : "false");
}

static void kv_str(struct alc_sb *sb, const char *k, const char *v)
{
    alc_sb_printf(sb, ",\n  \"%s\": \"%s\"", k, v);
}

static void write_llama(struct alc_sb *sb, const struct alc_config *c)
{
    kv_int(sb, "intermediate_size", c->hidden_dim);
    kv_int(sb, "num_attention_heads", c->n_heads);
    kv_int(sb, "num_key_value_heads", c->n_kv_heads);
    kv_int(sb, "head_dim", c->head_dim);
    kv_str(sb, "hidden_act", act_names[c->act]);
    kv_num(sb, "rms_norm_eps", c->norm_eps);
    kv_num(sb, "rope_theta", c->rope_theta);
    if (c->rope_type == ALC_ROPE_LLAMA3) {
        alc_sb_puts(sb, ",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", "
                        "\"factor\": ");
        put_num(sb, c->rope_factor);
        alc_sb_puts(sb, ", \"low_freq_factor\": ");
        put_num(sb, c->rope_low_freq);
        alc_sb_puts(sb, ", \"high_freq_factor\": ");
        put_num(sb, c->rope_high_freq);
        alc_sb_printf(sb, ", \"original_max_position_embeddings\": %d}",
                      c->rope_orig_max_pos);
    } else if (c->rope_type == ALC_ROPE_LINEAR) {
        alc_sb_puts(sb, ",\n  \"rope_scaling\": {\"type\": \"linear\", "
                        "\"factor\": ");
        put_num(sb, c->rope_factor);
        alc_sb_puts(sb, "}");
    } else {
        alc_sb_puts(sb, ",\n  \"rope_scaling\": null");
    }
    if (c->arch == ALC_ARCH_LLAMA) {
        kv_bool(sb, "attention_bias", c->qkv_bias);
        kv_bool(sb, "mlp_bias", c->mlp_bias);
    }
    if (c->arch == ALC_ARCH_MISTRAL) {
        if (c->sliding_window > 0) {
            kv_int(sb, "sliding_window", c->sliding_window);
        } else {
            alc_sb_puts(sb, ",\n  \"sliding_window\": null");
        }
    }
    if (c->arch == ALC_ARCH_QWEN2) {
        kv_bool(sb, "use_sliding_window", 0);
    }
}

static void write_opt(struct alc_sb *sb, const struct alc_config *c)
{
    kv_int(sb, "ffn_dim", c->hidden_dim);
    kv_int(sb, "num_attention_heads", c->n_heads);
    kv_int(sb, "word_embed_proj_dim", c->proj_dim);
    kv_bool(sb, "do_layer_norm_before", c->pre_norm);
    kv_bool(sb, "_remove_final_layer_norm", c->pre_norm && !c->final_norm);
    kv_bool(sb, "enable_bias", c->qkv_bias);
    kv_bool(sb, "layer_norm_elementwise_affine", 1);
    kv_str(sb, "activation_function", act_names[c->act]);
    kv_int(sb, "pad_token_id", 1);
}

char *alc_config_to_json(const struct alc_config *c)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_printf(&sb, "{\n  \"architectures\": [\"%s\"]",
                  alc_arch_table[c->arch].hf_name);
    kv_str(&sb, "model_type", alc_arch_table[c->arch].model_type);
    kv_int(&sb, "hidden_size", c->dim);
    kv_int(&sb, "num_hidden_layers", c->n_layers);
    kv_int(&sb, "vocab_size", c->vocab_size);
    kv_int(&sb, "max_position_embeddings", c->max_pos);
    kv_bool(&sb, "tie_word_embeddings", c->tie_embeddings);
    if (c->bos_id >= 0) {
        kv_int(&sb, "bos_token_id", c->bos_id);
    }
    if (c->n_eos == 1) {
        kv_int(&sb, "eos_token_id", c->eos_ids[0]);
    } else if (c->n_eos > 1) {
        alc_sb_puts(&sb, ",\n  \"eos_token_id\": [");
        for (int i = 0; i < c->n_eos; i++) {
            alc_sb_printf(&sb, "%s%d", i ? ", " : "", c->eos_ids[i]);
        }
        alc_sb_puts(&sb, "]");
    }
    if (c->dtype >= 0) {
        kv_str(&sb, "torch_dtype", alc_dtype_table[c->dtype].hf_name);
    }
    if (alc_arch_table[c->arch].is_opt) {
        write_opt(&sb, c);
    } else {
        write_llama(&sb, c);
    }
    alc_sb_puts(&sb, "\n}\n");
    return alc_sb_take(&sb);
}

/* ---- Derived quantities ---- */

void alc_rope_inv_freq(const struct alc_config *c, float *inv_freq)
{
    int half = c->head_dim / 2;
    double lo_wl = 0, hi_wl = 0;
    if (c->rope_type == ALC_ROPE_LLAMA3) {
        lo_wl = c->rope_orig_max_pos / c->rope_low_freq;
        hi_wl = c->rope_orig_max_pos / c->rope_high_freq;
    }
    for (int i = 0; i < half; i++) {
        /* transformers: 1 / base ** (arange(0, D, 2).float() / D), fp32 */
        float e = (float)(2 * i) / (float)c->head_dim;
        float f = (float)(1.0 / pow(c->rope_theta, (double)e));
        if (c->rope_type == ALC_ROPE_LINEAR) {
            f = (float)(f / c->rope_factor);
        } else if (c->rope_type == ALC_ROPE_LLAMA3) {
            double wl = 2.0 * M_PI / f;
            if (wl > lo_wl) {
                f = (float)(f / c->rope_factor);
            } else if (wl >= hi_wl) { /* medium band: smooth blend */
                double s = (c->rope_orig_max_pos / wl - c->rope_low_freq) /
                           (c->rope_high_freq - c->rope_low_freq);
                f = (float)((1.0 - s) * f / c->rope_factor + s * f);
            }
        }
        inv_freq[i] = f;
    }
}

int64_t alc_config_n_params(const struct alc_config *c)
{
    int64_t C = c->dim, F = c->hidden_dim, D = c->head_dim;
    int64_t q = (int64_t)c->n_heads * D, kv = (int64_t)c->n_kv_heads * D;
    int64_t blk = C * q + 2 * C * kv + q * C;
    blk += (c->gated_mlp ? 3 : 2) * C * F;
    blk += c->qkv_bias ? q + 2 * kv : 0;
    blk += c->o_bias ? C : 0;
    blk += c->mlp_bias ? (c->gated_mlp ? 2 * F : F) + C : 0;
    blk += (c->layer_norm ? 4 : 2) * C;
    int64_t P = c->proj_dim > 0 ? c->proj_dim : C;
    int64_t emb = (int64_t)c->vocab_size * (c->rope ? C : P);
    int64_t n = (int64_t)c->n_layers * blk + emb;
    n += c->tie_embeddings ? 0 : emb;
    n += c->final_norm ? (c->layer_norm ? 2 : 1) * C : 0;
    if (!c->rope) {
        n += (int64_t)(c->max_pos + c->pos_offset) * C;
        n += P != C ? 2 * P * C : 0;
    }
    return n;
}
