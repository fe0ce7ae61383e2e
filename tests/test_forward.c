/*
 * test_forward.c: the CPU forward pass. The bundled model's logits against
 * examples/reference; random LLaMA / Mistral / Qwen2 / OPT models against
 * the independent PyTorch implementation tools/ref_forward.py (skipped
 * without torch); bit-identical results across thread counts and batch
 * sizes; the activation hook and block overrides Runtime II relies on.
 */
#include "rt_test.h"

#include "safetensors.h"

#define REF_LOGITS                                                             \
    ALC_SOURCE_DIR "/examples/reference/logits_test64.safetensors"

/* ---- Bundled model vs reference ---- */

/* logits of the first 64 test ids match reference/logits_test64 within
 * 1e-3 max abs (the bar; measured about 1.3e-5: both sides compute
 * in fp32 from the same BF16 weights, only summation order differs). */
static void test_fwd_bundled_logits(void **state)
{
    struct alc_model m;
    struct alc_st_file rf;
    struct alc_diag d;
    int32_t ids[64];
    (void)state;
    alc_diag_init(&d);
    rt_load(&m, TINY_LLAMA);
    assert_int_equal(alc_st_open(&rf, REF_LOGITS, &d), 0);
    const struct alc_st_tensor *ti = alc_st_find(&rf, "input_ids");
    const struct alc_st_tensor *tl = alc_st_find(&rf, "logits");
    assert_non_null(ti);
    assert_non_null(tl);
    assert_int_equal(tl->numel, 64 * 1024);
    for (int i = 0; i < 64; i++) {
        ids[i] = (int32_t)((const float *)ti->data)[i];
    }
    float *lg = rt_logits(&m, ids, 1, 64, 2);
    double mx = rt_max_abs_diff(lg, tl->data, 64 * 1024, NULL);
    print_message("bundled logits: max abs diff %.3g\n", mx);
    assert_true(mx <= 1e-3);
    free(lg);
    alc_st_close(&rf);
    alc_model_free(&m);
    alc_diag_free(&d);
}

/* ---- Random models vs PyTorch ---- */

/* Our logits vs tools/ref_forward.py on B x T random ids. Tolerance: 1e-4
 * times the largest |logit| (fp32 on both sides from the same stored
 * weights; measured differences are about 1e-6 relative). */
static void check_vs_torch(const struct alc_gen_opts *o, const char *name,
                           int B, int T)
{
    if (!rt_have_torch()) {
        skip();
    }
    char *dir = alc_test_tmpdir(name);
    char *mdir = alc_path_join(dir, "model");
    struct alc_model m;
    int V = o->cfg.vocab_size;
    int32_t *ids = malloc((size_t)B * T * sizeof *ids);
    rt_gen(o, mdir);
    rt_load(&m, mdir);
    rt_ids(ids, (int64_t)B * T, V, 11);
    float *ours = rt_logits(&m, ids, B, T, 2);
    float *ref = rt_torch_logits(mdir, dir, ids, B, T, V);
    double scale = 0.0;
    double mx = rt_max_abs_diff(ours, ref, (int64_t)B * T * V, &scale);
    print_message("%s: max abs diff %.3g (max |logit| %.3g)\n", name, mx,
                  scale);
    assert_true(scale > 0.5); /* the model is not degenerate */
    assert_true(mx <= 1e-4 * scale);
    free(ours);
    free(ref);
    free(ids);
    alc_model_free(&m);
    free(mdir);
    free(dir);
}

/* LLaMA: GQA 4/2, tied embeddings, LLaMA-3.1 rope_scaling, theta 5e5. */
static void test_fwd_llama_vs_torch(void **state)
{
    (void)state;
    struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 64, 2, 4, 2);
    o.cfg.tie_embeddings = 1;
    o.cfg.rope_theta = 500000.0;
    o.cfg.rope_type = ALC_ROPE_LLAMA3;
    o.cfg.rope_factor = 8.0;
    o.cfg.rope_low_freq = 1.0;
    o.cfg.rope_high_freq = 4.0;
    o.cfg.rope_orig_max_pos = 64; /* puts the bands inside head_dim 16 */
    check_vs_torch(&o, "fwd_llama", 2, 40);
}

/* LLaMA with attention_bias + mlp_bias and head_dim != hidden / heads. */
static void test_fwd_llama_bias_headdim_vs_torch(void **state)
{
    (void)state;
    struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 64, 2, 4, 4);
    o.cfg.qkv_bias = o.cfg.o_bias = o.cfg.mlp_bias = 1;
    o.cfg.head_dim = 24;
    o.dtype = ALC_DT_F32;
    check_vs_torch(&o, "fwd_llama_bias", 2, 33);
}

