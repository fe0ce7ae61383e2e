/*
 * test_cuda_emu.c: the GPU backend run end to end without a GPU. The
 * backend (compiler/cuda_backend.c) drives an emulated device
 * (tests/cuda_emu.h): its emitted CUDA C is compiled unchanged by g++
 * against tests/cuda_emu_shim.h and every block runs as 256 cooperative
 * threads with real __syncthreads() and warp-shuffle semantics. Checked:
 * results against the LLVM JIT (backend_compare.h) for every stdlib
 * program and random programs on F32/F16/BF16 units with zeros, negatives,
 * NaN, Inf and subnormals, multi-tile matrices with tiles that start
 * mid-row; the combine kernel bit for bit against alc_plan_combine_tree;
 * bit-identical results for any grid size and run to run; the weight
 * conversions on all 65536 halves; the device mirror's reuse and release;
 * errors. What this cannot check is listed in cuda_emu_shim.h.
 */
#include "alc_test.h"

#ifdef ALC_CUDA_BACKEND

#include "backend_compare.h"
#include "cuda_emu.h"
#include "ir_build.h"
#include "logw_table.h"
#include "lw_forms.h"

/* One emulated device for the whole process (the compiled-code cache
 * remembers the device a program was compiled for). */
static struct alc_cuda_dev emu;
static struct emu_state emu_st;

static int setup(void **state)
{
    (void)state;
    if (emu.ops == NULL) {
        emu_dev_init(&emu, &emu_st, "cuda_emu", ALC_CUDA_THREADS, 3);
    }
    alc_cuda_use_device(&emu);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alc_cuda_release_units();
    return 0;
}

/* ---- Helpers ---- */

static const struct bc_shape big_shapes[] = {
    {300, 301}, /* 90300: 2 tiles, the second starts at column 219 */
    {64, 2048}, /* 131072: 2 full tiles, cols % 8 == 0 (vector act) */
    {1, 7},     /* shorter than one vector */
    {130, 513}, /* 66690: a tile of 1154 elements, odd columns */
};

/* Units sets the comparisons run on. */
static void make_small(struct fx_units *f, uint64_t seed, int dt)
{
    struct alc_rng r;
    alc_rng_seed(&r, seed);
    fx_units_make(f, &r, 5, 2, 20, 150, dt, 0.02);
}

static void make_big(struct fx_units *f, uint64_t seed, int dt)
{
    struct alc_rng r;
    alc_rng_seed(&r, seed);
    bc_units_shapes(f, &r, 3, big_shapes, 4, dt, 0.002);
}

/* ---- Weight conversions ---- */

static const char conv_kernel[] =
    "extern \"C\" __global__ void __launch_bounds__(ALC_THREADS)\n"
    "conv(const struct alc_args A)\n"
    "{\n"
    "    float *o = (float *)A.rec;\n"
    "    for (long long i = blockIdx.x * (long long)ALC_THREADS + "
    "threadIdx.x;\n"
    "         i < 65536; i += (long long)gridDim.x * ALC_THREADS) {\n"
    "        o[i] = alc_f16((unsigned)i);\n"
    "        o[65536 + i] = alc_bf16((unsigned)i);\n"
    "    }\n"
    "}\n";

static int same_float_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The prelude's alc_f16/alc_bf16 equal alc_f16_to_f32/alc_bf16_to_f32 on
 * every 16-bit pattern, bit for bit (NaN payloads included). */
