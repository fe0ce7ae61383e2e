/*
 * safetensors.c: the safetensors reader (mmap + strict header validation)
 * and the streaming writer. The validation follows the reference library
 * (huggingface/safetensors src/tensor.rs, users.md §2.3) rule by rule, and
 * runs completely before a tensor's bytes are handed out. Called by the
 * model loader, the random-model generator, the tests and fuzz_safetensors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "safetensors.h"

/* ---- dtypes ---- */

const struct alc_st_dtype_info alc_st_dtype_table[ALC_ST_DT_COUNT] = {
    [ALC_ST_BOOL] = {"BOOL", 8, -1},
    [ALC_ST_U8] = {"U8", 8, -1},
    [ALC_ST_I8] = {"I8", 8, -1},
    [ALC_ST_I16] = {"I16", 16, -1},
    [ALC_ST_U16] = {"U16", 16, -1},
    [ALC_ST_F16] = {"F16", 16, ALC_DT_F16},
    [ALC_ST_BF16] = {"BF16", 16, ALC_DT_BF16},
    [ALC_ST_I32] = {"I32", 32, -1},
    [ALC_ST_U32] = {"U32", 32, -1},
    [ALC_ST_F32] = {"F32", 32, ALC_DT_F32},
    [ALC_ST_F64] = {"F64", 64, -1},
    [ALC_ST_I64] = {"I64", 64, -1},
    [ALC_ST_U64] = {"U64", 64, -1},
    [ALC_ST_C64] = {"C64", 64, -1},
    [ALC_ST_F8_E5M2] = {"F8_E5M2", 8, -1},
    [ALC_ST_F8_E4M3] = {"F8_E4M3", 8, -1},
    [ALC_ST_F8_E8M0] = {"F8_E8M0", 8, -1},
    [ALC_ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, -1},
    [ALC_ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, -1},
    [ALC_ST_F4] = {"F4", 4, -1},
    [ALC_ST_F6_E2M3] = {"F6_E2M3", 6, -1},
    [ALC_ST_F6_E3M2] = {"F6_E3M2", 6, -1},
};
_Static_assert(ALC_ST_DT_COUNT == 22, "safetensors dtype table out of sync");
_Static_assert(ALC_DT_COUNT == 3, "alc_st_dtype_of covers every alc_dtype");

int alc_st_dtype_from_name(const char *name)
{
    for (int i = 0; i < ALC_ST_DT_COUNT; i++) {
        if (strcmp(name, alc_st_dtype_table[i].name) == 0) {
            return i;
        }
    }
    return -1;
}

enum alc_st_dtype alc_st_dtype_of(enum alc_dtype dt)
{
    switch (dt) {
    case ALC_DT_F16:
        return ALC_ST_F16;
    case ALC_DT_BF16:
        return ALC_ST_BF16;
    default:
        return ALC_ST_F32;
    }
}

uint64_t alc_st_tensor_bytes(const struct alc_st_tensor *t)
{
    return t->end - t->begin;
}

void alc_st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int w = snprintf(buf, n, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < n; i++) {
        w = snprintf(buf + used, n - used, "%s%lld", i ? ", " : "",
                     (long long)shape[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (used < n) {
        snprintf(buf + used, n - used, "]");
    }
}

/* ---- Reader: small checks ---- */

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no NUL. */
static int valid_utf8(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c == 0) {
            goto fail;
        } else if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            goto fail;
        }
        if (n - i < len) {
            goto fail;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                goto fail;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
            goto fail;
        }
        i += len;
    }
    return 1;
fail:
    *bad = i;
    return 0;
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) {
        return 0;
    }
    double x = v->valuedouble;
    if (!(x >= 0.0) || x > 9007199254740992.0 || x != (double)(uint64_t)x) {
        return 0;
    }
    *out = (uint64_t)x;
    return 1;
}

