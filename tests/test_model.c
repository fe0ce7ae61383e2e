/*
 * test_model.c: config.json variants, the model directory loader (single
 * file, sharded, OPT without the "model." prefix, tied embeddings) and its
 * errors (missing tensor, wrong shape, unsupported dtype, unknown
 * architecture, bad index, truncated file), the random-model generator and
 * the atomic writers, including a full disk.
 */
#include "rt_test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "safetensors.h"

/* ---- Helpers ---- */

static int parse_cfg(struct alc_config *c, const char *json, char *err,
                     size_t n)
{
    struct alc_diag d;
    alc_diag_init(&d);
    int rc = alc_config_parse(c, json, strlen(json), "config.json", &d);
    snprintf(err, n, "%s", d.first);
    alc_diag_free(&d);
    return rc;
}

static const char *load_err(const char *dir)
{
    static char first[512];
    struct alc_model m;
    struct alc_diag d;
    alc_diag_init(&d);
    int rc = alc_model_load(&m, dir, &d);
    snprintf(first, sizeof first, "%s", d.first);
    if (rc == 0) {
        alc_model_free(&m);
        first[0] = '\0';
    }
    alc_diag_free(&d);
    return first;
}

enum edit { EDIT_NONE, EDIT_DROP, EDIT_STRIP_PREFIX, EDIT_I8 };

/*
 * Copies safetensors src to dst applying one edit to the tensor `name`
 * (drop it, or store it as I8 of the same byte size) or to every name
 * (strip a leading "model.").
 */
static void rewrite(const char *src, const char *dst, enum edit e,
                    const char *name)
{
    struct alc_st_file f;
    struct alc_st_writer w;
    struct alc_diag d;
    alc_diag_init(&d);
    assert_int_equal(alc_st_open(&f, src, &d), 0);
    alc_st_writer_init(&w);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < f.n_tensors; i++) {
            const struct alc_st_tensor *t = &f.tensors[i];
            const char *nm = t->name;
            int64_t shape[ALC_ST_MAX_DIMS];
            int ndim = t->ndim;
            enum alc_st_dtype dt = t->st_dtype;
            memcpy(shape, t->shape, sizeof shape);
            if (e == EDIT_DROP && strcmp(nm, name) == 0) {
                continue;
            }
            if (e == EDIT_STRIP_PREFIX && strncmp(nm, "model.", 6) == 0) {
                nm += 6;
            }
            if (e == EDIT_I8 && strcmp(nm, name) == 0) {
                dt = ALC_ST_I8;
                ndim = 1;
                shape[0] = (int64_t)alc_st_tensor_bytes(t);
            }
            if (pass == 0) {
                assert_int_equal(alc_st_writer_add(&w, nm, dt, ndim, shape, &d),
                                 0);
            } else {
                assert_int_equal(alc_st_writer_put(&w, nm, t->data,
                                                   alc_st_tensor_bytes(t), &d),
                                 0);
            }
        }
        if (pass == 0) {
            assert_int_equal(alc_st_writer_open(&w, dst, &d), 0);
        }
    }
    assert_int_equal(alc_st_writer_close(&w, &d), 0);
    alc_st_writer_free(&w);
    alc_st_close(&f);
    alc_diag_free(&d);
}

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

/* ---- config.json ---- */

