/*
 * tokenizer.c: encoding and decoding with a loaded tokenizer.json (the
 * loader is tok_load.c). Encoding follows Hugging Face's
 * Tokenizer::encode step by step:
 *   1. added tokens matched in the raw text (normalized == false);
 *   2. each remaining segment normalized, then added tokens matched in it
 *      (normalized == true);
 *   3. pre-tokenizer steps split and transform each piece into words;
 *   4. BPE (tok_bpe.c) turns each word into ids, with a per-call cache;
 *   5. the post-processor's ids go around the result when asked.
 * Encoding uses only per-call scratch (struct run), so one tokenizer can
 * encode from many threads at once. Called by dsac eval/calibration code,
 * `dsac tokenize` and the tests.
 */
#include <stdlib.h>

#include "tok_internal.h"

/* ---- Per-call state ---- */

/* A slice of the text being split; match says whether a pattern matched
 * it (before the split behaviour is applied). */
struct span {
    size_t start, end;
    int match;
};

struct spans {
    struct span *v;
    size_t n, cap;
};

/* A piece of text between (id < 0) or on (id >= 0) added tokens. */
struct aspan {
    size_t start, end;
    int32_t id;
};

struct aspans {
    struct aspan *v;
    size_t n, cap;
};

/* Scratch of one pre-tokenizer step, kept while its pieces recurse. */
struct level {
    struct alc_sb a;    /* the transformed text of the current piece */
    struct alc_sb b;    /* one byte-mapped sub-piece */
    struct spans spans; /* the split of a */
};

/* Word cache: word bytes -> ids, for this call only. */
struct cache_ent {
    uint32_t hash;
    uint32_t key_len; /* 0: empty slot (empty words are never cached) */
    size_t key_off;   /* into run.ckeys */
    size_t ids_off;   /* into run.cids */
    uint32_t ids_n;
};

struct run {
    const struct alc_tokenizer *t;
    struct alc_diag *d;
    struct tok_ids *out;
    tok_word_fn fn; /* alc_tok_split_words: words go here, not to BPE */
    void *ctx;
    pcre2_match_data *md;
    struct tok_bpe_scratch bpe;
    struct level lv[TOK_MAX_STEPS];
    struct aspans raw, norm;  /* added-token splits of the two stages */
    struct alc_sb clean;      /* input with ill-formed UTF-8 replaced */
    struct alc_sb nbuf, ntmp; /* normalizer output and ping-pong */
    struct cache_ent *cache;
    uint32_t ccap, ccount;
    struct alc_sb ckeys;
    struct tok_ids cids;
    size_t limit; /* largest intermediate string accepted */
};

#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1u << 20)

static void run_init(struct run *r, const struct alc_tokenizer *t,
                     struct tok_ids *out, size_t len, struct alc_diag *d)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->d = d;
    r->out = out;
    r->limit = 64 * len + (1u << 20);
    alc_sb_init(&r->clean);
    alc_sb_init(&r->nbuf);
    alc_sb_init(&r->ntmp);
    alc_sb_init(&r->ckeys);
    alc_sb_init(&r->bpe.tmp);
    for (int i = 0; i < TOK_MAX_STEPS; i++) {
        alc_sb_init(&r->lv[i].a);
        alc_sb_init(&r->lv[i].b);
    }
}

static void run_free(struct run *r)
{
    if (r->md != NULL) {
        pcre2_match_data_free(r->md);
    }
    alc_tok_bpe_scratch_free(&r->bpe);
    for (int i = 0; i < TOK_MAX_STEPS; i++) {
        alc_sb_free(&r->lv[i].a);
        alc_sb_free(&r->lv[i].b);
        free(r->lv[i].spans.v);
    }
    free(r->raw.v);
    free(r->norm.v);
    alc_sb_free(&r->clean);
    alc_sb_free(&r->nbuf);
    alc_sb_free(&r->ntmp);
    free(r->cache);
    alc_sb_free(&r->ckeys);
    alc_tok_ids_free(&r->cids);
}

static int check_size(struct run *r, size_t n)
{
    if (n <= r->limit) {
        return 0;
    }
    alc_diag_errorf(r->d,
                    "tokenizer: normalized text grew to %zu bytes "
                    "(limit %zu); the normalizer or pre-tokenizer "
                    "steps expand it without bound",
                    n, r->limit);
    return -1;
}

static void spans_push(struct spans *s, size_t start, size_t end, int match)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct span *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            abort(); /* out of memory */
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct span){start, end, match};
}

static void aspans_push(struct aspans *s, size_t start, size_t end, int32_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        struct aspan *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            abort(); /* out of memory */
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct aspan){start, end, id};
}

/* ---- Pattern matching (Hugging Face's Pattern::find_matches) ---- */

