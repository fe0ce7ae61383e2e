/*
 * tok_bpe.c: the BPE model of the tokenizer. The vocabulary (string -> id)
 * and merge table ((left, right) -> rank, merged id) as open-addressing hash
 * maps, and Hugging Face's merge loop (tokenizers/src/models/bpe/word.rs):
 * a binary heap of candidate merges ordered by (rank, position), stale
 * entries skipped when popped. Called by tokenizer.c for every word.
 */
#include <stdlib.h>

#include "tok_internal.h"

/* ---- Id vector ---- */

void alc_tok_ids_push(struct tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 256;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (v == NULL) {
            abort(); /* out of memory: nothing sensible to do */
        }
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
}

void alc_tok_ids_free(struct tok_ids *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

/* ---- String map ---- */

static uint32_t str_hash(const char *s, size_t n)
{
    /* FNV-1a: short keys, called for every character of every word */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

static int strmap_grow(struct tok_strmap *m)
{
    uint32_t cap = m->cap ? 2 * m->cap : 64;
    struct tok_strent *e = calloc(cap, sizeof *e);
    if (e == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        struct tok_strent *o = &m->ents[i];
        if (o->s == NULL) {
            continue;
        }
        uint32_t j = o->hash & (cap - 1);
        while (e[j].s != NULL) {
            j = (j + 1) & (cap - 1);
        }
        e[j] = *o;
    }
    free(m->ents);
    m->ents = e;
    m->cap = cap;
    return 0;
}

int alc_tok_strmap_put(struct tok_strmap *m, const char *s, size_t n,
                       int32_t val, int32_t *old)
{
    if (n > UINT32_MAX) {
        return -1;
    }
    if (2 * (m->count + 1) > m->cap && strmap_grow(m) != 0) {
        return -1;
    }
    uint32_t h = str_hash(s, n);
    uint32_t j = h & (m->cap - 1);
    while (m->ents[j].s != NULL) {
        struct tok_strent *e = &m->ents[j];
        if (e->hash == h && e->n == n && memcmp(e->s, s, n) == 0) {
            *old = e->val;
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->ents[j] = (struct tok_strent){s, (uint32_t)n, h, val};
    m->count++;
    return 0;
}

int32_t alc_tok_strmap_get(const struct tok_strmap *m, const char *s, size_t n)
{
    if (m->cap == 0) {
        return -1;
    }
    uint32_t h = str_hash(s, n);
    uint32_t j = h & (m->cap - 1);
    while (m->ents[j].s != NULL) {
        const struct tok_strent *e = &m->ents[j];
        if (e->hash == h && e->n == n && memcmp(e->s, s, n) == 0) {
            return e->val;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void alc_tok_strmap_free(struct tok_strmap *m)
{
    free(m->ents);
    m->ents = NULL;
    m->cap = m->count = 0;
}

/* ---- Pair map ---- */

static uint32_t pair_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

static int pairmap_grow(struct tok_pairmap *m)
{
    uint32_t cap = m->cap ? 2 * m->cap : 64;
    struct tok_pairent *e = malloc(cap * sizeof *e);
    if (e == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < cap; i++) {
        e[i].key = UINT64_MAX;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->ents[i].key == UINT64_MAX) {
            continue;
        }
        uint32_t j = pair_hash(m->ents[i].key) & (cap - 1);
        while (e[j].key != UINT64_MAX) {
            j = (j + 1) & (cap - 1);
        }
        e[j] = m->ents[i];
    }
    free(m->ents);
    m->ents = e;
    m->cap = cap;
    return 0;
}

int alc_tok_pairmap_put(struct tok_pairmap *m, int32_t a, int32_t b,
                        uint32_t rank, int32_t new_id)
{
    if (2 * (m->count + 1) > m->cap && pairmap_grow(m) != 0) {
        return -1;
    }
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t j = pair_hash(key) & (m->cap - 1);
    while (m->ents[j].key != UINT64_MAX && m->ents[j].key != key) {
        j = (j + 1) & (m->cap - 1);
    }
    if (m->ents[j].key == UINT64_MAX) {
        m->count++;
    }
    m->ents[j] = (struct tok_pairent){key, rank, new_id};
    return 0;
}

const struct tok_pairent *alc_tok_pairmap_get(const struct tok_pairmap *m,
                                              int32_t a, int32_t b)
{
    if (m->cap == 0) {
        return NULL;
    }
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t j = pair_hash(key) & (m->cap - 1);
    while (m->ents[j].key != UINT64_MAX) {
        if (m->ents[j].key == key) {
            return &m->ents[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void alc_tok_pairmap_free(struct tok_pairmap *m)
{
    free(m->ents);
    m->ents = NULL;
    m->cap = m->count = 0;
}

/* ---- Characters to symbols (BPE::merge_word) ---- */

void alc_tok_bpe_index(struct tok_bpe *m)
{
    char buf[4];
    for (uint32_t cp = 0; cp < TOK_CP_FAST; cp++) {
        size_t k = alc_tok_utf8_put(buf, cp);
        m->cp_ids[cp] = alc_tok_strmap_get(&m->vocab, buf, k);
    }
    for (int b = 0; b < 256; b++) {
        char code[8];
        snprintf(code, sizeof code, "<0x%02X>", b);
        m->byte_ids[b] = alc_tok_strmap_get(&m->vocab, code, 6);
    }
}

int alc_tok_bpe_bigrams(struct tok_bpe *m)
{
    for (uint32_t i = 0; i < m->vocab.cap; i++) {
        const struct tok_strent *e = &m->vocab.ents[i];
        uint32_t prev = TOK_CP_INVALID, cp;
        for (size_t k = 0; e->s != NULL && k < e->n; prev = cp) {
            k += alc_tok_utf8_next(e->s + k, e->n - k, &cp);
            if (prev != TOK_CP_INVALID && cp != TOK_CP_INVALID &&
                alc_tok_pairmap_put(&m->bigrams, (int32_t)prev, (int32_t)cp, 0,
                                    0) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

int32_t alc_tok_bpe_char_id(const struct tok_bpe *m, const char *c, size_t len,
                            uint32_t cp)
{
    if (cp < TOK_CP_FAST) {
        return m->cp_ids[cp];
    }
    return alc_tok_strmap_get(&m->vocab, c, len);
}

void alc_tok_bpe_scratch_free(struct tok_bpe_scratch *s)
{
    free(s->syms);
    free(s->heap);
    alc_sb_free(&s->tmp);
    memset(s, 0, sizeof *s);
}

static void push_sym(struct tok_bpe_scratch *s, int32_t id, size_t len)
{
    if (s->nsym == s->capsym) {
        size_t cap = s->capsym ? 2 * s->capsym : 64;
        struct tok_sym *v = realloc(s->syms, cap * sizeof *v);
        if (v == NULL) {
            abort(); /* out of memory */
        }
        s->syms = v;
        s->capsym = cap;
    }
    int32_t i = (int32_t)s->nsym;
    if (i > 0) {
        s->syms[i - 1].next = i;
    }
    s->syms[i] = (struct tok_sym){id, i - 1, -1, (uint32_t)len};
    s->nsym++;
}

/*
 * The vocabulary id of the character c (len bytes), with the
 * continuing_subword_prefix unless first and the end_of_word_suffix when
 * last; -1 when absent. The affixed string is left in s->tmp.
 */
static int32_t char_id(const struct tok_bpe *m, struct tok_bpe_scratch *s,
                       const char *c, size_t len, uint32_t cp, int first,
                       int last)
{
    int pre = !first && m->prefix_len > 0;
    int suf = last && m->suffix_len > 0;
    alc_sb_reset(&s->tmp);
    if (pre) {
        alc_sb_append(&s->tmp, m->prefix, m->prefix_len);
    }
    alc_sb_append(&s->tmp, c, len);
    if (suf) {
        alc_sb_append(&s->tmp, m->suffix, m->suffix_len);
    }
    if (!pre && !suf && cp < TOK_CP_FAST) {
        return m->cp_ids[cp];
    }
    return alc_tok_strmap_get(&m->vocab, s->tmp.s, s->tmp.len);
}

/* byte_fallback: every byte of the (affixed) character as <0xNN>, only if
 * all of them exist. Returns 1 when the symbols were added. */
static int add_byte_fallback(const struct tok_bpe *m, struct tok_bpe_scratch *s)
{
    const unsigned char *b = (const unsigned char *)s->tmp.s;
    for (size_t i = 0; i < s->tmp.len; i++) {
        if (m->byte_ids[b[i]] < 0) {
            return 0;
        }
    }
    for (size_t i = 0; i < s->tmp.len; i++) {
        push_sym(s, m->byte_ids[b[i]], 1);
    }
    return 1;
}

/* A pending unknown-token run, flushed into the symbols when a known
 * character follows (Hugging Face keeps it aside the same way). */
struct unk_run {
    int32_t id; /* -1: none pending */
    size_t len;
};

/* An unknown character of len bytes, with unk_token set. */
static int add_unknown(const struct tok_bpe *m, struct tok_bpe_scratch *s,
                       struct unk_run *u, size_t len, struct alc_diag *d)
{
    if (u->id >= 0 && m->fuse_unk) {
        u->len += len;
        return 0;
    }
    if (u->id >= 0) {
        push_sym(s, u->id, u->len);
    }
    if (m->unk_id < 0) {
        alc_diag_errorf(d,
                        "tokenizer.json: model.unk_token '%s' is needed "
                        "but is not in model.vocab",
                        m->unk_token);
        return -1;
    }
    u->id = m->unk_id;
    u->len = len;
    return 0;
}

static int word_symbols(const struct tok_bpe *m, const char *w, size_t n,
                        struct tok_bpe_scratch *s, struct alc_diag *d)
{
    struct unk_run u = {-1, 0};
    size_t i = 0;
    s->nsym = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = alc_tok_utf8_next(w + i, n - i, &cp);
        int32_t id = char_id(m, s, w + i, len, cp, i == 0, i + len == n);
        i += len;
        if (id >= 0) {
            if (u.id >= 0) {
                push_sym(s, u.id, u.len);
                u.id = -1;
            }
            push_sym(s, id, len);
        } else if (m->byte_fallback && add_byte_fallback(m, s)) {
            continue; /* a pending unk stays pending, as in HF */
        } else if (m->unk_token != NULL && add_unknown(m, s, &u, len, d) != 0) {
            return -1;
        }
    }
    if (u.id >= 0) {
        push_sym(s, u.id, u.len);
    }
    return 0;
}

/* ---- Merging (Word::merge_all) ---- */

static int merge_less(const struct tok_merge *a, const struct tok_merge *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct tok_bpe_scratch *s, struct tok_merge x)
{
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? 2 * s->capheap : 64;
        struct tok_merge *v = realloc(s->heap, cap * sizeof *v);
        if (v == NULL) {
            abort(); /* out of memory */
        }
        s->heap = v;
        s->capheap = cap;
    }
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&x, &s->heap[p])) {
            break;
        }
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = x;
}

static struct tok_merge heap_pop(struct tok_bpe_scratch *s)
{
    struct tok_merge top = s->heap[0];
    struct tok_merge x = s->heap[--s->nheap];
    size_t n = s->nheap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && merge_less(&s->heap[c + 1], &s->heap[c])) {
            c++;
        }
        if (!merge_less(&s->heap[c], &x)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) {
        s->heap[i] = x;
    }
    return top;
}

/* Queues the merge of the symbol at pos with its right neighbour, if the
 * pair is in the merge table. */
static void queue_pair(const struct tok_bpe *m, struct tok_bpe_scratch *s,
                       int32_t pos)
{
    if (pos < 0 || s->syms[pos].next < 0) {
        return;
    }
    int32_t next = s->syms[pos].next;
    const struct tok_pairent *e =
        alc_tok_pairmap_get(&m->merges, s->syms[pos].id, s->syms[next].id);
    if (e != NULL) {
        heap_push(s, (struct tok_merge){e->rank, (uint32_t)pos, e->new_id});
    }
}

static void merge_all(const struct tok_bpe *m, struct tok_bpe_scratch *s)
{
    s->nheap = 0;
    for (size_t i = 0; i + 1 < s->nsym; i++) {
        queue_pair(m, s, (int32_t)i);
    }
    while (s->nheap > 0) {
        struct tok_merge top = heap_pop(s);
        struct tok_sym *cur = &s->syms[top.pos];
        if (cur->len == 0 || cur->next < 0) {
            continue; /* merged away, or now the last symbol */
        }
        struct tok_sym right = s->syms[cur->next];
        const struct tok_pairent *e =
            alc_tok_pairmap_get(&m->merges, cur->id, right.id);
        if (e == NULL || e->new_id != top.new_id) {
            continue; /* a stale entry: the pair changed since queued */
        }
        s->syms[cur->next].len = 0;
        cur->id = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        if (right.next >= 0) {
            s->syms[right.next].prev = (int32_t)top.pos;
        }
        if (cur->prev >= 0) {
            queue_pair(m, s, cur->prev);
        }
        queue_pair(m, s, (int32_t)top.pos);
    }
}

int alc_tok_bpe_word(const struct tok_bpe *m, const char *w, size_t n,
                     struct tok_bpe_scratch *s, struct tok_ids *out,
                     struct alc_diag *d)
{
    if (n == 0) {
        return 0;
    }
    if (word_symbols(m, w, n, s, d) != 0) {
        return -1;
    }
    merge_all(m, s);
    for (size_t i = 0; i < s->nsym; i++) {
        if (s->syms[i].len != 0) {
            alc_tok_ids_push(out, s->syms[i].id);
        }
    }
    return 0;
}
