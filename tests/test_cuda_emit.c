/*
 * test_cuda_emit.c: the CUDA C emitter (compiler/cuda_emit.c) and NVRTC
 * (compiler/cuda_nvrtc.c) without a GPU: every stdlib program and 1,200
 * random programs (the full op table: every element-wise op, every
 * accumulator kind and function) compile to PTX for compute_80 and
 * compute_90 with an empty NVRTC log (a warning fails the test), the
 * stdlib also to CUBIN for sm_80 and sm_90 (ptxas); the text is
 * deterministic and equal for IRs of equal structural hash; literals are
 * exact; the kernels' shape; NVRTC errors keep the log; and the run-time
 * parts that need no GPU: the clear "no CUDA GPU found" path, the fallback
 * of alc_backend_select, and every driver entry point the backend resolves
 * existing in the toolkit's libcuda stub.
 */
#include "alc_test.h"

#ifdef ALC_CUDA_BACKEND

#include "backend_compare.h"
#include "backend_select.h"
#include "cuda_internal.h"
#include "ir_build.h"
#include "lw_forms.h"

/* ---- Helpers ---- */

static char *emit_text(const struct alc_ir *ir)
{
    struct alc_sb sb;
    struct alc_diag d;
    alc_sb_init(&sb);
    alc_diag_init(&d);
    if (alc_cuda_emit(ir, NULL, &sb, &d) != 0) {
        fail_msg("emit: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return alc_sb_take(&sb);
}

/* Compiles src; fails on an error or a non-empty log. Returns seconds. */
static double nvrtc_clean(const char *src, const char *name, int arch,
                          enum alc_cuda_bin kind)
{
    struct alc_cuda_binary bin;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_cuda_nvrtc_compile(src, name, arch, kind, &bin, &d) != 0) {
        fail_msg("%s for %d: %s", name, arch, alc_diag_text(&d));
    }
    if (bin.log[0] != '\0') {
        fail_msg("%s for %d: NVRTC log not empty:\n%s", name, arch, bin.log);
    }
    if (bin.len == 0) {
        fail_msg("%s: empty output", name);
    }
    double t = bin.seconds;
    alc_cuda_binary_free(&bin);
    alc_diag_free(&d);
    return t;
}

static int count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p != NULL; p = strstr(p + 1, sub)) {
        n++;
    }
    return n;
}

/* ---- Stdlib ---- */

/* Every stdlib program: PTX for compute_80/90 and CUBIN for sm_80/90,
 * warning-free, with one pass kernel and one combine kernel per pass. */
static void test_cuda_emit_stdlib_nvrtc(void **state)
{
    static const int archs[] = {80, 90};
    char *paths[64];
    double t_ptx = 0.0, t_cubin = 0.0;
    (void)state;
    if (!alc_cuda_nvrtc_available(NULL)) {
        skip();
    }
    int n = bc_stdlib_files(paths, 64);
    assert_true(n >= 8);
    for (int i = 0; i < n; i++) {
        struct alc_ir ir, cir;
        struct alc_plan plan;
        struct alc_diag d;
        alc_diag_init(&d);
        bc_load_file(paths[i], &ir);
        char *src = emit_text(&ir);
        assert_int_equal(alc_ir_compact(&ir, &cir), 0);
        assert_int_equal(alc_plan_build(&plan, &cir, &d), 0);
        alc_diag_free(&d);
        assert_int_equal(count_substr(src, "extern \"C\" __global__"),
                         1 + plan.n_passes);
        assert_null(strstr(src, "atomic"));
        for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
            t_ptx += nvrtc_clean(src, paths[i], archs[a], ALC_CUDA_BIN_PTX);
            t_cubin += nvrtc_clean(src, paths[i], archs[a], ALC_CUDA_BIN_CUBIN);
        }
        alc_plan_free(&plan);
        alc_ir_free(&cir);
        alc_ir_free(&ir);
        free(src);
        free(paths[i]);
    }
    print_message("stdlib: %d programs, NVRTC %.2f s PTX + %.2f s CUBIN "
                  "(2 archs each)\n",
                  n, t_ptx, t_cubin);
}