static int cmp_name(const void *a, const void *b)
{
    const struct alc_st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int cmp_offset(const void *a, const void *b)
{
    const struct alc_st_tensor *const *x = a, *const *y = b;
    if ((*x)->begin != (*y)->begin) {
        return (*x)->begin < (*y)->begin ? -1 : 1;
    }
    if ((*x)->end != (*y)->end) {
        return (*x)->end < (*y)->end ? -1 : 1;
    }
    return 0;
}

/* ---- Reader: one header entry ---- */

/* "name": {"dtype": ..., "shape": [...], "data_offsets": [b, e]} */
static int parse_entry(struct alc_st_file *f, const cJSON *e,
                       struct alc_st_tensor *t, struct alc_diag *d)
{
    const char *p = f->path;
    const char *nm = e->string;
    if (!cJSON_IsObject(e)) {
        alc_diag_errorf(d, "%s: tensor '%s': entry is not an object", p, nm);
        return -1;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) {
        alc_diag_errorf(d, "%s: tensor '%s': missing or non-string 'dtype'", p,
                        nm);
        return -1;
    }
    int sd = alc_st_dtype_from_name(dt->valuestring);
    if (sd < 0) {
        alc_diag_errorf(d, "%s: tensor '%s': unknown dtype '%s'", p, nm,
                        dt->valuestring);
        return -1;
    }
    if (!cJSON_IsArray(sh)) {
        alc_diag_errorf(d, "%s: tensor '%s': missing or non-array 'shape'", p,
                        nm);
        return -1;
    }
    int nd = cJSON_GetArraySize(sh);
    if (nd > ALC_ST_MAX_DIMS) {
        alc_diag_errorf(d,
                        "%s: tensor '%s': %d dimensions (at most %d "
                        "supported)",
                        p, nm, nd, ALC_ST_MAX_DIMS);
        return -1;
    }
    uint64_t numel = 1;
    int i = 0;
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, sh)
    {
        uint64_t v = 0;
        if (!json_uint(x, &v)) {
            alc_diag_errorf(d,
                            "%s: tensor '%s': shape[%d] is not a "
                            "non-negative integer",
                            p, nm, i);
            return -1;
        }
        if (__builtin_mul_overflow(numel, v, &numel) ||
            numel > (uint64_t)INT64_MAX / 8) {
            alc_diag_errorf(d, "%s: tensor '%s': shape overflows", p, nm);
            return -1;
        }
        t->shape[i++] = (int64_t)v;
    }
    uint64_t b = 0, en = 0;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_uint(cJSON_GetArrayItem(off, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(off, 1), &en)) {
        alc_diag_errorf(d,
                        "%s: tensor '%s': 'data_offsets' must be [begin, "
                        "end] with non-negative integers",
                        p, nm);
        return -1;
    }
    t->name = alc_arena_strdup(&f->arena, nm);
    t->st_dtype = (enum alc_st_dtype)sd;
    t->dtype = alc_st_dtype_table[sd].alc;
    t->ndim = nd;
    t->numel = (int64_t)numel;
    t->begin = b;
    t->end = en;
    return t->name != NULL ? 0 : -1;
}

/* Range inside the data region, and size = numel * bits / 8. */
static int check_range(const struct alc_st_file *f,
                       const struct alc_st_tensor *t, struct alc_diag *d)
{
    const char *p = f->path;
    char shp[128];
    if (t->end < t->begin || t->end > f->data_len) {
        alc_diag_errorf(d,
                        "%s: tensor '%s': data_offsets [%llu, %llu] "
                        "outside the data region of %llu bytes",
                        p, t->name, (unsigned long long)t->begin,
                        (unsigned long long)t->end,
                        (unsigned long long)f->data_len);
        return -1;
    }
    uint64_t bits = (uint64_t)t->numel * alc_st_dtype_table[t->st_dtype].bits;
    alc_st_shape_str(shp, sizeof shp, t->ndim, t->shape);
    if (bits % 8 != 0 || bits / 8 != t->end - t->begin) {
        alc_diag_errorf(
            d,
            "%s: tensor '%s': dtype %s x shape %s needs "
            "%llu%s bytes but data_offsets [%llu, %llu] hold "
            "%llu",
            p, t->name, alc_st_dtype_table[t->st_dtype].name, shp,
            (unsigned long long)(bits / 8), bits % 8 ? " and a fraction" : "",
            (unsigned long long)t->begin, (unsigned long long)t->end,
            (unsigned long long)(t->end - t->begin));
        return -1;
    }
    return 0;
}

