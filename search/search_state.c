/*
 * search_state.c: the search's checkpoint, state.json in the state
 * directory (search.h). Written atomically (alc_write_file_atomic: a
 * temporary file, fsync, rename) after every step, so a kill -9 leaves
 * either the previous or the next state; read back with cJSON. Numbers
 * are written with 17 significant digits and hashes and RNG words as hex
 * strings, so a loaded state continues bit for bit.
 *
 * {"format": "dsac-search-state", "version": 1, "config": "...",
 *  "rng": [4 hex words], "gen": G, "phase": "eval", "batch_first": i,
 *  "batch_n": n, "n_evals": E, "n_units": U, "rejected": {...},
 *  "exhausted": x, "seeds": [...], "seeds_used": k, "population": [ids],
 *  "candidates": [{"id": .., "gen": .., "parents": [a, b], "op": "..",
 *                  "src": "..", "hash": "..", "status": "..",
 *                  "reject": "..", "why": .., "ratio": [..],
 *                  "fitness": .., "cache_of": .., "eval_index": ..,
 *                  "t_compile": .., "t_alloc": .., "t_prune": ..,
 *                  "t_eval": ..}, ...]}
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "search_internal.h"

#define STATE_FORMAT "dsac-search-state"
#define STATE_VERSION 1

static const char *const phase_name[ALC_PH_COUNT] = {
    [ALC_PH_GENERATE] = "generate", [ALC_PH_ALLOC] = "alloc",
    [ALC_PH_EVAL] = "eval",         [ALC_PH_INSERT] = "insert",
    [ALC_PH_DONE] = "done",
};

_Static_assert(ALC_PH_COUNT == 5, "phase_name must list every phase");

/* ---- JSON writing ---- */

void alc_sj_str(struct alc_sb *out, const char *s)
{
    if (s == NULL) {
        alc_sb_puts(out, "null");
        return;
    }
    alc_sb_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            alc_sb_printf(out, "\\%c", *p);
        } else if (*p == '\n') {
            alc_sb_puts(out, "\\n");
        } else if (*p == '\t') {
            alc_sb_puts(out, "\\t");
        } else if (*p < 0x20) {
            alc_sb_printf(out, "\\u%04x", *p);
        } else {
            alc_sb_putc(out, (char)*p);
        }
    }
    alc_sb_putc(out, '"');
}

void alc_sj_num(struct alc_sb *out, double v)
{
    if (!isfinite(v)) {
        alc_sb_puts(out, "null");
    } else {
        alc_sb_printf(out, "%.17g", v);
    }
}

void alc_sj_hex(struct alc_sb *out, uint64_t v)
{
    alc_sb_printf(out, "\"%016" PRIx64 "\"", v);
}

void alc_search_cand_json(const struct alc_search_cand *c, int with_times,
                          struct alc_sb *out)
{
    alc_sb_printf(out, "{\"id\": %" PRId64 ", \"gen\": %d, \"parents\": "
                       "[%" PRId64 ", %" PRId64 "], \"op\": ",
                  c->id, c->gen, c->parent[0], c->parent[1]);
    alc_sj_str(out, c->op);
    alc_sb_puts(out, ", \"src\": ");
    alc_sj_str(out, c->src);
    alc_sb_puts(out, ", \"hash\": ");
    alc_sj_hex(out, c->hash);
    alc_sb_printf(out, ", \"status\": \"%s\", \"reject\": \"%s\", "
                       "\"why\": ",
                  alc_cand_status_name[c->status], alc_reject_name[c->reject]);
    alc_sj_str(out, c->why);
    alc_sb_puts(out, ", \"ratio\": ");
    if (c->ratio == NULL) {
        alc_sb_puts(out, "null");
    } else {
        alc_sb_putc(out, '[');
        for (int u = 0; u < c->n_units; u++) {
            alc_sb_puts(out, u > 0 ? ", " : "");
            alc_sj_num(out, c->ratio[u]);
        }
        alc_sb_putc(out, ']');
    }
    alc_sb_puts(out, ", \"fitness\": ");
    alc_sj_num(out, c->fitness);
    alc_sb_printf(out, ", \"cache_of\": %" PRId64 ", \"eval_index\": %" PRId64,
                  c->cache_of, c->eval_index);
    if (with_times) {
        alc_sb_printf(out, ", \"t_compile\": %.6f, \"t_alloc\": %.6f, "
                           "\"t_prune\": %.6f, \"t_eval\": %.6f",
                      c->t_compile, c->t_alloc, c->t_prune, c->t_eval);
    }
    alc_sb_putc(out, '}');
}

