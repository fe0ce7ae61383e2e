/*
 * test_pipeline.c: Runtime II on the bundled model (examples/tiny-llama,
 * calibration kjv.train.raw 32 x 256 even, as the acceptance): calibration
 * windows, the units view, allocation checks (invalid ratios, DSA's
 * undefined asin), exact achieved sparsity for magnitude / Wanda /
 * SparseGPT, valid N:M patterns, linear granularity, session reuse (the
 * search's pattern), saving (refusals, a full disk), and the independent
 * PyTorch pipeline (tools/ref_prune_model.py; skipped without torch):
 * masks identical up to ties, perplexities within 1 %.
 * CLI-level checks (threads, reload in dsac eval, tune) are in
 * tests/cli/prune.sh.
 */
#include "rt_test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocfn.h"
#include "session.h"

#define CORPUS ALC_SOURCE_DIR "/examples/corpus/"
#define STDLIB ALC_SOURCE_DIR "/stdlib/"

/* ---- Fixture: one session with calibration and pass 1 done ---- */

static struct alc_session g_s;
static char *g_tmp;

static void sh(const char *fmt, ...) ALC_PRINTF(1, 2);

static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) {
        fail_msg("command failed: %s", cmd);
    }
}

static void calib_opts(struct alc_calib_opts *o)
{
    memset(o, 0, sizeof *o);
    o->path = CORPUS "kjv.train.raw";
    o->fmt = -1;
    o->nsamples = 32;
    o->seqlen = 256;
    o->mode = ALC_CALIB_EVEN;
}

static int group_setup(void **state)
{
    struct alc_session_opts so = {TINY_LLAMA, 2, 0, 0};
    struct alc_calib_opts co;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    calib_opts(&co);
    g_tmp = alc_test_tmpdir("pipeline");
    unsigned act = 1u << ALC_IN_WANDA;
    if (alc_session_open(&g_s, &so, &d) != 0 ||
        alc_session_calibrate(&g_s, &co, &d) != 0 ||
        alc_session_prepare(&g_s, act, ALC_GRAN_BLOCK, &d) != 0) {
        fprintf(stderr, "fixture: %s\n", alc_diag_text(&d));
        return -1;
    }
    alc_diag_free(&d);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    alc_session_close(&g_s);
    free(g_tmp);
    return 0;
}

/* An .alloc file with src in the test directory, loaded for backend be. */
static void load_src(struct alc_allocfn *f, const char *name, const char *src)
{
    struct alc_diag d;
    char *path = alc_path_join(g_tmp, name);
    alc_diag_init(&d);
    assert_int_equal(alc_write_file_atomic(path, src, strlen(src), &d), 0);
    if (alc_allocfn_load(f, path, ALC_BE_LLVM, &d) != 0) {
        fail_msg("%s: %s", name, alc_diag_text(&d));
    }
    alc_diag_free(&d);
    free(path);
}