/* Sorted by offset: contiguous from 0, no gap, no overlap, ends at EOF. */
static int check_layout(struct alc_st_file *f, struct alc_diag *d)
{
    int rc = -1;
    const char *p = f->path;
    struct alc_st_tensor **ord = NULL;
    if (f->n_tensors > 0) {
        ord = malloc((size_t)f->n_tensors * sizeof *ord);
        if (ord == NULL) {
            alc_diag_errorf(d, "%s: out of memory", p);
            return -1;
        }
    }
    for (int i = 0; i < f->n_tensors; i++) {
        ord[i] = &f->tensors[i];
    }
    if (f->n_tensors > 1) {
        qsort(ord, (size_t)f->n_tensors, sizeof *ord, cmp_offset);
    }
    uint64_t pos = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const struct alc_st_tensor *t = ord[i];
        if (t->begin < pos) {
            alc_diag_errorf(d,
                            "%s: tensor '%s': data_offsets [%llu, %llu] "
                            "overlap tensor '%s' ending at %llu",
                            p, t->name, (unsigned long long)t->begin,
                            (unsigned long long)t->end, ord[i - 1]->name,
                            (unsigned long long)pos);
            goto done;
        }
        if (t->begin > pos) {
            alc_diag_errorf(d,
                            "%s: tensor '%s': gap of %llu bytes before "
                            "data_offsets [%llu, %llu] (tensors must be "
                            "contiguous)",
                            p, t->name, (unsigned long long)(t->begin - pos),
                            (unsigned long long)t->begin,
                            (unsigned long long)t->end);
            goto done;
        }
        pos = t->end;
    }
    if (pos != f->data_len) {
        alc_diag_errorf(d,
                        "%s: %llu bytes after the last tensor (data "
                        "region is %llu bytes, tensors cover %llu)",
                        p, (unsigned long long)(f->data_len - pos),
                        (unsigned long long)f->data_len,
                        (unsigned long long)pos);
        goto done;
    }
    rc = 0;
done:
    free(ord);
    return rc;
}

/* __metadata__: a flat string -> string map (or null). */
static int parse_meta(struct alc_st_file *f, const cJSON *m, struct alc_diag *d)
{
    if (cJSON_IsNull(m)) {
        return 0;
    }
    if (!cJSON_IsObject(m)) {
        alc_diag_errorf(d, "%s: __metadata__ is not an object", f->path);
        return -1;
    }
    int n = cJSON_GetArraySize(m);
    f->meta_keys = alc_arena_alloc(&f->arena, (size_t)n * sizeof(char *) + 1);
    f->meta_values = alc_arena_alloc(&f->arena, (size_t)n * sizeof(char *) + 1);
    if (f->meta_keys == NULL || f->meta_values == NULL) {
        alc_diag_errorf(d, "%s: out of memory", f->path);
        return -1;
    }
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, m)
    {
        if (!cJSON_IsString(e)) {
            alc_diag_errorf(d,
                            "%s: __metadata__ '%s': value is not a "
                            "string",
                            f->path, e->string);
            return -1;
        }
        for (int i = 0; i < f->n_meta; i++) {
            if (strcmp(f->meta_keys[i], e->string) == 0) {
                alc_diag_errorf(d, "%s: __metadata__: duplicate key '%s'",
                                f->path, e->string);
                return -1;
            }
        }
        f->meta_keys[f->n_meta] = alc_arena_strdup(&f->arena, e->string);
        f->meta_values[f->n_meta] = alc_arena_strdup(&f->arena, e->valuestring);
        f->n_meta++;
    }
    return 0;
}

