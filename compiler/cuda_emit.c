/*
 * cuda_emit.c: CUDA C for the passes of a plan (plan.h), for NVRTC
 * (cuda_nvrtc.c) and `dsac emit --target cuda`. Called by cuda_backend.c.
 *
 * Shape of the code for pass k (names with the prefix, default "alc_"):
 *
 *   alc_pk_elem(w, act, rows, cols, u, x)   the pass's element-level nodes
 *       at one element, straight-line double code, one local per node; x[a]
 *       = accumulator a's input (its function applied: |v|, v*v, log v ...)
 *   alc_pk(A)   extern "C" __global__, ALC_THREADS threads per block, blocks
 *       loop over the tiles (grid-stride); per tile:
 *         thread t takes elements t*8 + 2048*s (8 at a time: one 16-byte
 *         load of BF16/F16, two of F32, converted in registers; act[col]
 *         likewise when cols % 8 == 0, else element by element);
 *         per-thread accumulators (sum; IEEE min/max; var as count, shift K
 *         = the thread's first value, sum (x-K), sum (x-K)^2);
 *         block reduction: a shuffle tree in each warp (offsets 16..1),
 *         the warps' partials through shared memory, a shuffle tree in
 *         warp 0 (offsets ALC_WARPS/2..1); thread 0 writes the tile's record
 *         (plan.h layout, acc->slot offsets) to rec[tile.rec];
 *         quantile operands are stored to store[] at the element's index in
 *         its unit.
 *   alc_combine(A)   (in the prelude, one for every pass and program) one
 *       block per unit (grid-stride): the unit's tile records combined in
 *       place in the pairwise tree of alc_plan_combine_tree ((0 1) (2 3)
 *       ..., then step 2, 4, ...), the result copied to out[unit]; the
 *       record layout (kind and slot of each accumulator) comes in
 *       A.layout.
 *
 * Every order is fixed by the tile and block size, so the result does not
 * depend on the device, the grid or the launch order. Element semantics are
 * ops.c's map functions in IEEE double; the emitted prelude implements the
 * NaN rules of ops.c and the combines of plan.c operation for operation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cuda_internal.h"

/* ---- The prelude ---- */

