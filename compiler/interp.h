/*
 * interp.h: the reference interpreter's extras beyond the backend interface
 * (alc_backend_interp, backend.h): the reduction and rank definitions every
 * backend must reproduce, the element-by-element evaluator that alc_explain
 * shares, and alc_explain itself, which tells a user where NaN or inf came
 * from after an evaluation.
 */
#ifndef ALC_INTERP_H
#define ALC_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

/*
 * The value of reduction op (ALC_OP_MEAN .. ALC_OP_QUANTILE) over x[0..n),
 * as defined in ops.c's `def` strings. q is quantile's second argument
 * (ignored otherwise). x is scratch: quantile sorts it in place. Sums are
 * compensated (Neumaier), in the order given.
 */
double alc_interp_reduce(enum alc_op op, double *x, size_t n, double q);

/* rank(x) over n units: out[u] = 0-based rank of x[u], ties averaged, NaN
 * stays NaN and is not ranked. */
void alc_interp_rank(const double *x, int n, double *out);

/* The value of weight element i of a matrix, converted exactly. */
double alc_interp_weight(const struct alc_mat_view *m, int64_t i);

/*
 * Evaluates the element-level nodes that node `root` depends on, at every
 * element of unit u in order (matrices in order, row-major), and calls
 * visit(ctx, ev, mat, row, col) after each element with ev[k] = the value
 * of element-level node k at that element (only the nodes root depends on;
 * root included). Layer- and model-level operands are read from
 * val[node * n_units + u]. Returns 0, -1 when out of memory, or 1 when
 * visit returned non-zero (stop).
 */
int alc_interp_elements(const struct alc_ir *ir, const double *val,
                        int n_units, const struct alc_units *units, int u,
                        int root,
                        int (*visit)(void *ctx, const double *ev, int mat,
                                     int64_t row, int64_t col),
                        void *ctx);

/*
 * Explains non-finite values of an evaluation: given the compacted IR
 * (alc_compiled_ir) and the `nodes` table that alc_evaluate filled, writes
 * one line per node that produced NaN or +-inf from finite operands: the
 * op, its source location (file:line:col), the units affected as ranges,
 * and the operands with the reason, e.g.
 *   asin at dsa.alloc:14:12, units 0-7: asin(1.2036): argument outside
 *   [-1, 1]
 * For reductions over elements it evaluates the elements again (units
 * needed) to find the first element op that went non-finite. Writes
 * nothing when every output is finite.
 */
void alc_explain(const struct alc_ir *ir, const double *nodes, int n_units,
                 const struct alc_units *units, struct alc_sb *out);

#endif /* ALC_INTERP_H */