/* ---- Reader: the whole header ---- */

static int parse_json(struct alc_st_file *f, const char *hdr, size_t n,
                      cJSON **root, struct alc_diag *d)
{
    size_t bad = 0;
    const char *end = NULL;
    if (!valid_utf8((const unsigned char *)hdr, n, &bad)) {
        alc_diag_errorf(d,
                        "%s: header is not valid UTF-8 (byte %zu of the "
                        "header)",
                        f->path, bad);
        return -1;
    }
    *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (*root == NULL) {
        size_t at = end != NULL ? (size_t)(end - hdr) : 0;
        alc_diag_errorf(d,
                        "%s: header is not valid JSON (near byte %zu of "
                        "the header)",
                        f->path, at);
        return -1;
    }
    for (const char *s = end; s < hdr + n; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            alc_diag_errorf(d,
                            "%s: header has trailing bytes after the "
                            "JSON object (byte %zu of the header)",
                            f->path, (size_t)(s - hdr));
            return -1;
        }
    }
    if (!cJSON_IsObject(*root)) {
        alc_diag_errorf(d, "%s: header is not a JSON object", f->path);
        return -1;
    }
    return 0;
}

static int parse_entries(struct alc_st_file *f, const cJSON *root,
                         const unsigned char *data_base, struct alc_diag *d)
{
    int n = cJSON_GetArraySize(root);
    int n_meta_keys = 0;
    f->tensors = alc_arena_alloc(&f->arena, (size_t)n * sizeof *f->tensors + 1);
    if (f->tensors == NULL) {
        alc_diag_errorf(d, "%s: out of memory", f->path);
        return -1;
    }
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, root)
    {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (n_meta_keys++ > 0) {
                alc_diag_errorf(d, "%s: duplicate key '__metadata__'", f->path);
                return -1;
            }
            if (parse_meta(f, e, d) != 0) {
                return -1;
            }
            continue;
        }
        struct alc_st_tensor *t = &f->tensors[f->n_tensors];
        if (parse_entry(f, e, t, d) != 0) {
            return -1;
        }
        f->n_tensors++;
    }
    if (f->n_tensors > 1) {
        qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_name);
    }
    for (int i = 1; i < f->n_tensors; i++) {
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0) {
            alc_diag_errorf(d, "%s: duplicate tensor '%s'", f->path,
                            f->tensors[i].name);
            return -1;
        }
    }
    for (int i = 0; i < f->n_tensors; i++) {
        if (check_range(f, &f->tensors[i], d) != 0) {
            return -1;
        }
    }
    if (check_layout(f, d) != 0) {
        return -1;
    }
    for (int i = 0; i < f->n_tensors; i++) {
        struct alc_st_tensor *t = &f->tensors[i];
        t->data = t->end > t->begin ? data_base + t->begin : NULL;
    }
    return 0;
}

int alc_st_parse(struct alc_st_file *f, const void *data, size_t size,
                 const char *name, struct alc_diag *d)
{
    int rc = -1;
    cJSON *root = NULL;
    const unsigned char *b = data;
    memset(f, 0, sizeof *f);
    alc_arena_init(&f->arena, 1 << 16);
    f->path = strdup(name);
    if (f->path == NULL) {
        goto done;
    }
    if (size < 8) {
        alc_diag_errorf(d,
                        "%s: file too short (%zu bytes) for the 8-byte "
                        "header length",
                        name, size);
        goto done;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) {
        n = (n << 8) | b[i];
    }
    f->header_len = n;
    if (n > ALC_ST_MAX_HEADER) {
        alc_diag_errorf(d,
                        "%s: header length %llu exceeds the limit of %u "
                        "bytes",
                        name, (unsigned long long)n, ALC_ST_MAX_HEADER);
        goto done;
    }
    if (n > size - 8) {
        alc_diag_errorf(d,
                        "%s: header length %llu runs past the end of the "
                        "file (%zu bytes): truncated file?",
                        name, (unsigned long long)n, size);
        goto done;
    }
    f->data_len = size - 8 - n;
    if (parse_json(f, (const char *)b + 8, (size_t)n, &root, d) != 0) {
        goto done;
    }
    if (parse_entries(f, root, b + 8 + n, d) != 0) {
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) {
        alc_st_close(f);
    }
    return rc;
}

