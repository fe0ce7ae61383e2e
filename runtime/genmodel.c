/*
 * genmodel.c: writes random-weight models (genmodel.h) with the expected
 * tensor list of model.c (alc_tspecs), the safetensors writer and an
 * atomic output directory. Used by `dsac gen-model`, tests and the bench.
 */
#include <math.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "genmodel.h"
#include "model.h"
#include "safetensors.h"

/* ---- Values ---- */

/* Approximately N(0, 1): Irwin-Hall of four 16-bit uniforms. */
static float fast_normal(struct alc_rng *r)
{
    uint64_t u = alc_rng_u64(r);
    double s = (double)(u & 0xffff) + (double)((u >> 16) & 0xffff) +
               (double)((u >> 32) & 0xffff) + (double)(u >> 48);
    /* mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12 */
    return (float)((s - 131070.0) / 37837.2);
}

static void fill(const struct alc_config *c, const struct alc_tspec *s,
                 uint64_t seed, float *v, int64_t n)
{
    struct alc_rng r;
    float mean = 0.0f, std = 0.1f;
    alc_rng_seed(&r, alc_hash64(s->name, strlen(s->name), seed));
    if (s->layer >= 0 && s->slot < ALC_LIN_COUNT) {
        std = (float)(1.0 / sqrt((double)s->shape[1]));
    } else if (s->layer >= 0 &&
               (s->slot == ALC_BT_NORM1 || s->slot == ALC_BT_NORM2)) {
        mean = 1.0f;
    } else if (s->layer < 0) {
        switch (s->slot) {
        case ALC_GT_EMBED: /* tied heads then give logits of unit scale */
        case ALC_GT_POS:
            std = (float)(1.0 / sqrt((double)s->shape[1]));
            break;
        case ALC_GT_NORM:
            mean = 1.0f;
            break;
        case ALC_GT_NORM_BIAS:
            break;
        default: /* lm_head, project_in/out */
            std = (float)(1.0 / sqrt((double)s->shape[1]));
            break;
        }
    }
    (void)c;
    for (int64_t i = 0; i < n; i++) {
        v[i] = mean + std * fast_normal(&r);
    }
}

/* ---- Shards ---- */

static int64_t spec_numel(const struct alc_tspec *s)
{
    return s->ndim == 2 ? s->shape[0] * s->shape[1] : s->shape[0];
}

/* shard[i] for tensor i: contiguous groups of about equal size, none
 * empty (n_shards <= n). */
static void assign_shards(const struct alc_tspec *sp, int n, int n_shards,
                          int *shard)
{
    int64_t total = 0, acc = 0;
    int k = 0, in_k = 0;
    for (int i = 0; i < n; i++) {
        total += spec_numel(&sp[i]);
    }
    for (int i = 0; i < n; i++) {
        int full = acc >= total * (k + 1) / n_shards;
        int must = n - i <= n_shards - 1 - k; /* one left per later shard */
        if (k < n_shards - 1 && in_k > 0 && (full || must)) {
            k++;
            in_k = 0;
        }
        shard[i] = k;
        in_k++;
        acc += spec_numel(&sp[i]);
    }
}

static char *shard_name(int k, int n_shards)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    if (n_shards == 1) {
        alc_sb_puts(&sb, "model.safetensors");
    } else {
        alc_sb_printf(&sb, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
    }
    return alc_sb_take(&sb);
}

static int write_shard(const struct alc_gen_opts *o,
                       const struct alc_outdir *od, const struct alc_tspec *sp,
                       int n, const int *shard, int k, struct alc_diag *d)
{
    struct alc_st_writer w;
    enum alc_st_dtype sd = alc_st_dtype_of(o->dtype);
    char *name = shard_name(k, o->n_shards);
    char *path = alc_outdir_path(od, name);
    float *buf = NULL;
    int rc = -1;
    alc_st_writer_init(&w);
    for (int i = 0; i < n; i++) {
        if (shard[i] == k && alc_st_writer_add(&w, sp[i].name, sd, sp[i].ndim,
                                               sp[i].shape, d) != 0) {
            goto done;
        }
    }
    alc_st_writer_meta(&w, "format", "pt", d);
    if (alc_st_writer_open(&w, path, d) != 0) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (shard[i] != k) {
            continue;
        }
        int64_t numel = spec_numel(&sp[i]);
        free(buf);
        buf = malloc((size_t)(numel > 0 ? numel : 1) * sizeof(float));
        if (buf == NULL) {
            alc_diag_errorf(d, "%s: out of memory", sp[i].name);
            goto done;
        }
        fill(&o->cfg, &sp[i], o->seed, buf, numel);
        if (alc_st_writer_put_f32(&w, sp[i].name, buf, d) != 0) {
            goto done;
        }
    }
    rc = alc_st_writer_close(&w, d);
done:
    alc_st_writer_free(&w);
    free(buf);
    free(path);
    free(name);
    return rc;
}

