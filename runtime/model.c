/*
 * model.c: opens a Hugging Face model directory (config.json, one or many
 * *.safetensors with model.safetensors.index.json), maps the architecture's
 * tensor names to slots, checks every tensor's dtype and shape against the
 * config, manages per-tensor overrides (pruned weights) and saves a model
 * atomically. Used by forward.c, genmodel.c and Runtime II.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model.h"

/* ---- Tensor names per architecture ---- */

/* Module names inside a block: [0] LLaMA family, [1] OPT. */
static const char *const lin_module[2][ALC_LIN_COUNT] = {
    {
        [ALC_LIN_Q] = "self_attn.q_proj",
        [ALC_LIN_K] = "self_attn.k_proj",
        [ALC_LIN_V] = "self_attn.v_proj",
        [ALC_LIN_O] = "self_attn.o_proj",
        [ALC_LIN_GATE] = "mlp.gate_proj",
        [ALC_LIN_UP] = "mlp.up_proj",
        [ALC_LIN_DOWN] = "mlp.down_proj",
    },
    {
        [ALC_LIN_Q] = "self_attn.q_proj",
        [ALC_LIN_K] = "self_attn.k_proj",
        [ALC_LIN_V] = "self_attn.v_proj",
        [ALC_LIN_O] = "self_attn.out_proj",
        [ALC_LIN_GATE] = NULL,
        [ALC_LIN_UP] = "fc1",
        [ALC_LIN_DOWN] = "fc2",
    },
};
_Static_assert(ALC_LIN_COUNT == 7, "linear name table out of sync");
_Static_assert(ALC_BT_COUNT == 2 * ALC_LIN_COUNT + 4, "block slots");

static const char *const norm_module[2][2] = {
    {"input_layernorm", "post_attention_layernorm"},
    {"self_attn_layer_norm", "final_layer_norm"},
};

/* Global tensors: "%s" is the prefix ("model." or ""). */
static const char *const global_name[2][ALC_GT_COUNT] = {
    {
        [ALC_GT_EMBED] = "%sembed_tokens.weight",
        [ALC_GT_POS] = NULL,
        [ALC_GT_PROJ_IN] = NULL,
        [ALC_GT_PROJ_OUT] = NULL,
        [ALC_GT_NORM] = "%snorm.weight",
        [ALC_GT_NORM_BIAS] = NULL,
        [ALC_GT_LM_HEAD] = "lm_head.weight",
    },
    {
        [ALC_GT_EMBED] = "%sdecoder.embed_tokens.weight",
        [ALC_GT_POS] = "%sdecoder.embed_positions.weight",
        [ALC_GT_PROJ_IN] = "%sdecoder.project_in.weight",
        [ALC_GT_PROJ_OUT] = "%sdecoder.project_out.weight",
        [ALC_GT_NORM] = "%sdecoder.final_layer_norm.weight",
        [ALC_GT_NORM_BIAS] = "%sdecoder.final_layer_norm.bias",
        [ALC_GT_LM_HEAD] = "lm_head.weight",
    },
};
_Static_assert(ALC_GT_COUNT == 7, "global name table out of sync");

const char *alc_lin_name(enum alc_arch arch, enum alc_lin lin)
{
    const char *s = lin_module[alc_arch_table[arch].is_opt][lin];
    if (s == NULL) {
        return NULL;
    }
    const char *dot = strrchr(s, '.');
    return dot ? dot + 1 : s;
}

/* ---- Expected tensors ---- */

static void lin_shape(const struct alc_config *c, int lin, int64_t *out,
                      int64_t *in)
{
    int64_t C = c->dim, F = c->hidden_dim;
    int64_t q = (int64_t)c->n_heads * c->head_dim;
    int64_t kv = (int64_t)c->n_kv_heads * c->head_dim;
    static const int is_kv[ALC_LIN_COUNT] = {[ALC_LIN_K] = 1, [ALC_LIN_V] = 1};
    switch (lin) {
    case ALC_LIN_Q:
    case ALC_LIN_K:
    case ALC_LIN_V:
        *out = is_kv[lin] ? kv : q;
        *in = C;
        break;
    case ALC_LIN_O:
        *out = C;
        *in = q;
        break;
    case ALC_LIN_DOWN:
        *out = C;
        *in = F;
        break;
    default: /* GATE, UP */
        *out = F;
        *in = C;
        break;
    }
}

