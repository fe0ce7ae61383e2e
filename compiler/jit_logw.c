/*
 * jit_logw.c: log|w| of 16-bit weights by table instead of by the vector
 * log (jit_vmath.c, ~35 vector operations per 8 elements). Called by
 * jit_codegen.c, which rewrites log(wanda), log(abs(wanda)), log(weight),
 * log pushed through where/abs and the log inside geomean/entropy into
 * lookups of log|w| plus a per-column log of the activation norm, and by
 * jit_llvm.c, which hands the tables to the pass functions.
 *
 * The identity. For 16-bit weights the Wanda metric |w| act is exact in
 * double (an 8- or 11-bit significand times a 24-bit one, exponents far
 * inside the double range), so log(wanda) = log|w| + log(act) is exact in
 * real arithmetic; we compute fl(T[w] + L[col]) with T and L each within
 * 1 ulp, and the special values line up (see jit_codegen.c's "Logs by
 * table" section for the case list).
 *
 * The tables, one per 16-bit dtype, indexed by the 15 magnitude bits
 * (32768 doubles, 256 KB): F16 holds libm's log of every value, i.e. the
 * interpreter's own log|w| bit for bit. BF16 holds, for normal values, the
 * formula the in-register lookup below computes,
 *
 *   T = e ln2 + log(m), m in [sqrt(2)/2, sqrt(2)), e integer, evaluated as
 *       fma(e, LN2_HI, fma(e, LN2_LO, TM[m]))
 *
 * with TM[m] libm's log of the 128 possible m (the split at sqrt(2) is
 * fdlibm's: it keeps T free of cancellation for |w| near 1). Over all
 * 32512 normal BF16 magnitudes this is within 0.9 ulp of the exact log
 * (190 differ from the correctly rounded value; tests/test_jit.c checks
 * every entry against logl). Zeros, subnormals, inf and NaN hold libm's log.
 *
 * Reading T. A gather per 8 elements is the portable way (LLVM lowers
 * llvm.masked.gather to vgatherdpd on AVX2 and AVX-512). Gathers run at
 * about one element per cycle here (measured on a Zen 5 EPYC: 2.1-2.4 G
 * elements/s per core, table in L1 or L2 alike), a ceiling far below the
 * memory bandwidth, so for BF16 on hosts with AVX-512 VBMI the pass
 * functions also read T from registers, 64 weights at a time:
 *   1. one vpermi2b gathers the 64 low bytes (the 7 mantissa bits and the
 *      exponent's lowest bit) in a permuted order;
 *   2. eight vpermi2b look up byte p of TM[m] (byte planes of the
 *      128-entry table, two registers per plane, 7-bit indices);
 *   3. 24 unpacks (bytes, words, dwords) transpose the planes back into 8
 *      vectors of 8 doubles -- the permutation of step 1 is the inverse of
 *      the transposition's, so the doubles come out in element order;
 *   4. e from the 16-bit words, then the two fused multiply-adds.
 * Zero weights (the formula's e = -127) are patched to -inf afterwards,
 * in blocks that have any; subnormal, inf or NaN weights make the block
 * of 64 take the gathers instead. Both ways produce the table's values,
 * so results do not depend on the path or the host.
 */
#include <math.h>
#include <pthread.h>

#include "jit_internal.h"
#include "llvm_compat.h"

/* fl32(ln 2), the float path's ln 2: I ln2f / 128 is exact in a float
 * fma's product for |I| < 2^24 */
#define LN2F_BITS 0x3f317218u

/* ---- Host tables ---- */

/* The tables of log|w| and TM are logw_table.c's (shared with the CUDA
 * backend); the float path's TQ is the JIT's own. */
static uint16_t tq16[128]; /* moments in float: TQ[m] - 32768 as int16 bits */
static pthread_once_t tq_once = PTHREAD_ONCE_INIT;

static void tq_init(void)
{
    double (*lg)(double) = alc_op_table[ALC_OP_LOG].map1;
    double ln2f = (double)alc_jit_fm_ln2f();
    for (int m = 0; m < 128; m++) {
        double tl = lg(1.0 + m / 128.0) - m * (ln2f / 128.0);
        long v = lrint(tl / (ln2f * 0x1p-19)); /* 0 <= v <= 45170 */
        tq16[m] = (uint16_t)(v - 32768 + 65536);
    }
}