/* The bundled model loads with its config and all tensors resolved. */
static void test_model_load_bundled(void **state)
{
    struct alc_model m;
    (void)state;
    rt_load(&m, TINY_LLAMA);
    const struct alc_config *c = &m.cfg;
    assert_int_equal(c->arch, ALC_ARCH_LLAMA);
    assert_int_equal(c->dim, 128);
    assert_int_equal(c->n_layers, 8);
    assert_int_equal(c->n_heads, 4);
    assert_int_equal(c->n_kv_heads, 2);
    assert_int_equal(c->head_dim, 32);
    assert_int_equal(c->hidden_dim, 384);
    assert_int_equal(c->vocab_size, 1024);
    assert_int_equal(c->dtype, ALC_DT_BF16);
    assert_int_equal(c->bos_id, 0);
    assert_int_equal(c->eos_ids[0], 1);
    assert_close(c->norm_eps, 1e-5, 1e-12);
    assert_int_equal(m.dtype, ALC_DT_BF16);
    assert_int_equal(m.sharded, 0);
    assert_int_equal(m.n_params, alc_config_n_params(c));
    assert_int_equal(m.n_params, 1837184); /* "1.84 M" (FIXTURES.md) */
    assert_true(m.global[ALC_GT_LM_HEAD].idx != m.global[ALC_GT_EMBED].idx);
    assert_int_equal(m.global[ALC_GT_POS].file, -1);
    for (int l = 0; l < 8; l++) {
        assert_true(alc_model_bref(&m, l, ALC_LIN_DOWN).file == 0);
        assert_true(alc_model_bref(&m, l, ALC_BT_BIAS + ALC_LIN_Q).file < 0);
    }
    alc_model_free(&m);
}

/* dtype/torch_dtype, list eos, tie, defaults for absent or null fields. */
static void test_config_variants(void **state)
{
    struct alc_config c;
    char err[512];
    (void)state;
    assert_int_equal(
        parse_cfg(&c,
                  "{\"architectures\":[\"LlamaForCausalLM\"],"
                  "\"hidden_size\":64,\"intermediate_size\":96,"
                  "\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                  "\"num_key_value_heads\":null,\"vocab_size\":10,"
                  "\"head_dim\":null,\"dtype\":\"float16\","
                  "\"eos_token_id\":[128001,128008,128009],"
                  "\"tie_word_embeddings\":true,\"rope_scaling\":{"
                  "\"rope_type\":\"llama3\",\"factor\":8.0,"
                  "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                  "\"original_max_position_embeddings\":8192}}",
                  err, sizeof err),
        0);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.head_dim, 16);
    assert_int_equal(c.dtype, ALC_DT_F16);
    assert_int_equal(c.n_eos, 3);
    assert_int_equal(c.eos_ids[2], 128009);
    assert_int_equal(c.tie_embeddings, 1);
    assert_int_equal(c.rope_type, ALC_ROPE_LLAMA3);
    assert_int_equal(c.rope_orig_max_pos, 8192);
    assert_close(c.norm_eps, 1e-6, 1e-12); /* LlamaConfig default */
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"qwen2\",\"hidden_size\":64,"
                               "\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,"
                               "\"num_key_value_heads\":2,\"vocab_size\":10,"
                               "\"torch_dtype\":\"bfloat16\"}",
                               err, sizeof err),
                     0);
    assert_int_equal(c.arch, ALC_ARCH_QWEN2);
    assert_int_equal(c.qkv_bias, 1);
    assert_int_equal(c.o_bias, 0);
    assert_int_equal(c.dtype, ALC_DT_BF16);
    assert_int_equal(parse_cfg(&c,
                               "{\"architectures\":[\"MistralForCausalLM\"],"
                               "\"hidden_size\":64,\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,"
                               "\"num_key_value_heads\":1,\"vocab_size\":10,"
                               "\"sliding_window\":null}",
                               err, sizeof err),
                     0);
    assert_int_equal(c.sliding_window, 0);
    assert_int_equal(parse_cfg(&c,
                               "{\"architectures\":[\"OPTForCausalLM\"],"
                               "\"hidden_size\":64,\"ffn_dim\":256,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,\"vocab_size\":10,"
                               "\"do_layer_norm_before\":false,"
                               "\"word_embed_proj_dim\":32,"
                               "\"max_position_embeddings\":100}",
                               err, sizeof err),
                     0);
    assert_int_equal(c.pre_norm, 0);
    assert_int_equal(c.final_norm, 0);
    assert_int_equal(c.proj_dim, 32);
    assert_int_equal(c.tie_embeddings, 1);
    assert_int_equal(c.mlp_bias, 1);
    assert_int_equal(c.pos_offset, 2);
}

