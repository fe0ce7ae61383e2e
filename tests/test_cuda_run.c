/*
 * test_cuda_run.c: the GPU backend on a real GPU (CUDA driver, NVRTC
 * CUBIN for the device's architecture). Skips, saying why, when no GPU is
 * usable (no libcuda.so.1, no device, no NVRTC). Checked:
 *   - every stdlib program and 150 random programs (full op table) on
 *     F32/F16/BF16 units with zeros, negatives, NaN, Inf, subnormals and
 *     multi-tile matrices equal the LLVM JIT within the tolerances of
 *     backend_compare.h (relative 1e-6; exact for min, max, count and sums
 *     of integer-valued operands); the GPU's log, exp, sin, ... are within
 *     2 ulp of glibc's, which the conditioning checks there absorb;
 *   - programs of exact ops only (+ - * / sqrt, comparisons, where, min,
 *     max, reductions; no transcendental function) give the same bits on
 *     the GPU as in the host emulation of the same kernels (same tiles, same
 *     trees, IEEE operations) -- this pins the device's execution of the
 *     emitted code to what test_cuda_emu verifies on the host;
 *   - so do DSA and the other forms of the table path for logs of BF16
 *     weights (compiler/cuda_logw.c, tests/lw_forms.h), which calls the
 *     device's log only where it is exact, on units with every special
 *     value; and they equal the JIT within the tolerance;
 *   - the same bits run to run; the mirror uploads once.
 * With ALC_CUDA_RUN_EMULATE=1 in the environment the "GPU" is the host
 * emulation (tests/cuda_emu.h), which checks this test itself on a machine
 * without a GPU.
 */
#include "alc_test.h"

#ifdef ALC_CUDA_BACKEND

#include "backend_compare.h"
#include "cuda_emu.h"
#include "ir_build.h"
#include "lw_forms.h"

static char no_gpu[512];
/* The device under test: NULL for the driver's GPU, or an emulation. */
static struct alc_cuda_dev *gpu;
static struct alc_cuda_dev fake_gpu;
static struct emu_state fake_st;

static int setup(void **state)
{
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    if (getenv("ALC_CUDA_RUN_EMULATE") != NULL) {
        emu_dev_init(&fake_gpu, &fake_st, "cuda_run_fake_gpu", ALC_CUDA_THREADS,
                     5);
        gpu = &fake_gpu;
        alc_cuda_use_device(gpu);
    }
    if (alc_cuda_available(&d) != 0) {
        const char *why = d.first;
        snprintf(no_gpu, sizeof no_gpu, "%s",
                 strncmp(why, "error: ", 7) == 0 ? why + 7 : why);
    }
    alc_diag_free(&d);
    return 0;
}

/* Skips the test when no GPU is usable, with the reason. */
static void need_gpu(void)
{
    if (no_gpu[0] != '\0') {
        print_message("skipped: %s\n", no_gpu);
        skip();
    }
}

static const struct bc_shape big_shapes[] = {
    {300, 301}, {64, 2048}, {1, 7}, {130, 513}, {4096, 33},
};

static void make_units(struct fx_units *f, int big, uint64_t seed, int dt)
{
    struct alc_rng r;
    alc_rng_seed(&r, seed);
    if (big) {
        bc_units_shapes(f, &r, 4, big_shapes, 5, dt, 0.002);
    } else {
        fx_units_make(f, &r, 6, 3, 40, 300, dt, 0.02);
    }
}

/* Every stdlib program against the JIT, small and multi-tile units, every
 * dtype and mixed. */
static void test_cuda_run_stdlib_vs_jit(void **state)
{
    char *paths[64];
    char what[512];
    struct bc_counts cnt = {0};
    struct alc_cuda_info info;
    struct alc_diag d;
    (void)state;
    need_gpu();
    alc_diag_init(&d);
    alc_cuda_info(&info, &d);
    alc_diag_free(&d);
    print_message("GPU: %s, sm_%d, %d SMs, driver %d\n", info.name, info.arch,
                  info.sm_count, info.driver_version);
    int n = bc_stdlib_files(paths, 64);
    for (int i = 0; i < n; i++) {
        struct alc_ir ir;
        struct bc_ref ref;
        bc_load_file(paths[i], &ir);
        bc_ref_init(&ref, &ir, BC_PERTURB);
        for (int big = 0; big < 2; big++) {
            for (int dt = -1; dt < ALC_DT_COUNT; dt++) {
                struct fx_units f;
                make_units(&f, big, 10 * (uint64_t)i + (uint64_t)(dt + 1), dt);
                snprintf(what, sizeof what, "%s (%s units, dtype %d)", paths[i],
                         big ? "big" : "small", dt);
                bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.6, what, &cnt);
                fx_units_free(&f);
            }
        }
        bc_ref_free(&ref);
        alc_ir_free(&ir);
        free(paths[i]);
    }
    print_message("stdlib: %ld reductions compared (%ld exact), %ld "
                  "skipped, %ld host values bit-equal\n",
                  cnt.compared, cnt.exact, cnt.skipped, cnt.host);
    assert_true(cnt.compared > 50 * cnt.skipped);
}

