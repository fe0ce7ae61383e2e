/*
 * alloc.h: the two interfaces between the compiler and the runtime.
 *
 * 1. The units view: what the runtime hands to a compiled allocation. For
 *    each unit (a decoder block, or one linear), its matrices (pointer,
 *    dtype, rows, cols) and each matrix's activation-norm vector. Views
 *    point into the model's memory; nothing is copied.
 * 2. The compiled allocation: compile once from an IR (cached by its
 *    structural hash), then evaluate over units with target S and params,
 *    returning per-unit scores and sparsities. Backends (the reference
 *    interpreter, the LLVM JIT, CUDA) are interchangeable behind it.
 */
#ifndef ALC_ALLOC_H
#define ALC_ALLOC_H

#include <stdint.h>

#include "alc_common.h"
#include "ir.h"

/* ---- Units view ---- */

struct alc_mat_view {
    const void *w;        /* (rows, cols) row-major, dtype; not owned */
    enum alc_dtype dtype;
    int64_t rows;         /* out_features */
    int64_t cols;         /* in_features */
    const float *act;     /* (cols) F32 act_j = ||X_j||_2 (Wanda's
                             sqrt(scaler_row)); NULL when not calibrated */
    double alpha_peak;    /* per-matrix statistics filled by the runtime when */
    double alpha_hill;    /* alc_compiled_inputs() asks for them; else NaN */
    const char *name;     /* tensor name for messages, may be NULL */
};

struct alc_unit_view {
    const struct alc_mat_view *mats; /* (n_mats) */
    int n_mats;
    int block;            /* decoder-block index (the `block` input) */
    const char *name;     /* "block 3" / "model.layers.3.mlp.up_proj", or NULL */
};

struct alc_units {
    const struct alc_unit_view *units; /* (n_units) */
    int n_units;
};

/* ---- Compiled allocation ---- */

enum alc_backend {
    ALC_BE_INTERP, /* reference interpreter (double, naive): the oracle */
    ALC_BE_LLVM,   /* fused passes JIT-compiled through LLVM ORC */
    ALC_BE_CUDA,   /* fused passes as CUDA C through NVRTC, when available */
    ALC_BE_COUNT
};

extern const char *const alc_backend_name[ALC_BE_COUNT];

struct alc_eval_opts {
    double S;             /* target mean sparsity (the `S` input) */
    const double *params; /* (ir->n_params) values, or NULL for defaults */
    int n_threads;        /* <= 0: alc_default_threads(); results are
                             bit-identical for every thread count */
};

struct alc_eval_out {
    double *sparsity;     /* (n_units) caller-allocated: the result */
    double *score;        /* (n_units) or NULL; NaN when no `score =` */
    double *nodes;        /* (ir->n_nodes * n_units) or NULL: the value of
                             every layer- and model-level node for each unit,
                             node-major (nodes[i * n_units + u]); model-level
                             values repeated per unit; element-level and
                             unreachable nodes NaN. Feeds alc_explain. */
    double seconds;       /* wall time of the evaluation (filled in) */
};

struct alc_compiled;

/*
 * Compiles ir for a backend. The IR is copied: the caller may free it.
 * Returns NULL with an error in d (e.g. ALC_BE_CUDA without a GPU build).
 */
struct alc_compiled *alc_compile(const struct alc_ir *ir,
                                 enum alc_backend be, struct alc_diag *d);
/*
 * Evaluates over units. Errors (an input the units cannot supply, such as
 * `wanda` without act vectors; an empty unit; an unsupported dtype) go to d.
 * NaN in the results is not an error here: callers decide (alc_explain).
 */
int alc_evaluate(struct alc_compiled *c, const struct alc_units *units,
                 const struct alc_eval_opts *opts, struct alc_eval_out *out,
                 struct alc_diag *d);
void alc_compiled_free(struct alc_compiled *c);

/* Bit set (1u << enum alc_input) of the inputs the program reads, so the
 * runtime computes act vectors or alpha statistics only when needed. */
unsigned alc_compiled_inputs(const struct alc_compiled *c);
const struct alc_ir *alc_compiled_ir(const struct alc_compiled *c);
enum alc_backend alc_compiled_backend(const struct alc_compiled *c);
/* Seconds spent compiling (0 when served from the cache). */
double alc_compiled_compile_seconds(const struct alc_compiled *c);
int alc_compiled_cache_hit(const struct alc_compiled *c);

#endif /* ALC_ALLOC_H */
