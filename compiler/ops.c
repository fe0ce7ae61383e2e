/*
 * ops.c: the op table's rows and the interpreter semantics of every map.
 * These C functions are the language's definition of each element-wise op
 * (in IEEE double); the LLVM and CUDA lowerings reproduce them, and the
 * property tests compare against them. Reductions are defined in the `def`
 * strings and implemented by the interpreter (interp.c).  ORDER OP.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

const char *const alc_level_name[ALC_LV_COUNT] = {
    [ALC_LV_ELEM] = "element",
    [ALC_LV_LAYER] = "layer",
    [ALC_LV_MODEL] = "model",
};

/* ---- Unary maps ---- */

static double op_neg(double x) { return -x; }
static double op_not(double x) { return isnan(x) ? x : (double)(x == 0.0); }
static double op_abs(double x) { return fabs(x); }
static double op_log(double x) { return log(x); }
static double op_exp(double x) { return exp(x); }
static double op_sqrt(double x) { return sqrt(x); }
static double op_sin(double x) { return sin(x); }
static double op_cos(double x) { return cos(x); }
static double op_tan(double x) { return tan(x); }
static double op_asin(double x) { return asin(x); }
static double op_acos(double x) { return acos(x); }
static double op_atan(double x) { return atan(x); }
static double op_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double op_tanh(double x) { return tanh(x); }
/* torch.nn.functional.softplus with beta=1, threshold=20 */
static double op_softplus(double x) { return x > 20.0 ? x : log1p(exp(x)); }
static double op_isnan(double x) { return (double)(isnan(x) != 0); }
static double op_isinf(double x) { return (double)(isinf(x) != 0); }

/* ---- Binary maps ---- */

static double op_add(double a, double b) { return a + b; }
static double op_sub(double a, double b) { return a - b; }
static double op_mul(double a, double b) { return a * b; }
static double op_div(double a, double b) { return a / b; }
static double op_pow(double a, double b) { return pow(a, b); }
static double op_lt(double a, double b) { return (double)(a < b); }
static double op_le(double a, double b) { return (double)(a <= b); }
static double op_gt(double a, double b) { return (double)(a > b); }
static double op_ge(double a, double b) { return (double)(a >= b); }
static double op_eq(double a, double b) { return (double)(a == b); }
static double op_ne(double a, double b) { return (double)(a != b); }

static double op_and(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    return (double)(a != 0.0 && b != 0.0);
}

static double op_or(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    return (double)(a != 0.0 || b != 0.0);
}

/* torch.minimum / torch.maximum: NaN if either operand is NaN */
static double op_min2(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    return a < b ? a : b;
}

static double op_max2(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    return a > b ? a : b;
}

/* ---- Ternary maps ---- */

static double op_where(double c, double a, double b)
{
    if (isnan(c)) {
        return NAN;
    }
    return c != 0.0 ? a : b;
}

static double op_clamp(double x, double lo, double hi)
{
    return op_min2(op_max2(x, lo), hi);
}

/* ---- The table ---- */

#define LEAF(nm, d) {nm, ALC_OPK_LEAF, 0, 0, 0, NULL, NULL, NULL, d}
#define MAP1(nm, f, fl, d) {nm, ALC_OPK_MAP, 1, 0, fl, f, NULL, NULL, d}
#define PRE1(nm, pr, f, fl, d)                                                \
    {nm, ALC_OPK_MAP, 1, pr, (fl) | ALC_OPF_PREFIX, f, NULL, NULL, d}
#define INFIX(nm, pr, f, fl, d) {nm, ALC_OPK_MAP, 2, pr, fl, NULL, f, NULL, d}
#define MAP2(nm, f, fl, d) {nm, ALC_OPK_MAP, 2, 0, fl, NULL, f, NULL, d}
#define MAP3(nm, f, fl, d) {nm, ALC_OPK_MAP, 3, 0, fl, NULL, NULL, f, d}
#define RED(nm, n, fl, d) {nm, ALC_OPK_REDUCE, n, 0, fl, NULL, NULL, NULL, d}

