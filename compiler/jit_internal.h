/*
 * jit_internal.h: what the LLVM backend's files share. jit_codegen.c turns
 * a plan into an LLVM module through struct alc_cg; jit_vmath.c adds the
 * vectorised log/exp to the same builder; jit_llvm.c owns compilation and
 * evaluation. Vectors are ALC_VL lanes of double throughout: an explicit
 * fixed width, so lane order (and therefore every rounding) is the same on
 * AVX2 and AVX-512 hosts.
 */
#ifndef ALC_JIT_INTERNAL_H
#define ALC_JIT_INTERNAL_H

#include <llvm-c/Core.h>

#include "jit.h"
#include "logw_table.h"

#define ALC_VL 8 /* lanes per vector */

/* Code-generation context of one module. */
struct alc_cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    const struct alc_jit_opts *opts;
    /* scalar types */
    LLVMTypeRef t_f64, t_f32, t_f16, t_i64, t_i32, t_i16, t_i1, t_ptr, t_void;
    /* vector types, ALC_VL lanes */
    LLVMTypeRef v_f64, v_f32, v_f16, v_i64, v_i32, v_i16, v_i1;
    /* the function being generated: three <VL x double> stack slots for
     * alc_cg_vmap's operands and result (allocas in its entry block) */
    LLVMValueRef scratch[3];
};

void alc_cg_types(struct alc_cg *g);

/* Splat constants and values. */
LLVMValueRef alc_cg_vf(struct alc_cg *g, double x);
LLVMValueRef alc_cg_vi(struct alc_cg *g, uint64_t x); /* <VL x i64> */
LLVMValueRef alc_cg_splat(struct alc_cg *g, LLVMValueRef scalar);
/* n lanes of the scalar (alc_cg_splat: ALC_VL lanes). */
LLVMValueRef alc_cg_splat_n(struct alc_cg *g, LLVMValueRef scalar, unsigned n);
/* Calls an overloaded intrinsic (overload types tys[0 .. n_tys)). */
LLVMValueRef alc_cg_intrinsic(struct alc_cg *g, const char *name,
                              LLVMTypeRef *tys, int n_tys, LLVMValueRef *args,
                              int n_args);
/* Applies op's map function (ops.c) to each lane through one call of
 * alc_jit_vmap (b may be NULL for a unary op). Needs g->scratch. */
LLVMValueRef alc_cg_vmap(struct alc_cg *g, int op, LLVMValueRef a,
                         LLVMValueRef b);
/* Creates g->scratch at the top of fn's entry block (builder positioned
 * there, no instructions yet). */
void alc_cg_scratch(struct alc_cg *g);

/* The C function alc_cg_vmap calls:
 * out[i] = alc_op_table[op].map1(a[i]) or .map2(a[i], b[i]), i < ALC_VL. */
#define ALC_JIT_VMAP_SYMBOL "alc_jit_vmap"
void alc_jit_vmap(int32_t op, const double *a, const double *b, double *out);
LLVMValueRef alc_cg_fma(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b,
                        LLVMValueRef c);
LLVMValueRef alc_cg_fcmp(struct alc_cg *g, LLVMRealPredicate p, LLVMValueRef a,
                         LLVMValueRef b);
LLVMValueRef alc_cg_select(struct alc_cg *g, LLVMValueRef c, LLVMValueRef a,
                           LLVMValueRef b);

/* ---- jit_vmath.c: vector math on <VL x double> ---- */

/* Vectorised log, exp, log1p (log1p for x > -1 and +inf). */
LLVMValueRef alc_vm_log(struct alc_cg *g, LLVMValueRef x);
LLVMValueRef alc_vm_exp(struct alc_cg *g, LLVMValueRef x);
LLVMValueRef alc_vm_log1p(struct alc_cg *g, LLVMValueRef x);

/* ---- jit_logw.c: log|w| of 16-bit weights by table ---- */

/* log|w| of <VL x i16> weight bits, gathered from table (a pointer to
 * alc_logw_table's doubles). */
LLVMValueRef alc_cg_logw_gather(struct alc_cg *g, LLVMValueRef table,
                                LLVMValueRef bits);
/* log|w| of the 64 BF16 weights w0:w1 (<32 x i16> each) as the table
 * holds it, read in registers (needs AVX-512 VBMI): out[j] = elements
 * 8 j .. 8 j + 7. Only for normal weights (alc_cg_logw_special false). */
void alc_cg_logw_planes(struct alc_cg *g, LLVMValueRef w0, LLVMValueRef w1,
                        LLVMValueRef *out);
/* i1: some of the 64 BF16 weights w0:w1 is subnormal, inf or NaN. */
LLVMValueRef alc_cg_logw_special(struct alc_cg *g, LLVMValueRef w0,
                                 LLVMValueRef w1);
/* i1: some of the 64 BF16 weights w0:w1 is +-0; lanes[j] (<VL x i1>):
 * which of elements 8 j .. 8 j + 7 are. */
LLVMValueRef alc_cg_logw_zeros(struct alc_cg *g, LLVMValueRef w0,
                               LLVMValueRef w1, LLVMValueRef *lanes);
/* Elements 8 j .. 8 j + 7 of the 64-element vectors w0:w1 (32 each),
 * j < 8. */
