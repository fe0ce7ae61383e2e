/*
 * test_import_dsa.c: DSA genome import (import_dsa.h). Genome errors name
 * the bad token and the valid names; the README genome's program is
 * stdlib/dsa.alloc; and, the acceptance test, the interpreter's per-unit
 * scores of imported programs equal DSA's compute_importance: computed
 * here literally in float32 as torch does for the README genome, and for
 * genomes covering every op name by tools/dsa_reference.py (PyTorch; the
 * test skips that part when /usr/bin/python3 has no torch).
 */
#include "alc_test.h"

#include "front.h"
#include "alloc.h"
#include "import_dsa.h"

/* ---- Genome errors ---- */

static void expect_genome_error(const char *genome, const char *first)
{
    struct alc_diag d;
    struct alc_sb out;
    alc_diag_init(&d);
    alc_sb_init(&out);
    assert_int_equal(alc_import_dsa(genome, &out, &d), -1);
    assert_int_equal(d.n_err, 1);
    if (strcmp(d.first, first) != 0) {
        fail_msg("%s\n got: %s\nwant: %s", genome, d.first, first);
    }
    alc_sb_free(&out);
    alc_diag_free(&d);
}

/* Unknown names, 2-D reductions, malformed genomes: one clear error. */
static void test_import_errors(void **state)
{
    (void)state;
    expect_genome_error("W:(ABSLGO)-(VAR)-(ATAN)",
                        "error: genome column 4: unknown pre-process op "
                        "'ABSLGO'; did you mean 'ABSLOG'? valid pre-process "
                        "ops: NO_OP ABS LOG ABSLOG POW EXP NORMALIZE SIGMOID "
                        "TANH MMS");
    expect_genome_error("W:(ABS)-(VARIANCE)-(ATAN)",
                        "error: genome column 10: unknown reduction op "
                        "'VARIANCE'; valid reduction ops: NO_OP "
                        "FROBENIUS_NORM L1_NORM GEOMETRIC_MEAN MEAN VAR STD "
                        "ENTROPY");
    expect_genome_error("W:(ABS)-(VAR)-(ATAN,ASN)",
                        "error: genome column 21: unknown post op 'ASN'; did "
                        "you mean 'ASIN'? valid post ops: NO_OP SIN COS TAN "
                        "ASIN ACOS ATAN EXP LOG ABS SIGMOID TANH SOFTPLUS");
    static const char *const two_d[] = {"GRAM", "CORREF", "DIAGONAL",
                                        "DETERMINANT", "RANK", "SLOGDET"};
    for (size_t i = 0; i < sizeof two_d / sizeof two_d[0]; i++) {
        char g[64], want[512];
        snprintf(g, sizeof g, "W:(ABS)-(%s)-(ATAN)", two_d[i]);
        snprintf(want, sizeof want,
                 "error: genome column 10: reduction %s needs a 2-D matrix, "
                 "but DSA applies it to the unit's pooled 1-D vector of "
                 "Wanda scores, where it fails; use one of: NO_OP "
                 "FROBENIUS_NORM L1_NORM GEOMETRIC_MEAN MEAN VAR STD ENTROPY",
                 two_d[i]);
        expect_genome_error(g, want);
    }
    expect_genome_error("(ABS)-(VAR)-(ATAN)",
                        "error: genome column 1: a DSA genome starts with "
                        "'W:', as in W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)");
    expect_genome_error("W:(ABS)-(VAR)",
                        "error: genome column 14: expected '-' before the "
                        "post ops");
    expect_genome_error("W:(ABS)-VAR-(ATAN)",
                        "error: genome column 9: expected '(' to open the "
                        "reduction ops");
    expect_genome_error("W:(ABS;LOG)-(VAR)-(ATAN)",
                        "error: genome column 7: expected ',' or ')' after "
                        "'ABS'");
    expect_genome_error("W:(ABS)-(VAR)-(ATAN)-(x)",
                        "error: genome column 23: the lambda segment must be "
                        "an integer, as in (7)");
    expect_genome_error("W:(ABS)-(VAR)-(ATAN)-(7)-(8)",
                        "error: genome column 25: unexpected '-' after the "
                        "genome");
    expect_genome_error("W:(abs)-(VAR)-(ATAN)",
                        "error: genome column 4: expected an op name (upper "
                        "case) in the pre-process ops");
    /* found by fuzz_import_dsa: strtol skipped the blanks before 6 and the
     * newlines broke the program's header comment */
    expect_genome_error("W:()-(VAR)-(ATAN)-(\f\n\n6)",
                        "error: genome column 20: unexpected character (byte "
                        "0x0c): a genome is printable ASCII");
    expect_genome_error("W:(ABS)-(VAR)-(ATAN)-( 7)",
                        "error: genome column 23: the lambda segment must be "
                        "an integer, as in (7)");
}

