/*
 * jit_codegen.c: LLVM IR for the passes of a plan (plan.h), one function
 * per pass and weight dtype, through the LLVM C API (Core.h only; the
 * version-sensitive calls are in llvm_compat.c). Called by jit_llvm.c.
 *
 * Shape of a pass function (signature in jit.h), VL = 8 lanes, U = unroll:
 *
 *   entry:    broadcast the layer/model values the elements read (env[]);
 *             var shifts K = the chunk's first vector of values
 *   [BF16, a pass of var/std of log|wanda| only, the matrix allows it:
 *    the chunk's blocks of 64 in float by <name>_fm, the blocks it leaves
 *    by the block loop's steps; K = the host's (section "Moments in
 *    float"); rows then start past their blocks]
 *   for r < nrows:                       (rows of the chunk)
 *     [BF16 with logs by table, AVX-512 VBMI host:
 *      for c + 64 <= cols: a block of 64 / (VL U) steps, log|w| of its 64
 *                           weights read in registers (emit_block_loop)]
 *     for c + VL*U <= cols: U vectors at c, c+VL, ... into U accumulator
 *                            copies (independent dependency chains)
 *     for c < cols:         one masked vector into copy 0 (masked loads;
 *                           masked-off lanes leave accumulators unchanged)
 *   exit:     store every accumulator lane to raw[] (var counts: plus the
 *             unmasked steps, nrows (cols / (VL U)) per lane)
 *
 * Element semantics are the op table's map functions (ops.c) in IEEE
 * double, operation for operation: comparisons give 1.0/0.0, NaN rules as
 * written there, no reassociation, no contraction. Element-wise ops other
 * than the log/exp family call ops.c's map functions through alc_jit_vmap
 * (identical to the interpreter by construction). Logs of the Wanda
 * metric, of 16-bit weights and of act go through tables instead of the
 * vector log (section "Logs by table"; jit_logw.c): a rewrite made here,
 * per pass function, because it depends on the weight dtype, while the
 * plan is one for every dtype (and for the CUDA backend); the host learns
 * which per-column logs to compute from alc_cg_reads_lact.
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

LLVMValueRef alc_cg_splat_n(struct alc_cg *g, LLVMValueRef s, unsigned n)
{
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(s), n);
    LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetPoison(vt), s,
                                            LLVMConstInt(g->t_i32, 0, 0), "");
    return LLVMBuildShuffleVector(g->b, v, LLVMGetPoison(vt),
                                  LLVMConstNull(LLVMVectorType(g->t_i32, n)),
                                  "");
}

LLVMValueRef alc_cg_splat(struct alc_cg *g, LLVMValueRef s)
{
    return alc_cg_splat_n(g, s, ALC_VL);
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

enum {
    A_W,
    A_ACT,
    A_NROWS,
    A_COLS,
    A_MATROWS,
    A_ENV,
    A_RAW,
    A_STORE,
    A_LOGW,
    A_LACT,
    A_N
};

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
    LLVMValueRef p_wanda;     /* the wanda product at the position, or NULL */
    /* logs by table (section "Logs by table") */
    int lf_on;                  /* the rewrite is enabled for this function */
    int tab;                    /* the dtype has a table of log|w| (16-bit) */
    int planes;                 /* BF16 blocks of 64 read T in registers */
    int avx512;                 /* the host has AVX-512F */
    LLVMValueRef *lfk;          /* (2 n_nodes) log (2 i) and log|.| (2 i + 1) of
                                   per-unit values used by the forms, or NULL */
    LLVMValueRef p_bits;        /* <VL x i16> weight bits at the position */
    LLVMValueRef p_t;           /* log|w| at the position, or NULL */
    LLVMValueRef in_bits, in_t; /* given to the next position (blocks) */
    /* moments in float (section "Moments in float") */
    int fm;                 /* the function has the float path */
    LLVMValueRef fm_fn;     /* its row function */
    LLVMValueRef fm_on;     /* i1: the matrix allows it (lact's flag) */
    LLVMValueRef fm_c;      /* float column terms (lact + 2 cols + hdr) */
    LLVMValueRef fm_bias;   /* i32 B = 128 (127 + e0) (row function: <16 x
                               i32> J's bias 32768 - 4096 B) */
    LLVMValueRef fm_k;      /* double: the shift K */
    LLVMValueRef fm_s[4];   /* row function: allocas of the float sums */
    LLVMValueRef fm_st;     /* alloca: the row function's state */
    LLVMValueRef fm_slow;   /* alloca i64[cols / 64 + 1]: a row's blocks
                               left to the double path */
    LLVMValueRef fm_k_redo; /* alloca i64: the redo loop's index */
    LLVMValueRef fm_cstart; /* i64: where rows start after the float path */
    double fm_z0;           /* log form's value on zero weights, or NaN */
    LLVMValueRef fm_dz;     /* float z0 - K */
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
        f->p_wanda = LLVMBuildFMul(g->b, f->p_wabs, load_act(f), "");
        return f->p_wanda;
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

/* ---- Logs by table (16-bit weights; jit_logw.c) ---- */

/*
 * A "log form" computes log(x) -- or log|x| -- without a vector log, from
 *   T = log|w| (the dtype's table; 16-bit weights only),
 *   La = log|act_j|, Ls = log(act_j) (per column, computed by jit_llvm.c
 *        with ops.c's log, the interpreter's function), and
 *   logs of per-unit values (constants: ops.c's log at compile time;
 *        params and layer values: the vector log, once per call),
 * by these rules (x element-level; | | marks the log|x| variant):
 *   log|wanda| = T + La          log(wanda) = T + Ls, except -inf where
 *                                w = +-0 and act in (-inf, 0)
 *   log|w|     = T               log(w)     = T, except NaN where the
 *                                sign bit is set and w != -0
 *   log|act|   = La              log(act)   = Ls
 *   log(abs(y)) = log|y|, log|abs(y)| = log|-y| = log|y|
 *   log(where(c, p, q)) = where(c, log p, log q), each branch a form or a
 *                        per-unit value; likewise for log|where|
 * and where(c, ...) with c = (z == 0) or (z != 0), z a branch up to
 * abs/neg, tests the branch's log for -inf instead of evaluating z
 * (log y = -inf exactly when y = +-0, so the results are equal).
 *
 * Why these are log(x): wanda = |w| act is exact in double for 16-bit w,
 * so log|w act| = log|w| + log|act| exactly before rounding, and the IEEE
 * cases agree: w = 0 gives -inf + (-inf or finite) = -inf, and 0 * inf =
 * NaN = -inf + inf; act = 0 likewise with w finite, and inf * 0 = NaN =
 * inf + (-inf); NaN propagates; log(w act) with act < 0 is NaN (w != 0,
 * Ls = NaN) or log(-0) = -inf (w = 0: patched), act = -inf gives NaN both
 * ways. log(where(c, p, q)) = where(c, log p, log q) holds for every c
 * (NaN c gives NaN on both sides).
 *
 * Accuracy: T and La/Ls are each within 1 ulp of the exact log (T of F16
 * and the act logs are libm's, T of BF16 within 0.9 ulp; the matrices of
 * the float moments take La from the JIT's vector log, within ~1 ulp,
 * jit_llvm.c's act_log), and the sum rounds once, so the error is below 1
 * ulp of |log|w|| + 1/2 ulp of |log act| (1 ulp with the vector log) + 1/2
 * ulp of the result (tests/test_jit.c checks this bound on every special
 * value). Relative to the result that is about 2 ulps
 * when the two logs have the same sign or one dominates; when they nearly
 * cancel (|w| act close to 1) the relative error grows like
 * max(|log|w||, |log act|) / |result|, the absolute error staying below
 * ~2^-52 max(...) (2e-15 for logs below 10) -- the interpreter takes the
 * log of the exact product and has no such cancellation. The rewrite
 * applies in vector mode only (libm mode keeps the interpreter's log on
 * every element) and not at all with ALC_JIT_LOGW_OFF.
 */

#define LF_T 4 /* the form reads T; ALC_CG_LACT_ABS: La, _SIGNED: Ls */
#define LF_DEPTH 16

/* What the form of log(x) (absf: log|x|) reads, or -1 when x has none;
 * tab: the dtype has a table. Per-unit x (only below a where) read
 * nothing here. */
static int lf_scan(const struct alc_ir *ir, int tab, int x, int absf, int depth)
{
    const struct alc_ir_node *n = &ir->nodes[x];
    if (n->level != ALC_LV_ELEM) {
        return 0;
    }
    if (depth > LF_DEPTH) {
        return -1;
    }
    switch (n->op) {
    case ALC_OP_INPUT:
        if (n->u.input == ALC_IN_ACT) {
            return absf ? ALC_CG_LACT_ABS : ALC_CG_LACT_SIGNED;
        }
        if (n->u.input == ALC_IN_WANDA && tab) {
            return LF_T | (absf ? ALC_CG_LACT_ABS : ALC_CG_LACT_SIGNED);
        }
        return tab && n->u.input == ALC_IN_WEIGHT ? LF_T : -1;
    case ALC_OP_ABS:
        return lf_scan(ir, tab, n->arg[0], 1, depth + 1);
    case ALC_OP_NEG:
        return absf ? lf_scan(ir, tab, n->arg[0], 1, depth + 1) : -1;
    case ALC_OP_WHERE: {
        int a = lf_scan(ir, tab, n->arg[1], absf, depth + 1);
        int b = lf_scan(ir, tab, n->arg[2], absf, depth + 1);
        return a < 0 || b < 0 ? -1 : a | b;
    }
    default:
        return -1;
    }
}