/* 150 random programs over the full op table against the JIT. */
static void test_cuda_run_random_vs_jit(void **state)
{
    struct alc_random_opts o;
    struct alc_rng rng;
    struct bc_counts cnt = {0};
    char what[8192];
    (void)state;
    need_gpu();
    bc_random_opts(&o);
    alc_rng_seed(&rng, 777);
    for (int i = 0; i < 150; i++) {
        struct alc_ir ir;
        struct fx_units f;
        struct bc_ref ref;
        char *src = bc_random_ir(&rng, &o, &ir);
        bc_ref_init(&ref, &ir, BC_PERTURB);
        make_units(&f, i % 10 == 9, 1000 + (uint64_t)i,
                   i % 4 == 3 ? -1 : i % 3);
        snprintf(what, sizeof what, "random program %d:\n%s\n", i, src);
        bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.5, what, &cnt);
        bc_ref_free(&ref);
        fx_units_free(&f);
        alc_ir_free(&ir);
        free(src);
    }
    print_message("random: %ld reductions compared (%ld exact), %ld "
                  "skipped, %ld host values bit-equal\n",
                  cnt.compared, cnt.exact, cnt.skipped, cnt.host);
    assert_true(cnt.compared > 50 * cnt.skipped);
}

/* ---- GPU against the host emulation, bit for bit ---- */

/* Evaluates ir through the backend ops directly (not alloc.c's cache, which
 * would hand the GPU's compiled state to the emulator). */
static void run_direct(const struct alc_ir *ir, const struct alc_units *U,
                       struct bc_result *r)
{
    bc_run_direct(&alc_backend_cuda, ir, U, 0.55, r);
}

/* Ops whose element-level code is correctly rounded on the GPU and the
 * host alike (IEEE + - * / sqrt, comparisons, selections; no libm call on
 * the device; host stages run the same C code in both). */
static uint64_t exact_ops(void)
{
    uint64_t m = 0;
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        m |= 1ull << op;
    }
    static const int transc[] = {
        ALC_OP_LOG,     ALC_OP_EXP,     ALC_OP_SIN,      ALC_OP_COS,
        ALC_OP_TAN,     ALC_OP_ASIN,    ALC_OP_ACOS,     ALC_OP_ATAN,
        ALC_OP_SIGMOID, ALC_OP_TANH,    ALC_OP_SOFTPLUS, ALC_OP_POW,
        ALC_OP_GEOMEAN, ALC_OP_ENTROPY, /* log per element */
    };
    for (size_t i = 0; i < sizeof transc / sizeof transc[0]; i++) {
        m &= ~(1ull << transc[i]);
    }
    return m;
}

static void same_bits_or_fail(const struct bc_result *a,
                              const struct bc_result *b, int L,
                              const char *what)
{
    for (size_t k = 0; k < (size_t)a->n_nodes * (size_t)L; k++) {
        double x = a->nodes[k], y = b->nodes[k];
        if (!(isnan(x) && isnan(y)) && memcmp(&x, &y, sizeof x) != 0) {
            fail_msg("%s: node %zu unit %zu: GPU %a, emulation %a", what,
                     k / (size_t)L, k % (size_t)L, x, y);
        }
    }
}

/* The host emulation the GPU is compared with (skips without g++). */
static struct alc_cuda_dev *need_emu(void)
{
    static struct alc_cuda_dev emu;
    static struct emu_state emu_st;
    if (system("g++ --version > /dev/null 2>&1") != 0) {
        print_message("skipped: no g++ for the host emulation\n");
        skip();
    }
    if (emu.ops == NULL) {
        emu_dev_init(&emu, &emu_st, "cuda_run_emu", ALC_CUDA_THREADS, 7);
    }
    return &emu;
}