int alc_st_open(struct alc_st_file *f, const char *path, struct alc_diag *d)
{
    struct alc_map m;
    memset(f, 0, sizeof *f);
    if (alc_map_file(path, &m, d) != 0) {
        return -1;
    }
    if (alc_st_parse(f, m.data, m.size, path, d) != 0) {
        alc_unmap(&m);
        return -1;
    }
    f->map = m; /* the file owns the map from here on */
    return 0;
}

void alc_st_close(struct alc_st_file *f)
{
    alc_unmap(&f->map);
    alc_arena_free(&f->arena);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const struct alc_st_tensor *alc_st_find(const struct alc_st_file *f,
                                        const char *name)
{
    struct alc_st_tensor key;
    if (f->n_tensors == 0) {
        return NULL;
    }
    key.name = name;
    return bsearch(&key, f->tensors, (size_t)f->n_tensors, sizeof *f->tensors,
                   cmp_name);
}

const char *alc_st_meta(const struct alc_st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++) {
        if (strcmp(f->meta_keys[i], key) == 0) {
            return f->meta_values[i];
        }
    }
    return NULL;
}

/* ---- Writer ---- */

void alc_st_writer_init(struct alc_st_writer *w)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

static uint64_t wt_bytes(const struct alc_st_wtensor *t)
{
    return t->end - t->begin;
}

uint64_t alc_st_writer_data_bytes(const struct alc_st_writer *w)
{
    uint64_t s = 0;
    for (int i = 0; i < w->n; i++) {
        uint64_t numel = 1;
        for (int k = 0; k < w->t[i].ndim; k++) {
            numel *= (uint64_t)w->t[i].shape[k];
        }
        s += numel * (uint64_t)alc_st_dtype_table[w->t[i].st_dtype].bits / 8;
    }
    return s;
}

int alc_st_writer_add(struct alc_st_writer *w, const char *name,
                      enum alc_st_dtype st_dtype, int ndim,
                      const int64_t *shape, struct alc_diag *d)
{
    if (w->fd >= 0 || ndim < 0 || ndim > ALC_ST_MAX_DIMS ||
        (unsigned)st_dtype >= ALC_ST_DT_COUNT) {
        alc_diag_errorf(d, "safetensors writer: bad declaration of '%s'", name);
        return -1;
    }
    for (int i = 0; i < w->n; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            alc_diag_errorf(d,
                            "safetensors writer: tensor '%s' declared "
                            "twice",
                            name);
            return -1;
        }
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        struct alc_st_wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (t == NULL) {
            alc_diag_errorf(d, "safetensors writer: out of memory");
            return -1;
        }
        w->t = t;
        w->cap = cap;
    }
    struct alc_st_wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->st_dtype = st_dtype;
    t->ndim = ndim;
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            free(t->name);
            alc_diag_errorf(d, "safetensors writer: '%s': negative shape",
                            name);
            return -1;
        }
        t->shape[i] = shape[i];
        numel *= (uint64_t)shape[i];
    }
    uint64_t bits = numel * (uint64_t)alc_st_dtype_table[st_dtype].bits;
    if (bits % 8 != 0) {
        free(t->name);
        alc_diag_errorf(d,
                        "safetensors writer: '%s': not a whole number of "
                        "bytes",
                        name);
        return -1;
    }
    t->end = bits / 8; /* size for now; offsets are fixed by open */
    w->n++;
    return 0;
}