static int lin_has_bias(const struct alc_config *c, int lin)
{
    if (lin <= ALC_LIN_V) {
        return c->qkv_bias;
    }
    return lin == ALC_LIN_O ? c->o_bias : c->mlp_bias;
}

struct specs {
    struct alc_tspec *v;
    int n, cap;
};

static void add_spec(struct specs *s, int layer, int slot, int ndim, int64_t d0,
                     int64_t d1, const char *fmt, ...) ALC_PRINTF(7, 8);

static void add_spec(struct specs *s, int layer, int slot, int ndim, int64_t d0,
                     int64_t d1, const char *fmt, ...)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
        if (s->v == NULL) {
            abort(); /* out of memory */
        }
    }
    struct alc_tspec *t = &s->v[s->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->layer = layer;
    t->slot = slot;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
}

static void block_specs(const struct alc_config *c, const char *prefix, int l,
                        struct specs *s)
{
    int opt = alc_arch_table[c->arch].is_opt;
    const char *lp = opt ? "decoder.layers" : "layers";
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        const char *mod = lin_module[opt][lin];
        int64_t out = 0, in = 0;
        if (mod == NULL || (lin == ALC_LIN_GATE && !c->gated_mlp)) {
            continue;
        }
        lin_shape(c, lin, &out, &in);
        add_spec(s, l, lin, 2, out, in, "%s%s.%d.%s.weight", prefix, lp, l,
                 mod);
        if (lin_has_bias(c, lin)) {
            add_spec(s, l, ALC_BT_BIAS + lin, 1, out, 0, "%s%s.%d.%s.bias",
                     prefix, lp, l, mod);
        }
    }
    for (int k = 0; k < 2; k++) {
        int slot = k == 0 ? ALC_BT_NORM1 : ALC_BT_NORM2;
        add_spec(s, l, slot, 1, c->dim, 0, "%s%s.%d.%s.weight", prefix, lp, l,
                 norm_module[opt][k]);
        if (c->layer_norm) {
            add_spec(s, l, slot + 1, 1, c->dim, 0, "%s%s.%d.%s.bias", prefix,
                     lp, l, norm_module[opt][k]);
        }
    }
}

int alc_tspecs(const struct alc_config *c, const char *prefix,
               struct alc_tspec **out, int *n)
{
    struct specs s = {NULL, 0, 0};
    int opt = alc_arch_table[c->arch].is_opt;
    int64_t C = c->dim, V = c->vocab_size;
    int64_t P = opt ? c->proj_dim : C;
    const char *const *g = global_name[opt];
    add_spec(&s, -1, ALC_GT_EMBED, 2, V, P, g[ALC_GT_EMBED], prefix);
    if (opt) {
        add_spec(&s, -1, ALC_GT_POS, 2, c->max_pos + c->pos_offset, C,
                 g[ALC_GT_POS], prefix);
        if (P != C) {
            add_spec(&s, -1, ALC_GT_PROJ_IN, 2, C, P, g[ALC_GT_PROJ_IN],
                     prefix);
            add_spec(&s, -1, ALC_GT_PROJ_OUT, 2, P, C, g[ALC_GT_PROJ_OUT],
                     prefix);
        }
    }
    for (int l = 0; l < c->n_layers; l++) {
        block_specs(c, prefix, l, &s);
    }
    if (c->final_norm) {
        add_spec(&s, -1, ALC_GT_NORM, 1, C, 0, g[ALC_GT_NORM], prefix);
        if (c->layer_norm) {
            add_spec(&s, -1, ALC_GT_NORM_BIAS, 1, C, 0, g[ALC_GT_NORM_BIAS],
                     prefix);
        }
    }
    if (!c->tie_embeddings) {
        add_spec(&s, -1, ALC_GT_LM_HEAD, 2, V, P, "%s", g[ALC_GT_LM_HEAD]);
    }
    *out = s.v;
    *n = s.n;
    return 0;
}

