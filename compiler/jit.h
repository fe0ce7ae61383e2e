/*
 * jit.h: the LLVM backend's own interface, beyond the alc_backend_llvm ops
 * (backend.h) that alloc.c dispatches to. Tests, benchmarks and
 * `dsac emit --target llvm|plan` use it to pick code-generation options,
 * look at the generated IR and drive the conditioning checks.
 *
 * What the backend generates, per pass of the plan (plan.h) and per weight
 * dtype (F32, F16, BF16), one function
 *
 *   void <prefix>p<pass>_<dtype>(const void *w, const double *act,
 *                                int64_t nrows, int64_t cols,
 *                                int64_t mat_rows, const double *env,
 *                                double *raw, double **store,
 *                                const double *logw, const double *lact);
 *
 * that sweeps nrows rows of cols elements of one matrix (w points at the
 * first), computes the pass's element-level nodes as <8 x double> vectors
 * (weights converted in registers; act is the matrix's act vector widened
 * to double once per evaluation), and writes each
 * accumulator's per-lane partial state to raw (see jit_llvm.c for the
 * layout) and the values of quantile operands to store[i]. Element-wise
 * ops without a vector lowering (sin, pow, ...) call back into ops.c's map
 * functions, eight lanes per call (alc_jit_vmap in jit_llvm.c).
 *
 * Logs of the Wanda metric and of 16-bit weights are read from tables
 * instead (jit_logw.c, enum alc_jit_logw): logw is the dtype's table of
 * log|w| (alc_logw_table; NULL for F32) and lact the matrix's
 * per-column logs of act, (2 cols) doubles: log|act_j| then log(act_j)
 * (NULL when the program has no such log).
 */
#ifndef ALC_JIT_H
#define ALC_JIT_H

#include <stdint.h>

#include "alloc.h"
#include "plan.h"

struct alc_jit_opts {
    int libm;        /* 1: log, exp, sigmoid, softplus call ops.c's map
                        functions (libm) per lane, exactly the interpreter's
                        results (slow); 0 (default): vectorised
                        implementations in IR (jit_vmath.c) */
    int unroll;      /* vectors of 8 per main-loop step, 1..4; 0 = 4 */
    double perturb;  /* testing: each result of log, exp, sigmoid and
                        softplus (ops and accumulator functions) is multiplied
                        by (1 + perturb); 0 for real use */
    unsigned dtypes; /* weight dtypes to generate code for, bit
                        (1u << enum alc_dtype); 0 = all three */
    int64_t chunk;   /* elements per chunk, 0 = ALC_JIT_CHUNK (tests use
                        small chunks to exercise the combination); part of
                        the compiled state, never derived from threads */
    int logw;        /* enum alc_jit_logw (ignored in libm mode) */
};

/*
 * How log(wanda), log|w| and their relatives (log through abs and where,
 * geomean, entropy; jit_codegen.c's "Logs by table") are computed. With
 * tables, a 16-bit weight's log|w| is looked up (jit_logw.c) and act's log
 * is computed once per column; F32 weights keep the vector log for log|w|.
 * EXACT and GATHER give the same bits; AUTO differs from them only in
 * passes that reduce log|wanda| by var/std alone; OFF differs within the
 * log's ulps.
 */
enum alc_jit_logw {
    ALC_JIT_LOGW_AUTO,   /* tables; BF16 read in registers, 64 weights at
                            a time, where the host has AVX-512 VBMI; and
                            var/std of log|wanda| over BF16 in float
                            (jit_codegen.c's "Moments in float"): within
                            ~1e-6 relative of EXACT, not its bits */
    ALC_JIT_LOGW_GATHER, /* tables, read by gathers only */
    ALC_JIT_LOGW_OFF,    /* the vector log on every element */
    ALC_JIT_LOGW_EXACT,  /* AUTO without the float moments: the same bits
                            as GATHER */
    ALC_JIT_LOGW_COUNT
};

/* 1 when ALC_JIT_LOGW_AUTO reads BF16's log|w| in registers on this host
 * (AVX-512 VBMI), 0 when it gathers. */
int alc_jit_logw_in_registers(void);