int alc_jit_logw_in_registers(void)
{
    return alc_llvm_host_has("avx512vbmi") && alc_llvm_host_has("avx512bw");
}

/* ---- Gathers ---- */

LLVMValueRef alc_cg_logw_gather(struct alc_cg *g, LLVMValueRef table,
                                LLVMValueRef bits)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef idx = LLVMBuildZExt(b, bits, g->v_i32, "");
    idx = LLVMBuildAnd(b, idx,
                       alc_cg_splat(g, LLVMConstInt(g->t_i32, 0x7fff, 0)), "");
    LLVMValueRef ptrs = LLVMBuildGEP2(b, g->t_f64, table, &idx, 1, "");
    LLVMValueRef ones[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        ones[i] = LLVMConstInt(g->t_i1, 1, 0);
    }
    LLVMTypeRef tys[2] = {g->v_f64, LLVMTypeOf(ptrs)};
    LLVMValueRef args[4] = {ptrs, LLVMConstInt(g->t_i32, 8, 0),
                            LLVMConstVector(ones, ALC_VL),
                            LLVMGetPoison(g->v_f64)};
    return alc_cg_intrinsic(g, "llvm.masked.gather", tys, 2, args, 4);
}

/* ---- In-register lookup for BF16 (AVX-512 VBMI) ---- */

static LLVMValueRef const_bytes(struct alc_cg *g, const uint8_t *x)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(g->ctx);
    LLVMValueRef e[64];
    for (int i = 0; i < 64; i++) {
        e[i] = LLVMConstInt(i8, x[i], 0);
    }
    return LLVMConstVector(e, 64);
}

static LLVMValueRef splat_int(LLVMTypeRef t, int n, unsigned x)
{
    LLVMValueRef e[32];
    for (int i = 0; i < n; i++) {
        e[i] = LLVMConstInt(t, x, 0);
    }
    return LLVMConstVector(e, (unsigned)n);
}

static LLVMValueRef splat16(struct alc_cg *g, int n, unsigned x)
{
    return splat_int(g->t_i16, n, x);
}

/* vpermi2b: byte i of the result is (idx[i] & 64 ? hi : lo)[idx[i] & 63]. */
static LLVMValueRef permi2b(struct alc_cg *g, LLVMValueRef lo, LLVMValueRef idx,
                            LLVMValueRef hi)
{
    LLVMValueRef args[3] = {lo, idx, hi};
    return alc_cg_intrinsic(g, "llvm.x86.avx512.vpermi2var.qi.512", NULL, 0,
                            args, 3);
}

/* x86's unpack{lo,hi} on 512-bit vectors of n elements: within each
 * 128-bit lane, the low (high) halves of a and b interleaved. */
static LLVMValueRef unpack(struct alc_cg *g, LLVMValueRef a, LLVMValueRef b,
                           int n, int high)
{
    LLVMValueRef m[64];
    int per = n / 4; /* elements per 128-bit lane */
    for (int o = 0; o < n; o++) {
        int l = o / per, k = (o % per) / 2, s = o % 2;
        int src = s * n + l * per + k + high * per / 2;
        m[o] = LLVMConstInt(g->t_i32, (unsigned long long)src, 0);
    }
    return LLVMBuildShuffleVector(g->b, a, b, LLVMConstVector(m, (unsigned)n),
                                  "");
}

static LLVMValueRef cast(struct alc_cg *g, LLVMValueRef v, LLVMTypeRef t)
{
    return LLVMBuildBitCast(g->b, v, t, "");
}

/*
 * The byte index of step 1: the transposition (three unpack levels, bits
 * s1 s2 s3 of the output register) leaves byte position q = 16 l + 8 s1 +
 * 4 s2 + 2 s3 + k of the planes in qword 2 l + k of output 4 s1 + 2 s2 +
 * s3; position q must therefore hold element 8 (4 s1 + 2 s2 + s3) + 2 l +
 * k, whose low byte is byte 2 e of the 128 bytes of the two word vectors.
 * With r = q mod 16 and n = 2 values per lane that is e = 4 n (r / n) +
 * n l + r mod n; the four planes of floats (two levels, n = 4) give the
 * same formula: byte 16 l + 8 s1 + 4 s2 + k (k < 4) lands in dword 4 l +
 * k of output 2 s1 + s2 = r / 4.
 */