/* ---- Opening the files ---- */

/* A shard name from the index must be a plain file name in the dir. */
static int safe_file_name(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

static int add_file(struct alc_model *m, const char *name, struct alc_diag *d)
{
    for (int i = 0; i < m->n_files; i++) {
        if (strcmp(m->files[i].name, name) == 0) {
            return i;
        }
    }
    struct alc_model_file *f =
        realloc(m->files, (size_t)(m->n_files + 1) * sizeof *f);
    if (f == NULL) {
        alc_diag_errorf(d, "%s: out of memory", m->dir);
        return -1;
    }
    m->files = f;
    f = &m->files[m->n_files];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    char *path = alc_path_join(m->dir, name);
    int rc = alc_st_open(&f->st, path, d);
    free(path);
    if (rc != 0) {
        free(f->name);
        return -1;
    }
    f->ovr = calloc((size_t)f->st.n_tensors + 1, sizeof *f->ovr);
    return m->n_files++;
}

/*
 * model.safetensors.index.json: {"metadata": {...}, "weight_map":
 * {"tensor": "file", ...}}. Opens every file named; *wmap keeps the map
 * for name lookups (caller deletes).
 */
static int open_index(struct alc_model *m, const char *ipath, cJSON **wmap,
                      struct alc_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    int rc = -1;
    if (alc_read_file(ipath, &text, &len, d) != 0) {
        return -1;
    }
    root = cJSON_ParseWithLength(text, len);
    cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        alc_diag_errorf(d, "%s: weight_map: missing or not an object", ipath);
        goto done;
    }
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, wm)
    {
        if (!cJSON_IsString(e) || !safe_file_name(e->valuestring)) {
            alc_diag_errorf(d,
                            "%s: weight_map['%s']: not a file name in "
                            "the model directory",
                            ipath, e->string);
            goto done;
        }
        if (add_file(m, e->valuestring, d) < 0) {
            goto done;
        }
    }
    *wmap = cJSON_DetachItemViaPointer(root, wm);
    m->sharded = 1;
    rc = 0;
done:
    cJSON_Delete(root);
    free(text);
    return rc;
}

static int open_files(struct alc_model *m, cJSON **wmap, struct alc_diag *d)
{
    char *ipath = alc_path_join(m->dir, "model.safetensors.index.json");
    char *spath = alc_path_join(m->dir, "model.safetensors");
    char *bin = alc_path_join(m->dir, "pytorch_model.bin");
    char *bindex = alc_path_join(m->dir, "pytorch_model.bin.index.json");
    int rc = -1;
    if (alc_path_exists(ipath)) {
        rc = open_index(m, ipath, wmap, d);
    } else if (alc_path_exists(spath)) {
        rc = add_file(m, "model.safetensors", d) < 0 ? -1 : 0;
    } else if (alc_path_exists(bin) || alc_path_exists(bindex)) {
        alc_diag_errorf(d,
                        "%s: only PyTorch .bin weights found; convert "
                        "them to safetensors",
                        m->dir);
    } else {
        alc_diag_errorf(d,
                        "%s: no model.safetensors or "
                        "model.safetensors.index.json",
                        m->dir);
    }
    free(ipath);
    free(spath);
    free(bin);
    free(bindex);
    return rc;
}

/* ---- Resolving names ---- */

/*
 * Finds name: through the weight_map when sharded, else in the one file.
 * *listed is the file the name should be in (-1: not in the weight_map).
 */
static struct alc_tref lookup(const struct alc_model *m, const cJSON *wmap,
                              const char *name, int *listed)
{
    struct alc_tref r = {-1, -1};
    int fi = 0;
    if (wmap != NULL) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(wmap, name);
        fi = m->n_files;
        for (int i = 0; cJSON_IsString(f) && i < m->n_files; i++) {
            if (strcmp(m->files[i].name, f->valuestring) == 0) {
                fi = i;
            }
        }
    }
    *listed = fi < m->n_files ? fi : -1;
    if (*listed < 0) {
        return r;
    }
    const struct alc_st_tensor *t = alc_st_find(&m->files[fi].st, name);
    if (t != NULL) {
        r.file = fi;
        r.idx = (int)(t - m->files[fi].st.tensors);
    }
    return r;
}