/* Everything after the #defines; see alc_cuda_emit_prelude. */
static const char prelude_body[] =
    "#define ALC_WARPS (ALC_THREADS / 32)\n"
    "#define ALC_FULL 0xffffffffu\n"
    "/* not static: NVRTC warns about unused static functions */\n"
    "#define ALC_FN __device__ __forceinline__\n"
    "static_assert(ALC_THREADS >= 32 && ALC_THREADS <= 1024 &&\n"
    "              (ALC_THREADS & (ALC_THREADS - 1)) == 0, \"block size\");\n"
    "static_assert(ALC_VEC == 8, \"the loads below move 8 elements\");\n"
    "\n"
    "/* One tile: elements [start, start + count) of one matrix, row-major\n"
    " * (host side: struct alc_cuda_tile in compiler/cuda_internal.h). */\n"
    "struct alc_tile {\n"
    "    const void *w;       /* (rows, cols) weights, dtype, 256-byte "
    "aligned */\n"
    "    const float *act;    /* (cols) act_j = ||X_j||_2 */\n"
    "    long long start;     /* first element, a multiple of ALC_TILE */\n"
    "    long long rows;\n"
    "    long long cols;\n"
    "    long long rec;       /* index of the tile's record in rec[] */\n"
    "    long long store_off; /* element `start`'s index in its unit */\n"
    "    long long col0;      /* start % cols */\n"
    "    int count;           /* elements, 1 .. ALC_TILE */\n"
    "    int unit;\n"
    "    int dtype;           /* ALC_DT_* */\n"
    "    int pad;\n"
    "    const double *lact;  /* (2, cols) log|act|, log act; or null */\n"
    "};\n"
    "\n"
    "/* The one parameter of every kernel (struct alc_cuda_args). */\n"
    "struct alc_args {\n"
    "    const struct alc_tile *tiles; /* (n_tiles) */\n"
    "    long long n_tiles;\n"
    "    const double *env;            /* (n_units, env_stride) node "
    "values */\n"
    "    long long env_stride;\n"
    "    double *rec;                  /* (tiles of all units, NS) "
    "records */\n"
    "    double *store;                /* (stores, store_stride) quantile "
    "values */\n"
    "    long long store_stride;\n"
    "    const long long *unit_first;  /* (n_units) first record */\n"
    "    const long long *unit_count;  /* (n_units) records */\n"
    "    long long n_units;\n"
    "    double *out;                  /* (n_units, NS) combined records */\n"
    "    const int *layout;            /* n_accs, then kind and slot of "
    "each */\n"
    "    long long n_slots;            /* NS: doubles per record */\n"
    "};\n"
    "static_assert(sizeof(struct alc_tile) == 88, \"alc_tile layout\");\n"
    "static_assert(sizeof(struct alc_args) == 104, \"alc_args layout\");\n"
    "\n"
    "ALC_FN double alc_inf(void)\n"
    "{\n"
    "    return __longlong_as_double(0x7ff0000000000000LL);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_nan(void)\n"
    "{\n"
    "    return __longlong_as_double(0x7ff8000000000000LL);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_b(bool c)\n"
    "{\n"
    "    return c ? 1.0 : 0.0;\n"
    "}\n"
    "\n"
    "/* ---- Weights: converted exactly to float, then double ---- */\n"
    "\n"
    "ALC_FN float alc_bf16(unsigned h)\n"
    "{\n"
    "    return __uint_as_float(h << 16);\n"
    "}\n"
    "\n"
    "/* IEEE half -> float, exact; NaN payloads kept (alc_f16_to_f32). */\n"
    "ALC_FN float alc_f16(unsigned h)\n"
    "{\n"
    "    const unsigned s = (h & 0x8000u) << 16;\n"
    "    const unsigned e = (h >> 10) & 0x1fu;\n"
    "    const unsigned m = h & 0x3ffu;\n"
    "    if (e == 0x1fu) {\n"
    "        return __uint_as_float(s | 0x7f800000u | (m << 13));\n"
    "    }\n"
    "    if (e == 0u) { /* zero or subnormal: m * 2^-24, exact */\n"
    "        const float v = (float)m * 0x1p-24f;\n"
    "        return s != 0u ? -v : v;\n"
    "    }\n"
    "    return __uint_as_float(s | ((e + 112u) << 23) | (m << 13));\n"
    "}\n"
    "\n"
    "/* The raw bytes of weights i .. i+8 of the tile into r[0..2) (F32: 32\n"
    " * bytes; BF16/F16: 16 in r[0]); nothing when fewer than 8 remain\n"
    " * (alc_w8 reads the tail itself). The loop calls it one step ahead, so\n"
    " * a thread has the next step's load in flight while it computes.\n"
    " * Weights are read once per pass: streaming loads (ld.global.cs) keep\n"
    " * them from evicting act from the caches. */\n"
    "ALC_FN void alc_wload(const struct alc_tile &T, int i, uint4 *r)\n"
    "{\n"
    "    if (T.count - i < ALC_VEC) {\n"
    "        return;\n"
    "    }\n"
    "    const long long e = T.start + i;\n"
    "    if (T.dtype == ALC_DT_F32) {\n"
    "        const uint4 *p = (const uint4 *)((const float *)T.w + e);\n"
    "        r[0] = __ldcs(p);\n"
    "        r[1] = __ldcs(p + 1);\n"
    "    } else {\n"
    "        r[0] = __ldcs((const uint4 *)((const unsigned short *)T.w + e));\n"
    "    }\n"
    "}\n"
    "\n"
    "/* w[0..8) = weights i .. i+8 converted: from r when m == 8, else the\n"
    " * m < 8 of the tile's end loaded one by one (16-bit formats: the raw\n"
    " * halves first, so that one conversion loop serves both cases). */\n"
    "ALC_FN void alc_w8(const struct alc_tile &T, int i, int m,\n"
    "                   const uint4 *r, float *w)\n"
    "{\n"
    "    const long long e = T.start + i;\n"
    "    if (T.dtype == ALC_DT_F32) {\n"
    "        const float *f = (const float *)T.w + e;\n"
    "        if (m == ALC_VEC) {\n"
    "            w[0] = __uint_as_float(r[0].x), w[1] = "
    "__uint_as_float(r[0].y);\n"
    "            w[2] = __uint_as_float(r[0].z), w[3] = "
    "__uint_as_float(r[0].w);\n"
    "            w[4] = __uint_as_float(r[1].x), w[5] = "
    "__uint_as_float(r[1].y);\n"
    "            w[6] = __uint_as_float(r[1].z), w[7] = "
    "__uint_as_float(r[1].w);\n"
    "            return;\n"
    "        }\n"
    "#pragma unroll\n"
    "        for (int j = 0; j < ALC_VEC; j++) {\n"
    "            w[j] = j < m ? f[j] : 0.0f;\n"
    "        }\n"
    "        return;\n"
    "    }\n"
    "    const unsigned short *p = (const unsigned short *)T.w + e;\n"
    "    unsigned h[ALC_VEC];\n"
    "    if (m == ALC_VEC) {\n"
    "        h[0] = r[0].x & 0xffffu, h[1] = r[0].x >> 16;\n"
    "        h[2] = r[0].y & 0xffffu, h[3] = r[0].y >> 16;\n"
    "        h[4] = r[0].z & 0xffffu, h[5] = r[0].z >> 16;\n"
    "        h[6] = r[0].w & 0xffffu, h[7] = r[0].w >> 16;\n"
    "    } else {\n"
    "#pragma unroll\n"
    "        for (int j = 0; j < ALC_VEC; j++) {\n"
    "            h[j] = j < m ? p[j] : 0u;\n"
    "        }\n"
    "    }\n"
    "    const bool bf = T.dtype == ALC_DT_BF16;\n"
    "#pragma unroll\n"
    "    for (int j = 0; j < ALC_VEC; j++) {\n"
    "        w[j] = bf ? alc_bf16(h[j]) : alc_f16(h[j]);\n"
    "    }\n"
    "}\n"
    "\n"
    "/* a[0..8) = act at the columns of those elements; c = column of the\n"
    " * first. With cols % 8 == 0 the 8 never wrap and c % 8 == 0. act\n"
    " * vectors are reread by every row: read-only cached loads. */\n"
    "ALC_FN void alc_a8(const struct alc_tile &T, long long c, int m, "
    "float *a)\n"
    "{\n"
    "    if (m == ALC_VEC && (T.cols & 7) == 0) {\n"
    "        const float4 p = __ldg((const float4 *)(T.act + c));\n"
    "        const float4 q = __ldg((const float4 *)(T.act + c + 4));\n"
    "        a[0] = p.x, a[1] = p.y, a[2] = p.z, a[3] = p.w;\n"
    "        a[4] = q.x, a[5] = q.y, a[6] = q.z, a[7] = q.w;\n"
    "        return;\n"
    "    }\n"
    "#pragma unroll\n"
    "    for (int j = 0; j < ALC_VEC; j++) {\n"
    "        a[j] = j < m ? T.act[c] : 0.0f;\n"
    "        c = c + 1 == T.cols ? 0 : c + 1;\n"
    "    }\n"
    "}\n"
    "\n"
    "/* ---- Element-wise ops: ops.c's definitions ---- */\n"
    "\n"
    "ALC_FN double alc_not(double x)\n"
    "{\n"
    "    return isnan(x) ? x : alc_b(x == 0.0);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_sigmoid(double x)\n"
    "{\n"
    "    return 1.0 / (1.0 + exp(-x));\n"
    "}\n"
    "\n"
    "ALC_FN double alc_softplus(double x)\n"
    "{\n"
    "    return x > 20.0 ? x : log1p(exp(x));\n"
    "}\n"
    "\n"
    "ALC_FN double alc_isnan(double x)\n"
    "{\n"
    "    return alc_b(isnan(x));\n"
    "}\n"
    "\n"
    "ALC_FN double alc_isinf(double x)\n"
    "{\n"
    "    return alc_b(isinf(x));\n"
    "}\n"
    "\n"
    "ALC_FN double alc_and(double a, double b)\n"
    "{\n"
    "    return isnan(a) || isnan(b) ? alc_nan() : alc_b(a != 0.0 && b != "
    "0.0);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_or(double a, double b)\n"
    "{\n"
    "    return isnan(a) || isnan(b) ? alc_nan() : alc_b(a != 0.0 || b != "
    "0.0);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_min2(double a, double b)\n"
    "{\n"
    "    return isnan(a) || isnan(b) ? alc_nan() : (a < b ? a : b);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_max2(double a, double b)\n"
    "{\n"
    "    return isnan(a) || isnan(b) ? alc_nan() : (a > b ? a : b);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_where(double c, double a, double b)\n"
    "{\n"
    "    return isnan(c) ? alc_nan() : (c != 0.0 ? a : b);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_clamp(double x, double lo, double hi)\n"
    "{\n"
    "    return alc_min2(alc_max2(x, lo), hi);\n"
    "}\n"
    "\n"
    "/* ---- Accumulator functions and combines: plan.c's ---- */\n"
    "\n"
    "ALC_FN double alc_af_nz(double x)\n"
    "{\n"
    "    return alc_b(x != 0.0 && !isnan(x));\n"
    "}\n"
    "\n"
    "ALC_FN double alc_af_pos(double x)\n"
    "{\n"
    "    return x >= 0.0 ? x : 0.0;\n"
    "}\n"
    "\n"
    "ALC_FN double alc_af_ge0(double x)\n"
    "{\n"
    "    return alc_b(x >= 0.0);\n"
    "}\n"
    "\n"
    "ALC_FN double alc_af_xlogx(double x)\n"
    "{\n"
    "    return x > 0.0 ? x * log(x) : 0.0;\n"
    "}\n"
    "\n"
    "ALC_FN void alc_comb_sum(double *a, const double *b)\n"
    "{\n"
    "    a[0] += b[0];\n"
    "}\n"
    "\n"
    "/* {m, i} states: plan.c's minmax_combine. NaN wins; else the\n"
    " * smaller (larger) value; of equal values (+0 and -0 among them) the\n"
    " * one with the earlier element index i. */\n"
    "ALC_FN void alc_comb_minmax(bool is_min, double *a, const double *b)\n"
    "{\n"
    "    if (isnan(a[0]) || isnan(b[0])) {\n"
    "        a[0] = alc_nan();\n"
    "        return;\n"
    "    }\n"
    "    const bool take = is_min ? b[0] < a[0] : b[0] > a[0];\n"
    "    if (take || (b[0] == a[0] && b[1] < a[1])) {\n"
    "        a[0] = b[0], a[1] = b[1];\n"
    "    }\n"
    "}\n"
    "\n"
    "ALC_FN void alc_comb_min(double *a, const double *b)\n"
    "{\n"
    "    alc_comb_minmax(true, a, b);\n"
    "}\n"
    "\n"
    "ALC_FN void alc_comb_max(double *a, const double *b)\n"
    "{\n"
    "    alc_comb_minmax(false, a, b);\n"
    "}\n"
    "\n"
    "/* {n, K, d, m2} states: plan.c's var_combine. */\n"
    "ALC_FN void alc_comb_var(double *a, const double *b)\n"
    "{\n"
    "    if (b[0] == 0.0) {\n"
    "        return;\n"
    "    }\n"
    "    if (a[0] == 0.0) {\n"
    "        a[0] = b[0], a[1] = b[1], a[2] = b[2], a[3] = b[3];\n"
    "        return;\n"
    "    }\n"
    "    const double n = a[0] + b[0];\n"
    "    const double delta = (b[1] - a[1]) + (b[2] - a[2]);\n"
    "    a[2] = a[2] + delta * (b[0] / n);\n"
    "    a[3] = a[3] + b[3] + delta * delta * (a[0] * b[0] / n);\n"
    "    a[0] = n;\n"
    "}\n"
    "\n"
    "/* plan.c's alc_plan_var_from_shifted. */\n"
    "ALC_FN void alc_var_shifted(double n, double K, double s1, double s2,\n"
    "                            double *st)\n"
    "{\n"
    "    if (n == 0.0) {\n"
    "        st[0] = 0.0, st[1] = 0.0, st[2] = 0.0, st[3] = 0.0;\n"
    "        return;\n"
    "    }\n"
    "    st[0] = n, st[1] = K, st[2] = s1 / n, st[3] = s2 - s1 * (s1 / n);\n"
    "}\n"
    "\n"
    "/* b[0..n) = a[0..n) of the lane `o` above (own value past lane 31). */\n"
    "ALC_FN void alc_shfl(double *b, const double *a, int n, int o)\n"
    "{\n"
    "    for (int s = 0; s < n; s++) {\n"
    "        b[s] = __shfl_down_sync(ALC_FULL, a[s], o);\n"
    "    }\n"
    "}\n"
    "\n"
    "/* ---- Combining a unit's tile records ---- */\n"
    "\n"
    "/* a = a (+) b over a record of layout L (plan.c's record_combine). */\n"
    "ALC_FN void alc_rcomb(const int *L, double *a, const double *b)\n"
    "{\n"
    "    for (int k = 0; k < L[0]; k++) {\n"
    "        const int kind = L[1 + 2 * k], s = L[2 + 2 * k];\n"
    "        if (kind == ALC_ACC_SUM) {\n"
    "            alc_comb_sum(a + s, b + s);\n"
    "        } else if (kind == ALC_ACC_MIN) {\n"
    "            alc_comb_min(a + s, b + s);\n"
    "        } else if (kind == ALC_ACC_MAX) {\n"
    "            alc_comb_max(a + s, b + s);\n"
    "        } else if (kind == ALC_ACC_VAR) {\n"
    "            alc_comb_var(a + s, b + s);\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "/* The identity record of layout L (plan.c's alc_plan_acc_identity). */\n"
    "ALC_FN void alc_rident(const int *L, double *a)\n"
    "{\n"
    "    for (int k = 0; k < L[0]; k++) {\n"
    "        const int kind = L[1 + 2 * k], s = L[2 + 2 * k];\n"
    "        if (kind == ALC_ACC_VAR) {\n"
    "            a[s] = 0.0, a[s + 1] = 0.0, a[s + 2] = 0.0, a[s + 3] = 0.0;\n"
    "        } else if (kind == ALC_ACC_SUM) {\n"
    "            a[s] = 0.0;\n"
    "        } else if (kind != ALC_ACC_STORE) { /* {+-inf, index +inf} */\n"
    "            a[s] = kind == ALC_ACC_MIN ? alc_inf() : -alc_inf();\n"
    "            a[s + 1] = alc_inf();\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "/* Each unit's tile records, in place, in the fixed pairwise tree of\n"
    " * alc_plan_combine_tree; the result to out[unit]. */\n"
    "extern \"C\" __global__ void __launch_bounds__(ALC_THREADS)\n"
    "alc_combine(const struct alc_args A)\n"
    "{\n"
    "    const long long ns = A.n_slots;\n"
    "    for (long long un = blockIdx.x; un < A.n_units; un += gridDim.x) {\n"
    "        double *r = A.rec + A.unit_first[un] * ns;\n"
    "        const long long n = A.unit_count[un];\n"
    "        for (long long step = 1; step < n; step *= 2) {\n"
    "            for (long long i = 2 * step * threadIdx.x; i + step < n;\n"
    "                 i += 2 * step * ALC_THREADS) {\n"
    "                alc_rcomb(A.layout, r + i * ns, r + (i + step) * ns);\n"
    "            }\n"
    "            __syncthreads();\n"
    "        }\n"
    "        if (threadIdx.x == 0) {\n"
    "            double *p = A.out + un * ns;\n"
    "            if (n == 0) {\n"
    "                alc_rident(A.layout, p);\n"
    "            }\n"
    "            for (long long s = 0; s < ns && n > 0; s++) {\n"
    "                p[s] = r[s];\n"
    "            }\n"
    "        }\n"
    "        __syncthreads();\n"
    "    }\n"
    "}\n";