/* The node whose log the plan's node i needs (LOG: its operand; an
 * accumulator applying log: its node), or -1. */
static int lf_root_of_node(const struct alc_ir *ir, int i)
{
    return ir->nodes[i].op == ALC_OP_LOG ? ir->nodes[i].arg[0] : -1;
}

static int lf_root_of_acc(const struct alc_plan_acc *a)
{
    return a->fn == ALC_AF_LOG || a->fn == ALC_AF_XLOGX ? a->node : -1;
}

static int lf_enabled(const struct alc_jit_opts *o)
{
    return !o->libm && o->logw != ALC_JIT_LOGW_OFF;
}

/* OR of what every form of pass ps reads (0 when it has none). */
static int lf_pass_reads(const struct alc_ir *ir, int tab,
                         const struct alc_plan_pass *ps)
{
    int r = 0;
    for (int i = 0; i < ps->n_elems; i++) {
        int x = lf_root_of_node(ir, ps->elems[i]);
        int k = x >= 0 ? lf_scan(ir, tab, x, 0, 0) : -1;
        r |= k > 0 ? k : 0;
    }
    for (int a = 0; a < ps->n_accs; a++) {
        int x = lf_root_of_acc(&ps->accs[a]);
        int k = x >= 0 ? lf_scan(ir, tab, x, 0, 0) : -1;
        r |= k > 0 ? k : 0;
    }
    return r;
}

/* ---- Moments in float: eligibility ---- */

/*
 * DSA's functions reduce log|wanda| (through where(wanda == 0, 1, wanda),
 * abs, ...) by var or std: one pass whose every accumulator is VAR of
 * that log. In blocks of 64 BF16 weights that are all normal, of a
 * matrix whose act is nonzero and finite (> 0 for log(wanda)), that value
 * is x = T + La: no zero test fires, no NaN or inf occurs. For those the
 * pass function computes d = x - K in float, 16 lanes at a time, from the
 * weight's bits and a 128-entry table (jit_logw.c), summing d and d^2 per lane
 * in float for FM_FLUSH blocks, those partials in float for FM_FLUSH2
 * flushes, before adding the sums to the double accumulators -- about half the
 * instructions of the double path, which made DSA's pass compute-bound at 30 %
 * of the memory bandwidth. Zero weights stay on the float path when the form
 * gives them a constant (where(wanda == 0, k, .): d = log|k| - K). Every other
 * block (a weight outside the window below, i.e. also a subnormal, inf or NaN;
 * a zero without such a where) and every other matrix takes the double path,
 * into the same accumulators.
 *
 * Centering keeps the float error relative to the variance: the host
 * (alc_jit_fm_prepare) picks K ~ the mean of x (from a sample of the
 * weights and the mean of La), splits it as e0 ln2f + Kc + delta and
 * hands over the column terms c_j = fl32(La_j - Kc - delta), so that
 *   d = fma(J, q, c_j),  J = 4096 I + TQ[m],  I = |w| - 128 (127 + e0),
 *   q = ln2f / 2^19,  TQ[m] = round((log(1 + m/128) - m ln2f/128) / q)
 * (|w| the 15 magnitude bits, 128 e + m) has only terms of the spread's
 * size: J is an exact integer (and float: the block must lie in the window
 * |I| < 4064, weights within 2^31 of 2^e0) and its product exact in the
 * fma, ln2f = fl32(ln 2) (a relative 2.7e-9 change of the exponent term,
 * i.e. of var by at most ~5e-9), the fma rounds once, to half an ulp of a
 * centred quantity, and c_j's rounding too. TQ's rounding, at most q / 2 =
 * 6.6e-7, is the same for every weight of a mantissa m: it shifts the mean
 * by at most that, and var by 2 cov(x, err(m)) <= 2 sd(E[x | m]) 6.6e-7 <=
 * 4.6e-7 absolute (E[x | m] spans at most log 2 when the exponent and La
 * do not depend on m) in the worst case; the 128 errors are uncorrelated
 * with log(1 + m/128) (-0.02), so on weights with every mantissa alike it
 * is ~3e-9 / var. A first float
 * partial holds at most 2 FM_FLUSH terms per lane (two vectors of a block
 * per pair), so its rounding is below (2 FM_FLUSH - 1) u = 7 u of the sum
 * of squares (u = 2^-24 = 6e-8); the second sums FM_FLUSH2 of those,
 * adding (FM_FLUSH2 - 1) u = 3 u: 10 u in all (one level of 16 blocks
 * would be 31 u; flushing to double every 4 blocks, the earlier code,
 * cost ~4 % more time; measured). Per element the other roundings are below
 * ~u (|d| + |c_j|), which moves the variance by at most ~2 u (1 +
 * E|d| |c_j| / var) relative. The result: var within ~1e-6
 * relative for spreads like real models' (log|wanda| has sd ~1); measured
 * 6.9e-9 (tests/test_jit.c, test_jit_fm_moments; 8e-9 with TL looked up as
 * a float, the earlier code). ALC_JIT_LOGW_EXACT turns
 * the path off and keeps every log at the double table's bits.
 *
 * All of this assumes K near the mean: the bounds of the sums grow with
 * (mean - K)^2 / var, and K comes from the first ALC_FM_SAMPLE weights. A
 * matrix whose first weights are unlike the rest weakens it: with the first
 * 512 weights of every matrix of bench_alloc's data set to 2^-30 (K ~16
 * from the mean, sd ~0.9) the variances moved 1.2e-7 relative from
 * EXACT's (measured; 5.6e-9 on the data as is), still inside 1e-6 though
 * the worst-case bound there (~300 x 10 u) is not. tests/test_jit.c
 * (test_jit_fm_far_k) keeps such a matrix within 1e-6 of the interpreter
 * (9.8e-8 with 256K-element chunks, 8.3e-8 with 64K; flushing to double every
 * 1024 blocks instead gives 9.5e-6 there and fails, while test_jit_fm_moments
 * would still pass). Not guarded: a robust K would take a spread sample (which
 * cost page walks when tried) or check each chunk's offset s1 / n against its
 * spread and redo it in double.
 */
#define FM_FLUSH 4 /* a power of 2 */
#define FM_FLUSH2 4

#define FM_ABS 1 /* T + log|act| */
#define FM_POS 2 /* T + log act: needs act > 0 */

/* FM_ABS or FM_POS when log(x) (absf: log|x|) is T + La on the float
 * path's elements (wanda nonzero and finite), else -1. */
static int fm_plain(const struct alc_ir *ir, int x, int absf, int depth)
{
    const struct alc_ir_node *n = &ir->nodes[x];
    if (n->level != ALC_LV_ELEM || depth > LF_DEPTH) {
        return -1;
    }
    switch (n->op) {
    case ALC_OP_INPUT:
        return n->u.input != ALC_IN_WANDA ? -1 : absf ? FM_ABS : FM_POS;
    case ALC_OP_ABS:
        return fm_plain(ir, n->arg[0], 1, depth + 1);
    case ALC_OP_NEG:
        return absf ? fm_plain(ir, n->arg[0], 1, depth + 1) : -1;
    case ALC_OP_WHERE: {
        int z = alc_ir_wanda_zero_test(ir, n->arg[0]);
        return z < 0 ? -1 : fm_plain(ir, n->arg[z ? 2 : 1], absf, depth + 1);
    }
    default:
        return -1;
    }
}

static int fm_enabled(const struct alc_jit_opts *o)
{
    return lf_enabled(o) && o->logw == ALC_JIT_LOGW_AUTO && o->perturb == 0.0 &&
           8 % o->unroll == 0 && alc_jit_logw_in_registers() &&
           alc_llvm_host_has("avx512vnni");
}

/* FM_* bits of pass ps when it qualifies (every accumulator a VAR of a
 * plain log), else 0. */
static int fm_pass_kinds(const struct alc_ir *ir,
                         const struct alc_plan_pass *ps)
{
    int kinds = 0;
    for (int a = 0; a < ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &ps->accs[a];
        const struct alc_ir_node *n = &ir->nodes[acc->node];
        int x = acc->fn == ALC_AF_LOG                         ? acc->node
                : acc->fn == ALC_AF_ID && n->op == ALC_OP_LOG ? n->arg[0]
                                                              : -1;
        int k = x >= 0 && acc->kind == ALC_ACC_VAR ? fm_plain(ir, x, 0, 0) : -1;
        if (k < 0) {
            return 0;
        }
        kinds |= k;
    }
    return kinds;
}

