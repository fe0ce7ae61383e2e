/*
 * plan.h: the evaluation schedule of an allocation program, shared by the
 * compiled backends (the LLVM JIT in jit_*.c, the CUDA backend). Built from
 * the compacted IR (ir.h, alc_ir_compact) once per compilation; it holds no
 * pointers into the IR, only node indices.
 *
 * The schedule. Element-level work is the expensive part (one value per
 * weight), so it is organised in passes: a pass is one sweep over every
 * element of every unit that evaluates the element-level nodes it needs
 * once per element and feeds every accumulator of that pass. Everything at
 * layer and model level (one value per unit, or one scalar) runs on the
 * host between passes, in "stages", over all units at once (so layer ->
 * model reductions and rank see every unit).
 *
 *   depth(n)   for a layer/model node: the last pass whose results it
 *              depends on, 0 when none (inputs, params, constants, maps of
 *              those). An element -> layer reduction r has
 *              depth(r) = pass(r) =
 *                1 + max depth over the layer/model nodes read by r's
 *                    element-level operand tree and by r's extra arguments
 *              (the quantile's q). Other nodes: max depth of the operands.
 *   stage k    the layer/model nodes of depth k other than the element
 *              reductions, in topological order; stage 0 runs before pass 1
 *              and stage k right after pass k. A stage reads only values of
 *              its own or earlier stages and of passes <= k.
 *
 * So `mean(wanda > M * mean(wanda))` (OWL's outlier ratio) takes 2 passes,
 * `var(log(abs(wanda)))` (DSA) 1, and `mean((x - mean(x))^2)` 2; the var/std
 * builtins use a single-pass formula (see ALC_ACC_VAR).
 *
 * Accumulators. Each element reduction of a pass is computed from one or
 * more accumulators (struct alc_plan_acc) over one element-level node; equal
 * accumulators are shared (mean(x) and sum(x) read the same ALC_ACC_SUM of x;
 * entropy(x) reads three). An accumulator has a combined state of
 * alc_acc_slots[kind] doubles with an identity and an associative combine
 * (alc_plan_acc_combine), so a backend may split a unit's elements into
 * chunks and lanes as it likes, as long as it combines the partial states in
 * an order that does not depend on the thread count. ALC_ACC_STORE instead
 * asks the backend to materialise the node's values of one unit (quantile).
 *
 * Host side. alc_plan_execute runs the stages and calls back into the
 * backend for each pass; alc_plan_finish turns combined accumulator states
 * into reduction values. Host arithmetic is exactly the interpreter's: the
 * op table's map functions (ops.c), and its alc_interp_reduce /
 * alc_interp_rank (interp.h) for layer -> model reductions, rank and the
 * selection of a quantile from a unit's stored values.
 *
 * What a backend does with a plan (jit_llvm.c is the worked example):
 *   1. alc_plan_build at compile time; generate, per pass, code that at
 *      each element evaluates passes[k].elems in order (inputs per ops.h;
 *      layer/model operands -- passes[k].uses -- are per-unit constants
 *      read from env), then for each accumulator applies its alc_acc_fn to
 *      the node's value and folds it into a partial state (SUM: add; MIN/
 *      MAX: keep the value and its element index, ties to the earlier;
 *      VAR: count, per-lane shift K = the first value seen and the sums of
 *      x - K and (x - K)^2, converted by alc_plan_var_from_shifted; STORE:
 *      write the value at its element index in the unit).
 *   2. At evaluation: alc_plan_execute(plan, ir, units, opts, pass_fn, ...)
 *      with a pass_fn that, for every unit, reduces the unit's partial
 *      states with alc_plan_acc_combine in an order fixed by the data
 *      layout only (jit_llvm.c: lanes, then chunks of whole rows, each in
 *      a pairwise tree), and writes alc_plan_finish(...) -- or, for a
 *      quantile, alc_interp_reduce(ALC_OP_QUANTILE, stored values, numel,
 *      env[q]) -- into env[u * n_nodes + red.node].
 * `dsac emit --target plan FILE` prints the plan (alc_plan_dump).
 */
#ifndef ALC_PLAN_H
#define ALC_PLAN_H

#include <stdint.h>

#include "alc_common.h"
#include "alloc.h"
#include "ir.h"

/* ---- Accumulators ---- */

enum alc_acc_kind {
    ALC_ACC_SUM,   /* state {s}: s = sum f(x); identity 0 */
    ALC_ACC_MIN,   /* state {m, i}: smallest f(x) and the element index
                      of its first occurrence (so that of +0 and -0 the
                      first in element order wins, as in the interpreter);
                      NaN if any is NaN; identity {+inf, +inf} */
    ALC_ACC_MAX,   /* state {m, i}: largest, likewise; identity
                      {-inf, +inf} */
    ALC_ACC_VAR,   /* state {n, K, d, m2}: count, a shift K (one of the
                      values), the mean's offset d = mean - K and the sum of
                      squared deviations m2 (Chan et al.'s parallel form,
                      keeping the shift so that means far from 0 lose no
                      precision); identity {0, 0, 0, 0}. Backends
                      accumulate shifted sums per lane and convert with
                      alc_plan_var_from_shifted. */
    ALC_ACC_STORE, /* no state: the node's values of a unit, in element
                      order (matrices in order, row-major), for quantile */
    ALC_ACC_COUNT
};

/* The element-wise function applied to the node's value x before it is
 * accumulated. ORDER ACC_FN. */
