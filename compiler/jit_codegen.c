/*
 * jit_codegen.c: LLVM IR for the passes of a plan (plan.h), one function
 * per pass and weight dtype, through the LLVM C API (Core.h only; the
 * version-sensitive calls are in llvm_compat.c). Called by jit_llvm.c.
 *
 * Shape of a pass function (signature in jit.h), VL = 8 lanes, U = unroll:
 *
 *   entry:    broadcast the layer/model values the elements read (env[]);
 *             var shifts K = the chunk's first vector of values
 *   for r < nrows:                       (rows of the chunk)
 *     for c + VL*U <= cols: U vectors at c, c+VL, ... into U accumulator
 *                            copies (independent dependency chains)
 *     for c < cols:         one masked vector into copy 0 (masked loads;
 *                           masked-off lanes leave accumulators unchanged)
 *   exit:     store every accumulator lane to raw[]
 *
 * Element semantics are the op table's map functions (ops.c) in IEEE
 * double, operation for operation: comparisons give 1.0/0.0, NaN rules as
 * written there, no reassociation, no contraction. Element-wise ops other
 * than the log/exp family call ops.c's map functions through alc_jit_vmap
 * (identical to the interpreter by construction).
 */
#include <math.h>
#include <stdlib.h>

#include "jit_internal.h"
#include "llvm_compat.h"

const char *const alc_cg_dtype_suffix[ALC_DT_COUNT] = {
    [ALC_DT_F32] = "f32",
    [ALC_DT_F16] = "f16",
    [ALC_DT_BF16] = "bf16",
};

const char *const alc_cg_vfn_name[ALC_VFN_COUNT] = {
    [ALC_VFN_LOG] = "vlog",
    [ALC_VFN_EXP] = "vexp",
    [ALC_VFN_LOG1P] = "vlog1p",
};

const int alc_cg_raw_slots[ALC_ACC_COUNT] = {
    [ALC_ACC_SUM] = 1, [ALC_ACC_MIN] = 2,   [ALC_ACC_MAX] = 2,
    [ALC_ACC_VAR] = 4, [ALC_ACC_STORE] = 0,
};

/* ---- Helpers ---- */

void alc_cg_types(struct alc_cg *g)
{
    g->t_f64 = LLVMDoubleTypeInContext(g->ctx);
    g->t_f32 = LLVMFloatTypeInContext(g->ctx);
    g->t_f16 = LLVMHalfTypeInContext(g->ctx);
    g->t_i64 = LLVMInt64TypeInContext(g->ctx);
    g->t_i32 = LLVMInt32TypeInContext(g->ctx);
    g->t_i16 = LLVMInt16TypeInContext(g->ctx);
    g->t_i1 = LLVMInt1TypeInContext(g->ctx);
    g->t_ptr = LLVMPointerTypeInContext(g->ctx, 0);
    g->t_void = LLVMVoidTypeInContext(g->ctx);
    g->v_f64 = LLVMVectorType(g->t_f64, ALC_VL);
    g->v_f32 = LLVMVectorType(g->t_f32, ALC_VL);
    g->v_f16 = LLVMVectorType(g->t_f16, ALC_VL);
    g->v_i64 = LLVMVectorType(g->t_i64, ALC_VL);
    g->v_i32 = LLVMVectorType(g->t_i32, ALC_VL);
    g->v_i16 = LLVMVectorType(g->t_i16, ALC_VL);
    g->v_i1 = LLVMVectorType(g->t_i1, ALC_VL);
}

LLVMValueRef alc_cg_vf(struct alc_cg *g, double x)
{
    LLVMValueRef e[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        e[i] = LLVMConstReal(g->t_f64, x);
    }
    return LLVMConstVector(e, ALC_VL);
}

LLVMValueRef alc_cg_vi(struct alc_cg *g, uint64_t x)
{
    LLVMValueRef e[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        e[i] = LLVMConstInt(g->t_i64, x, 0);
    }
    return LLVMConstVector(e, ALC_VL);
}

LLVMValueRef alc_cg_splat(struct alc_cg *g, LLVMValueRef s)
{
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(s), ALC_VL);
    LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetPoison(vt), s,
                                            LLVMConstInt(g->t_i32, 0, 0), "");
    return LLVMBuildShuffleVector(g->b, v, LLVMGetPoison(vt),
                                  LLVMConstNull(g->v_i32), "");
}

LLVMValueRef alc_cg_intrinsic(struct alc_cg *g, const char *name,
                              LLVMTypeRef *tys, int n_tys, LLVMValueRef *args,
                              int n_args)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn =
        LLVMGetIntrinsicDeclaration(g->mod, id, tys, (size_t)n_tys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(g->ctx, id, tys, (size_t)n_tys);
    return LLVMBuildCall2(g->b, fty, fn, args, (unsigned)n_args, "");
}

LLVMValueRef alc_cg_fma(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b,
                        LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return alc_cg_intrinsic(g, "llvm.fma", &g->v_f64, 1, args, 3);
}

LLVMValueRef alc_cg_fcmp(struct alc_cg *g, LLVMRealPredicate p, LLVMValueRef a,
                         LLVMValueRef b)
{
    return LLVMBuildFCmp(g->b, p, a, b, "");
}

LLVMValueRef alc_cg_select(struct alc_cg *g, LLVMValueRef c, LLVMValueRef a,
                           LLVMValueRef b)
{
    return LLVMBuildSelect(g->b, c, a, b, "");
}

void alc_cg_scratch(struct alc_cg *g)
{
    for (int i = 0; i < 3; i++) {
        g->scratch[i] = LLVMBuildAlloca(g->b, g->v_f64, "vmap");
        LLVMSetAlignment(g->scratch[i], 64);
    }
}