void alc_cuda_emit_prelude(const struct alc_cuda_emit_opts *o,
                           struct alc_sb *out)
{
    int threads = o != NULL && o->threads > 0 ? o->threads : ALC_CUDA_THREADS;
    alc_sb_puts(out,
                "/* ---- dsac CUDA prelude (compiler/cuda_emit.c) ----\n"
                " * Element semantics: ops.c's map functions in IEEE double,"
                "\n * compiled with --fmad=false (no contraction), no fast "
                "math;\n * log, exp, sin, ... are CUDA's double-precision "
                "functions\n * (at most 2 ulp from the correctly rounded "
                "result, per the\n * CUDA Math API documentation). */\n");
    alc_sb_printf(out, "#define ALC_THREADS %d\n", threads);
    alc_sb_printf(out, "#define ALC_VEC %d\n", ALC_CUDA_VEC);
    alc_sb_printf(out, "#define ALC_TILE %d\n", ALC_CUDA_TILE);
    alc_sb_printf(out, "#define ALC_DT_F32 %d\n", (int)ALC_DT_F32);
    alc_sb_printf(out, "#define ALC_DT_F16 %d\n", (int)ALC_DT_F16);
    alc_sb_printf(out, "#define ALC_DT_BF16 %d\n", (int)ALC_DT_BF16);
    alc_sb_printf(out, "#define ALC_ACC_SUM %d\n", (int)ALC_ACC_SUM);
    alc_sb_printf(out, "#define ALC_ACC_MIN %d\n", (int)ALC_ACC_MIN);
    alc_sb_printf(out, "#define ALC_ACC_MAX %d\n", (int)ALC_ACC_MAX);
    alc_sb_printf(out, "#define ALC_ACC_VAR %d\n", (int)ALC_ACC_VAR);
    alc_sb_printf(out, "#define ALC_ACC_STORE %d\n", (int)ALC_ACC_STORE);
    alc_sb_puts(out, prelude_body);
    alc_sb_puts(out, "\n");
    alc_cuda_lw_prelude(out);
}

/* ---- Element-level ops ---- */

enum form {
    F_NONE,   /* not an element-wise op */
    F_CALL,   /* name(a[, b[, c]]) */
    F_INFIX,  /* a sym b */
    F_CMP,    /* alc_b(a sym b) */
    F_PREFIX, /* sym a */
    F_COUNT
};

struct cuda_op {
    enum form form;
    const char *text;
};

/* The CUDA lowering of each map (ORDER OP). */
static const struct cuda_op cuda_ops[ALC_OP_COUNT] = {
    [ALC_OP_NEG] = {F_PREFIX, "-"},
    [ALC_OP_NOT] = {F_CALL, "alc_not"},
    [ALC_OP_ABS] = {F_CALL, "fabs"},
    [ALC_OP_LOG] = {F_CALL, "log"},
    [ALC_OP_EXP] = {F_CALL, "exp"},
    [ALC_OP_SQRT] = {F_CALL, "sqrt"},
    [ALC_OP_SIN] = {F_CALL, "sin"},
    [ALC_OP_COS] = {F_CALL, "cos"},
    [ALC_OP_TAN] = {F_CALL, "tan"},
    [ALC_OP_ASIN] = {F_CALL, "asin"},
    [ALC_OP_ACOS] = {F_CALL, "acos"},
    [ALC_OP_ATAN] = {F_CALL, "atan"},
    [ALC_OP_SIGMOID] = {F_CALL, "alc_sigmoid"},
    [ALC_OP_TANH] = {F_CALL, "tanh"},
    [ALC_OP_SOFTPLUS] = {F_CALL, "alc_softplus"},
    [ALC_OP_ISNAN] = {F_CALL, "alc_isnan"},
    [ALC_OP_ISINF] = {F_CALL, "alc_isinf"},
    [ALC_OP_ADD] = {F_INFIX, "+"},
    [ALC_OP_SUB] = {F_INFIX, "-"},
    [ALC_OP_MUL] = {F_INFIX, "*"},
    [ALC_OP_DIV] = {F_INFIX, "/"},
    [ALC_OP_POW] = {F_CALL, "pow"},
    [ALC_OP_LT] = {F_CMP, "<"},
    [ALC_OP_LE] = {F_CMP, "<="},
    [ALC_OP_GT] = {F_CMP, ">"},
    [ALC_OP_GE] = {F_CMP, ">="},
    [ALC_OP_EQ] = {F_CMP, "=="},
    [ALC_OP_NE] = {F_CMP, "!="},
    [ALC_OP_AND] = {F_CALL, "alc_and"},
    [ALC_OP_OR] = {F_CALL, "alc_or"},
    [ALC_OP_MIN2] = {F_CALL, "alc_min2"},
    [ALC_OP_MAX2] = {F_CALL, "alc_max2"},
    [ALC_OP_WHERE] = {F_CALL, "alc_where"},
    [ALC_OP_CLAMP] = {F_CALL, "alc_clamp"},
};
_Static_assert(ALC_OP_COUNT == 53, "cuda_ops[] out of sync with ops.h");

/* Accumulator functions applied to the node's value v (ORDER ACC_FN):
 * printf formats with v twice at most. */
static const char *const acc_fn_fmt[ALC_AF_COUNT] = {
    [ALC_AF_ID] = "v%d",
    [ALC_AF_ABS] = "fabs(v%d)",
    [ALC_AF_SQ] = "v%d * v%d",
    [ALC_AF_LOG] = "log(v%d)",
    [ALC_AF_NZ] = "alc_af_nz(v%d)",
    [ALC_AF_POS] = "alc_af_pos(v%d)",
    [ALC_AF_GE0] = "alc_af_ge0(v%d)",
    [ALC_AF_XLOGX] = "alc_af_xlogx(v%d)",
};
_Static_assert(ALC_AF_COUNT == 8, "acc_fn_fmt[] out of sync with plan.h");

