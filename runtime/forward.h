/*
 * forward.h: the CPU forward pass, in the shape of llama2.c's run.c:
 * a Config (struct alc_config), the Weights of one block (struct
 * alc_block, f32), a RunState (struct alc_runstate) and an owner (struct
 * alc_fwd). Activations are f32; weights are converted per matrix from
 * their stored dtype; GEMMs go through OpenBLAS sgemm.
 *
 * Layer streaming: a batch of B sequences goes through the model block by
 * block. Only one block's f32 weights exist at a time (alc_block_load, then
 * alc_block_free, whose mapped pages are dropped), so peak memory does not
 * grow with depth. This is also the pruning loop of Runtime II (Wanda's
 * prepare_calibration_input + prune_wanda, methods.md §1.3):
 *
 *   alc_fwd_init(&f, &model, max_batch, seqlen, threads, d);
 *   alc_fwd_embed(&f, ids, B, T, inps, d);            block-0 inputs
 *   for each layer l:
 *     alc_block_load(&blk, &model, l, f.pool, d);     f32 weights
 *     alc_fwd_block(&f, &blk, x, B, T, hook, ctx, d)  dense pass; the hook
 *        on a copy of inps, per batch of samples     sees every linear's
 *                                                    input X (B*T, in)
 *     ... prune blk.w[lin] in place (f32) ...
 *     alc_block_store(&model, &blk, d);               overrides, rounded
 *     alc_fwd_block(&f, &blk, inps, B, T, NULL, ...)  pruned pass -> the
 *                                                    next block's inputs
 *     alc_block_free(&blk);
 *   alc_fwd_free(&f);
 * After that, alc_eval_ppl (eval.h) on the same model sees the pruned
 * weights, and alc_model_save (model.h) writes them.
 *
 * Dimension letters: B = sequences, T = tokens per sequence, M = B*T rows,
 * and C, F, H, KV, D, V, P as in config.h. Row-major everywhere.
 *
 * Determinism: OpenBLAS's own threading is not bit-reproducible across
 * thread counts (measured: 1 vs 2 threads differ). alc_fwd_init therefore
 * sets OpenBLAS to one thread and runs every GEMM as fixed tiles (row
 * tiles never straddle a sequence) on our pool: results are bit-identical
 * for any thread count and any batch size.
 */
#ifndef ALC_FORWARD_H
#define ALC_FORWARD_H

#include <stdint.h>

#include "alc_common.h"
#include "config.h"
#include "model.h"

/* ---- Weights of one block (f32) ---- */

struct alc_block {
    int layer;
    float *w[ALC_LIN_COUNT]; /* (out, in), see enum alc_lin; NULL if none */
    float *b[ALC_LIN_COUNT]; /* (out) bias or NULL */
    int out[ALC_LIN_COUNT];  /* rows of w[lin] (0 when absent) */
    int in[ALC_LIN_COUNT];   /* columns of w[lin] */
    float *norm1, *norm1_b;  /* (C): before attention; _b NULL for RMSNorm */
    float *norm2, *norm2_b;  /* (C): before the MLP */
    float *mem;              /* the single allocation all of them point in */
    size_t n_floats;
    int borrowed; /* mem belongs to the alc_fwd (whole-model runs) */
};

/*
 * Converts block `layer` of m (overrides included) to f32. pool may be
 * NULL (serial conversion). The mapped pages of the block are dropped
 * afterwards. Free with alc_block_free.
 */
int alc_block_load(struct alc_block *b, const struct alc_model *m, int layer,
                   struct alc_pool *pool, struct alc_diag *d);
void alc_block_free(struct alc_block *b);
/*
 * Stores the block's linear weights w[lin] as overrides of the model (in
 * the stored dtype) and rounds w[lin] in place to what the model now holds,
 * so the block in memory equals a reload. Biases and norms are untouched.
 */
int alc_block_store(struct alc_model *m, struct alc_block *b,
                    struct alc_diag *d);
/* Same for one linear. */
int alc_block_store_linear(struct alc_model *m, struct alc_block *b,
                           enum alc_lin lin, struct alc_diag *d);

/* ---- Activation hook (calibration statistics) ---- */

/*
 * Called inside alc_fwd_block with the input of each linear, just before
 * its GEMM: x is (rows = B*T, in) f32, valid only during the call. Q, K
 * and V receive the same x (as do GATE and UP). Calls come from the
 * calling thread, in the order Q K V O GATE UP DOWN. Return 0 to go on;
 * non-zero aborts the forward with an error.
 */