static void report_missing(const struct alc_model *m, const char *name,
                           int listed, struct alc_diag *d)
{
    if (listed < 0) {
        alc_diag_errorf(d,
                        "%s/model.safetensors.index.json: tensor '%s' is "
                        "missing from the weight_map",
                        m->dir, name);
    } else if (m->sharded) {
        alc_diag_errorf(d,
                        "%s: tensor '%s' is listed in the weight_map but "
                        "missing from the file",
                        m->files[listed].st.path, name);
    } else {
        alc_diag_errorf(d, "%s: tensor '%s' is missing",
                        m->files[listed].st.path, name);
    }
}

static int check_tensor(const struct alc_model *m, const struct alc_tspec *s,
                        struct alc_tref r, struct alc_diag *d)
{
    const struct alc_st_tensor *t = alc_model_st(m, r);
    const char *path = m->files[r.file].st.path;
    char got[128], want[128];
    if (t->dtype < 0) {
        alc_diag_errorf(d,
                        "%s: tensor '%s': dtype %s is not supported "
                        "(F32, F16, BF16)",
                        path, s->name, alc_st_dtype_table[t->st_dtype].name);
        return -1;
    }
    int same = t->ndim == s->ndim;
    for (int k = 0; same && k < s->ndim; k++) {
        same = t->shape[k] == s->shape[k];
    }
    if (!same) {
        alc_st_shape_str(got, sizeof got, t->ndim, t->shape);
        alc_st_shape_str(want, sizeof want, s->ndim, s->shape);
        alc_diag_errorf(d,
                        "%s: tensor '%s': shape %s, but config.json "
                        "implies %s",
                        path, s->name, got, want);
        return -1;
    }
    return 0;
}

static int resolve(struct alc_model *m, const cJSON *wmap, struct alc_diag *d)
{
    struct alc_tspec *sp = NULL;
    int n = 0, rc = -1, in_map = 0;
    struct alc_tref none = {-1, -1};
    if (alc_arch_table[m->cfg.arch].is_opt) {
        struct alc_tref r =
            lookup(m, wmap, "model.decoder.embed_tokens.weight", &in_map);
        m->prefix = r.file >= 0 ? "model." : "";
    } else {
        m->prefix = "model.";
    }
    for (int i = 0; i < ALC_GT_COUNT; i++) {
        m->global[i] = none;
    }
    alc_tspecs(&m->cfg, m->prefix, &sp, &n);
    for (int i = 0; i < n; i++) {
        struct alc_tref r = lookup(m, wmap, sp[i].name, &in_map);
        if (r.file < 0) {
            report_missing(m, sp[i].name, in_map, d);
            goto done;
        }
        if (check_tensor(m, &sp[i], r, d) != 0) {
            goto done;
        }
        if (sp[i].layer < 0) {
            m->global[sp[i].slot] = r;
        } else {
            m->block[sp[i].layer * ALC_BT_COUNT + sp[i].slot] = r;
        }
        m->n_params += alc_model_st(m, r)->numel;
    }
    if (m->cfg.tie_embeddings) {
        m->global[ALC_GT_LM_HEAD] = m->global[ALC_GT_EMBED];
    }
    m->dtype = alc_model_st(m, m->global[ALC_GT_EMBED])->dtype;
    rc = 0;
done:
    free(sp);
    return rc;
}