static void put_header(const struct alc_search *s, struct alc_sb *out)
{
    alc_sb_printf(out, "{\"format\": \"%s\", \"version\": %d,\n\"config\": ",
                  STATE_FORMAT, STATE_VERSION);
    alc_sj_str(out, s->config);
    alc_sb_puts(out, ",\n\"rng\": [");
    for (int i = 0; i < 4; i++) {
        alc_sb_puts(out, i > 0 ? ", " : "");
        alc_sj_hex(out, s->rng.s[i]);
    }
    alc_sb_printf(out, "],\n\"gen\": %d, \"phase\": \"%s\", \"batch_first\": "
                       "%" PRId64 ", \"batch_n\": %" PRId64 ", \"n_evals\": "
                       "%" PRId64 ", \"n_units\": %d, \"exhausted\": "
                       "%" PRId64 ",\n\"rejected\": {",
                  s->gen, phase_name[s->phase], s->batch_first, s->batch_n,
                  s->n_evals, s->n_units, s->exhausted);
    for (int r = 0; r < ALC_REJ_COUNT; r++) {
        alc_sb_printf(out, "%s\"%s\": %" PRId64, r > 0 ? ", " : "",
                      alc_reject_name[r], s->rejected[r]);
    }
    alc_sb_puts(out, "},\n");
}

static void put_seeds_pop(const struct alc_search *s, struct alc_sb *out)
{
    alc_sb_puts(out, "\"seeds\": [");
    for (int i = 0; i < s->n_seeds; i++) {
        alc_sb_puts(out, i > 0 ? ",\n  {\"file\": " : "\n  {\"file\": ");
        alc_sj_str(out, s->seeds[i].file);
        alc_sb_puts(out, ", \"src\": ");
        alc_sj_str(out, s->seeds[i].src);
        alc_sb_puts(out, ", \"hash\": ");
        alc_sj_hex(out, s->seeds[i].hash);
        alc_sb_putc(out, '}');
    }
    alc_sb_printf(out, "],\n\"seeds_used\": %d,\n\"population\": [",
                  s->seeds_used);
    for (int i = 0; i < s->n_pop; i++) {
        alc_sb_printf(out, "%s%" PRId64, i > 0 ? ", " : "", s->pop[i]);
    }
    alc_sb_puts(out, "],\n");
}

int alc_search_state_save(const struct alc_search *s, struct alc_diag *d)
{
    struct alc_sb out;
    char *path = alc_path_join(s->state_dir, "state.json");
    int rc = -1;
    alc_sb_init(&out);
    if (path == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    put_header(s, &out);
    put_seeds_pop(s, &out);
    alc_sb_puts(&out, "\"candidates\": [");
    for (int64_t i = 0; i < s->n_cand; i++) {
        alc_sb_puts(&out, i > 0 ? ",\n  " : "\n  ");
        alc_search_cand_json(&s->cand[i], 1, &out);
    }
    alc_sb_puts(&out, "]}\n");
    rc = alc_write_file_atomic(path, out.s, out.len, d);
    alc_sb_free(&out);
    free(path);
    return rc;
}

/* ---- Reading ---- */

struct jr {
    const char *path;
    struct alc_diag *d;
    int bad;
};

static const cJSON *jfield(struct jr *j, const cJSON *obj, const char *key,
                           int type)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    int ok = v != NULL && ((type == cJSON_NULL && cJSON_IsNull(v)) ||
                           (v->type & 0xff) == type);
    if (!ok && !j->bad) {
        alc_diag_errorf(j->d, "%s: field '%s' is missing or has the wrong "
                              "type",
                        j->path, key);
        j->bad = 1;
    }
    return ok ? v : NULL;
}

static int64_t jint(struct jr *j, const cJSON *obj, const char *key)
{
    const cJSON *v = jfield(j, obj, key, cJSON_Number);
    return v != NULL ? (int64_t)v->valuedouble : 0;
}

/* A number, or NaN for null. */
static double jnum(struct jr *j, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v != NULL && cJSON_IsNull(v)) {
        return NAN;
    }
    v = jfield(j, obj, key, cJSON_Number);
    return v != NULL ? v->valuedouble : NAN;
}