enum alc_acc_fn {
    ALC_AF_ID,    /* x */
    ALC_AF_ABS,   /* |x| */
    ALC_AF_SQ,    /* x * x */
    ALC_AF_LOG,   /* log(x) */
    ALC_AF_NZ,    /* 1 if x != 0 and x is not NaN, else 0 */
    ALC_AF_POS,   /* x if x >= 0, else 0 (NaN gives 0) */
    ALC_AF_GE0,   /* 1 if x >= 0, else 0 (NaN gives 0) */
    ALC_AF_XLOGX, /* x * log(x) if x > 0, else 0 (NaN gives 0) */
    ALC_AF_COUNT
};

extern const int alc_acc_slots[ALC_ACC_COUNT];             /* state size */
extern const char *const alc_acc_kind_name[ALC_ACC_COUNT]; /* "sum" */
extern const char *const alc_acc_fn_name[ALC_AF_COUNT];    /* "abs" */

struct alc_plan_acc {
    enum alc_acc_kind kind;
    enum alc_acc_fn fn;
    int node; /* element-level IR node whose values are accumulated */
    int slot; /* offset of its state in the pass's record (doubles) */
};

/* ---- Passes and stages ---- */

/* One element -> layer reduction computed by a pass. */
struct alc_plan_red {
    int node;   /* the REDUCE node (level LAYER) */
    int acc[3]; /* accumulators it reads (indices into pass->accs), -1 */
};

struct alc_plan_pass {
    int *elems; /* (n_elems) element-level nodes evaluated per element,
                   in topological order (leaves and inputs included) */
    int n_elems;
    int *uses; /* (n_uses) layer/model nodes the element code reads,
                  constant within a unit (constants and params too) */
    int n_uses;
    struct alc_plan_red *reds; /* (n_reds) */
    int n_reds;
    struct alc_plan_acc *accs; /* (n_accs) */
    int n_accs;
    int n_slots;     /* size of the pass's combined record (doubles) */
    int n_stores;    /* accumulators of kind ALC_ACC_STORE */
    unsigned inputs; /* element inputs read (1u << enum alc_input) */
};

struct alc_plan_stage {
    int *nodes; /* (n_nodes) layer/model nodes, topological order */
    int n_nodes;
};

struct alc_plan {
    int n_nodes; /* of the IR the plan was built from */
    int n_passes;
    struct alc_plan_pass *passes;  /* (n_passes) passes[0] is "pass 1" */
    struct alc_plan_stage *stages; /* (n_passes + 1) */
    int *depth; /* (n_nodes) per node; -1 for element-level nodes */
};

/*
 * Builds the plan of a compacted, well-levelled IR. Returns 0, or -1 with
 * an error in d (out of memory; an IR node the plan does not know).
 */
int alc_plan_build(struct alc_plan *p, const struct alc_ir *ir,
                   struct alc_diag *d);
void alc_plan_free(struct alc_plan *p);
/* Text for `dsac emit --target plan`: passes, stages and accumulators. */
void alc_plan_dump(const struct alc_plan *p, const struct alc_ir *ir,
                   struct alc_sb *out);

/* ---- Accumulator states ---- */

void alc_plan_acc_identity(enum alc_acc_kind k, double *state);
/* a = a (+) b, where a holds the elements before b's. Deterministic. */
void alc_plan_acc_combine(enum alc_acc_kind k, double *a, const double *b);
/* Combines a pass's records rec[0 .. n) (each p->n_slots doubles) in a
 * fixed pairwise tree ((0 1) (2 3) ...), result in rec[0]; n >= 1. */
void alc_plan_combine_tree(const struct alc_plan_pass *p, double *rec,
                           int64_t n);
/* ALC_ACC_VAR state {n, K, d, m2} of n values x_i given K (the shift) and
 * the shifted sums s1 = sum (x_i - K), s2 = sum (x_i - K)^2. */
void alc_plan_var_from_shifted(double n, double K, double s1, double s2,
                               double *state);
/* The value of reduction red of pass p from its combined record, for a unit
 * of numel elements. Not for quantile: select it from the stored values
 * with alc_interp_reduce(ALC_OP_QUANTILE, ...). */
double alc_plan_finish(const struct alc_plan_pass *p,
                       const struct alc_plan_red *red, const struct alc_ir *ir,
                       const double *rec, double numel);

/* ---- Execution ---- */

/*
 * env: the values of every node for every unit, unit-major:
 * env[u * n_nodes + i] (element-level nodes unused, NaN; model-level values
 * repeated in every unit). A backend's pass callback must write, for every
 * unit u and every reduction r of pass `pass` (1-based), env[u * n_nodes +
 * r.node]; it may read the values of earlier stages there.
 */
typedef int (*alc_plan_pass_fn)(void *ctx, int pass, double *env,
                                struct alc_diag *d);

/*
 * Checks that units can supply what ir reads (act vectors for wanda/act,
 * known dtypes), then evaluates: stage 0, pass 1, stage 1, ..., and fills
 * out (sparsity, score, nodes). env is (n_units * ir->n_nodes) doubles,
 * caller-allocated, overwritten.
 */
int alc_plan_execute(const struct alc_plan *p, const struct alc_ir *ir,
                     const struct alc_units *units,
                     const struct alc_eval_opts *opts, alc_plan_pass_fn fn,
                     void *ctx, double *env, struct alc_eval_out *out,
                     struct alc_diag *d);
/* Checks units against the inputs bit set (alc_ir_inputs_used), with the
 * interpreter's rules: every matrix has elements, weights of a known dtype,
 * act vectors when wanda/act are read, alpha values when alpha_* are. */
int alc_plan_check_units(unsigned inputs, const struct alc_units *units,
                         struct alc_diag *d);
/* Number of elements of a unit (sum of rows * cols). */
int64_t alc_unit_numel(const struct alc_unit_view *u);

#endif /* ALC_PLAN_H */