/* The value of log(x) (absf: log|x|) on an element whose weight is +-0,
 * when it is the log of a constant (where(wanda == 0, k, ...)): 1 and *z;
 * else 0 (no where: -inf, and the var is NaN anyway). */
static int fm_zero_value(const struct alc_ir *ir, int x, int absf, int depth,
                         double *z)
{
    const struct alc_ir_node *n = &ir->nodes[x];
    double (*lg)(double) = alc_op_table[ALC_OP_LOG].map1;
    if (depth > LF_DEPTH) {
        return 0;
    }
    if (n->op == ALC_OP_CONST) {
        *z = lg(absf ? fabs(n->u.k) : n->u.k);
        return isfinite(*z);
    }
    if (n->level != ALC_LV_ELEM) {
        return 0;
    }
    switch (n->op) {
    case ALC_OP_ABS:
        return fm_zero_value(ir, n->arg[0], 1, depth + 1, z);
    case ALC_OP_NEG:
        return absf && fm_zero_value(ir, n->arg[0], 1, depth + 1, z);
    case ALC_OP_WHERE: {
        int t = alc_ir_wanda_zero_test(ir, n->arg[0]);
        return t >= 0 &&
               fm_zero_value(ir, n->arg[t ? 1 : 2], absf, depth + 1, z);
    }
    default:
        return 0;
    }
}

/* The value every accumulator of pass ps reads on zero weights (see
 * fm_zero_value), or NaN when they have none in common. */
static double fm_pass_zero(const struct alc_ir *ir,
                           const struct alc_plan_pass *ps)
{
    double z0 = NAN;
    for (int a = 0; a < ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &ps->accs[a];
        const struct alc_ir_node *n = &ir->nodes[acc->node];
        int x = acc->fn == ALC_AF_LOG ? acc->node : n->arg[0];
        double z;
        if (!fm_zero_value(ir, x, 0, 0, &z) || (a > 0 && z != z0)) {
            return NAN;
        }
        z0 = z;
    }
    return z0;
}

double alc_cg_fm_zero(const struct alc_ir *ir, const struct alc_plan *plan,
                      const struct alc_jit_opts *opts)
{
    for (int k = 0; k < plan->n_passes && fm_enabled(opts); k++) {
        if (fm_pass_kinds(ir, &plan->passes[k])) {
            return fm_pass_zero(ir, &plan->passes[k]);
        }
    }
    return NAN;
}

int alc_cg_reads_lact(const struct alc_ir *ir, const struct alc_plan *plan,
                      const struct alc_jit_opts *opts)
{
    int r = 0;
    for (int k = 0; k < plan->n_passes && lf_enabled(opts); k++) {
        r |= lf_pass_reads(ir, 1, &plan->passes[k]);
        int fk = fm_enabled(opts) ? fm_pass_kinds(ir, &plan->passes[k]) : 0;
        r |= fk ? ALC_CG_LACT_FM : 0;
        r |= fk & FM_POS ? ALC_CG_LACT_FM_POS : 0;
    }
    return r & (ALC_CG_LACT_ABS | ALC_CG_LACT_SIGNED | ALC_CG_LACT_FM |
                ALC_CG_LACT_FM_POS);
}

static LLVMValueRef load_bits(struct pf *f)
{
    struct alc_cg *g = f->g;
    if (f->p_bits == NULL) {
        f->p_bits = vload(f, g->t_i16, g->v_i16, f->arg[A_W], f->p_off, 2);
    }
    return f->p_bits;
}

/* T = log|w| at the position (a gather unless a block gave it). */
static LLVMValueRef lf_t(struct pf *f)
{
    if (f->p_t == NULL) {
        f->p_t = alc_cg_logw_gather(f->g, f->arg[A_LOGW], load_bits(f));
    }
    return f->p_t;
}

/* La (absf) or Ls at the position's columns. */
static LLVMValueRef lf_act(struct pf *f, int absf)
{
    struct alc_cg *g = f->g;
    LLVMValueRef idx =
        absf ? f->p_c : LLVMBuildAdd(g->b, f->p_c, f->arg[A_COLS], "");
    return vload(f, g->t_f64, g->v_f64, f->arg[A_LACT], idx, 8);
}

static LLVMValueRef lf_input(struct pf *f, int in, int absf)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef t = NULL, s = NULL, c = NULL, a = NULL;
    switch (in) {
    case ALC_IN_ACT:
        return lf_act(f, absf);
    case ALC_IN_WEIGHT: /* sign bit set and not -0: NaN */
        t = lf_t(f);
        if (absf) {
            return t;
        }
        c = LLVMBuildICmp(b, LLVMIntUGT, load_bits(f),
                          alc_cg_splat(g, LLVMConstInt(g->t_i16, 0x8000, 0)),
                          "");
        return alc_cg_select(g, c, alc_cg_vf(g, NAN), t);
    default: /* wanda */
        t = lf_t(f);
        s = LLVMBuildFAdd(b, t, lf_act(f, absf), "");
        if (absf) {
            return s;
        }
        a = load_act(f);
        c = LLVMBuildAnd(
            b, alc_cg_fcmp(g, LLVMRealOEQ, t, alc_cg_vf(g, -INFINITY)),
            LLVMBuildAnd(
                b, alc_cg_fcmp(g, LLVMRealOLT, a, alc_cg_vf(g, 0.0)),
                alc_cg_fcmp(g, LLVMRealOGT, a, alc_cg_vf(g, -INFINITY)), ""),
            "");
        return alc_cg_select(g, c, alc_cg_vf(g, -INFINITY), s);
    }
}

/* x without abs/neg around it. */
/* c is z == 0 or z != 0 (either order, 0 or -0) with z the branch br up
 * to abs/neg: the truth of c from the branch's log lv; else NULL. */
static LLVMValueRef lf_zero_test(struct pf *f, int c, int br, LLVMValueRef lv)
{
    const struct alc_ir *ir = f->ir;
    const struct alc_ir_node *n = &ir->nodes[c];
    if (n->level != ALC_LV_ELEM || ir->nodes[br].level != ALC_LV_ELEM ||
        (n->op != ALC_OP_EQ && n->op != ALC_OP_NE)) {
        return NULL;
    }
    for (int k = 0; k < 2; k++) {
        const struct alc_ir_node *z = &ir->nodes[n->arg[1 - k]];
        if (z->op != ALC_OP_CONST || z->u.k != 0.0 ||
            alc_ir_strip_sign(ir, n->arg[k]) != alc_ir_strip_sign(ir, br)) {
            continue;
        }
        LLVMValueRef t =
            alc_cg_fcmp(f->g, LLVMRealOEQ, lv, alc_cg_vf(f->g, -INFINITY));
        return n->op == ALC_OP_EQ ? t : LLVMBuildNot(f->g->b, t, "");
    }
    return NULL;
}

static LLVMValueRef lf_emit(struct pf *f, int x, int absf);

/* Is node k a constant whose log (absf: log|.|) is +0 (k = 1, or +-1)? */
static int log_is_pos_zero(const struct alc_ir *ir, int k, int absf)
{
    const struct alc_ir_node *n = &ir->nodes[k];
    double v = absf ? fabs(n->u.k) : n->u.k;
    return n->op == ALC_OP_CONST && v == 1.0;
}

/*
 * x with -inf replaced by +0 and every other value kept: DSA's ABSLOG,
 * log|where(y == 0, 1, y)|, is this of log|y|. On AVX-512 one
 * vfixupimmpd (classes of x: -inf -> token 8, +0; all others -> token 0,
 * x itself) instead of a compare into a mask and a masked move -- same
 * bits, ~20% of the DSA kernel's time (measured).
 */
static LLVMValueRef minf_to_zero(struct pf *f, LLVMValueRef x)
{
    struct alc_cg *g = f->g;
    if (!f->avx512) {
        LLVMValueRef t =
            alc_cg_fcmp(g, LLVMRealOEQ, x, alc_cg_vf(g, -INFINITY));
        return alc_cg_select(g, t, alc_cg_vf(g, 0.0), x);
    }
    LLVMValueRef args[6] = {
        x,
        x,
        alc_cg_vi(g, 0x8ull << (4 * 4)), /* class 4 = -inf */
        LLVMConstInt(g->t_i32, 0, 0),
        LLVMConstInt(LLVMInt8TypeInContext(g->ctx), 0xff, 0),
        LLVMConstInt(g->t_i32, 4, 0), /* current rounding */
    };
    return alc_cg_intrinsic(g, "llvm.x86.avx512.mask.fixupimm.pd.512", NULL, 0,
                            args, 6);
}

