/*
 * cuda_logw.c: log|wanda| of BF16 weights by table on the GPU, the CUDA
 * backend's counterpart of the JIT's jit_logw.c. cuda_emit.c asks
 * alc_cuda_lw_pass whether a pass qualifies and emits its table path;
 * cuda_backend.c computes the per-column act logs the path reads
 * (alc_cuda_lw_lact) into the device mirror.
 *
 * Why. DSA's pass reduces x = log(abs(where(wanda == 0, 1, wanda))) by var:
 * one double-precision log per element kept it compute-bound at 15 % of the
 * H100's copy bandwidth (bench/README.md, bench_cuda). The identity the JIT
 * uses holds on the GPU too: for a BF16 weight w and an F32 act a the
 * product |w| a is exact in double (8 x 24 significand bits), so
 *   log(|w| a) = log|w| + log(a)   exactly, before rounding,
 * and log|w| of a normal BF16 weight is e ln2 + TM[m] with TM a 128-entry
 * table of the 7-bit mantissa (m >= 53: the significand halved and e + 1,
 * fdlibm's split at sqrt(2)). The table path computes
 *   T = fma(e, LN2_HI, fma(e, LN2_LO, TM[m]))   -- jit_logw.c's formula,
 *       the same bits as the JIT's table (tests/test_cuda_emu.c checks all
 *       32639 finite nonzero magnitudes), within 0.9 ulp of log|w|;
 *   x = T + L_j, L_j = log|a_j| (or log a_j for log(wanda) without abs),
 *       computed once per column on the host with ops.c's log (the
 *       interpreter's function) when the mirror is built.
 * For var/std of x itself (DSA) the accumulator's shift K is folded into
 * per-column constants: with c_j = L_j - K (once per 8 columns and thread)
 *   d = x - K = fma(e, LN2_HI, fma(e, LN2_LO, TM[m] + c_j)),
 * then sum d and fma(d, d, q): per element one shared-memory load, one
 * int -> double conversion (e) and five double operations instead of
 * CUDA's log. Every rounding is at most half an ulp of a quantity no larger
 * than max(|e| ln2, |L_j - K|, |d|) + 1, so d is within a few ulp of those
 * (~1e-15 absolute for logs of real weights) of the exact value, as the
 * element code's log is; the reductions differ from the interpreter's by
 * about 1e-15 relative to the spread -- far inside the 1e-6 the backends
 * are compared with (tests/backend_compare.h), and measured there.
 *
 * What limits it. On an H100 (bench/README.md, bench_cuda) the pass went
 * from 442 to 1775 GB/s: 59 % of the copy bandwidth, short of the 70 %
 * target. The kernel is bound by instruction issue, not by FP64 (five
 * double operations per element use a third of the FP64 rate) nor by
 * memory: ~22 instructions per element (SASS of the cell loop: the
 * 16-bit extraction and the check for subnormal/inf/NaN weights, the table
 * address, e, the select for zero weights, the five double operations);
 * at the measured rate that is ~60 % of the issue slots (an estimate, at
 * 1.98 GHz) with 24 resident warps (80 registers). Measured on 16 blocks
 * and not kept: the zero select written as one conditional (NVRTC
 * branched around the fma: 51 %); the cell loop not unrolled (57 %);
 * three cells in flight instead of two (58 %; 56 % with 3 blocks forced);
 * 4 blocks per SM forced (spills: 57 %); one sequence of cells across
 * cell columns so that the prefetch never restarts (more instructions per
 * cell: 55 %), with two chains of sums on top (50 %).
 *
 * Why double and not float sums. The JIT's "Moments in float" gained ~2x
 * on a CPU where double vectors were the bottleneck; here FP64 is not the
 * limit, and float partials would need an error argument that depends on
 * the data's spread. The reduction stays in double, in the same
 * accumulators and combines as every other pass.
 *
 * The table lives in shared memory, ALC_LT_REP = 16 copies: lane l of a
 * half-warp reads copy l, so the 64-bit loads of a warp hit 32 distinct
 * banks whatever the mantissas (two wavefronts, never a conflict); 16 KB
 * per block.
 *
 * Which elements take it (per element, at run time; everything else takes
 * the pass's own element function, i.e. today's code, into the same
 * accumulators):
 *   - BF16 tiles of matrices with cols % 8 == 0 (and <= 2^24) whose mirror
 *     holds the act logs (F16 and F32 weights: the generic loop);
 *   - in columns whose act is finite and nonzero, zero and normal weights:
 *     wanda == 0 exactly where w = +-0, which gets the form's constant
 *     (where(wanda == 0, k, .): log k; no such where: log(+-0) = -inf);
 *     every normal w gets T + L_j;
 *   - the rest, element by element in the 8-element cells that have any
 *     (alc_p<k>_slow): a subnormal w in such a column gets T from the
 *     table's second half (ops.c's log of the subnormal, as the JIT's
 *     table holds); in a column whose act is +-0 every finite w has wanda
 *     == 0 (the form's constant); inf or NaN weights and acts of inf or NaN
 *     take the element function (wanda is inf or NaN there: its log is
 *     exact on any device).
 * So the table path gives the same values as the element function up to
 * the rounding above, NaN, inf and zero behaviour included, and on the GPU
 * and in the host emulation the same bits (no device libm call on values
 * that are not exact; tests/test_cuda_run.c checks it on the GPU).
 *
 * Forms (like jit_codegen.c's "Moments in float" eligibility, for every
 * accumulator kind): each accumulator of the pass reads log(y) -- the
 * log applied by its node, or by its function (geomean's ALC_AF_LOG) --
 * where y is wanda under abs, neg (inside abs) and where(wanda == 0, k, .)
 * / where(wanda != 0, ., k) with k a constant or such a form. Any other
 * element code in the pass keeps the pass on today's code.
 */