/* Combine helper and identity of each accumulator kind (ORDER ACC). */
static const char *const acc_comb[ALC_ACC_COUNT] = {
    [ALC_ACC_SUM] = "alc_comb_sum", [ALC_ACC_MIN] = "alc_comb_min",
    [ALC_ACC_MAX] = "alc_comb_max", [ALC_ACC_VAR] = "alc_comb_var",
    [ALC_ACC_STORE] = NULL,
};
static const char *const acc_ident[ALC_ACC_COUNT] = {
    [ALC_ACC_SUM] = "0.0",        [ALC_ACC_MIN] = "alc_inf()",
    [ALC_ACC_MAX] = "-alc_inf()", [ALC_ACC_VAR] = "0.0",
    [ALC_ACC_STORE] = NULL,
};
_Static_assert(ALC_ACC_COUNT == 5, "accumulator tables out of sync");

/* ---- Emission state ---- */

struct em {
    const struct alc_ir *ir;
    const struct alc_plan_pass *ps;
    const char *pre; /* prefix */
    int k;           /* pass number, 1-based */
    int *use_idx;    /* (n_nodes) index into u[] of a layer/model node, -1 */
    int n_u;         /* entries of u[] (non-constant uses) */
    int ns;          /* record size (doubles) */
    int max_state;   /* largest accumulator state (1 or 4) */
    int reads_w, reads_act;
    int unroll;  /* unroll the 8 elements of a step (cheap element code) */
    int no_logw; /* alc_cuda_emit_opts.no_logw */
    struct alc_cuda_lw_acc *lw;     /* (n_accs) the pass's table path (section
                                       "Logs by table"), or NULL */
    struct alc_cuda_lw_acc *lw_buf; /* (max n_accs) its storage */
    int lw_pos;                     /* some accumulator reads log act */
    struct alc_sb *out;
};

/* A double literal, exact: C++17 hex float, with NaN/inf by bits. */
static void emit_literal(double k, struct alc_sb *out)
{
    if (isnan(k)) {
        alc_sb_puts(out, "alc_nan()");
    } else if (isinf(k)) {
        alc_sb_puts(out, k > 0 ? "alc_inf()" : "(-alc_inf())");
    } else if (signbit(k)) {
        alc_sb_printf(out, "(%a)", k);
    } else {
        alc_sb_printf(out, "%a", k);
    }
}

/* The value of operand node x inside the element function. */
static void emit_operand(struct em *e, int x)
{
    const struct alc_ir_node *n = &e->ir->nodes[x];
    if (n->level == ALC_LV_ELEM) {
        alc_sb_printf(e->out, "v%d", x);
    } else if (n->op == ALC_OP_CONST) {
        emit_literal(n->u.k, e->out);
    } else {
        alc_sb_printf(e->out, "u[%d]", e->use_idx[x]);
    }
}

static int emit_input(struct em *e, int in, struct alc_diag *d)
{
    static const char *const text[ALC_IN_COUNT] = {
        [ALC_IN_WANDA] = "fabs(in_w) * in_act",
        [ALC_IN_WEIGHT] = "in_w",
        [ALC_IN_ACT] = "in_act",
        [ALC_IN_ROWS] = "in_rows",
        [ALC_IN_COLS] = "in_cols",
    };
    if (in < 0 || in >= ALC_IN_COUNT || text[in] == NULL) {
        alc_diag_errorf(d, "cuda: input %d is not element-level", in);
        return -1;
    }
    alc_sb_printf(e->out, "%s; /* %s */", text[in], alc_input_table[in].name);
    return 0;
}

/* `const double v<i> = <expr>;` for element node i. */
static int emit_elem_node(struct em *e, int i, struct alc_diag *d)
{
    const struct alc_ir_node *n = &e->ir->nodes[i];
    const struct cuda_op *op = &cuda_ops[n->op];
    alc_sb_printf(e->out, "    const double v%d = ", i);
    if (n->op == ALC_OP_INPUT) {
        if (emit_input(e, n->u.input, d) != 0) {
            return -1;
        }
        alc_sb_puts(e->out, "\n");
        return 0;
    }
    switch (op->form) {
    case F_PREFIX:
        alc_sb_puts(e->out, op->text);
        emit_operand(e, n->arg[0]);
        break;
    case F_INFIX:
    case F_CMP:
        alc_sb_puts(e->out, op->form == F_CMP ? "alc_b(" : "");
        emit_operand(e, n->arg[0]);
        alc_sb_printf(e->out, " %s ", op->text);
        emit_operand(e, n->arg[1]);
        alc_sb_puts(e->out, op->form == F_CMP ? ")" : "");
        break;
    case F_CALL:
        alc_sb_printf(e->out, "%s(", op->text);
        for (int a = 0; a < n->nargs; a++) {
            alc_sb_puts(e->out, a > 0 ? ", " : "");
            emit_operand(e, n->arg[a]);
        }
        alc_sb_puts(e->out, ")");
        break;
    default:
        alc_diag_errorf(d, "cuda: %s is not an element-wise op",
                        alc_op_table[n->op].name ? alc_op_table[n->op].name
                                                 : "leaf");
        return -1;
    }
    alc_sb_puts(e->out, ";\n");
    return 0;
}

/* ---- The element function ---- */

static int emit_elem_fn(struct em *e, struct alc_diag *d)
{
    struct alc_sb *o = e->out;
    alc_sb_printf(o,
                  "/* Pass %d at one element: x[a] = accumulator a's input. "
                  "*/\n"
                  "ALC_FN void %sp%d_elem(double in_w, double in_act, "
                  "double in_rows,\n"
                  "    double in_cols, const double *u, double *x)\n{\n",
                  e->k, e->pre, e->k);
    for (int i = 0; i < e->ps->n_elems; i++) {
        if (emit_elem_node(e, e->ps->elems[i], d) != 0) {
            return -1;
        }
    }
    for (int a = 0; a < e->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &e->ps->accs[a];
        alc_sb_printf(o, "    x[%d] = ", a);
        alc_sb_printf(o, acc_fn_fmt[acc->fn], acc->node, acc->node);
        alc_sb_printf(o, "; /* %s %s(%%%d) */\n", alc_acc_kind_name[acc->kind],
                      alc_acc_fn_name[acc->fn], acc->node);
    }
    alc_sb_puts(o, "}\n\n");
    return 0;
}

/* ---- The pass kernel ---- */

static void emit_tile_setup(struct em *e)
{
    struct alc_sb *o = e->out;
    alc_sb_puts(o, "        const struct alc_tile T = A.tiles[t];\n");
    if (e->n_u > 0) {
        alc_sb_printf(o,
                      "        const double *env = A.env + T.unit * "
                      "A.env_stride;\n"
                      "        double u[%d];\n",
                      e->n_u);
        for (int i = 0; i < e->ps->n_uses; i++) {
            int node = e->ps->uses[i];
            if (e->use_idx[node] >= 0) {
                alc_sb_printf(o, "        u[%d] = env[%d];\n", e->use_idx[node],
                              node);
            }
        }
    } else {
        alc_sb_puts(o, "        double u[1] = {0.0};\n");
    }
    alc_sb_printf(o, "        double x[%d];\n", e->ps->n_accs);
    for (int a = 0; a < e->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &e->ps->accs[a];
        if (acc->kind == ALC_ACC_VAR) {
            alc_sb_printf(
                o,
                "        double acc%d_n = 0.0, acc%d_k = 0.0, acc%d_s = 0.0, "
                "acc%d_q = 0.0; /* #%d var: count, shift, sum d, "
                "sum d^2 */\n",
                a, a, a, a, a);
        } else if (acc->kind == ALC_ACC_SUM) {
            alc_sb_printf(o, "        double acc%d_a = 0.0; /* #%d sum */\n", a,
                          a);
        } else if (acc->kind != ALC_ACC_STORE) {
            alc_sb_printf(
                o,
                "        double acc%d_a = %s, acc%d_i = alc_inf(); /* #%d "
                "%s: value, element index */\n",
                a, acc_ident[acc->kind], a, a, alc_acc_kind_name[acc->kind]);
        }
    }
    if (e->reads_act) {
        alc_sb_puts(o,
                    "        long long c = (T.col0 + (long long)threadIdx.x * "
                    "ALC_VEC) % T.cols;\n"
                    "        const long long cstep = (long long)(ALC_THREADS "
                    "* ALC_VEC) % T.cols;\n");
    }
}