LLVMValueRef alc_cg_logw_words(struct alc_cg *g, LLVMValueRef w0,
                               LLVMValueRef w1, int j);

/* Moments in float (jit_codegen.c's "Moments in float"). */
/* i1: all 64 BF16 weights w0:w1 have |w| (15 bits) - lo < span unsigned
 * (lo, span <32 x i16>; alc_cg_fm_consts' window), or are +-0 as well when
 * zeros. */
LLVMValueRef alc_cg_fm_window(struct alc_cg *g, LLVMValueRef w0,
                              LLVMValueRef w1, LLVMValueRef lo,
                              LLVMValueRef span, int zeros);
/* From B = 128 (127 + e0) (i32): J's bias (<16 x i32>) and the window
 * of alc_cg_fm_window, lo and span (<32 x i16>). */
void alc_cg_fm_consts(struct alc_cg *g, LLVMValueRef B, LLVMValueRef *bias,
                      LLVMValueRef *lo, LLVMValueRef *span);
/* a[o] (<16 x i32>, o = 2 h + s < 4): dword 4 l + k holds |w| (low word)
 * and TQ[m] - 32768 (high word) of element 32 h + 8 l + 4 s + k of w0:w1
 * (jit_logw.c's "Moments in float"; read in registers, VBMI). */
void alc_cg_fm_pairs(struct alc_cg *g, LLVMValueRef w0, LLVMValueRef w1,
                     LLVMValueRef *a);
/* J = bias + 4096 |w| + TQ - 32768 of a's lanes as <16 x float> (exact in
 * the window; bias from alc_cg_fm_consts; AVX-512 VNNI). */
LLVMValueRef alc_cg_fm_j(struct alc_cg *g, LLVMValueRef a, LLVMValueRef bias);
/* <16 x i1>: which of a's lanes are +-0. */
LLVMValueRef alc_cg_fm_zeros(struct alc_cg *g, LLVMValueRef a);
/* fl32(ln 2), the float path's ln 2. */
float alc_jit_fm_ln2f(void);
/* Weights read for K and e0: the first this many of a matrix. */
#define ALC_FM_SAMPLE 512
/* Header doubles after lact's 2 cols: flag, K, e0, 0; then cols floats. */
#define ALC_FM_HDR 4
/* Host side of one BF16 matrix (n weights w, per-column log|act| la, act):
 * hdr[0] = 1 when the float path may run (every la finite; and act > 0
 * when need_pos), hdr[1] = the shift K, hdr[2] = e0; c the float column
 * terms fl32(la[j] - Kc - delta), in alc_cg_fm_pairs's lane order
 * within each whole block of 64 columns. z0: alc_cg_fm_zero's. */
void alc_jit_fm_prepare(const uint16_t *w, int64_t n, const double *la,
                        const double *act, int64_t cols, int need_pos,
                        double z0, double *hdr, float *c);
/* Prefetches the weights alc_jit_fm_prepare samples for K (the first
 * ALC_FM_SAMPLE of w's n), so that they arrive while other host work runs. */
void alc_jit_fm_prefetch_sample(const uint16_t *w, int64_t n);
/* The float path's value of log on zero weights (the constant of
 * where(wanda == 0, k, ...)) for the first pass that has the path, or NaN:
 * the host counts zeros at this value when it picks K. */
double alc_cg_fm_zero(const struct alc_ir *ir, const struct alc_plan *plan,
                      const struct alc_jit_opts *opts);

/* ---- jit_codegen.c ---- */

/* Adds the pass functions <prefix>p<k>_<dtype> of plan to g->mod. */
int alc_cg_plan(struct alc_cg *g, const struct alc_ir *ir,
                const struct alc_plan *plan, const char *prefix,
                struct alc_diag *d);
/* Which of act's per-column logs (the lact argument of the pass
 * functions) some pass of plan reads under opts: ALC_CG_LACT_* bits. */
#define ALC_CG_LACT_ABS 1    /* log|act_j|, lact[j] */
#define ALC_CG_LACT_SIGNED 2 /* log(act_j), lact[cols + j] */
#define ALC_CG_LACT_FM                                                         \
    4                        /* BF16 moments in float: ALC_FM_HDR doubles      \
                                at lact[2 cols], then cols floats */
#define ALC_CG_LACT_FM_POS 8 /* ... which need act > 0 (log(wanda)) */
int alc_cg_reads_lact(const struct alc_ir *ir, const struct alc_plan *plan,
                      const struct alc_jit_opts *opts);
/* Adds <prefix><name> wrappers y = f(x) over arrays for each vector math
 * function (alc_jit_vfn). */
int alc_cg_vmath_module(struct alc_cg *g, const char *prefix,
                        struct alc_diag *d);

/* Names of the dtypes in function names, indexed by enum alc_dtype. */
extern const char *const alc_cg_dtype_suffix[ALC_DT_COUNT];
extern const char *const alc_cg_vfn_name[ALC_VFN_COUNT];

/* Raw per-lane slots an accumulator kind writes (VAR: n, K, s1, s2). */
extern const int alc_cg_raw_slots[ALC_ACC_COUNT];

#endif /* ALC_JIT_INTERNAL_H */
