/*
 * ops.h: the one table that drives the .alloc language. Every operator,
 * builtin function, reduction and input appears here once, enum-indexed;
 * the parser (names), checker (arity, levels), printer (symbols,
 * precedence), interpreter (map functions), the LLVM and CUDA backends
 * (their own tables indexed by the same enum, each with a _Static_assert on
 * ALC_OP_COUNT) and the searcher's mutation sets all read it. Adding an op
 * is one row here plus its lowerings.  ORDER OP: keep enum and table rows
 * in the same order.
 */
#ifndef ALC_OPS_H
#define ALC_OPS_H

#include <stdint.h>

/*
 * Levels, finest first. An allocation unit is a decoder block (default) or a
 * single linear matrix. Element: one value per weight of a unit. Layer: one
 * value per unit. Model: one scalar. A coarser value broadcasts into a finer
 * expression; a map's level is the finest of its operands' levels.
 */
enum alc_level {
    ALC_LV_ELEM,
    ALC_LV_LAYER,
    ALC_LV_MODEL,
    ALC_LV_COUNT
};

extern const char *const alc_level_name[ALC_LV_COUNT]; /* "element", ... */

enum alc_opkind {
    ALC_OPK_LEAF,   /* CONST, INPUT, PARAM: no operands */
    ALC_OPK_MAP,    /* element-wise at any level */
    ALC_OPK_REDUCE, /* operand 0 drops one level (element->layer,
                       layer->model); further operands are model-level */
    ALC_OPK_ACROSS, /* layer -> layer, needs every unit's value (rank) */
    ALC_OPK_MATRIX, /* statistic of each weight matrix computed by the
                       runtime (alpha_peak(weight)); lowered to an input */
    ALC_OPK_COUNT
};

enum alc_op {
    /* leaves */
    ALC_OP_CONST,
    ALC_OP_INPUT,
    ALC_OP_PARAM,
    /* unary maps */
    ALC_OP_NEG,
    ALC_OP_NOT,
    ALC_OP_ABS,
    ALC_OP_LOG,
    ALC_OP_EXP,
    ALC_OP_SQRT,
    ALC_OP_SIN,
    ALC_OP_COS,
    ALC_OP_TAN,
    ALC_OP_ASIN,
    ALC_OP_ACOS,
    ALC_OP_ATAN,
    ALC_OP_SIGMOID,
    ALC_OP_TANH,
    ALC_OP_SOFTPLUS,
    ALC_OP_ISNAN,
    ALC_OP_ISINF,
    /* binary maps */
    ALC_OP_ADD,
    ALC_OP_SUB,
    ALC_OP_MUL,
    ALC_OP_DIV,
    ALC_OP_POW,
    ALC_OP_LT,
    ALC_OP_LE,
    ALC_OP_GT,
    ALC_OP_GE,
    ALC_OP_EQ,
    ALC_OP_NE,
    ALC_OP_AND,
    ALC_OP_OR,
    ALC_OP_MIN2,
    ALC_OP_MAX2,
    /* ternary maps */
    ALC_OP_WHERE,
    ALC_OP_CLAMP,
    /* reductions */
    ALC_OP_MEAN,
    ALC_OP_VAR,
    ALC_OP_STD,
    ALC_OP_SUM,
    ALC_OP_MIN,
    ALC_OP_MAX,
    ALC_OP_L1,
    ALC_OP_L2,
    ALC_OP_MEANABS,
    ALC_OP_GEOMEAN,
    ALC_OP_ENTROPY,
    ALC_OP_CNT, /* `count`: named CNT so it cannot be read as the sentinel */
    ALC_OP_QUANTILE,
    /* across units */
    ALC_OP_RANK,
    /* runtime matrix statistics */
    ALC_OP_ALPHA_PEAK,
    ALC_OP_ALPHA_HILL,
    ALC_OP_COUNT
};

