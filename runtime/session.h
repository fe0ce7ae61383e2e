/*
 * session.h: the pruning pipeline of Runtime II as a reusable session.
 * `dsac prune`, `dsac alloc` and `dsac tune` use it once or a few times;
 * the evolutionary search evaluates hundreds of candidate allocations on
 * one session, so everything that does not depend on the candidate is
 * computed once and kept here.
 *
 *   struct alc_session s;
 *   alc_session_open(&s, &opts, d);               model + tokenizer
 *   alc_session_calibrate(&s, &calib_opts, d);    windows (calib.h)
 *   alc_session_prepare(&s, alc_compiled_inputs(c), ALC_GRAN_BLOCK, d);
 *                                                 dense statistics the
 *                                                 program reads, units view
 *   int v = alc_session_data_add(&s, "valid.raw", -1, 0, d);  tokenized once
 *   for each candidate (compiled program c, params p):
 *     alc_session_allocate(&s, c, S, p, &alloc, d);  ratios, or !valid
 *     alc_session_prune(&s, alloc.ratio, &popts, &rep, d);  overrides
 *     alc_session_ppl(&s, v, T, K, &ppl, d);     first K windows
 *   alc_session_save(&s, "out", 0, d);           HF directory (atomic)
 *   alc_session_close(&s);
 *
 * The two passes (methods.md §1.3, as OWL and DSA do):
 *   pass 1 (alc_session_prepare, once): the calibration windows run block
 *     by block through the DENSE model; a hook on every linear collects
 *     Wanda's scaler_row, whose square root is the `act` vector of the
 *     units view (alc_prune_stats_act_norm). Only when the program reads
 *     `wanda` or `act`. alpha_peak / alpha_hill (alc_esd_matrix, on the
 *     dense weights, once per matrix) only when the program reads them.
 *   pass 2 (alc_session_prune, per candidate): sequential, block by block,
 *     like the Wanda repository's prune_wanda / prune_sparsegpt: block l's
 *     statistics come from one pass of the calibration inputs through the
 *     still-dense block l, whose inputs are the outputs of the already
 *     pruned blocks 0 .. l-1; all of its linears are pruned from those
 *     statistics; the pruned block's outputs feed block l+1. Every call
 *     starts from the dense weights (overrides dropped first). Magnitude
 *     needs no calibration: no forward pass at all.
 *
 * Units: ALC_GRAN_BLOCK (default) = one unit per decoder block whose
 * matrices are the block's linears in Wanda's find_layers order (q k v o
 * gate up down; 6 for OPT), every linear pruned with the unit's ratio (the
 * OWL / ATP / DSA convention); ALC_GRAN_LINEAR = one unit per linear
 * (`layer` is the linear's index over the model, `block` its block).
 * Views point into the mmapped dense weights in their stored dtype: no
 * copy.
 *
 * Costs (D = dense forward of the N x T calibration tokens through the
 * model, about 2 * params * N * T flops):
 *   open        mmap + header checks; the tokenizer; nothing per weight.
 *   calibrate   tokenizing the file (kjv.train.raw: ~0.1 s).
 *   prepare     pass 1 = 1 D when act is read; alpha = one Gram
 *               eigendecomposition per matrix (min(rows, cols)^3), only
 *               when alpha_* is read; both once per session.
 *   allocate    one evaluation of the compiled program over the units
 *               (a pass over every weight for element-level programs,
 *               microseconds for layer-level ones like ATP).
 *   prune       magnitude: selection only. Wanda: 2 D (statistics pass
 *               with the dense block + re-forward of the pruned block;
 *               the last block skips the re-forward) + a per-row
 *               selection. SparseGPT: 2 D + H accumulation (cols^2 per
 *               token) + per linear ~(2/3) cols^3 + rows * cols^2.
 *   ppl         one forward of the evaluation windows (K windows: K/N of
 *               the full cost).
 *   save        writes every safetensors file once.
 * Memory beyond the mmapped model: N * T * C floats of calibration
 * inputs, one block in f32, the statistics of one block (SparseGPT: the
 * Hessians, cols^2 floats per distinct input), the act vectors (sum of the
 * linears' cols floats) and the overrides (the pruned linears in their
 * stored dtype).
 *
 * Determinism: passes run BLAS single-threaded on fixed tiles over the
 * forward pass's pool; calibration batches have a size that does not
 * depend on the thread count; so ratios, pruned weights, saved files and
 * perplexities are bit-identical for any --threads.
 */
#ifndef ALC_SESSION_H
#define ALC_SESSION_H

#include <stdint.h>

#include "alc_common.h"
#include "alloc.h"
#include "calib.h"
#include "data.h"
#include "model.h"
#include "ppl.h"
#include "prune.h"
#include "tokenizer.h"

