/*
 * jit_vmath.c: vectorised double-precision log, exp and log1p emitted as
 * LLVM IR on <8 x double>, so the hot loops (DSA's var(log|wanda|)) stay in
 * vector registers instead of calling libm lane by lane. Straight-line
 * code, no tables, no gathers, no fast-math: the same bits on any x86-64
 * (explicit llvm.fma where used, which is an exactly rounded IEEE op).
 * Accuracy (tests/test_jit.c measures it against glibc over wide ranges,
 * subnormals, zeros, negatives, inf and NaN included): about 1 ulp.
 * Called by jit_codegen.c for log/exp/sigmoid/softplus/geomean/entropy.
 */
#include <math.h>

#include "jit_internal.h"

/* ---- Small builders ---- */

static double from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static LLVMValueRef vadd(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFAdd(g->b, a, b, "");
}

static LLVMValueRef vsub(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFSub(g->b, a, b, "");
}

static LLVMValueRef vmul(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(g->b, a, b, "");
}

static LLVMValueRef kf(struct alc_cg *g, double x)
{
    return alc_cg_vf(g, x);
}

/* ---- log ---- */

/* fdlibm's e_log.c constants (bit patterns from its source). */
#define LN2_HI 0x3fe62e42fee00000ull
#define LN2_LO 0x3dea39ef35793c76ull
#define LG1 0x3fe5555555555593ull
#define LG2 0x3fd999999997fa04ull
#define LG3 0x3fd2492494229359ull
#define LG4 0x3fcc71c51d8e78afull
#define LG5 0x3fc7466496cb03deull
#define LG6 0x3fc39a09d078c69full
#define LG7 0x3fc2f112df3e5244ull

/*
 * log(x) for finite x > 0, fdlibm's method: x = 2^k m with m in
 * [sqrt(2)/2, sqrt(2)), f = m - 1, s = f / (2 + f), log(1 + f) =
 * f - (hfsq - s (hfsq + R(s^2))) with a degree-14 minimax R; subnormals are
 * scaled by 2^52 first. fdlibm picks between two equivalent final forms by
 * the size of f; we always use the more accurate one, and evaluate R with
 * fused multiply-adds (error about 1 ulp; measured in tests/test_jit.c).
 */
static LLVMValueRef log_finite(struct alc_cg *g, LLVMValueRef x)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef tiny = alc_cg_fcmp(g, LLVMRealOLT, x, kf(g, 0x1p-1022));
    LLVMValueRef xs = alc_cg_select(g, tiny, vmul(g, x, kf(g, 0x1p52)), x);
    LLVMValueRef kadj = alc_cg_select(g, tiny, kf(g, -52.0), kf(g, 0.0));
    LLVMValueRef bits = LLVMBuildBitCast(b, xs, g->v_i64, "");
    LLVMValueRef mant =
        LLVMBuildAnd(b, bits, alc_cg_vi(g, 0x000fffffffffffffull), "");
    /* i = 2^52 when m >= ~sqrt(2): then m is halved and k incremented */
    LLVMValueRef i = LLVMBuildAnd(
        b, LLVMBuildAdd(b, mant, alc_cg_vi(g, 0x00095f6400000000ull), ""),
        alc_cg_vi(g, 0x0010000000000000ull), "");
    LLVMValueRef mbits = LLVMBuildOr(
        b, mant, LLVMBuildXor(b, i, alc_cg_vi(g, 0x3ff0000000000000ull), ""),
        "");
    LLVMValueRef m = LLVMBuildBitCast(b, mbits, g->v_f64, "");
    LLVMValueRef e =
        LLVMBuildAnd(b, LLVMBuildLShr(b, bits, alc_cg_vi(g, 52), ""),
                     alc_cg_vi(g, 0x7ff), "");
    e = LLVMBuildAdd(b, e, LLVMBuildLShr(b, i, alc_cg_vi(g, 52), ""), "");
    e = LLVMBuildSub(b, e, alc_cg_vi(g, 1023), "");
    LLVMValueRef k = vadd(g, LLVMBuildSIToFP(b, e, g->v_f64, ""), kadj);

    LLVMValueRef f = vsub(g, m, kf(g, 1.0));
    LLVMValueRef s = LLVMBuildFDiv(b, f, vadd(g, kf(g, 2.0), f), "");
    LLVMValueRef z = vmul(g, s, s);
    LLVMValueRef w = vmul(g, z, z);
    /* t1 = w (Lg2 + w (Lg4 + w Lg6)), t2 = z (Lg1 + w (Lg3 + w (Lg5 +
     * w Lg7))) in Horner form with fused multiply-adds */
    LLVMValueRef t1 =
        alc_cg_fma(g, w, kf(g, from_bits(LG6)), kf(g, from_bits(LG4)));
    t1 = vmul(g, w, alc_cg_fma(g, w, t1, kf(g, from_bits(LG2))));
    LLVMValueRef t2 =
        alc_cg_fma(g, w, kf(g, from_bits(LG7)), kf(g, from_bits(LG5)));
    t2 = alc_cg_fma(g, w, t2, kf(g, from_bits(LG3)));
    t2 = vmul(g, z, alc_cg_fma(g, w, t2, kf(g, from_bits(LG1))));
    LLVMValueRef R = vadd(g, t2, t1);
    LLVMValueRef hfsq = vmul(g, vmul(g, kf(g, 0.5), f), f);
    /* k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f); k ln2_hi is
     * exact (ln2_hi has 21 trailing zero bits), so the final fma rounds
     * exactly as fdlibm's multiply-then-subtract */
    LLVMValueRef inner = alc_cg_fma(g, s, vadd(g, hfsq, R),
                                    vmul(g, k, kf(g, from_bits(LN2_LO))));
    inner = vsub(g, vsub(g, hfsq, inner), f);
    return alc_cg_fma(g, k, kf(g, from_bits(LN2_HI)),
                      LLVMBuildFNeg(b, inner, ""));
}