static int regex_error(struct run *r, int rc)
{
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    alc_diag_errorf(r->d, "tokenizer: regex match failed: %s", (char *)msg);
    return -1;
}

/* One regex search from pos; returns 1 with [*ms, *me) on a match, 0 when
 * there is none, -1 on error (match limit). */
static int regex_find(struct run *r, const pcre2_code *re, const char *s,
                      size_t n, size_t pos, size_t *ms, size_t *me)
{
    if (r->md == NULL) {
        r->md = pcre2_match_data_create(1, NULL);
        if (r->md == NULL) {
            abort(); /* out of memory */
        }
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, 0, r->md, r->t->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_JIT, r->md,
                         r->t->mctx);
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    if (rc < 0) {
        return regex_error(r, rc);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

/* Regex matches, with the find_iter rule of the onig crate: an empty match
 * right where the previous match ended is skipped by one character. */
static int find_regex(struct run *r, const pcre2_code *re, const char *s,
                      size_t n, struct spans *out)
{
    size_t prev = 0, pos = 0, last_end = (size_t)-1;
    while (pos <= n) {
        size_t ms, me;
        int rc = regex_find(r, re, s, n, pos, &ms, &me);
        if (rc <= 0) {
            if (rc < 0) {
                return -1;
            }
            break;
        }
        if (ms == me && me == last_end) {
            uint32_t cp;
            pos = me < n ? me + alc_tok_utf8_next(s + me, n - me, &cp) : n + 1;
            continue;
        }
        if (prev != ms) {
            spans_push(out, prev, ms, 0);
        }
        spans_push(out, ms, me, 1);
        prev = pos = last_end = me;
    }
    if (prev != n) {
        spans_push(out, prev, n, 0);
    }
    return 0;
}

static void find_literal(const struct tok_pattern *p, const char *s, size_t n,
                         struct spans *out)
{
    size_t prev = 0, pos = 0;
    while (pos < n) {
        const char *m = memmem(s + pos, n - pos, p->lit, p->lit_len);
        if (m == NULL) {
            break;
        }
        size_t ms = (size_t)(m - s);
        if (prev != ms) {
            spans_push(out, prev, ms, 0);
        }
        spans_push(out, ms, ms + p->lit_len, 1);
        prev = pos = ms + p->lit_len;
    }
    if (prev != n) {
        spans_push(out, prev, n, 0);
    }
}

/* Splits s into matched and unmatched spans covering it; the empty string
 * gives one empty unmatched span. */
static int find_matches(struct run *r, const struct tok_pattern *p,
                        const char *s, size_t n, struct spans *out)
{
    out->n = 0;
    if (n == 0) {
        spans_push(out, 0, 0, 0);
        return 0;
    }
    if (p->lit_len > 0) {
        find_literal(p, s, n, out);
        return 0;
    }
    return find_regex(r, p->re, s, n, out);
}

/* Appends s with every match of p replaced by with. */
static int replace_all(struct run *r, const struct tok_pattern *p,
                       const char *with, size_t with_len, const char *s,
                       size_t n, struct alc_sb *out, struct spans *tmp)
{
    if (p->lit_len > 0) {
        /* a literal streams: no span list over a long text */
        const char *end = s + n;
        while (s < end) {
            const char *m = memmem(s, (size_t)(end - s), p->lit, p->lit_len);
            size_t k = m != NULL ? (size_t)(m - s) : (size_t)(end - s);
            alc_sb_append(out, s, k);
            if (m == NULL) {
                break;
            }
            alc_sb_append(out, with, with_len);
            s = m + p->lit_len;
        }
        return 0;
    }
    if (find_matches(r, p, s, n, tmp) != 0) {
        return -1;
    }
    for (size_t i = 0; i < tmp->n; i++) {
        const struct span *sp = &tmp->v[i];
        if (sp->match) {
            alc_sb_append(out, with, with_len);
        } else {
            alc_sb_append(out, s + sp->start, sp->end - sp->start);
        }
    }
    return 0;
}

/* ---- Split behaviours (NormalizedString::split) ---- */

/* Rewrites the spans per behaviour; afterwards match = 1 means "drop". */
static void apply_behavior(struct spans *sp, enum tok_split_behavior b,
                           int invert)
{
    size_t n = 0;
    int prev_match = 0;
    if (invert) {
        for (size_t i = 0; i < sp->n; i++) {
            sp->v[i].match = !sp->v[i].match;
        }
    }
    if (b == TOK_SPLIT_REMOVED) {
        return;
    }
    if (b == TOK_SPLIT_MERGED_NEXT) {
        /* fold from the right: a match joins the piece after it */
        size_t w = sp->n;
        for (size_t i = sp->n; i-- > 0;) {
            struct span x = sp->v[i];
            if (x.match && !prev_match && w < sp->n) {
                sp->v[w].start = x.start;
            } else {
                sp->v[--w] = (struct span){x.start, x.end, 0};
            }
            prev_match = x.match;
        }
        memmove(sp->v, sp->v + w, (sp->n - w) * sizeof *sp->v);
        sp->n -= w;
        return;
    }
    for (size_t i = 0; i < sp->n; i++) {
        struct span x = sp->v[i];
        int join = 0;
        if (b == TOK_SPLIT_CONTIGUOUS) {
            join = x.match == prev_match && n > 0;
        } else if (b == TOK_SPLIT_MERGED_PREV) {
            join = x.match && !prev_match && n > 0;
        }
        if (join) {
            sp->v[n - 1].end = x.end;
        } else {
            sp->v[n++] = (struct span){x.start, x.end, 0};
        }
        prev_match = x.match;
    }
    sp->n = n;
}

/* ---- Words to ids ---- */

static uint32_t word_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h | 1u;
}

static struct cache_ent *cache_slot(struct run *r, const char *w, size_t n,
                                    uint32_t h)
{
    uint32_t j = h & (r->ccap - 1);
    for (;;) {
        struct cache_ent *e = &r->cache[j];
        if (e->key_len == 0) {
            return e;
        }
        if (e->hash == h && e->key_len == n &&
            memcmp(r->ckeys.s + e->key_off, w, n) == 0) {
            return e;
        }
        j = (j + 1) & (r->ccap - 1);
    }
}

static void cache_grow(struct run *r)
{
    uint32_t old = r->ccap;
    struct cache_ent *olde = r->cache;
    r->ccap = old ? 2 * old : 4096;
    r->cache = calloc(r->ccap, sizeof *r->cache);
    if (r->cache == NULL) {
        abort(); /* out of memory */
    }
    for (uint32_t i = 0; i < old; i++) {
        if (olde[i].key_len == 0) {
            continue;
        }
        uint32_t j = olde[i].hash & (r->ccap - 1);
        while (r->cache[j].key_len != 0) {
            j = (j + 1) & (r->ccap - 1);
        }
        r->cache[j] = olde[i];
    }
    free(olde);
}

static void cache_put(struct run *r, const char *w, size_t n, uint32_t h,
                      size_t first)
{
    if (r->ccount >= CACHE_MAX_ENTRIES) {
        return;
    }
    if (2 * (r->ccount + 1) > r->ccap) {
        cache_grow(r);
    }
    struct cache_ent *e = cache_slot(r, w, n, h);
    e->hash = h;
    e->key_len = (uint32_t)n;
    e->key_off = r->ckeys.len;
    alc_sb_append(&r->ckeys, w, n);
    e->ids_off = r->cids.n;
    e->ids_n = (uint32_t)(r->out->n - first);
    for (size_t i = first; i < r->out->n; i++) {
        alc_tok_ids_push(&r->cids, r->out->v[i]);
    }
    r->ccount++;
}

/* BPE of a word through the cache (short words only). */
static int word_cached(struct run *r, const char *w, size_t n)
{
    const struct tok_bpe *m = &r->t->bpe;
    if (n > CACHE_MAX_WORD) {
        return alc_tok_bpe_word(m, w, n, &r->bpe, r->out, r->d);
    }
    uint32_t h = word_hash(w, n);
    if (r->ccap > 0) {
        struct cache_ent *e = cache_slot(r, w, n, h);
        if (e->key_len != 0) {
            for (uint32_t i = 0; i < e->ids_n; i++) {
                alc_tok_ids_push(r->out, r->cids.v[e->ids_off + i]);
            }
            return 0;
        }
    }
    size_t first = r->out->n;
    if (alc_tok_bpe_word(m, w, n, &r->bpe, r->out, r->d) != 0) {
        return -1;
    }
    cache_put(r, w, n, h, first);
    return 0;
}

/*
 * A long word cut into pieces that merge independently: between two
 * characters that are tokens themselves and that no vocabulary token holds
 * side by side. A merge result spanning such a point would be a token
 * holding that pair, so no merge crosses it and the ids are the same as
 * merging the whole word at once (SentencePiece-style text, which has no
 * pre-tokenizer, becomes cacheable words this way).
 */
static int word_cut(struct run *r, const char *w, size_t n)
{
    const struct tok_bpe *m = &r->t->bpe;
    size_t start = 0, i = 0;
    uint32_t prev = TOK_CP_INVALID;
    int prev_known = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = alc_tok_utf8_next(w + i, n - i, &cp);
        int known =
            cp != TOK_CP_INVALID && alc_tok_bpe_char_id(m, w + i, len, cp) >= 0;
        if (known && prev_known && i > start &&
            alc_tok_pairmap_get(&m->bigrams, (int32_t)prev, (int32_t)cp) ==
                NULL) {
            if (word_cached(r, w + start, i - start) != 0) {
                return -1;
            }
            start = i;
        }
        prev = cp;
        prev_known = known;
        i += len;
    }
    return word_cached(r, w + start, n - start);
}