/* ---- Random programs ---- */

#define N_RANDOM 1000 /* programs with at least one pass (GPU kernels) */
#define BATCH 25      /* such programs per NVRTC program (one prelude) */
#define N_BATCH (N_RANDOM / BATCH)

/* What the random programs exercised, across all of them. */
struct coverage {
    int elem_op[ALC_OP_COUNT];            /* element-level nodes per op */
    int acc[ALC_ACC_COUNT][ALC_AF_COUNT]; /* accumulators per kind, fn */
    int passes[4];                        /* programs with 0, 1, 2, 3+ passes */
    int kernels, rolled;                  /* pass kernels; not unrolled */
};

static void cover(const struct alc_ir *cir, const struct alc_plan *plan,
                  struct coverage *cv)
{
    cv->passes[plan->n_passes < 3 ? plan->n_passes : 3]++;
    cv->kernels += plan->n_passes;
    for (int k = 0; k < plan->n_passes; k++) {
        const struct alc_plan_pass *ps = &plan->passes[k];
        for (int i = 0; i < ps->n_elems; i++) {
            cv->elem_op[cir->nodes[ps->elems[i]].op]++;
        }
        for (int a = 0; a < ps->n_accs; a++) {
            cv->acc[ps->accs[a].kind][ps->accs[a].fn]++;
        }
    }
}

/* Every element-wise op and every accumulator (kind, fn) the plan makes
 * occurred at least once. */
static void check_coverage(const struct coverage *cv)
{
    static const struct {
        enum alc_acc_kind k;
        enum alc_acc_fn f;
    } accs[] = {
        {ALC_ACC_SUM, ALC_AF_ID},  {ALC_ACC_SUM, ALC_AF_ABS},
        {ALC_ACC_SUM, ALC_AF_SQ},  {ALC_ACC_SUM, ALC_AF_LOG},
        {ALC_ACC_SUM, ALC_AF_NZ},  {ALC_ACC_SUM, ALC_AF_POS},
        {ALC_ACC_SUM, ALC_AF_GE0}, {ALC_ACC_SUM, ALC_AF_XLOGX},
        {ALC_ACC_MIN, ALC_AF_ID},  {ALC_ACC_MAX, ALC_AF_ID},
        {ALC_ACC_VAR, ALC_AF_ID},  {ALC_ACC_STORE, ALC_AF_ID},
    };
    for (int op = 0; op < ALC_OP_COUNT; op++) {
        if (alc_op_table[op].kind == ALC_OPK_MAP && cv->elem_op[op] == 0) {
            fail_msg("no random program has %s at element level",
                     alc_op_table[op].name);
        }
    }
    for (size_t i = 0; i < sizeof accs / sizeof accs[0]; i++) {
        if (cv->acc[accs[i].k][accs[i].f] == 0) {
            fail_msg("no random program has a %s %s accumulator",
                     alc_acc_kind_name[accs[i].k], alc_acc_fn_name[accs[i].f]);
        }
    }
    assert_true(cv->elem_op[ALC_OP_INPUT] > 0);
    assert_true(cv->passes[2] > 0 && cv->passes[3] > 0);
}

/*
 * One batch: random programs until BATCH of them have kernels, each
 * emitted with the prefix r<i>_ after one prelude (programs without
 * element reductions emit no kernel and are only counted).
 */