/* Mistral: one KV head, sliding window 16 shorter than the sequence. */
static void test_fwd_mistral_vs_torch(void **state)
{
    (void)state;
    struct alc_gen_opts o = rt_opts(ALC_ARCH_MISTRAL, 64, 2, 4, 1);
    o.cfg.sliding_window = 16;
    o.dtype = ALC_DT_F16;
    check_vs_torch(&o, "fwd_mistral", 2, 100);
}

/* Qwen2: q/k/v biases, GQA, two shards. */
static void test_fwd_qwen2_vs_torch(void **state)
{
    (void)state;
    struct alc_gen_opts o = rt_opts(ALC_ARCH_QWEN2, 64, 3, 4, 2);
    o.n_shards = 2;
    check_vs_torch(&o, "fwd_qwen2", 2, 40);
}

/* OPT: LayerNorm, biases, ReLU, learned positions with offset 2. */
static void test_fwd_opt_vs_torch(void **state)
{
    (void)state;
    struct alc_gen_opts o = rt_opts(ALC_ARCH_OPT, 64, 2, 4, 4);
    o.dtype = ALC_DT_F32;
    check_vs_torch(&o, "fwd_opt", 2, 40);
}

/* OPT-350m style: post-norm blocks, no final norm, project_in/out. */
static void test_fwd_opt_postnorm_proj_vs_torch(void **state)
{
    (void)state;
    struct alc_gen_opts o = rt_opts(ALC_ARCH_OPT, 64, 2, 4, 4);
    o.cfg.pre_norm = 0;
    o.cfg.final_norm = 0;
    o.cfg.proj_dim = 32;
    check_vs_torch(&o, "fwd_opt_post", 2, 40);
}

/* ---- Determinism ---- */

/* Same logit bits for 1 and 2 threads, and for a batch of 3 vs one
 * sequence at a time. */
static void test_fwd_deterministic(void **state)
{
    struct alc_model m;
    enum { B = 3, T = 300 };
    static int32_t ids[B * T];
    (void)state;
    rt_load(&m, TINY_LLAMA);
    rt_ids(ids, B * T, 1024, 3);
    size_t V = 1024;
    float *a = rt_logits(&m, ids, B, T, 1);
    float *b = rt_logits(&m, ids, B, T, 2);
    assert_memory_equal(a, b, B * T * V * sizeof(float));
    for (int s = 0; s < B; s++) {
        float *one = rt_logits(&m, ids + s * T, 1, T, 2);
        assert_memory_equal(one, a + s * T * V, T * V * sizeof(float));
        free(one);
    }
    free(a);
    free(b);
    alc_model_free(&m);
}

/* ---- Hook ---- */

struct hook_log {
    int n;
    int layer[64], lin[64], in[64];
    int64_t rows[64];
    float q0[128]; /* first row of the layer-0 Q input */
    int fail_at;
};

static int record(void *ctx, int layer, enum alc_lin lin, const float *x,
                  int64_t rows, int in)
{
    struct hook_log *h = ctx;
    if (h->n == h->fail_at) {
        return -1;
    }
    if (h->n < 64) {
        h->layer[h->n] = layer;
        h->lin[h->n] = (int)lin;
        h->rows[h->n] = rows;
        h->in[h->n] = in;
    }
    if (layer == 0 && lin == ALC_LIN_Q) {
        memcpy(h->q0, x, sizeof h->q0);
    }
    h->n++;
    return 0;
}

/* The hook sees every linear's input in Q K V O GATE UP DOWN order with
 * (B*T, in) shapes; layer 0's Q input is RMSNorm(embedding). A failing
 * hook aborts the forward with an error. */