/* One pre-tokenized word: ignore_merges lookup, then cut / cache / BPE. */
static int word(struct run *r, const char *w, size_t n)
{
    const struct tok_bpe *m = &r->t->bpe;
    if (r->fn != NULL) {
        r->fn(r->ctx, w, n, -1);
        return 0;
    }
    if (m->ignore_merges) {
        int32_t id = alc_tok_strmap_get(&m->vocab, w, n);
        if (id >= 0) {
            alc_tok_ids_push(r->out, id);
            return 0;
        }
    }
    if (n > CACHE_MAX_WORD && m->bigrams.count > 0) {
        return word_cut(r, w, n);
    }
    return word_cached(r, w, n);
}

static void emit_added(struct run *r, int32_t id, const char *s, size_t n)
{
    if (r->fn != NULL) {
        r->fn(r->ctx, s, n, id);
    } else {
        alc_tok_ids_push(r->out, id);
    }
}

/* ---- Pre-tokenizer steps ---- */

static int pretok(struct run *r, int level, const char *s, size_t n,
                  int at_start);

/* Recurses into every kept, non-empty span of lv->spans over s. */
static int pretok_spans(struct run *r, int level, const char *s,
                        const struct spans *sp, int at_start)
{
    for (size_t i = 0; i < sp->n; i++) {
        const struct span *x = &sp->v[i];
        if (x->match || x->end == x->start) {
            continue;
        }
        if (pretok(r, level + 1, s + x->start, x->end - x->start,
                   at_start && x->start == 0) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Split: pattern matches, then the behaviour (pre_tokenizers::split). */
static int step_split(struct run *r, int level, const struct tok_pre *p,
                      const char *s, size_t n, int at_start)
{
    struct level *lv = &r->lv[level];
    if (find_matches(r, &p->pat, s, n, &lv->spans) != 0) {
        return -1;
    }
    apply_behavior(&lv->spans, p->behavior, p->invert);
    return pretok_spans(r, level, s, &lv->spans, at_start);
}

/* ByteLevel: optional leading space, the GPT-2 split, then every byte as
 * its printable character (pre_tokenizers::byte_level). */
static int step_bytelevel(struct run *r, int level, const struct tok_pre *p,
                          const char *s, size_t n, int at_start)
{
    struct level *lv = &r->lv[level];
    if (p->add_prefix_space && (n == 0 || s[0] != ' ')) {
        alc_sb_reset(&lv->a);
        alc_sb_putc(&lv->a, ' ');
        alc_sb_append(&lv->a, s, n);
        s = lv->a.s;
        n = lv->a.len;
    }
    lv->spans.n = 0;
    if (p->pat.re != NULL) {
        if (find_matches(r, &p->pat, s, n, &lv->spans) != 0) {
            return -1;
        }
    } else {
        spans_push(&lv->spans, 0, n, 0);
    }
    for (size_t i = 0; i < lv->spans.n; i++) {
        const struct span *x = &lv->spans.v[i];
        if (x->end == x->start) {
            continue;
        }
        alc_sb_reset(&lv->b);
        for (size_t k = x->start; k < x->end; k++) {
            char buf[4];
            uint32_t cp = alc_tok_byte_char((unsigned char)s[k]);
            alc_sb_append(&lv->b, buf, alc_tok_utf8_put(buf, cp));
        }
        if (pretok(r, level + 1, lv->b.s, lv->b.len,
                   at_start && x->start == 0) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Metaspace: ' ' -> replacement, prepend per scheme, split before each
 * replacement character (pre_tokenizers::metaspace). */
static int step_metaspace(struct run *r, int level, const struct tok_pre *p,
                          const char *s, size_t n, int at_start)
{
    struct level *lv = &r->lv[level];
    if (n == 0) {
        return 0;
    }
    alc_sb_reset(&lv->a);
    int starts = n >= p->text_len && memcmp(s, p->text, p->text_len) == 0;
    if (s[0] == ' ') {
        starts = 1; /* becomes the replacement below */
    }
    if (!starts && (p->prepend == TOK_PREPEND_ALWAYS ||
                    (p->prepend == TOK_PREPEND_FIRST && at_start))) {
        alc_sb_append(&lv->a, p->text, p->text_len);
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            alc_sb_append(&lv->a, p->text, p->text_len);
        } else {
            alc_sb_putc(&lv->a, s[i]);
        }
    }
    if (check_size(r, lv->a.len) != 0) {
        return -1;
    }
    lv->spans.n = 0;
    if (p->split) {
        find_literal(&p->pat, lv->a.s, lv->a.len, &lv->spans);
        apply_behavior(&lv->spans, TOK_SPLIT_MERGED_NEXT, 0);
    } else {
        spans_push(&lv->spans, 0, lv->a.len, 0);
    }
    return pretok_spans(r, level, lv->a.s, &lv->spans, at_start);
}

static int pretok(struct run *r, int level, const char *s, size_t n,
                  int at_start)
{
    if (level == r->t->n_pre) {
        return word(r, s, n);
    }
    const struct tok_pre *p = &r->t->pres[level];
    switch (p->kind) {
    case TOK_PRE_SPLIT:
        return step_split(r, level, p, s, n, at_start);
    case TOK_PRE_BYTELEVEL:
        return step_bytelevel(r, level, p, s, n, at_start);
    case TOK_PRE_METASPACE:
        return step_metaspace(r, level, p, s, n, at_start);
    default:
        return -1;
    }
}

/* ---- Normalizers ---- */

static int strip(const char *s, size_t n, int left, int right,
                 struct alc_sb *out)
{
    size_t a = 0, b = n;
    while (left && a < b) {
        uint32_t cp;
        size_t k = alc_tok_utf8_next(s + a, b - a, &cp);
        if (!alc_tok_is_space(cp)) {
            break;
        }
        a += k;
    }
    while (right && b > a) {
        size_t k = 1;
        while (k < 4 && b - k > a && ((unsigned char)s[b - k] & 0xC0) == 0x80) {
            k++;
        }
        uint32_t cp;
        size_t got = alc_tok_utf8_next(s + b - k, k, &cp);
        if (got != k || !alc_tok_is_space(cp)) {
            break;
        }
        b -= k;
    }
    alc_sb_append(out, s + a, b - a);
    return 0;
}

static int norm_step(struct run *r, const struct tok_norm *nm, const char *s,
                     size_t n, struct alc_sb *out)
{
    switch (nm->kind) {
    case TOK_NORM_PREPEND:
        if (n > 0) {
            alc_sb_append(out, nm->text, nm->text_len);
        }
        alc_sb_append(out, s, n);
        return 0;
    case TOK_NORM_REPLACE:
        return replace_all(r, &nm->pat, nm->text, nm->text_len, s, n, out,
                           &r->lv[0].spans);
    case TOK_NORM_STRIP:
        return strip(s, n, nm->left, nm->right, out);
    case TOK_NORM_UNICODE:
        return alc_tok_unicode_apply(nm->form, out, s, n, r->d);
    default:
        return -1;
    }
}

/* Normalizes s into r->nbuf, steps alternating between nbuf and ntmp. */
static int normalize_run(struct run *r, const char *s, size_t n)
{
    struct alc_sb *bufs[2] = {&r->ntmp, &r->nbuf};
    const char *src = s;
    size_t len = n;
    alc_sb_reset(&r->nbuf);
    if (r->t->n_norm == 0) {
        alc_sb_append(&r->nbuf, s, n);
        return 0;
    }
    for (int i = 0; i < r->t->n_norm; i++) {
        struct alc_sb *dst = bufs[i % 2];
        alc_sb_reset(dst);
        alc_sb_append(dst, "", 0); /* never NULL, even when empty */
        if (norm_step(r, &r->t->norms[i], src, len, dst) != 0 ||
            check_size(r, dst->len) != 0) {
            return -1;
        }
        src = dst->s;
        len = dst->len;
    }
    if (src != r->nbuf.s) {
        struct alc_sb x = r->nbuf;
        r->nbuf = r->ntmp;
        r->ntmp = x;
    }
    return 0;
}

int alc_tok_normalize(const struct alc_tokenizer *t, const char *s, size_t n,
                      struct alc_sb *out, struct alc_diag *d)
{
    struct tok_ids none = {0};
    struct run r;
    run_init(&r, t, &none, n, d);
    int rc = normalize_run(&r, s, n);
    if (rc == 0) {
        alc_sb_append(out, alc_sb_str(&r.nbuf), r.nbuf.len);
    }
    run_free(&r);
    return rc;
}

/* ---- Added tokens (AddedVocabulary::find_matches) ---- */

/* The last character before pos, or TOK_CP_INVALID at the start. */
static uint32_t char_before(const char *s, size_t pos)
{
    size_t k = 1;
    uint32_t cp = TOK_CP_INVALID;
    if (pos == 0) {
        return cp;
    }
    while (k < 4 && k < pos && ((unsigned char)s[pos - k] & 0xC0) == 0x80) {
        k++;
    }
    if (alc_tok_utf8_next(s + pos - k, k, &cp) != k) {
        cp = TOK_CP_INVALID;
    }
    return cp;
}

/* Longest added token of the matcher at s[pos..n), or -1. */
static int longest_at(const struct alc_tokenizer *t,
                      const struct tok_matcher *mt, const char *s, size_t n,
                      size_t pos)
{
    unsigned b = (unsigned char)s[pos];
    for (int32_t k = mt->start[b]; k < mt->start[b + 1]; k++) {
        const struct tok_added *a = &t->added[mt->order[k]];
        if (a->match_len <= n - pos &&
            memcmp(s + pos, a->match, a->match_len) == 0) {
            return mt->order[k];
        }
    }
    return -1;
}

static int single_word_ok(const char *s, size_t n, size_t start, size_t end)
{
    uint32_t cp = char_before(s, start);
    if (start > 0 && cp != TOK_CP_INVALID && alc_tok_is_word(cp)) {
        return 0;
    }
    if (end < n) {
        alc_tok_utf8_next(s + end, n - end, &cp);
        if (cp != TOK_CP_INVALID && alc_tok_is_word(cp)) {
            return 0;
        }
    }
    return 1;
}

static size_t lstrip_to(const char *s, size_t start)
{
    while (start > 0) {
        uint32_t cp = char_before(s, start);
        if (cp == TOK_CP_INVALID || !alc_tok_is_space(cp)) {
            break;
        }
        char buf[4];
        start -= alc_tok_utf8_put(buf, cp);
    }
    return start;
}

static size_t rstrip_to(const char *s, size_t n, size_t end)
{
    while (end < n) {
        uint32_t cp;
        size_t k = alc_tok_utf8_next(s + end, n - end, &cp);
        if (cp == TOK_CP_INVALID || !alc_tok_is_space(cp)) {
            break;
        }
        end += k;
    }
    return end;
}

/* Splits s into text and added-token spans (leftmost-longest, with the
 * single_word / lstrip / rstrip rules). */
static void find_added(const struct alc_tokenizer *t,
                       const struct tok_matcher *mt, const char *s, size_t n,
                       struct aspans *out)
{
    size_t done = 0, pos = 0;
    out->n = 0;
    while (mt->n > 0 && pos < n) {
        int k = longest_at(t, mt, s, n, pos);
        if (k < 0) {
            pos++;
            continue;
        }
        const struct tok_added *a = &t->added[k];
        size_t start = pos, end = pos + a->match_len;
        pos = end; /* the search resumes after the match either way */
        if (start < done ||
            (a->single_word && !single_word_ok(s, n, start, end))) {
            continue;
        }
        if (a->lstrip) {
            start = lstrip_to(s, start);
            start = start > done ? start : done;
        }
        if (a->rstrip) {
            end = rstrip_to(s, n, end);
        }
        if (done < start) {
            aspans_push(out, done, start, -1);
        }
        aspans_push(out, start, end, a->id);
        done = end;
    }
    if (done < n) {
        aspans_push(out, done, n, -1);
    }
}

/* ---- Encoding ---- */

/* One segment of raw text between non-normalized added tokens. */
static int segment(struct run *r, const char *s, size_t n, int at_start)
{
    const struct alc_tokenizer *t = r->t;
    if (t->n_norm > 0) {
        if (normalize_run(r, s, n) != 0) {
            return -1;
        }
        s = r->nbuf.s;
        n = r->nbuf.len;
    }
    find_added(t, &t->norm_match, s, n, &r->norm);
    for (size_t i = 0; i < r->norm.n; i++) {
        const struct aspan *x = &r->norm.v[i];
        if (x->id >= 0) {
            emit_added(r, x->id, s + x->start, x->end - x->start);
        } else if (pretok(r, 0, s + x->start, x->end - x->start,
                          at_start && x->start == 0) != 0) {
            return -1;
        }
    }
    return 0;
}

static int encode_text(struct run *r, const char *text, size_t len)
{
    const struct alc_tokenizer *t = r->t;
    if (!t->byte_level && alc_tok_utf8_valid_prefix(text, len) != len) {
        alc_tok_utf8_sanitize(&r->clean, text, len);
        text = r->clean.s;
        len = r->clean.len;
    }
    find_added(t, &t->raw_match, text, len, &r->raw);
    for (size_t i = 0; i < r->raw.n; i++) {
        const struct aspan *x = &r->raw.v[i];
        const char *s = text + x->start;
        size_t n = x->end - x->start;
        if (x->id >= 0) {
            emit_added(r, x->id, s, n);
        } else if (segment(r, s, n, x->start == 0) != 0) {
            return -1;
        }
    }
    return 0;
}

int alc_tok_split_words(const struct alc_tokenizer *t, const char *text,
                        size_t len, tok_word_fn fn, void *ctx,
                        struct alc_diag *d)
{
    struct tok_ids none = {0};
    struct run r;
    run_init(&r, t, &none, len, d);
    r.fn = fn;
    r.ctx = ctx;
    int rc = encode_text(&r, text == NULL ? "" : text, len);
    run_free(&r);
    return rc;
}

int alc_tok_encode(const struct alc_tokenizer *t, const char *text, size_t len,
                   int add_special, int32_t **ids, int64_t *n,
                   struct alc_diag *d)
{
    struct tok_ids out = {0};
    struct run r;
    int rc = -1;
    *ids = NULL;
    *n = 0;
    run_init(&r, t, &out, len, d);
    if (add_special) {
        for (int i = 0; i < t->n_prefix; i++) {
            alc_tok_ids_push(&out, t->prefix_ids[i]);
        }
    }
    if (encode_text(&r, text == NULL ? "" : text, len) != 0) {
        goto done;
    }
    if (add_special) {
        for (int i = 0; i < t->n_suffix; i++) {
            alc_tok_ids_push(&out, t->suffix_ids[i]);
        }
    }
    alc_tok_ids_push(&out, 0); /* so that an empty result is not NULL */
    *ids = out.v;
    *n = (int64_t)out.n - 1;
    out.v = NULL;
    rc = 0;
done:
    alc_tok_ids_free(&out);
    run_free(&r);
    return rc;
}

/* ---- Decoding ---- */

/* A list of token strings: token i is buf[off[i] .. off[i + 1]). */
struct toklist {
    struct alc_sb buf;
    size_t *off;
    size_t n, cap;
};

static void tl_end_token(struct toklist *l)
{
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        size_t *o = realloc(l->off, cap * sizeof *o);
        if (o == NULL) {
            abort(); /* out of memory */
        }
        l->off = o;
        l->cap = cap;
    }
    if (l->n == 0) {
        l->off[0] = 0;
    }
    l->off[++l->n] = l->buf.len;
}

static void tl_reset(struct toklist *l)
{
    alc_sb_reset(&l->buf);
    l->n = 0;
}

static void tl_free(struct toklist *l)
{
    alc_sb_free(&l->buf);
    free(l->off);
}

static const char *tl_tok(const struct toklist *l, size_t i, size_t *len)
{
    *len = l->off[i + 1] - l->off[i];
    return alc_sb_str(&l->buf) + l->off[i];
}

/* ByteLevel: each token's characters back to bytes; a token with a
 * character outside the table is kept as it is. All tokens join. */
static void dec_bytelevel(const struct toklist *in, struct toklist *out)
{
    for (size_t i = 0; i < in->n; i++) {
        size_t n, at = out->buf.len, k = 0;
        const char *s = tl_tok(in, i, &n);
        while (k < n) {
            uint32_t cp;
            k += alc_tok_utf8_next(s + k, n - k, &cp);
            int b = cp == TOK_CP_INVALID ? -1 : alc_tok_char_byte(cp);
            if (b < 0) {
                out->buf.len = at;
                alc_sb_append(&out->buf, s, n);
                break;
            }
            alc_sb_putc(&out->buf, (char)b);
        }
    }
    tl_end_token(out);
}

/* Metaspace: replacement -> ' ', dropped in the first token unless the
 * scheme is "never". */
static void dec_metaspace(const struct tok_dec *dc, const struct toklist *in,
                          struct toklist *out)
{
    for (size_t i = 0; i < in->n; i++) {
        size_t n, k = 0;
        const char *s = tl_tok(in, i, &n);
        while (k < n) {
            if (n - k >= dc->text_len &&
                memcmp(s + k, dc->text, dc->text_len) == 0) {
                if (i != 0 || dc->prepend == TOK_PREPEND_NEVER) {
                    alc_sb_putc(&out->buf, ' ');
                }
                k += dc->text_len;
            } else {
                alc_sb_putc(&out->buf, s[k++]);
            }
        }
        tl_end_token(out);
    }
}

/* The byte of a "<0xNN>" token, or -1. */
static int byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') {
        return -1;
    }
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int h = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (h < 0) {
            return -1;
        }
        v = 16 * v + h;
    }
    return v;
}

/* Flushes collected fallback bytes: as text if valid UTF-8, else one
 * U+FFFD per byte (decoders::byte_fallback). */
static void flush_bytes(struct alc_sb *bytes, struct toklist *out)
{
    if (bytes->len == 0) {
        return;
    }
    if (alc_tok_utf8_valid_prefix(bytes->s, bytes->len) == bytes->len) {
        alc_sb_append(&out->buf, bytes->s, bytes->len);
        tl_end_token(out);
    } else {
        for (size_t i = 0; i < bytes->len; i++) {
            alc_sb_append(&out->buf, "\xEF\xBF\xBD", 3);
            tl_end_token(out);
        }
    }
    alc_sb_reset(bytes);
}

static void dec_bytefallback(const struct toklist *in, struct toklist *out)
{
    struct alc_sb bytes;
    alc_sb_init(&bytes);
    for (size_t i = 0; i < in->n; i++) {
        size_t n;
        const char *s = tl_tok(in, i, &n);
        int b = byte_token(s, n);
        if (b >= 0) {
            alc_sb_putc(&bytes, (char)b);
            continue;
        }
        flush_bytes(&bytes, out);
        alc_sb_append(&out->buf, s, n);
        tl_end_token(out);
    }
    flush_bytes(&bytes, out);
    alc_sb_free(&bytes);
}

/* Strip: up to start copies of the character at the front of each token,
 * up to stop at the back. */
static void dec_strip(const struct tok_dec *dc, const struct toklist *in,
                      struct toklist *out)
{
    size_t c = dc->text_len;
    for (size_t i = 0; i < in->n; i++) {
        size_t n;
        const char *s = tl_tok(in, i, &n);
        for (int k = 0; k < dc->start && n >= c && memcmp(s, dc->text, c) == 0;
             k++) {
            s += c;
            n -= c;
        }
        for (int k = 0;
             k < dc->stop && n >= c && memcmp(s + n - c, dc->text, c) == 0;
             k++) {
            n -= c;
        }
        alc_sb_append(&out->buf, s, n);
        tl_end_token(out);
    }
}

static int dec_step(struct run *r, const struct tok_dec *dc,
                    const struct toklist *in, struct toklist *out)
{
    switch (dc->kind) {
    case TOK_DEC_BYTELEVEL:
        dec_bytelevel(in, out);
        return 0;
    case TOK_DEC_METASPACE:
        dec_metaspace(dc, in, out);
        return 0;
    case TOK_DEC_REPLACE:
        for (size_t i = 0; i < in->n; i++) {
            size_t n;
            const char *s = tl_tok(in, i, &n);
            if (replace_all(r, &dc->pat, dc->text, dc->text_len, s, n,
                            &out->buf, &r->lv[0].spans) != 0) {
                return -1;
            }
            tl_end_token(out);
        }
        return 0;
    case TOK_DEC_BYTEFALLBACK:
        dec_bytefallback(in, out);
        return 0;
    case TOK_DEC_FUSE:
        alc_sb_append(&out->buf, alc_sb_str(&in->buf), in->buf.len);
        tl_end_token(out);
        return 0;
    case TOK_DEC_STRIP:
        dec_strip(dc, in, out);
        return 0;
    default:
        return -1;
    }
}

/* The token strings of ids: unknown ids dropped, special ones if asked. */
static void decode_tokens(const struct alc_tokenizer *t, const int32_t *ids,
                          int64_t n, int skip_special, struct toklist *l)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || t->pieces[id] == NULL ||
            (skip_special && t->special[id])) {
            continue;
        }
        alc_sb_append(&l->buf, t->pieces[id], t->piece_len[id]);
        tl_end_token(l);
    }
}