static void step1_index(uint8_t *ix, int n)
{
    for (int q = 0; q < 64; q++) {
        int l = q / 16, r = q % 16;
        int e = 4 * n * (r / n) + n * l + r % n;
        ix[q] = (uint8_t)(2 * e);
    }
}

/* P[p] (p < width) = byte p of tab[idx] for the 64 7-bit indices lo,
 * tab 128 values of width bytes (byte planes, two registers each). */
static void byte_planes(struct alc_cg *g, LLVMValueRef lo, const void *tab,
                        size_t width, LLVMValueRef *P)
{
    uint8_t pl[2][64];
    for (size_t p = 0; p < width; p++) {
        for (int i = 0; i < 128; i++) {
            uint64_t u = 0;
            memcpy(&u, (const char *)tab + (size_t)i * width, width);
            pl[i / 64][i % 64] = (uint8_t)(u >> (8 * p));
        }
        P[p] = permi2b(g, const_bytes(g, pl[0]), lo, const_bytes(g, pl[1]));
    }
}

/* TM[m] as doubles for the 64 weights of w0:w1 (<32 x i16> each), q[j]
 * holding elements 8 j .. 8 j + 7. */
static void planes_lookup(struct alc_cg *g, LLVMValueRef w0, LLVMValueRef w1,
                          LLVMValueRef *q)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(g->ctx);
    LLVMTypeRef b64 = LLVMVectorType(i8, 64);
    uint8_t ix[64];
    step1_index(ix, 2);
    LLVMValueRef lo =
        permi2b(g, cast(g, w0, b64), const_bytes(g, ix), cast(g, w1, b64));
    LLVMValueRef P[8], W[4][2], D[2][2][2];
    byte_planes(g, lo, alc_logw_tm_bf16(), sizeof(double), P);
    for (int k = 0; k < 4; k++) { /* plane pairs (0 1) (2 3) (4 5) (6 7) */
        for (int s1 = 0; s1 < 2; s1++) {
            W[k][s1] = unpack(g, P[2 * k], P[2 * k + 1], 64, s1);
        }
    }
    LLVMTypeRef w32 = LLVMVectorType(g->t_i16, 32),
                d16 = LLVMVectorType(g->t_i32, 16);
    for (int s1 = 0; s1 < 2; s1++) {
        for (int h = 0; h < 2; h++) { /* planes 0-3, 4-7 */
            for (int s2 = 0; s2 < 2; s2++) {
                D[s1][h][s2] = unpack(g, cast(g, W[2 * h][s1], w32),
                                      cast(g, W[2 * h + 1][s1], w32), 32, s2);
            }
        }
    }
    for (int s1 = 0; s1 < 2; s1++) {
        for (int s2 = 0; s2 < 2; s2++) {
            for (int s3 = 0; s3 < 2; s3++) {
                LLVMValueRef v = unpack(g, cast(g, D[s1][0][s2], d16),
                                        cast(g, D[s1][1][s2], d16), 16, s3);
                q[4 * s1 + 2 * s2 + s3] = cast(g, v, g->v_f64);
            }
        }
    }
}

/* Words 8 j .. 8 j + 7 of w0:w1. */
LLVMValueRef alc_cg_logw_words(struct alc_cg *g, LLVMValueRef w0,
                               LLVMValueRef w1, int j)
{
    LLVMValueRef m[ALC_VL];
    for (int i = 0; i < ALC_VL; i++) {
        m[i] = LLVMConstInt(g->t_i32, (unsigned long long)(8 * (j % 4) + i), 0);
    }
    LLVMValueRef src = j < 4 ? w0 : w1;
    return LLVMBuildShuffleVector(g->b, src, LLVMGetPoison(LLVMTypeOf(src)),
                                  LLVMConstVector(m, ALC_VL), "");
}

/*
 * e of elements 8 j .. 8 j + 7 as doubles, from the biased exponents eb
 * (<32 x i16>, words of the half j / 4): one vpermt2w places each eb in
 * the low word of a qword whose top word is 0x4330, i.e. the double
 * 2^52 + eb, and 2^52 + 127 is subtracted (exact). Cheaper than sign
 * extension and vcvtdq2pd.
 */
