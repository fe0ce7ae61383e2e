/*
 * session.c: the session's life cycle (session.h): opening the model and
 * tokenizer, calibration windows, tokenized evaluation texts, perplexity,
 * reset and saving. The passes over the model live in session_pass.c, the
 * units view and the allocation in session_alloc.c.
 */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "session.h"
#include "session_internal.h"

const char *const alc_gran_name[ALC_GRAN_COUNT] = {
    [ALC_GRAN_BLOCK] = "block",
    [ALC_GRAN_LINEAR] = "linear",
};
_Static_assert(ALC_GRAN_COUNT == 2, "granularity table out of sync");

int alc_gran_from_name(const char *name)
{
    for (int i = 0; i < ALC_GRAN_COUNT; i++) {
        if (strcmp(name, alc_gran_name[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- Open and close ---- */

/* Hash of every safetensors header (length + JSON) and the files' size. */
static void hash_model(struct alc_session *s)
{
    uint64_t h = 0x5eed5eed;
    s->model_bytes = 0;
    for (int i = 0; i < s->model.n_files; i++) {
        const struct alc_st_file *f = &s->model.files[i].st;
        size_t n = (size_t)(8 + f->header_len);
        if (f->map.data != NULL && n <= f->map.size) {
            h = alc_hash64(f->map.data, n, h);
        }
        s->model_bytes += f->map.size;
    }
    s->model_hash = h;
}

int alc_session_open(struct alc_session *s, const struct alc_session_opts *o,
                     struct alc_diag *d)
{
    double t0 = alc_now();
    memset(s, 0, sizeof *s);
    s->n_threads = o->n_threads > 0 ? o->n_threads : alc_default_threads();
    s->progress = o->progress;
    s->calib_batch = o->calib_batch;
    if (alc_model_load(&s->model, o->model_dir, d) != 0) {
        return -1;
    }
    s->have_model = 1;
    s->tok = alc_tok_load(o->model_dir, d);
    s->pool = alc_pool_new(s->n_threads);
    int L = s->model.cfg.n_layers;
    s->n_slots = L * ALC_LIN_COUNT;
    s->act = calloc((size_t)s->n_slots, sizeof *s->act);
    s->esd = calloc((size_t)s->n_slots, sizeof *s->esd);
    s->mats = calloc((size_t)s->n_slots, sizeof *s->mats);
    s->mat_slot = calloc((size_t)s->n_slots, sizeof *s->mat_slot);
    if (s->tok == NULL || s->pool == NULL || s->act == NULL ||
        s->esd == NULL || s->mats == NULL || s->mat_slot == NULL) {
        if (s->tok != NULL) {
            alc_diag_errorf(d, "%s: out of memory", o->model_dir);
        }
        alc_session_close(s);
        return -1;
    }
    hash_model(s);
    s->t.open = alc_now() - t0;
    return 0;
}

/* Drops the dense statistics (a new calibration invalidates act). */
static void free_act(struct alc_session *s)
{
    for (int k = 0; s->act != NULL && k < s->n_slots; k++) {
        free(s->act[k]);
        s->act[k] = NULL;
    }
    for (int i = 0; s->mats != NULL && i < s->n_mats; i++) {
        s->mats[i].act = NULL;
    }
    s->have_act = 0;
}

void alc_session_close(struct alc_session *s)
{
    alc_session_free_units(s);
    free_act(s);
    free(s->act);
    free(s->esd);
    free(s->mats);
    free(s->mat_slot);
    for (int i = 0; i < s->n_data; i++) {
        free(s->data[i].path);
        free(s->data[i].ids);
    }
    free(s->data);
    if (s->have_calib) {
        alc_calib_free(&s->calib);
    }
    alc_tok_free(s->tok);
    alc_pool_free(s->pool);
    if (s->have_model) {
        alc_model_free(&s->model);
    }
    memset(s, 0, sizeof *s);
}

/* ---- Calibration ---- */

int alc_session_calibrate(struct alc_session *s,
                          const struct alc_calib_opts *o, struct alc_diag *d)
{
    struct alc_calib c;
    double t0 = alc_now();
    if (alc_calib_build(&c, o, s->tok, d) != 0) {
        return -1;
    }
    if (s->have_calib) {
        alc_calib_free(&s->calib);
    }
    s->calib = c;
    s->have_calib = 1;
    free_act(s);
    s->t.calibrate = alc_now() - t0;
    return 0;
}

/* ---- Evaluation texts ---- */

static int tokenize_text(struct alc_session *s, struct alc_session_data *x,
                         int64_t c4_docs, struct alc_diag *d)
{
    struct alc_docs docs;
    size_t len = 0;
    if (alc_data_read(x->path, x->fmt, &docs, d) != 0) {
        return -1;
    }
    x->file_bytes = docs.file_bytes;
    x->file_hash = docs.file_hash;
    x->docs = docs.n;
    char *text = alc_data_join(&docs, x->fmt, c4_docs > 0 ? c4_docs : 1100,
                               &x->docs_used, &len);
    alc_docs_free(&docs);
    if (text == NULL) {
        alc_diag_errorf(d, "%s: out of memory", x->path);
        return -1;
    }
    int rc = alc_tok_encode(s->tok, text, len, 1, &x->ids, &x->n, d);
    free(text);
    x->bos_id = alc_tok_bos_id(s->tok);
    return rc;
}

int alc_session_data_add(struct alc_session *s, const char *path, int fmt,
                         int64_t c4_docs, struct alc_diag *d)
{
    struct alc_session_data x;
    for (int i = 0; i < s->n_data; i++) {
        if (strcmp(s->data[i].path, path) == 0) {
            return i;
        }
    }
    memset(&x, 0, sizeof x);
    x.path = strdup(path);
    x.fmt = fmt >= 0 ? (enum alc_data_fmt)fmt : alc_data_fmt_guess(path);
    struct alc_session_data *p =
        realloc(s->data, (size_t)(s->n_data + 1) * sizeof *p);
    if (x.path == NULL || p == NULL) {
        alc_diag_errorf(d, "%s: out of memory", path);
        free(x.path);
        return -1;
    }
    s->data = p;
    if (tokenize_text(s, &x, c4_docs, d) != 0) {
        free(x.path);
        free(x.ids);
        return -1;
    }
    s->data[s->n_data] = x;
    return s->n_data++;
}

int alc_session_ppl(struct alc_session *s, int idx, int seqlen,
                    int64_t max_windows, struct alc_ppl *out,
                    struct alc_diag *d)
{
    double t0 = alc_now();
    if (idx < 0 || idx >= s->n_data) {
        alc_diag_errorf(d, "perplexity: no dataset %d", idx);
        return -1;
    }
    const struct alc_session_data *x = &s->data[idx];
    int rc = alc_ppl_compute(&s->model, x->ids, x->n, seqlen, max_windows,
                             s->n_threads, s->progress, out, d);
    s->t.ppl = alc_now() - t0;
    return rc;
}

/* ---- Reset and save ---- */

void alc_session_reset(struct alc_session *s)
{
    alc_model_clear_overrides(&s->model);
    s->pruned = 0;
}

/* Refuses out_dir when it is the model's own directory. */
static int check_not_input(const struct alc_session *s, const char *out_dir,
                           struct alc_diag *d)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (realpath(out_dir, a) == NULL || realpath(s->model.dir, b) == NULL) {
        return 0; /* out_dir does not exist yet: it cannot be the input */
    }
    if (strcmp(a, b) == 0) {
        alc_diag_errorf(d, "%s: refusing to overwrite the input model "
                        "directory (choose another --out)", out_dir);
        return -1;
    }
    return 0;
}

/* Removes path when it is an empty directory; 1 when it did. */
static int remove_empty_dir(const char *path)
{
    return alc_is_dir(path) && rmdir(path) == 0; /* fails unless empty */
}

int alc_session_save(struct alc_session *s, const char *out_dir, int force,
                     struct alc_diag *d)
{
    double t0 = alc_now();
    if (check_not_input(s, out_dir, d) != 0) {
        return -1;
    }
    if (alc_path_exists(out_dir) && !force && !remove_empty_dir(out_dir)) {
        alc_diag_errorf(d, "%s: exists and is not an empty directory (use "
                        "--force to replace it)", out_dir);
        return -1;
    }
    int rc = alc_model_save(&s->model, out_dir, force, d);
    s->t.save = alc_now() - t0;
    return rc;
}
