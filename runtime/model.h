/*
 * model.h: a Hugging Face model directory (config.json + one or many
 * *.safetensors) opened for the runtime. Weights stay mmapped in their
 * stored dtype; forward.c converts one block at a time to f32 and drops
 * the block's pages afterwards, so memory does not grow with depth.
 *
 * Pruning (Runtime II) replaces weights through per-tensor overrides:
 * owned buffers in the stored dtype and shape that every later reader (the
 * forward pass, alc_model_save) sees instead of the mapped bytes. A model
 * with overrides evaluates and saves in the same process.
 */
#ifndef ALC_MODEL_H
#define ALC_MODEL_H

#include <stdint.h>

#include "alc_common.h"
#include "config.h"
#include "safetensors.h"

/* ---- Tensor slots ---- */

/*
 * The linear layers of one decoder block, in Wanda's find_layers order.
 * Shapes (out, in) row-major, with the letters of config.h:
 *   Q (H*D, C)   K (KV*D, C)   V (KV*D, C)   O (C, H*D)
 *   GATE (F, C)  UP (F, C)     DOWN (C, F)
 * OPT has no GATE; its out_proj is O, fc1 is UP and fc2 is DOWN.
 */
enum alc_lin {
    ALC_LIN_Q,
    ALC_LIN_K,
    ALC_LIN_V,
    ALC_LIN_O,
    ALC_LIN_GATE,
    ALC_LIN_UP,
    ALC_LIN_DOWN,
    ALC_LIN_COUNT
};

/*
 * Every tensor of one block: the linears' weights (slot = enum alc_lin),
 * their biases (ALC_BT_BIAS + lin, shape (out)), and the two norms (C):
 * NORM1 before attention (input_layernorm / self_attn_layer_norm), NORM2
 * before the MLP (post_attention_layernorm / final_layer_norm).
 */
enum alc_bt {
    ALC_BT_BIAS = ALC_LIN_COUNT,
    ALC_BT_NORM1 = 2 * ALC_LIN_COUNT,
    ALC_BT_NORM1_BIAS,
    ALC_BT_NORM2,
    ALC_BT_NORM2_BIAS,
    ALC_BT_COUNT
};

/* Tensors outside the blocks. */
enum alc_gt {
    ALC_GT_EMBED,     /* (V, C); OPT (V, P) */
    ALC_GT_POS,       /* OPT learned positions (max_pos + 2, C) */
    ALC_GT_PROJ_IN,   /* OPT project_in (C, P) when P != C */
    ALC_GT_PROJ_OUT,  /* OPT project_out (P, C) when P != C */
    ALC_GT_NORM,      /* final norm (C) */
    ALC_GT_NORM_BIAS, /* OPT final LayerNorm bias (C) */
    ALC_GT_LM_HEAD,   /* (V, C) or (V, P); = EMBED when tied */
    ALC_GT_COUNT
};

/* Name of a linear in Hugging Face terms for the architecture ("q_proj",
 * "out_proj", "fc1"), or NULL when the architecture has none. */
const char *alc_lin_name(enum alc_arch arch, enum alc_lin lin);

/*
 * One expected tensor: its full name, its slot (layer >= 0: enum alc_bt;
 * layer -1: enum alc_gt) and its shape. prefix is "model." except for OPT
 * checkpoints stored without it ("").
 */
struct alc_tspec {
    char name[128];
    int layer;
    int slot;
    int ndim;
    int64_t shape[2];
};

/* Every tensor the config implies, in the order HF writes them; *out is
 * malloc'd. lm_head is included unless tied. */
int alc_tspecs(const struct alc_config *c, const char *prefix,
               struct alc_tspec **out, int *n);

/* ---- The model ---- */

/* A tensor: files[file].st.tensors[idx]; file = -1 when absent. */
struct alc_tref {
    int file;
    int idx;
};

struct alc_model_file {
    char *name; /* file name inside the directory */
    struct alc_st_file st;
    void **ovr; /* [st.n_tensors]: owned override bytes or NULL */
};

struct alc_model {
    struct alc_config cfg;
    char *dir;
    int sharded;        /* loaded through model.safetensors.index.json */
    const char *prefix; /* "model." or "" (OPT without the prefix) */
    int n_files;
    struct alc_model_file *files;
    struct alc_tref global[ALC_GT_COUNT];
    struct alc_tref *block; /* [L * ALC_BT_COUNT]; see alc_model_bref */
    int dtype;              /* enum alc_dtype of the embeddings (for display) */
    int64_t n_params;       /* elements of every tensor used */
    int64_t n_overrides;
};