int alc_st_writer_meta(struct alc_st_writer *w, const char *key,
                       const char *value, struct alc_diag *d)
{
    char **m = realloc(w->meta, (size_t)(w->n_meta + 1) * 2 * sizeof *m);
    if (m == NULL) {
        alc_diag_errorf(d, "safetensors writer: out of memory");
        return -1;
    }
    w->meta = m;
    m[2 * w->n_meta] = strdup(key);
    m[2 * w->n_meta + 1] = strdup(value);
    w->n_meta++;
    return 0;
}

/* Reference writer order: descending alignment (element size), then name. */
static int cmp_wt(const void *a, const void *b)
{
    const struct alc_st_wtensor *x = a, *y = b;
    int bx = alc_st_dtype_table[x->st_dtype].bits;
    int by = alc_st_dtype_table[y->st_dtype].bits;
    if (bx != by) {
        return bx > by ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

void alc_json_put_str(struct alc_sb *sb, const char *s)
{
    alc_sb_putc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            alc_sb_putc(sb, '\\');
            alc_sb_putc(sb, (char)*p);
        } else if (*p < 0x20) {
            alc_sb_printf(sb, "\\u%04x", *p);
        } else {
            alc_sb_putc(sb, (char)*p);
        }
    }
    alc_sb_putc(sb, '"');
}

static void build_header(const struct alc_st_writer *w, struct alc_sb *sb)
{
    alc_sb_puts(sb, "{");
    if (w->n_meta > 0) {
        alc_sb_puts(sb, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i > 0) {
                alc_sb_putc(sb, ',');
            }
            alc_json_put_str(sb, w->meta[2 * i]);
            alc_sb_putc(sb, ':');
            alc_json_put_str(sb, w->meta[2 * i + 1]);
        }
        alc_sb_puts(sb, "}");
    }
    for (int i = 0; i < w->n; i++) {
        const struct alc_st_wtensor *t = &w->t[i];
        if (i > 0 || w->n_meta > 0) {
            alc_sb_putc(sb, ',');
        }
        alc_json_put_str(sb, t->name);
        alc_sb_printf(sb, ":{\"dtype\":\"%s\",\"shape\":[",
                      alc_st_dtype_table[t->st_dtype].name);
        for (int k = 0; k < t->ndim; k++) {
            alc_sb_printf(sb, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        }
        alc_sb_printf(sb, "],\"data_offsets\":[%llu,%llu]}",
                      (unsigned long long)t->begin, (unsigned long long)t->end);
    }
    alc_sb_puts(sb, "}");
    while (sb->len % 8 != 0) {
        alc_sb_putc(sb, ' '); /* pad like the reference writer */
    }
}

int alc_st_writer_open(struct alc_st_writer *w, const char *path,
                       struct alc_diag *d)
{
    struct alc_sb hdr, tmp;
    int rc = -1;
    unsigned char len8[8];
    alc_sb_init(&hdr);
    alc_sb_init(&tmp);
    if (w->n > 1) {
        qsort(w->t, (size_t)w->n, sizeof *w->t, cmp_wt);
    }
    uint64_t pos = 0;
    for (int i = 0; i < w->n; i++) {
        uint64_t sz = w->t[i].end;
        w->t[i].begin = pos;
        w->t[i].end = pos + sz;
        pos += sz;
    }
    build_header(w, &hdr);
    w->path = strdup(path);
    alc_sb_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    w->tmp_path = alc_sb_take(&tmp);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        alc_diag_errorf(d, "%s: cannot create: %s", w->tmp_path,
                        strerror(errno));
        goto done;
    }
    for (int i = 0; i < 8; i++) {
        len8[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
    }
    w->data_start = 8 + hdr.len;
    if (alc_write_all(w->fd, len8, 8, path, d) != 0 ||
        alc_write_all(w->fd, hdr.s, hdr.len, path, d) != 0) {
        goto done;
    }
    rc = 0;
done:
    alc_sb_free(&hdr);
    return rc;
}