/* Each bad config gives one error naming the file and the field. */
static void test_config_errors(void **state)
{
    struct alc_config c;
    char err[512];
    (void)state;
    assert_int_equal(parse_cfg(&c, "{\"architectures\":[\"GPT2LMHeadModel\"]}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "config.json: architectures: unsupported "
                         "architecture 'GPT2LMHeadModel'");
    assert_int_equal(
        parse_cfg(&c, "{\"model_type\":\"llama\"}", err, sizeof err), -1);
    assert_contains(err, "config.json: hidden_size: missing");
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"llama\",\"hidden_size\":"
                               "\"big\"}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "hidden_size: expected an integer");
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"llama\",\"hidden_size\":64,"
                               "\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,"
                               "\"num_key_value_heads\":3,\"vocab_size\":10}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "num_key_value_heads: does not divide");
    /* a derived head dimension obeys an explicit head_dim's bounds (found
     * by fuzz_config: 600000 / 4 read, then failed to read back) */
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"llama\",\"hidden_size\":"
                               "6E5,\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,\"vocab_size\":10}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "num_attention_heads: hidden_size / "
                         "num_attention_heads = 150000, a head dimension "
                         "outside [2, 16384]");
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"llama\",\"hidden_size\":64,"
                               "\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,\"vocab_size\":10,"
                               "\"rope_scaling\":{\"type\":\"dynamic\","
                               "\"factor\":2.0}}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "unsupported rope_type 'dynamic'");
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"llama\",\"hidden_size\":64,"
                               "\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,\"vocab_size\":10,"
                               "\"hidden_act\":\"tanh\"}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "hidden_act: unsupported activation 'tanh'");
    assert_int_equal(parse_cfg(&c,
                               "{\"model_type\":\"qwen2\",\"hidden_size\":64,"
                               "\"intermediate_size\":96,"
                               "\"num_hidden_layers\":1,"
                               "\"num_attention_heads\":4,\"vocab_size\":10,"
                               "\"use_sliding_window\":true}",
                               err, sizeof err),
                     -1);
    assert_contains(err, "use_sliding_window");
    assert_int_equal(parse_cfg(&c, "[1]", err, sizeof err), -1);
    assert_contains(err, "config.json: not a JSON object");
}

/* config.json written by the generator parses back to the same config. */
static void test_config_round_trip(void **state)
{
    (void)state;
    for (int a = 0; a < ALC_ARCH_COUNT; a++) {
        struct alc_gen_opts o = rt_opts((enum alc_arch)a, 64, 2, 4, 2);
        struct alc_config back;
        char err[512];
        if (a == ALC_ARCH_LLAMA) {
            o.cfg.rope_type = ALC_ROPE_LLAMA3;
            o.cfg.rope_factor = 8;
            o.cfg.rope_low_freq = 1;
            o.cfg.rope_high_freq = 4;
            o.cfg.rope_orig_max_pos = 8192;
        }
        o.cfg.norm_eps = 1e-5;
        char *json = alc_config_to_json(&o.cfg);
        assert_int_equal(parse_cfg(&back, json, err, sizeof err), 0);
        assert_memory_equal(&back, &o.cfg, sizeof back);
        free(json);
    }
}

/* ---- Loader ---- */

/* The same seed in one file or three shards gives the same logits bits;
 * the index is used for the sharded copy. */
