/*
 * ir.h: the lowered form of a checked allocation program, the contract
 * between the front end and every backend (interpreter, LLVM JIT, CUDA).
 *
 * A program lowers to one DAG: user functions are inlined, lets are shared,
 * identical subexpressions are hash-consed into one node, and every node
 * carries its level. Nodes are stored in topological order (operands have
 * smaller indices). `alpha_peak(weight)` lowers to an INPUT. Params are not
 * constants: compiled code reads them at evaluation time, so changing a
 * param's value never recompiles.
 */
#ifndef ALC_IR_H
#define ALC_IR_H

#include <stdint.h>

#include "alc_common.h"
#include "ops.h"

/* A source location: 1-based line and column, length in bytes. */
struct alc_span {
    int line;
    int col;
    int len;
};

struct alc_ir_node {
    enum alc_op op;
    enum alc_level level;
    int nargs;
    int32_t arg[3]; /* operand node indices, each < this node's index */
    union {
        double k;   /* ALC_OP_CONST: the value */
        int input;  /* ALC_OP_INPUT: enum alc_input */
        int param;  /* ALC_OP_PARAM: index into alc_ir.params */
    } u;
    struct alc_span span; /* the first source expression lowered to it */
};

struct alc_ir_param {
    char *name;      /* malloc'd */
    double value;    /* declared default */
    double lo, hi;   /* declared range, lo <= value <= hi */
    struct alc_span span;
};

struct alc_ir {
    struct alc_ir_node *nodes; /* (n_nodes) malloc'd, topological order */
    int n_nodes;
    int cap_nodes;
    struct alc_ir_param *params; /* (n_params) malloc'd */
    int n_params;
    int sparsity;  /* node of `sparsity = ...`; level LAYER or MODEL */
    int score;     /* node of `score = ...`, or -1 */
    char *file;    /* source file name for messages; malloc'd, may be NULL */
    /* hash-consing table: open addressing over node indices, -1 = empty */
    int32_t *table;
    int table_cap;
};

void alc_ir_init(struct alc_ir *ir);
void alc_ir_free(struct alc_ir *ir);

/*
 * Adds a node, or returns the index of an identical existing one (same op,
 * operands and payload; constants compared by bit pattern, so -0.0 and 0.0
 * and distinct NaN payloads stay apart). The level is computed from the
 * operands (see ops.h); an ill-levelled node (reduction of a model value,
 * rank of a non-layer value) is a programming error: returns -1.
 */
int alc_ir_const(struct alc_ir *ir, double k, struct alc_span sp);
int alc_ir_input(struct alc_ir *ir, enum alc_input in, struct alc_span sp);
int alc_ir_param(struct alc_ir *ir, int param, struct alc_span sp);
int alc_ir_op(struct alc_ir *ir, enum alc_op op, int nargs, const int *args,
              struct alc_span sp);
/* Declares a param; returns its index. */
int alc_ir_add_param(struct alc_ir *ir, const char *name, double value,
                     double lo, double hi, struct alc_span sp);
int alc_ir_param_find(const struct alc_ir *ir, const char *name);

/* Marks the nodes reachable from the outputs (mark[n_nodes], 0/1). */
void alc_ir_reachable(const struct alc_ir *ir, unsigned char *mark);
/* Bit set of the inputs reachable from the outputs (1u << enum alc_input). */
unsigned alc_ir_inputs_used(const struct alc_ir *ir);

/*
 * Structural hash of the DAG reachable from the outputs: ops, levels,
 * constants (bits), inputs and param indices, not param values or spans.
 * Two programs with equal hashes compile to the same code (cache key).
 */
uint64_t alc_ir_hash(const struct alc_ir *ir);

/* x with element-level abs and neg taken off. */
int alc_ir_strip_sign(const struct alc_ir *ir, int x);

/* Whether c is an element-level wanda == 0 (1) or wanda != 0 (0), with 0
 * on either side and wanda up to abs/neg; else -1. The backends' logs of
 * BF16 weights by table recognise where(wanda == 0, k, wanda) with it. */
int alc_ir_wanda_zero_test(const struct alc_ir *ir, int c);

/* Text dump for `dsac emit --target ir`: one node per line. */
void alc_ir_dump(const struct alc_ir *ir, struct alc_sb *out);

#endif /* ALC_IR_H */
