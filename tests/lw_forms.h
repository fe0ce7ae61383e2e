/*
 * lw_forms.h: programs and units for the GPU backend's table path for
 * log|wanda| of BF16 weights (compiler/cuda_logw.c), shared by
 * test_cuda_emit.c (the emitted text), test_cuda_emu.c (against the JIT
 * and the backend's own element code, on the host) and test_cuda_run.c
 * (the same on a GPU, and GPU bits against the emulation).
 *
 * The units are BF16 with the values the table path must treat like the
 * element code: +-0 and subnormal weights in every unit, then per unit one
 * kind of trouble -- act columns of +-0 and negative acts, an inf or NaN
 * weight, an act of inf or NaN, all weights zero -- in matrices whose
 * shapes exercise the cell loop (cols % 8 == 0: one cell column, fewer
 * than a block's threads, more, tiles starting mid-row) and the generic
 * loop beside it (cols % 8 != 0) in the same unit.
 */
#ifndef ALC_LW_FORMS_H
#define ALC_LW_FORMS_H

#include "backend_compare.h"

/* ---- Programs ---- */

/* Each a program's lets and one layer expression R; sparsity = S + R/1000
 * (the comparisons look at every reduction, not only the sparsity). */
static const char *const lw_forms[] = {
    /* DSA's ABSLOG pre-process, var: the benchmark's pass */
    "let r = var(log(abs(where(wanda == 0, 1, wanda))))",
    /* log(wanda) without abs: T + log act, NaN where act < 0 */
    "let r = std(log(wanda))",
    "let r = mean(log(abs(wanda)))",
    /* the log inside geomean (ALC_AF_LOG) */
    "let r = geomean(wanda)",
    "let r = min(log(where(wanda != 0, wanda, 0.5)))",
    "let r = max(log(abs(where(0 == -wanda, -2, wanda))))",
    "let r = sum(log(abs(-wanda)))",
    "let r = quantile(log(abs(where(wanda == 0, 3, wanda))), 0.3)",
    /* a zero branch whose log is NaN */
    "let r = var(log(where(wanda == 0, -2, wanda)))",
    /* a where as the zero branch; three accumulators of one pass */
    "let x = log(abs(where(wanda == 0, where(wanda != 0, wanda, 3), "
    "wanda)))\n"
    "let r = var(x) + mean(x) + min(x)",
    /* functions applied after the log (sq, abs) */
    "let r = l2(log(abs(wanda))) + meanabs(log(abs(wanda)))",
};
#define LW_N_FORMS ((int)(sizeof lw_forms / sizeof lw_forms[0]))

/* Passes that must keep their element code (no table path). */
static const char *const lw_not_forms[] = {
    "let r = var(log(wanda + 1))",
    "let r = var(log(abs(weight)))",
    "let r = var(log(abs(where(wanda == 0, S, wanda))))",
    "let r = var(log(abs(where(wanda > 0, 1, wanda))))",
    "let r = var(log(abs(wanda))) + mean(wanda)",
    "let r = var(log(-wanda))",
};
#define LW_N_NOT_FORMS ((int)(sizeof lw_not_forms / sizeof lw_not_forms[0]))

/* The program "<lets>\nsparsity = S + r / 1000" in ir (initialised here). */
static inline void lw_program(const char *lets, struct alc_ir *ir)
{
    struct alc_arena a;
    struct alc_diag d;
    char src[4096];
    snprintf(src, sizeof src, "%s\nsparsity = S + r / 1000\n", lets);
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    alc_ir_init(ir);
    struct alc_program *p =
        alc_front_load(&a, "lw.alloc", src, strlen(src), &d);
    if (p == NULL || alc_lower(p, ir, &d) != 0) {
        fail_msg("does not load:\n%s\n%s", src, alc_diag_text(&d));
    }
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* ---- Units ---- */

static const struct bc_shape lw_shapes[] = {
    {300, 520},          /* 156000: 3 tiles, the 2nd and 3rd start mid-row */
    {16, 8},             /* one cell column: 256 rows at once */
    {3, 4104},           /* 513 cell columns: more than a block's threads */
    {5, 24},    {2, 13}, /* cols % 8 != 0: the generic loop, same unit (last) */
};
#define LW_N_UNITS 12

/* A +-0 or (one in five, or always if sub) subnormal BF16 weight. */
static inline uint16_t lw_bf16_special(struct alc_rng *r, int sub)
{
    uint16_t sign = alc_rng_below(r, 2) ? 0x8000u : 0u;
    if (sub || alc_rng_below(r, 5) == 0) {
        return (uint16_t)(sign | (1u + alc_rng_below(r, 127)));
    }
    return sign; /* +-0 */
}

/*
 * LW_N_UNITS BF16 units of lw_shapes: normal weights (random sign and
 * scale) with 4 % zeros and subnormals, then unit u: 0 nothing more, 1 act
 * columns of +-0 and negative acts, 2 a +inf weight, 3 a NaN weight, 4 an
 * act of +inf, 5 an act of NaN, 6 every weight +-0, 7 a -inf weight and a
 * subnormal act; u >= 8: subnormals but no zeros (so that forms without a
 * where give finite values too). generic: with the cols % 8 != 0 matrix
 * (its elements take the element code and CUDA's log, so not for bit
 * comparisons with the emulation).
 */
static inline void lw_units(struct fx_units *f, uint64_t seed, int generic)
{
    struct alc_rng r;
    int n_shapes = (int)(sizeof lw_shapes / sizeof lw_shapes[0]) - !generic;
    alc_rng_seed(&r, seed);
    bc_units_shapes(f, &r, LW_N_UNITS, lw_shapes, n_shapes, ALC_DT_BF16, 0.0);
    for (int m = 0; m < f->n_mats; m++) {
        const struct alc_mat_view *mv = &f->mv[m];
        int unit = m / (f->n_mats / LW_N_UNITS);
        int kind = unit < 8 ? unit : 8;
        uint16_t *w = f->w[m];
        float *act = f->act[m];
        size_t n = (size_t)(mv->rows * mv->cols);
        size_t at = (size_t)alc_rng_below(&r, (uint64_t)n);
        int64_t col = (int64_t)alc_rng_below(&r, (uint64_t)mv->cols);
        for (size_t i = 0; i < n; i++) {
            if (kind == 6 || alc_rng_double(&r) < 0.04) {
                w[i] = kind == 6 ? (uint16_t)(alc_rng_below(&r, 2) << 15)
                                 : lw_bf16_special(&r, kind == 8);
            }
        }
        for (int64_t c = 0; kind == 1 && c < mv->cols; c++) {
            double u = alc_rng_double(&r);
            act[c] = u < 0.05   ? (u < 0.025 ? 0.0f : -0.0f)
                     : u < 0.15 ? -act[c]
                                : act[c];
        }
        w[at] = kind == 2   ? 0x7f80u
                : kind == 3 ? 0x7fc0u
                : kind == 7 ? 0xff80u
                            : w[at];
        act[col] = kind == 4   ? INFINITY
                   : kind == 5 ? NAN
                   : kind == 7 ? 1e-40f
                               : act[col];
    }
}

#endif /* ALC_LW_FORMS_H */
