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

#define ALC_VL 8 /* lanes per vector */

/* Code-generation context of one module. */
struct alc_cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    const struct alc_jit_opts *opts;
    /* scalar types */
    LLVMTypeRef t_f64, t_f32, t_f16, t_i64, t_i32, t_i16, t_i1, t_ptr,
        t_void;
    /* vector types, ALC_VL lanes */
    LLVMTypeRef v_f64, v_f32, v_f16, v_i64, v_i32, v_i16, v_i1;
};

void alc_cg_types(struct alc_cg *g);

/* Splat constants and values. */
LLVMValueRef alc_cg_vf(struct alc_cg *g, double x);
LLVMValueRef alc_cg_vi(struct alc_cg *g, uint64_t x); /* <VL x i64> */
LLVMValueRef alc_cg_splat(struct alc_cg *g, LLVMValueRef scalar);
/* Calls an overloaded intrinsic (overload types tys[0 .. n_tys)). */
LLVMValueRef alc_cg_intrinsic(struct alc_cg *g, const char *name,
                              LLVMTypeRef *tys, int n_tys,
                              LLVMValueRef *args, int n_args);
/* Calls a libm function on each lane (1 or 2 operands). */
LLVMValueRef alc_cg_libm(struct alc_cg *g, const char *fn, LLVMValueRef a,
                         LLVMValueRef b);
LLVMValueRef alc_cg_fma(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b,
                        LLVMValueRef c);
LLVMValueRef alc_cg_fcmp(struct alc_cg *g, LLVMRealPredicate p,
                         LLVMValueRef a, LLVMValueRef b);
LLVMValueRef alc_cg_select(struct alc_cg *g, LLVMValueRef c, LLVMValueRef a,
                           LLVMValueRef b);

/* ---- jit_vmath.c: vector math on <VL x double> ---- */

/* log, exp, log1p: libm per lane when opts->libm, else the vectorised
 * implementations; each result scaled by (1 + opts->perturb) if set. */
LLVMValueRef alc_vm_log(struct alc_cg *g, LLVMValueRef x);
LLVMValueRef alc_vm_exp(struct alc_cg *g, LLVMValueRef x);
LLVMValueRef alc_vm_log1p(struct alc_cg *g, LLVMValueRef x);

/* ---- jit_codegen.c ---- */

/* Adds the pass functions <prefix>p<k>_<dtype> of plan to g->mod. */
int alc_cg_plan(struct alc_cg *g, const struct alc_ir *ir,
                const struct alc_plan *plan, const char *prefix,
                struct alc_diag *d);
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