LLVMValueRef alc_cg_vmap(struct alc_cg *g, int op, LLVMValueRef a,
                         LLVMValueRef b)
{
    LLVMTypeRef params[4] = {g->t_i32, g->t_ptr, g->t_ptr, g->t_ptr};
    LLVMTypeRef fty = LLVMFunctionType(g->t_void, params, 4, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(g->mod, ALC_JIT_VMAP_SYMBOL);
    if (fn == NULL) {
        fn = LLVMAddFunction(g->mod, ALC_JIT_VMAP_SYMBOL, fty);
    }
    LLVMBuildStore(g->b, a, g->scratch[0]);
    if (b != NULL) {
        LLVMBuildStore(g->b, b, g->scratch[1]);
    }
    LLVMValueRef args[4] = {LLVMConstInt(g->t_i32, (unsigned long long)op, 0),
                            g->scratch[0], g->scratch[b != NULL],
                            g->scratch[2]};
    LLVMBuildCall2(g->b, fty, fn, args, 4, "");
    return LLVMBuildLoad2(g->b, g->v_f64, g->scratch[2], "");
}

static void add_fn_attr(struct alc_cg *g, LLVMValueRef fn, unsigned idx,
                        const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(g->ctx, kind, 0));
}

/* ---- Pass functions ---- */

enum { A_W, A_ACT, A_NROWS, A_COLS, A_MATROWS, A_ENV, A_RAW, A_STORE, A_N };

/* State of the pass function being generated. */
struct pf {
    struct alc_cg *g;
    const struct alc_ir *ir;
    const struct alc_plan_pass *ps;
    enum alc_dtype dt;
    int U; /* unroll */
    LLVMValueRef fn;
    LLVMValueRef arg[A_N];
    LLVMValueRef *use;   /* (n_nodes) broadcast layer/model values */
    LLVMValueRef *val;   /* (n_nodes) element values at the position */
    LLVMValueRef *truth; /* (n_nodes) <VL x i1> equal to val != 0 for
                            values known to be 0 or 1 (never NaN:
                            comparisons, isnan, ...), else NULL */
    LLVMValueRef t_out;  /* the truth of the node being emitted */
    LLVMValueRef *acc;   /* (n_accs * U * 4) accumulator allocas */
    LLVMValueRef *K;     /* (n_accs) var shifts */
    LLVMValueRef *sptr;  /* (n_accs) store base pointers */
    LLVMValueRef v_rows, v_cols, lanes;
    LLVMValueRef r_var, c_var; /* allocas: row and column index */
    /* the position being generated */
    LLVMValueRef p_off;       /* i64 r * cols + c */
    LLVMValueRef p_c;         /* i64 c */
    LLVMValueRef p_mask;      /* <VL x i1> or NULL */
    LLVMValueRef p_w, p_act;  /* loaded inputs, or NULL */
    LLVMValueRef pre_w[4];    /* weights of the main loop's copies, loaded
                                 two vectors at a time (wide_load_w) */
    LLVMValueRef pre_wabs[4]; /* their absolute values, likewise */
    LLVMValueRef p_wabs;      /* |weights| at the position, or NULL */
};

static LLVMValueRef *acc_slot(struct pf *f, int a, int u, int s)
{
    return &f->acc[((size_t)a * (size_t)f->U + (size_t)u) * 4 + (size_t)s];
}

/* A (masked) vector load of VL elements of type vt at base[index]. */
static LLVMValueRef vload(struct pf *f, LLVMTypeRef et, LLVMTypeRef vt,
                          LLVMValueRef base, LLVMValueRef index, unsigned align)
{
    struct alc_cg *g = f->g;
    LLVMValueRef p = LLVMBuildGEP2(g->b, et, base, &index, 1, "");
    if (f->p_mask == NULL) {
        LLVMValueRef v = LLVMBuildLoad2(g->b, vt, p, "");
        LLVMSetAlignment(v, align);
        return v;
    }
    LLVMTypeRef tys[2] = {vt, g->t_ptr};
    LLVMValueRef args[4] = {p, LLVMConstInt(g->t_i32, align, 0), f->p_mask,
                            LLVMConstNull(vt)};
    return alc_cg_intrinsic(g, "llvm.masked.load", tys, 2, args, 4);
}

/* The weights at the position, converted exactly to double. */
static LLVMValueRef load_w(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef v = NULL;
    if (f->p_w != NULL) {
        return f->p_w;
    }
    switch (f->dt) {
    case ALC_DT_F32:
        v = vload(f, g->t_f32, g->v_f32, f->arg[A_W], f->p_off, 4);
        v = LLVMBuildFPExt(b, v, g->v_f64, "");
        break;
    case ALC_DT_F16:
        v = vload(f, g->t_i16, g->v_i16, f->arg[A_W], f->p_off, 2);
        v = LLVMBuildBitCast(b, v, g->v_f16, "");
        v = LLVMBuildFPExt(b, v, g->v_f64, "");
        break;
    default: /* BF16: the upper half of an F32 */
        v = vload(f, g->t_i16, g->v_i16, f->arg[A_W], f->p_off, 2);
        v = LLVMBuildZExt(b, v, g->v_i32, "");
        v = LLVMBuildShl(b, v, alc_cg_splat(g, LLVMConstInt(g->t_i32, 16, 0)),
                         "");
        v = LLVMBuildBitCast(b, v, g->v_f32, "");
        v = LLVMBuildFPExt(b, v, g->v_f64, "");
        break;
    }
    f->p_w = v;
    return v;
}

/* act[col] arrives as double (jit_llvm.c widens each act vector once per
 * evaluation), so the loop spends no conversion on it. */
static LLVMValueRef load_act(struct pf *f)
{
    struct alc_cg *g = f->g;
    if (f->p_act == NULL) {
        f->p_act = vload(f, g->t_f64, g->v_f64, f->arg[A_ACT], f->p_c, 8);
    }
    return f->p_act;
}

static LLVMValueRef operand(struct pf *f, int node)
{
    return f->ir->nodes[node].level == ALC_LV_ELEM ? f->val[node]
                                                   : f->use[node];
}

static LLVMValueRef b2d(struct pf *f, LLVMValueRef c)
{
    return LLVMBuildUIToFP(f->g->b, c, f->g->v_f64, "");
}

static LLVMValueRef is_nan(struct pf *f, LLVMValueRef x)
{
    return alc_cg_fcmp(f->g, LLVMRealUNO, x, x);
}