static void emit_batch(struct alc_rng *rng, const struct alc_random_opts *o,
                       int b, struct alc_sb *src, struct coverage *cv)
{
    struct alc_diag d;
    char prefix[32];
    int with_kernels = 0;
    alc_diag_init(&d);
    alc_cuda_emit_prelude(NULL, src);
    for (int i = 0; with_kernels < BATCH; i++) {
        struct alc_ir ir, cir;
        struct alc_plan plan;
        char *text = bc_random_ir(rng, o, &ir);
        struct alc_cuda_emit_opts eo = {prefix, 0, 0};
        snprintf(prefix, sizeof prefix, "r%d_%d_", b, i);
        assert_int_equal(alc_ir_compact(&ir, &cir), 0);
        if (alc_plan_build(&plan, &cir, &d) != 0 ||
            alc_cuda_emit_program(&cir, &plan, &eo, src, &d) != 0) {
            fail_msg("random %d/%d: %s\n%s", b, i, alc_diag_text(&d), text);
        }
        cover(&cir, &plan, cv);
        with_kernels += plan.n_passes > 0;
        alc_plan_free(&plan);
        alc_ir_free(&cir);
        alc_ir_free(&ir);
        free(text);
    }
    alc_diag_free(&d);
}

/* NVRTC over the batches, in parallel (NVRTC is thread-safe): task t
 * compiles batch t / 2 for compute_80 (even t) or compute_90 (odd). */
struct nvrtc_jobs {
    char *src[N_BATCH];
    char *err[2 * N_BATCH]; /* NULL: clean */
    double seconds[2 * N_BATCH];
};

static void nvrtc_task(void *ctx, int64_t t, int worker)
{
    struct nvrtc_jobs *j = ctx;
    struct alc_cuda_binary bin;
    struct alc_diag d;
    struct alc_sb msg;
    char name[64];
    int arch = t % 2 == 0 ? 80 : 90;
    (void)worker;
    alc_diag_init(&d);
    alc_sb_init(&msg);
    snprintf(name, sizeof name, "random_batch_%d.cu", (int)(t / 2));
    if (alc_cuda_nvrtc_compile(j->src[t / 2], name, arch, ALC_CUDA_BIN_PTX,
                               &bin, &d) != 0) {
        alc_sb_printf(&msg, "%s for %d: %s", name, arch, alc_diag_text(&d));
    } else if (bin.log[0] != '\0') {
        alc_sb_printf(&msg, "%s for %d: NVRTC log not empty:\n%s", name, arch,
                      bin.log);
    }
    j->seconds[t] = bin.seconds;
    j->err[t] = msg.len > 0 ? alc_sb_take(&msg) : NULL;
    alc_sb_free(&msg);
    alc_cuda_binary_free(&bin);
    alc_diag_free(&d);
}

/* 1,000 random programs with GPU kernels (the full op table) compile to
 * PTX for compute_80 and compute_90 with an empty log. */
static void test_cuda_emit_random_nvrtc(void **state)
{
    struct alc_random_opts o;
    struct alc_rng rng;
    struct coverage *cv = calloc(1, sizeof *cv);
    struct nvrtc_jobs *j = calloc(1, sizeof *j);
    double t_nvrtc = 0.0, t0 = alc_now();
    (void)state;
    if (!alc_cuda_nvrtc_available(NULL)) {
        skip();
    }
    bc_random_opts(&o);
    alc_rng_seed(&rng, 2024);
    for (int b = 0; b < N_BATCH; b++) {
        struct alc_sb src;
        alc_sb_init(&src);
        emit_batch(&rng, &o, b, &src, cv);
        j->src[b] = alc_sb_take(&src);
        cv->rolled += count_substr(j->src[b], "#pragma unroll 1\n"
                                              "            for (int j");
    }
    check_coverage(cv);
    int threads = alc_default_threads();
    struct alc_pool *pool = alc_pool_new(threads);
    alc_pool_run(pool, 2 * N_BATCH, nvrtc_task, j);
    alc_pool_free(pool);
    for (int t = 0; t < 2 * N_BATCH; t++) {
        if (j->err[t] != NULL) {
            fail_msg("%s", j->err[t]);
        }
        t_nvrtc += j->seconds[t];
    }
    print_message("random: %d programs with kernels (%d kernels, %d not "
                  "unrolled; %d programs without), %d NVRTC programs x 2 "
                  "archs: NVRTC %.1f s over %d threads, wall %.1f s\n",
                  N_RANDOM, cv->kernels, cv->rolled, cv->passes[0], N_BATCH,
                  t_nvrtc, threads, alc_now() - t0);
    for (int b = 0; b < N_BATCH; b++) {
        free(j->src[b]);
    }
    free(j);
    free(cv);
}

