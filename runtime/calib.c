/*
 * calib.c: calibration windows (calib.h): read the file, tokenize without
 * special tokens, cut N windows of T tokens evenly or at seeded random
 * positions. Called by the pruning session (session.c).
 */
#include <stdlib.h>

#include "calib.h"

const char *const alc_calib_mode_name[ALC_CALIB_COUNT] = {
    [ALC_CALIB_EVEN] = "even",
    [ALC_CALIB_RANDOM] = "random",
};
_Static_assert(ALC_CALIB_COUNT == 2, "calibration mode table out of sync");

/* Redraws of a C4 document before giving up (none is long enough). */
#define MAX_DRAWS 100000

int alc_calib_mode_from_name(const char *name)
{
    for (int i = 0; i < ALC_CALIB_COUNT; i++) {
        if (strcmp(name, alc_calib_mode_name[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int64_t alc_calib_even_start(int64_t i, int64_t n, int64_t len, int64_t T)
{
    __int128 num = (__int128)i * (__int128)(len - T);
    return (int64_t)(num / n);
}

void alc_calib_free(struct alc_calib *c)
{
    free(c->ids);
    free(c->start);
    free(c->doc);
    free(c->path);
    memset(c, 0, sizeof *c);
}

/* ---- The token stream ---- */

/* Appends src (n ids) to the growing array *dst (*len used, *cap). */
static int append_ids(int32_t **dst, int64_t *len, int64_t *cap,
                      const int32_t *src, int64_t n)
{
    if (*len + n > *cap) {
        int64_t nc = *cap ? *cap : 4096;
        while (nc < *len + n) {
            nc *= 2;
        }
        int32_t *p = realloc(*dst, (size_t)nc * sizeof **dst);
        if (p == NULL) {
            return -1;
        }
        *dst = p;
        *cap = nc;
    }
    memcpy(*dst + *len, src, (size_t)n * sizeof *src);
    *len += n;
    return 0;
}

/*
 * The stream of the first max_docs documents (all for one-document
 * formats), each tokenized without special tokens, EOS between documents.
 */
static int build_stream(struct alc_calib *c, const struct alc_docs *docs,
                        const struct alc_calib_opts *o,
                        const struct alc_tokenizer *t, int32_t **out,
                        int64_t *n_out, struct alc_diag *d)
{
    int64_t n_docs = docs->n, len = 0, cap = 0;
    int32_t *stream = NULL;
    struct alc_progress pr;
    if (o->max_docs > 0 && o->max_docs < n_docs) {
        n_docs = o->max_docs;
    }
    alc_progress_begin(&pr, "calibration: tokenize", n_docs);
    pr.quiet = pr.quiet || n_docs < 100;
    for (int64_t i = 0; i < n_docs; i++) {
        int32_t *ids = NULL;
        int64_t n = 0;
        if (alc_tok_encode(t, docs->text[i], docs->len[i], 0, &ids, &n,
                           d) != 0) {
            free(stream);
            return -1;
        }
        int32_t eos = c->eos_id;
        int bad = (i > 0 && eos >= 0 && append_ids(&stream, &len, &cap,
                                                   &eos, 1) != 0) ||
                  append_ids(&stream, &len, &cap, ids, n) != 0;
        free(ids);
        if (bad) {
            alc_diag_errorf(d, "%s: out of memory tokenizing", o->path);
            free(stream);
            return -1;
        }
        alc_progress_step(&pr, 1);
    }
    alc_progress_end(&pr);
    c->docs_used = n_docs;
    *out = stream;
    *n_out = len;
    return 0;
}

/* Windows cut from the stream: even, or seeded uniform starts. */
static int cut_stream(struct alc_calib *c, const struct alc_calib_opts *o,
                      const int32_t *stream, int64_t n, struct alc_diag *d)
{
    int64_t N = o->nsamples, T = o->seqlen;
    struct alc_rng rng;
    if (n < T) {
        alc_diag_errorf(d, "%s: %lld tokens, fewer than one calibration "
                        "window of %lld", o->path, (long long)n,
                        (long long)T);
        return -1;
    }
    alc_rng_seed(&rng, o->seed);
    for (int64_t i = 0; i < N; i++) {
        int64_t s = o->mode == ALC_CALIB_EVEN
                        ? alc_calib_even_start(i, N, n, T)
                        : (int64_t)alc_rng_below(&rng, (uint64_t)(n - T + 1));
        c->start[i] = s;
        c->doc[i] = 0;
        memcpy(c->ids + i * T, stream + s, (size_t)T * sizeof *stream);
    }
    return 0;
}

/*
 * Wanda's get_c4 (random mode over JSON lines): a random document, redrawn
 * until it has more than T tokens, then a window starting uniformly in
 * [0, len - T - 1]. Documents are tokenized only when drawn.
 */
static int cut_c4_random(struct alc_calib *c, const struct alc_docs *docs,
                         const struct alc_calib_opts *o,
                         const struct alc_tokenizer *t, struct alc_diag *d)
{
    int64_t T = o->seqlen, n_docs = docs->n;
    struct alc_rng rng;
    if (o->max_docs > 0 && o->max_docs < n_docs) {
        n_docs = o->max_docs;
    }
    alc_rng_seed(&rng, o->seed);
    c->docs_used = n_docs;
    for (int64_t i = 0; i < o->nsamples; i++) {
        int32_t *ids = NULL;
        int64_t n = 0, doc = 0;
        for (int draw = 0;; draw++) {
            if (draw == MAX_DRAWS) {
                free(ids);
                alc_diag_errorf(d, "%s: no document of more than %lld "
                                "tokens found in %d draws", o->path,
                                (long long)T, MAX_DRAWS);
                return -1;
            }
            doc = (int64_t)alc_rng_below(&rng, (uint64_t)n_docs);
            free(ids);
            ids = NULL;
            if (alc_tok_encode(t, docs->text[doc], docs->len[doc], 0, &ids,
                               &n, d) != 0) {
                return -1;
            }
            c->n_tokens += n;
            if (n > T) {
                break;
            }
        }
        int64_t s = (int64_t)alc_rng_below(&rng, (uint64_t)(n - T));
        c->start[i] = s;
        c->doc[i] = doc;
        memcpy(c->ids + i * T, ids + s, (size_t)T * sizeof *ids);
        free(ids);
    }
    return 0;
}

static int check_opts(const struct alc_calib_opts *o, struct alc_diag *d)
{
    if (o->path == NULL) {
        alc_diag_errorf(d, "calibration: no file given");
        return -1;
    }
    if (o->nsamples < 1 || o->seqlen < 2) {
        alc_diag_errorf(d, "%s: need at least 1 calibration window of 2 "
                        "tokens (nsamples %d, seqlen %d)", o->path,
                        o->nsamples, o->seqlen);
        return -1;
    }
    if ((int)o->mode < 0 || o->mode >= ALC_CALIB_COUNT) {
        alc_diag_errorf(d, "%s: unknown calibration mode", o->path);
        return -1;
    }
    return 0;
}

int alc_calib_build(struct alc_calib *c, const struct alc_calib_opts *o,
                    const struct alc_tokenizer *t, struct alc_diag *d)
{
    struct alc_docs docs;
    int32_t *stream = NULL;
    int64_t n = 0;
    int rc = -1, have_docs = 0;
    double t0 = alc_now();
    memset(c, 0, sizeof *c);
    if (check_opts(o, d) != 0) {
        return -1;
    }
    c->fmt = o->fmt >= 0 ? (enum alc_data_fmt)o->fmt
                         : alc_data_fmt_guess(o->path);
    if (alc_data_read(o->path, c->fmt, &docs, d) != 0) {
        return -1;
    }
    have_docs = 1;
    c->nsamples = o->nsamples;
    c->seqlen = o->seqlen;
    c->mode = o->mode;
    c->seed = o->seed;
    c->path = strdup(o->path);
    c->file_bytes = docs.file_bytes;
    c->file_hash = docs.file_hash;
    c->docs = docs.n;
    c->eos_id = c->fmt == ALC_DATA_C4 ? alc_tok_eos_id(t) : -1;
    c->ids = malloc((size_t)o->nsamples * (size_t)o->seqlen * sizeof *c->ids);
    c->start = malloc((size_t)o->nsamples * sizeof *c->start);
    c->doc = malloc((size_t)o->nsamples * sizeof *c->doc);
    if (c->path == NULL || c->ids == NULL || c->start == NULL ||
        c->doc == NULL) {
        alc_diag_errorf(d, "%s: out of memory for %d calibration windows",
                        o->path, o->nsamples);
        goto done;
    }
    if (c->fmt == ALC_DATA_C4 && o->mode == ALC_CALIB_RANDOM) {
        rc = cut_c4_random(c, &docs, o, t, d);
        goto done;
    }
    if (build_stream(c, &docs, o, t, &stream, &n, d) != 0) {
        goto done;
    }
    c->n_tokens = n;
    rc = cut_stream(c, o, stream, n, d);
done:
    if (rc == 0) {
        c->ids_hash = alc_hash64(c->ids, (size_t)c->nsamples *
                                             (size_t)c->seqlen * sizeof *c->ids,
                                 0);
        c->seconds = alc_now() - t0;
    } else {
        alc_calib_free(c);
    }
    free(stream);
    if (have_docs) {
        alc_docs_free(&docs);
    }
    return rc;
}

int alc_calib_write_ids(const struct alc_calib *c, const char *path,
                        struct alc_diag *d)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_printf(&sb, "{\"seqlen\": %d, \"nsamples\": %d, \"mode\": \"%s\","
                  " \"ids\": [", c->seqlen, c->nsamples,
                  alc_calib_mode_name[c->mode]);
    for (int i = 0; i < c->nsamples; i++) {
        alc_sb_puts(&sb, i ? ",\n[" : "\n[");
        for (int t = 0; t < c->seqlen; t++) {
            alc_sb_printf(&sb, "%s%d", t ? ", " : "",
                          c->ids[(int64_t)i * c->seqlen + t]);
        }
        alc_sb_putc(&sb, ']');
    }
    alc_sb_puts(&sb, "]}\n");
    int rc = alc_write_file_atomic(path, sb.s, sb.len, d);
    alc_sb_free(&sb);
    return rc;
}