/* A 0/1 result with its truth mask (see struct pf). */
static LLVMValueRef with_truth(struct pf *f, LLVMValueRef c)
{
    f->t_out = c;
    return b2d(f, c);
}

static LLVMValueRef emit_input(struct pf *f, int in)
{
    struct alc_cg *g = f->g;
    LLVMValueRef a[1];
    switch (in) {
    case ALC_IN_WANDA: /* fabs((double)w) * (double)act[col] */
        a[0] = load_w(f);
        if (f->p_wabs == NULL) {
            f->p_wabs = alc_cg_intrinsic(g, "llvm.fabs", &g->v_f64, 1, a, 1);
        }
        return LLVMBuildFMul(g->b, f->p_wabs, load_act(f), "");
    case ALC_IN_WEIGHT:
        return load_w(f);
    case ALC_IN_ACT:
        return load_act(f);
    case ALC_IN_ROWS:
        return f->v_rows;
    case ALC_IN_COLS:
        return f->v_cols;
    default:
        return alc_cg_vf(g, NAN);
    }
}

/* The log/exp family: vectorised in IR, or ops.c's functions per lane in
 * libm mode; then the test perturbation, if any. */
static LLVMValueRef transc(struct pf *f, enum alc_op op, LLVMValueRef x)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef r = NULL, one = alc_cg_vf(g, 1.0);
    if (g->opts->libm) {
        r = alc_cg_vmap(g, op, x, NULL);
    } else if (op == ALC_OP_LOG) {
        r = alc_vm_log(g, x);
    } else if (op == ALC_OP_EXP) {
        r = alc_vm_exp(g, x);
    } else if (op == ALC_OP_SIGMOID) { /* 1 / (1 + exp(-x)) */
        LLVMValueRef e = alc_vm_exp(g, LLVMBuildFNeg(b, x, ""));
        r = LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, e, ""), "");
    } else { /* softplus: x > 20 ? x : log1p(exp(x)) */
        LLVMValueRef big = alc_cg_fcmp(g, LLVMRealOGT, x, alc_cg_vf(g, 20.0));
        r = alc_cg_select(g, big, x, alc_vm_log1p(g, alc_vm_exp(g, x)));
    }
    if (g->opts->perturb != 0.0) {
        r = LLVMBuildFMul(b, r, alc_cg_vf(g, 1.0 + g->opts->perturb), "");
    }
    return r;
}

static LLVMValueRef emit_unary(struct pf *f, enum alc_op op, LLVMValueRef x)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef a[1] = {x};
    switch (op) {
    case ALC_OP_NEG:
        return LLVMBuildFNeg(b, x, "");
    case ALC_OP_NOT: /* isnan(x) ? x : (x == 0) */
        return alc_cg_select(
            g, is_nan(f, x), x,
            b2d(f, alc_cg_fcmp(g, LLVMRealOEQ, x, alc_cg_vf(g, 0.0))));
    case ALC_OP_ABS:
        return alc_cg_intrinsic(g, "llvm.fabs", &g->v_f64, 1, a, 1);
    case ALC_OP_LOG:
    case ALC_OP_EXP:
    case ALC_OP_SIGMOID:
    case ALC_OP_SOFTPLUS:
        return transc(f, op, x);
    case ALC_OP_SQRT:
        return alc_cg_intrinsic(g, "llvm.sqrt", &g->v_f64, 1, a, 1);
    case ALC_OP_ISNAN:
        return with_truth(f, is_nan(f, x));
    case ALC_OP_ISINF:
        return with_truth(
            f, alc_cg_fcmp(g, LLVMRealOEQ,
                           alc_cg_intrinsic(g, "llvm.fabs", &g->v_f64, 1, a, 1),
                           alc_cg_vf(g, INFINITY)));
    default: /* sin, cos, tan, asin, acos, atan, tanh */
        return alc_cg_vmap(g, op, x, NULL);
    }
}

/* min/max of two values: NaN if either is NaN, else a < b ? a : b. */
static LLVMValueRef emit_minmax2(struct pf *f, LLVMRealPredicate p,
                                 LLVMValueRef x, LLVMValueRef y)
{
    struct alc_cg *g = f->g;
    LLVMValueRef r = alc_cg_select(g, alc_cg_fcmp(g, p, x, y), x, y);
    return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealUNO, x, y),
                         alc_cg_vf(g, NAN), r);
}

/* and/or: NaN if either is NaN, else the truth value as 1/0. */
static LLVMValueRef emit_logic(struct pf *f, int is_and, LLVMValueRef x,
                               LLVMValueRef y)
{
    struct alc_cg *g = f->g;
    LLVMValueRef zero = alc_cg_vf(g, 0.0);
    LLVMValueRef tx = alc_cg_fcmp(g, LLVMRealONE, x, zero);
    LLVMValueRef ty = alc_cg_fcmp(g, LLVMRealONE, y, zero);
    LLVMValueRef t =
        is_and ? LLVMBuildAnd(g->b, tx, ty, "") : LLVMBuildOr(g->b, tx, ty, "");
    return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealUNO, x, y),
                         alc_cg_vf(g, NAN), b2d(f, t));
}

static LLVMValueRef emit_cmp(struct pf *f, LLVMRealPredicate p, LLVMValueRef x,
                             LLVMValueRef y)
{
    return with_truth(f, alc_cg_fcmp(f->g, p, x, y));
}