static void load_file(struct alc_allocfn *f, const char *path)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_allocfn_load(f, path, ALC_BE_LLVM, &d) != 0) {
        fail_msg("%s: %s", path, alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* Allocates (must be valid) and prunes the fixture session. */
static void alloc_prune(struct alc_allocfn *f, double S,
                        const struct alc_prune_opts *o,
                        struct alc_alloc_result *r, struct alc_prune_report *pr)
{
    struct alc_diag d;
    alc_diag_init(&d);
    assert_int_equal(alc_session_prepare(&g_s, f->inputs, g_s.gran, &d), 0);
    assert_int_equal(alc_session_allocate(&g_s, f->c, S, f->params, r, &d), 0);
    if (!r->valid) {
        fail_msg("invalid allocation: %s", r->why);
    }
    if (alc_session_prune(&g_s, r->ratio, o, pr, &d) != 0) {
        fail_msg("prune: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* The current (pruned) weights of linear slot k as f32 (malloc'd). */
static float *slot_weights(int k, int64_t *rows, int64_t *cols, int dense)
{
    struct alc_tref r =
        alc_model_bref(&g_s.model, k / ALC_LIN_COUNT, k % ALC_LIN_COUNT);
    const struct alc_st_tensor *t = alc_model_st(&g_s.model, r);
    *rows = t->shape[0];
    *cols = t->shape[1];
    float *w = malloc((size_t)t->numel * sizeof *w);
    if (dense) {
        alc_to_f32(w, t->data, (enum alc_dtype)t->dtype, (size_t)t->numel);
    } else {
        alc_model_rows_f32(&g_s.model, r, 0, *rows, w);
    }
    return w;
}

/* ---- Calibration ---- */

/* Even windows start at floor(i (n - T) / N) of the stream tokenized
 * without BOS, and hold exactly those tokens. */
static void test_calib_even(void **state)
{
    const struct alc_calib *c = &g_s.calib;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    int64_t n = 0;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_read_file(CORPUS "kjv.train.raw", &text, &len, &d), 0);
    assert_int_equal(alc_tok_encode(g_s.tok, text, len, 0, &ids, &n, &d), 0);
    assert_int_equal(c->n_tokens, n);
    assert_int_equal(c->nsamples, 32);
    assert_int_equal(c->seqlen, 256);
    assert_true(ids[0] != alc_tok_bos_id(g_s.tok)); /* no BOS */
    for (int i = 0; i < 32; i++) {
        int64_t s = (int64_t)((__int128)i * (n - 256) / 32);
        assert_int_equal(c->start[i], s);
        assert_memory_equal(c->ids + (int64_t)i * 256, ids + s,
                            256 * sizeof *ids);
    }
    free(ids);
    free(text);
    alc_diag_free(&d);
}

/* Random mode: same seed, same windows; another seed, other windows;
 * every window is a slice of the stream. */
static void test_calib_random(void **state)
{
    struct alc_calib a, b, c;
    struct alc_calib_opts o;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    calib_opts(&o);
    o.mode = ALC_CALIB_RANDOM;
    o.nsamples = 8;
    o.seed = 3;
    assert_int_equal(alc_calib_build(&a, &o, g_s.tok, &d), 0);
    assert_int_equal(alc_calib_build(&b, &o, g_s.tok, &d), 0);
    o.seed = 4;
    assert_int_equal(alc_calib_build(&c, &o, g_s.tok, &d), 0);
    assert_memory_equal(a.ids, b.ids, 8 * 256 * sizeof *a.ids);
    assert_true(memcmp(a.ids, c.ids, 8 * 256 * sizeof *a.ids) != 0);
    for (int i = 0; i < 8; i++) {
        assert_true(a.start[i] >= 0 && a.start[i] <= a.n_tokens - 256);
    }
    alc_calib_free(&a);
    alc_calib_free(&b);
    alc_calib_free(&c);
    /* too short a text: one clear error */
    o.seqlen = 2000000;
    assert_int_equal(alc_calib_build(&a, &o, g_s.tok, &d), -1);
    assert_contains(d.first, "fewer than one calibration window");
    alc_diag_free(&d);
}

/* C4 JSON lines: even mode cuts the documents' tokens joined with EOS in
 * file order; random mode takes windows inside documents longer than T
 * (Wanda's get_c4), each a slice of its document. */
static void test_calib_c4(void **state)
{
    struct alc_calib c;
    struct alc_calib_opts o;
    struct alc_diag d;
    struct alc_sb sb;
    const char *docs[3] = {"In the beginning God created the heaven.",
                           "And the earth was without form, and void; and "
                           "darkness was upon the face of the deep.",
                           "And God said, Let there be light."};
    int32_t *ids[3];
    int64_t n[3];
    (void)state;
    alc_diag_init(&d);
    alc_sb_init(&sb);
    for (int i = 0; i < 3; i++) {
        alc_sb_printf(&sb, "{\"text\": \"%s\", \"url\": \"x\"}\n", docs[i]);
        assert_int_equal(alc_tok_encode(g_s.tok, docs[i], strlen(docs[i]), 0,
                                        &ids[i], &n[i], &d),
                         0);
    }
    char *path = alc_path_join(g_tmp, "c4.jsonl");
    assert_int_equal(alc_write_file_atomic(path, sb.s, sb.len, &d), 0);
    memset(&o, 0, sizeof o);
    o.path = path;
    o.fmt = -1;
    o.nsamples = 2;
    o.seqlen = (int)(n[0] + 1 + n[1] / 2);
    assert_int_equal(alc_calib_build(&c, &o, g_s.tok, &d), 0);
    assert_int_equal(c.fmt, ALC_DATA_C4);
    assert_int_equal(c.eos_id, alc_tok_eos_id(g_s.tok));
    assert_int_equal(c.n_tokens, n[0] + n[1] + n[2] + 2);
    assert_int_equal(c.start[0], 0); /* window 0: doc 0, EOS, doc 1 */
    assert_memory_equal(c.ids, ids[0], (size_t)n[0] * sizeof *c.ids);
    assert_int_equal(c.ids[n[0]], c.eos_id);
    assert_memory_equal(c.ids + n[0] + 1, ids[1],
                        (size_t)(n[1] / 2) * sizeof *c.ids);
    alc_calib_free(&c);
    o.mode = ALC_CALIB_RANDOM;
    o.nsamples = 4;
    o.seqlen = (int)(n[1] - 3); /* only doc 1 is longer */
    assert_int_equal(alc_calib_build(&c, &o, g_s.tok, &d), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.doc[i], 1);
        assert_true(c.start[i] >= 0 && c.start[i] <= 2);
        assert_memory_equal(c.ids + (int64_t)i * o.seqlen, ids[1] + c.start[i],
                            (size_t)o.seqlen * sizeof *c.ids);
    }
    alc_calib_free(&c);
    o.seqlen = 1000; /* no document is long enough */
    assert_int_equal(alc_calib_build(&c, &o, g_s.tok, &d), -1);
    assert_contains(d.first, "no document of more than 1000 tokens");
    for (int i = 0; i < 3; i++) {
        free(ids[i]);
    }
    free(path);
    alc_sb_free(&sb);
    alc_diag_free(&d);
}

/* ---- Units view and allocation checks ---- */

/* Block units: 8 units of 7 matrices pointing into the mapped dense
 * weights, with act vectors = sqrt(scaler_row) (positive). */
static void test_units_view(void **state)
{
    (void)state;
    assert_int_equal(g_s.view.n_units, 8);
    for (int u = 0; u < 8; u++) {
        const struct alc_unit_view *v = &g_s.units[u];
        assert_int_equal(v->n_mats, 7);
        assert_int_equal(v->block, u);
        for (int j = 0; j < 7; j++) {
            struct alc_tref r = alc_model_bref(&g_s.model, u, j);
            assert_ptr_equal(v->mats[j].w, alc_model_st(&g_s.model, r)->data);
            assert_non_null(v->mats[j].act);
            assert_true(v->mats[j].act[0] > 0.0f);
        }
    }
}

/* Ratios outside [0, 1) are refused with the units and values named;
 * nothing is pruned with them. */
static void test_alloc_out_of_range(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    load_src(&f, "steep.alloc", "sparsity = S + 0.1 * layer\n");
    assert_int_equal(alc_session_allocate(&g_s, f.c, 0.5, f.params, &r, &d), 0);
    assert_false(r.valid);
    print_message("%s\n", r.why);
    assert_contains(r.why, "3 of 8 are not");
    assert_contains(r.why, "block 5 = 1");
    assert_contains(r.why, "block 7 = 1.2");
    alc_prune_opts_default(&o, ALC_PRUNE_MAGNITUDE, 0);
    assert_int_equal(alc_session_prune(&g_s, r.ratio, &o, &pr, &d), -1);
    assert_contains(d.first, "block 5: sparsity 1 is outside [0, 1)");
    assert_int_equal(g_s.model.n_overrides, 0);
    alc_alloc_result_free(&r);
    alc_allocfn_free(&f);
    alc_diag_free(&d);
}

/* stdlib/dsa.alloc (DSA's README genome) on the bundled model: asin is
 * undefined in blocks 0-6 (var(ln|wanda|) > tan 1 there; block 7 has
 * 1.44, which tools/ref_prune_model-style PyTorch sums confirm), and the
 * program itself maps that NaN to 0 (DSA's reading): a valid allocation
 * with a warning naming asin, the units and the argument. A genome whose
 * asin is undefined everywhere (ATAN replaced by EXP) makes every score
 * 0, min-max divides 0 by 0, and the error names both. */
static void test_alloc_dsa_undefined(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    load_file(&f, STDLIB "dsa.alloc");
    assert_int_equal(alc_session_allocate(&g_s, f.c, 0.7, f.params, &r, &d), 0);
    assert_true(r.valid);
    assert_non_null(r.warning);
    print_message("%s\n", r.warning);
    assert_contains(r.warning, "asin at ");
    assert_contains(r.warning, "dsa.alloc:");
    assert_contains(r.warning, "units 0-6: asin(1.15");
    assert_contains(r.warning, "argument outside [-1, 1]");
    assert_true(fabs(r.ratio[0] - 0.68) < 1e-12); /* S - 2 lambda / 8 */
    assert_true(fabs(r.ratio[7] - 0.84) < 1e-12);
    alc_alloc_result_free(&r);
    alc_allocfn_free(&f);

    load_src(&f, "dsa_exp.alloc",
             "param lambda = 0.08 in [0, 0.25]\n"
             "let x1 = log(abs(where(wanda == 0, 1, wanda)))\n"
             "let r = dsa_score(asin(exp(var(x1))))\n"
             "score = r\n"
             "sparsity = floor_nonpos(dsa_sparsity(r, lambda), 0.01)\n");
    assert_int_equal(alc_session_allocate(&g_s, f.c, 0.7, f.params, &r, &d), 0);
    assert_false(r.valid);
    print_message("%s\n", r.why);
    assert_contains(r.why, "8 of 8 are not: block 0 = NaN");
    assert_contains(r.why, "asin at ");
    assert_contains(r.why, "all 8 units: asin(");
    assert_contains(r.why, "0/0 (max == min: every unit has the same value)");
    alc_alloc_result_free(&r);
    alc_allocfn_free(&f);
    alc_diag_free(&d);
}

/* ---- Achieved sparsity ---- */

/* Wanda: every row of every linear loses exactly floor(cols * s) weights
 * (zeros per row >= that, and the masks total rows * floor(cols * s)). */
static void test_wanda_exact(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    (void)state;
    load_src(&f, "ramp.alloc", "sparsity = S - 0.02 * (layer - 3.5)\n");
    alc_prune_opts_default(&o, ALC_PRUNE_WANDA, 0);
    alloc_prune(&f, 0.7, &o, &r, &pr);
    for (int k = 0; k < g_s.n_slots; k++) {
        int64_t rows, cols;
        double s = r.ratio[k / ALC_LIN_COUNT];
        float *w = slot_weights(k, &rows, &cols, 0);
        int64_t want = (int64_t)((double)cols * s);
        assert_int_equal(pr.lin[k].pruned, rows * want);
        for (int64_t i = 0; i < rows; i++) {
            int64_t z = 0;
            for (int64_t j = 0; j < cols; j++) {
                z += w[i * cols + j] == 0.0f;
            }
            assert_true(z >= want);
        }
        free(w);
    }
    print_message("wanda ramp: overall %lld / %lld zeros\n",
                  (long long)pr.zeros, (long long)pr.numel);
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    alc_allocfn_free(&f);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Magnitude: per matrix, exactly #{|W| <= sorted(|W|)[int(numel * s)]}
 * (the Wanda repository's prune_magnitude rule), counted here from the
 * dense weights. */
static void test_magnitude_exact(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    (void)state;
    load_src(&f, "ramp.alloc", "sparsity = S - 0.02 * (layer - 3.5)\n");
    alc_prune_opts_default(&o, ALC_PRUNE_MAGNITUDE, 0);
    alloc_prune(&f, 0.5, &o, &r, &pr);
    for (int k = 0; k < g_s.n_slots; k++) {
        int64_t rows, cols;
        double s = r.ratio[k / ALC_LIN_COUNT];
        float *w = slot_weights(k, &rows, &cols, 1);
        int64_t n = rows * cols, want = 0;
        for (int64_t i = 0; i < n; i++) {
            w[i] = fabsf(w[i]);
        }
        float *sorted = malloc((size_t)n * sizeof *sorted);
        memcpy(sorted, w, (size_t)n * sizeof *w);
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_float);
        float t = sorted[(int64_t)((double)n * s)];
        for (int64_t i = 0; i < n; i++) {
            want += w[i] <= t;
        }
        assert_int_equal(pr.lin[k].pruned, want);
        assert_true(pr.lin[k].zeros >= want);
        free(sorted);
        free(w);
    }
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    alc_allocfn_free(&f);
}

/* SparseGPT: in every 128-column block of every linear, the mask takes
 * int(rows * 128 * s) + 1 entries (the reference's `<= sorted[k]`) plus
 * exact ties of w^2 / d^2, which are rare: at most 4 per block here. */
static void test_sparsegpt_blocks(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    (void)state;
    load_src(&f, "uniform.alloc", "sparsity = S\n");
    alc_prune_opts_default(&o, ALC_PRUNE_SPARSEGPT, 0);
    alloc_prune(&f, 0.6, &o, &r, &pr);
    assert_int_equal(pr.n_fallbacks, 0);
    for (int k = 0; k < g_s.n_slots; k++) {
        int64_t rows, cols;
        float *w = slot_weights(k, &rows, &cols, 0);
        float *dn = slot_weights(k, &rows, &cols, 1);
        for (int64_t c0 = 0; c0 < cols; c0 += 128) {
            int64_t z = 0, dz = 0;
            int64_t k1 = (int64_t)((double)(rows * 128) * 0.6) + 1;
            for (int64_t i = 0; i < rows; i++) {
                for (int64_t j = c0; j < c0 + 128; j++) {
                    z += w[i * cols + j] == 0.0f;
                    dz += dn[i * cols + j] == 0.0f;
                }
            }
            assert_true(z >= k1);
            assert_true(z <= k1 + dz + 4);
        }
        free(w);
        free(dn);
    }
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    alc_allocfn_free(&f);
}

/* Every group of m consecutive input columns of every row holds at least
 * n zeros, and the masks pruned exactly n per group. */
static void check_nm(const struct alc_prune_report *pr, int n, int m)
{
    for (int k = 0; k < g_s.n_slots; k++) {
        int64_t rows, cols;
        float *w = slot_weights(k, &rows, &cols, 0);
        assert_int_equal(pr->lin[k].pruned, rows * cols / m * n);
        for (int64_t i = 0; i < rows * cols; i += m) {
            int z = 0;
            for (int j = 0; j < m; j++) {
                z += w[i + j] == 0.0f;
            }
            assert_true(z >= n);
        }
        free(w);
    }
}

/* N:M patterns for the three methods; an allocation other than N/M is
 * refused (Wanda's main.py asserts sparsity_ratio 0.5 for N:M). */
static void test_nm_patterns(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    struct alc_diag d;
    const int nm[3][3] = {{ALC_PRUNE_WANDA, 2, 4},
                          {ALC_PRUNE_SPARSEGPT, 4, 8},
                          {ALC_PRUNE_MAGNITUDE, 2, 4}};
    (void)state;
    load_src(&f, "uniform.alloc", "sparsity = S\n");
    for (int i = 0; i < 3; i++) {
        alc_prune_opts_default(&o, (enum alc_prune_method)nm[i][0], 0);
        o.n = nm[i][1];
        o.m = nm[i][2];
        alloc_prune(&f, 0.5, &o, &r, &pr);
        check_nm(&pr, o.n, o.m);
        alc_alloc_result_free(&r);
        alc_prune_report_free(&pr);
    }
    alc_diag_init(&d);
    assert_int_equal(alc_session_allocate(&g_s, f.c, 0.6, f.params, &r, &d), 0);
    assert_int_equal(alc_session_prune(&g_s, r.ratio, &o, &pr, &d), -1);
    assert_contains(d.first, "2:4 sparsity prunes exactly 0.5 of every row");
    alc_alloc_result_free(&r);
    alc_allocfn_free(&f);
    alc_diag_free(&d);
}

/* Linear units: 56 units, unit u is linear u % 7 of block u / 7, and each
 * linear is pruned with its own ratio. */
static void test_linear_granularity(void **state)
{
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    load_src(&f, "perlin.alloc", "sparsity = 0.3 + 0.01 * layer\n");
    assert_int_equal(alc_session_prepare(&g_s, f.inputs, ALC_GRAN_LINEAR, &d),
                     0);
    assert_int_equal(g_s.view.n_units, 56);
    assert_string_equal(g_s.unit_name[9],
                        "model.layers.1.self_attn.v_proj.weight");
    assert_int_equal(g_s.units[9].block, 1);
    alc_prune_opts_default(&o, ALC_PRUNE_WANDA, 0);
    alloc_prune(&f, 0.5, &o, &r, &pr);
    for (int u = 0; u < 56; u++) {
        const struct alc_lin_result *l = &pr.lin[u];
        assert_true(fabs(l->ratio - (0.3 + 0.01 * u)) < 1e-15);
        assert_int_equal(l->pruned,
                         l->rows * (int64_t)((double)l->cols * l->ratio));
    }
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    assert_int_equal(alc_session_prepare(&g_s, f.inputs, ALC_GRAN_BLOCK, &d),
                     0);
    alc_allocfn_free(&f);
    alc_diag_free(&d);
}

/* ---- Reuse (the search's pattern) ---- */

/* Copies every linear override of the session (BF16 bytes). */
static unsigned char *snapshot(size_t *n)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    for (int k = 0; k < g_s.n_slots; k++) {
        struct alc_tref r =
            alc_model_bref(&g_s.model, k / ALC_LIN_COUNT, k % ALC_LIN_COUNT);
        const struct alc_st_tensor *t = alc_model_st(&g_s.model, r);
        alc_sb_append(&sb, alc_model_data(&g_s.model, r),
                      (size_t)alc_st_tensor_bytes(t));
    }
    *n = sb.len;
    return (unsigned char *)alc_sb_take(&sb);
}

/* Pruning A, then B, on one session gives B's weights bit for bit as
 * pruning B first: every prune starts from the dense weights; reset
 * brings the dense model back. */
static void test_session_reuse(void **state)
{
    struct alc_allocfn a, b;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    size_t n1, n2, n3;
    (void)state;
    load_src(&a, "ua.alloc", "sparsity = S\n");
    load_src(&b, "ub.alloc", "sparsity = S + 0.01 * (layer - 3.5)\n");
    alc_prune_opts_default(&o, ALC_PRUNE_SPARSEGPT, 0);
    alloc_prune(&b, 0.5, &o, &r, &pr);
    unsigned char *first = snapshot(&n1);
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    alloc_prune(&a, 0.7, &o, &r, &pr);
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    alloc_prune(&b, 0.5, &o, &r, &pr);
    unsigned char *again = snapshot(&n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(first, again, n1);
    alc_session_reset(&g_s);
    assert_int_equal(g_s.model.n_overrides, 0);
    unsigned char *dense = snapshot(&n3);
    assert_true(memcmp(dense, first, n1) != 0);
    free(first);
    free(again);
    free(dense);
    alc_alloc_result_free(&r);
    alc_prune_report_free(&pr);
    alc_allocfn_free(&a);
    alc_allocfn_free(&b);
}

/* ---- Saving ---- */

/* The input directory is refused even with force; a non-empty directory
 * without force; an empty one is replaced; force replaces. */
static void test_save_refusals(void **state)
{
    struct alc_diag d;
    char *out = alc_path_join(g_tmp, "saved");
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_session_save(&g_s, TINY_LLAMA, 1, &d), -1);
    assert_contains(d.first, "refusing to overwrite the input model");
    alc_diag_reset(&d);
    sh("rm -rf '%s' && mkdir -p '%s' && touch '%s/x'", out, out, out);
    assert_int_equal(alc_session_save(&g_s, out, 0, &d), -1);
    assert_contains(d.first, "exists and is not an empty directory");
    sh("test -f '%s/x'", out);
    alc_diag_reset(&d);
    assert_int_equal(alc_session_save(&g_s, out, 1, &d), 0);
    sh("test ! -e '%s/x' && test -f '%s/model.safetensors'", out, out);
    sh("rm -rf '%s' && mkdir -p '%s'", out, out);
    assert_int_equal(alc_session_save(&g_s, out, 0, &d), 0);
    sh("test -f '%s/tokenizer.json' && test -f '%s/config.json'", out, out);
    alc_diag_free(&d);
    free(out);
}

/* A full disk (RLIMIT_FSIZE) while saving a pruned model: a clear error
 * and neither the directory nor a temporary left. */
static void test_save_full_disk(void **state)
{
    char *dir = alc_path_join(g_tmp, "full");
    char *out = alc_path_join(dir, "model");
    int fds[2];
    (void)state;
    sh("rm -rf '%s' && mkdir -p '%s'", dir, dir);
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a session of its own: the fixture's thread pools do not exist in
         * a forked child */
        struct rlimit rl = {1 << 20, 1 << 20}; /* model is 3.7 MB */
        struct alc_session_opts so = {TINY_LLAMA, 1, 0, 0};
        struct alc_session s;
        struct alc_diag d;
        struct alc_allocfn f;
        struct alc_alloc_result r;
        struct alc_prune_report pr;
        struct alc_prune_opts o;
        char msg[1024];
        signal(SIGXFSZ, SIG_IGN);
        alc_diag_init(&d);
        alc_prune_opts_default(&o, ALC_PRUNE_MAGNITUDE, 0);
        int rc = alc_allocfn_load(&f, NULL, ALC_BE_INTERP, &d) ||
                 alc_session_open(&s, &so, &d) ||
                 alc_session_prepare(&s, f.inputs, ALC_GRAN_BLOCK, &d) ||
                 alc_session_allocate(&s, f.c, 0.5, f.params, &r, &d) ||
                 alc_session_prune(&s, r.ratio, &o, &pr, &d);
        setrlimit(RLIMIT_FSIZE, &rl);
        rc = rc ? rc : alc_session_save(&s, out, 0, &d);
        snprintf(msg, sizeof msg, "%d %s\n", rc, d.first);
        if (write(fds[1], msg, strlen(msg)) < 0) {
            _exit(3);
        }
        _exit(0);
    }
    close(fds[1]);
    char buf[1100] = {0};
    ssize_t got = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(got > 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    print_message("%s", buf);
    assert_contains(buf, "-1 error: ");
    assert_contains(buf, "File too large");
    assert_int_equal(alc_path_exists(out), 0);
    sh("test -z \"$(ls -A '%s')\"", dir);
    free(out);
    free(dir);
}

/* ---- The independent PyTorch pipeline ---- */

/* Runs dsac prune (report, windows, saved model) and ref_prune_model.py on
 * the same windows and ratios; returns the reference's JSON text. */
/* noinline: inlined into its caller, GCC 12 -O2 reports a false
   -Wdangling-pointer for the returned buffer (it confuses the freed first
   file with the returned second one). */
__attribute__((noinline)) static char *
torch_compare(const char *name, const char *args,
                           const char *py_args, double *ppl_dsac)
{
    char *dir = alc_path_join(g_tmp, name);
    char *text = NULL;
    size_t len = 0;
    struct alc_diag d;
    sh("rm -rf '%s' && mkdir -p '%s'", dir, dir);
    sh("'%s' prune --model '%s' --calib '%skjv.train.raw' --eval "
       "'%skjv.test.raw' --eval-max-chunks 40 %s --threads 2 --quiet "
       "--report '%s/r.json' "
       "--dump-calib '%s/calib.json' --out '%s/model' --json > '%s/out.json'",
       ALC_DSAC, TINY_LLAMA, CORPUS, CORPUS, args, dir, dir, dir, dir);
    sh("/usr/bin/python3 - '%s/r.json' > '%s/ppl.txt' <<'EOF'\n"
       "import json, sys\n"
       "print(repr(json.load(open(sys.argv[1]))['ppl']['ppl']))\nEOF",
       dir, dir);
    sh("/usr/bin/python3 '%s/tools/ref_prune_model.py' --model '%s' "
       "--calib-ids '%s/calib.json' --ratios '%s/r.json' %s --threads 2 "
       "--eval-ids '%s/examples/reference/test_ids.json' --seqlen 256 "
       "--max-chunks 40 --batch 8 "
       "--compare '%s/model' --out '%s/ref.json'",
       ALC_SOURCE_DIR, TINY_LLAMA, dir, dir, py_args, ALC_SOURCE_DIR, dir, dir);
    alc_diag_init(&d);
    char *p = alc_path_join(dir, "ppl.txt");
    assert_int_equal(alc_read_file(p, &text, &len, &d), 0);
    *ppl_dsac = strtod(text, NULL);
    free(text);
    text = NULL;
    free(p);
    p = alc_path_join(dir, "ref.json");
    assert_int_equal(alc_read_file(p, &text, &len, &d), 0);
    free(p);
    free(dir);
    alc_diag_free(&d);
    return text;
}

/* A number after "key": in the reference's JSON. */
static double json_num(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *s = strstr(json, pat);
    assert_non_null(s);
    return strtod(s + strlen(pat), NULL);
}

/* Sum of "mismatch" and max of "max_gap" over the compared linears. */
static void mismatches(const char *json, int64_t *total, double *gap)
{
    *total = 0;
    *gap = 0;
    for (const char *s = json; (s = strstr(s, "\"mismatch\": ")) != NULL;) {
        s += 12;
        *total += strtoll(s, NULL, 10);
    }
    for (const char *s = json; (s = strstr(s, "\"max_gap\": ")) != NULL;) {
        s += 11;
        if (strncmp(s, "null", 4) != 0) {
            double g = strtod(s, NULL);
            *gap = g > *gap ? g : *gap;
        }
    }
}

/*
 * Wanda, magnitude and SparseGPT at 50 % (and Wanda 2:4) against the
 * PyTorch pipeline, perplexity on the first 40 test windows (PyTorch on
 * this machine needs ~1 min for all 243). The reference runs calibration
 * batches of 8 here to keep the test short; its statistics equal those of
 * the Wanda repository's batch-1 loop up to rounding (the comparison with
 * batch 1 and all windows is in the report of tools/acceptance_table.sh).
 *  - Masks: identical up to ties. The tie rule: a position where the two
 *    zero patterns differ must sit on the selection boundary in the
 *    reference's own metric, |metric - thr| <= 1e-5 * thr (thr = the
 *    row's k-th smallest Wanda metric, or the matrix's magnitude
 *    threshold). The statistics differ only by summation order (double vs
 *    float32 scaler_row; the forward passes round differently), about
 *    1e-7 relative, so only metrics within that distance of the boundary
 *    can swap; 1e-5 leaves room for the ~1e-6 drift through 8 blocks.
 *    Magnitude uses the dense BF16 weights on both sides: no difference
 *    at all is allowed.
 *  - Perplexity: within 1 % (the acceptance's bound); the differences
 *    measured are printed (about 1e-5 relative).
 */
static void test_torch_pipeline(void **state)
{
    const struct {
        const char *name, *args, *py;
        int exact_mask;
    } runs[] = {
        {"t_wanda", "--method wanda --sparsity 0.5", "--method wanda", 0},
        {"t_magnitude", "--method magnitude --sparsity 0.5",
         "--method magnitude", 1},
        {"t_sparsegpt", "--method sparsegpt --sparsity 0.5",
         "--method sparsegpt", 0},
        {"t_wanda24", "--method wanda --nm 2:4", "--method wanda --nm 2:4", 0},
    };
    (void)state;
    if (!rt_have_torch()) {
        skip();
    }
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double ppl = 0, gap = 0;
        int64_t mis = 0;
        char *ref = torch_compare(runs[i].name, runs[i].args, runs[i].py, &ppl);
        double ppl_ref = json_num(ref, "ppl");
        mismatches(ref, &mis, &gap);
        print_message("%-12s dsac PPL %.6f, PyTorch PPL %.6f (rel. diff "
                      "%.2e); masks differ at %lld of %.0f weights, max "
                      "boundary gap %.2e\n",
                      runs[i].name, ppl, ppl_ref, fabs(ppl - ppl_ref) / ppl_ref,
                      (long long)mis, json_num(ref, "numel"), gap);
        assert_true(fabs(ppl - ppl_ref) <= 0.01 * ppl_ref);
        if (runs[i].exact_mask) {
            assert_int_equal(mis, 0);
        } else if (strstr(runs[i].name, "sparsegpt") == NULL &&
                   strstr(runs[i].args, "--nm") == NULL) {
            assert_true(gap <= 1e-5);
        }
        free(ref);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calib_even),
        cmocka_unit_test(test_calib_random),
        cmocka_unit_test(test_calib_c4),
        cmocka_unit_test(test_units_view),
        cmocka_unit_test(test_alloc_out_of_range),
        cmocka_unit_test(test_alloc_dsa_undefined),
        cmocka_unit_test(test_wanda_exact),
        cmocka_unit_test(test_magnitude_exact),
        cmocka_unit_test(test_sparsegpt_blocks),
        cmocka_unit_test(test_nm_patterns),
        cmocka_unit_test(test_linear_granularity),
        cmocka_unit_test(test_session_reuse),
        cmocka_unit_test(test_save_refusals),
        cmocka_unit_test(test_save_full_disk),
        cmocka_unit_test(test_torch_pipeline),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