static void test_cuda_emu_conversions_exhaustive(void **state)
{
    struct alc_sb src;
    struct alc_diag d;
    struct alc_cuda_image img = {NULL, NULL};
    void *mod = NULL, *fn = NULL;
    uint64_t out = 0;
    float *h = malloc(2 * 65536 * sizeof *h);
    (void)state;
    alc_sb_init(&src);
    alc_diag_init(&d);
    alc_cuda_emit_prelude(NULL, &src);
    alc_sb_puts(&src, conv_kernel);
    img.src = alc_sb_str(&src);
    if (emu.ops->module_load(&emu, &img, &mod, &d) != 0 ||
        emu.ops->function(&emu, mod, "conv", &fn, &d) != 0 ||
        emu.ops->mem_alloc(&emu, &out, 2 * 65536 * sizeof(float), &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    struct alc_cuda_args a = {.rec = out};
    if (emu.ops->launch(&emu, fn, 5, ALC_CUDA_THREADS, &a, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    emu.ops->dtoh(&emu, h, out, 2 * 65536 * sizeof(float), &d);
    for (unsigned i = 0; i < 65536; i++) {
        if (!same_float_bits(h[i], alc_f16_to_f32((uint16_t)i)) ||
            !same_float_bits(h[65536 + i], alc_bf16_to_f32((uint16_t)i))) {
            fail_msg("half 0x%04x: f16 %a (want %a), bf16 %a (want %a)", i,
                     h[i], alc_f16_to_f32((uint16_t)i), h[65536 + i],
                     alc_bf16_to_f32((uint16_t)i));
        }
    }
    emu.ops->mem_free(&emu, out);
    emu.ops->module_unload(&emu, mod);
    free(h);
    alc_sb_free(&src);
    alc_diag_free(&d);
}

/* ---- Against the JIT ---- */

/* Seconds in the backend (emulated) and in the JIT reference. */
static double t_backend, t_ref;

static void check_all_dtypes(const struct alc_ir *ir, struct bc_ref *ref,
                             const char *name, int big, struct bc_counts *cnt)
{
    char what[512];
    for (int dt = -1; dt < ALC_DT_COUNT; dt++) {
        struct fx_units f;
        if (big) {
            make_big(&f, 100 + (uint64_t)(dt + 1), dt);
        } else {
            make_small(&f, 200 + (uint64_t)(dt + 1), dt);
        }
        snprintf(what, sizeof what, "%s, %s units, dtype %s", name,
                 big ? "big" : "small",
                 dt < 0 ? "mixed" : alc_dtype_table[dt].st_name);
        t_backend += bc_check(ir, ALC_BE_CUDA, ref, &f.units, 0.6, what, cnt);
        fx_units_free(&f);
    }
}

/* Every stdlib program on small and multi-tile units of every dtype. */
static void test_cuda_emu_stdlib_vs_jit(void **state)
{
    char *paths[64];
    struct bc_counts cnt = {0};
    (void)state;
    int n = bc_stdlib_files(paths, 64);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) {
        struct alc_ir ir;
        struct bc_ref ref;
        bc_load_file(paths[i], &ir);
        bc_ref_init(&ref, &ir, BC_PERTURB);
        check_all_dtypes(&ir, &ref, paths[i], 0, &cnt);
        check_all_dtypes(&ir, &ref, paths[i], 1, &cnt);
        t_ref += ref.seconds;
        bc_ref_free(&ref);
        alc_ir_free(&ir);
        free(paths[i]);
    }
    print_message("stdlib: %ld reductions compared (%ld exact), %ld ill-"
                  "conditioned skipped, %ld host values bit-equal; %.1f s "
                  "emulated backend (%.1f s g++ so far), %.1f s JIT\n",
                  cnt.compared, cnt.exact, cnt.skipped, cnt.host, t_backend,
                  emu_st.compile_seconds, t_ref);
    assert_true(cnt.compared > 100 * cnt.skipped);
}

/* Random programs over the full op table (until 50 of them have element
 * reductions, i.e. kernels), small units, every dtype and mixed. */
static void test_cuda_emu_random_vs_jit(void **state)
{
    struct alc_random_opts o;
    struct alc_rng rng;
    struct bc_counts cnt = {0};
    char what[8192];
    int with_kernels = 0;
    (void)state;
    bc_random_opts(&o);
    alc_rng_seed(&rng, 4242);
    for (int i = 0; with_kernels < 50; i++) {
        struct alc_ir ir;
        struct fx_units f;
        struct bc_ref ref;
        char *src = bc_random_ir(&rng, &o, &ir);
        bc_ref_init(&ref, &ir, BC_PERTURB);
        with_kernels += alc_jit_plan(ref.j[0])->n_passes > 0;
        make_small(&f, 300 + (uint64_t)i, i % 4 == 3 ? -1 : i % 3);
        snprintf(what, sizeof what, "random program %d:\n%s\n", i, src);
        t_backend +=
            bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.5, what, &cnt);
        t_ref += ref.seconds;
        bc_ref_free(&ref);
        fx_units_free(&f);
        alc_ir_free(&ir);
        free(src);
    }
    print_message("random: %ld reductions compared (%ld exact), %ld ill-"
                  "conditioned skipped, %ld host values bit-equal; %.1f s "
                  "emulated backend (%.1f s g++ so far), %.1f s JIT\n",
                  cnt.compared, cnt.exact, cnt.skipped, cnt.host, t_backend,
                  emu_st.compile_seconds, t_ref);
    assert_true(cnt.compared > 100 * cnt.skipped);
}

/* ---- The combine kernel, bit for bit ---- */

/* sparsity = sum + min + max + var + l2 of the weights: one pass with
 * SUM, MIN, MAX and VAR accumulators (8 slots). */
static void build_all_accs(struct alc_ir *ir)
{
    alc_ir_init(ir);
    int w = IN(ir, ALC_IN_WEIGHT);
    int s = OP2(ir, ALC_OP_ADD, OP1(ir, ALC_OP_SUM, w), OP1(ir, ALC_OP_MIN, w));
    s = OP2(ir, ALC_OP_ADD, s, OP1(ir, ALC_OP_MAX, w));
    s = OP2(ir, ALC_OP_ADD, s, OP1(ir, ALC_OP_VAR, w));
    ir->sparsity = OP2(ir, ALC_OP_ADD, s, OP1(ir, ALC_OP_L2, w));
}

static double special_or(struct alc_rng *r, double x)
{
    static const double sp[] = {0.0, -0.0, INFINITY, -INFINITY, NAN};
    if (alc_rng_double(r) < 0.05) {
        return sp[alc_rng_below(r, 5)];
    }
    return x;
}

/* A random record of the pass: sums with specials; min/max {value,
 * element index} from a few values (ties, +0 and -0, NaN, the identity);
 * var states made from data (or empty). */
static void random_record(const struct alc_plan_pass *ps, struct alc_rng *r,
                          double *rec)
{
    static const double few[] = {-1.0, 0.0, -0.0, 1.0, 2.5, NAN, INFINITY};
    for (int a = 0; a < ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &ps->accs[a];
        double *st = rec + acc->slot;
        if (acc->kind == ALC_ACC_VAR) {
            double n = (double)alc_rng_below(r, 4) * 100.0;
            double K = alc_rng_normal(r) + 1e6;
            double s1 = alc_rng_normal(r) * 10.0 * sqrt(n);
            double s2 = fabs(alc_rng_normal(r)) * n * 4.0 + s1 * s1 / (n + 1);
            alc_plan_var_from_shifted(n, special_or(r, K), s1, s2, st);
        } else if (acc->kind == ALC_ACC_SUM) {
            st[0] = special_or(r, alc_rng_normal(r) * 100.0);
        } else if (alc_rng_double(r) < 0.05) {
            alc_plan_acc_identity(acc->kind, st);
        } else {
            double v = few[alc_rng_below(r, 7)];
            st[0] = acc->kind == ALC_ACC_MAX && isinf(v) ? -v : v;
            st[1] = (double)alc_rng_below(r, 1u << 20);
        }
    }
}

/* alc_combine on random records equals alc_plan_combine_tree bit for bit,
 * for unit sizes 0, 1, 2, 3, 5, 8, 13, 300 and 1500 records (more than
 * 2 * 256: threads take several pairs per step). */
static void test_cuda_emu_combine_bit_exact(void **state)
{
    static const int64_t counts[] = {0, 1, 2, 3, 5, 8, 13, 300, 1500};
    const int L = (int)(sizeof counts / sizeof counts[0]);
    struct alc_ir ir, cir;
    struct alc_plan plan;
    struct alc_diag d;
    struct alc_sb src;
    struct alc_rng rng;
    struct alc_cuda_emit_opts eo = {"t_", ALC_CUDA_THREADS, 0};
    void *mod = NULL, *fn = NULL;
    int64_t first[16], total = 0;
    (void)state;
    alc_diag_init(&d);
    alc_sb_init(&src);
    alc_rng_seed(&rng, 9);
    build_all_accs(&ir);
    assert_int_equal(alc_ir_compact(&ir, &cir), 0);
    assert_int_equal(alc_plan_build(&plan, &cir, &d), 0);
    const struct alc_plan_pass *ps = &plan.passes[0];
    assert_int_equal(ps->n_slots, 10); /* sum, min, max, var, sum sq */
    alc_cuda_emit_prelude(&eo, &src);
    assert_int_equal(alc_cuda_emit_program(&cir, &plan, &eo, &src, &d), 0);
    struct alc_cuda_image img = {alc_sb_str(&src), NULL};
    if (emu.ops->module_load(&emu, &img, &mod, &d) != 0 ||
        emu.ops->function(&emu, mod, "alc_combine", &fn, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    int32_t layout[64];
    int n_layout = alc_cuda_layout(ps, layout);
    for (int u = 0; u < L; u++) {
        first[u] = total;
        total += counts[u];
    }
    size_t ns = (size_t)ps->n_slots;
    double *rec = malloc(((size_t)total + 1) * ns * sizeof *rec);
    double *want = malloc(((size_t)total + 1) * ns * sizeof *want);
    double *got = malloc((size_t)L * ns * sizeof *got);
    for (int64_t i = 0; i < total; i++) {
        random_record(ps, &rng, rec + (size_t)i * ns);
    }
    memcpy(want, rec, (size_t)total * ns * sizeof *rec);
    uint64_t d_rec = 0, d_first = 0, d_count = 0, d_out = 0, d_lay = 0;
    emu.ops->mem_alloc(&emu, &d_lay, (size_t)n_layout * 4, &d);
    emu.ops->htod(&emu, d_lay, layout, (size_t)n_layout * 4, &d);
    emu.ops->mem_alloc(&emu, &d_rec, (size_t)total * ns * 8, &d);
    emu.ops->mem_alloc(&emu, &d_first, sizeof first, &d);
    emu.ops->mem_alloc(&emu, &d_count, sizeof counts, &d);
    emu.ops->mem_alloc(&emu, &d_out, (size_t)L * ns * 8, &d);
    emu.ops->htod(&emu, d_rec, rec, (size_t)total * ns * 8, &d);
    emu.ops->htod(&emu, d_first, first, (size_t)L * 8, &d);
    emu.ops->htod(&emu, d_count, counts, (size_t)L * 8, &d);
    struct alc_cuda_args a = {.rec = d_rec,
                              .unit_first = d_first,
                              .unit_count = d_count,
                              .n_units = L,
                              .out = d_out,
                              .layout = d_lay,
                              .n_slots = (int64_t)ns};
    if (emu.ops->launch(&emu, fn, 4, ALC_CUDA_THREADS, &a, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    emu.ops->dtoh(&emu, got, d_out, (size_t)L * ns * 8, &d);
    for (int u = 0; u < L; u++) {
        double *w = want + (size_t)first[u] * ns, id[16];
        if (counts[u] == 0) {
            for (int k = 0; k < ps->n_accs; k++) {
                alc_plan_acc_identity(ps->accs[k].kind, id + ps->accs[k].slot);
            }
            w = id;
        } else {
            alc_plan_combine_tree(ps, w, counts[u]);
        }
        for (size_t k = 0; k < ns; k++) {
            double g = got[(size_t)u * ns + k];
            if (!(isnan(g) && isnan(w[k])) && memcmp(&g, &w[k], 8) != 0) {
                fail_msg("unit %d (%lld records) slot %zu: kernel %a, "
                         "alc_plan_combine_tree %a",
                         u, (long long)counts[u], k, g, w[k]);
            }
        }
    }
    emu.ops->mem_free(&emu, d_rec);
    emu.ops->mem_free(&emu, d_first);
    emu.ops->mem_free(&emu, d_count);
    emu.ops->mem_free(&emu, d_out);
    emu.ops->mem_free(&emu, d_lay);
    emu.ops->module_unload(&emu, mod);
    free(rec);
    free(want);
    free(got);
    alc_plan_free(&plan);
    alc_ir_free(&ir);
    alc_ir_free(&cir);
    alc_sb_free(&src);
    alc_diag_free(&d);
}

/* ---- Determinism ---- */

static void eval_nodes(struct alc_compiled *c, const struct alc_units *U,
                       double *nodes, double *sp)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = 0.7};
    struct alc_eval_out out = {sp, NULL, nodes, 0.0};
    alc_diag_init(&d);
    if (alc_evaluate(c, U, &eo, &out, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* The same bits whatever the number of blocks per launch (1 .. one per
 * tile) and run to run: the tiles and trees do not depend on the grid. */
static void test_cuda_emu_grid_independent(void **state)
{
    struct alc_ir ir;
    struct fx_units f;
    struct alc_diag d;
    static const int grids[] = {1, 2, 5, 1000, 3};
    (void)state;
    alc_diag_init(&d);
    alc_ir_init(&ir);
    irb_dsa(&ir);
    make_big(&f, 77, -1);
    struct alc_compiled *c = alc_compile(&ir, ALC_BE_CUDA, &d);
    assert_non_null(c);
    size_t n = (size_t)alc_compiled_ir(c)->n_nodes * 3;
    double *first = malloc(n * sizeof *first), *nodes = malloc(n * 8);
    double sp0[3], sp[3];
    for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
        emu.max_grid = grids[g];
        eval_nodes(c, &f.units, g == 0 ? first : nodes, g == 0 ? sp0 : sp);
        if (g > 0 && (memcmp(first, nodes, n * 8) != 0 ||
                      memcmp(sp0, sp, sizeof sp) != 0)) {
            fail_msg("grid %d gives other bits than grid 1", grids[g]);
        }
    }
    emu.max_grid = 3;
    alc_compiled_free(c);
    free(first);
    free(nodes);
    fx_units_free(&f);
    alc_ir_free(&ir);
    alc_diag_free(&d);
}

/* ---- The device mirror ---- */

static uint64_t upload_bytes(const struct alc_units *U, int w, int act)
{
    uint64_t b = 0;
    for (int u = 0; u < U->n_units; u++) {
        for (int m = 0; m < U->units[u].n_mats; m++) {
            const struct alc_mat_view *mv = &U->units[u].mats[m];
            b += w ? (uint64_t)(mv->rows * mv->cols) *
                         (uint64_t)alc_dtype_table[mv->dtype].size
                   : 0;
            b += act ? (uint64_t)mv->cols * 4u : 0;
        }
    }
    return b;
}

/* Bytes of the act logs the mirror adds for a program with a table path:
 * (2, cols) doubles per BF16 matrix with act and cols % 8 == 0. */
static uint64_t lact_bytes(const struct alc_units *U)
{
    uint64_t b = 0;
    for (int u = 0; u < U->n_units; u++) {
        for (int m = 0; m < U->units[u].n_mats; m++) {
            const struct alc_mat_view *mv = &U->units[u].mats[m];
            if (mv->dtype == ALC_DT_BF16 && mv->act != NULL &&
                mv->cols % 8 == 0 && mv->rows > 0) {
                b += 16u * (uint64_t)mv->cols;
            }
        }
    }
    return b;
}

static void eval_once(const struct alc_ir *ir, const struct alc_units *U,
                      double *sp)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {.S = 0.5};
    struct alc_eval_out out = {sp, NULL, NULL, 0.0};
    alc_diag_init(&d);
    struct alc_compiled *c = alc_compile(ir, ALC_BE_CUDA, &d);
    if (c == NULL || alc_evaluate(c, U, &eo, &out, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_compiled_free(c);
    alc_diag_free(&d);
}

static void expect_uploads(uint64_t n, uint64_t bytes)
{
    struct alc_cuda_stats st;
    alc_cuda_stats_get(&st);
    if (st.uploads != n || st.bytes_uploaded != bytes) {
        fail_msg("%llu uploads of %llu bytes, expected %llu of %llu",
                 (unsigned long long)st.uploads,
                 (unsigned long long)st.bytes_uploaded, (unsigned long long)n,
                 (unsigned long long)bytes);
    }
}

/* Units are uploaded once and reused across evaluations and programs;
 * other units, or a program needing more (weights after act only), upload
 * again; a program with a table path (DSA) after one without (OWL) adds
 * only the act logs; alc_cuda_release_units drops the mirror; results
 * never change. */
static void test_cuda_emu_mirror_reuse(void **state)
{
    struct alc_ir dsa, owl, actonly;
    struct fx_units f1, f2;
    double sp[5], sp2[5];
    (void)state;
    alc_ir_init(&dsa);
    alc_ir_init(&owl);
    irb_dsa(&dsa);
    irb_owl(&owl);
    alc_ir_init(&actonly);
    actonly.sparsity = OP2(&actonly, ALC_OP_MUL,
                           OP1(&actonly, ALC_OP_MEAN, IN(&actonly, ALC_IN_ACT)),
                           IN(&actonly, ALC_IN_S));
    make_small(&f1, 5, -1);
    make_small(&f2, 6, -1);
    for (int m = 0; m < f1.n_mats; m += 2) { /* table-path matrices: BF16
                                                (as many bytes or fewer),
                                                cols % 8 == 0 (fewer) */
        struct alc_mat_view *mv = &f1.mv[m];
        mv->dtype = ALC_DT_BF16;
        mv->cols = mv->cols >= 8 ? mv->cols - mv->cols % 8 : mv->cols;
    }
    alc_cuda_release_units();
    alc_cuda_stats_reset();
    uint64_t b1 = upload_bytes(&f1.units, 1, 1), l1 = lact_bytes(&f1.units);
    assert_true(l1 > 0);
    eval_once(&dsa, &f1.units, sp);
    expect_uploads(1, b1 + l1);
    eval_once(&dsa, &f1.units, sp2);
    eval_once(&owl, &f1.units, sp2);
    expect_uploads(1, b1 + l1);
    eval_once(&dsa, &f1.units, sp2);
    assert_memory_equal(sp, sp2, sizeof sp);
    /* OWL first: DSA then adds the act logs, nothing else */
    alc_cuda_release_units();
    eval_once(&owl, &f1.units, sp2);
    expect_uploads(2, 2 * b1 + l1);
    eval_once(&dsa, &f1.units, sp2);
    expect_uploads(2, 2 * b1 + 2 * l1);
    assert_memory_equal(sp, sp2, sizeof sp);
    /* other units: uploaded with what the mirror held (weights too) */
    uint64_t b2 = upload_bytes(&f2.units, 1, 1), l2 = lact_bytes(&f2.units);
    uint64_t before = 2 * b1 + 2 * l1;
    eval_once(&actonly, &f2.units, sp2);
    expect_uploads(3, before + b2 + l2);
    eval_once(&dsa, &f2.units, sp2);
    expect_uploads(3, before + b2 + l2);
    /* from scratch: act only, then a program needing the weights too */
    alc_cuda_release_units();
    uint64_t a2 = upload_bytes(&f2.units, 0, 1);
    eval_once(&actonly, &f2.units, sp);
    expect_uploads(4, before + b2 + l2 + a2);
    eval_once(&dsa, &f2.units, sp);
    expect_uploads(5, before + 2 * (b2 + l2) + a2);
    assert_memory_equal(sp, sp2, sizeof sp);
    fx_units_free(&f1);
    fx_units_free(&f2);
    alc_ir_free(&dsa);
    alc_ir_free(&owl);
    alc_ir_free(&actonly);
}

/* ---- Compiled-code cache ---- */

/* A program compiles (emits, loads a module) once: the second alc_compile
 * of it, and one with other param values, are cache hits that load
 * nothing, and each evaluates with its own param values (as the JIT). */
static void test_cuda_emu_cache_and_params(void **state)
{
    struct alc_ir a, b;
    struct fx_units f;
    struct alc_diag d;
    double sa[5], sb[5], ja[5];
    struct alc_eval_opts eo = {.S = 0.5};
    (void)state;
    alc_diag_init(&d);
    alc_ir_init(&a);
    alc_ir_init(&b);
    irb_owl(&a);
    irb_owl(&b);
    /* a structure no other test compiles: sparsity + 0 * block */
    int z = OP2(&a, ALC_OP_MUL, K(&a, 0.0), IN(&a, ALC_IN_BLOCK));
    a.sparsity = OP2(&a, ALC_OP_ADD, a.sparsity, z);
    z = OP2(&b, ALC_OP_MUL, K(&b, 0.0), IN(&b, ALC_IN_BLOCK));
    b.sparsity = OP2(&b, ALC_OP_ADD, b.sparsity, z);
    b.params[0].value = 2.0; /* M */
    struct alc_rng r;
    alc_rng_seed(&r, 31);
    fx_units_make(&f, &r, 5, 2, 20, 150, ALC_DT_BF16, 0.0); /* no NaN */
    int mods = emu_st.n_modules;
    struct alc_compiled *ca = alc_compile(&a, ALC_BE_CUDA, &d);
    assert_non_null(ca);
    assert_false(alc_compiled_cache_hit(ca));
    assert_int_equal(emu_st.n_modules, mods + 1);
    struct alc_compiled *ca2 = alc_compile(&a, ALC_BE_CUDA, &d);
    struct alc_compiled *cb = alc_compile(&b, ALC_BE_CUDA, &d);
    assert_true(alc_compiled_cache_hit(ca2) && alc_compiled_cache_hit(cb));
    assert_int_equal(emu_st.n_modules, mods + 1);
    struct alc_eval_out oa = {sa, NULL, NULL, 0.0}, ob = {sb, NULL, NULL, 0.0};
    assert_int_equal(alc_evaluate(ca2, &f.units, &eo, &oa, &d), 0);
    assert_int_equal(alc_evaluate(cb, &f.units, &eo, &ob, &d), 0);
    for (int u = 0; u < 5; u++) {
        assert_false(isnan(sa[u]) || isnan(sb[u]));
    }
    assert_true(memcmp(sa, sb, sizeof sa) != 0); /* M = 5 vs M = 2 */
    struct alc_compiled *jb = alc_compile(&b, ALC_BE_LLVM, &d);
    struct alc_eval_out oj = {ja, NULL, NULL, 0.0};
    assert_int_equal(alc_evaluate(jb, &f.units, &eo, &oj, &d), 0);
    for (int u = 0; u < 5; u++) {
        assert_close(sb[u], ja[u], 1e-12); /* sums of 0/1: exact */
    }
    alc_compiled_free(ca);
    alc_compiled_free(ca2);
    alc_compiled_free(cb);
    alc_compiled_free(jb);
    fx_units_free(&f);
    alc_ir_free(&a);
    alc_ir_free(&b);
    alc_diag_free(&d);
}

/* ---- What the benchmark reads ---- */

/* With timing on, the stats count every pass kernel's weight bytes (OWL:
 * two passes over 2-byte BF16 weights) and its time; the copy bandwidth
 * helper runs on any device with copies and timers. */
static void test_cuda_emu_timing_stats(void **state)
{
    struct alc_ir ir;
    struct fx_units f;
    struct alc_cuda_stats st;
    struct alc_diag d;
    double sp[5], rw = 0.0, rd = 0.0;
    (void)state;
    alc_diag_init(&d);
    alc_ir_init(&ir);
    irb_owl(&ir);
    make_small(&f, 21, ALC_DT_BF16);
    uint64_t wbytes = upload_bytes(&f.units, 1, 0);
    eval_once(&ir, &f.units, sp);
    alc_cuda_stats_reset();
    alc_cuda_set_timing(1);
    eval_once(&ir, &f.units, sp);
    eval_once(&ir, &f.units, sp);
    alc_cuda_set_timing(0);
    alc_cuda_stats_get(&st);
    assert_int_equal(st.kernel_bytes, 2 * 2 * wbytes);
    assert_true(st.kernel_seconds > 0.0);
    assert_int_equal(st.evaluations, 2);
    assert_int_equal(st.launches, 2 * 2 * 2); /* 2 passes: kernel, combine */
    assert_int_equal(st.uploads, 0);
    assert_int_equal(alc_cuda_copy_bandwidth(1 << 20, 2, &rw, &rd, &d), 0);
    assert_true(rw > 0.0 && rd > 0.0 && fabs(rw - 2.0 * rd) < 1e-6 * rw);
    fx_units_free(&f);
    alc_ir_free(&ir);
    alc_diag_free(&d);
}

/* ---- Edges ---- */

/* quantile (values copied back per unit) on multi-tile units with
 * 1-element matrices: as the JIT. */
static void test_cuda_emu_quantile(void **state)
{
    static const struct bc_shape shapes[] = {{40, 1700}, {1, 1}, {3, 5}};
    struct alc_ir ir;
    struct fx_units f;
    struct alc_rng r;
    struct bc_ref ref;
    struct bc_counts cnt = {0};
    (void)state;
    alc_rng_seed(&r, 12);
    bc_units_shapes(&f, &r, 4, shapes, 3, -1, 0.001);
    alc_ir_init(&ir);
    int wa = IN(&ir, ALC_IN_WANDA);
    int q = OP2(&ir, ALC_OP_QUANTILE, wa, K(&ir, 0.3));
    int m = OP1(&ir, ALC_OP_MEAN, OP2(&ir, ALC_OP_GT, wa, q));
    ir.sparsity =
        OP2(&ir, ALC_OP_ADD, m,
            OP2(&ir, ALC_OP_QUANTILE, IN(&ir, ALC_IN_WEIGHT), K(&ir, 0.9)));
    bc_ref_init(&ref, &ir, BC_PERTURB);
    bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.5, "quantile", &cnt);
    assert_true(cnt.compared > 0);
    bc_ref_free(&ref);
    fx_units_free(&f);
    alc_ir_free(&ir);
}

/* A pass with 13 reductions of every kind, on multi-tile units of every
 * dtype: as the JIT. */
static void test_cuda_emu_wide_pass(void **state)
{
    struct alc_ir ir;
    struct bc_ref ref;
    struct bc_counts cnt = {0};
    (void)state;
    bc_wide_ir(&ir);
    bc_ref_init(&ref, &ir, BC_PERTURB);
    for (int dt = -1; dt < ALC_DT_COUNT; dt++) {
        struct fx_units f;
        make_big(&f, 40 + (uint64_t)(dt + 1), dt);
        bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.5, "wide pass", &cnt);
        fx_units_free(&f);
    }
    assert_true(cnt.compared >= 4 * 3 * 13);
    bc_ref_free(&ref);
    alc_ir_free(&ir);
}

/* A matrix without elements: the CPU backends' error, before any upload. */
static void test_cuda_emu_empty_matrix(void **state)
{
    struct alc_ir ir;
    struct fx_units f;
    struct alc_diag d;
    double sp[5];
    struct alc_eval_opts eo = {.S = 0.5};
    struct alc_eval_out out = {sp, NULL, NULL, 0.0};
    (void)state;
    alc_diag_init(&d);
    alc_ir_init(&ir);
    irb_dsa(&ir);
    make_small(&f, 9, ALC_DT_F16);
    f.mv[2].rows = 0;
    struct alc_compiled *c = alc_compile(&ir, ALC_BE_CUDA, &d);
    assert_non_null(c);
    assert_int_equal(alc_evaluate(c, &f.units, &eo, &out, &d), -1);
    assert_non_null(strstr(alc_diag_text(&d), "has no elements"));
    alc_compiled_free(c);
    fx_units_free(&f);
    alc_ir_free(&ir);
    alc_diag_free(&d);
}

/* Units without act vectors for a program reading wanda: one clear error,
 * as on the CPU. */
static void test_cuda_emu_missing_act(void **state)
{
    struct alc_ir ir;
    struct fx_units f;
    struct alc_diag d;
    double sp[5];
    struct alc_eval_opts eo = {.S = 0.5};
    struct alc_eval_out out = {sp, NULL, NULL, 0.0};
    (void)state;
    alc_diag_init(&d);
    alc_ir_init(&ir);
    irb_owl(&ir);
    make_small(&f, 8, ALC_DT_BF16);
    f.mv[3].act = NULL;
    struct alc_compiled *c = alc_compile(&ir, ALC_BE_CUDA, &d);
    assert_non_null(c);
    assert_int_equal(alc_evaluate(c, &f.units, &eo, &out, &d), -1);
    assert_non_null(strstr(alc_diag_text(&d), "calibrate first"));
    alc_compiled_free(c);
    fx_units_free(&f);
    alc_ir_free(&ir);
    alc_diag_free(&d);
}

/* ---- Logs by table (cuda_logw.c) ---- */

static const char lwt_kernel[] =
    "extern \"C\" __global__ void __launch_bounds__(ALC_THREADS)\n"
    "lwt(const struct alc_args A)\n"
    "{\n"
    "    __shared__ double lt[128 * ALC_LT_REP];\n"
    "    alc_lt_fill(lt);\n"
    "    const double *ltl = lt + (threadIdx.x & (ALC_LT_REP - 1));\n"
    "    for (int v = (int)(blockIdx.x * ALC_THREADS + threadIdx.x);\n"
    "         v < 32768; v += (int)(gridDim.x * ALC_THREADS)) {\n"
    "        A.rec[v] = v >= 0x80 && v < 0x7f80\n"
    "                       ? alc_logw_bf16(ltl, (unsigned)v)\n"
    "                   : v > 0 && v < 0x80 ? alc_logm_bf16[128 + v]\n"
    "                                       : 0.0;\n"
    "    }\n"
    "}\n";

/* The table path's log|w| -- alc_logw_bf16 on the shared table for normal
 * magnitudes, the table's second half for subnormal ones -- equals the
 * JIT's BF16 table (jit_logw.c) bit for bit on all 32639 finite nonzero
 * magnitudes. */
static void test_cuda_emu_logw_table_exhaustive(void **state)
{
    struct alc_sb src;
    struct alc_diag d;
    struct alc_cuda_image img = {NULL, NULL};
    void *mod = NULL, *fn = NULL;
    uint64_t out = 0;
    double *h = malloc(32768 * sizeof *h);
    const double *ref = alc_logw_table(ALC_DT_BF16);
    (void)state;
    alc_sb_init(&src);
    alc_diag_init(&d);
    alc_cuda_emit_prelude(NULL, &src);
    alc_sb_puts(&src, lwt_kernel);
    img.src = alc_sb_str(&src);
    if (emu.ops->module_load(&emu, &img, &mod, &d) != 0 ||
        emu.ops->function(&emu, mod, "lwt", &fn, &d) != 0 ||
        emu.ops->mem_alloc(&emu, &out, 32768 * sizeof(double), &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    struct alc_cuda_args a = {.rec = out};
    if (emu.ops->launch(&emu, fn, 5, ALC_CUDA_THREADS, &a, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    emu.ops->dtoh(&emu, h, out, 32768 * sizeof(double), &d);
    for (unsigned v = 1; v < 0x7f80; v++) {
        if (memcmp(&h[v], &ref[v], sizeof h[v]) != 0) {
            fail_msg("magnitude 0x%04x: %a, JIT table %a", v, h[v], ref[v]);
        }
    }
    emu.ops->mem_free(&emu, out);
    emu.ops->module_unload(&emu, mod);
    free(h);
    alc_sb_free(&src);
    alc_diag_free(&d);
}

/* Whether a and b are both NaN, equal infinities, or within rel of each
 * other. */
static int lw_close(double a, double b, double rel)
{
    if (isnan(a) || isnan(b) || isinf(a) || isinf(b)) {
        return bc_same(a, b) || (isnan(a) && isnan(b));
    }
    return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Every table-path form (lw_forms.h) on BF16 units with zeros,
 * subnormals, acts of +-0, < 0, inf and NaN, inf and NaN weights: within
 * the tolerance of the JIT (backend_compare.h), within 1e-11 of the
 * backend's own element code (alc_cuda_set_logw(0)) with NaN and inf
 * exactly where it has them, and the same bits on another grid. The two
 * paths sum in different orders, so some bits differ: the table path ran. */
static void test_cuda_emu_logw_forms(void **state)
{
    struct bc_counts cnt = {0};
    struct fx_units f;
    long compared = 0, special = 0, differ = 0;
    (void)state;
    lw_units(&f, 2024, 1);
    for (int i = 0; i < LW_N_FORMS; i++) {
        struct alc_ir ir;
        struct bc_ref ref;
        struct bc_result on, off, grid;
        const int L = f.units.n_units;
        lw_program(lw_forms[i], &ir);
        bc_ref_init(&ref, &ir, BC_PERTURB);
        bc_check(&ir, ALC_BE_CUDA, &ref, &f.units, 0.6, lw_forms[i], &cnt);
        bc_run_direct(&alc_backend_cuda, &ir, &f.units, 0.6, &on);
        emu.max_grid = 1000;
        bc_run_direct(&alc_backend_cuda, &ir, &f.units, 0.6, &grid);
        emu.max_grid = 3;
        alc_cuda_set_logw(0);
        bc_run_direct(&alc_backend_cuda, &ir, &f.units, 0.6, &off);
        alc_cuda_set_logw(1);
        assert_memory_equal(on.nodes, grid.nodes,
                            (size_t)on.n_nodes * (size_t)L * sizeof(double));
        struct alc_ir cir;
        assert_int_equal(alc_ir_compact(&ir, &cir), 0);
        for (int k = 0; k < cir.n_nodes; k++) {
            for (int u = 0; bc_elem_red(&cir, k) && u < L; u++) {
                double a = on.nodes[(size_t)k * (size_t)L + (size_t)u];
                double b = off.nodes[(size_t)k * (size_t)L + (size_t)u];
                if (!lw_close(a, b, 1e-11)) {
                    fail_msg("%s: node %d unit %d: table path %.17g, element "
                             "code %.17g",
                             lw_forms[i], k, u, a, b);
                }
                compared++;
                special += !isfinite(a);
                differ += !bc_same(a, b);
            }
        }
        alc_ir_free(&cir);
        bc_result_free(&on);
        bc_result_free(&off);
        bc_result_free(&grid);
        bc_ref_free(&ref);
        alc_ir_free(&ir);
    }
    print_message("%d forms: %ld reductions against the JIT (%ld skipped), "
                  "%ld against the element code (%ld NaN/inf, %ld with other "
                  "bits)\n",
                  LW_N_FORMS, cnt.compared, cnt.skipped, compared, special,
                  differ);
    assert_true(cnt.compared > 50 * cnt.skipped);
    assert_true(special > 0 && special < compared);
    assert_true(differ > 0);
    fx_units_free(&f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cuda_emu_conversions_exhaustive, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_combine_bit_exact, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_grid_independent, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_mirror_reuse, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_cache_and_params, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_timing_stats, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_quantile, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_wide_pass, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_empty_matrix, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_missing_act, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_logw_table_exhaustive, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_logw_forms, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_stdlib_vs_jit, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_cuda_emu_random_vs_jit, setup,
                                    teardown),
};

ALC_TEST_MAIN(tests)

#else /* !ALC_CUDA_BACKEND */

static void test_cuda_emu_not_built(void **state)
{
    (void)state;
    print_message("the GPU backend is not built (NVRTC not found or "
                  "ALC_CUDA=OFF)\n");
    skip();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_emu_not_built),
};

ALC_TEST_MAIN(tests)

#endif