/* ---- The text ---- */

/* Same IR -> same text; equal structure with other param values and
 * spans -> same text; another structure -> other text. */
static void test_cuda_emit_deterministic(void **state)
{
    struct alc_ir a, b, c;
    (void)state;
    alc_ir_init(&a);
    alc_ir_init(&b);
    alc_ir_init(&c);
    irb_owl(&a);
    irb_owl(&b);
    irb_dsa(&c);
    b.params[0].value = 3.0; /* M: a param, read at run time */
    char *ta = emit_text(&a), *ta2 = emit_text(&a), *tb = emit_text(&b);
    char *tc = emit_text(&c);
    assert_string_equal(ta, ta2);
    assert_string_equal(ta, tb);
    assert_true(strcmp(ta, tc) != 0);
    free(ta);
    free(ta2);
    free(tb);
    free(tc);
    alc_ir_free(&a);
    alc_ir_free(&b);
    alc_ir_free(&c);
}

/* OWL's two passes: their kernels and alc_combine, with the fixed block
 * size; pass 2 reads the threshold M * mean(wanda) from env. */
static void test_cuda_emit_owl_shape(void **state)
{
    struct alc_ir ir;
    (void)state;
    alc_ir_init(&ir);
    irb_owl(&ir);
    char *t = emit_text(&ir);
    assert_non_null(strstr(t, "#define ALC_THREADS 256\n"));
    assert_non_null(strstr(t, "#define ALC_TILE 65536\n"));
    assert_int_equal(count_substr(t, "extern \"C\" __global__"), 3);
    assert_int_equal(count_substr(t, "__launch_bounds__(ALC_THREADS)"), 3);
    assert_non_null(strstr(t, "\nalc_p1(const struct alc_args A)"));
    assert_non_null(strstr(t, "\nalc_p2(const struct alc_args A)"));
    assert_non_null(strstr(t, "\nalc_combine(const struct alc_args A)"));
    assert_non_null(strstr(t, "fabs(in_w) * in_act; /* wanda */"));
    assert_non_null(strstr(t, "alc_b(v0 > u[0])"));
    assert_non_null(strstr(t, "__shfl_down_sync(ALC_FULL"));
    assert_null(strstr(t, "atomic"));
    free(t);
    alc_ir_free(&ir);
}

/* ---- Logs by table (cuda_logw.c) ---- */