static void test_fwd_hook(void **state)
{
    struct alc_model m;
    struct alc_fwd f;
    struct alc_block blk;
    struct alc_diag d;
    struct hook_log h;
    int32_t ids[2 * 16];
    (void)state;
    rt_load(&m, TINY_LLAMA);
    rt_ids(ids, 32, 1024, 5);
    alc_diag_init(&d);
    memset(&h, 0, sizeof h);
    h.fail_at = -1;
    float *x = malloc(32 * 128 * sizeof(float));
    assert_int_equal(alc_fwd_init(&f, &m, 2, 16, 2, &d), 0);
    assert_int_equal(alc_fwd_embed(&f, ids, 2, 16, x, &d), 0);
    /* expected layer-0 Q input, row 0: rmsnorm(embed[ids[0]]) * w */
    float e[128], w[128], want[128];
    double ss = 0.0;
    alc_model_rows_f32(&m, m.global[ALC_GT_EMBED], ids[0], 1, e);
    alc_model_rows_f32(&m, alc_model_bref(&m, 0, ALC_BT_NORM1), 0, 1, w);
    for (int i = 0; i < 128; i++) {
        ss += (double)e[i] * e[i];
    }
    for (int i = 0; i < 128; i++) {
        want[i] = (float)(e[i] / sqrt(ss / 128 + 1e-5) * w[i]);
    }
    for (int l = 0; l < 2; l++) {
        assert_int_equal(alc_block_load(&blk, &m, l, f.pool, &d), 0);
        assert_int_equal(alc_fwd_block(&f, &blk, x, 2, 16, record, &h, &d), 0);
        alc_block_free(&blk);
    }
    assert_int_equal(h.n, 14);
    static const int ins[7] = {128, 128, 128, 128, 128, 128, 384};
    for (int i = 0; i < 14; i++) {
        assert_int_equal(h.layer[i], i / 7);
        assert_int_equal(h.lin[i], i % 7);
        assert_int_equal(h.rows[i], 32);
        assert_int_equal(h.in[i], ins[i % 7]);
    }
    for (int i = 0; i < 128; i++) {
        assert_close(h.q0[i], want[i], 1e-5); /* fp32, different order */
    }
    /* a failing hook stops the block with an error */
    memset(&h, 0, sizeof h);
    h.fail_at = 3;
    assert_int_equal(alc_block_load(&blk, &m, 0, NULL, &d), 0);
    assert_int_equal(alc_fwd_block(&f, &blk, x, 2, 16, record, &h, &d), -1);
    assert_contains(d.first, "activation hook failed");
    alc_block_free(&blk);
    alc_fwd_free(&f);
    free(x);
    alc_model_free(&m);
    alc_diag_free(&d);
}

/* OPT blocks have six linears: no GATE call. */
static void test_fwd_hook_opt(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("fwd_hook_opt");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_OPT, 32, 1, 2, 2);
    struct alc_model m;
    struct alc_fwd f;
    struct alc_block blk;
    struct alc_diag d;
    struct hook_log h;
    int32_t ids[8];
    rt_gen(&o, dir);
    rt_load(&m, dir);
    rt_ids(ids, 8, 300, 1);
    alc_diag_init(&d);
    memset(&h, 0, sizeof h);
    h.fail_at = -1;
    float x[8 * 32];
    assert_int_equal(alc_fwd_init(&f, &m, 1, 8, 1, &d), 0);
    assert_int_equal(alc_fwd_embed(&f, ids, 1, 8, x, &d), 0);
    assert_int_equal(alc_block_load(&blk, &m, 0, NULL, &d), 0);
    assert_null(blk.w[ALC_LIN_GATE]);
    assert_non_null(blk.b[ALC_LIN_UP]);
    assert_int_equal(alc_fwd_block(&f, &blk, x, 1, 8, record, &h, &d), 0);
    assert_int_equal(h.n, 6);
    assert_int_equal(h.lin[4], ALC_LIN_UP);
    assert_int_equal(h.in[5], 64); /* fc2 input: ffn_dim */
    assert_string_equal(alc_lin_name(ALC_ARCH_OPT, ALC_LIN_O), "out_proj");
    assert_string_equal(alc_lin_name(ALC_ARCH_OPT, ALC_LIN_UP), "fc1");
    assert_null(alc_lin_name(ALC_ARCH_OPT, ALC_LIN_GATE));
    alc_block_free(&blk);
    alc_fwd_free(&f);
    alc_model_free(&m);
    alc_diag_free(&d);
    free(dir);
}

/* Token ids outside the vocabulary are an error, not a crash. */
static void test_fwd_bad_ids(void **state)
{
    struct alc_model m;
    struct alc_fwd f;
    struct alc_diag d;
    int32_t ids[4] = {1, 2, 1024, 3};
    float x[4 * 128];
    (void)state;
    rt_load(&m, TINY_LLAMA);
    alc_diag_init(&d);
    assert_int_equal(alc_fwd_init(&f, &m, 1, 4, 1, &d), 0);
    assert_int_equal(alc_fwd_embed(&f, ids, 1, 4, x, &d), -1);
    assert_contains(d.first, "token id 1024 at position 2");
    assert_int_equal(alc_fwd_embed(&f, ids, 2, 4, x, &d), -1); /* B > max */
    alc_fwd_free(&f);
    alc_model_free(&m);
    alc_diag_free(&d);
}