static LLVMValueRef lf_where(struct pf *f, const struct alc_ir_node *n,
                             int absf)
{
    LLVMValueRef a = lf_emit(f, n->arg[1], absf);
    LLVMValueRef b = lf_emit(f, n->arg[2], absf);
    LLVMValueRef t = lf_zero_test(f, n->arg[0], n->arg[1], a);
    if (t == NULL) {
        t = lf_zero_test(f, n->arg[0], n->arg[2], b);
        if (t != NULL && f->ir->nodes[n->arg[0]].op == ALC_OP_EQ &&
            log_is_pos_zero(f->ir, n->arg[1], absf)) {
            return minf_to_zero(f, b); /* where(y == 0, 1, y) */
        }
    }
    if (t == NULL) {
        t = truth_of(f, n->arg[0]);
    }
    if (t != NULL) {
        return alc_cg_select(f->g, t, a, b);
    }
    return emit_ternary(f, ALC_OP_WHERE, operand(f, n->arg[0]), a, b);
}

/* The form of log(x) (absf: log|x|) at the position; lf_scan(x) >= 0. */
static LLVMValueRef lf_emit(struct pf *f, int x, int absf)
{
    const struct alc_ir_node *n = &f->ir->nodes[x];
    if (n->level != ALC_LV_ELEM) {
        return f->lfk[2 * (size_t)x + (size_t)absf];
    }
    switch (n->op) {
    case ALC_OP_INPUT:
        return lf_input(f, n->u.input, absf);
    case ALC_OP_ABS:
    case ALC_OP_NEG:
        return lf_emit(f, n->arg[0], 1);
    default:
        return lf_where(f, n, absf);
    }
}

/* log(x) by its form, or NULL when x has none; the test perturbation as
 * transc applies it. */
static LLVMValueRef lf_log(struct pf *f, int x)
{
    if (!f->lf_on || lf_scan(f->ir, f->tab, x, 0, 0) < 0) {
        return NULL;
    }
    LLVMValueRef r = lf_emit(f, x, 0);
    if (f->g->opts->perturb != 0.0) {
        r = LLVMBuildFMul(f->g->b, r,
                          alc_cg_vf(f->g, 1.0 + f->g->opts->perturb), "");
    }
    return r;
}

/* Entry block: the logs of the per-unit values the forms below x use. */
static void lf_prepare(struct pf *f, int x, int absf, int depth)
{
    struct alc_cg *g = f->g;
    const struct alc_ir_node *n = &f->ir->nodes[x];
    LLVMValueRef *slot = &f->lfk[2 * (size_t)x + (size_t)absf];
    if (n->level == ALC_LV_ELEM) {
        for (int a = n->op == ALC_OP_WHERE; a < n->nargs && depth < LF_DEPTH;
             a++) {
            lf_prepare(f, n->arg[a], absf || n->op != ALC_OP_WHERE, depth + 1);
        }
        return;
    }
    if (*slot != NULL) {
        return;
    }
    if (n->op == ALC_OP_CONST) {
        double k = absf ? fabs(n->u.k) : n->u.k;
        *slot = alc_cg_vf(g, alc_op_table[ALC_OP_LOG].map1(k));
        return;
    }
    LLVMValueRef v = f->use[x];
    if (absf) {
        v = alc_cg_intrinsic(g, "llvm.fabs", &g->v_f64, 1, &v, 1);
    }
    *slot = alc_vm_log(g, v);
}

/* Sets f->lf_on, tab, planes and the per-unit logs; in the entry block,
 * after the uses are broadcast. */
static void lf_setup(struct pf *f)
{
    const struct alc_jit_opts *o = f->g->opts;
    f->lf_on = lf_enabled(o);
    f->tab = f->dt != ALC_DT_F32;
    f->avx512 = alc_llvm_host_has("avx512f");
    int reads = f->lf_on ? lf_pass_reads(f->ir, f->tab, f->ps) : 0;
    f->planes =
        (reads & LF_T) && f->dt == ALC_DT_BF16 &&
        (o->logw == ALC_JIT_LOGW_AUTO || o->logw == ALC_JIT_LOGW_EXACT) &&
        alc_jit_logw_in_registers() &&
        8 % f->U == 0; /* a block: 8 / U steps per copy */
    f->fm = f->planes && f->fm_fn != NULL;
    for (int i = 0; i < f->ps->n_elems && f->lf_on; i++) {
        int x = lf_root_of_node(f->ir, f->ps->elems[i]);
        if (x >= 0 && lf_scan(f->ir, f->tab, x, 0, 0) >= 0) {
            lf_prepare(f, x, 0, 0);
        }
    }
    for (int a = 0; a < f->ps->n_accs && f->lf_on; a++) {
        int x = lf_root_of_acc(&f->ps->accs[a]);
        if (x >= 0 && lf_scan(f->ir, f->tab, x, 0, 0) >= 0) {
            lf_prepare(f, x, 0, 0);
        }
    }
}

/* ---- Nodes ---- */

static LLVMValueRef emit_node(struct pf *f, int i)
{
    const struct alc_ir_node *n = &f->ir->nodes[i];
    LLVMValueRef a[3] = {NULL, NULL, NULL};
    if (n->op == ALC_OP_INPUT) {
        return emit_input(f, n->u.input);
    }
    if (n->op == ALC_OP_LOG) {
        LLVMValueRef r = lf_log(f, n->arg[0]);
        if (r != NULL) {
            return r;
        }
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

/* log of node's value: by its form (logs by table) or the vector log. */
static LLVMValueRef acc_log(struct pf *f, int node)
{
    LLVMValueRef r = lf_log(f, node);
    return r != NULL ? r : transc(f, ALC_OP_LOG, f->val[node]);
}

/* fn's function of the value x of node (t: its truth mask or NULL). */
static LLVMValueRef acc_fn(struct pf *f, enum alc_acc_fn fn, int node)
{
    struct alc_cg *g = f->g;
    LLVMValueRef zero = alc_cg_vf(g, 0.0), one = alc_cg_vf(g, 1.0);
    LLVMValueRef x = f->val[node], t = f->truth[node];
    LLVMValueRef a[1] = {x};
    switch (fn) {
    case ALC_AF_ABS:
        return alc_cg_intrinsic(g, "llvm.fabs", &g->v_f64, 1, a, 1);
    case ALC_AF_SQ:
        return LLVMBuildFMul(g->b, x, x, "");
    case ALC_AF_LOG:
        return acc_log(f, node);
    case ALC_AF_NZ: /* a 0/1 value counts as itself */
        return alc_cg_select(g, t ? t : alc_cg_fcmp(g, LLVMRealONE, x, zero),
                             one, zero);
    case ALC_AF_POS:
        return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOGE, x, zero), x, zero);
    case ALC_AF_GE0:
        return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOGE, x, zero), one,
                             zero);
    case ALC_AF_XLOGX:
        return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOGT, x, zero),
                             LLVMBuildFMul(g->b, x, acc_log(f, node), ""),
                             zero);
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

/* VAR: s1 += x - K, s2 += (x - K)^2 in one fused multiply-add. The count
 * n is kept by the masked steps only; every unmasked step adds 1 to each
 * lane of each copy, which emit_exit adds as a whole (integers below
 * 2^53: the same n). */
static void acc_var(struct pf *f, int a, int u, LLVMValueRef x)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef d = LLVMBuildFSub(b, x, f->K[a], "");
    LLVMValueRef *s = acc_slot(f, a, u, 0);
    if (f->p_mask != NULL) {
        LLVMValueRef one =
            alc_cg_select(g, f->p_mask, alc_cg_vf(g, 1.0), alc_cg_vf(g, 0.0));
        d = alc_cg_select(g, f->p_mask, d, alc_cg_vf(g, 0.0));
        st(f, LLVMBuildFAdd(b, ld(f, s[0]), one, ""), s[0]);
    }
    st(f, LLVMBuildFAdd(b, ld(f, s[2]), d, ""), s[2]);
    st(f, alc_cg_fma(g, d, d, ld(f, s[3])), s[3]);
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
    LLVMValueRef x = acc_fn(f, acc->fn, acc->node);
    if (x != NULL && x == f->p_wanda) {
        /* sum(wanda): s + |w| * act as one fma. The product is exact in
         * double (|w| has at most 24 significant bits, act is a float: at
         * most 48 bits, and no float product over- or underflows a
         * double), so fma(|w|, act, s) rounds once, exactly where
         * s + (|w| * act) does: the same bits, one instruction fewer. */
        LLVMValueRef a[3] = {LLVMGetOperand(x, 0), LLVMGetOperand(x, 1), old};
        LLVMValueRef fma = alc_cg_intrinsic(g, "llvm.fma", &g->v_f64, 1, a, 3);
        st(f, keep(f, fma, old), s[0]);
        return;
    }
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
    LLVMValueRef x = acc_fn(f, acc->fn, acc->node);
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
    f->p_wanda = NULL;
    f->p_bits = f->in_bits;
    f->p_t = f->in_t;
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