static void test_model_sharded_equals_single(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("model_shards");
    char *one = alc_path_join(dir, "one"), *three = alc_path_join(dir, "3");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 64, 3, 4, 2);
    struct alc_model a, b;
    int32_t ids[2 * 20];
    rt_gen(&o, one);
    o.n_shards = 3;
    rt_gen(&o, three);
    rt_load(&a, one);
    rt_load(&b, three);
    assert_int_equal(b.sharded, 1);
    assert_int_equal(b.n_files, 3);
    rt_ids(ids, 40, 300, 2);
    float *la = rt_logits(&a, ids, 2, 20, 2);
    float *lb = rt_logits(&b, ids, 2, 20, 1);
    assert_memory_equal(la, lb, 2 * 20 * 300 * sizeof(float));
    free(la);
    free(lb);
    alc_model_free(&a);
    alc_model_free(&b);
    free(one);
    free(three);
    free(dir);
}

/* OPT checkpoints without the "model." prefix load and compute the same. */
static void test_model_opt_without_prefix(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("model_opt_prefix");
    char *a_dir = alc_path_join(dir, "a"), *b_dir = alc_path_join(dir, "b");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_OPT, 32, 2, 2, 2);
    struct alc_model a, b;
    int32_t ids[12];
    rt_gen(&o, a_dir);
    sh("mkdir -p '%s' && cp '%s/config.json' '%s/'", b_dir, a_dir, b_dir);
    char *src = alc_path_join(a_dir, "model.safetensors");
    char *dst = alc_path_join(b_dir, "model.safetensors");
    rewrite(src, dst, EDIT_STRIP_PREFIX, NULL);
    rt_load(&a, a_dir);
    rt_load(&b, b_dir);
    assert_string_equal(a.prefix, "model.");
    assert_string_equal(b.prefix, "");
    rt_ids(ids, 12, 300, 4);
    float *la = rt_logits(&a, ids, 1, 12, 1);
    float *lb = rt_logits(&b, ids, 1, 12, 1);
    assert_memory_equal(la, lb, 12 * 300 * sizeof(float));
    free(la);
    free(lb);
    alc_model_free(&a);
    alc_model_free(&b);
    free(src);
    free(dst);
    free(a_dir);
    free(b_dir);
    free(dir);
}

/* A missing tensor: single file, absent from the weight_map, or listed in
 * the weight_map but absent from its shard. */
static void test_model_missing_tensor(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("model_missing");
    char *m1 = alc_path_join(dir, "m1"), *m3 = alc_path_join(dir, "m3");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 32, 2, 2, 2);
    rt_gen(&o, m1);
    o.n_shards = 3;
    rt_gen(&o, m3);
    const char *victim = "model.layers.1.mlp.up_proj.weight";
    char *f = alc_path_join(m1, "model.safetensors");
    char *tmp = alc_path_join(dir, "x.safetensors");
    rewrite(f, tmp, EDIT_DROP, victim);
    sh("mv '%s' '%s'", tmp, f);
    assert_contains(load_err(m1), "model.safetensors: tensor "
                                  "'model.layers.1.mlp.up_proj.weight' is "
                                  "missing");
    /* the index no longer lists it */
    sh("cd '%s' && cp model.safetensors.index.json i.bak && grep -v "
       "'layers.1.mlp.up_proj.weight' i.bak > model.safetensors.index.json",
       m3);
    assert_contains(load_err(m3), "model.safetensors.index.json: tensor "
                                  "'model.layers.1.mlp.up_proj.weight' is "
                                  "missing from the weight_map");
    /* the index lists it, the shard lacks it */
    sh("cd '%s' && mv i.bak model.safetensors.index.json", m3);
    char *s3 = alc_path_join(m3, "model-00003-of-00003.safetensors");
    rewrite(s3, tmp, EDIT_DROP, "model.norm.weight");
    sh("mv '%s' '%s'", tmp, s3);
    assert_contains(load_err(m3), "model-00003-of-00003.safetensors: tensor "
                                  "'model.norm.weight' is listed in the "
                                  "weight_map but missing from the file");
    free(s3);
    free(f);
    free(tmp);
    free(m1);
    free(m3);
    free(dir);
}