#include <math.h>

#include "cuda_internal.h"
#include "logw_table.h"

#define LW_DEPTH 16

/* ---- Which passes ---- */

static int lw_form(const struct alc_ir *ir, int x, int absf, int depth,
                   int *pos, double *zero);

/* *zero = log(y) (absf: log|y|) where wanda == 0, for y a constant or a
 * form; 0, or -1 when y is neither. */
static int lw_zero_value(const struct alc_ir *ir, int y, int absf, int depth,
                         double *zero)
{
    const struct alc_ir_node *n = &ir->nodes[y];
    int pos = 0;
    if (n->op == ALC_OP_CONST) {
        *zero = alc_op_table[ALC_OP_LOG].map1(absf ? fabs(n->u.k) : n->u.k);
        return 0;
    }
    return lw_form(ir, y, absf, depth, &pos, zero);
}

/*
 * log(x) (absf: log|x|) -> T + log act (*pos = 1) or T + log|act| (0) on
 * elements whose act is finite and nonzero and whose wanda is not 0;
 * *zero = its value where wanda == 0. 0, or -1 when x is no such form.
 */
static int lw_form(const struct alc_ir *ir, int x, int absf, int depth,
                   int *pos, double *zero)
{
    const struct alc_ir_node *n = &ir->nodes[x];
    if (n->level != ALC_LV_ELEM || depth > LW_DEPTH) {
        return -1;
    }
    switch (n->op) {
    case ALC_OP_INPUT: /* log(+-0) = -inf */
        if (n->u.input != ALC_IN_WANDA) {
            return -1;
        }
        *pos = !absf;
        *zero = -INFINITY;
        return 0;
    case ALC_OP_ABS:
        return lw_form(ir, n->arg[0], 1, depth + 1, pos, zero);
    case ALC_OP_NEG:
        return absf ? lw_form(ir, n->arg[0], 1, depth + 1, pos, zero) : -1;
    case ALC_OP_WHERE: {
        int t = alc_ir_wanda_zero_test(ir, n->arg[0]);
        if (t < 0 ||
            lw_form(ir, n->arg[t ? 2 : 1], absf, depth + 1, pos, zero) != 0) {
            return -1;
        }
        return lw_zero_value(ir, n->arg[t ? 1 : 2], absf, depth + 1, zero);
    }
    default:
        return -1;
    }
}