static LLVMValueRef expo_double(struct alc_cg *g, LLVMValueRef eb, int j)
{
    LLVMValueRef idx[32], k[32];
    for (int o = 0; o < 32; o++) {
        int part = o % 4, src = 8 * (j % 4) + o / 4;
        idx[o] = LLVMConstInt(g->t_i16,
                              part == 0 ? (unsigned)src : 32u + (part == 3), 0);
        k[o] = LLVMConstInt(g->t_i16, o == 1 ? 0x4330 : 0, 0);
    }
    LLVMValueRef args[3] = {eb, LLVMConstVector(idx, 32),
                            LLVMConstVector(k, 32)};
    LLVMValueRef v = alc_cg_intrinsic(g, "llvm.x86.avx512.vpermi2var.hi.512",
                                      NULL, 0, args, 3);
    return LLVMBuildFSub(g->b, cast(g, v, g->v_f64),
                         alc_cg_vf(g, 0x1p52 + 127.0), "");
}

void alc_cg_logw_planes(struct alc_cg *g, LLVMValueRef w0, LLVMValueRef w1,
                        LLVMValueRef *out)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef q[8], eb[2], w[2] = {w0, w1};
    planes_lookup(g, w0, w1, q);
    for (int h = 0; h < 2; h++) { /* biased e = (w & 0x7fff) + 75 >> 7 */
        LLVMValueRef v = LLVMBuildAnd(b, w[h], splat16(g, 32, 0x7fff), "");
        v = LLVMBuildAdd(b, v, splat16(g, 32, 128 - ALC_LOGW_SPLIT_M), "");
        eb[h] = LLVMBuildLShr(b, v, splat16(g, 32, 7), "");
    }
    LLVMValueRef hi = alc_cg_vf(g, alc_logw_bits(ALC_LOGW_LN2_HI_BITS));
    LLVMValueRef lo = alc_cg_vf(g, alc_logw_bits(ALC_LOGW_LN2_LO_BITS));
    for (int j = 0; j < 8; j++) {
        LLVMValueRef ed = expo_double(g, eb[j / 4], j);
        out[j] = alc_cg_fma(g, ed, hi, alc_cg_fma(g, ed, lo, q[j]));
    }
}

LLVMValueRef alc_cg_logw_special(struct alc_cg *g, LLVMValueRef w0,
                                 LLVMValueRef w1)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef w[2] = {w0, w1}, any = NULL;
    for (int h = 0; h < 2; h++) { /* t = |w|: 0 < t < 0x80 or t > 0x7f7f */
        LLVMValueRef t = LLVMBuildAnd(b, w[h], splat16(g, 32, 0x7fff), "");
        LLVMValueRef tm1 = LLVMBuildSub(b, t, splat16(g, 32, 1), "");
        LLVMValueRef sub =
            LLVMBuildICmp(b, LLVMIntULT, tm1, splat16(g, 32, 0x7f), "");
        LLVMValueRef inf =
            LLVMBuildICmp(b, LLVMIntUGT, t, splat16(g, 32, 0x7f7f), "");
        LLVMValueRef s = LLVMBuildOr(b, sub, inf, "");
        any = any == NULL ? s : LLVMBuildOr(b, any, s, "");
    }
    LLVMValueRef bits = LLVMBuildBitCast(b, any, g->t_i32, "");
    return LLVMBuildICmp(b, LLVMIntNE, bits, LLVMConstInt(g->t_i32, 0, 0), "");
}

LLVMValueRef alc_cg_logw_zeros(struct alc_cg *g, LLVMValueRef w0,
                               LLVMValueRef w1, LLVMValueRef *lanes)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef w[2] = {w0, w1}, z[2];
    for (int h = 0; h < 2; h++) {
        LLVMValueRef t = LLVMBuildAnd(b, w[h], splat16(g, 32, 0x7fff), "");
        z[h] = LLVMBuildICmp(b, LLVMIntEQ, t, splat16(g, 32, 0), "");
    }
    for (int j = 0; j < 8; j++) {
        lanes[j] = alc_cg_logw_words(g, z[0], z[1], j);
    }
    LLVMValueRef any = LLVMBuildOr(b, z[0], z[1], "");
    LLVMValueRef bits = LLVMBuildBitCast(b, any, g->t_i32, "");
    return LLVMBuildICmp(b, LLVMIntNE, bits, LLVMConstInt(g->t_i32, 0, 0), "");
}