static struct alc_st_wtensor *wfind(struct alc_st_writer *w, const char *name)
{
    for (int i = 0; i < w->n; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            return &w->t[i];
        }
    }
    return NULL;
}

static int pwrite_all(int fd, const void *data, size_t n, uint64_t off,
                      const char *what, struct alc_diag *d)
{
    const char *p = data;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t k = pwrite(fd, p, chunk, (off_t)off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            alc_diag_errorf(d, "%s: write failed: %s", what,
                            k < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int alc_st_writer_put(struct alc_st_writer *w, const char *name,
                      const void *data, size_t nbytes, struct alc_diag *d)
{
    struct alc_st_wtensor *t = wfind(w, name);
    if (w->fd < 0 || t == NULL || nbytes != wt_bytes(t) || t->written) {
        alc_diag_errorf(d,
                        "%s: tensor '%s': not declared, written twice or "
                        "wrong size (%zu bytes)",
                        w->path ? w->path : "?", name, nbytes);
        return -1;
    }
    if (pwrite_all(w->fd, data, nbytes, w->data_start + t->begin, w->path, d) !=
        0) {
        return -1;
    }
    t->written = 1;
    return 0;
}

int alc_st_writer_put_f32(struct alc_st_writer *w, const char *name,
                          const float *src, struct alc_diag *d)
{
    enum { CHUNK = 1 << 16 };
    static _Thread_local unsigned char buf[CHUNK * 4];
    struct alc_st_wtensor *t = wfind(w, name);
    if (w->fd < 0 || t == NULL || t->written ||
        alc_st_dtype_table[t->st_dtype].alc < 0) {
        alc_diag_errorf(d,
                        "%s: tensor '%s': not declared, written twice or "
                        "not F32/F16/BF16",
                        w->path ? w->path : "?", name);
        return -1;
    }
    enum alc_dtype dt = (enum alc_dtype)alc_st_dtype_table[t->st_dtype].alc;
    size_t es = (size_t)alc_dtype_table[dt].size;
    size_t numel = (size_t)(wt_bytes(t) / es);
    uint64_t off = w->data_start + t->begin;
    for (size_t i = 0; i < numel; i += CHUNK) {
        size_t n = numel - i < CHUNK ? numel - i : CHUNK;
        alc_from_f32(buf, src + i, dt, n);
        if (pwrite_all(w->fd, buf, n * es, off, w->path, d) != 0) {
            return -1;
        }
        off += n * es;
    }
    t->written = 1;
    return 0;
}

int alc_st_writer_close(struct alc_st_writer *w, struct alc_diag *d)
{
    if (w->fd < 0) {
        alc_diag_errorf(d, "safetensors writer: close before open");
        return -1;
    }
    for (int i = 0; i < w->n; i++) {
        if (!w->t[i].written) {
            alc_diag_errorf(d,
                            "%s: tensor '%s' was declared but never "
                            "written",
                            w->path, w->t[i].name);
            return -1;
        }
    }
    if (fsync(w->fd) != 0) {
        alc_diag_errorf(d, "%s: fsync failed: %s", w->path, strerror(errno));
        return -1;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        alc_diag_errorf(d, "%s: close failed: %s", w->path, strerror(errno));
        return -1;
    }
    if (rename(w->tmp_path, w->path) != 0) {
        alc_diag_errorf(d, "%s: rename failed: %s", w->path, strerror(errno));
        return -1;
    }
    w->closed = 1;
    return 0;
}

void alc_st_writer_free(struct alc_st_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
    }
    if (!w->closed && w->tmp_path != NULL) {
        unlink(w->tmp_path);
    }
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
    }
    for (int i = 0; i < 2 * w->n_meta; i++) {
        free(w->meta[i]);
    }
    free(w->t);
    free(w->meta);
    free(w->path);
    free(w->tmp_path);
    alc_st_writer_init(w);
}