int alc_cuda_lw_pass(const struct alc_ir *ir, const struct alc_plan_pass *ps,
                     struct alc_cuda_lw_acc *accs)
{
    if (ps->n_accs == 0) {
        return 0;
    }
    for (int a = 0; a < ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &ps->accs[a];
        const struct alc_ir_node *n = &ir->nodes[acc->node];
        struct alc_cuda_lw_acc f = {0, 0.0, acc->fn};
        int x = -1;
        if (n->op == ALC_OP_LOG && n->level == ALC_LV_ELEM) {
            x = n->arg[0]; /* the accumulator reads log(y) */
        } else if (acc->fn == ALC_AF_LOG) {
            x = acc->node; /* it applies log itself (geomean) */
            f.fn = ALC_AF_ID;
        }
        if (x < 0 || lw_form(ir, x, 0, 0, &f.pos, &f.zero) != 0) {
            return 0;
        }
        if (accs != NULL) {
            accs[a] = f;
        }
    }
    return 1;
}

int alc_cuda_lw_plan(const struct alc_ir *ir, const struct alc_plan *plan)
{
    for (int k = 0; k < plan->n_passes; k++) {
        if (alc_cuda_lw_pass(ir, &plan->passes[k], NULL)) {
            return 1;
        }
    }
    return 0;
}

/* ---- Host values ---- */

void alc_cuda_lw_table(double *tab)
{
    const double *tm = alc_logw_tm_bf16(), *sub = alc_logw_table(ALC_DT_BF16);
    for (int m = 0; m < 128; m++) {
        tab[m] = tm[m];
        /* [128]: zero weights never read it (they take the form's value) */
        tab[128 + m] = m > 0 ? sub[m] : 0.0;
    }
}

void alc_cuda_lw_lact(const float *act, int64_t cols, double *out)
{
    double (*lg)(double) = alc_op_table[ALC_OP_LOG].map1;
    for (int64_t c = 0; c < cols; c++) {
        double a = (double)act[c];
        out[c] = lg(fabs(a));
        out[cols + c] = a > 0.0 ? out[c] : lg(a);
    }
}

/* ---- The prelude's part ---- */

static const char lw_prelude_head[] =
    "/* ---- log|w| of BF16 weights by table (compiler/cuda_logw.c) ---- */\n"
    "\n"
    "#define ALC_LT_REP 16 /* copies of TM in shared memory */\n"
    "\n"
    "/* [0, 128): TM[m] = log of 1 + m/128, halved for m >= 53\n"
    " * (logw_table.c); [129, 256): log|w| of the subnormal BF16 magnitudes\n"
    " * 1 .. 127 ([128], zero, unused: 0). ops.c's log on the host, exact. */\n"
    "__constant__ double alc_logm_bf16[256] = {\n";

static const char lw_prelude_body[] =
    "};\n"
    "\n"
    "/* lt[ALC_LT_REP m + l] = TM[m]: lane l of a half-warp reads copy l, so\n"
    " * a warp's 64-bit loads hit distinct banks. */\n"
    "ALC_FN void alc_lt_fill(double *lt)\n"
    "{\n"
    "    for (int i = (int)threadIdx.x; i < 128 * ALC_LT_REP; i += "
    "ALC_THREADS) {\n"
    "        lt[i] = alc_logm_bf16[i / ALC_LT_REP];\n"
    "    }\n"
    "    __syncthreads();\n"
    "}\n"
    "\n"
    "/* log|w| of a normal BF16 magnitude v (0x80 <= v < 0x7f80) is\n"
    " * alc_lw_fma(alc_lw_e(v), alc_lw_tm(ltl, v)), jit_logw.c's formula:\n"
    " *   e = ((v + 128 - SPLIT_M) >> 7) - 127, exact in double;\n"
    " *   TM[m] from the thread's copy ltl = lt + threadIdx.x % ALC_LT_REP\n"
    " *   (byte offset m * 128 = (v << 7) & 0x3f80);\n"
    " *   e LN2_HI + (e LN2_LO + y) by two fma, fdlibm's split of ln 2\n"
    " *   (e LN2_HI is exact). Finite for every v < 0x8000. */\n"
    "ALC_FN double alc_lw_tm(const double *ltl, unsigned v)\n"
    "{\n"
    "    return *(const double *)((const char *)ltl + ((v << 7) & "
    "0x3f80u));\n"
    "}\n"
    "\n";