/* OWL and 60 random programs of exact ops: GPU bits == emulated bits. */
static void test_cuda_run_same_bits_as_emulation(void **state)
{
    struct alc_cuda_dev *emu = NULL;
    struct alc_random_opts o;
    struct alc_rng rng;
    char what[64];
    (void)state;
    need_gpu();
    emu = need_emu();
    bc_random_opts(&o);
    o.ops = exact_ops();
    alc_rng_seed(&rng, 31);
    for (int i = -1; i < 60; i++) {
        struct alc_ir ir;
        struct fx_units f;
        struct bc_result g, e;
        char *src = NULL;
        alc_ir_init(&ir);
        if (i < 0) {
            irb_owl(&ir);
        } else {
            src = bc_random_ir(&rng, &o, &ir);
        }
        make_units(&f, i % 5 == 4 || i < 0, 50 + (uint64_t)i, i % 4 - 1);
        alc_cuda_use_device(gpu);
        run_direct(&ir, &f.units, &g);
        alc_cuda_use_device(emu);
        run_direct(&ir, &f.units, &e);
        alc_cuda_use_device(gpu);
        snprintf(what, sizeof what, i < 0 ? "owl" : "exact program %d", i);
        same_bits_or_fail(&g, &e, f.units.n_units, what);
        bc_result_free(&g);
        bc_result_free(&e);
        fx_units_free(&f);
        alc_ir_free(&ir);
        free(src);
    }
}

/* Every form of the table path on BF16 units with zeros, subnormals,
 * acts of +-0, < 0, inf and NaN, inf and NaN weights: the JIT's values
 * within the tolerance; without the generic loop's matrices (CUDA's log),
 * the emulation's bits. */
static void test_cuda_run_logw_forms(void **state)
{
    struct alc_cuda_dev *emu = NULL;
    struct bc_counts cnt = {0};
    struct fx_units f, fg;
    (void)state;
    need_gpu();
    emu = need_emu();
    lw_units(&f, 77, 0);
    lw_units(&fg, 78, 1);
    for (int i = 0; i < LW_N_FORMS; i++) {
        struct alc_ir ir;
        struct bc_ref ref;
        struct bc_result g, e;
        lw_program(lw_forms[i], &ir);
        bc_ref_init(&ref, &ir, BC_PERTURB);
        bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.6, lw_forms[i], &cnt);
        bc_check(&ir, ALC_BE_CUDA, &ref, &fg.units, 0.6, lw_forms[i], &cnt);
        run_direct(&ir, &f.units, &g);
        alc_cuda_use_device(emu);
        run_direct(&ir, &f.units, &e);
        alc_cuda_use_device(gpu);
        same_bits_or_fail(&g, &e, f.units.n_units, lw_forms[i]);
        bc_result_free(&g);
        bc_result_free(&e);
        bc_ref_free(&ref);
        alc_ir_free(&ir);
    }
    print_message("%d forms: %ld reductions compared (%ld exact), %ld "
                  "skipped, %ld host values bit-equal; GPU bits equal to the "
                  "emulation's\n",
                  LW_N_FORMS, cnt.compared, cnt.exact, cnt.skipped, cnt.host);
    assert_true(cnt.compared > 50 * cnt.skipped);
    fx_units_free(&f);
    fx_units_free(&fg);
}

/* Same bits run to run; one upload for many evaluations. */
static void test_cuda_run_deterministic_and_mirror(void **state)
{
    struct alc_ir ir;
    struct fx_units f;
    struct bc_result a, b;
    struct alc_cuda_stats st;
    (void)state;
    need_gpu();
    alc_ir_init(&ir);
    irb_dsa(&ir);
    make_units(&f, 1, 5, ALC_DT_BF16);
    alc_cuda_release_units();
    alc_cuda_stats_reset();
    alc_compiled_free(bc_eval(&ir, ALC_BE_CUDA, &f.units, 0.5, &a));
    for (int i = 0; i < 5; i++) {
        alc_compiled_free(bc_eval(&ir, ALC_BE_CUDA, &f.units, 0.5, &b));
        same_bits_or_fail(&a, &b, f.units.n_units, "second run");
        bc_result_free(&b);
    }
    alc_cuda_stats_get(&st);
    assert_int_equal(st.uploads, 1);
    assert_int_equal(st.evaluations, 6);
    bc_result_free(&a);
    fx_units_free(&f);
    alc_ir_free(&ir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_run_stdlib_vs_jit),
    cmocka_unit_test(test_cuda_run_random_vs_jit),
    cmocka_unit_test(test_cuda_run_same_bits_as_emulation),
    cmocka_unit_test(test_cuda_run_logw_forms),
    cmocka_unit_test(test_cuda_run_deterministic_and_mirror),
};

int main(int argc, char **argv)
{
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}

#else /* !ALC_CUDA_BACKEND */

static void test_cuda_run_not_built(void **state)
{
    (void)state;
    print_message("the GPU backend is not built (NVRTC not found or "
                  "ALC_CUDA=OFF)\n");
    skip();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_run_not_built),
};

ALC_TEST_MAIN(tests)

#endif