/* ---- Granularity of the allocation units ---- */

enum alc_gran {
    ALC_GRAN_BLOCK,  /* one unit per decoder block (all its linears) */
    ALC_GRAN_LINEAR, /* one unit per linear */
    ALC_GRAN_COUNT
};

/* "block", "linear" (ORDER enum alc_gran). */
extern const char *const alc_gran_name[ALC_GRAN_COUNT];
int alc_gran_from_name(const char *name); /* -1 when unknown */

/* ---- The session ---- */

struct alc_session_opts {
    const char *model_dir;
    int n_threads;   /* <= 0: all cores; results do not depend on it */
    int progress;    /* progress lines with ETA on stderr */
    int calib_batch; /* sequences per forward batch in the passes; 0 =
                        automatic: max(1, min(N, 4096 / T)), never
                        dependent on the thread count */
};

/* Wall time of the last call of each step (seconds). */
struct alc_session_times {
    double open, calibrate, pass1, alpha, allocate, prune, ppl, save;
};

/* A text tokenized once for perplexity (dsac eval's protocol: BOS once at
 * the start when the tokenizer adds one). */
struct alc_session_data {
    char *path;
    enum alc_data_fmt fmt;
    int32_t *ids;        /* (n) owned */
    int64_t n;
    uint64_t file_bytes, file_hash;
    int64_t docs, docs_used;
    int bos_id;          /* -1 when the tokenizer adds none */
};

struct alc_session {
    struct alc_model model;
    int have_model;
    struct alc_tokenizer *tok;     /* owned */
    int n_threads;                 /* resolved (>= 1) */
    int progress;
    int calib_batch;               /* as asked (0 = automatic) */
    struct alc_pool *pool;         /* for the ESD; owned */
    uint64_t model_hash;           /* alc_hash64 over every safetensors
                                      header (8-byte length + JSON), in
                                      file order */
    uint64_t model_bytes;          /* bytes of the safetensors files */

    /* calibration */
    struct alc_calib calib;
    int have_calib;

    /* dense statistics, per linear slot k = layer * ALC_LIN_COUNT + lin */
    int n_slots;                   /* L * ALC_LIN_COUNT */
    float **act;                   /* [n_slots] (cols) F32 or NULL */
    struct alc_esd_result *esd;    /* [n_slots]; valid when have_alpha */
    int have_act, have_alpha;

    /* units view over the dense weights */
    enum alc_gran gran;
    int have_view;
    struct alc_mat_view *mats;     /* [n_mats] the present linears, block
                                      by block in enum alc_lin order */
    int *mat_slot;                 /* [n_mats] slot of each matrix */
    int n_mats;
    struct alc_unit_view *units;   /* [n_units] */
    struct alc_units view;         /* {units, n_units} */
    int *unit_layer;               /* [n_units] block of each unit */
    int *unit_lin;                 /* [n_units] enum alc_lin, or -1 for a
                                      block unit */
    char **unit_name;              /* [n_units] "block 3" or the tensor */

    /* tokenized evaluation texts (alc_session_data_add) */
    struct alc_session_data *data; /* [n_data] */
    int n_data;

    int pruned;                    /* overrides from a prune are present */
    struct alc_session_times t;
};

/* Loads the model directory and its tokenizer. */
int alc_session_open(struct alc_session *s, const struct alc_session_opts *o,
                     struct alc_diag *d);
void alc_session_close(struct alc_session *s);

/* Calibration windows per forward batch in the passes (calib_batch, or
 * the automatic choice). */
int alc_session_calib_batch(const struct alc_session *s);

/* Builds the calibration windows (calib.h). A new calibration drops the
 * dense statistics computed from the previous one. */
int alc_session_calibrate(struct alc_session *s,
                          const struct alc_calib_opts *o, struct alc_diag *d);

/*
 * Computes the dense statistics that `inputs` (bits 1u << enum alc_input,
 * as alc_compiled_inputs returns) need and that the session does not hold
 * yet, and builds the units view for gran. Pass 1 needs calibration
 * (alc_session_calibrate) and drops any overrides (it must see the dense
 * weights). Calling it again with the same arguments costs nothing.
 */
int alc_session_prepare(struct alc_session *s, unsigned inputs,
                        enum alc_gran gran, struct alc_diag *d);

/* ---- Allocation ---- */

struct alc_alloc_result {
    int n_units;
    double *ratio;   /* (n_units) the program's sparsity per unit */
    double *score;   /* (n_units) its score, NaN without `score =` */
    int valid;       /* every ratio finite and in [0, 1) */
    char *why;       /* !valid: one message naming the units and values
                        and, when NaN or inf is involved, alc_explain's
                        account of the op that produced it; malloc'd */
    char *warning;   /* valid, but a node of the program was NaN or inf
                        on some units and the program mapped it to a
                        finite ratio (e.g. DSA's dsa_score: NaN -> 0):
                        alc_explain's account; malloc'd, or NULL */
    double S;        /* the target used */
    double seconds;  /* evaluation wall time */
};