static LLVMValueRef emit_binary(struct pf *f, enum alc_op op, LLVMValueRef x,
                                LLVMValueRef y)
{
    LLVMBuilderRef b = f->g->b;
    switch (op) {
    case ALC_OP_ADD:
        return LLVMBuildFAdd(b, x, y, "");
    case ALC_OP_SUB:
        return LLVMBuildFSub(b, x, y, "");
    case ALC_OP_MUL:
        return LLVMBuildFMul(b, x, y, "");
    case ALC_OP_DIV:
        return LLVMBuildFDiv(b, x, y, "");
    case ALC_OP_POW:
        return alc_cg_vmap(f->g, op, x, y);
    case ALC_OP_LT:
        return emit_cmp(f, LLVMRealOLT, x, y);
    case ALC_OP_LE:
        return emit_cmp(f, LLVMRealOLE, x, y);
    case ALC_OP_GT:
        return emit_cmp(f, LLVMRealOGT, x, y);
    case ALC_OP_GE:
        return emit_cmp(f, LLVMRealOGE, x, y);
    case ALC_OP_EQ:
        return emit_cmp(f, LLVMRealOEQ, x, y);
    case ALC_OP_NE:
        return emit_cmp(f, LLVMRealUNE, x, y);
    case ALC_OP_AND:
        return emit_logic(f, 1, x, y);
    case ALC_OP_OR:
        return emit_logic(f, 0, x, y);
    case ALC_OP_MIN2:
        return emit_minmax2(f, LLVMRealOLT, x, y);
    case ALC_OP_MAX2:
        return emit_minmax2(f, LLVMRealOGT, x, y);
    default:
        return alc_cg_vf(f->g, NAN);
    }
}

static LLVMValueRef emit_ternary(struct pf *f, enum alc_op op, LLVMValueRef x,
                                 LLVMValueRef y, LLVMValueRef z)
{
    struct alc_cg *g = f->g;
    if (op == ALC_OP_WHERE) { /* isnan(c) ? NaN : c != 0 ? a : b */
        LLVMValueRef pick = alc_cg_select(
            g, alc_cg_fcmp(g, LLVMRealUNE, x, alc_cg_vf(g, 0.0)), y, z);
        return alc_cg_select(g, is_nan(f, x), alc_cg_vf(g, NAN), pick);
    }
    /* clamp: min2(max2(x, lo), hi) */
    return emit_minmax2(f, LLVMRealOLT, emit_minmax2(f, LLVMRealOGT, x, y), z);
}

static LLVMValueRef truth_of(struct pf *f, int node)
{
    return f->ir->nodes[node].level == ALC_LV_ELEM ? f->truth[node] : NULL;
}

/*
 * where/not/and/or over operands known to be 0 or 1 (comparisons): the
 * NaN cases of their definitions cannot arise, so they work on the i1
 * masks directly instead of converting to 0.0/1.0 and back. NULL when
 * the operands do not allow it.
 */
static LLVMValueRef emit_on_truth(struct pf *f, const struct alc_ir_node *n,
                                  LLVMValueRef *a)
{
    LLVMBuilderRef b = f->g->b;
    LLVMValueRef t0 = truth_of(f, n->arg[0]);
    LLVMValueRef t1 = n->nargs > 1 ? truth_of(f, n->arg[1]) : NULL;
    if (t0 == NULL) {
        return NULL;
    }
    switch (n->op) {
    case ALC_OP_WHERE:
        return alc_cg_select(f->g, t0, a[1], a[2]);
    case ALC_OP_NOT:
        return with_truth(f, LLVMBuildNot(b, t0, ""));
    case ALC_OP_AND:
        return t1 ? with_truth(f, LLVMBuildAnd(b, t0, t1, "")) : NULL;
    case ALC_OP_OR:
        return t1 ? with_truth(f, LLVMBuildOr(b, t0, t1, "")) : NULL;
    default:
        return NULL;
    }
}

static LLVMValueRef emit_node(struct pf *f, int i)
{
    const struct alc_ir_node *n = &f->ir->nodes[i];
    LLVMValueRef a[3] = {NULL, NULL, NULL};
    if (n->op == ALC_OP_INPUT) {
        return emit_input(f, n->u.input);
    }
    for (int k = 0; k < n->nargs; k++) {
        a[k] = operand(f, n->arg[k]);
    }
    LLVMValueRef r = emit_on_truth(f, n, a);
    if (r != NULL) {
        return r;
    }
    switch (n->nargs) {
    case 1:
        return emit_unary(f, n->op, a[0]);
    case 2:
        return emit_binary(f, n->op, a[0], a[1]);
    default:
        return emit_ternary(f, n->op, a[0], a[1], a[2]);
    }
}

/* ---- Accumulators ---- */

/* f's function of x; t is x's truth mask or NULL. */
static LLVMValueRef acc_fn(struct pf *f, enum alc_acc_fn fn, LLVMValueRef x,
                           LLVMValueRef t)
{
    struct alc_cg *g = f->g;
    LLVMValueRef zero = alc_cg_vf(g, 0.0), one = alc_cg_vf(g, 1.0);
    LLVMValueRef a[1] = {x};
    switch (fn) {
    case ALC_AF_ABS:
        return alc_cg_intrinsic(g, "llvm.fabs", &g->v_f64, 1, a, 1);
    case ALC_AF_SQ:
        return LLVMBuildFMul(g->b, x, x, "");
    case ALC_AF_LOG:
        return transc(f, ALC_OP_LOG, x);
    case ALC_AF_NZ: /* a 0/1 value counts as itself */
        return alc_cg_select(g, t ? t : alc_cg_fcmp(g, LLVMRealONE, x, zero),
                             one, zero);
    case ALC_AF_POS:
        return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOGE, x, zero), x, zero);
    case ALC_AF_GE0:
        return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOGE, x, zero), one,
                             zero);
    case ALC_AF_XLOGX:
        return alc_cg_select(
            g, alc_cg_fcmp(g, LLVMRealOGT, x, zero),
            LLVMBuildFMul(g->b, x, transc(f, ALC_OP_LOG, x), ""), zero);
    default:
        return x;
    }
}

static LLVMValueRef ld(struct pf *f, LLVMValueRef slot)
{
    return LLVMBuildLoad2(f->g->b, f->g->v_f64, slot, "");
}

static void st(struct pf *f, LLVMValueRef v, LLVMValueRef slot)
{
    LLVMBuildStore(f->g->b, v, slot);
}

/* Masked-off lanes (tail) keep the old value. */
static LLVMValueRef keep(struct pf *f, LLVMValueRef nv, LLVMValueRef old)
{
    return f->p_mask ? alc_cg_select(f->g, f->p_mask, nv, old) : nv;
}

