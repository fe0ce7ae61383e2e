/*
 * config.h: config.json of a Hugging Face causal LM, reduced to what the
 * forward pass needs (the llama2.c "Config"). Four architectures:
 * LlamaForCausalLM (LLaMA-1/2/3, TinyLlama), MistralForCausalLM,
 * Qwen2ForCausalLM (q/k/v biases) and OPTForCausalLM (LayerNorm, biases,
 * ReLU, learned positions with offset 2). Parsed by model.c; written by
 * genmodel.c for random models.
 */
#ifndef ALC_CONFIG_H
#define ALC_CONFIG_H

#include <stddef.h>

#include "alc_common.h"

enum alc_arch {
    ALC_ARCH_LLAMA,
    ALC_ARCH_MISTRAL,
    ALC_ARCH_QWEN2,
    ALC_ARCH_OPT,
    ALC_ARCH_COUNT
};

struct alc_arch_info {
    const char *hf_name;    /* "architectures"[0]: "LlamaForCausalLM" */
    const char *model_type; /* "llama" */
    int is_opt;             /* OPT layout (LayerNorm, learned positions) */
};

extern const struct alc_arch_info alc_arch_table[ALC_ARCH_COUNT];
/* By model_type ("llama") or architecture name; -1 if unknown. */
int alc_arch_from_name(const char *name);

enum alc_act {
    ALC_ACT_SILU, /* x * sigmoid(x) (LLaMA family; SwiGLU gate) */
    ALC_ACT_RELU, /* OPT */
    ALC_ACT_GELU, /* exact erf GELU */
    ALC_ACT_COUNT
};

enum alc_rope_type {
    ALC_ROPE_DEFAULT, /* theta^(-2i/D) */
    ALC_ROPE_LINEAR,  /* frequencies / factor */
    ALC_ROPE_LLAMA3,  /* LLaMA-3.1 band-wise scaling */
    ALC_ROPE_COUNT
};

/*
 * Dimension letters used across the runtime: C = hidden_size,
 * F = intermediate_size (OPT: ffn_dim), L = layers, H = query heads,
 * KV = key/value heads, D = head_dim, V = vocab_size, P = OPT
 * word_embed_proj_dim.
 */
struct alc_config {
    enum alc_arch arch;
    int dim;         /* C */
    int hidden_dim;  /* F */
    int n_layers;    /* L */
    int n_heads;     /* H */
    int n_kv_heads;  /* KV (= H when absent); H % KV == 0 */
    int head_dim;    /* D: head_dim, or C / H */
    int vocab_size;  /* V */
    int max_pos;     /* max_position_embeddings (0 if absent) */
    double norm_eps; /* rms_norm_eps; OPT LayerNorm: 1e-5 */
    enum alc_act act;
    int gated_mlp;  /* down(act(gate(x)) * up(x)); else down(act(up(x))) */
    int layer_norm; /* LayerNorm with bias (OPT), else RMSNorm */
    int pre_norm;   /* norm before attention/MLP; OPT do_layer_norm_before */
    int final_norm; /* the model has a final norm (OPT-350m has none) */
    int qkv_bias;   /* q/k/v have biases (Qwen2, OPT, attention_bias) */
    int o_bias;     /* o_proj / out_proj has a bias */
    int mlp_bias;   /* gate/up/down (fc1/fc2) have biases */
    int tie_embeddings; /* lm_head = embed_tokens */
    /* positions */
    int rope; /* rotary (LLaMA family); else learned (OPT) */
    double rope_theta;
    enum alc_rope_type rope_type;
    double rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max_pos;
    int pos_offset;     /* OPT learned positions: row = position + 2 */
    int sliding_window; /* Mistral: keys t - W < j <= t; 0 = none */
    int proj_dim;       /* P: OPT word_embed_proj_dim (= C unless projected) */
    /* metadata */
    int dtype;  /* torch_dtype / dtype as enum alc_dtype, or -1 */
    int bos_id; /* -1 if absent */
    int n_eos;
    int eos_ids[8]; /* eos_token_id: an int or a list */
};

/*
 * Parses config.json text. path names the file in messages
 * ("<path>: hidden_size: missing"). Unknown architectures, unsupported
 * activations or rope_scaling types and inconsistent sizes are errors.
 */
int alc_config_parse(struct alc_config *c, const char *json, size_t len,
                     const char *path, struct alc_diag *d);
int alc_config_load(struct alc_config *c, const char *dir, struct alc_diag *d);
/* config.json text as transformers writes it (malloc'd). */
char *alc_config_to_json(const struct alc_config *c);
/* Sets the defaults of an architecture (HF config class defaults) so a
 * generator only fills the sizes. */
void alc_config_defaults(struct alc_config *c, enum alc_arch arch);
/* Rotary inverse frequencies, as transformers computes them in fp32:
 * inv_freq[i] for i < D/2. */
void alc_rope_inv_freq(const struct alc_config *c, float *inv_freq);
/* Number of parameters the config implies (embeddings included). */
int64_t alc_config_n_params(const struct alc_config *c);

#endif /* ALC_CONFIG_H */