void alc_alloc_result_free(struct alc_alloc_result *r);

/*
 * Evaluates compiled program c over the session's units with target S and
 * params (ir->n_params values, NULL = the declared defaults). Returns 0
 * when the program was evaluated, valid or not (r->valid, r->why); -1 on
 * an error that is not the allocation's (an input the session has not
 * prepared, out of memory). Never prune with an invalid result.
 */
int alc_session_allocate(struct alc_session *s, struct alc_compiled *c,
                         double S, const double *params,
                         struct alc_alloc_result *r, struct alc_diag *d);

/* Per linear slot ratio (n_slots; absent linears 0) from per-unit ones. */
void alc_session_slot_ratios(const struct alc_session *s,
                             const double *unit_ratio, double *slot_ratio);

/* ---- Pruning ---- */

/* One linear after pass 2. */
struct alc_lin_result {
    int layer;
    enum alc_lin lin;
    int64_t rows, cols, numel;  /* numel 0: the linear is absent */
    double ratio;               /* asked */
    int64_t pruned;             /* entries the mask selected */
    int64_t zeros;              /* zeros of the stored (rounded) weights */
    double loss;                /* SparseGPT's OBS loss, else 0 */
    enum alc_prune_fallback fallback;
    double seconds;             /* alc_prune wall time */
};

struct alc_prune_report {
    struct alc_lin_result *lin; /* [n_slots] */
    int n_slots;
    int64_t numel, pruned, zeros; /* over every pruned linear */
    int n_fallbacks;            /* SparseGPT linears that needed more
                                   damping or the identity fallback */
    double seconds;             /* whole pass 2 */
    double seconds_stats;       /* forward of the dense blocks + stats */
    double seconds_prune;       /* the pruning kernels */
    double seconds_forward;     /* forward of the pruned blocks */
    double seconds_io;          /* block load / store (overrides) */
    char *method;               /* "wanda", "sparsegpt 2:4", ... */
    char *warnings;             /* SparseGPT fallbacks, or NULL */
};

void alc_prune_report_free(struct alc_prune_report *r);

/*
 * Pass 2: prunes the model with the given per-unit ratios (n_units of the
 * current view, each in [0, 1)) and o's method, N:M, SparseGPT block size
 * and damping (o->sparsity, o->pool and o->consume are ignored). The
 * pruned weights become the model's overrides (stored dtype). N:M (o->n >
 * 0) requires every ratio to equal n/m, as Wanda's main.py asserts.
 */
int alc_session_prune(struct alc_session *s, const double *unit_ratio,
                      const struct alc_prune_opts *o,
                      struct alc_prune_report *r, struct alc_diag *d);

/* Drops the pruned weights: the model is dense again. */
void alc_session_reset(struct alc_session *s);

/* ---- Evaluation ---- */

/*
 * Reads and tokenizes a text for perplexity (fmt -1 = by name; c4: the
 * first c4_docs documents joined with " ", 0 = 1100 as SparseGPT). Returns
 * its index for alc_session_ppl, or -1. Adding the same path twice returns
 * the first index.
 */
int alc_session_data_add(struct alc_session *s, const char *path, int fmt,
                         int64_t c4_docs, struct alc_diag *d);

/* Perplexity of the current (pruned or dense) model on data[idx], eval.h's
 * protocol at seqlen, first max_windows windows (0 = all). */
int alc_session_ppl(struct alc_session *s, int idx, int seqlen,
                    int64_t max_windows, struct alc_ppl *out,
                    struct alc_diag *d);

/* ---- Saving ---- */

/*
 * Writes the current model as a Hugging Face directory (alc_model_save:
 * safetensors in the input dtype, sharded like the input, config and
 * tokenizer files copied, written to a temporary name and renamed). Refuses
 * the input directory itself (even with force) and an existing non-empty
 * directory without force; an existing empty directory is replaced.
 */
int alc_session_save(struct alc_session *s, const char *out_dir, int force,
                     struct alc_diag *d);

/* ---- Backends ---- */

/*
 * "auto" | "llvm" | "interp" | "cuda" -> backend. auto is the GPU backend
 * when compiler/backend_select.h (the CUDA helper's alc_backend_select) is
 * part of the build and finds a usable GPU, else llvm; without that file
 * "cuda" is an error and auto means llvm.
 */
int alc_session_backend(const char *name, enum alc_backend *be,
                        struct alc_diag *d);

#endif /* ALC_SESSION_H */