#define S_ ALC_OPF_SEARCH
#define B_ (ALC_OPF_BOOL | ALC_OPF_INTEGRAL)

const struct alc_op_info alc_op_table[ALC_OP_COUNT] = {
    [ALC_OP_CONST] = LEAF(NULL, "a literal number"),
    [ALC_OP_INPUT] = LEAF(NULL, "a runtime input (see alc_input_table)"),
    [ALC_OP_PARAM] = LEAF(NULL, "a declared param; overridable at run time"),

    [ALC_OP_NEG] = PRE1("-", ALC_PREC_NEG, op_neg, S_, "-x"),
    [ALC_OP_NOT] = PRE1("not", ALC_PREC_NOT, op_not, B_,
                        "1 if x == 0 else 0; NaN if x is NaN"),
    [ALC_OP_ABS] = MAP1("abs", op_abs, S_, "|x|"),
    [ALC_OP_LOG] = MAP1("log", op_log, S_,
                        "natural log; log(0) = -inf, NaN for x < 0"),
    [ALC_OP_EXP] = MAP1("exp", op_exp, S_, "e^x; +inf on overflow"),
    [ALC_OP_SQRT] = MAP1("sqrt", op_sqrt, S_, "square root; NaN for x < 0"),
    [ALC_OP_SIN] = MAP1("sin", op_sin, S_, "sine (radians)"),
    [ALC_OP_COS] = MAP1("cos", op_cos, S_, "cosine (radians)"),
    [ALC_OP_TAN] = MAP1("tan", op_tan, S_, "tangent (radians)"),
    [ALC_OP_ASIN] = MAP1("asin", op_asin, S_,
                         "arc sine; NaN outside [-1, 1]"),
    [ALC_OP_ACOS] = MAP1("acos", op_acos, S_,
                         "arc cosine; NaN outside [-1, 1]"),
    [ALC_OP_ATAN] = MAP1("atan", op_atan, S_, "arc tangent, in (-pi/2, pi/2)"),
    [ALC_OP_SIGMOID] = MAP1("sigmoid", op_sigmoid, S_, "1 / (1 + e^-x)"),
    [ALC_OP_TANH] = MAP1("tanh", op_tanh, S_, "hyperbolic tangent"),
    [ALC_OP_SOFTPLUS] = MAP1("softplus", op_softplus, S_,
                             "x if x > 20 else log1p(e^x) (torch defaults)"),
    [ALC_OP_ISNAN] = MAP1("isnan", op_isnan, B_, "1 if x is NaN else 0"),
    [ALC_OP_ISINF] = MAP1("isinf", op_isinf, B_,
                          "1 if x is +inf or -inf else 0"),

    [ALC_OP_ADD] = INFIX("+", ALC_PREC_ADD, op_add, S_ | ALC_OPF_COMMUT,
                         "a + b"),
    [ALC_OP_SUB] = INFIX("-", ALC_PREC_ADD, op_sub, S_, "a - b"),
    [ALC_OP_MUL] = INFIX("*", ALC_PREC_MUL, op_mul, S_ | ALC_OPF_COMMUT,
                         "a * b"),
    [ALC_OP_DIV] = INFIX("/", ALC_PREC_MUL, op_div, S_,
                         "a / b (IEEE: x/0 = +-inf, 0/0 = NaN)"),
    [ALC_OP_POW] = INFIX("^", ALC_PREC_POW, op_pow, S_ | ALC_OPF_RIGHT,
                         "C pow(a, b): NaN for a < 0 with non-integer b; "
                         "pow(x, 0) = 1"),
    [ALC_OP_LT] = INFIX("<", ALC_PREC_CMP, op_lt, B_, "1 if a < b else 0 "
                        "(0 if either is NaN)"),
    [ALC_OP_LE] = INFIX("<=", ALC_PREC_CMP, op_le, B_, "1 if a <= b else 0 "
                        "(0 if either is NaN)"),
    [ALC_OP_GT] = INFIX(">", ALC_PREC_CMP, op_gt, B_, "1 if a > b else 0 "
                        "(0 if either is NaN)"),
    [ALC_OP_GE] = INFIX(">=", ALC_PREC_CMP, op_ge, B_, "1 if a >= b else 0 "
                        "(0 if either is NaN)"),
    [ALC_OP_EQ] = INFIX("==", ALC_PREC_CMP, op_eq, B_ | ALC_OPF_COMMUT,
                        "1 if a == b else 0 (0 if either is NaN)"),
    [ALC_OP_NE] = INFIX("!=", ALC_PREC_CMP, op_ne, B_ | ALC_OPF_COMMUT,
                        "1 if a != b else 0 (1 if either is NaN)"),
    [ALC_OP_AND] = INFIX("and", ALC_PREC_AND, op_and, B_ | ALC_OPF_COMMUT,
                         "1 if a != 0 and b != 0 else 0; NaN if either is "
                         "NaN"),
    [ALC_OP_OR] = INFIX("or", ALC_PREC_OR, op_or, B_ | ALC_OPF_COMMUT,
                        "1 if a != 0 or b != 0 else 0; NaN if either is NaN"),
    [ALC_OP_MIN2] = MAP2("min", op_min2, S_ | ALC_OPF_COMMUT,
                         "smaller of a and b; NaN if either is NaN"),
    [ALC_OP_MAX2] = MAP2("max", op_max2, S_ | ALC_OPF_COMMUT,
                         "larger of a and b; NaN if either is NaN"),

    [ALC_OP_WHERE] = MAP3("where", op_where, 0,
                          "a if c != 0 else b; NaN if c is NaN"),
    [ALC_OP_CLAMP] = MAP3("clamp", op_clamp, 0,
                          "min(max(x, lo), hi); NaN if any operand is NaN"),

    [ALC_OP_MEAN] = RED("mean", 1, S_, "sum(x) / n; NaN propagates"),
    [ALC_OP_VAR] = RED("var", 1, S_,
                       "sum((x - mean(x))^2) / (n - 1), unbiased as torch; "
                       "NaN for n < 2; NaN propagates"),
    [ALC_OP_STD] = RED("std", 1, S_, "sqrt(var(x))"),
    [ALC_OP_SUM] = RED("sum", 1, S_, "sum of x; NaN propagates"),
    [ALC_OP_MIN] = RED("min", 1, S_, "smallest x; NaN if any x is NaN"),
    [ALC_OP_MAX] = RED("max", 1, S_, "largest x; NaN if any x is NaN"),
    [ALC_OP_L1] = RED("l1", 1, S_, "sum(|x|)"),
    [ALC_OP_L2] = RED("l2", 1, S_, "sqrt(sum(x^2)) (Frobenius norm)"),
    [ALC_OP_MEANABS] = RED("meanabs", 1, S_,
                           "mean(|x|) (DSA's L1_NORM)"),
    [ALC_OP_GEOMEAN] = RED("geomean", 1, S_,
                           "exp(mean(log(x))): 0 if any x is 0, NaN if any "
                           "x < 0"),
    [ALC_OP_ENTROPY] = RED("entropy", 1, S_,
                           "DSA's: p = the x that are >= 0 (NaN dropped), "
                           "p /= sum(p), -sum(p log p) with 0 log 0 = 0; NaN "
                           "if sum(p) is 0 or no x qualifies"),
    [ALC_OP_CNT] = RED("count", 1, S_ | ALC_OPF_INTEGRAL,
                       "number of x that are != 0 and not NaN"),
    [ALC_OP_QUANTILE] = RED("quantile", 2, 0,
                            "torch.quantile(x, q), linear interpolation; q "
                            "model-level; NaN if q is outside [0, 1] or "
                            "NaN, or if any x is NaN"),

    [ALC_OP_RANK] = {"rank", ALC_OPK_ACROSS, 1, 0, ALC_OPF_INTEGRAL, NULL,
                     NULL, NULL,
                     "rank of a layer-level x among the units, 0-based, ties "
                     "get the average rank; NaN units stay NaN and are not "
                     "ranked"},

    [ALC_OP_ALPHA_PEAK] = {"alpha_peak", ALC_OPK_MATRIX, 1, 0, 0, NULL, NULL,
                           NULL,
                           "AlphaPruning's heavy-tail exponent of the ESD of "
                           "W^T W (xmin at the ESD peak), mean over the "
                           "unit's matrices; argument must be `weight`"},
    [ALC_OP_ALPHA_HILL] = {"alpha_hill", ALC_OPK_MATRIX, 1, 0, 0, NULL, NULL,
                           NULL,
                           "Hill estimator of the ESD tail exponent with k = "
                           "N/2 (AlphaPruning's alpha_mid), mean over the "
                           "unit's matrices; argument must be `weight`"},
};
_Static_assert(ALC_OP_COUNT == 53, "op table out of sync with enum alc_op");