/* C's log on every lane: -inf at +-0, NaN below 0 and for NaN, inf at
 * inf. Lanes with x > 0 take the core (inf patched); the others are -inf
 * at zero and NaN otherwise. */
static LLVMValueRef log_vec(struct alc_cg *g, LLVMValueRef x)
{
    LLVMValueRef res = log_finite(g, x);
    res = alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOEQ, x, kf(g, INFINITY)), x,
                        res);
    LLVMValueRef sp =
        alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOEQ, x, kf(g, 0.0)),
                      kf(g, -INFINITY), kf(g, NAN));
    return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOGT, x, kf(g, 0.0)), res,
                         sp);
}

/* ---- exp ---- */

/*
 * exp(x): k = rint(x / ln2), r = (x - k ln2_hi) - k ln2_lo (Cody-Waite,
 * ln2_hi has 21 trailing zero bits so k ln2_hi is exact), e^r by its Taylor
 * series to degree 13 in Horner form with fused multiply-adds (truncation
 * below 5e-18 for |r| <= ln2/2), then scaled by 2^k as 2^(k/2) 2^(k-k/2)
 * so results that overflow or underflow (subnormals) round once. x is
 * clamped to [-746, 710] first: outside, the result is 0 or inf anyway.
 */
static LLVMValueRef exp_vec(struct alc_cg *g, LLVMValueRef x)
{
    static const double inv_fact[14] = {
        1.0,
        1.0,
        1.0 / 2,
        1.0 / 6,
        1.0 / 24,
        1.0 / 120,
        1.0 / 720,
        1.0 / 5040,
        1.0 / 40320,
        1.0 / 362880,
        1.0 / 3628800,
        1.0 / 39916800,
        1.0 / 479001600,
        1.0 / 6227020800.0,
    };
    LLVMBuilderRef b = g->b;
    LLVMValueRef xc = alc_cg_select(
        g, alc_cg_fcmp(g, LLVMRealOGT, x, kf(g, 710.0)), kf(g, 710.0), x);
    xc = alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOLT, xc, kf(g, -746.0)),
                       kf(g, -746.0), xc);
    LLVMValueRef t = vmul(g, xc, kf(g, 1.4426950408889634));
    LLVMValueRef kd = alc_cg_intrinsic(g, "llvm.rint", &g->v_f64, 1, &t, 1);
    /* NaN lanes: fptosi(NaN) is poison, so convert 0 there instead */
    LLVMValueRef kd0 =
        alc_cg_select(g, alc_cg_fcmp(g, LLVMRealUNO, kd, kd), kf(g, 0.0), kd);
    LLVMValueRef ki = LLVMBuildFPToSI(b, kd0, g->v_i64, "");
    LLVMValueRef r = vsub(g, xc, vmul(g, kd, kf(g, from_bits(LN2_HI))));
    r = vsub(g, r, vmul(g, kd, kf(g, from_bits(LN2_LO))));
    LLVMValueRef p = kf(g, inv_fact[13]);
    for (int i = 12; i >= 0; i--) {
        p = alc_cg_fma(g, p, r, kf(g, inv_fact[i]));
    }
    LLVMValueRef k1 = LLVMBuildAShr(b, ki, alc_cg_vi(g, 1), "");
    LLVMValueRef k2 = LLVMBuildSub(b, ki, k1, "");
    LLVMValueRef s1 = LLVMBuildBitCast(
        b,
        LLVMBuildShl(b, LLVMBuildAdd(b, k1, alc_cg_vi(g, 1023), ""),
                     alc_cg_vi(g, 52), ""),
        g->v_f64, "");
    LLVMValueRef s2 = LLVMBuildBitCast(
        b,
        LLVMBuildShl(b, LLVMBuildAdd(b, k2, alc_cg_vi(g, 1023), ""),
                     alc_cg_vi(g, 52), ""),
        g->v_f64, "");
    return vmul(g, vmul(g, p, s1), s2);
}

/* ---- log1p ---- */

/* log1p(y) = log(u) + (y - (u - 1)) / u with u = 1 + y rounded: the
 * second term restores what rounding u lost. For y > -1 and +inf. */
static LLVMValueRef log1p_vec(struct alc_cg *g, LLVMValueRef y)
{
    LLVMValueRef u = vadd(g, kf(g, 1.0), y);
    LLVMValueRef c =
        LLVMBuildFDiv(g->b, vsub(g, y, vsub(g, u, kf(g, 1.0))), u, "");
    LLVMValueRef r = vadd(g, log_vec(g, u), c);
    return alc_cg_select(g, alc_cg_fcmp(g, LLVMRealOEQ, y, kf(g, INFINITY)),
                         kf(g, INFINITY), r);
}

/* ---- Entry points ---- */

LLVMValueRef alc_vm_log(struct alc_cg *g, LLVMValueRef x)
{
    return log_vec(g, x);
}

LLVMValueRef alc_vm_exp(struct alc_cg *g, LLVMValueRef x)
{
    return exp_vec(g, x);
}

LLVMValueRef alc_vm_log1p(struct alc_cg *g, LLVMValueRef x)
{
    return log1p_vec(g, x);
}