/* ---- Moments in float (jit_codegen.c's "Moments in float") ----
 *
 * log|w| of a normal BF16 magnitude v = 128 e + m (e the biased exponent)
 * is (e - 127) ln 2 + log(1 + m / 128). The float path splits it as
 *
 *   J ln2f / 2^19,  J = 4096 I + TQ[m],  I = v - 128 (127 + e0),
 *   TQ[m] = round((log(1 + m / 128) - m ln2f / 128) 2^19 / ln2f)
 *
 * (0 <= TQ <= 45170 < 2^16): the exponent and the mantissa's linear part
 * come from the integer I, the rest of log(1 + m / 128) from TQ, a 16-bit
 * fixed-point table in steps of q = ln2f / 2^19 = 1.3e-6. J is an exact
 * integer, and exact as a float while |J| < 2^24, i.e. |I| < 4064 (the
 * weight within 2^31.75 of 2^e0, alc_cg_fm_window); its product by q (a
 * float, ln2f scaled by a power of 2) is exact in the fma that adds the
 * column term. Per 64 weights, in registers:
 *   1. one vpermi2b gathers the 64 low bytes (7 mantissa bits, index);
 *   2. two vpermi2b look up the two bytes of TQ (byte planes, two
 *      registers each) and two unpacks (bytes) make TQ words in element
 *      order, one vector per vector of weights;
 *   3. four unpacks (words) pair each |w| with its TQ in a dword, so one
 *      vpdpwssd per 16 weights computes bias + 4096 |w| + (TQ - 32768)
 *      = J (the bias folds in 128 (127 + e0) 4096 and TQ's offset, which
 *      makes it a signed word), and one vcvtdq2ps makes it a float.
 * Output vector o = 2 h + s, dword 4 l + k (l, k < 4) holds element
 * 32 h + 8 l + 4 s + k of the block (the unpacks' order); the host stores
 * the column terms in that order (alc_jit_fm_prepare). The only roundings
 * are TQ's (at most q / 2 = 6.6e-7, the same for every weight with that
 * mantissa) and the arithmetic on centred values; jit_codegen.c bounds
 * them. That is 35 vector operations per 64 weights where four float byte
 * planes (TL looked up as a float, exact to 2^-24 relative, added to the
 * column term before the fma) took 43: one L3-resident unit on one thread
 * went from 21.7 to 23.3 GB/s (measured, Zen 5; from DRAM the loop waits
 * on memory as well, see fm_row_fn's pipeline in jit_codegen.c).
 */

float alc_jit_fm_ln2f(void)
{
    uint32_t u = LN2F_BITS;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The byte index of step 1: byte q = 16 l + 8 s1 + k (k < 8) of the planes
 * lands in word 8 l + k of output s1 of the byte unpacks; it must hold
 * element 32 s1 + 8 l + k, whose low byte is byte 2 e of w0:w1. */
static void fm_index(uint8_t *ix)
{
    for (int q = 0; q < 64; q++) {
        int l = q / 16, s1 = (q / 8) % 2, k = q % 8;
        ix[q] = (uint8_t)(2 * (32 * s1 + 8 * l + k));
    }
}

/* |I| bound of the window: 4096 FM_WINDOW + max TQ < 2^24 */
#define FM_WINDOW 4064

static LLVMValueRef splat32(struct alc_cg *g, uint32_t x)
{
    return splat_int(g->t_i32, 16, x);
}

void alc_cg_fm_pairs(struct alc_cg *g, LLVMValueRef w0, LLVMValueRef w1,
                     LLVMValueRef *a)
{
    LLVMBuilderRef b = g->b;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(g->ctx);
    LLVMTypeRef b64 = LLVMVectorType(i8, 64);
    LLVMTypeRef w32 = LLVMVectorType(g->t_i16, 32);
    LLVMTypeRef d16 = LLVMVectorType(g->t_i32, 16);
    LLVMValueRef w[2] = {w0, w1};
    uint8_t ix[64];
    pthread_once(&tq_once, tq_init);
    fm_index(ix);
    LLVMValueRef lo =
        permi2b(g, cast(g, w0, b64), const_bytes(g, ix), cast(g, w1, b64));
    LLVMValueRef P[2];
    byte_planes(g, lo, tq16, sizeof tq16[0], P);
    for (int h = 0; h < 2; h++) {
        LLVMValueRef tq = cast(g, unpack(g, P[0], P[1], 64, h), w32);
        /* |w| as words: the same value alc_cg_fm_window tests (shared) */
        LLVMValueRef m = LLVMBuildAnd(b, w[h], splat16(g, 32, 0x7fff), "");
        for (int s = 0; s < 2; s++) {
            a[2 * h + s] = cast(g, unpack(g, m, tq, 32, s), d16);
        }
    }
}

/* The i32 x clamped to the normal magnitudes' [0x80, 0x7f80]. */
static LLVMValueRef clamp_normal(struct alc_cg *g, LLVMValueRef x)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef lo = LLVMConstInt(g->t_i32, 0x80, 0);
    LLVMValueRef hi = LLVMConstInt(g->t_i32, 0x7f80, 0);
    x = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, lo, ""), lo, x, "");
    return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, x, hi, ""), hi, x,
                           "");
}