/* A string (copied), or NULL for null. */
static char *jstr(struct jr *j, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v != NULL && cJSON_IsNull(v)) {
        return NULL;
    }
    v = jfield(j, obj, key, cJSON_String);
    return v != NULL ? strdup(v->valuestring) : NULL;
}

static uint64_t hexval(struct jr *j, const cJSON *v)
{
    char *end = NULL;
    if (!cJSON_IsString(v)) {
        j->bad = 1;
        return 0;
    }
    uint64_t x = strtoull(v->valuestring, &end, 16);
    if (end == v->valuestring || *end != '\0') {
        j->bad = 1;
    }
    return x;
}

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s != NULL && i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static int jenum(struct jr *j, const cJSON *obj, const char *key,
                 const char *const *names, int n)
{
    const cJSON *v = jfield(j, obj, key, cJSON_String);
    int k = v != NULL ? name_index(names, n, v->valuestring) : -1;
    if (k < 0 && !j->bad) {
        alc_diag_errorf(j->d, "%s: field '%s' has an unknown value", j->path,
                        key);
        j->bad = 1;
    }
    return k < 0 ? 0 : k;
}

static int read_ratio(struct jr *j, const cJSON *o, struct alc_search_cand *c)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "ratio");
    if (r == NULL || cJSON_IsNull(r)) {
        return 0;
    }
    if (!cJSON_IsArray(r)) {
        j->bad = 1;
        return -1;
    }
    c->n_units = cJSON_GetArraySize(r);
    c->ratio = calloc((size_t)c->n_units + 1, sizeof *c->ratio);
    if (c->ratio == NULL) {
        return -1;
    }
    int u = 0;
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, r)
    {
        c->ratio[u++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    }
    return 0;
}

static int read_cand(struct jr *j, const cJSON *o, int64_t id,
                     struct alc_search_cand *c)
{
    const cJSON *par = jfield(j, o, "parents", cJSON_Array);
    memset(c, 0, sizeof *c);
    c->id = jint(j, o, "id");
    c->gen = (int)jint(j, o, "gen");
    c->parent[0] = c->parent[1] = -1;
    if (par != NULL && cJSON_GetArraySize(par) == 2) {
        c->parent[0] = (int64_t)cJSON_GetArrayItem(par, 0)->valuedouble;
        c->parent[1] = (int64_t)cJSON_GetArrayItem(par, 1)->valuedouble;
    }
    c->op = jstr(j, o, "op");
    c->src = jstr(j, o, "src");
    c->hash = hexval(j, cJSON_GetObjectItemCaseSensitive(o, "hash"));
    c->status = (enum alc_cand_status)jenum(j, o, "status",
                                            alc_cand_status_name, ALC_CS_COUNT);
    c->reject = (enum alc_reject)jenum(j, o, "reject", alc_reject_name,
                                       ALC_REJ_COUNT);
    c->why = jstr(j, o, "why");
    c->fitness = jnum(j, o, "fitness");
    c->cache_of = jint(j, o, "cache_of");
    c->eval_index = jint(j, o, "eval_index");
    c->t_compile = jnum(j, o, "t_compile");
    c->t_alloc = jnum(j, o, "t_alloc");
    c->t_prune = jnum(j, o, "t_prune");
    c->t_eval = jnum(j, o, "t_eval");
    if (read_ratio(j, o, c) != 0 || c->id != id || c->src == NULL ||
        c->op == NULL || c->cache_of >= id) {
        if (!j->bad) {
            alc_diag_errorf(j->d, "%s: candidate %" PRId64 " is malformed",
                            j->path, id);
        }
        j->bad = 1;
        return -1;
    }
    return 0;
}

static int read_cands(struct jr *j, const cJSON *root, struct alc_search *s)
{
    const cJSON *arr = jfield(j, root, "candidates", cJSON_Array);
    if (arr == NULL) {
        return -1;
    }
    int n = cJSON_GetArraySize(arr);
    s->cand = calloc((size_t)n + 1, sizeof *s->cand);
    if (s->cand == NULL) {
        return -1;
    }
    s->cap_cand = n + 1;
    const cJSON *o = NULL;
    cJSON_ArrayForEach(o, arr)
    {
        if (read_cand(j, o, s->n_cand, &s->cand[s->n_cand]) != 0) {
            s->n_cand++; /* freed with the others */
            return -1;
        }
        s->n_cand++;
    }
    return 0;
}