typedef int (*alc_lin_hook)(void *ctx, int layer, enum alc_lin lin,
                            const float *x, int64_t rows, int in);

/* ---- RunState and owner ---- */

struct alc_runstate {
    float *x;        /* (M, C) hidden states of alc_fwd_nll / _logits */
    float *xb;       /* (M, max(C, P)) normed input of attention / MLP */
    float *q;        /* (M, H*D) queries */
    float *k, *v;    /* (M, KV*D) keys, values */
    float *att;      /* (M, H*D) attention output before o_proj */
    float *hb, *hb2; /* (M, F) MLP hidden */
    float *scores;   /* (threads, ROWBLK, T) attention scratch per worker */
    float *rope_cos, *rope_sin; /* (T, D/2) */
    float *head_w;              /* (VC, P) one vocab chunk of lm_head in f32 */
    float *logits;              /* (M, VC) logits of one vocab chunk */
    float *lse_max;             /* (M) running max for the log-sum-exp */
    double *lse_sum;            /* (M) running sum of exp(logit - max) */
    float *tgt;                 /* (M) logit of the target token */
};

struct alc_fwd {
    const struct alc_model *m;
    const struct alc_config *c;
    struct alc_pool *pool; /* owned */
    int n_threads;
    int max_b, max_t; /* capacity: B <= max_b, T <= max_t */
    struct alc_runstate s;
    float *blk_mem; /* one block's f32 weights, reused per layer */
    size_t blk_cap; /* floats in blk_mem */
};

/* Allocates the run state for batches of up to max_b sequences of up to
 * max_t tokens and a pool of n_threads (<= 0: all cores). */
int alc_fwd_init(struct alc_fwd *f, const struct alc_model *m, int max_b,
                 int max_t, int n_threads, struct alc_diag *d);
void alc_fwd_free(struct alc_fwd *f);

/* x (B, T, C) = embeddings of ids (B, T) (+ learned positions for OPT);
 * ids outside [0, V) are an error. */
int alc_fwd_embed(struct alc_fwd *f, const int32_t *ids, int B, int T, float *x,
                  struct alc_diag *d);
/* x (B, T, C) through block b, in place. hook may be NULL. */
int alc_fwd_block(struct alc_fwd *f, const struct alc_block *b, float *x, int B,
                  int T, alc_lin_hook hook, void *hook_ctx, struct alc_diag *d);
/*
 * The head on the last hidden states x (B, T, C), which it overwrites
 * (final norm): nll (B, T - 1) = -log softmax(logits[b, t])[ids[b, t+1]].
 * lm_head is streamed in vocab chunks (online log-sum-exp), so the full
 * (M, V) logits never exist.
 */
int alc_fwd_head_nll(struct alc_fwd *f, float *x, const int32_t *ids, int B,
                     int T, float *nll, struct alc_diag *d);
/* The head with full logits (B, T, V) (tests, small models). */
int alc_fwd_head_logits(struct alc_fwd *f, float *x, int B, int T,
                        float *logits, struct alc_diag *d);

/* Whole model, streaming the blocks: next-token losses (B, T - 1). */
int alc_fwd_nll(struct alc_fwd *f, const int32_t *ids, int B, int T, float *nll,
                struct alc_diag *d);
/* Whole model: logits (B, T, V). */
int alc_fwd_logits(struct alc_fwd *f, const int32_t *ids, int B, int T,
                   float *logits, struct alc_diag *d);

/*
 * The OpenBLAS kernel family in use ("SkylakeX", "Haswell", ...), and
 * advice when it is a generic one on a CPU with AVX2 or AVX-512: Debian's
 * OpenBLAS 0.3.21 does not recognise some newer CPUs (measured: an Intel
 * family 6 model 207 ran its SSE3 "Prescott" kernels, 4x slower) and
 * OPENBLAS_CORETYPE fixes it. Returns NULL when there is nothing to say.
 */
const char *alc_fwd_blas_core(void);
const char *alc_fwd_blas_advice(void);

/* FLOPs of one forward of B x T tokens as alc_fwd_nll computes it: 2*M*N*K
 * for every linear and the head, plus 4*D per query-key pair of the causal
 * attention (QK^T and PV; only the pairs the mask keeps). */
double alc_fwd_flops(const struct alc_config *c, int B, int T);

#endif /* ALC_FORWARD_H */