void alc_cg_fm_consts(struct alc_cg *g, LLVMValueRef B, LLVMValueRef *bias,
                      LLVMValueRef *lo, LLVMValueRef *span)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef k = LLVMConstInt(g->t_i32, FM_WINDOW, 0);
    /* J's bias: -4096 B, and 32768 for TQ stored minus 32768 */
    LLVMValueRef bb = LLVMBuildSub(
        b, LLVMConstInt(g->t_i32, 32768, 0),
        LLVMBuildMul(b, B, LLVMConstInt(g->t_i32, 4096, 0), ""), "");
    *bias = alc_cg_splat_n(g, bb, 16);
    /* |w| in [max(0x80, B - FM_WINDOW), min(0x7f80, B + FM_WINDOW)): |I| <
     * FM_WINDOW, so |J| < 2^24; and no zero, subnormal, inf or NaN */
    LLVMValueRef l = clamp_normal(g, LLVMBuildSub(b, B, k, ""));
    LLVMValueRef h = clamp_normal(g, LLVMBuildAdd(b, B, k, ""));
    *lo = alc_cg_splat_n(g, LLVMBuildTrunc(b, l, g->t_i16, ""), 32);
    *span = alc_cg_splat_n(
        g, LLVMBuildTrunc(b, LLVMBuildSub(b, h, l, ""), g->t_i16, ""), 32);
}

LLVMValueRef alc_cg_fm_j(struct alc_cg *g, LLVMValueRef a, LLVMValueRef bias)
{
    /* LLVM 16's operands are <16 x i32> (later versions: <32 x i16>) */
    LLVMValueRef args[3] = {bias, a, splat32(g, 0x00011000u)}; /* 4096, 1 */
    LLVMValueRef j =
        alc_cg_intrinsic(g, "llvm.x86.avx512.vpdpwssd.512", NULL, 0, args, 3);
    return LLVMBuildSIToFP(g->b, j, LLVMVectorType(g->t_f32, 16), "");
}

LLVMValueRef alc_cg_fm_zeros(struct alc_cg *g, LLVMValueRef a)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef m = LLVMBuildAnd(b, a, splat32(g, 0xffffu), "");
    return LLVMBuildICmp(b, LLVMIntEQ, m, splat32(g, 0), "");
}