/* Flags of an op (struct alc_op_info.flags). */
#define ALC_OPF_BOOL 0x01     /* result is 0, 1 or NaN */
#define ALC_OPF_INTEGRAL 0x02 /* result is integer-valued (or NaN) */
#define ALC_OPF_COMMUT 0x04   /* commutative binary operator */
#define ALC_OPF_RIGHT 0x08    /* right-associative infix operator (^) */
#define ALC_OPF_PREFIX 0x10   /* prefix operator (unary -, not) */
#define ALC_OPF_SEARCH 0x20   /* in the searcher's free-mode mutation set */

struct alc_op_info {
    const char *name; /* surface name of a call ("log", "min"), or the
                         keyword/symbol of an operator ("+", "and", "-") */
    enum alc_opkind kind;
    int nargs;        /* operands, extra arguments included */
    int prec;         /* binding power of an operator, 0 for calls/leaves;
                         higher binds tighter (see alc_op_table) */
    unsigned flags;   /* ALC_OPF_* */
    /* Interpreter semantics of maps (exactly one set for a map, else NULL).
     * These functions ARE the definition the backends must reproduce. */
    double (*map1)(double);
    double (*map2)(double, double);
    double (*map3)(double, double, double);
    const char *def;  /* definition, domain and NaN behaviour, one line */
};

extern const struct alc_op_info alc_op_table[ALC_OP_COUNT];

/* Precedence levels used in alc_op_table, lowest first. */
enum alc_prec {
    ALC_PREC_NONE = 0,
    ALC_PREC_OR = 1,    /* or */
    ALC_PREC_AND = 2,   /* and */
    ALC_PREC_NOT = 3,   /* not (prefix) */
    ALC_PREC_CMP = 4,   /* < <= > >= == != (non-associative) */
    ALC_PREC_ADD = 5,   /* + - */
    ALC_PREC_MUL = 6,   /* * / */
    ALC_PREC_NEG = 7,   /* unary - */
    ALC_PREC_POW = 8    /* ^ (right-assoc; -x^2 = -(x^2)) */
};

/*
 * Inputs: the values the runtime provides, by level. `alpha_peak` and
 * `alpha_hill` are not names in the language: they are what
 * alpha_peak(weight) / alpha_hill(weight) lower to.
 */
enum alc_input {
    /* element level */
    ALC_IN_WANDA,  /* |W_ij| * act_j, Wanda's metric */
    ALC_IN_WEIGHT, /* W_ij, converted exactly from F32/F16/BF16 */
    ALC_IN_ACT,    /* act_j = ||X_j||_2 = sqrt(scaler_row_j) (Wanda's) */
    ALC_IN_ROWS,   /* rows (out_features) of the element's matrix */
    ALC_IN_COLS,   /* cols (in_features) of the element's matrix */
    /* layer level */
    ALC_IN_LAYER,  /* unit index, 0 .. L-1 */
    ALC_IN_BLOCK,  /* decoder-block index of the unit */
    ALC_IN_NUMEL,  /* weights in the unit (sum of rows*cols) */
    ALC_IN_ALPHA_PEAK, /* mean over the unit's matrices of alpha_peak */
    ALC_IN_ALPHA_HILL, /* mean over the unit's matrices of alpha_hill */
    /* model level */
    ALC_IN_S,      /* target mean sparsity */
    ALC_IN_L,      /* number of units */
    ALC_IN_COUNT
};

struct alc_input_info {
    const char *name;     /* surface name, or NULL if not a name */
    enum alc_level level;
    const char *def;
};

extern const struct alc_input_info alc_input_table[ALC_IN_COUNT];

/* Name lookup: the op whose surface name is `name` and takes nargs
 * arguments (min/1 is the reduction, min/2 the element-wise minimum), or -1.
 * Only calls are found this way, not operators. */
int alc_op_lookup_call(const char *name, int nargs);
/* Any op with that surface call name, whatever its arity, or -1. */
int alc_op_lookup_name(const char *name);
/* The input whose surface name is `name`, or -1. */
int alc_input_lookup(const char *name);

/* Truth value used by where/and/or/not: NaN stays NaN. */
static inline int alc_truthy(double x)
{
    return x != 0.0;
}

#endif /* ALC_OPS_H */