/* ---- The README genome ---- */

static struct alc_program *import_prog(struct alc_arena *a, const char *g)
{
    struct alc_diag d;
    struct alc_sb out;
    alc_diag_init(&d);
    alc_sb_init(&out);
    if (alc_import_dsa(g, &out, &d) != 0) {
        fail_msg("%s: %s", g, alc_diag_text(&d));
    }
    struct alc_program *p = alc_front_load(a, g, alc_sb_str(&out), out.len,
                                           &d);
    assert_non_null(p);
    alc_sb_free(&out);
    alc_diag_free(&d);
    return p;
}

/* stdlib/dsa.alloc is the README genome's import (same tree). */
static void test_import_readme_is_stdlib(void **state)
{
    static const char *const pairs[][2] = {
        {"W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)", "dsa.alloc"},
        {"W:(ABSLOG)-(VAR)-(ATAN)-(7)", "dsa_atan.alloc"},
        {"W:(NORMALIZE)-(VAR)-(ABS,NO_OP)", "dsa_poster.alloc"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        struct alc_arena a;
        struct alc_diag d;
        char path[4096];
        char *src = NULL;
        size_t len = 0;
        alc_arena_init(&a, 0);
        alc_diag_init(&d);
        snprintf(path, sizeof path, "%s/stdlib/%s", ALC_SOURCE_DIR,
                 pairs[i][1]);
        assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
        struct alc_program *lib = alc_front_load(&a, path, src, len, &d);
        assert_non_null(lib);
        struct alc_program *imp = import_prog(&a, pairs[i][0]);
        assert_true(alc_ast_equal(lib, imp));
        assert_true(alc_ast_hash(lib) == alc_ast_hash(imp));
        free(src);
        alc_diag_free(&d);
        alc_arena_free(&a);
    }
}

/* ---- Scores against DSA's definition ---- */

#define N_UNITS 5
#define MAX_MATS 2

/* Test units: two matrices each (3x5 and 5x3), weights of both signs and
 * magnitudes 2^-2 .. 2^2 (unit 3 spans e^-3 .. e^3, where the README
 * function is undefined), a zero weight, activation norms in [0.5, 2]. */
struct dsa_units {
    float w[N_UNITS][MAX_MATS][15];
    float act[N_UNITS][MAX_MATS][5];
    struct alc_mat_view mats[N_UNITS][MAX_MATS];
    struct alc_unit_view units[N_UNITS];
    struct alc_units view;
};

static void make_units(struct dsa_units *t)
{
    struct alc_rng rng;
    alc_rng_seed(&rng, 2024);
    memset(t, 0, sizeof *t);
    for (int u = 0; u < N_UNITS; u++) {
        double spread = u == 3 ? 6.0 : 1.0 + 0.5 * u / N_UNITS;
        for (int m = 0; m < MAX_MATS; m++) {
            int rows = m == 0 ? 3 : 5, cols = m == 0 ? 5 : 3;
            for (int i = 0; i < 15; i++) {
                double e = (alc_rng_double(&rng) - 0.5) * spread;
                double s = alc_rng_double(&rng) < 0.5 ? -1 : 1;
                t->w[u][m][i] = (float)(s * exp(e));
            }
            for (int c = 0; c < cols; c++) {
                t->act[u][m][c] = (float)(0.5 + 1.5 * alc_rng_double(&rng));
            }
            struct alc_mat_view *mv = &t->mats[u][m];
            mv->w = t->w[u][m];
            mv->dtype = ALC_DT_F32;
            mv->rows = rows;
            mv->cols = cols;
            mv->act = t->act[u][m];
            mv->alpha_peak = NAN;
            mv->alpha_hill = NAN;
        }
        t->units[u].mats = t->mats[u];
        t->units[u].n_mats = MAX_MATS;
        t->units[u].block = u;
    }
    t->w[1][0][4] = 0.0f; /* ABSLOG reads it as 1 */
    t->view.units = t->units;
    t->view.n_units = N_UNITS;
}

/* The pooled Wanda vector of a unit as DSA builds it: float32
 * |W| * sqrt(scaler_row), flattened matrix by matrix, row-major. */
static int pooled(const struct dsa_units *t, int u, float *out)
{
    int n = 0;
    for (int m = 0; m < MAX_MATS; m++) {
        const struct alc_mat_view *mv = &t->mats[u][m];
        for (int r = 0; r < mv->rows; r++) {
            for (int c = 0; c < mv->cols; c++) {
                out[n++] = fabsf(t->w[u][m][r * mv->cols + c]) *
                           t->act[u][m][c];
            }
        }
    }
    return n;
}

/* compute_importance for W:(ABSLOG)-(VAR)-(ATAN,ASIN), literally, in
 * float32 as torch computes it: element ops in float, torch.var with a
 * double accumulator (ATen's CPU Welford for float), result rounded to
 * float, atan and asin in float; NaN -> 0, inf -> -1. */
static double readme_score(const float *x, int n)
{
    float y[64];
    double mean = 0, m2 = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i] == 0.0f ? 1.0f : x[i];
        y[i] = logf(fabsf(v));
    }
    for (int i = 0; i < n; i++) { /* Welford */
        double d = (double)y[i] - mean;
        mean += d / (i + 1);
        m2 += d * ((double)y[i] - mean);
    }
    float var = (float)(m2 / (n - 1));
    float s = asinf(atanf(var));
    double value = (double)s;
    if (isnan(value)) {
        return 0.0;
    }
    if (isinf(value)) {
        return -1.0;
    }
    return value;
}