LLVMValueRef alc_cg_fm_window(struct alc_cg *g, LLVMValueRef w0,
                              LLVMValueRef w1, LLVMValueRef lo,
                              LLVMValueRef span, int zeros)
{
    LLVMBuilderRef b = g->b;
    LLVMValueRef w[2] = {w0, w1}, any = NULL;
    /* as "any lane out", so that the backend emits a compare and a
     * compare masked by it per half and one kortestd of the two: "all
     * lanes in (or zero)" took two kord and a kandd more, and k-register
     * operations are scarce here (DSA's float loop: 17.9 -> 16.2 cycles
     * per 64 weights on L1-resident data; a whole evaluation on
     * bench_alloc's set, 2 threads, interleaved: 13.2 -> 12.55 ms best,
     * 14.5 -> 13.6 ms median; measured, Zen 5) */
    for (int h = 0; h < 2; h++) { /* out: |w| - lo >= span (and |w| != 0) */
        LLVMValueRef t = LLVMBuildAnd(b, w[h], splat16(g, 32, 0x7fff), "");
        LLVMValueRef nz = LLVMBuildICmp(b, LLVMIntNE, t, splat16(g, 32, 0), "");
        t = LLVMBuildSub(b, t, lo, "");
        LLVMValueRef out = LLVMBuildICmp(b, LLVMIntUGE, t, span, "");
        out = zeros ? LLVMBuildAnd(b, out, nz, "") : out;
        any = any == NULL ? out : LLVMBuildOr(b, any, out, "");
    }
    LLVMValueRef bits = LLVMBuildBitCast(b, any, g->t_i32, "");
    return LLVMBuildICmp(b, LLVMIntEQ, bits, LLVMConstInt(g->t_i32, 0, 0), "");
}

void alc_jit_fm_prefetch_sample(const uint16_t *w, int64_t n)
{
    for (int64_t i = 0; i < n && i < ALC_FM_SAMPLE; i += 32) {
        __builtin_prefetch(w + i);
    }
}

void alc_jit_fm_prepare(const uint16_t *w, int64_t n, const double *la,
                        const double *act, int64_t cols, int need_pos,
                        double z0, double *hdr, float *c)
{
    const double *tab = alc_logw_table(ALC_DT_BF16);
    int ok = 1;
    double kc = 0.0, sw = 0.0, k4[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t j4 = cols / 4 * 4;
    /* four sums: one chain of dependent adds took ~1/4 of this function */
    for (int64_t j = 0; j < j4; j += 4) {
        for (int i = 0; i < 4; i++) {
            ok &= isfinite(la[j + i]) && (!need_pos || act[j + i] > 0.0);
            k4[i] += la[j + i];
        }
    }
    for (int64_t j = j4; j < cols; j++) {
        ok &= isfinite(la[j]) && (!need_pos || act[j] > 0.0);
        kc += la[j];
    }
    kc += (k4[0] + k4[1]) + (k4[2] + k4[3]);
    kc = cols > 0 ? kc / (double)cols : 0.0;
    /* x of a zero weight is z0 = (z0 - kc) + kc when the form has one */
    double zw = isfinite(z0) ? z0 - kc : 0.0;
    /* the first weights, not a spread sample: one page walk per sample
     * cost as much as the pass itself (measured) */
    int64_t k = 0;
    for (int64_t i = 0; i < n && i < ALC_FM_SAMPLE; i++) {
        unsigned v = w[i] & 0x7fffu;
        if (v >= 0x80 && v <= 0x7f7f) {
            sw += tab[v];
            k++;
        } else if (v == 0 && isfinite(z0)) {
            sw += zw;
            k++;
        }
    }
    double mw = k > 0 ? sw / (double)k : 0.0;
    double ln2f = (double)alc_jit_fm_ln2f();
    double e0 = nearbyint(mw / ln2f);
    double delta = mw - e0 * ln2f;
    hdr[0] = ok ? 1.0 : 0.0;
    hdr[1] = e0 * ln2f + kc + delta;
    hdr[2] = e0;
    hdr[3] = 0.0;
    /* within each whole block of 64 columns, in the lookup's order:
     * position 16 o + 4 l + e holds column 32 h + 8 l + 4 s + e, o = 2 h
     * + s (alc_cg_fm_pairs) */
    int64_t whole = cols / 64 * 64;
    for (int64_t j0 = 0; j0 < whole; j0 += 64) {
        for (int p = 0; p < 64; p++) {
            int o = p / 16, l = (p % 16) / 4, e = p % 4;
            int src = 32 * (o / 2) + 8 * l + 4 * (o % 2) + e;
            c[j0 + p] = ok ? (float)(la[j0 + src] - kc - delta) : 0.0f;
        }
    }
    for (int64_t j = whole; j < cols; j++) {
        c[j] = ok ? (float)(la[j] - kc - delta) : 0.0f;
    }
}