/*
 * Software prefetch of the weights ALC_JIT_PREFETCH bytes ahead of the
 * element at off, one prefetchnta per cache line the step reads (the
 * weights are read once, hence the non-temporal hint). With the hardware
 * prefetcher alone the loops waited on memory: DSA's float loop ran at
 * 23 GB/s per core on L3-resident weights, 16 GB/s from DRAM, where a
 * plain summing loop reads 33 GB/s per core (Zen 4, 4 KB pages; the
 * hardware prefetchers work within a page, a software prefetch also takes
 * the TLB miss early). Measured, 2 threads, the variants interleaved in
 * one process: dsa.alloc 17.0 -> 15.1 ms per evaluation, owl.alloc 25.6 ->
 * 24.0 ms; the gain is flat from 4 to 8 KB ahead, smaller at 3 KB, and
 * prefetcht0 was within noise of prefetchnta. A prefetch never faults, so
 * running past the end of the weights is harmless (the address is
 * computed without inbounds).
 */
#define ALC_JIT_PREFETCH 6144

static void emit_prefetch(struct pf *f, LLVMValueRef w, LLVMValueRef off,
                          int elem_size, int bytes)
{
    struct alc_cg *g = f->g;
    const int dist = ALC_JIT_PREFETCH;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(g->ctx), pt = g->t_ptr;
    LLVMValueRef at = LLVMBuildMul(g->b, off, i64c(f, elem_size), "");
    for (int k = 0; k < bytes; k += 64) {
        LLVMValueRef idx = LLVMBuildAdd(g->b, at, i64c(f, dist + k), "");
        LLVMValueRef a[4] = {LLVMBuildGEP2(g->b, i8, w, &idx, 1, ""),
                             LLVMConstInt(g->t_i32, 0, 0),
                             LLVMConstInt(g->t_i32, 0, 0),
                             LLVMConstInt(g->t_i32, 1, 0)};
        alc_cg_intrinsic(g, "llvm.prefetch", &pt, 1, a, 4);
    }
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

/* ---- Moments in float: code ---- */

/*
 * The float loop is a function of its own, <pass fn>_fm, called once per
 * chunk: i64 fm(w, cols, cterm, B, slow, st, nrows, dz) sums the blocks
 * of weights in the window (alc_cg_fm_consts) into st and lists the others in
 * slow as (row offset, column) pairs (returns how many); the pass function then
 * runs those by the double path, and each row's columns past its last block. In
 * one function with the double loops, the register allocator kept the double
 * accumulators in registers and spilled the float sums (every update a
 * load and a store: slower than the double path; measured).
 *
 * st: 4 <16 x float> (sum d and sum d^2 of pairs q = 0, 1: vectors o =
 * 2 q, 2 q + 1 of a block), 4 <16 x float> (the sums of those flushed every
 * FM_FLUSH blocks, same order), 8 <VL x double> (those flushed every
 * FM_FLUSH FM_FLUSH2 blocks: half h of pair q at 2 (2 q + h) + k, k = 0 for
 * d and 1 for d^2), i64 blocks since the last flush to double.
 */
#define FM_ST_T 4  /* st's second float sums, in 64-byte units */
#define FM_ST_D 8  /* st's doubles */
#define FM_ST_N 16 /* st's count */
static LLVMBasicBlockRef bb(struct pf *f, const char *name);

static LLVMTypeRef fm_vt(struct pf *f)
{
    return LLVMVectorType(f->g->t_f32, 16);
}

static LLVMValueRef fm_st_slot(struct pf *f, LLVMValueRef st, int unit)
{
    LLVMValueRef idx = i64c(f, (int64_t)unit * 64);
    return LLVMBuildGEP2(f->g->b, LLVMInt8TypeInContext(f->g->ctx), st, &idx, 1,
                         "");
}

static LLVMValueRef wide_half(struct pf *f, LLVMValueRef v, int h);

/* 16 lanes of the scalar x (float, or the i32 bias). */
static LLVMValueRef fm_splat(struct pf *f, LLVMValueRef x)
{
    return alc_cg_splat_n(f->g, x, 16);
}

static LLVMValueRef fm_fma(struct pf *f, LLVMValueRef a, LLVMValueRef b,
                           LLVMValueRef c)
{
    LLVMTypeRef t = fm_vt(f);
    LLVMValueRef args[3] = {a, b, c};
    return alc_cg_intrinsic(f->g, "llvm.fma", &t, 1, args, 3);
}

/* The arithmetic of one block of 64 weights in the window whose |w|, TQ
 * pairs (alc_cg_fm_pairs) are a[0..3], at columns c .. c + 63, into the
 * float sums fm_s (row function); dz: zero weights' d, or NULL. */
static void fm_arith(struct pf *f, LLVMValueRef *a, LLVMValueRef c,
                     LLVMValueRef dz)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef q16[16];
    /* q = ln2f / 2^19: J q exact in the fma's product (|J| < 2^24) */
    LLVMValueRef q =
        LLVMConstReal(g->t_f32, (double)alc_jit_fm_ln2f() * 0x1p-19);
    for (int i = 0; i < 16; i++) {
        q16[i] = q;
    }
    q = LLVMConstVector(q16, 16);
    for (int o = 0; o < 4; o++) {
        int h = o / 2;
        LLVMValueRef j = alc_cg_fm_j(g, a[o], f->fm_bias);
        LLVMValueRef idx = LLVMBuildAdd(b, c, i64c(f, 16 * o), "");
        LLVMValueRef p = LLVMBuildGEP2(b, g->t_f32, f->fm_c, &idx, 1, "");
        LLVMValueRef cl = LLVMBuildLoad2(b, fm_vt(f), p, "");
        LLVMSetAlignment(cl, 4);
        LLVMValueRef d = fm_fma(f, j, q, cl);
        if (dz != NULL) { /* zero weights: d = z0 - K */
            d = LLVMBuildSelect(b, alc_cg_fm_zeros(g, a[o]), dz, d, "");
        }
        LLVMValueRef s1 = LLVMBuildLoad2(b, fm_vt(f), f->fm_s[2 * h], "");
        LLVMValueRef s2 = LLVMBuildLoad2(b, fm_vt(f), f->fm_s[2 * h + 1], "");
        LLVMBuildStore(b, LLVMBuildFAdd(b, s1, d, ""), f->fm_s[2 * h]);
        LLVMBuildStore(b, fm_fma(f, d, d, s2), f->fm_s[2 * h + 1]);
    }
}

/* Row function: the float sums into st's second float sums, zeroed. Those
 * stay in memory: as allocas they took registers that the table's planes
 * need (every block then reloaded them: slower; measured). */
static void fm_flush(struct pf *f, LLVMValueRef st)
{
    LLVMBuilderRef b = f->g->b;
    for (int i = 0; i < 4; i++) {
        LLVMValueRef v = LLVMBuildLoad2(b, fm_vt(f), f->fm_s[i], "");
        LLVMValueRef p = fm_st_slot(f, st, FM_ST_T + i);
        LLVMValueRef t = LLVMBuildLoad2(b, fm_vt(f), p, "");
        LLVMBuildStore(b, LLVMBuildFAdd(b, t, v, ""), p);
        LLVMBuildStore(b, LLVMConstNull(fm_vt(f)), f->fm_s[i]);
    }
}

/* Row function: the second float sums into st's doubles, zeroed. */
static void fm_flush2(struct pf *f, LLVMValueRef st)
{
    LLVMBuilderRef b = f->g->b;
    for (int q = 0; q < 2; q++) {
        for (int k = 0; k < 2; k++) {
            LLVMValueRef tp = fm_st_slot(f, st, FM_ST_T + 2 * q + k);
            LLVMValueRef v = LLVMBuildLoad2(b, fm_vt(f), tp, "");
            for (int h = 0; h < 2; h++) {
                LLVMValueRef p =
                    fm_st_slot(f, st, FM_ST_D + 2 * (2 * q + h) + k);
                LLVMValueRef old = LLVMBuildLoad2(b, f->g->v_f64, p, "");
                LLVMBuildStore(b, LLVMBuildFAdd(b, old, wide_half(f, v, h), ""),
                               p);
            }
            LLVMBuildStore(b, LLVMConstNull(fm_vt(f)), tp);
        }
    }
}

/*
 * The row function's pipeline. A block's lookups (alc_cg_fm_pairs) wait
 * on its load and run through long-latency permutes; issued right before
 * the same block's arithmetic they held that arithmetic, and everything
 * after it, in the scheduler. So each block's lookups are done in one
 * iteration and its arithmetic in the next, after the next block's
 * lookups: the loop as emitted, on L1-resident data, takes ~16 cycles per
 * block this way and ~24 without the pipeline; two blocks deep took ~17,
 * the arithmetic placed before the lookups ~18 (measured, Zen 5). The
 * sums take the same values in the same order.
 */
struct fm_pipe {
    LLVMValueRef pend;   /* i1 alloca: a block is pending */
    LLVMValueRef pa[4];  /* its pairs */
    LLVMValueRef pc;     /* its first column */
    LLVMValueRef nv, st; /* the row function's count, state */
    LLVMValueRef dz;     /* zero weights' d, or NULL */
};