/* The pieces join with "" after a decoder, with " " without one. */
static char *join_tokens(const struct alc_tokenizer *t, const struct toklist *l,
                         size_t *len)
{
    struct alc_sb s;
    alc_sb_init(&s);
    for (size_t i = 0; i < l->n; i++) {
        size_t k;
        const char *p = tl_tok(l, i, &k);
        if (i > 0 && t->n_dec == 0) {
            alc_sb_putc(&s, ' ');
        }
        alc_sb_append(&s, p, k);
    }
    if (len != NULL) {
        *len = s.len;
    }
    return alc_sb_take(&s);
}

char *alc_tok_decode_len(const struct alc_tokenizer *t, const int32_t *ids,
                         int64_t n, int skip_special, size_t *len)
{
    struct toklist a = {0}, b = {0};
    struct toklist *cur = &a, *next = &b;
    struct alc_diag d;
    struct run r;
    char *res = NULL;
    alc_diag_init(&d);
    run_init(&r, t, NULL, 0, &d);
    decode_tokens(t, ids, n, skip_special, cur);
    for (int i = 0; i < t->n_dec && cur->n > 0; i++) {
        tl_reset(next);
        if (dec_step(&r, &t->decs[i], cur, next) != 0) {
            goto done;
        }
        struct toklist *x = cur;
        cur = next;
        next = x;
    }
    res = join_tokens(t, cur, len);
done:
    tl_free(&a);
    tl_free(&b);
    run_free(&r);
    alc_diag_free(&d);
    return res;
}

char *alc_tok_decode(const struct alc_tokenizer *t, const int32_t *ids,
                     int64_t n, int skip_special)
{
    return alc_tok_decode_len(t, ids, n, skip_special, NULL);
}

/* ---- Accessors ---- */

int alc_tok_vocab_size(const struct alc_tokenizer *t)
{
    return t->n_ids;
}

int alc_tok_bos_id(const struct alc_tokenizer *t)
{
    return t->n_prefix > 0 ? t->prefix_ids[0] : -1;
}

int alc_tok_eos_id(const struct alc_tokenizer *t)
{
    return t->eos_id;
}

const char *alc_tok_piece(const struct alc_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_ids) {
        return NULL;
    }
    return t->pieces[id];
}