/* Accumulator a's update with x[a] at element i + j. */
static void emit_acc_update(struct em *e, int a, int *store_no)
{
    struct alc_sb *o = e->out;
    const struct alc_plan_acc *acc = &e->ps->accs[a];
    switch (acc->kind) {
    case ALC_ACC_SUM:
        alc_sb_printf(o, "                acc%d_a += x[%d];\n", a, a);
        break;
    case ALC_ACC_MIN:
    case ALC_ACC_MAX: /* strictly better: the first occurrence stays */
        alc_sb_printf(
            o,
            "                if (x[%d] %s acc%d_a) {\n"
            "                    acc%d_a = x[%d];\n"
            "                    acc%d_i = (double)(T.store_off + i + "
            "j);\n"
            "                }\n"
            "                acc%d_a = isnan(x[%d]) ? x[%d] : acc%d_a;\n",
            a, acc->kind == ALC_ACC_MIN ? "<" : ">", a, a, a, a, a, a, a, a);
        break;
    case ALC_ACC_VAR:
        alc_sb_printf(
            o,
            "                acc%d_k = acc%d_n == 0.0 ? x[%d] : acc%d_k;\n"
            "                acc%d_n += 1.0;\n"
            "                acc%d_s += x[%d] - acc%d_k;\n"
            "                acc%d_q += (x[%d] - acc%d_k) * (x[%d] - "
            "acc%d_k);\n",
            a, a, a, a, a, a, a, a, a, a, a, a, a);
        break;
    default:
        alc_sb_printf(o,
                      "                A.store[%d * A.store_stride + "
                      "T.store_off + i + j] = x[%d];\n",
                      (*store_no)++, a);
        break;
    }
}

static void emit_loop(struct em *e)
{
    struct alc_sb *o = e->out;
    int store_no = 0;
    if (e->reads_w) {
        alc_sb_puts(o, "        uint4 wnext[2] = {};\n"
                       "        alc_wload(T, (int)threadIdx.x * ALC_VEC, "
                       "wnext);\n");
    }
    alc_sb_puts(o,
                "        for (int i = (int)threadIdx.x * ALC_VEC; i < "
                "T.count;\n"
                "             i += ALC_THREADS * ALC_VEC) {\n"
                "            const int m = T.count - i < ALC_VEC ? T.count - "
                "i : ALC_VEC;\n");
    if (e->reads_w) {
        alc_sb_puts(o, "            const uint4 wraw[2] = {wnext[0], "
                       "wnext[1]};\n"
                       "            alc_wload(T, i + ALC_THREADS * ALC_VEC, "
                       "wnext);\n"
                       "            float wv[ALC_VEC];\n"
                       "            alc_w8(T, i, m, wraw, wv);\n");
    }
    if (e->reads_act) {
        alc_sb_puts(o, "            float av[ALC_VEC];\n"
                       "            alc_a8(T, c, m, av);\n");
    }
    alc_sb_printf(
        o,
        "#pragma unroll%s\n"
        "            for (int j = 0; j < ALC_VEC; j++) {\n"
        "                if (j >= m) {\n"
        "                    break;\n"
        "                }\n"
        "                %sp%d_elem(%s, %s,\n"
        "                    (double)T.rows, (double)T.cols, u, x);\n",
        e->unroll ? "" : " 1", e->pre, e->k,
        e->reads_w ? "(double)wv[j]" : "0.0",
        e->reads_act ? "(double)av[j]" : "0.0");
    for (int a = 0; a < e->ps->n_accs; a++) {
        emit_acc_update(e, a, &store_no);
    }
    alc_sb_puts(o, "            }\n");
    if (e->reads_act) {
        alc_sb_puts(o, "            c += cstep;\n"
                       "            c = c >= T.cols ? c - T.cols : c;\n");
    }
    alc_sb_puts(o, "        }\n");
}

/* ---- The pass kernel: logs by table (cuda_logw.c) ---- */

/*
 * A pass whose every accumulator reads a log form of wanda (DSA's
 * var(log(abs(where(wanda == 0, 1, wanda))))) gets a second loop for BF16
 * tiles of matrices with cols % 8 == 0 whose mirror holds the act logs:
 *
 *   cells of 8 columns x 1 row; W = min(cols / 8, threads) threads per row
 *   of cells, P = threads / W rows at once: thread t takes the cell column
 *   g = t % W (then g + W, ...) and every P-th row of the tile from t / W,
 *   so the lanes of a warp read consecutive 16 bytes of a row (or of
 *   consecutive rows) and each thread loads its 8 columns' act logs once
 *   per cell column, not once per cell (they are 4x the weight bytes);
 *   weights two cells ahead in flight;
 *   a var of the form's value itself ("folded"): its shift K = the thread's
 *   first value (alc_p<k>_x1, before the loop), c<a>[j] = L_j - K per cell
 *   column, d = e ln2 + (TM[m] + c<a>[j]) and Z - K for zero weights (a
 *   select: both computed, see emit_lw_fast_values); any other
 *   accumulator: x = T + L_j (Z for zero weights), its function, its
 *   update (min/max with ties to the smaller element index: the thread's
 *   order is not the element order here);
 *   a cell with any weight that is subnormal, inf or NaN, or in a column
 *   whose act is 0, inf or NaN, goes element by element: those elements by
 *   alc_p<k>_slow, the others as above; var counts + 8 per cell.
 *
 * Every other tile runs the pass's usual loop into the same accumulators.
 */

/* Appends src to o, every line but #pragma ones 4 columns further in. */
static void sb_indent(struct alc_sb *o, const char *src)
{
    while (*src != '\0') {
        const char *nl = strchr(src, '\n');
        size_t n = nl != NULL ? (size_t)(nl - src) + 1 : strlen(src);
        if (n > 1 && *src != '#') {
            alc_sb_puts(o, "    ");
        }
        alc_sb_append(o, src, n);
        src += n;
    }
}

/* `<dst> = f(<v>);` with f accumulator a's function on the table path. */
static void emit_lw_value(struct em *e, int a, const char *dst, const char *v,
                          const char *indent)
{
    const char *f = acc_fn_fmt[e->lw[a].fn];
    alc_sb_printf(e->out, "%s%s = ", indent, dst);
    if (e->lw[a].fn == ALC_AF_SQ) {
        alc_sb_printf(e->out, "%s * %s", v, v);
    } else { /* the other functions read their operand once */
        const char *p = strstr(f, "v%d");
        alc_sb_printf(e->out, "%.*s%s%s", (int)(p - f), f, v, p + 3);
    }
    alc_sb_puts(e->out, ";\n");
}

/* Whether accumulator a is a var of the form's value itself: its shift K
 * is folded into per-column constants c<a>[j] = L_j - K (see below). */
static int lw_folded(const struct em *e, int a)
{
    return e->ps->accs[a].kind == ALC_ACC_VAR && e->lw[a].fn == ALC_AF_ID;
}

static int lw_any_folded(const struct em *e)
{
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (lw_folded(e, a)) {
            return 1;
        }
    }
    return 0;
}

/* Accumulator a's update with y<a> (a folded var: with d<a>), element j
 * of the cell at tile index i (a var's count goes up by 8 after the
 * cell). */
static void emit_lw_acc_update(struct em *e, int a, int store_no,
                               const char *in)
{
    struct alc_sb *o = e->out;
    const struct alc_plan_acc *acc = &e->ps->accs[a];
    if (lw_folded(e, a)) {
        alc_sb_printf(o,
                      "%sacc%d_s += d%d;\n"
                      "%sacc%d_q = fma(d%d, d%d, acc%d_q);\n",
                      in, a, a, in, a, a, a, a);
        return;
    }
    switch (acc->kind) {
    case ALC_ACC_VAR:
        alc_sb_printf(o,
                      "%sif (j == 0) {\n"
                      "%s    acc%d_k = acc%d_n == 0.0 ? y%d : acc%d_k;\n"
                      "%s}\n"
                      "%sconst double d%d = y%d - acc%d_k;\n"
                      "%sacc%d_s += d%d;\n"
                      "%sacc%d_q = fma(d%d, d%d, acc%d_q);\n",
                      in, in, a, a, a, a, in, in, a, a, a, in, a, a, in, a, a,
                      a, a);
        break;
    case ALC_ACC_SUM:
        alc_sb_printf(o, "%sacc%d_a += y%d;\n", in, a, a);
        break;
    case ALC_ACC_MIN:
    case ALC_ACC_MAX:
        alc_sb_printf(
            o,
            "%s{\n"
            "%s    const double ix = (double)(T.store_off + i + j);\n"
            "%s    if (y%d %s acc%d_a || (y%d == acc%d_a && ix < acc%d_i)) {\n"
            "%s        acc%d_a = y%d;\n"
            "%s        acc%d_i = ix;\n"
            "%s    }\n"
            "%s    acc%d_a = isnan(y%d) ? y%d : acc%d_a;\n"
            "%s}\n",
            in, in, in, a, acc->kind == ALC_ACC_MIN ? "<" : ">", a, a, a, a, in,
            a, a, in, a, in, in, a, a, a, a, in);
        break;
    default:
        alc_sb_printf(o,
                      "%sA.store[%d * A.store_stride + T.store_off + i + j] = "
                      "y%d;\n",
                      in, store_no, a);
        break;
    }
}