/* Shapes are checked against config.json, dtypes must be computable. */
static void test_model_wrong_shape_and_dtype(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("model_shape");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_QWEN2, 32, 2, 2, 2);
    rt_gen(&o, dir);
    sh("cd '%s' && sed -i 's/\"intermediate_size\": 64/\"intermediate_size\""
       ": 80/' config.json",
       dir);
    assert_contains(load_err(dir), "tensor 'model.layers.0.mlp.gate_proj."
                                   "weight': shape [64, 32], but config.json "
                                   "implies [80, 32]");
    sh("cd '%s' && sed -i 's/\"intermediate_size\": 80/\"intermediate_size\""
       ": 64/' config.json",
       dir);
    assert_string_equal(load_err(dir), "");
    char *f = alc_path_join(dir, "model.safetensors");
    char *tmp = alc_path_join(dir, "x.tmp");
    rewrite(f, tmp, EDIT_I8, "model.layers.1.self_attn.k_proj.bias");
    sh("mv '%s' '%s'", tmp, f);
    assert_contains(load_err(dir), "model.safetensors: tensor "
                                   "'model.layers.1.self_attn.k_proj.bias': "
                                   "dtype I8 is not supported");
    free(f);
    free(tmp);
    free(dir);
}

/* Unknown architecture, no weights, .bin only, a bad index, a truncated
 * file, and a directory that does not exist. */
static void test_model_dir_errors(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("model_dir_errors");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 32, 1, 2, 2);
    rt_gen(&o, dir);
    sh("cd '%s' && cp config.json c.bak && sed -i "
       "'s/LlamaForCausalLM/FalconForCausalLM/' config.json",
       dir);
    assert_contains(load_err(dir), "config.json: architectures: unsupported "
                                   "architecture 'FalconForCausalLM'");
    sh("cd '%s' && mv c.bak config.json && mv model.safetensors m.bak", dir);
    assert_contains(load_err(dir), "no model.safetensors or "
                                   "model.safetensors.index.json");
    sh("cd '%s' && touch pytorch_model.bin", dir);
    assert_contains(load_err(dir), "only PyTorch .bin weights");
    sh("cd '%s' && printf '{\"weight_map\":{\"a\":\"../m.bak\"}}' > "
       "model.safetensors.index.json",
       dir);
    assert_contains(load_err(dir), "weight_map['a']: not a file name");
    sh("cd '%s' && rm model.safetensors.index.json && head -c 5000 m.bak > "
       "model.safetensors",
       dir);
    assert_contains(load_err(dir), "model.safetensors: tensor");
    assert_contains(load_err(dir), "outside the data region");
    assert_contains(load_err("/nonexistent/model"), "not a model directory");
    free(dir);
}

/* ---- Generator and writers ---- */

/* Same seed, same bytes; another seed, other bytes. */
static void test_genmodel_deterministic(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("gen_det");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_MISTRAL, 32, 2, 4, 2);
    char *a = alc_path_join(dir, "a"), *b = alc_path_join(dir, "b");
    char *c = alc_path_join(dir, "c");
    o.n_shards = 2;
    rt_gen(&o, a);
    rt_gen(&o, b);
    o.seed = 8;
    rt_gen(&o, c);
    sh("cmp '%s/model-00001-of-00002.safetensors' "
       "'%s/model-00001-of-00002.safetensors'",
       a, b);
    sh("cmp '%s/model.safetensors.index.json' "
       "'%s/model.safetensors.index.json'",
       a, b);
    sh("! cmp -s '%s/model-00002-of-00002.safetensors' "
       "'%s/model-00002-of-00002.safetensors'",
       a, c);
    free(a);
    free(b);
    free(c);
    free(dir);
}