/* If a block is pending: its arithmetic, counted, with the flushes of
 * every FM_FLUSH (FM_FLUSH2) blocks; then on to next. */
static void fm_pend(struct pf *f, const struct fm_pipe *pp,
                    LLVMBasicBlockRef next)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMTypeRef d16 = LLVMVectorType(g->t_i32, 16);
    LLVMBasicBlockRef run = bb(f, "pend");
    LLVMBasicBlockRef flush = bb(f, "flush"), flush2 = bb(f, "flush2");
    LLVMBuildCondBr(b, LLVMBuildLoad2(b, g->t_i1, pp->pend, ""), run, next);
    LLVMPositionBuilderAtEnd(b, run);
    LLVMValueRef a[4], pc = LLVMBuildLoad2(b, g->t_i64, pp->pc, "");
    for (int i = 0; i < 4; i++) {
        a[i] = LLVMBuildLoad2(b, d16, pp->pa[i], "");
    }
    fm_arith(f, a, pc, pp->dz);
    LLVMValueRef n = LLVMBuildAdd(b, LLVMBuildLoad2(b, g->t_i64, pp->nv, ""),
                                  i64c(f, 1), "");
    LLVMBuildStore(b, n, pp->nv);
    LLVMValueRef nm = LLVMBuildAnd(b, n, i64c(f, FM_FLUSH - 1), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, nm, i64c(f, 0), ""), flush,
                    next);
    LLVMPositionBuilderAtEnd(b, flush);
    fm_flush(f, pp->st);
    LLVMBuildCondBr(
        b, LLVMBuildICmp(b, LLVMIntEQ, n, i64c(f, FM_FLUSH * FM_FLUSH2), ""),
        flush2, next);
    LLVMPositionBuilderAtEnd(b, flush2);
    fm_flush2(f, pp->st);
    LLVMBuildStore(b, i64c(f, 0), pp->nv);
    LLVMBuildBr(b, next);
}

/*
 *   i64 fm(w, cols, cterm, B, slow, st, nrows, dz):
 *     sums and count from st; ns = 0
 *     for (r < nrows) for (c = 0; c + 64 <= cols; c += 64)
 *         in the window (or zero, with dz) ?
 *              lookups; the pending block's float sums (into st's second
 *              float sums every FM_FLUSH blocks, those into st's doubles
 *              every FM_FLUSH FM_FLUSH2 blocks); this block pending
 *            : slow[ns++] = (r cols, c)
 *     the pending block's float sums; sums and count to st; return ns
 */
static LLVMValueRef fm_row_fn(struct alc_cg *g, const char *name, int has_z)
{
    LLVMBuilderRef b = g->b;
    LLVMTypeRef params[8] = {g->t_ptr, g->t_i64, g->t_ptr, g->t_i32,
                             g->t_ptr, g->t_ptr, g->t_i64, g->t_f32};
    LLVMValueRef fn =
        LLVMAddFunction(g->mod, name, LLVMFunctionType(g->t_i64, params, 8, 0));
    alc_llvm_set_host_attrs(g->ctx, fn);
    add_fn_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
    add_fn_attr(g, fn, LLVMAttributeFunctionIndex, "noinline");
    struct pf rf = {.g = g, .fn = fn};
    struct pf *f = &rf;
    LLVMValueRef w = LLVMGetParam(fn, 0), cols = LLVMGetParam(fn, 1);
    LLVMValueRef slow = LLVMGetParam(fn, 4), st = LLVMGetParam(fn, 5);
    LLVMPositionBuilderAtEnd(b, bb(f, "entry"));
    f->fm_c = LLVMGetParam(fn, 2);
    LLVMValueRef lo16, span16; /* the window (alc_cg_fm_consts) */
    alc_cg_fm_consts(g, LLVMGetParam(fn, 3), &f->fm_bias, &lo16, &span16);
    LLVMTypeRef w32 = LLVMVectorType(g->t_i16, 32);
    LLVMValueRef dz = fm_splat(f, LLVMGetParam(fn, 7));
    LLVMValueRef nrows = LLVMGetParam(fn, 6);
    LLVMValueRef rv = LLVMBuildAlloca(b, g->t_i64, "r");
    LLVMValueRef cv = LLVMBuildAlloca(b, g->t_i64, "c");
    LLVMValueRef nsv = LLVMBuildAlloca(b, g->t_i64, "ns");
    LLVMValueRef nv = LLVMBuildAlloca(b, g->t_i64, "n");
    for (int i = 0; i < 4; i++) {
        f->fm_s[i] = LLVMBuildAlloca(b, fm_vt(f), "s");
        LLVMBuildStore(b, LLVMBuildLoad2(b, fm_vt(f), fm_st_slot(f, st, i), ""),
                       f->fm_s[i]);
    }
    LLVMBuildStore(
        b, LLVMBuildLoad2(b, g->t_i64, fm_st_slot(f, st, FM_ST_N), ""), nv);
    LLVMBuildStore(b, i64c(f, 0), rv);
    LLVMBuildStore(b, i64c(f, 0), nsv);
    /* the block whose lookups are done and whose arithmetic is not: a
     * one-block software pipeline (see fm_pend) */
    LLVMTypeRef d16 = LLVMVectorType(g->t_i32, 16);
    struct fm_pipe pp = {.nv = nv, .st = st, .dz = has_z ? dz : NULL};
    pp.pend = LLVMBuildAlloca(b, g->t_i1, "pend");
    pp.pc = LLVMBuildAlloca(b, g->t_i64, "pc");
    for (int i = 0; i < 4; i++) {
        pp.pa[i] = LLVMBuildAlloca(b, d16, "pa");
    }
    LLVMBuildStore(b, LLVMConstInt(g->t_i1, 0, 0), pp.pend);
    LLVMBuildStore(b, i64c(f, 0), pp.pc);
    LLVMBasicBlockRef rhead = bb(f, "rhead"), rbody = bb(f, "rbody");
    LLVMBasicBlockRef rnext = bb(f, "rnext");
    LLVMBasicBlockRef head = bb(f, "head"), body = bb(f, "body");
    LLVMBasicBlockRef fast = bb(f, "fast"), sl = bb(f, "slow");
    LLVMBasicBlockRef shift = bb(f, "shift"), latch = bb(f, "latch");
    LLVMBasicBlockRef exit = bb(f, "exit"), out = bb(f, "out");
    LLVMBuildBr(b, rhead);
    LLVMPositionBuilderAtEnd(b, rhead);
    LLVMValueRef r = LLVMBuildLoad2(b, g->t_i64, rv, "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, r, nrows, ""), rbody, exit);
    LLVMPositionBuilderAtEnd(b, rbody);
    LLVMValueRef rowoff = LLVMBuildMul(b, r, cols, "");
    LLVMBuildStore(b, i64c(f, 0), cv);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef c = LLVMBuildLoad2(b, g->t_i64, cv, "");
    LLVMValueRef end = LLVMBuildAdd(b, c, i64c(f, 64), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLE, end, cols, ""), body,
                    rnext);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef wv[2], off = LLVMBuildAdd(b, rowoff, c, "");
    for (int h = 0; h < 2; h++) {
        LLVMValueRef idx = LLVMBuildAdd(b, off, i64c(f, 32 * h), "");
        LLVMValueRef p = LLVMBuildGEP2(b, g->t_i16, w, &idx, 1, "");
        wv[h] = LLVMBuildLoad2(b, w32, p, "");
        LLVMSetAlignment(wv[h], 2);
    }
    emit_prefetch(f, w, off, 2, 128);
    /* with zeros of a constant d (has_z) the zero blocks take the same
     * path, their d patched in every block: a branch on "any zero" was
     * mispredicted on the ~6 % of blocks of a dense matrix that hold one
     * (1 in 1024 weights), costing more than the patch (1 thread: 29.1 ->
     * 26.4 ms on the bench set; measured) */
    LLVMBuildCondBr(b, alc_cg_fm_window(g, wv[0], wv[1], lo16, span16, has_z),
                    fast, sl);
    LLVMPositionBuilderAtEnd(b, fast);
    /* this block's lookups, the pending block's arithmetic, then this
     * block pending */
    LLVMValueRef a[4];
    alc_cg_fm_pairs(g, wv[0], wv[1], a);
    fm_pend(f, &pp, shift);
    LLVMPositionBuilderAtEnd(b, shift);
    for (int i = 0; i < 4; i++) {
        LLVMBuildStore(b, a[i], pp.pa[i]);
    }
    LLVMBuildStore(b, c, pp.pc);
    LLVMBuildStore(b, LLVMConstInt(g->t_i1, 1, 0), pp.pend);
    LLVMBuildBr(b, latch);
    LLVMPositionBuilderAtEnd(b, sl);
    LLVMValueRef ns = LLVMBuildLoad2(b, g->t_i64, nsv, "");
    LLVMValueRef i2 = LLVMBuildMul(b, ns, i64c(f, 2), "");
    LLVMBuildStore(b, rowoff, LLVMBuildGEP2(b, g->t_i64, slow, &i2, 1, ""));
    i2 = LLVMBuildAdd(b, i2, i64c(f, 1), "");
    LLVMBuildStore(b, c, LLVMBuildGEP2(b, g->t_i64, slow, &i2, 1, ""));
    LLVMBuildStore(b, LLVMBuildAdd(b, ns, i64c(f, 1), ""), nsv);
    LLVMBuildBr(b, latch);
    LLVMPositionBuilderAtEnd(b, latch);
    LLVMBuildStore(b, end, cv);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, rnext);
    LLVMBuildStore(b, LLVMBuildAdd(b, r, i64c(f, 1), ""), rv);
    LLVMBuildBr(b, rhead);
    LLVMPositionBuilderAtEnd(b, exit); /* the last pending block */
    fm_pend(f, &pp, out);
    LLVMPositionBuilderAtEnd(b, out);
    for (int i = 0; i < 4; i++) {
        LLVMBuildStore(b, LLVMBuildLoad2(b, fm_vt(f), f->fm_s[i], ""),
                       fm_st_slot(f, st, i));
    }
    LLVMBuildStore(b, LLVMBuildLoad2(b, g->t_i64, nv, ""),
                   fm_st_slot(f, st, FM_ST_N));
    LLVMBuildRet(b, LLVMBuildLoad2(b, g->t_i64, nsv, ""));
    return fn;
}