/* Every accumulator's update (see emit_lw_acc_update). */
static void emit_lw_updates(struct em *e, const char *in)
{
    int store_no = 0;
    for (int a = 0; a < e->ps->n_accs; a++) {
        emit_lw_acc_update(e, a, store_no, in);
        store_no += e->ps->accs[a].kind == ALC_ACC_STORE;
    }
}

/* The table-path values of every accumulator at element j with magnitude
 * mag: d<a> for folded vars, `y<a> = f(log form)` for the others; la, ls:
 * the column's act logs (names); decl: "const double " to declare d<a> and
 * y<a>, "" to assign variables declared before. */
static void emit_lw_fast_values(struct em *e, const char *la, const char *ls,
                                const char *decl, const char *in)
{
    struct alc_sb *o = e->out;
    int plain = 0;
    alc_sb_printf(o,
                  "%sconst double ex = alc_lw_e(mag);\n"
                  "%sconst double tm = alc_lw_tm(ltl, mag);\n",
                  in, in);
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (lw_folded(e, a)) {
            /* both values, then a select: written as one conditional,
             * NVRTC branches around the fma (no overlap of elements) */
            alc_sb_printf(o,
                          "%sconst double dt%d = alc_lw_fma(ex, tm + c%d[j]);\n"
                          "%s%sd%d = mag == 0u ? dz%d : dt%d;\n",
                          in, a, a, in, decl, a, a, a);
        } else {
            plain = 1;
        }
    }
    if (!plain) {
        return;
    }
    alc_sb_printf(o, "%sconst double tw = alc_lw_fma(ex, tm);\n", in);
    for (int a = 0; a < e->ps->n_accs; a++) {
        char v[16], dst[32];
        if (lw_folded(e, a)) {
            continue;
        }
        alc_sb_printf(o, "%sconst double v%d = mag == 0u ? ", in, a);
        emit_literal(e->lw[a].zero, o);
        alc_sb_printf(o, " : tw + %s;\n", e->lw[a].pos ? ls : la);
        snprintf(v, sizeof v, "v%d", a);
        snprintf(dst, sizeof dst, "%sy%d", decl, a);
        emit_lw_value(e, a, dst, v, in);
    }
}

/* alc_p<k>_slow: x[] at an element the cell code leaves; alc_p<k>_x1: x[]
 * at any element (the first, for the folded vars' shifts). */
static void emit_lw_slow_fn(struct em *e)
{
    struct alc_sb *o = e->out;
    alc_sb_printf(
        o,
        "/* Pass %d at an element the table path leaves: a column whose act "
        "is +-0\n"
        " * (wanda == 0 for every finite weight), a subnormal weight in a "
        "column\n"
        " * whose act is finite and nonzero (the table's second half), the "
        "rest\n"
        " * (an inf or NaN weight or act) by the element function. */\n"
        "ALC_FN void %sp%d_slow(const struct alc_tile &T, const double *u, "
        "unsigned h,\n"
        "    long long col, double *x)\n"
        "{\n"
        "    const unsigned mag = h & 0x7fffu;\n"
        "    const double la = T.lact[col];\n"
        "    if (la == -alc_inf() && mag < 0x7f80u) {\n",
        e->k, e->pre, e->k);
    for (int a = 0; a < e->ps->n_accs; a++) {
        char dst[32];
        struct alc_sb lit;
        alc_sb_init(&lit);
        emit_literal(e->lw[a].zero, &lit);
        snprintf(dst, sizeof dst, "x[%d]", a);
        emit_lw_value(e, a, dst, alc_sb_str(&lit), "        ");
        alc_sb_free(&lit);
    }
    alc_sb_puts(o, "        return;\n"
                   "    }\n"
                   "    if (mag != 0u && mag < 0x80u && isfinite(la)) {\n"
                   "        const double tw = alc_logm_bf16[128 + mag];\n");
    if (e->lw_pos) {
        alc_sb_puts(o, "        const double ls = T.lact[T.cols + col];\n");
    }
    for (int a = 0; a < e->ps->n_accs; a++) {
        char dst[32], v[32];
        snprintf(dst, sizeof dst, "x[%d]", a);
        snprintf(v, sizeof v, "(tw + %s)", e->lw[a].pos ? "ls" : "la");
        emit_lw_value(e, a, dst, v, "        ");
    }
    alc_sb_printf(o,
                  "        return;\n"
                  "    }\n"
                  "    %sp%d_elem((double)alc_bf16(h), (double)T.act[col], "
                  "(double)T.rows,\n"
                  "        (double)T.cols, u, x);\n"
                  "}\n\n",
                  e->pre, e->k);
    if (!lw_any_folded(e)) {
        return;
    }
    alc_sb_printf(o,
                  "/* Pass %d at any element, as the cell code computes it. "
                  "*/\n"
                  "ALC_FN void %sp%d_x1(const struct alc_tile &T, const "
                  "double *u,\n"
                  "    const double *ltl, unsigned h, long long col, double "
                  "*x)\n"
                  "{\n"
                  "    const unsigned mag = h & 0x7fffu;\n"
                  "    const double la = T.lact[col];\n",
                  e->k, e->pre, e->k);
    if (e->lw_pos) {
        alc_sb_puts(o, "    const double ls = T.lact[T.cols + col];\n");
    }
    alc_sb_puts(o, "    if (isfinite(la) && (mag == 0u || mag - 0x80u < "
                   "0x7f00u)) {\n"
                   "        const double tw = alc_logw_bf16(ltl, mag);\n");
    for (int a = 0; a < e->ps->n_accs; a++) {
        char dst[32], v[64];
        struct alc_sb lit;
        alc_sb_init(&lit);
        emit_literal(e->lw[a].zero, &lit);
        snprintf(dst, sizeof dst, "x[%d]", a);
        snprintf(v, sizeof v, "(mag == 0u ? %s : tw + %s)", alc_sb_str(&lit),
                 e->lw[a].pos ? "ls" : "la");
        emit_lw_value(e, a, dst, v, "        ");
        alc_sb_free(&lit);
    }
    alc_sb_printf(o,
                  "        return;\n"
                  "    }\n"
                  "    %sp%d_slow(T, u, h, col, x);\n"
                  "}\n\n",
                  e->pre, e->k);
}

/* One cell (8 elements of a row at tile index i): the table path when none
 * of them needs alc_p<k>_slow, else element by element. */