/* The chunk-relative element index of each lane at the position. */
static LLVMValueRef elem_index(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMValueRef e[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        e[i] = LLVMConstReal(g->t_f64, (double)i);
    }
    LLVMValueRef base = LLVMBuildSIToFP(g->b, f->p_off, g->t_f64, "");
    return LLVMBuildFAdd(g->b, alc_cg_splat(g, base),
                         LLVMConstVector(e, ALC_VL), "");
}

/* min/max with the index of the first occurrence (plan.h): a strictly
 * smaller (larger) value replaces, ties keep the earlier; NaN sticks. */
static void acc_minmax(struct pf *f, int is_min, LLVMValueRef x,
                       LLVMValueRef *s)
{
    struct alc_cg *g = f->g;
    LLVMValueRef m = ld(f, s[0]), i = ld(f, s[1]);
    LLVMValueRef better =
        alc_cg_fcmp(g, is_min ? LLVMRealOLT : LLVMRealOGT, x, m);
    LLVMValueRef nm = alc_cg_select(g, better, x, m);
    LLVMValueRef ni = alc_cg_select(g, better, elem_index(f), i);
    nm = alc_cg_select(g, is_nan(f, x), x, nm);
    st(f, keep(f, nm, m), s[0]);
    st(f, keep(f, ni, i), s[1]);
}

static void acc_var(struct pf *f, int a, int u, LLVMValueRef x)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef d = LLVMBuildFSub(b, x, f->K[a], "");
    LLVMValueRef one = alc_cg_vf(g, 1.0);
    if (f->p_mask != NULL) {
        d = alc_cg_select(g, f->p_mask, d, alc_cg_vf(g, 0.0));
        one = alc_cg_select(g, f->p_mask, one, alc_cg_vf(g, 0.0));
    }
    LLVMValueRef *s = acc_slot(f, a, u, 0);
    st(f, LLVMBuildFAdd(b, ld(f, s[0]), one, ""), s[0]);
    st(f, LLVMBuildFAdd(b, ld(f, s[2]), d, ""), s[2]);
    st(f, LLVMBuildFAdd(b, ld(f, s[3]), LLVMBuildFMul(b, d, d, ""), ""), s[3]);
}

static void acc_store(struct pf *f, int a, LLVMValueRef x)
{
    struct alc_cg *g = f->g;
    LLVMValueRef p =
        LLVMBuildGEP2(g->b, g->t_f64, f->sptr[a], &f->p_off, 1, "");
    if (f->p_mask == NULL) {
        LLVMSetAlignment(LLVMBuildStore(g->b, x, p), 8);
        return;
    }
    LLVMTypeRef tys[2] = {g->v_f64, g->t_ptr};
    LLVMValueRef args[4] = {x, p, LLVMConstInt(g->t_i32, 8, 0), f->p_mask};
    alc_cg_intrinsic(g, "llvm.masked.store", tys, 2, args, 4);
}

/* The mask c when f(x) is exactly 1.0 where c holds and 0.0 elsewhere
 * (counts), else NULL. */
static LLVMValueRef acc_fn_mask(struct pf *f, enum alc_acc_fn fn, int node)
{
    struct alc_cg *g = f->g;
    LLVMValueRef x = f->val[node], t = f->truth[node];
    LLVMValueRef zero = alc_cg_vf(g, 0.0);
    switch (fn) {
    case ALC_AF_ID:
        return t;
    case ALC_AF_NZ:
        return t ? t : alc_cg_fcmp(g, LLVMRealONE, x, zero);
    case ALC_AF_GE0:
        return alc_cg_fcmp(g, LLVMRealOGE, x, zero);
    default:
        return NULL;
    }
}

/* SUM: s + f(x); a count adds 1.0 under its mask instead, which is the
 * same sum bit for bit (s starts at +0 and never becomes -0, so s + 0.0 is
 * s) in one masked add. */
static void acc_sum(struct pf *f, const struct alc_plan_acc *acc,
                    LLVMValueRef *s)
{
    struct alc_cg *g = f->g;
    LLVMValueRef old = ld(f, s[0]);
    LLVMValueRef c = acc_fn_mask(f, acc->fn, acc->node);
    LLVMValueRef nv = NULL;
    if (c != NULL) {
        if (f->p_mask != NULL) {
            c = LLVMBuildAnd(g->b, c, f->p_mask, "");
        }
        nv = LLVMBuildFAdd(g->b, old, alc_cg_vf(g, 1.0), "");
        st(f, alc_cg_select(g, c, nv, old), s[0]);
        return;
    }
    LLVMValueRef x = acc_fn(f, acc->fn, f->val[acc->node], f->truth[acc->node]);
    st(f, keep(f, LLVMBuildFAdd(g->b, old, x, ""), old), s[0]);
}

static void acc_update(struct pf *f, int a, int u)
{
    const struct alc_plan_acc *acc = &f->ps->accs[a];
    LLVMValueRef *s = acc_slot(f, a, u, 0);
    if (acc->kind == ALC_ACC_SUM) {
        acc_sum(f, acc, s);
        return;
    }
    LLVMValueRef x = acc_fn(f, acc->fn, f->val[acc->node], f->truth[acc->node]);
    switch (acc->kind) {
    case ALC_ACC_MIN:
    case ALC_ACC_MAX:
        acc_minmax(f, acc->kind == ALC_ACC_MIN, x, s);
        break;
    case ALC_ACC_VAR:
        acc_var(f, a, u, x);
        break;
    default:
        acc_store(f, a, x);
        break;
    }
}

/* ---- One position: VL elements at (row offset, column) ---- */

/* Evaluates the pass's element nodes at p_off/p_c (masked if mask). */
static void emit_position(struct pf *f, LLVMValueRef off, LLVMValueRef c,
                          LLVMValueRef mask, LLVMValueRef w, LLVMValueRef wabs)
{
    f->p_off = off;
    f->p_c = c;
    f->p_mask = mask;
    f->p_w = w;
    f->p_wabs = wabs;
    f->p_act = NULL;
    for (int i = 0; i < f->ps->n_elems; i++) {
        int node = f->ps->elems[i];
        f->t_out = NULL;
        f->val[node] = emit_node(f, node);
        f->truth[node] = f->t_out;
    }
}