int alc_model_load(struct alc_model *m, const char *dir, struct alc_diag *d)
{
    cJSON *wmap = NULL;
    int rc = -1;
    memset(m, 0, sizeof *m);
    m->dir = strdup(dir);
    if (!alc_is_dir(dir)) {
        alc_diag_errorf(d, "%s: not a model directory", dir);
        goto done;
    }
    if (alc_config_load(&m->cfg, dir, d) != 0) {
        goto done;
    }
    if (open_files(m, &wmap, d) != 0) {
        goto done;
    }
    m->block =
        malloc((size_t)m->cfg.n_layers * ALC_BT_COUNT * sizeof *m->block);
    if (m->block == NULL) {
        alc_diag_errorf(d, "%s: out of memory", dir);
        goto done;
    }
    for (int i = 0; i < m->cfg.n_layers * ALC_BT_COUNT; i++) {
        m->block[i].file = -1;
        m->block[i].idx = -1;
    }
    if (resolve(m, wmap, d) != 0) {
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(wmap);
    if (rc != 0) {
        alc_model_free(m);
    }
    return rc;
}

void alc_model_free(struct alc_model *m)
{
    alc_model_clear_overrides(m);
    for (int i = 0; i < m->n_files; i++) {
        alc_st_close(&m->files[i].st);
        free(m->files[i].ovr);
        free(m->files[i].name);
    }
    free(m->files);
    free(m->block);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

/* ---- Tensor access ---- */

const struct alc_st_tensor *alc_model_st(const struct alc_model *m,
                                         struct alc_tref r)
{
    if (r.file < 0) {
        return NULL;
    }
    return &m->files[r.file].st.tensors[r.idx];
}

const void *alc_model_data(const struct alc_model *m, struct alc_tref r)
{
    if (r.file < 0) {
        return NULL;
    }
    const void *o = m->files[r.file].ovr[r.idx];
    return o != NULL ? o : m->files[r.file].st.tensors[r.idx].data;
}

void alc_model_rows_f32(const struct alc_model *m, struct alc_tref r,
                        int64_t row0, int64_t nrows, float *dst)
{
    const struct alc_st_tensor *t = alc_model_st(m, r);
    int64_t cols = t->ndim == 2 ? t->shape[1] : t->numel;
    size_t es = (size_t)alc_dtype_table[t->dtype].size;
    const unsigned char *src = alc_model_data(m, r);
    alc_to_f32(dst, src + (size_t)(row0 * cols) * es, (enum alc_dtype)t->dtype,
               (size_t)(nrows * cols));
}

/* madvise(advice) on the pages of bytes [off, off + n) of a mapped tensor;
 * overrides and empty tensors have none. */
static void advise_range(const struct alc_model *m, struct alc_tref r,
                         uint64_t off, uint64_t n, int advice)
{
    const struct alc_st_tensor *t = alc_model_st(m, r);
    if (t == NULL || t->data == NULL || m->files[r.file].ovr[r.idx] || n == 0) {
        return;
    }
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)t->data + (uintptr_t)off;
    uintptr_t e = a + (uintptr_t)n;
    a &= ~(pg - 1);
    e = (e + pg - 1) & ~(pg - 1);
    madvise((void *)a, e - a, advice); /* advisory: errors ignored */
}

static void release_range(const struct alc_model *m, struct alc_tref r,
                          uint64_t off, uint64_t n)
{
    advise_range(m, r, off, n, MADV_DONTNEED);
}

static uint64_t row_bytes(const struct alc_st_tensor *t)
{
    return t->ndim == 2 ? (uint64_t)t->shape[1] * alc_dtype_table[t->dtype].size
                        : alc_st_tensor_bytes(t);
}

void alc_model_prefetch_rows(const struct alc_model *m, struct alc_tref r,
                             int64_t row0, int64_t nrows)
{
#ifdef MADV_POPULATE_READ
    const struct alc_st_tensor *t = alc_model_st(m, r);
    if (t != NULL) {
        uint64_t rb = row_bytes(t);
        advise_range(m, r, (uint64_t)row0 * rb, (uint64_t)nrows * rb,
                     MADV_POPULATE_READ);
    }
#else
    (void)m;
    (void)r;
    (void)row0;
    (void)nrows;
#endif
}

void alc_model_release(const struct alc_model *m, struct alc_tref r)
{
    const struct alc_st_tensor *t = alc_model_st(m, r);
    if (t != NULL) {
        release_range(m, r, 0, alc_st_tensor_bytes(t));
    }
}

void alc_model_release_rows(const struct alc_model *m, struct alc_tref r,
                            int64_t row0, int64_t nrows)
{
    const struct alc_st_tensor *t = alc_model_st(m, r);
    if (t == NULL || t->ndim != 2) {
        alc_model_release(m, r);
        return;
    }
    uint64_t row = row_bytes(t);
    release_range(m, r, (uint64_t)row0 * row, (uint64_t)nrows * row);
}

int alc_model_set_f32(struct alc_model *m, struct alc_tref r, const float *src,
                      float *dst_round, struct alc_diag *d)
{
    const struct alc_st_tensor *t = alc_model_st(m, r);
    if (t == NULL || t->dtype < 0) {
        alc_diag_errorf(d, "%s: cannot override an absent tensor", m->dir);
        return -1;
    }
    void **slot = &m->files[r.file].ovr[r.idx];
    size_t nb = (size_t)alc_st_tensor_bytes(t);
    if (*slot == NULL) {
        *slot = malloc(nb > 0 ? nb : 1); /* owned by the model */
        if (*slot == NULL) {
            alc_diag_errorf(d,
                            "%s: tensor '%s': out of memory for the "
                            "override",
                            m->dir, t->name);
            return -1;
        }
        m->n_overrides++;
        alc_model_release(m, r);
    }
    alc_from_f32(*slot, src, (enum alc_dtype)t->dtype, (size_t)t->numel);
    if (dst_round != NULL) {
        alc_to_f32(dst_round, *slot, (enum alc_dtype)t->dtype,
                   (size_t)t->numel);
    }
    return 0;
}

void alc_model_clear_overrides(struct alc_model *m)
{
    for (int i = 0; i < m->n_files; i++) {
        for (int k = 0; k < m->files[i].st.n_tensors; k++) {
            free(m->files[i].ovr[k]);
            m->files[i].ovr[k] = NULL;
        }
    }
    m->n_overrides = 0;
}

/* ---- Output directories ---- */

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) != 0 ? -1 : 0;
}