static int write_index(const struct alc_gen_opts *o,
                       const struct alc_outdir *od, const struct alc_tspec *sp,
                       int n, const int *shard, struct alc_diag *d)
{
    struct alc_sb sb;
    int64_t total = 0;
    int es = alc_dtype_table[o->dtype].size;
    alc_sb_init(&sb);
    for (int i = 0; i < n; i++) {
        total += spec_numel(&sp[i]) * es;
    }
    alc_sb_printf(&sb,
                  "{\n  \"metadata\": {\n    \"total_size\": %lld\n  "
                  "},\n  \"weight_map\": {",
                  (long long)total);
    for (int i = 0; i < n; i++) {
        char *fname = shard_name(shard[i], o->n_shards);
        alc_sb_puts(&sb, i ? ",\n    " : "\n    ");
        alc_json_put_str(&sb, sp[i].name);
        alc_sb_puts(&sb, ": ");
        alc_json_put_str(&sb, fname);
        free(fname);
    }
    alc_sb_puts(&sb, "\n  }\n}\n");
    char *path = alc_outdir_path(od, "model.safetensors.index.json");
    int rc = alc_write_file_atomic(path, sb.s, sb.len, d);
    free(path);
    alc_sb_free(&sb);
    return rc;
}

/* ---- Tokenizer ---- */

/* Largest id of tokenizer.json (model.vocab values, added_tokens ids). */
static int tokenizer_ids(const char *path, int *max_id, struct alc_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    if (alc_read_file(path, &text, &len, d) != 0) {
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *e = NULL;
    if (!cJSON_IsObject(vocab)) {
        alc_diag_errorf(d, "%s: model.vocab: missing or not an object", path);
        cJSON_Delete(root);
        return -1;
    }
    *max_id = -1;
    cJSON_ArrayForEach(e, vocab)
    {
        if (cJSON_IsNumber(e) && e->valuedouble > *max_id) {
            *max_id = (int)e->valuedouble;
        }
    }
    cJSON_ArrayForEach(e, added)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (cJSON_IsNumber(id) && id->valuedouble > *max_id) {
            *max_id = (int)id->valuedouble;
        }
    }
    cJSON_Delete(root);
    return 0;
}

static const char *const tok_files[] = {
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
};

static int copy_tokenizer(const struct alc_gen_opts *o,
                          const struct alc_outdir *od, struct alc_diag *d)
{
    char *tj = alc_path_join(o->tokenizer_dir, "tokenizer.json");
    int max_id = -1, rc = tokenizer_ids(tj, &max_id, d);
    free(tj);
    if (rc != 0) {
        return -1;
    }
    if (max_id >= o->cfg.vocab_size) {
        alc_diag_errorf(d,
                        "%s: tokenizer ids go up to %d, beyond the "
                        "vocabulary of %d",
                        o->tokenizer_dir, max_id, o->cfg.vocab_size);
        return -1;
    }
    for (size_t i = 0; i < sizeof tok_files / sizeof tok_files[0]; i++) {
        char *src = alc_path_join(o->tokenizer_dir, tok_files[i]);
        int ok = !alc_path_exists(src) ||
                 alc_outdir_copy(od, src, tok_files[i], d) == 0;
        free(src);
        if (!ok) {
            return -1;
        }
    }
    return 0;
}

/* ---- Driver ---- */

static int check_opts(const struct alc_gen_opts *o, int n_tensors,
                      struct alc_diag *d)
{
    const struct alc_config *c = &o->cfg;
    if (c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->n_kv_heads < 1 ||
        c->head_dim < 2 || c->hidden_dim < 1 || c->vocab_size < 1 ||
        c->n_heads % c->n_kv_heads != 0 || (c->rope && c->head_dim % 2 != 0)) {
        alc_diag_errorf(d,
                        "gen-model: inconsistent sizes (hidden %d, "
                        "layers %d, heads %d/%d, head_dim %d, ffn %d, vocab "
                        "%d)",
                        c->dim, c->n_layers, c->n_heads, c->n_kv_heads,
                        c->head_dim, c->hidden_dim, c->vocab_size);
        return -1;
    }
    if (o->n_shards < 1 || o->n_shards > n_tensors) {
        alc_diag_errorf(d, "gen-model: %d shards for %d tensors", o->n_shards,
                        n_tensors);
        return -1;
    }
    return 0;
}

int alc_gen_model(const struct alc_gen_opts *o, const char *out_dir,
                  struct alc_diag *d)
{
    struct alc_outdir od;
    struct alc_tspec *sp = NULL;
    struct alc_config cfg = o->cfg;
    int *shard = NULL, n = 0, rc = -1;
    char *json = NULL, *cpath = NULL;
    memset(&od, 0, sizeof od);
    cfg.dtype = (int)o->dtype;
    alc_tspecs(&cfg, "model.", &sp, &n);
    if (check_opts(o, n, d) != 0 ||
        alc_outdir_begin(&od, out_dir, o->force, d) != 0) {
        goto done;
    }
    shard = malloc((size_t)n * sizeof *shard);
    assign_shards(sp, n, o->n_shards, shard);
    json = alc_config_to_json(&cfg);
    cpath = alc_outdir_path(&od, "config.json");
    if (alc_write_file_atomic(cpath, json, strlen(json), d) != 0) {
        goto done;
    }
    for (int k = 0; k < o->n_shards; k++) {
        if (write_shard(o, &od, sp, n, shard, k, d) != 0) {
            goto done;
        }
    }
    if (o->n_shards > 1 && write_index(o, &od, sp, n, shard, d) != 0) {
        goto done;
    }
    if (o->tokenizer_dir != NULL && copy_tokenizer(o, &od, d) != 0) {
        goto done;
    }
    rc = alc_outdir_commit(&od, d);
done:
    alc_outdir_end(&od);
    free(sp);
    free(shard);
    free(json);
    free(cpath);
    return rc;
}