static void emit_step(struct pf *f, LLVMValueRef off, LLVMValueRef c,
                      LLVMValueRef mask, int u)
{
    int pre = mask == NULL;
    emit_position(f, off, c, mask, pre ? f->pre_w[u] : NULL,
                  pre ? f->pre_wabs[u] : NULL);
    for (int a = 0; a < f->ps->n_accs; a++) {
        acc_update(f, a, u);
    }
}

/* ---- Function skeleton ---- */

static LLVMValueRef i64c(struct pf *f, int64_t x)
{
    return LLVMConstInt(f->g->t_i64, (unsigned long long)x, 1);
}

static LLVMValueRef tail_mask(struct pf *f, LLVMValueRef c)
{
    struct alc_cg *g = f->g;
    LLVMValueRef left = LLVMBuildSub(g->b, f->arg[A_COLS], c, "");
    return LLVMBuildICmp(g->b, LLVMIntSLT, f->lanes, alc_cg_splat(g, left), "");
}

static void init_accs(struct pf *f)
{
    struct alc_cg *g = f->g;
    for (int a = 0; a < f->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &f->ps->accs[a];
        double id[4];
        alc_plan_acc_identity(acc->kind, id);
        for (int u = 0; u < f->U; u++) {
            for (int s = 0; s < alc_cg_raw_slots[acc->kind]; s++) {
                LLVMValueRef *p = acc_slot(f, a, u, s);
                *p = LLVMBuildAlloca(g->b, g->v_f64, "acc");
                /* raw VAR slots (n, K, s1, s2) all start at 0; SUM, MIN
                 * and MAX start at their identity */
                st(f, alc_cg_vf(g, acc->kind == ALC_ACC_VAR ? 0.0 : id[s]), *p);
            }
        }
    }
}

/* Entry: broadcast uses, load store pointers, var shifts from the first
 * (masked) vector of the chunk. */
static void emit_entry(struct pf *f)
{
    struct alc_cg *g = f->g;
    for (int i = 0; i < f->ps->n_uses; i++) {
        int node = f->ps->uses[i];
        const struct alc_ir_node *n = &f->ir->nodes[node];
        if (n->op == ALC_OP_CONST) {
            f->use[node] = alc_cg_vf(g, n->u.k);
            continue;
        }
        LLVMValueRef idx = i64c(f, node);
        LLVMValueRef p =
            LLVMBuildGEP2(g->b, g->t_f64, f->arg[A_ENV], &idx, 1, "");
        f->use[node] = alc_cg_splat(g, LLVMBuildLoad2(g->b, g->t_f64, p, ""));
    }
    f->v_rows =
        alc_cg_splat(g, LLVMBuildSIToFP(g->b, f->arg[A_MATROWS], g->t_f64, ""));
    f->v_cols =
        alc_cg_splat(g, LLVMBuildSIToFP(g->b, f->arg[A_COLS], g->t_f64, ""));
    init_accs(f);
    int k = 0;
    for (int a = 0; a < f->ps->n_accs; a++) {
        if (f->ps->accs[a].kind == ALC_ACC_STORE) {
            LLVMValueRef idx = i64c(f, k++);
            LLVMValueRef p =
                LLVMBuildGEP2(g->b, g->t_ptr, f->arg[A_STORE], &idx, 1, "");
            f->sptr[a] = LLVMBuildLoad2(g->b, g->t_ptr, p, "");
        }
    }
    int has_var = 0;
    for (int a = 0; a < f->ps->n_accs; a++) {
        has_var |= f->ps->accs[a].kind == ALC_ACC_VAR;
    }
    if (!has_var) {
        return;
    }
    LLVMValueRef zero = i64c(f, 0);
    emit_position(f, zero, zero, tail_mask(f, zero), NULL, NULL);
    for (int a = 0; a < f->ps->n_accs; a++) {
        if (f->ps->accs[a].kind == ALC_ACC_VAR) {
            f->K[a] = f->val[f->ps->accs[a].node];
        }
    }
}

static void emit_exit(struct pf *f)
{
    struct alc_cg *g = f->g;
    int64_t pos = 0;
    for (int a = 0; a < f->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &f->ps->accs[a];
        for (int s = 0; s < alc_cg_raw_slots[acc->kind]; s++) {
            for (int u = 0; u < f->U; u++) {
                LLVMValueRef v = acc->kind == ALC_ACC_VAR && s == 1
                                     ? f->K[a]
                                     : ld(f, *acc_slot(f, a, u, s));
                LLVMValueRef idx = i64c(f, pos);
                LLVMValueRef p =
                    LLVMBuildGEP2(g->b, g->t_f64, f->arg[A_RAW], &idx, 1, "");
                LLVMSetAlignment(LLVMBuildStore(g->b, v, p), 8);
                pos += ALC_VL;
            }
        }
    }
    LLVMBuildRetVoid(g->b);
}

static LLVMBasicBlockRef bb(struct pf *f, const char *name)
{
    return LLVMAppendBasicBlockInContext(f->g->ctx, f->fn, name);
}

static LLVMValueRef ldi(struct pf *f, LLVMValueRef var)
{
    return LLVMBuildLoad2(f->g->b, f->g->t_i64, var, "");
}

/*
 * The 16-bit weights of copies u and u + 1 of a main-loop step (offset
 * off of copy 0) from one 2 * VL load: the widening to float (zero-extend
 * and shift for BF16, vcvtph2ps for F16) runs once on the wide vector, and
 * each half is then extended to double -- the same values as two narrow
 * loads, one instruction fewer per vector. F32 gains nothing (its widening
 * reads memory directly), nor do passes that do not read weights.
 */
static LLVMValueRef splat_i32(struct pf *f, unsigned x)
{
    LLVMValueRef e[2 * ALC_VL];
    for (int i = 0; i < 2 * ALC_VL; i++) {
        e[i] = LLVMConstInt(f->g->t_i32, x, 0);
    }
    return LLVMConstVector(e, 2 * ALC_VL);
}