const struct alc_input_info alc_input_table[ALC_IN_COUNT] = {
    [ALC_IN_WANDA] = {"wanda", ALC_LV_ELEM,
                      "|W_ij| * act_j, Wanda's pruning metric"},
    [ALC_IN_WEIGHT] = {"weight", ALC_LV_ELEM, "W_ij"},
    [ALC_IN_ACT] = {"act", ALC_LV_ELEM,
                    "||X_j||_2 of input column j over the calibration "
                    "tokens, scaled as Wanda's sqrt(scaler_row)"},
    [ALC_IN_ROWS] = {"rows", ALC_LV_ELEM,
                     "rows (out_features) of the element's matrix"},
    [ALC_IN_COLS] = {"cols", ALC_LV_ELEM,
                     "columns (in_features) of the element's matrix"},
    [ALC_IN_LAYER] = {"layer", ALC_LV_LAYER, "unit index, 0 .. L-1"},
    [ALC_IN_BLOCK] = {"block", ALC_LV_LAYER,
                      "decoder-block index of the unit (= layer when units "
                      "are blocks)"},
    [ALC_IN_NUMEL] = {"numel", ALC_LV_LAYER, "number of weights in the unit"},
    [ALC_IN_ALPHA_PEAK] = {NULL, ALC_LV_LAYER, "alpha_peak(weight)"},
    [ALC_IN_ALPHA_HILL] = {NULL, ALC_LV_LAYER, "alpha_hill(weight)"},
    [ALC_IN_S] = {"S", ALC_LV_MODEL, "target mean sparsity"},
    [ALC_IN_L] = {"L", ALC_LV_MODEL, "number of units"},
};
_Static_assert(ALC_IN_COUNT == 12, "input table out of sync");

int alc_op_lookup_call(const char *name, int nargs)
{
    for (int i = 0; i < ALC_OP_COUNT; i++) {
        const struct alc_op_info *o = &alc_op_table[i];
        if (o->name == NULL || o->prec != 0 || o->kind == ALC_OPK_LEAF) {
            continue;
        }
        if (o->nargs == nargs && strcmp(o->name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int alc_op_lookup_name(const char *name)
{
    for (int i = 0; i < ALC_OP_COUNT; i++) {
        const struct alc_op_info *o = &alc_op_table[i];
        if (o->name != NULL && o->prec == 0 && o->kind != ALC_OPK_LEAF &&
            strcmp(o->name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int alc_input_lookup(const char *name)
{
    for (int i = 0; i < ALC_IN_COUNT; i++) {
        if (alc_input_table[i].name != NULL &&
            strcmp(alc_input_table[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}