/* The text of ir with the table path on (no_logw 0) or off. */
static char *emit_text_lw(const struct alc_ir *ir, int no_logw)
{
    struct alc_sb sb;
    struct alc_diag d;
    struct alc_cuda_emit_opts o = {NULL, 0, no_logw};
    alc_sb_init(&sb);
    alc_diag_init(&d);
    if (alc_cuda_emit(ir, &o, &sb, &d) != 0) {
        fail_msg("emit: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return alc_sb_take(&sb);
}

/* Whether pass 1 of text has the table path (its kernel's cell loop). */
static int has_table_path(const char *t)
{
    return strstr(t, "alc_lt_fill(lt);") != NULL &&
           strstr(t, "alc_lw_tm(ltl, mag)") != NULL &&
           strstr(t, "alc_p1_slow(T, u, h[j]") != NULL;
}

/* `dsac emit --target cuda stdlib/dsa.alloc` shows the table path: the
 * shared table, the per-column act logs, the cells and their fallback to
 * the element code; OWL's passes (no log) and DSA with no_logw keep their
 * element code, which the table path's fallback is. The prelude holds the
 * JIT's TM table and the subnormal logs as exact literals. */
static void test_cuda_emit_logw_dsa(void **state)
{
    struct alc_ir dsa, owl;
    char path[4096];
    double tab[256];
    char lit[64];
    (void)state;
    snprintf(path, sizeof path, "%s/stdlib/dsa.alloc", ALC_SOURCE_DIR);
    bc_load_file(path, &dsa);
    alc_ir_init(&owl);
    irb_owl(&owl);
    char *t = emit_text(&dsa), *off = emit_text_lw(&dsa, 1);
    char *to = emit_text(&owl);
    assert_true(has_table_path(t));
    assert_non_null(strstr(t, "__shared__ double lt[128 * ALC_LT_REP];"));
    assert_non_null(strstr(t, "alc_lcols_load(T, c8, false, &L);"));
    assert_non_null(strstr(t, "c0[j] = L.a[j] - acc0_k;"));
    assert_non_null(strstr(t, "const double dz0 = 0x0p+0 - acc0_k;"));
    assert_non_null(strstr(t, "log(v5)")); /* the element code stays */
    assert_false(has_table_path(off));
    assert_false(has_table_path(to));
    alc_cuda_lw_table(tab);
    for (int i = 0; i < 256; i++) {
        snprintf(lit, sizeof lit, "%a", tab[i]);
        assert_non_null(strstr(t, lit));
    }
    free(t);
    free(off);
    free(to);
    alc_ir_free(&dsa);
    alc_ir_free(&owl);
}

/* Every form of lw_forms.h has the table path and compiles warning-free
 * for compute_80 and sm_90; the non-forms keep their element code. */
static void test_cuda_emit_logw_forms(void **state)
{
    (void)state;
    for (int i = 0; i < LW_N_FORMS; i++) {
        struct alc_ir ir;
        lw_program(lw_forms[i], &ir);
        char *t = emit_text(&ir);
        if (!has_table_path(t)) {
            fail_msg("no table path for:\n%s\n%s", lw_forms[i], t);
        }
        if (alc_cuda_nvrtc_available(NULL)) {
            nvrtc_clean(t, lw_forms[i], 80, ALC_CUDA_BIN_PTX);
            nvrtc_clean(t, lw_forms[i], 90, ALC_CUDA_BIN_CUBIN);
        }
        free(t);
        alc_ir_free(&ir);
    }
    for (int i = 0; i < LW_N_NOT_FORMS; i++) {
        struct alc_ir ir;
        lw_program(lw_not_forms[i], &ir);
        char *t = emit_text(&ir);
        if (has_table_path(t)) {
            fail_msg("table path for:\n%s", lw_not_forms[i]);
        }
        free(t);
        alc_ir_free(&ir);
    }
}

/* Constants are emitted exactly: hex floats, signed zero, inf, NaN. */
static void test_cuda_emit_literals_exact(void **state)
{
    struct alc_ir ir;
    (void)state;
    alc_ir_init(&ir);
    int w = IN(&ir, ALC_IN_WEIGHT);
    int e = OP2(&ir, ALC_OP_ADD, w, K(&ir, 0.1));
    e = OP2(&ir, ALC_OP_MUL, e, K(&ir, -0.0));
    e = OP2(&ir, ALC_OP_MIN2, e, K(&ir, INFINITY));
    e = OP2(&ir, ALC_OP_MAX2, e, K(&ir, -INFINITY));
    e = OP2(&ir, ALC_OP_SUB, e, K(&ir, -1.5));
    e = OP3(&ir, ALC_OP_WHERE, e, K(&ir, NAN), K(&ir, 5e-324));
    ir.sparsity = OP1(&ir, ALC_OP_SUM, e);
    char *t = emit_text(&ir);
    assert_non_null(strstr(t, "v2 = v0 + 0x1.999999999999ap-4;"));
    assert_non_null(strstr(t, "v4 = v2 * (-0x0p+0);"));
    assert_non_null(strstr(t, "v6 = alc_min2(v4, alc_inf());"));
    assert_non_null(strstr(t, "v8 = alc_max2(v6, (-alc_inf()));"));
    assert_non_null(strstr(t, "v10 = v8 - (-0x1.8p+0);"));
    assert_non_null(
        strstr(t, "v13 = alc_where(v10, alc_nan(), 0x0.0000000000001p-1022);"));
    if (alc_cuda_nvrtc_available(NULL)) {
        nvrtc_clean(t, "literals.cu", 80, ALC_CUDA_BIN_PTX);
    }
    free(t);
    alc_ir_free(&ir);
}

/* A pass with 13 reductions of every kind (30+ accumulator states, which
 * once collided with the kernel's own names): warning-free PTX. */
static void test_cuda_emit_wide_pass(void **state)
{
    struct alc_ir ir;
    (void)state;
    bc_wide_ir(&ir);
    char *t = emit_text(&ir);
    assert_non_null(strstr(t, "acc12_a"));
    if (alc_cuda_nvrtc_available(NULL)) {
        nvrtc_clean(t, "wide.cu", 80, ALC_CUDA_BIN_PTX);
        nvrtc_clean(t, "wide.cu", 90, ALC_CUDA_BIN_CUBIN);
    }
    free(t);
    alc_ir_free(&ir);
}

/* ---- NVRTC ---- */

/* A compile error fails with the program log in the message; the log is
 * kept; options parse. */
static void test_cuda_emit_nvrtc_error_has_log(void **state)
{
    struct alc_cuda_binary bin;
    struct alc_diag d;
    int arch = 0;
    (void)state;
    assert_int_equal(alc_cuda_arch_parse("sm_90", &arch), 0);
    assert_int_equal(arch, 90);
    assert_int_equal(alc_cuda_arch_parse("compute_80", &arch), 0);
    assert_int_equal(arch, 80);
    assert_int_equal(alc_cuda_arch_parse("86", &arch), 0);
    assert_int_equal(arch, 86);
    assert_int_equal(alc_cuda_arch_parse("sm_x", &arch), -1);
    assert_int_equal(alc_cuda_arch_parse("", &arch), -1);
    if (!alc_cuda_nvrtc_available(NULL)) {
        skip();
    }
    alc_diag_init(&d);
    assert_int_equal(alc_cuda_nvrtc_compile("extern \"C\" __global__ void "
                                            "k() { undeclared_x = 1; }",
                                            "bad.cu", 80, ALC_CUDA_BIN_PTX,
                                            &bin, &d),
                     -1);
    assert_non_null(strstr(alc_diag_text(&d), "nvrtcCompileProgram"));
    assert_non_null(strstr(alc_diag_text(&d), "undeclared_x"));
    assert_non_null(strstr(bin.log, "undeclared_x"));
    assert_null(bin.data);
    alc_cuda_binary_free(&bin);
    alc_diag_free(&d);
    int archs[64];
    int n = alc_cuda_nvrtc_archs(archs, 64);
    int has80 = 0, has90 = 0;
    for (int i = 0; i < n; i++) {
        has80 |= archs[i] == 80;
        has90 |= archs[i] == 90;
    }
    assert_true(has80 && has90);
}

/* ---- Without a GPU ---- */

/* No driver (or no device): one clear line, alc_compile refuses the CUDA
 * backend with it, and alc_backend_select falls back to llvm with the
 * note exactly once. On a machine with a GPU, only the selection runs. */
static void test_cuda_emit_no_gpu_fallback(void **state)
{
    struct alc_diag d, d2;
    struct alc_ir ir;
    enum alc_backend be = ALC_BE_COUNT;
    (void)state;
    alc_diag_init(&d);
    alc_diag_init(&d2);
    alc_ir_init(&ir);
    irb_owl(&ir);
    int have = alc_cuda_available(&d) == 0;
    if (!have) {
        assert_non_null(strstr(d.first, "no CUDA GPU found ("));
        print_message("%s\n", d.first);
        alc_diag_reset(&d);
        assert_null(alc_compile(&ir, ALC_BE_CUDA, &d));
        assert_non_null(strstr(d.first, "no CUDA GPU found ("));
        alc_diag_reset(&d);
    }
    assert_int_equal(alc_backend_select("auto", &be, &d), 0);
    assert_int_equal(be, have ? ALC_BE_CUDA : ALC_BE_LLVM);
    assert_int_equal(d.n_err, 0);
    assert_int_equal(d.n_warn, have ? 0 : 1);
    if (!have) {
        assert_non_null(strstr(alc_diag_text(&d), "no CUDA GPU found ("));
        assert_non_null(strstr(alc_diag_text(&d), "; using the CPU backend"));
    }
    assert_int_equal(alc_backend_select("cuda", &be, &d2), 0);
    assert_int_equal(d2.n_warn, 0); /* said once per process */
    assert_int_equal(alc_backend_select("llvm", &be, &d2), 0);
    assert_int_equal(be, ALC_BE_LLVM);
    assert_int_equal(alc_backend_select("interp", &be, &d2), 0);
    assert_int_equal(be, ALC_BE_INTERP);
    assert_int_equal(alc_backend_select("tpu", &be, &d2), -1);
    assert_non_null(strstr(d2.first, "unknown backend 'tpu'"));
    alc_ir_free(&ir);
    alc_diag_free(&d);
    alc_diag_free(&d2);
}

/* Every driver entry point the backend dlsym's exists, by its versioned
 * name, in the toolkit's libcuda stub (the same export list as the
 * driver). */
static void test_cuda_emit_driver_symbols(void **state)
{
    static const char stub[] = "/usr/local/cuda/lib64/stubs/libcuda.so";
    struct alc_diag d;
    (void)state;
    if (!alc_path_exists(stub)) {
        print_message("%s not found\n", stub);
        skip();
    }
    alc_diag_init(&d);
    if (alc_cuda_driver_check_symbols(stub, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_emit_deterministic),
    cmocka_unit_test(test_cuda_emit_owl_shape),
    cmocka_unit_test(test_cuda_emit_logw_dsa),
    cmocka_unit_test(test_cuda_emit_logw_forms),
    cmocka_unit_test(test_cuda_emit_literals_exact),
    cmocka_unit_test(test_cuda_emit_wide_pass),
    cmocka_unit_test(test_cuda_emit_nvrtc_error_has_log),
    cmocka_unit_test(test_cuda_emit_no_gpu_fallback),
    cmocka_unit_test(test_cuda_emit_driver_symbols),
    cmocka_unit_test(test_cuda_emit_stdlib_nvrtc),
    cmocka_unit_test(test_cuda_emit_random_nvrtc),
};

ALC_TEST_MAIN(tests)

#else /* !ALC_CUDA_BACKEND */

#include "backend_select.h"

/* Without the GPU backend, auto and cuda choose llvm and say why, once. */
static void test_cuda_emit_select_without_backend(void **state)
{
    struct alc_diag d;
    enum alc_backend be = ALC_BE_COUNT;
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_backend_select("auto", &be, &d), 0);
    assert_int_equal(be, ALC_BE_LLVM);
    assert_int_equal(d.n_warn, 1);
    assert_non_null(strstr(alc_diag_text(&d), "not built into this binary"));
    assert_non_null(strstr(alc_diag_text(&d), "using the CPU backend"));
    assert_int_equal(alc_backend_select("cuda", &be, &d), 0);
    assert_int_equal(be, ALC_BE_LLVM);
    assert_int_equal(d.n_warn, 1);
    alc_diag_free(&d);
}

static void test_cuda_emit_not_built(void **state)
{
    (void)state;
    print_message("the GPU backend is not built (NVRTC not found or "
                  "ALC_CUDA=OFF)\n");
    skip();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cuda_emit_select_without_backend),
    cmocka_unit_test(test_cuda_emit_not_built),
};

ALC_TEST_MAIN(tests)

#endif