/* Half h of a <2 VL x float>, extended to <VL x double>. */
static LLVMValueRef wide_half(struct pf *f, LLVMValueRef v, int h)
{
    struct alc_cg *g = f->g;
    LLVMValueRef m[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        m[i] = LLVMConstInt(g->t_i32, (unsigned long long)(h * ALC_VL + i), 0);
    }
    LLVMValueRef half = LLVMBuildShuffleVector(
        g->b, v, LLVMGetPoison(LLVMTypeOf(v)), LLVMConstVector(m, ALC_VL), "");
    return LLVMBuildFPExt(g->b, half, g->v_f64, "");
}

static void wide_load_w(struct pf *f, LLVMValueRef off, int u)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    const unsigned need = (1u << ALC_IN_WANDA) | (1u << ALC_IN_WEIGHT);
    if (f->dt == ALC_DT_F32 || !(f->ps->inputs & need)) {
        return;
    }
    LLVMTypeRef w16 = LLVMVectorType(g->t_i16, 2 * ALC_VL);
    LLVMTypeRef w32 = LLVMVectorType(g->t_i32, 2 * ALC_VL);
    LLVMTypeRef wf = LLVMVectorType(g->t_f32, 2 * ALC_VL);
    LLVMValueRef idx = LLVMBuildAdd(b, off, i64c(f, u * ALC_VL), "");
    LLVMValueRef p = LLVMBuildGEP2(b, g->t_i16, f->arg[A_W], &idx, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(b, w16, p, "");
    LLVMSetAlignment(v, 2);
    LLVMValueRef va = NULL; /* |w|, when the pass reads wanda */
    if (f->dt == ALC_DT_BF16) {
        v = LLVMBuildZExt(b, v, w32, "");
        v = LLVMBuildShl(b, v, splat_i32(f, 16), "");
        va = LLVMBuildAnd(b, v, splat_i32(f, 0x7fffffff), "");
        v = LLVMBuildBitCast(b, v, wf, "");
        va = LLVMBuildBitCast(b, va, wf, "");
    } else {
        v = LLVMBuildBitCast(b, v, LLVMVectorType(g->t_f16, 2 * ALC_VL), "");
        v = LLVMBuildFPExt(b, v, wf, "");
        va = alc_cg_intrinsic(g, "llvm.fabs", &wf, 1, &v, 1);
    }
    int wanda = (f->ps->inputs & (1u << ALC_IN_WANDA)) != 0;
    for (int h = 0; h < 2; h++) {
        f->pre_w[u + h] = wide_half(f, v, h);
        f->pre_wabs[u + h] = wanda ? wide_half(f, va, h) : NULL;
    }
}

/*
 * while (c + VL * vectors <= cols) { vectors steps at c; c += VL * vectors }
 * then next; masked: while (c < cols) { masked step at c; c += VL }.
 */
static void emit_col_loop(struct pf *f, int vectors, int masked,
                          LLVMBasicBlockRef next, LLVMValueRef rowoff)
{
    struct alc_cg *g = f->g;
    LLVMBasicBlockRef head = bb(f, "col.head"), body = bb(f, "col.body");
    int64_t step = (int64_t)vectors * ALC_VL;
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, head);
    LLVMValueRef c = ldi(f, f->c_var);
    LLVMValueRef end = LLVMBuildAdd(g->b, c, i64c(f, step), "");
    LLVMValueRef go =
        masked ? LLVMBuildICmp(g->b, LLVMIntSLT, c, f->arg[A_COLS], "")
               : LLVMBuildICmp(g->b, LLVMIntSLE, end, f->arg[A_COLS], "");
    LLVMBuildCondBr(g->b, go, body, next);
    LLVMPositionBuilderAtEnd(g->b, body);
    memset(f->pre_w, 0, sizeof f->pre_w);
    memset(f->pre_wabs, 0, sizeof f->pre_wabs);
    for (int u = 0; !masked && u + 1 < vectors; u += 2) {
        wide_load_w(f, LLVMBuildAdd(g->b, rowoff, c, ""), u);
    }
    for (int u = 0; u < vectors; u++) {
        LLVMValueRef cu = LLVMBuildAdd(g->b, c, i64c(f, u * ALC_VL), "");
        emit_step(f, LLVMBuildAdd(g->b, rowoff, cu, ""), cu,
                  masked ? tail_mask(f, cu) : NULL, u);
    }
    memset(f->pre_w, 0, sizeof f->pre_w);
    memset(f->pre_wabs, 0, sizeof f->pre_wabs);
    LLVMBuildStore(g->b, end, f->c_var);
    LLVMBuildBr(g->b, head);
}

static void emit_loops(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMBasicBlockRef row_head = bb(f, "row.head"), row_body = bb(f, "row");
    LLVMBasicBlockRef tail = bb(f, "tail"), row_end = bb(f, "row.end");
    LLVMBasicBlockRef exit = bb(f, "exit");
    LLVMBuildStore(g->b, i64c(f, 0), f->r_var);
    LLVMBuildBr(g->b, row_head);

    LLVMPositionBuilderAtEnd(g->b, row_head);
    LLVMValueRef r = ldi(f, f->r_var);
    LLVMBuildCondBr(g->b,
                    LLVMBuildICmp(g->b, LLVMIntSLT, r, f->arg[A_NROWS], ""),
                    row_body, exit);

    LLVMPositionBuilderAtEnd(g->b, row_body);
    LLVMValueRef rowoff = LLVMBuildMul(g->b, r, f->arg[A_COLS], "");
    LLVMBuildStore(g->b, i64c(f, 0), f->c_var);
    emit_col_loop(f, f->U, 0, tail, rowoff);
    LLVMPositionBuilderAtEnd(g->b, tail);
    emit_col_loop(f, 1, 1, row_end, rowoff);

    LLVMPositionBuilderAtEnd(g->b, row_end);
    LLVMBuildStore(g->b, LLVMBuildAdd(g->b, r, i64c(f, 1), ""), f->r_var);
    LLVMBuildBr(g->b, row_head);

    LLVMPositionBuilderAtEnd(g->b, exit);
    emit_exit(f);
}