/* ---- Overrides ---- */

/* Runtime II's loop: modify a block in f32, store it as overrides; the
 * whole-model forward sees it in the same process, a saved copy reloads
 * to the same bits, and clearing the overrides restores the dense model. */
static void test_fwd_block_store(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("fwd_store");
    char *out = alc_path_join(dir, "pruned");
    struct alc_model m, m2;
    struct alc_block blk;
    struct alc_diag d;
    enum { T = 64 };
    int32_t ids[T];
    float dense[T - 1], pruned[T - 1], again[T - 1], saved[T - 1];
    rt_load(&m, TINY_LLAMA);
    rt_ids(ids, T, 1024, 9);
    alc_diag_init(&d);
    struct alc_fwd f;
    assert_int_equal(alc_fwd_init(&f, &m, 1, T, 2, &d), 0);
    assert_int_equal(alc_fwd_nll(&f, ids, 1, T, dense, &d), 0);
    assert_int_equal(alc_block_load(&blk, &m, 3, NULL, &d), 0);
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        for (int64_t i = 0; i < (int64_t)blk.out[lin] * blk.in[lin]; i += 2) {
            blk.w[lin][i] = 0.0f;
        }
        blk.w[lin][1] = 0.1234567f; /* not representable in BF16 */
    }
    assert_int_equal(alc_block_store(&m, &blk, &d), 0);
    assert_int_equal(m.n_overrides, 7);
    assert_true(blk.w[ALC_LIN_Q][1] != 0.1234567f); /* rounded in place */
    assert_float_equal(blk.w[ALC_LIN_Q][1],
                       alc_bf16_to_f32(alc_f32_to_bf16(0.1234567f)), 0.0);
    alc_block_free(&blk);
    assert_int_equal(alc_fwd_nll(&f, ids, 1, T, pruned, &d), 0);
    assert_memory_not_equal(dense, pruned, sizeof dense);
    assert_int_equal(alc_model_save(&m, out, 0, &d), 0);
    assert_int_equal(alc_model_save(&m, out, 0, &d), -1); /* exists */
    assert_contains(d.first, "already exists");
    alc_diag_reset(&d);
    rt_load(&m2, out);
    struct alc_fwd f2;
    assert_int_equal(alc_fwd_init(&f2, &m2, 1, T, 1, &d), 0);
    assert_int_equal(alc_fwd_nll(&f2, ids, 1, T, saved, &d), 0);
    assert_memory_equal(saved, pruned, sizeof saved);
    alc_fwd_free(&f2);
    alc_model_free(&m2);
    alc_model_clear_overrides(&m);
    assert_int_equal(alc_fwd_nll(&f, ids, 1, T, again, &d), 0);
    assert_memory_equal(again, dense, sizeof dense);
    alc_fwd_free(&f);
    alc_model_free(&m);
    alc_diag_free(&d);
    free(out);
    free(dir);
}

/* FLOP count: linears + head + causal attention pairs. */
static void test_fwd_flops(void **state)
{
    struct alc_config c;
    (void)state;
    alc_config_defaults(&c, ALC_ARCH_LLAMA);
    c.dim = 128;
    c.hidden_dim = 384;
    c.n_layers = 8;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 32;
    c.vocab_size = 1024;
    double M = 256;
    double lin = 2 * M * (128 * 128 * 2 + 2 * 128 * 64 + 3 * 128 * 384);
    double att = 4.0 * 32 * (256.0 * 257 / 2) * 4;
    double head = 2 * M * 128 * 1024;
    assert_close(alc_fwd_flops(&c, 1, 256), 8 * (lin + att) + head, 1e-12);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fwd_bundled_logits),
        cmocka_unit_test(test_fwd_llama_vs_torch),
        cmocka_unit_test(test_fwd_llama_bias_headdim_vs_torch),
        cmocka_unit_test(test_fwd_mistral_vs_torch),
        cmocka_unit_test(test_fwd_qwen2_vs_torch),
        cmocka_unit_test(test_fwd_opt_vs_torch),
        cmocka_unit_test(test_fwd_opt_postnorm_proj_vs_torch),
        cmocka_unit_test(test_fwd_deterministic),
        cmocka_unit_test(test_fwd_hook),
        cmocka_unit_test(test_fwd_hook_opt),
        cmocka_unit_test(test_fwd_bad_ids),
        cmocka_unit_test(test_fwd_block_store),
        cmocka_unit_test(test_fwd_flops),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