/* The tokenizer is copied only when its ids fit the vocabulary. */
static void test_genmodel_tokenizer(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("gen_tok");
    char *a = alc_path_join(dir, "a");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 32, 1, 2, 2);
    struct alc_diag d;
    o.tokenizer_dir = TINY_LLAMA;
    alc_diag_init(&d);
    assert_int_equal(alc_gen_model(&o, a, &d), -1);
    assert_contains(d.first, "tokenizer ids go up to 1023, beyond the "
                             "vocabulary of 300");
    assert_int_equal(alc_path_exists(a), 0);
    o.cfg.vocab_size = 1024;
    rt_gen(&o, a);
    sh("cmp '%s/tokenizer.json' '%s/tokenizer.json'", a, TINY_LLAMA);
    sh("test -f '%s/tokenizer_config.json'", a);
    alc_diag_free(&d);
    free(a);
    free(dir);
}

/* Writing with a file size limit (a full disk, as write() sees it) fails
 * with a clear error and leaves neither the target nor a temporary
 * directory. Runs in a child: setrlimit(RLIMIT_FSIZE), SIGXFSZ ignored. */
static void test_writers_full_disk(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("full_disk");
    char *gen = alc_path_join(dir, "gen"), *saved = alc_path_join(dir, "sv");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {64 * 1024, 64 * 1024};
        struct alc_diag d;
        struct alc_model m;
        struct alc_gen_opts o = rt_opts(ALC_ARCH_LLAMA, 128, 2, 4, 4);
        char msg[1200];
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        alc_diag_init(&d);
        int r1 = alc_gen_model(&o, gen, &d);
        int n = snprintf(msg, sizeof msg, "%d %s\n", r1, d.first);
        alc_diag_reset(&d);
        int r2 = alc_model_load(&m, TINY_LLAMA, &d);
        if (r2 == 0) {
            r2 = alc_model_save(&m, saved, 0, &d);
            alc_model_free(&m);
        }
        snprintf(msg + n, sizeof msg - (size_t)n, "%d %s\n", r2, d.first);
        if (write(fds[1], msg, strlen(msg)) < 0) {
            _exit(3);
        }
        _exit(0);
    }
    close(fds[1]);
    char buf[1300] = {0};
    ssize_t got = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(got > 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    print_message("%s", buf);
    assert_contains(buf, "-1 error: ");
    assert_contains(buf, "File too large");
    assert_null(strstr(buf, "0 error"));
    assert_int_equal(alc_path_exists(gen), 0);
    assert_int_equal(alc_path_exists(saved), 0);
    sh("test -z \"$(ls -A '%s')\"", dir); /* no temporary left */
    free(gen);
    free(saved);
    free(dir);
}

/* An existing output directory is kept unless force; force replaces it. */
static void test_outdir_force(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("outdir_force");
    char *a = alc_path_join(dir, "a");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_OPT, 32, 1, 2, 2);
    struct alc_diag d;
    alc_diag_init(&d);
    sh("mkdir -p '%s' && touch '%s/keep'", a, a);
    o.force = 0;
    assert_int_equal(alc_gen_model(&o, a, &d), -1);
    assert_contains(d.first, "already exists (use --force");
    sh("test -f '%s/keep'", a);
    o.force = 1;
    rt_gen(&o, a);
    sh("test ! -e '%s/keep' && test -f '%s/model.safetensors'", a, a);
    sh("test \"$(ls '%s')\" = a", dir);
    alc_diag_free(&d);
    free(a);
    free(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_load_bundled),
        cmocka_unit_test(test_config_variants),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_model_sharded_equals_single),
        cmocka_unit_test(test_model_opt_without_prefix),
        cmocka_unit_test(test_model_missing_tensor),
        cmocka_unit_test(test_model_wrong_shape_and_dtype),
        cmocka_unit_test(test_model_dir_errors),
        cmocka_unit_test(test_genmodel_deterministic),
        cmocka_unit_test(test_genmodel_tokenizer),
        cmocka_unit_test(test_writers_full_disk),
        cmocka_unit_test(test_outdir_force),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