static void emit_lw_cell(struct em *e)
{
    struct alc_sb *o = e->out;
    const char *in1 = "                        ";
    const char *in2 = "                            ";
    alc_sb_puts(o, "                unsigned h[ALC_VEC];\n"
                   "                alc_h8(cur, h);\n"
                   "                bool slow = L.bad;\n"
                   "#pragma unroll\n"
                   "                for (int j = 0; j < ALC_VEC; j++) {\n"
                   "                    const unsigned mag = h[j] & 0x7fffu;\n"
                   "                    slow = slow || (mag != 0u && mag - "
                   "0x80u >= 0x7f00u);\n"
                   "                }\n"
                   "                if (!slow) { /* zero or normal weights, "
                   "finite nonzero act */\n"
                   "#pragma unroll\n"
                   "                    for (int j = 0; j < ALC_VEC; j++) {\n"
                   "                        const unsigned mag = h[j] & "
                   "0x7fffu;\n");
    emit_lw_fast_values(e, "L.a[j]", "L.s[j]", "const double ", in1);
    emit_lw_updates(e, in1);
    alc_sb_puts(o, "                    }\n"
                   "                } else {\n"
                   "#pragma unroll\n"
                   "                    for (int j = 0; j < ALC_VEC; j++) {\n"
                   "                        const unsigned mag = h[j] & "
                   "0x7fffu;\n");
    for (int a = 0; a < e->ps->n_accs; a++) {
        alc_sb_printf(o, "%sdouble %c%d;\n", in1, lw_folded(e, a) ? 'd' : 'y',
                      a);
    }
    alc_sb_printf(o,
                  "%sconst double laj = T.lact[c8 + j];\n"
                  "%sif (isfinite(laj) && (mag == 0u || mag - 0x80u < "
                  "0x7f00u)) {\n",
                  in1, in1);
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (e->lw[a].pos && !lw_folded(e, a)) { /* the folded read c<a> */
            alc_sb_printf(o, "%sconst double lsj = T.lact[T.cols + c8 + j];\n",
                          in2);
            break;
        }
    }
    emit_lw_fast_values(e, "laj", "lsj", "", in2);
    alc_sb_printf(o, "%s} else {\n", in1);
    alc_sb_printf(o, "%s%sp%d_slow(T, u, h[j], c8 + j, x);\n", in2, e->pre,
                  e->k);
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (lw_folded(e, a)) {
            alc_sb_printf(o, "%sd%d = x[%d] - acc%d_k;\n", in2, a, a, a);
        } else {
            alc_sb_printf(o, "%sy%d = x[%d];\n", in2, a, a);
        }
    }
    alc_sb_printf(o, "%s}\n", in1);
    emit_lw_updates(e, in1);
    alc_sb_puts(o, "                    }\n"
                   "                }\n");
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (e->ps->accs[a].kind == ALC_ACC_VAR) {
            alc_sb_printf(o, "                acc%d_n += (double)ALC_VEC;\n",
                          a);
        }
    }
}

/* What fn emits, 4 columns further in (sb_indent). */
static void emit_indented(struct em *e, void (*fn)(struct em *))
{
    struct alc_sb *o = e->out, tmp;
    alc_sb_init(&tmp);
    e->out = &tmp;
    fn(e);
    e->out = o;
    sb_indent(o, alc_sb_str(&tmp));
    alc_sb_free(&tmp);
}

/* if (the tile qualifies) { the cells } else { the usual loop } */
static void emit_lw_loops(struct em *e)
{
    struct alc_sb *o = e->out;
    alc_sb_puts(
        o,
        "        if (T.dtype == ALC_DT_BF16 && T.lact != nullptr &&\n"
        "            (T.cols & 7) == 0 && T.cols <= (1 << 24)) {\n"
        "            /* logs by table: 8-column cells, down the rows */\n"
        "            const int G = (int)(T.cols / ALC_VEC);\n"
        "            const int W = G < ALC_THREADS ? G : ALC_THREADS;\n"
        "            const int P = ALC_THREADS / W;\n"
        "            const int ph = (int)threadIdx.x / W;\n"
        "            const int g0 = (int)threadIdx.x % W;\n"
        "            const unsigned short *wt = wt_of(T);\n"
        "            const int rstep = P * (int)T.cols;\n"
        "            /* tile index of (the thread's first row, column 0) */\n"
        "            const int i00 =\n"
        "                (int)((T.start / T.cols + ph) * T.cols - T.start);\n");
    if (lw_any_folded(e)) {
        alc_sb_printf(o,
                      "            if (ph < P) { /* var's shift K: the "
                      "thread's first value */\n"
                      "                int i = i00 + ALC_VEC * g0;\n"
                      "                i += i < 0 ? rstep : 0;\n"
                      "                if (i < T.count) {\n"
                      "                    %sp%d_x1(T, u, ltl, wt[i], "
                      "(long long)ALC_VEC * g0,\n"
                      "                        x);\n",
                      e->pre, e->k);
        for (int a = 0; a < e->ps->n_accs; a++) {
            if (lw_folded(e, a)) {
                alc_sb_printf(o, "                    acc%d_k = x[%d];\n", a,
                              a);
            }
        }
        alc_sb_puts(o, "                }\n"
                       "            }\n");
        for (int a = 0; a < e->ps->n_accs; a++) {
            if (lw_folded(e, a)) {
                alc_sb_printf(o, "            const double dz%d = ", a);
                emit_literal(e->lw[a].zero, o);
                alc_sb_printf(o, " - acc%d_k; /* Z - K */\n", a);
            }
        }
    }
    alc_sb_printf(o,
                  "            for (int g = g0; g < G && ph < P; g += W) {\n"
                  "                const long long c8 = (long long)ALC_VEC * "
                  "g;\n"
                  "                struct alc_lcols L;\n"
                  "                alc_lcols_load(T, c8, %s, &L);\n",
                  e->lw_pos ? "true" : "false");
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (lw_folded(e, a)) {
            alc_sb_printf(o,
                          "                double c%d[ALC_VEC]; /* L_j - K */\n"
                          "#pragma unroll\n"
                          "                for (int j = 0; j < ALC_VEC; j++) "
                          "{\n"
                          "                    c%d[j] = L.%s[j] - acc%d_k;\n"
                          "                }\n",
                          a, a, e->lw[a].pos ? "s" : "a", a);
        }
    }
    alc_sb_puts(o, "                int i = i00 + (int)c8;\n"
                   "                i += i < 0 ? rstep : 0;\n"
                   "                uint4 w1 = {}, w2 = {};\n"
                   "                alc_wcell(wt, i, T.count, &w1);\n"
                   "                alc_wcell(wt, i + rstep, T.count, &w2);\n"
                   "#pragma unroll 2\n"
                   "                for (; i < T.count; i += rstep) {\n"
                   "                    const uint4 cur = w1;\n"
                   "                    w1 = w2;\n"
                   "                    alc_wcell(wt, i + 2 * rstep, "
                   "T.count, &w2);\n");
    emit_indented(e, emit_lw_cell);
    alc_sb_puts(o, "                }\n"
                   "            }\n"
                   "        } else {\n");
    emit_indented(e, emit_loop);
    alc_sb_puts(o, "        }\n");
}

/* r<a>[] = the thread's state of accumulator a (plan.h layout). */
static void emit_states(struct em *e)
{
    struct alc_sb *o = e->out;
    for (int a = 0; a < e->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &e->ps->accs[a];
        if (acc->kind == ALC_ACC_VAR) {
            alc_sb_printf(o,
                          "        double r%d[4];\n"
                          "        alc_var_shifted(acc%d_n, acc%d_k, acc%d_s, "
                          "acc%d_q, r%d);\n",
                          a, a, a, a, a, a);
        } else if (acc->kind == ALC_ACC_SUM) {
            alc_sb_printf(o, "        double r%d[1] = {acc%d_a};\n", a, a);
        } else if (acc->kind != ALC_ACC_STORE) {
            alc_sb_printf(o, "        double r%d[2] = {acc%d_a, acc%d_i};\n", a,
                          a, a);
        }
    }
}

/* A shuffle tree over every state, offsets from, from/2, .., 1. */
static void emit_shuffle_tree(struct em *e, const char *from,
                              const char *indent)
{
    struct alc_sb *o = e->out;
    /* not unrolled: once per tile, and the var combine is long */
    alc_sb_printf(o, "#pragma unroll 1\n%sfor (int o = %s; o > 0; o >>= 1) {\n",
                  indent, from);
    for (int a = 0; a < e->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &e->ps->accs[a];
        if (acc->kind == ALC_ACC_STORE) {
            continue;
        }
        alc_sb_printf(o, "%s    alc_shfl(b, r%d, %d, o);\n", indent, a,
                      alc_acc_slots[acc->kind]);
        alc_sb_printf(o, "%s    %s(r%d, b);\n", indent, acc_comb[acc->kind], a);
    }
    alc_sb_printf(o, "%s}\n", indent);
}

/* Every state to base[slot + s] (to_shared) or back from it. */
static void emit_state_copy(struct em *e, const char *indent, int to_shared,
                            const char *base)
{
    struct alc_sb *o = e->out;
    for (int a = 0; a < e->ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &e->ps->accs[a];
        for (int s = 0; s < alc_acc_slots[acc->kind]; s++) {
            if (to_shared) {
                alc_sb_printf(o, "%s%s[%d] = r%d[%d];\n", indent, base,
                              acc->slot + s, a, s);
            } else {
                alc_sb_printf(o, "%sr%d[%d] = %s[%d];\n", indent, a, s, base,
                              acc->slot + s);
            }
        }
    }
}