static int read_pop(struct jr *j, const cJSON *root, struct alc_search *s)
{
    const cJSON *arr = jfield(j, root, "population", cJSON_Array);
    if (arr == NULL) {
        return -1;
    }
    int n = cJSON_GetArraySize(arr);
    s->pop = calloc((size_t)n + 1, sizeof *s->pop);
    if (s->pop == NULL) {
        return -1;
    }
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, arr)
    {
        int64_t id = cJSON_IsNumber(x) ? (int64_t)x->valuedouble : -1;
        if (id < 0 || id >= s->n_cand) {
            alc_diag_errorf(j->d, "%s: population names candidate %" PRId64
                                  ", which does not exist",
                            j->path, id);
            return -1;
        }
        s->pop[s->n_pop++] = id;
    }
    return 0;
}

static int read_seeds(struct jr *j, const cJSON *root, struct alc_search *s)
{
    const cJSON *arr = jfield(j, root, "seeds", cJSON_Array);
    if (arr == NULL) {
        return -1;
    }
    int n = cJSON_GetArraySize(arr);
    s->seeds = calloc((size_t)n + 1, sizeof *s->seeds);
    if (s->seeds == NULL) {
        return -1;
    }
    const cJSON *o = NULL;
    cJSON_ArrayForEach(o, arr)
    {
        struct alc_search_seed *sd = &s->seeds[s->n_seeds++];
        sd->file = jstr(j, o, "file");
        sd->src = jstr(j, o, "src");
        sd->hash = hexval(j, cJSON_GetObjectItemCaseSensitive(o, "hash"));
    }
    s->seeds_used = (int)jint(j, root, "seeds_used");
    return j->bad ? -1 : 0;
}

static int read_header(struct jr *j, const cJSON *root, struct alc_search *s)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, STATE_FORMAT) != 0 ||
        !cJSON_IsNumber(ver) || ver->valuedouble != STATE_VERSION) {
        alc_diag_errorf(j->d, "%s: not a dsac search state (version %d)",
                        j->path, STATE_VERSION);
        return -1;
    }
    const cJSON *cfg = jfield(j, root, "config", cJSON_String);
    const cJSON *rng = jfield(j, root, "rng", cJSON_Array);
    const cJSON *rej = jfield(j, root, "rejected", cJSON_Object);
    if (cfg != NULL && s->config == NULL) {
        s->config = strdup(cfg->valuestring); /* reading, not resuming */
    } else if (cfg != NULL && strcmp(cfg->valuestring, s->config) != 0) {
        alc_diag_errorf(j->d, "%s: the search was started with other "
                              "options; --resume needs the same ones.\n"
                              "recorded:\n%s\ngiven:\n%s",
                        j->path, cfg->valuestring, s->config);
        return -1;
    }
    for (int i = 0; rng != NULL && i < 4; i++) {
        s->rng.s[i] = hexval(j, cJSON_GetArrayItem(rng, i));
    }
    s->gen = (int)jint(j, root, "gen");
    s->phase = (enum alc_phase)jenum(j, root, "phase", phase_name,
                                     ALC_PH_COUNT);
    s->batch_first = jint(j, root, "batch_first");
    s->batch_n = jint(j, root, "batch_n");
    s->n_evals = jint(j, root, "n_evals");
    s->n_units = (int)jint(j, root, "n_units");
    s->exhausted = jint(j, root, "exhausted");
    for (int r = 0; rej != NULL && r < ALC_REJ_COUNT; r++) {
        s->rejected[r] = jint(j, rej, alc_reject_name[r]);
    }
    return j->bad ? -1 : 0;
}

int alc_search_state_load(struct alc_search *s, const char *path,
                          struct alc_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    struct jr j = {path, d, 0};
    int rc = -1;
    if (alc_read_file(path, &text, &len, d) != 0) {
        return -1;
    }
    root = cJSON_ParseWithLength(text, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        alc_diag_errorf(d, "%s: not valid JSON", path);
        goto done;
    }
    if (read_header(&j, root, s) != 0 || read_seeds(&j, root, s) != 0 ||
        read_cands(&j, root, s) != 0 || read_pop(&j, root, s) != 0) {
        goto done;
    }
    if (s->batch_first < 0 || s->batch_n < 0 ||
        s->batch_first + s->batch_n > s->n_cand) {
        alc_diag_errorf(d, "%s: the current batch is out of range", path);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0 && !j.bad && d->n_err == 0) {
        alc_diag_errorf(d, "%s: cannot read the state", path);
    }
    cJSON_Delete(root);
    free(text);
    return rc;
}