int alc_remove_tree(const char *path)
{
    if (!alc_path_exists(path)) {
        return 0;
    }
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int alc_outdir_begin(struct alc_outdir *o, const char *target, int force,
                     struct alc_diag *d)
{
    struct alc_sb sb;
    memset(o, 0, sizeof *o);
    if (alc_path_exists(target) && !force) {
        alc_diag_errorf(d, "%s: already exists (use --force to replace it)",
                        target);
        return -1;
    }
    o->target = strdup(target);
    o->force = force;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, target);
    while (sb.len > 1 && sb.s[sb.len - 1] == '/') {
        sb.s[--sb.len] = '\0';
    }
    alc_sb_printf(&sb, ".tmp.%ld", (long)getpid());
    o->tmp = alc_sb_take(&sb);
    alc_remove_tree(o->tmp);
    if (alc_mkdir_p(o->tmp, d) != 0) {
        return -1;
    }
    return 0;
}

char *alc_outdir_path(const struct alc_outdir *o, const char *name)
{
    return alc_path_join(o->tmp, name);
}

int alc_outdir_copy(const struct alc_outdir *o, const char *src,
                    const char *name, struct alc_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    int rc = alc_read_file(src, &text, &len, d);
    if (rc == 0) {
        char *dst = alc_outdir_path(o, name);
        rc = alc_write_file_atomic(dst, text, len, d);
        free(dst);
    }
    free(text);
    return rc;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int alc_outdir_commit(struct alc_outdir *o, struct alc_diag *d)
{
    struct alc_sb old;
    int rc = -1;
    alc_sb_init(&old);
    if (fsync_dir(o->tmp) != 0) {
        alc_diag_errorf(d, "%s: fsync failed: %s", o->tmp, strerror(errno));
        goto done;
    }
    if (alc_path_exists(o->target)) {
        if (!o->force) {
            alc_diag_errorf(d, "%s: appeared while writing", o->target);
            goto done;
        }
        alc_sb_printf(&old, "%s.old.%ld", o->target, (long)getpid());
        if (rename(o->target, old.s) != 0) {
            alc_diag_errorf(d, "%s: cannot move aside: %s", o->target,
                            strerror(errno));
            goto done;
        }
    }
    if (rename(o->tmp, o->target) != 0) {
        alc_diag_errorf(d, "%s: rename failed: %s", o->target, strerror(errno));
        if (old.s != NULL) {
            rename(old.s, o->target); /* put the old one back */
        }
        goto done;
    }
    o->committed = 1;
    if (old.s != NULL) {
        alc_remove_tree(old.s);
    }
    rc = 0;
done:
    alc_sb_free(&old);
    return rc;
}

void alc_outdir_end(struct alc_outdir *o)
{
    if (!o->committed && o->tmp != NULL) {
        alc_remove_tree(o->tmp);
    }
    free(o->target);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

/* ---- Saving ---- */

static int save_file(const struct alc_model *m, int fi,
                     const struct alc_outdir *o, struct alc_diag *d)
{
    const struct alc_model_file *f = &m->files[fi];
    struct alc_st_writer w;
    int rc = -1;
    char *path = alc_outdir_path(o, f->name);
    alc_st_writer_init(&w);
    for (int i = 0; i < f->st.n_tensors; i++) {
        const struct alc_st_tensor *t = &f->st.tensors[i];
        if (alc_st_writer_add(&w, t->name, t->st_dtype, t->ndim, t->shape, d) !=
            0) {
            goto done;
        }
    }
    for (int i = 0; i < f->st.n_meta; i++) {
        alc_st_writer_meta(&w, f->st.meta_keys[i], f->st.meta_values[i], d);
    }
    if (alc_st_writer_open(&w, path, d) != 0) {
        goto done;
    }
    for (int i = 0; i < f->st.n_tensors; i++) {
        struct alc_tref r = {fi, i};
        const struct alc_st_tensor *t = &f->st.tensors[i];
        if (alc_st_writer_put(&w, t->name, alc_model_data(m, r),
                              (size_t)alc_st_tensor_bytes(t), d) != 0) {
            goto done;
        }
        alc_model_release(m, r);
    }
    rc = alc_st_writer_close(&w, d);
done:
    alc_st_writer_free(&w);
    free(path);
    return rc;
}

static int save_index(const struct alc_model *m, const struct alc_outdir *o,
                      struct alc_diag *d)
{
    struct alc_sb sb;
    uint64_t total = 0;
    int first = 1;
    alc_sb_init(&sb);
    for (int fi = 0; fi < m->n_files; fi++) {
        total += m->files[fi].st.data_len;
    }
    alc_sb_printf(&sb,
                  "{\n  \"metadata\": {\n    \"total_size\": %llu\n  "
                  "},\n  \"weight_map\": {",
                  (unsigned long long)total);
    for (int fi = 0; fi < m->n_files; fi++) {
        const struct alc_st_file *f = &m->files[fi].st;
        for (int i = 0; i < f->n_tensors; i++) {
            alc_sb_puts(&sb, first ? "\n    " : ",\n    ");
            first = 0;
            alc_json_put_str(&sb, f->tensors[i].name);
            alc_sb_puts(&sb, ": ");
            alc_json_put_str(&sb, m->files[fi].name);
        }
    }
    alc_sb_puts(&sb, "\n  }\n}\n");
    char *path = alc_outdir_path(o, "model.safetensors.index.json");
    int rc = alc_write_file_atomic(path, sb.s, sb.len, d);
    free(path);
    alc_sb_free(&sb);
    return rc;
}

/* Files copied verbatim next to the weights when present. */
static const char *const aux_files[] = {
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
};

int alc_model_save(const struct alc_model *m, const char *out_dir, int force,
                   struct alc_diag *d)
{
    struct alc_outdir o;
    int rc = -1;
    if (alc_outdir_begin(&o, out_dir, force, d) != 0) {
        goto done;
    }
    for (int fi = 0; fi < m->n_files; fi++) {
        if (save_file(m, fi, &o, d) != 0) {
            goto done;
        }
    }
    if (m->sharded && save_index(m, &o, d) != 0) {
        goto done;
    }
    for (size_t i = 0; i < sizeof aux_files / sizeof aux_files[0]; i++) {
        char *src = alc_path_join(m->dir, aux_files[i]);
        int ok = !alc_path_exists(src) ||
                 alc_outdir_copy(&o, src, aux_files[i], d) == 0;
        free(src);
        if (!ok) {
            goto done;
        }
    }
    rc = alc_outdir_commit(&o, d);
done:
    alc_outdir_end(&o);
    return rc;
}