/* Interpreter scores of an imported genome over the units. */
static void interp_scores(const char *genome, const struct dsa_units *t,
                          double *score)
{
    struct alc_arena a;
    struct alc_diag d;
    struct alc_ir ir;
    double sp[N_UNITS];
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    alc_ir_init(&ir);
    struct alc_program *p = import_prog(&a, genome);
    assert_int_equal(alc_lower(p, &ir, &d), 0);
    struct alc_compiled *c = alc_compile(&ir, ALC_BE_INTERP, &d);
    assert_non_null(c);
    struct alc_eval_opts opts = {0.7, NULL, 1};
    struct alc_eval_out out = {sp, score, NULL, 0};
    if (alc_evaluate(c, &t->view, &opts, &out, &d) != 0) {
        fail_msg("%s: %s", genome, alc_diag_text(&d));
    }
    alc_compiled_free(c);
    alc_ir_free(&ir);
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* The acceptance test: the README genome's imported program scores each
 * unit as DSA does. Tolerance 1e-5 relative: DSA works in float32 (the
 * metric, ln, atan, asin each round to 2^-24 relative; ln values near 0
 * make the variance's relative error a few 1e-7) and we in double. */
static void test_import_readme_scores(void **state)
{
    struct dsa_units t;
    double got[N_UNITS];
    float x[64];
    int undefined = 0;
    (void)state;
    make_units(&t);
    interp_scores("W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)", &t, got);
    for (int u = 0; u < N_UNITS; u++) {
        int n = pooled(&t, u, x);
        double want = readme_score(x, n);
        undefined += want == 0.0;
        assert_close(got[u], want, 1e-5);
    }
    assert_int_equal(undefined, 1); /* unit 3: var(ln|x|) > tan(1) */
}

/* Genomes that together use every op name of every stage, in shapes
 * that stay well-conditioned on the test units (tan of a large norm, say,
 * turns float32 rounding into 1e-3 differences). */
static const char *const all_genomes[] = {
    "W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)",
    "W:(ABSLOG)-(VAR)-(ATAN)-(7)",
    "W:(NORMALIZE)-(VAR)-(ABS,NO_OP)",
    "W:()-(MEAN)-()",
    "W:(NO_OP,ABS)-(STD)-(SIN)",
    "W:(LOG)-(MEAN)-(COS)",
    "W:(POW)-(FROBENIUS_NORM)-(LOG)",
    "W:(SIGMOID)-(L1_NORM)-(TAN)",
    "W:(EXP)-(L1_NORM)-(LOG)",
    "W:(SIGMOID)-(GEOMETRIC_MEAN)-(ASIN)",
    "W:(TANH)-(MEAN)-(ACOS)",
    "W:(MMS)-(ENTROPY)-(EXP)",
    "W:(NORMALIZE,MMS)-(MEAN)-(SIGMOID,TANH)",
    "W:(ABSLOG)-(NO_OP)-(SOFTPLUS)",
    "W:(ABSLOG)-()-(ATAN,SIN)",
    "W:(ABS)-(MEAN,FROBENIUS_NORM)-()",
    "W:(ABSLOG)-(MEAN,L1_NORM)-()",
    "W:(ABS)-(MEAN,GEOMETRIC_MEAN,MEAN)-()",
    "W:(ABS)-(MEAN,VAR)-()",
    "W:(ABS)-(VAR,STD)-(EXP)",
    "W:(ABS)-(MEAN,ENTROPY)-()",
    "W:(ABS)-(NO_OP,MEAN,NO_OP)-()",
};

#define N_GENOMES ((int)(sizeof all_genomes / sizeof all_genomes[0]))

static int have_torch(void)
{
    return system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

/* Every op name against tools/dsa_reference.py (torch, float32).
 * Tolerance 1e-5 relative: float32 chains of up to four ops against
 * double, each rounding to 6e-8; the largest difference seen is 2.8e-7. */
static void test_import_all_ops_vs_torch(void **state)
{
    struct dsa_units t;
    float x[64];
    (void)state;
    if (!have_torch()) {
        skip();
    }
    make_units(&t);
    char *dir = alc_test_tmpdir("import_dsa");
    char *in = alc_path_join(dir, "in.txt");
    char *outp = alc_path_join(dir, "out.txt");
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int g = 0; g < N_GENOMES; g++) {
        fprintf(f, "genome %s\n", all_genomes[g]);
    }
    for (int u = 0; u < N_UNITS; u++) {
        int n = pooled(&t, u, x);
        fprintf(f, "unit");
        for (int i = 0; i < n; i++) {
            fprintf(f, " %.9g", (double)x[i]); /* exact for float32 */
        }
        fprintf(f, "\n");
    }
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tools/dsa_reference.py %s > %s 2>/dev/null",
             ALC_SOURCE_DIR, in, outp);
    assert_int_equal(system(cmd), 0);
    f = fopen(outp, "r");
    assert_non_null(f);
    double worst = 0;
    for (int g = 0; g < N_GENOMES; g++) {
        double got[N_UNITS];
        interp_scores(all_genomes[g], &t, got);
        for (int u = 0; u < N_UNITS; u++) {
            double want = 0;
            assert_int_equal(fscanf(f, "%lf", &want), 1);
            double rel = fabs(got[u] - want) /
                         fmax(1.0, fmax(fabs(got[u]), fabs(want)));
            worst = fmax(worst, rel);
            if (!(rel <= 1e-5)) {
                fail_msg("%s, unit %d: interpreter %.17g, torch %.17g",
                         all_genomes[g], u, got[u], want);
            }
        }
    }
    fclose(f);
    print_message("%d genomes x %d units: largest relative difference "
                  "from torch %.3g\n", N_GENOMES, N_UNITS, worst);
    free(in);
    free(outp);
    free(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_import_readme_is_stdlib),
        cmocka_unit_test(test_import_readme_scores),
        cmocka_unit_test(test_import_all_ops_vs_torch),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