static void emit_block_reduce(struct em *e)
{
    struct alc_sb *o = e->out;
    emit_states(e);
    alc_sb_printf(o, "        double b[%d];\n", e->max_state);
    emit_shuffle_tree(e, "16", "        ");
    alc_sb_printf(o,
                  "        if (lane == 0) {\n"
                  "            double *p = sh + warp * %d;\n",
                  e->ns);
    emit_state_copy(e, "            ", 1, "p");
    alc_sb_printf(o,
                  "        }\n"
                  "        __syncthreads();\n"
                  "        if (warp == 0) {\n"
                  "            if (lane < ALC_WARPS) {\n"
                  "                const double *p = sh + lane * %d;\n",
                  e->ns);
    emit_state_copy(e, "                ", 0, "p");
    alc_sb_puts(o, "            }\n");
    emit_shuffle_tree(e, "ALC_WARPS / 2", "            ");
    alc_sb_printf(o,
                  "            if (lane == 0) {\n"
                  "                double *p = A.rec + T.rec * %d;\n",
                  e->ns);
    emit_state_copy(e, "                ", 1, "p");
    alc_sb_puts(o, "            }\n"
                   "        }\n"
                   "        __syncthreads();\n");
}

static void emit_pass_kernel(struct em *e)
{
    struct alc_sb *o = e->out;
    alc_sb_printf(o,
                  "/* Pass %d: every tile of A.tiles into its record "
                  "(%d doubles). */\n"
                  "extern \"C\" __global__ void __launch_bounds__(ALC_THREADS)"
                  "\n%sp%d(const struct alc_args A)\n{\n",
                  e->k, e->ns, e->pre, e->k);
    if (e->ns > 0) {
        alc_sb_printf(o,
                      "    __shared__ double sh[ALC_WARPS * %d];\n"
                      "    const int lane = (int)threadIdx.x & 31;\n"
                      "    const int warp = (int)threadIdx.x >> 5;\n",
                      e->ns);
    }
    if (e->lw != NULL) {
        alc_sb_puts(o, "    __shared__ double lt[128 * ALC_LT_REP];\n"
                       "    alc_lt_fill(lt);\n"
                       "    const double *ltl = lt + (threadIdx.x & "
                       "(ALC_LT_REP - 1));\n");
    }
    alc_sb_puts(o, "    for (long long t = blockIdx.x; t < A.n_tiles; t += "
                   "gridDim.x) {\n");
    emit_tile_setup(e);
    if (e->lw != NULL) {
        emit_lw_loops(e);
    } else {
        emit_loop(e);
    }
    if (e->ns > 0) {
        emit_block_reduce(e);
    }
    alc_sb_puts(o, "    }\n}\n\n");
}

/* ---- Programs ---- */

/* Shared memory of the block reduction: ALC_WARPS * n_slots doubles, within
 * the 48 KB a kernel may declare statically. */
#define ALC_MAX_SLOTS (48 * 1024 / 8 / (1024 / 32))

/*
 * Rough cost of evaluating the pass at one element, in simple double ops:
 * CUDA's double log, exp, sin, ... take tens of instructions each.
 */
#define COST_TRANSC 16
#define UNROLL_MAX_COST 40

static int elem_cost(const struct alc_ir *ir, const struct alc_plan_pass *ps)
{
    int cost = 0;
    for (int i = 0; i < ps->n_elems; i++) {
        const struct cuda_op *op = &cuda_ops[ir->nodes[ps->elems[i]].op];
        int transc = op->form == F_CALL && strncmp(op->text, "alc_", 4) != 0 &&
                     strcmp(op->text, "fabs") != 0;
        cost += transc || ir->nodes[ps->elems[i]].op == ALC_OP_SIGMOID ||
                        ir->nodes[ps->elems[i]].op == ALC_OP_SOFTPLUS
                    ? COST_TRANSC
                    : 1;
    }
    for (int a = 0; a < ps->n_accs; a++) {
        enum alc_acc_fn fn = ps->accs[a].fn;
        cost += fn == ALC_AF_LOG || fn == ALC_AF_XLOGX ? COST_TRANSC : 1;
    }
    return cost;
}

static int emit_pass(struct em *e, struct alc_diag *d)
{
    const unsigned w_in = (1u << ALC_IN_WANDA) | (1u << ALC_IN_WEIGHT);
    const unsigned act_in = (1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT);
    e->n_u = 0;
    e->max_state = 1;
    for (int i = 0; i < e->ir->n_nodes; i++) {
        e->use_idx[i] = -1;
    }
    for (int i = 0; i < e->ps->n_uses; i++) {
        int node = e->ps->uses[i];
        if (e->ir->nodes[node].op != ALC_OP_CONST) {
            e->use_idx[node] = e->n_u++;
        }
    }
    for (int a = 0; a < e->ps->n_accs; a++) {
        if (alc_acc_slots[e->ps->accs[a].kind] > e->max_state) {
            e->max_state = alc_acc_slots[e->ps->accs[a].kind];
        }
    }
    e->ns = e->ps->n_slots;
    if (e->ns > ALC_MAX_SLOTS) {
        alc_diag_errorf(d,
                        "pass %d has %d accumulator slots; the GPU backend's "
                        "block reduction holds at most %d (48 KB of shared "
                        "memory)",
                        e->k, e->ns, ALC_MAX_SLOTS);
        return -1;
    }
    e->reads_w = (e->ps->inputs & w_in) != 0;
    e->reads_act = (e->ps->inputs & act_in) != 0;
    /* Unrolling the 8 elements of a step lets the compiler keep wv/av in
     * registers and overlap the elements: it matters for the memory-bound
     * passes (OWL, DSA). Heavy element code is compute-bound either way and
     * would only multiply NVRTC's time by 8. */
    e->unroll = elem_cost(e->ir, e->ps) <= UNROLL_MAX_COST;
    e->lw = NULL;
    e->lw_pos = 0;
    if (!e->no_logw && alc_cuda_lw_pass(e->ir, e->ps, e->lw_buf)) {
        e->lw = e->lw_buf;
        for (int a = 0; a < e->ps->n_accs; a++) {
            e->lw_pos |= e->lw[a].pos;
        }
    }
    if (emit_elem_fn(e, d) != 0) {
        return -1;
    }
    if (e->lw != NULL) {
        emit_lw_slow_fn(e);
    }
    emit_pass_kernel(e);
    return 0;
}

int alc_cuda_emit_program(const struct alc_ir *ir, const struct alc_plan *plan,
                          const struct alc_cuda_emit_opts *o,
                          struct alc_sb *out, struct alc_diag *d)
{
    struct em e = {.ir = ir, .out = out};
    int rc = 0, max_accs = 1;
    e.pre = o != NULL && o->prefix != NULL ? o->prefix : "alc_";
    e.no_logw = o != NULL && o->no_logw;
    for (int k = 0; k < plan->n_passes; k++) {
        max_accs = plan->passes[k].n_accs > max_accs ? plan->passes[k].n_accs
                                                     : max_accs;
    }
    e.use_idx = malloc(((size_t)ir->n_nodes + 1) * sizeof *e.use_idx);
    e.lw_buf = malloc((size_t)max_accs * sizeof *e.lw_buf);
    if (e.use_idx == NULL || e.lw_buf == NULL) {
        alc_diag_errorf(d, "out of memory emitting CUDA");
        free(e.use_idx);
        free(e.lw_buf);
        return -1;
    }
    alc_sb_printf(out, "/* ---- program %s: %d pass%s (%016llx) ---- */\n\n",
                  e.pre, plan->n_passes, plan->n_passes == 1 ? "" : "es",
                  (unsigned long long)alc_ir_hash(ir));
    for (int k = 0; k < plan->n_passes && rc == 0; k++) {
        e.k = k + 1;
        e.ps = &plan->passes[k];
        rc = emit_pass(&e, d);
    }
    free(e.use_idx);
    free(e.lw_buf);
    return rc;
}

int alc_cuda_layout(const struct alc_plan_pass *ps, int32_t *out)
{
    out[0] = ps->n_accs;
    for (int a = 0; a < ps->n_accs; a++) {
        out[1 + 2 * a] = (int32_t)ps->accs[a].kind;
        out[2 + 2 * a] = ps->accs[a].slot;
    }
    return 1 + 2 * ps->n_accs;
}

int alc_cuda_emit(const struct alc_ir *ir, const struct alc_cuda_emit_opts *o,
                  struct alc_sb *out, struct alc_diag *d)
{
    struct alc_ir cir;
    struct alc_plan plan;
    int rc = -1;
    if (alc_ir_compact(ir, &cir) != 0) {
        alc_diag_errorf(d, "out of memory emitting CUDA");
        return -1;
    }
    if (alc_plan_build(&plan, &cir, d) == 0) {
        alc_cuda_emit_prelude(o, out);
        alc_sb_puts(out, "\n");
        rc = alc_cuda_emit_program(&cir, &plan, o, out, d);
        alc_plan_free(&plan);
    }
    alc_ir_free(&cir);
    return rc;
}
