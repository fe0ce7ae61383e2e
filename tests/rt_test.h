/*
 * rt_test.h: helpers shared by the runtime tests (test_model, test_forward,
 * test_eval): random models, the PyTorch reference (tools/ref_forward.py,
 * used only when /usr/bin/python3 has torch), id files, substring checks.
 */
#ifndef ALC_RT_TEST_H
#define ALC_RT_TEST_H

#include "alc_test.h"

#include "forward.h"
#include "genmodel.h"
#include "model.h"

#define assert_contains(hay, needle)                                           \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL) {                                 \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));           \
        }                                                                      \
    } while (0)

#define TINY_LLAMA ALC_SOURCE_DIR "/examples/tiny-llama"

static inline int rt_have_torch(void)
{
    return system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

/* Options for a small random model of arch (sizes as gen-model's). */
static inline struct alc_gen_opts rt_opts(enum alc_arch arch, int hidden,
                                          int layers, int heads, int kv)
{
    struct alc_gen_opts o;
    memset(&o, 0, sizeof o);
    alc_config_defaults(&o.cfg, arch);
    o.cfg.dim = hidden;
    o.cfg.n_layers = layers;
    o.cfg.n_heads = heads;
    o.cfg.n_kv_heads = alc_arch_table[arch].is_opt ? heads : kv;
    o.cfg.head_dim = hidden / heads;
    o.cfg.hidden_dim = 2 * hidden;
    o.cfg.vocab_size = 300;
    o.cfg.max_pos = 256;
    o.cfg.proj_dim = alc_arch_table[arch].is_opt ? hidden : 0;
    o.dtype = ALC_DT_BF16;
    o.seed = 7;
    o.n_shards = 1;
    o.force = 1;
    return o;
}

static inline void rt_gen(const struct alc_gen_opts *o, const char *dir)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_gen_model(o, dir, &d) != 0) {
        fail_msg("gen-model %s: %s", dir, alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

static inline void rt_load(struct alc_model *m, const char *dir)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_model_load(m, dir, &d) != 0) {
        fail_msg("load %s: %s", dir, alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* Deterministic ids in [0, V). */
static inline void rt_ids(int32_t *ids, int64_t n, int V, uint64_t seed)
{
    struct alc_rng r;
    alc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        ids[i] = (int32_t)alc_rng_below(&r, (uint64_t)V);
    }
}

/* {"ids": [[...], ...]} with B rows of T ids. */
static inline void rt_write_ids(const char *path, const int32_t *ids, int B,
                                int T)
{
    struct alc_sb sb;
    struct alc_diag d;
    alc_sb_init(&sb);
    alc_diag_init(&d);
    alc_sb_puts(&sb, "{\"ids\": [");
    for (int b = 0; b < B; b++) {
        alc_sb_puts(&sb, b ? ", [" : "[");
        for (int t = 0; t < T; t++) {
            alc_sb_printf(&sb, "%s%d", t ? ", " : "", ids[b * T + t]);
        }
        alc_sb_puts(&sb, "]");
    }
    alc_sb_puts(&sb, "]}\n");
    assert_int_equal(alc_write_file_atomic(path, sb.s, sb.len, &d), 0);
    alc_sb_free(&sb);
    alc_diag_free(&d);
}

/* Runs tools/ref_forward.py logits; returns (B, T, V) floats (malloc'd). */
static inline float *rt_torch_logits(const char *model, const char *tmp,
                                     const int32_t *ids, int B, int T, int V)
{
    char *ids_path = alc_path_join(tmp, "ids.json");
    char *out_path = alc_path_join(tmp, "logits.f32");
    char cmd[8192];
    char *raw = NULL;
    size_t len = 0;
    struct alc_diag d;
    rt_write_ids(ids_path, ids, B, T);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tools/ref_forward.py logits --model '%s' "
             "--ids '%s' --out '%s'",
             ALC_SOURCE_DIR, model, ids_path, out_path);
    assert_int_equal(system(cmd), 0);
    alc_diag_init(&d);
    assert_int_equal(alc_read_file(out_path, &raw, &len, &d), 0);
    assert_int_equal(len, (size_t)B * T * V * sizeof(float));
    alc_diag_free(&d);
    free(ids_path);
    free(out_path);
    return (float *)raw;
}

/* Logits (B, T, V) of our runtime with n_threads. */
static inline float *rt_logits(const struct alc_model *m, const int32_t *ids,
                               int B, int T, int n_threads)
{
    struct alc_fwd f;
    struct alc_diag d;
    float *lg = malloc((size_t)B * T * m->cfg.vocab_size * sizeof(float));
    alc_diag_init(&d);
    if (alc_fwd_init(&f, m, B, T, n_threads, &d) != 0 ||
        alc_fwd_logits(&f, ids, B, T, lg, &d) != 0) {
        fail_msg("forward: %s", alc_diag_text(&d));
    }
    alc_fwd_free(&f);
    alc_diag_free(&d);
    return lg;
}

static inline double rt_max_abs_diff(const float *a, const float *b, int64_t n,
                                     double *max_abs)
{
    double mx = 0.0, ma = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        mx = e > mx ? e : mx;
        ma = fabs(b[i]) > ma ? fabs(b[i]) : ma;
    }
    if (max_abs != NULL) {
        *max_abs = ma;
    }
    return mx;
}

#endif /* ALC_RT_TEST_H */