/* Entry block of the pass function: the matrix's flag, K and e0 (lact[2
 * cols ...]), the column terms' address, the zeroed state, the list of
 * slow blocks. */
static void fm_setup(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef base = LLVMBuildMul(b, f->arg[A_COLS], i64c(f, 2), "");
    LLVMValueRef h[3];
    for (int i = 0; i < 3; i++) {
        LLVMValueRef idx = LLVMBuildAdd(b, base, i64c(f, i), "");
        LLVMValueRef p =
            LLVMBuildGEP2(b, g->t_f64, f->arg[A_LACT], &idx, 1, "");
        h[i] = LLVMBuildLoad2(b, g->t_f64, p, "");
    }
    f->fm_on =
        LLVMBuildFCmp(b, LLVMRealONE, h[0], LLVMConstReal(g->t_f64, 0.0), "");
    f->fm_k = h[1];
    /* zero weights' d = z0 - K (rounded once; NaN z0: not used) */
    double z0 = isnan(f->fm_z0) ? 0.0 : f->fm_z0;
    f->fm_dz = LLVMBuildFPTrunc(
        b, LLVMBuildFSub(b, LLVMConstReal(g->t_f64, z0), h[1], ""), g->t_f32,
        "");
    LLVMValueRef e0 = LLVMBuildFPToSI(b, h[2], g->t_i32, ""); /* integer */
    f->fm_bias = /* B = 128 (127 + e0), the row function's */
        LLVMBuildMul(b, LLVMBuildAdd(b, e0, LLVMConstInt(g->t_i32, 127, 0), ""),
                     LLVMConstInt(g->t_i32, 128, 0), "");
    LLVMValueRef idx = LLVMBuildAdd(b, base, i64c(f, ALC_FM_HDR), "");
    f->fm_c = LLVMBuildGEP2(b, g->t_f64, f->arg[A_LACT], &idx, 1, "");
    f->fm_st = LLVMBuildAlloca(b, LLVMArrayType(g->v_f64, FM_ST_N + 1), "st");
    for (int i = 0; i <= FM_ST_N; i++) {
        LLVMBuildStore(b, alc_cg_vf(g, 0.0), fm_st_slot(f, f->fm_st, i));
    }
    LLVMValueRef nb = LLVMBuildSDiv(b, f->arg[A_COLS], i64c(f, 64), "");
    nb = LLVMBuildMul(b, nb, f->arg[A_NROWS], "");
    nb = LLVMBuildAdd(b, LLVMBuildMul(b, nb, i64c(f, 2), ""), i64c(f, 2), "");
    f->fm_slow = LLVMBuildArrayAlloca(b, g->t_i64, nb, "fmslow");
    f->fm_k_redo = LLVMBuildAlloca(b, g->t_i64, "fmk");
}

/*
 * Exit: st's sums into every VAR accumulator, half h of pair q to copy
 * 2 q + h mod U. So a copy's sums are not those of the elements its count
 * n stands for (emit_exit counts per copy as the double loops fill them);
 * that is harmless because every copy of the function has the same shift
 * K: with a common K, combining (n, K, s1, s2) records (plan.c) gives
 * sum s2 - (sum s1)^2 / sum n whatever the split, as long as each n > 0
 * (a row with a block has cols / (VL U) >= 2 steps per copy). When the
 * path did not run this adds +0: the same bits.
 */
static void fm_finish(struct pf *f)
{
    LLVMBuilderRef b = f->g->b;
    for (int q = 0; q < 2; q++) {
        for (int k = 0; k < 2; k++) {
            LLVMValueRef v = LLVMBuildLoad2(
                b, fm_vt(f), fm_st_slot(f, f->fm_st, 2 * q + k), "");
            LLVMValueRef t = LLVMBuildLoad2(
                b, fm_vt(f), fm_st_slot(f, f->fm_st, FM_ST_T + 2 * q + k), "");
            for (int h = 0; h < 2; h++) {
                LLVMValueRef dp =
                    fm_st_slot(f, f->fm_st, FM_ST_D + 2 * (2 * q + h) + k);
                LLVMValueRef x =
                    LLVMBuildFAdd(b, LLVMBuildLoad2(b, f->g->v_f64, dp, ""),
                                  wide_half(f, t, h), "");
                x = LLVMBuildFAdd(b, x, wide_half(f, v, h), "");
                for (int a = 0; a < f->ps->n_accs; a++) {
                    LLVMValueRef *s = acc_slot(f, a, (2 * q + h) % f->U, 2 + k);
                    st(f, LLVMBuildFAdd(b, ld(f, *s), x, ""), *s);
                }
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
    lf_setup(f);
    init_accs(f);
    if (f->fm) {
        fm_setup(f);
    }
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
            if (f->fm) { /* the float path's shift, for every step */
                f->K[a] = alc_cg_select(g, alc_cg_splat(g, f->fm_on),
                                        alc_cg_splat(g, f->fm_k), f->K[a]);
            }
        }
    }
}

/* Unmasked steps per copy: nrows (cols / (VL U)), as a splat double. */
static LLVMValueRef full_steps(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMValueRef per_row = LLVMBuildSDiv(g->b, f->arg[A_COLS],
                                         i64c(f, (int64_t)ALC_VL * f->U), "");
    LLVMValueRef n = LLVMBuildMul(g->b, f->arg[A_NROWS], per_row, "");
    return alc_cg_splat(g, LLVMBuildSIToFP(g->b, n, g->t_f64, ""));
}

static void emit_exit(struct pf *f)
{
    struct alc_cg *g = f->g;
    int64_t pos = 0;
    if (f->fm) {
        fm_finish(f);
    }
    LLVMValueRef steps = full_steps(f);
    for (int a = 0; a < f->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &f->ps->accs[a];
        for (int s = 0; s < alc_cg_raw_slots[acc->kind]; s++) {
            for (int u = 0; u < f->U; u++) {
                int var = acc->kind == ALC_ACC_VAR;
                LLVMValueRef v =
                    var && s == 1 ? f->K[a] : ld(f, *acc_slot(f, a, u, s));
                if (var && s == 0) {
                    v = LLVMBuildFAdd(g->b, v, steps, "");
                }
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
    const unsigned reads_w = (1u << ALC_IN_WANDA) | (1u << ALC_IN_WEIGHT);
    int es = alc_dtype_table[f->dt].size;
    /* (a step of less than a line is a loop bound by its math) */
    if (!masked && (f->ps->inputs & reads_w) && step * es >= 64) {
        emit_prefetch(f, f->arg[A_W], LLVMBuildAdd(g->b, rowoff, c, ""), es,
                      (int)step * es);
    }
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

/*
 * Blocks of 64 BF16 weights whose log|w| is read in registers
 * (alc_cg_logw_planes; zeros patched to -inf in blocks that have any), or
 * gathered when the block holds a subnormal, inf or NaN weight; the same
 * values either way. A block is 64 / (VL U) main-loop steps: position j
 * goes to accumulator copy j mod U, as in the main loop, so the
 * accumulation is the same whichever loop runs.
 *   while (c + 64 <= cols) {
 *       T = special ? gathers : zeros ? planes, patched : planes;
 *       8 positions; c += 64 }
 */
static void block_t(struct pf *f, LLVMValueRef *wv, LLVMValueRef *bits,
                    LLVMValueRef *t)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMBasicBlockRef reg = bb(f, "blk.reg"), fix = bb(f, "blk.zeros");
    LLVMBasicBlockRef slow = bb(f, "blk.gather"), join = bb(f, "blk.join");
    LLVMValueRef tr[8], tz[8], ts[8], zl[8];
    LLVMBuildCondBr(b, alc_cg_logw_special(g, wv[0], wv[1]), slow, reg);
    LLVMPositionBuilderAtEnd(b, reg);
    alc_cg_logw_planes(g, wv[0], wv[1], tr);
    LLVMValueRef anyz = alc_cg_logw_zeros(g, wv[0], wv[1], zl);
    LLVMBasicBlockRef reg_end = LLVMGetInsertBlock(b);
    LLVMBuildCondBr(b, anyz, fix, join);
    LLVMPositionBuilderAtEnd(b, fix);
    for (int j = 0; j < 8; j++) {
        tz[j] = alc_cg_select(g, zl[j], alc_cg_vf(g, -INFINITY), tr[j]);
    }
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, slow);
    for (int j = 0; j < 8; j++) {
        ts[j] = alc_cg_logw_gather(g, f->arg[A_LOGW], bits[j]);
    }
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
    for (int j = 0; j < 8; j++) { /* phis first in their block */
        LLVMValueRef in[3] = {tr[j], tz[j], ts[j]};
        LLVMBasicBlockRef from[3] = {reg_end, fix, slow};
        t[j] = LLVMBuildPhi(b, g->v_f64, "");
        LLVMAddIncoming(t[j], in, from, 3);
    }
}

/* The 64 weights at rowoff + c as two <32 x i16>. */
static void block_load(struct pf *f, LLVMValueRef rowoff, LLVMValueRef c,
                       LLVMValueRef *wv)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMTypeRef w32 = LLVMVectorType(g->t_i16, 32);
    LLVMValueRef off = LLVMBuildAdd(b, rowoff, c, "");
    for (int h = 0; h < 2; h++) {
        LLVMValueRef idx = LLVMBuildAdd(b, off, i64c(f, 32 * h), "");
        LLVMValueRef p = LLVMBuildGEP2(b, g->t_i16, f->arg[A_W], &idx, 1, "");
        wv[h] = LLVMBuildLoad2(b, w32, p, "");
        LLVMSetAlignment(wv[h], 2);
    }
}

/* The block's 8 positions in double, T by block_t. */
static void block_steps(struct pf *f, LLVMValueRef rowoff, LLVMValueRef c,
                        LLVMValueRef *wv)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMValueRef bits[8], t[8];
    for (int j = 0; j < 8; j++) {
        bits[j] = alc_cg_logw_words(g, wv[0], wv[1], j);
    }
    block_t(f, wv, bits, t);
    memset(f->pre_w, 0, sizeof f->pre_w);
    memset(f->pre_wabs, 0, sizeof f->pre_wabs);
    for (int j = 0; j < 8; j++) {
        LLVMValueRef cj = LLVMBuildAdd(b, c, i64c(f, 8 * j), "");
        f->in_bits = bits[j];
        f->in_t = t[j];
        emit_step(f, LLVMBuildAdd(b, rowoff, cj, ""), cj, NULL, j % f->U);
    }
    f->in_bits = f->in_t = NULL;
}

static void emit_block_loop(struct pf *f, LLVMValueRef rowoff)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMBasicBlockRef head = bb(f, "blk.head"), body = bb(f, "blk");
    LLVMBasicBlockRef next = bb(f, "blk.end");
    LLVMValueRef wv[2];
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef c = ldi(f, f->c_var);
    LLVMValueRef end = LLVMBuildAdd(b, c, i64c(f, 64), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLE, end, f->arg[A_COLS], ""),
                    body, next);
    LLVMPositionBuilderAtEnd(b, body);
    block_load(f, rowoff, c, wv);
    emit_prefetch(f, f->arg[A_W], LLVMBuildAdd(b, rowoff, c, ""), 2, 128);
    block_steps(f, rowoff, c, wv);
    LLVMBuildStore(b, end, f->c_var);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, next);
}