static LLVMValueRef declare_pass_fn(struct alc_cg *g, const char *name)
{
    LLVMTypeRef params[A_N] = {
        [A_W] = g->t_ptr,    [A_ACT] = g->t_ptr,     [A_NROWS] = g->t_i64,
        [A_COLS] = g->t_i64, [A_MATROWS] = g->t_i64, [A_ENV] = g->t_ptr,
        [A_RAW] = g->t_ptr,  [A_STORE] = g->t_ptr,
    };
    LLVMTypeRef fty = LLVMFunctionType(g->t_void, params, A_N, 0);
    LLVMValueRef fn = LLVMAddFunction(g->mod, name, fty);
    alc_llvm_set_host_attrs(g->ctx, fn);
    add_fn_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
    static const int ptr_args[] = {A_W, A_ACT, A_ENV, A_RAW, A_STORE};
    for (size_t i = 0; i < sizeof ptr_args / sizeof ptr_args[0]; i++) {
        add_fn_attr(g, fn, (unsigned)ptr_args[i] + 1, "noalias");
    }
    return fn;
}

static int emit_pass_fn(struct alc_cg *g, const struct alc_ir *ir,
                        const struct alc_plan_pass *ps, enum alc_dtype dt,
                        const char *name)
{
    struct pf f = {.g = g, .ir = ir, .ps = ps, .dt = dt};
    size_t nn = (size_t)ir->n_nodes + 1, na = (size_t)ps->n_accs + 1;
    int rc = -1;
    f.U = g->opts->unroll;
    f.use = calloc(nn, sizeof *f.use);
    f.val = calloc(nn, sizeof *f.val);
    f.truth = calloc(nn, sizeof *f.truth);
    f.acc = calloc(na * (size_t)f.U * 4, sizeof *f.acc);
    f.K = calloc(na, sizeof *f.K);
    f.sptr = calloc(na, sizeof *f.sptr);
    if (!f.use || !f.val || !f.truth || !f.acc || !f.K || !f.sptr) {
        goto done;
    }
    f.fn = declare_pass_fn(g, name);
    for (int i = 0; i < A_N; i++) {
        f.arg[i] = LLVMGetParam(f.fn, (unsigned)i);
    }
    LLVMPositionBuilderAtEnd(g->b, bb(&f, "entry"));
    LLVMValueRef lanes[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        lanes[i] = i64c(&f, i);
    }
    f.lanes = LLVMConstVector(lanes, ALC_VL);
    f.r_var = LLVMBuildAlloca(g->b, g->t_i64, "r");
    f.c_var = LLVMBuildAlloca(g->b, g->t_i64, "c");
    alc_cg_scratch(g);
    emit_entry(&f);
    emit_loops(&f);
    rc = 0;
done:
    free(f.use);
    free(f.val);
    free(f.truth);
    free(f.acc);
    free(f.K);
    free(f.sptr);
    return rc;
}

int alc_cg_plan(struct alc_cg *g, const struct alc_ir *ir,
                const struct alc_plan *plan, const char *prefix,
                struct alc_diag *d)
{
    char name[128];
    for (int k = 0; k < plan->n_passes; k++) {
        for (int dt = 0; dt < ALC_DT_COUNT; dt++) {
            if (!(g->opts->dtypes & (1u << dt))) {
                continue;
            }
            snprintf(name, sizeof name, "%sp%d_%s", prefix, k + 1,
                     alc_cg_dtype_suffix[dt]);
            if (emit_pass_fn(g, ir, &plan->passes[k], (enum alc_dtype)dt,
                             name) != 0) {
                alc_diag_errorf(d, "out of memory generating code");
                return -1;
            }
        }
    }
    return 0;
}

/* ---- Vector math wrappers (tests) ---- */

static void emit_vmath_fn(struct alc_cg *g, enum alc_jit_vfn which,
                          const char *name)
{
    LLVMTypeRef params[3] = {g->t_ptr, g->t_ptr, g->t_i64};
    LLVMValueRef fn = LLVMAddFunction(
        g->mod, name, LLVMFunctionType(g->t_void, params, 3, 0));
    alc_llvm_set_host_attrs(g->ctx, fn);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(g->ctx, fn, "");
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->ctx, fn, "");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, fn, "");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(g->ctx, fn, "");
    LLVMPositionBuilderAtEnd(g->b, entry);
    LLVMValueRef iv = LLVMBuildAlloca(g->b, g->t_i64, "i");
    alc_cg_scratch(g);
    LLVMBuildStore(g->b, LLVMConstInt(g->t_i64, 0, 0), iv);
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, head);
    LLVMValueRef i = LLVMBuildLoad2(g->b, g->t_i64, iv, "");
    LLVMBuildCondBr(g->b,
                    LLVMBuildICmp(g->b, LLVMIntSLT, i, LLVMGetParam(fn, 2), ""),
                    body, exit);
    LLVMPositionBuilderAtEnd(g->b, body);
    LLVMValueRef px =
        LLVMBuildGEP2(g->b, g->t_f64, LLVMGetParam(fn, 0), &i, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(g->b, g->v_f64, px, "");
    LLVMSetAlignment(x, 8);
    LLVMValueRef y = which == ALC_VFN_LOG   ? alc_vm_log(g, x)
                     : which == ALC_VFN_EXP ? alc_vm_exp(g, x)
                                            : alc_vm_log1p(g, x);
    LLVMValueRef py =
        LLVMBuildGEP2(g->b, g->t_f64, LLVMGetParam(fn, 1), &i, 1, "");
    LLVMSetAlignment(LLVMBuildStore(g->b, y, py), 8);
    LLVMBuildStore(
        g->b, LLVMBuildAdd(g->b, i, LLVMConstInt(g->t_i64, ALC_VL, 0), ""), iv);
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, exit);
    LLVMBuildRetVoid(g->b);
}

int alc_cg_vmath_module(struct alc_cg *g, const char *prefix,
                        struct alc_diag *d)
{
    char name[128];
    for (int i = 0; i < ALC_VFN_COUNT; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, alc_cg_vfn_name[i]);
        emit_vmath_fn(g, (enum alc_jit_vfn)i, name);
    }
    (void)d;
    return 0;
}