/*
 * Loads dir: config.json, then model.safetensors.index.json (weight_map)
 * or model.safetensors. Every file is validated (safetensors.h), then
 * every tensor the config implies is looked up, and its dtype (F32, F16,
 * BF16) and shape checked; errors name the file and the tensor. Tensors
 * the model does not use (rotary inv_freq, ...) are ignored but kept for
 * saving.
 */
int alc_model_load(struct alc_model *m, const char *dir, struct alc_diag *d);
void alc_model_free(struct alc_model *m);

static inline struct alc_tref alc_model_bref(const struct alc_model *m,
                                             int layer, int slot)
{
    return m->block[layer * ALC_BT_COUNT + slot];
}

/* The header entry of a present tensor (dtype, shape, mapped bytes). */
const struct alc_st_tensor *alc_model_st(const struct alc_model *m,
                                         struct alc_tref r);
/* The tensor's current bytes: its override, else the mapped data. */
const void *alc_model_data(const struct alc_model *m, struct alc_tref r);
/* Converts rows [row0, row0 + nrows) of a 1-D or 2-D tensor to f32
 * (a 1-D tensor is one row). */
void alc_model_rows_f32(const struct alc_model *m, struct alc_tref r,
                        int64_t row0, int64_t nrows, float *dst);
/* Drops the tensor's mapped pages from memory (madvise DONTNEED); the next
 * read maps them again from the page cache. No-op for overrides. */
void alc_model_release(const struct alc_model *m, struct alc_tref r);
/* Maps rows [row0, row0 + nrows) in one call (MADV_POPULATE_READ) before
 * they are converted: one system call instead of a page fault per page. */
void alc_model_prefetch_rows(const struct alc_model *m, struct alc_tref r,
                             int64_t row0, int64_t nrows);
/* Drops the pages of rows [row0, row0 + nrows) of a 2-D tensor. */
void alc_model_release_rows(const struct alc_model *m, struct alc_tref r,
                            int64_t row0, int64_t nrows);

/*
 * Replaces the tensor's values from f32 (rounded to the stored dtype) for
 * the rest of the process: the forward pass and alc_model_save use the
 * override. If dst_round is not NULL it receives the rounded values back
 * as f32 (what a later load would see). Overriding a tied embedding also
 * changes lm_head.
 */
int alc_model_set_f32(struct alc_model *m, struct alc_tref r, const float *src,
                      float *dst_round, struct alc_diag *d);
/* Drops every override (back to the mapped weights). */
void alc_model_clear_overrides(struct alc_model *m);

/*
 * Writes the model, overrides applied, into out_dir atomically: the same
 * safetensors files (names, tensors, dtypes, metadata) and index as the
 * input, plus config.json, generation_config.json and the tokenizer files
 * copied. out_dir must not exist unless force. A failure (a full disk
 * included) leaves no out_dir and no temporary directory.
 */
int alc_model_save(const struct alc_model *m, const char *out_dir, int force,
                   struct alc_diag *d);

/* ---- Output directories, written atomically ---- */

/*
 * Files go into "<target>.tmp.<pid>" next to target; commit fsyncs the
 * directory and renames it to target (replacing an existing target only
 * when force was given); abort removes the temporary directory.
 */
struct alc_outdir {
    char *target;
    char *tmp;
    int force;
    int committed;
};

int alc_outdir_begin(struct alc_outdir *o, const char *target, int force,
                     struct alc_diag *d);
/* Path of name inside the temporary directory (malloc'd). */
char *alc_outdir_path(const struct alc_outdir *o, const char *name);
/* Copies src into the directory as name. */
int alc_outdir_copy(const struct alc_outdir *o, const char *src,
                    const char *name, struct alc_diag *d);
int alc_outdir_commit(struct alc_outdir *o, struct alc_diag *d);
/* Removes the temporary directory unless committed; frees o. */
void alc_outdir_end(struct alc_outdir *o);
/* rm -rf of a directory tree this process created. */
int alc_remove_tree(const char *path);

#endif /* ALC_MODEL_H */