/*
 * Memory: besides the units (read in place, never copied) an evaluation
 * holds the node values (8 bytes per node and unit), one partial record per
 * chunk, and -- only in a pass with a quantile -- the quantile operand's
 * values of one unit at a time (8 bytes per element of the largest unit per
 * quantile), which is sorted to select (alc_interp_reduce).
 */

/* Elements per chunk: the unit of work and of determinism. A matrix is cut
 * into chunks of max(1, chunk / cols) whole rows; partial results are
 * combined in a fixed pairwise order, whatever the thread count. Each chunk
 * costs a call, its lanes' fold and record (~0.4 us): at 64K elements
 * that was 4 % of DSA's pass on the bench set (measured), at 256K 1 %. */
#define ALC_JIT_CHUNK 262144

struct alc_jit;

/* Compiles (a compacted copy of) ir. NULL with an error in d. Thread-safe;
 * compilations are serialised internally. */
struct alc_jit *alc_jit_compile(const struct alc_ir *ir,
                                const struct alc_jit_opts *opts,
                                struct alc_diag *d);
/*
 * Compiles n IRs into one LLVM module (same options), so that LLVM's fixed
 * cost per compilation is paid once: for a searcher's generation or a
 * property test. out[i] is the state of irs[i]; each is freed on its own
 * (the module's code goes with the last). Returns 0, or -1 with an error
 * in d and every out[i] NULL.
 */
int alc_jit_compile_batch(const struct alc_ir *const *irs, int n,
                          const struct alc_jit_opts *opts, struct alc_jit **out,
                          struct alc_diag *d);
/* Frees the state and its machine code (the JIT's memory for it). */
void alc_jit_free(struct alc_jit *j);
/* The compacted IR and the plan the code was generated from; out->nodes of
 * alc_jit_evaluate is indexed by this IR's nodes. */
const struct alc_ir *alc_jit_ir(const struct alc_jit *j);
const struct alc_plan *alc_jit_plan(const struct alc_jit *j);

/* Testing hooks of an evaluation (all off when the pointer is NULL). */
struct alc_jit_eval {
    double perturb_red;   /* every element reduction's value is multiplied
                             by (1 + perturb_red) before later stages and
                             passes read it (conditioning checks) */
    const double *inject; /* (n_nodes * n_units) node-major, or NULL: after
                             each pass the element reductions take these
                             values instead (e.g. the interpreter's), so a
                             pass can be compared given identical inputs */
    double *red_out;      /* (n_nodes * n_units) node-major, or NULL: the
                             element reductions as computed, before any
                             perturbation or injection */
};

/*
 * Evaluates over units (opts->params NULL: the compiled IR's defaults);
 * hooks may be NULL. Thread-safe for concurrent calls.
 */
int alc_jit_evaluate(struct alc_jit *j, const struct alc_units *units,
                     const struct alc_eval_opts *opts,
                     const struct alc_jit_eval *hooks, struct alc_eval_out *out,
                     struct alc_diag *d);

enum alc_jit_emit_kind {
    ALC_JIT_EMIT_IR,  /* optimised LLVM IR */
    ALC_JIT_EMIT_RAW, /* LLVM IR as generated, before optimisation */
    ALC_JIT_EMIT_ASM, /* host assembly */
    ALC_JIT_EMIT_COUNT
};

/* Text of the code generated for ir, for `dsac emit --target llvm`. */
int alc_jit_emit(const struct alc_ir *ir, const struct alc_jit_opts *opts,
                 enum alc_jit_emit_kind kind, struct alc_sb *out,
                 struct alc_diag *d);

/* ---- Vector math, exposed for its tests ---- */

enum alc_jit_vfn {
    ALC_VFN_LOG,   /* log(x) */
    ALC_VFN_EXP,   /* exp(x) */
    ALC_VFN_LOG1P, /* log1p(x), for x > -1 (softplus needs x >= 0) */
    ALC_VFN_COUNT
};

/* y[i] = f(x[i]) for i < n, n a multiple of 8. */
typedef void (*alc_jit_vfn_ptr)(const double *x, double *y, int64_t n);

/* Compiles the vector math functions alone; free with alc_jit_free. */
struct alc_jit *alc_jit_compile_vmath(struct alc_diag *d);
alc_jit_vfn_ptr alc_jit_vmath(const struct alc_jit *j, enum alc_jit_vfn f);

#endif /* ALC_JIT_H */