/* After alc_lw_e and alc_lw_fma (alc_cuda_lw_prelude prints those). */
static const char lw_prelude_tail[] =
    "ALC_FN double alc_logw_bf16(const double *ltl, unsigned v)\n"
    "{\n"
    "    return alc_lw_fma(alc_lw_e(v), alc_lw_tm(ltl, v));\n"
    "}\n"
    "\n"
    "/* The 8 BF16 halves of a 16-byte load, in element order. */\n"
    "ALC_FN void alc_h8(const uint4 r, unsigned *h)\n"
    "{\n"
    "    h[0] = r.x & 0xffffu, h[1] = r.x >> 16;\n"
    "    h[2] = r.y & 0xffffu, h[3] = r.y >> 16;\n"
    "    h[4] = r.z & 0xffffu, h[5] = r.z >> 16;\n"
    "    h[6] = r.w & 0xffffu, h[7] = r.w >> 16;\n"
    "}\n"
    "\n"
    "/* The tile's first weight (16-bit dtypes). */\n"
    "ALC_FN const unsigned short *wt_of(const struct alc_tile &T)\n"
    "{\n"
    "    return (const unsigned short *)T.w + T.start;\n"
    "}\n"
    "\n"
    "/* *r = the 8 weights at wt[i], wt = the tile's first, if i < n.\n"
    " * Streaming loads, as alc_wload. */\n"
    "ALC_FN void alc_wcell(const unsigned short *wt, int i, int n, uint4 *r)\n"
    "{\n"
    "    if (i < n) {\n"
    "        *r = __ldcs((const uint4 *)(wt + i));\n"
    "    }\n"
    "}\n"
    "\n"
    "/* What the table path knows of 8 columns c .. c+8 of a matrix, from its\n"
    " * act logs T.lact = [log|act| (cols), log act (cols)] (pos: log act is\n"
    " * read; else s = a). */\n"
    "struct alc_lcols {\n"
    "    double a[ALC_VEC]; /* log|act_j| */\n"
    "    double s[ALC_VEC]; /* log act_j (NaN for act_j < 0) */\n"
    "    bool bad; /* some act_j is 0, inf or NaN: cells by alc_p<k>_slow */\n"
    "};\n"
    "\n"
    "ALC_FN void alc_lcols_load(const struct alc_tile &T, long long c, bool "
    "pos,\n"
    "                           struct alc_lcols *L)\n"
    "{\n"
    "    const double2 *pa = (const double2 *)(T.lact + c);\n"
    "    const double2 *ps = (const double2 *)(T.lact + T.cols + c);\n"
    "    L->bad = false;\n"
    "#pragma unroll\n"
    "    for (int k = 0; k < ALC_VEC / 2; k++) {\n"
    "        const double2 p = __ldg(pa + k);\n"
    "        const double2 q = pos ? __ldg(ps + k) : p;\n"
    "        L->a[2 * k] = p.x, L->a[2 * k + 1] = p.y;\n"
    "        L->s[2 * k] = q.x, L->s[2 * k + 1] = q.y;\n"
    "        L->bad = L->bad || !isfinite(p.x) || !isfinite(p.y);\n"
    "    }\n"
    "}\n";

void alc_cuda_lw_prelude(struct alc_sb *out)
{
    double tab[256];
    alc_cuda_lw_table(tab);
    alc_sb_puts(out, lw_prelude_head);
    for (int i = 0; i < 256; i++) {
        const char *sep = i % 4 == 3 || i == 255 ? ",\n" : ", ";
        alc_sb_printf(out, "%s%a%s", i % 4 == 0 ? "    " : "", tab[i], sep);
    }
    alc_sb_puts(out, lw_prelude_body);
    /* e and the two fma with logw_table.h's constants */
    alc_sb_printf(out,
                  "ALC_FN double alc_lw_e(unsigned v)\n"
                  "{\n"
                  "    return (double)((int)((v + %uu) >> 7) - 127);\n"
                  "}\n"
                  "\n"
                  "ALC_FN double alc_lw_fma(double e, double y)\n"
                  "{\n"
                  "    return fma(e, %a, fma(e, %a, y));\n"
                  "}\n"
                  "\n",
                  128u - ALC_LOGW_SPLIT_M, alc_logw_bits(ALC_LOGW_LN2_HI_BITS),
                  alc_logw_bits(ALC_LOGW_LN2_LO_BITS));
    alc_sb_puts(out, lw_prelude_tail);
}