/*
 * The float path (section "Moments in float"), before the row loop:
 *   if (fm_on) {
 *       ns = fm(chunk);
 *       for (k < ns) the block loop's steps at slow[k] }
 * and each row then starts at its first column past the blocks (cstart).
 */
static void emit_fm_chunk(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMBuilderRef b = g->b;
    LLVMBasicBlockRef call = bb(f, "fm"), rhead = bb(f, "fm.redo.head");
    LLVMBasicBlockRef rbody = bb(f, "fm.redo"), next = bb(f, "fm.end");
    LLVMValueRef wv[2];
    LLVMBuildCondBr(b, f->fm_on, call, next);
    LLVMPositionBuilderAtEnd(b, call);
    LLVMValueRef args[8] = {f->arg[A_W],     f->arg[A_COLS], f->fm_c,
                            f->fm_bias,      f->fm_slow,     f->fm_st,
                            f->arg[A_NROWS], f->fm_dz};
    LLVMValueRef ns = LLVMBuildCall2(b, LLVMGlobalGetValueType(f->fm_fn),
                                     f->fm_fn, args, 8, "");
    LLVMBuildStore(b, i64c(f, 0), f->fm_k_redo);
    LLVMBuildBr(b, rhead);
    LLVMPositionBuilderAtEnd(b, rhead);
    LLVMValueRef k = ldi(f, f->fm_k_redo);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, k, ns, ""), rbody, next);
    LLVMPositionBuilderAtEnd(b, rbody);
    LLVMValueRef i2 = LLVMBuildMul(b, k, i64c(f, 2), "");
    LLVMValueRef rowoff = LLVMBuildLoad2(
        b, g->t_i64, LLVMBuildGEP2(b, g->t_i64, f->fm_slow, &i2, 1, ""), "");
    i2 = LLVMBuildAdd(b, i2, i64c(f, 1), "");
    LLVMValueRef cs = LLVMBuildLoad2(
        b, g->t_i64, LLVMBuildGEP2(b, g->t_i64, f->fm_slow, &i2, 1, ""), "");
    block_load(f, rowoff, cs, wv);
    block_steps(f, rowoff, cs, wv);
    LLVMBuildStore(b, LLVMBuildAdd(b, k, i64c(f, 1), ""), f->fm_k_redo);
    LLVMBuildBr(b, rhead);
    LLVMPositionBuilderAtEnd(b, next);
    LLVMValueRef cend =
        LLVMBuildSub(b, f->arg[A_COLS],
                     LLVMBuildSRem(b, f->arg[A_COLS], i64c(f, 64), ""), "");
    f->fm_cstart = LLVMBuildSelect(b, f->fm_on, cend, i64c(f, 0), "");
}

static void emit_loops(struct pf *f)
{
    struct alc_cg *g = f->g;
    LLVMBasicBlockRef row_head = bb(f, "row.head"), row_body = bb(f, "row");
    LLVMBasicBlockRef tail = bb(f, "tail"), row_end = bb(f, "row.end");
    LLVMBasicBlockRef exit = bb(f, "exit");
    if (f->fm) {
        emit_fm_chunk(f);
    }
    LLVMBuildStore(g->b, i64c(f, 0), f->r_var);
    LLVMBuildBr(g->b, row_head);

    LLVMPositionBuilderAtEnd(g->b, row_head);
    LLVMValueRef r = ldi(f, f->r_var);
    LLVMBuildCondBr(g->b,
                    LLVMBuildICmp(g->b, LLVMIntSLT, r, f->arg[A_NROWS], ""),
                    row_body, exit);

    LLVMPositionBuilderAtEnd(g->b, row_body);
    LLVMValueRef rowoff = LLVMBuildMul(g->b, r, f->arg[A_COLS], "");
    LLVMBuildStore(g->b, f->fm ? f->fm_cstart : i64c(f, 0), f->c_var);
    if (f->planes) {
        emit_block_loop(f, rowoff);
    }
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
        [A_RAW] = g->t_ptr,  [A_STORE] = g->t_ptr,   [A_LOGW] = g->t_ptr,
        [A_LACT] = g->t_ptr,
    };
    LLVMTypeRef fty = LLVMFunctionType(g->t_void, params, A_N, 0);
    LLVMValueRef fn = LLVMAddFunction(g->mod, name, fty);
    alc_llvm_set_host_attrs(g->ctx, fn);
    add_fn_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
    static const int ptr_args[] = {A_W,     A_ACT,  A_ENV, A_RAW,
                                   A_STORE, A_LOGW, A_LACT};
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
    f.lfk = calloc(2 * nn, sizeof *f.lfk);
    if (!f.use || !f.val || !f.truth || !f.acc || !f.K || !f.sptr || !f.lfk) {
        goto done;
    }
    if (dt == ALC_DT_BF16 && fm_enabled(g->opts) && fm_pass_kinds(ir, ps)) {
        char fname[160];
        snprintf(fname, sizeof fname, "%s_fm", name);
        f.fm_z0 = fm_pass_zero(ir, ps);
        f.fm_fn = fm_row_fn(g, fname, !isnan(f.fm_z0));
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
    free(f.lfk);
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
