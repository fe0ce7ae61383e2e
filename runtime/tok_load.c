/*
 * tok_load.c: reads a Hugging Face tokenizer.json (and tokenizer_config.json
 * when present) into a struct alc_tokenizer, checking every field it uses.
 * Supported: model BPE (merges as "a b" strings or ["a", "b"] pairs,
 * byte_fallback, unk/fuse_unk, ignore_merges, subword prefix/suffix);
 * normalizers Sequence, Prepend, Replace, Strip, Lowercase, NFC, NFD, NFKC,
 * NFKD; pre-tokenizers Sequence, ByteLevel, Split, Metaspace, Digits,
 * Whitespace, WhitespaceSplit, Punctuation; post-processors
 * TemplateProcessing, ByteLevel, Roberta/BertProcessing, Sequence; decoders
 * Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip.
 * Anything else is one error naming the file and the field. Called through
 * alc_tok_load / alc_tok_load_json (tokenizer.h).
 */
#include <math.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "tok_internal.h"

/* The split pattern of GPT-2's ByteLevel pre-tokenizer (use_regex). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)|\\s+";

/* Rust's char::is_whitespace, for WhitespaceSplit. */
static const char space_pattern[] = "\\p{White_Space}";

/* The Rust regex crate's \\w+|[^\\w\\s]+, for Whitespace. */
static const char words_pattern[] =
    "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]+|"
    "[^\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}"
    "\\p{White_Space}]+";

/* Rust's is_ascii_punctuation || General_Category P, for Punctuation. */
static const char punct_pattern[] =
    "[\\p{P}\\x{21}-\\x{2F}\\x{3A}-\\x{40}\\x{5B}-\\x{60}\\x{7B}-\\x{7E}]";

struct loader {
    struct alc_tokenizer *t;
    const char *file;    /* tokenizer.json as named in messages */
    const char *cfgfile; /* tokenizer_config.json as named in messages */
    struct alc_diag *d;
    const char *in_file; /* the file errors are reported against */
};

/* ---- Errors and JSON access ---- */

static int fail(struct loader *L, const char *fmt, ...) ALC_PRINTF(2, 3);

static int fail(struct loader *L, const char *fmt, ...)
{
    struct alc_sb sb;
    va_list ap;
    alc_sb_init(&sb);
    va_start(ap, fmt);
    alc_sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    alc_diag_errorf(L->d, "%s: %s", L->in_file, alc_sb_str(&sb));
    alc_sb_free(&sb);
    return -1;
}

/* A token shown in a message: at most 40 bytes, control bytes as '?'. */
static const char *show(char *buf, size_t cap, const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && n < 40 && n + 4 < cap) {
        buf[n] = (unsigned char)s[n] < 0x20 ? '?' : s[n];
        n++;
    }
    if (s[n] != '\0' && n + 4 <= cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* "where." before a key, or nothing at the top of a file. */
static const char *dot(const char *where)
{
    return where[0] != '\0' ? "." : "";
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int absent(const cJSON *x)
{
    return x == NULL || cJSON_IsNull(x);
}

static int opt_bool(struct loader *L, const cJSON *o, const char *where,
                    const char *key, int def, int *out)
{
    const cJSON *x = get(o, key);
    *out = def;
    if (absent(x)) {
        return 0;
    }
    if (!cJSON_IsBool(x)) {
        return fail(L, "%s%s%s: expected true or false", where, dot(where),
                    key);
    }
    *out = cJSON_IsTrue(x);
    return 0;
}

/* A string field or NULL when absent / null. */
static int opt_str(struct loader *L, const cJSON *o, const char *where,
                   const char *key, const char **out)
{
    const cJSON *x = get(o, key);
    *out = NULL;
    if (absent(x)) {
        return 0;
    }
    if (!cJSON_IsString(x)) {
        return fail(L, "%s%s%s: expected a string", where, dot(where), key);
    }
    *out = x->valuestring;
    return 0;
}

static int req_str(struct loader *L, const cJSON *o, const char *where,
                   const char *key, const char **out)
{
    if (opt_str(L, o, where, key, out) != 0) {
        return -1;
    }
    if (*out == NULL) {
        return fail(L, "%s%s%s: missing (expected a string)", where, dot(where),
                    key);
    }
    return 0;
}

/* An integer in [lo, hi]. */
static int as_int(const cJSON *x, long lo, long hi, long *out)
{
    if (!cJSON_IsNumber(x)) {
        return -1;
    }
    double v = x->valuedouble;
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v)) {
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int opt_int(struct loader *L, const cJSON *o, const char *where,
                   const char *key, long def, long lo, long hi, long *out)
{
    const cJSON *x = get(o, key);
    *out = def;
    if (absent(x)) {
        return 0;
    }
    if (as_int(x, lo, hi, out) != 0) {
        return fail(L, "%s%s%s: expected an integer in [%ld, %ld]", where,
                    dot(where), key, lo, hi);
    }
    return 0;
}

static char *dup(struct loader *L, const char *s, size_t n)
{
    char *p = alc_arena_strndup(&L->t->arena, s, n);
    if (p == NULL) {
        fail(L, "out of memory");
    }
    return p;
}

/* Exactly one character (UTF-8), as serde's char. */
static int one_char(struct loader *L, const char *where, const char *key,
                    const char *s)
{
    uint32_t cp;
    size_t n = strlen(s);
    if (n == 0 || alc_tok_utf8_next(s, n, &cp) != n || cp == TOK_CP_INVALID) {
        return fail(L, "%s.%s: expected exactly one character", where, key);
    }
    return 0;
}

/* Parses JSON text; errors carry the line and column. */
static cJSON *parse_json(struct loader *L, const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root == NULL) {
        int line = 1, col = 1;
        for (const char *p = text; end != NULL && p < end && p < text + len;
             p++) {
            line += *p == '\n';
            col = *p == '\n' ? 1 : col + 1;
        }
        alc_diag_errorf(L->d, "%s:%d:%d: invalid JSON", L->in_file, line, col);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        fail(L, "expected a JSON object at the top level");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ---- Regexes ---- */

static int add_regex(struct loader *L, pcre2_code *re)
{
    struct alc_tokenizer *t = L->t;
    int cap = (int)(sizeof t->regexes / sizeof t->regexes[0]);
    if (t->n_regex >= cap) {
        pcre2_code_free(re);
        return fail(L, "too many patterns (at most %d)", cap);
    }
    t->regexes[t->n_regex++] = re;
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* else interpreted */
    return 0;
}

/* How a pattern's text is read. */
enum pat_kind {
    PAT_LITERAL, /* a "String" pattern */
    PAT_ONIG,    /* a "Regex" pattern: Oniguruma syntax, rewritten */
    PAT_PCRE2,   /* our own built-in patterns */
};

static pcre2_code *pcre2_from(const char *src, enum pat_kind kind, int *err,
                              PCRE2_SIZE *off)
{
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    opts |= kind == PAT_LITERAL ? PCRE2_LITERAL : PCRE2_UCP;
    return pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, err, off,
                         NULL);
}

/* Compiles a pattern into *out (owned by the tokenizer). */
static int compile(struct loader *L, const char *where, const char *src,
                   enum pat_kind kind, pcre2_code **out)
{
    int err = 0;
    PCRE2_SIZE off = 0;
    struct alc_sb sb;
    alc_sb_init(&sb);
    if (kind == PAT_ONIG) {
        alc_tok_regex_from_onig(&sb, src);
    }
    *out = pcre2_from(kind == PAT_ONIG ? sb.s : src, kind, &err, &off);
    if (*out == NULL && kind == PAT_ONIG) {
        /* report against the text as written when it fails there too */
        int err2 = 0;
        PCRE2_SIZE off2 = 0;
        pcre2_code *orig = pcre2_from(src, PAT_PCRE2, &err2, &off2);
        if (orig == NULL) {
            err = err2;
            off = off2;
        }
        pcre2_code_free(orig);
    }
    alc_sb_free(&sb);
    if (*out == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return fail(L, "%s: invalid regex at offset %zu: %s", where,
                    (size_t)off, (char *)msg);
    }
    return add_regex(L, *out);
}

/* pattern: {"String": "..."} or {"Regex": "..."}. */
static int load_pattern(struct loader *L, const cJSON *o, const char *where,
                        struct tok_pattern *p)
{
    const cJSON *x = get(o, "pattern");
    char w[160];
    const char *lit = NULL, *re = NULL;
    snprintf(w, sizeof w, "%s.pattern", where);
    if (!cJSON_IsObject(x)) {
        return fail(L, "%s: expected {\"String\": ...} or {\"Regex\": ...}", w);
    }
    if (opt_str(L, x, w, "String", &lit) != 0 ||
        opt_str(L, x, w, "Regex", &re) != 0) {
        return -1;
    }
    if (lit != NULL) {
        p->lit = dup(L, lit, strlen(lit));
        p->lit_len = strlen(lit);
        return p->lit == NULL ? -1 : compile(L, w, lit, PAT_LITERAL, &p->re);
    }
    if (re != NULL) {
        snprintf(w, sizeof w, "%s.pattern.Regex", where);
        return compile(L, w, re, PAT_ONIG, &p->re);
    }
    return fail(L, "%s: expected {\"String\": ...} or {\"Regex\": ...}", w);
}

/* ---- Model ---- */

static int load_vocab(struct loader *L, const cJSON *vocab, int32_t *max_id)
{
    struct tok_bpe *m = &L->t->bpe;
    const char **by_id = NULL;
    const cJSON *it = NULL;
    char b1[64], b2[64];
    int rc = -1;
    *max_id = -1;
    if (!cJSON_IsObject(vocab)) {
        return fail(L, "model.vocab: expected an object of token -> id");
    }
    cJSON_ArrayForEach(it, vocab)
    {
        long id;
        if (as_int(it, 0, TOK_MAX_ID - 1, &id) != 0) {
            return fail(L,
                        "model.vocab['%s']: id must be an integer in "
                        "[0, %d)",
                        show(b1, sizeof b1, it->string), TOK_MAX_ID);
        }
        *max_id = (int32_t)id > *max_id ? (int32_t)id : *max_id;
    }
    by_id = calloc((size_t)*max_id + 2, sizeof *by_id);
    if (by_id == NULL) {
        return fail(L, "out of memory");
    }
    cJSON_ArrayForEach(it, vocab)
    {
        int32_t id = (int32_t)it->valuedouble, old = -1;
        size_t n = strlen(it->string);
        char *key = dup(L, it->string, n);
        if (key == NULL) {
            goto done;
        }
        if (by_id[id] != NULL) {
            fail(L, "model.vocab: id %d used twice ('%s' and '%s')", id,
                 show(b1, sizeof b1, by_id[id]), show(b2, sizeof b2, key));
            goto done;
        }
        int put = alc_tok_strmap_put(&m->vocab, key, n, id, &old);
        if (put != 0) {
            fail(L,
                 put > 0 ? "model.vocab: token '%s' appears twice"
                         : "model.vocab: out of memory at '%s'",
                 show(b1, sizeof b1, key));
            goto done;
        }
        by_id[id] = key;
    }
    rc = 0;
done:
    free(by_id);
    return rc;
}

/* One merge as its two token strings, from "a b" or ["a", "b"]. Returns 1
 * for a "#version" line to skip. */
static int merge_parts(struct loader *L, const cJSON *x, int i,
                       struct alc_sb *a, struct alc_sb *b)
{
    char b1[64];
    alc_sb_reset(a);
    alc_sb_reset(b);
    if (cJSON_IsString(x)) {
        const char *s = x->valuestring;
        const char *sp = strchr(s, ' ');
        if (strncmp(s, "#version", 8) == 0) {
            return 1;
        }
        if (sp == NULL) {
            return fail(L,
                        "model.merges[%d]: merge '%s' has no second "
                        "token",
                        i, show(b1, sizeof b1, s));
        }
        if (strchr(sp + 1, ' ') != NULL) {
            return fail(L,
                        "model.merges[%d]: merge '%s' has more than two "
                        "tokens",
                        i, show(b1, sizeof b1, s));
        }
        alc_sb_append(a, s, (size_t)(sp - s));
        alc_sb_puts(b, sp + 1);
        return 0;
    }
    if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 &&
        cJSON_IsString(cJSON_GetArrayItem(x, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(x, 1))) {
        alc_sb_puts(a, cJSON_GetArrayItem(x, 0)->valuestring);
        alc_sb_puts(b, cJSON_GetArrayItem(x, 1)->valuestring);
        return 0;
    }
    return fail(L, "model.merges[%d]: expected \"a b\" or [\"a\", \"b\"]", i);
}

static int add_merge(struct loader *L, int i, uint32_t rank,
                     const struct alc_sb *a, const struct alc_sb *b,
                     struct alc_sb *ab)
{
    struct tok_bpe *m = &L->t->bpe;
    char b1[64];
    int32_t ia = alc_tok_strmap_get(&m->vocab, alc_sb_str(a), a->len);
    int32_t ib = alc_tok_strmap_get(&m->vocab, alc_sb_str(b), b->len);
    if (ia < 0 || ib < 0) {
        return fail(L, "model.merges[%d]: token '%s' is not in model.vocab", i,
                    show(b1, sizeof b1, alc_sb_str(ia < 0 ? a : b)));
    }
    if (b->len < m->prefix_len) {
        return fail(L,
                    "model.merges[%d]: '%s' is shorter than "
                    "continuing_subword_prefix",
                    i, show(b1, sizeof b1, alc_sb_str(b)));
    }
    alc_sb_reset(ab);
    alc_sb_append(ab, alc_sb_str(a), a->len);
    alc_sb_append(ab, alc_sb_str(b) + m->prefix_len, b->len - m->prefix_len);
    int32_t iab = alc_tok_strmap_get(&m->vocab, alc_sb_str(ab), ab->len);
    if (iab < 0) {
        return fail(L,
                    "model.merges[%d]: merged token '%s' is not in "
                    "model.vocab",
                    i, show(b1, sizeof b1, alc_sb_str(ab)));
    }
    if (alc_tok_pairmap_put(&m->merges, ia, ib, rank, iab) != 0) {
        return fail(L, "out of memory");
    }
    return 0;
}

static int load_merges(struct loader *L, const cJSON *merges)
{
    struct alc_sb a, b, ab;
    const cJSON *x = NULL;
    uint32_t rank = 0;
    int i = 0, rc = 0;
    if (absent(merges)) {
        return 0;
    }
    if (!cJSON_IsArray(merges)) {
        return fail(L, "model.merges: expected an array");
    }
    alc_sb_init(&a);
    alc_sb_init(&b);
    alc_sb_init(&ab);
    cJSON_ArrayForEach(x, merges)
    {
        rc = merge_parts(L, x, i, &a, &b);
        if (rc == 0) {
            rc = add_merge(L, i, rank++, &a, &b, &ab);
        }
        if (rc < 0) {
            break;
        }
        rc = 0;
        i++;
    }
    alc_sb_free(&a);
    alc_sb_free(&b);
    alc_sb_free(&ab);
    return rc;
}

static int load_bpe_options(struct loader *L, const cJSON *mo)
{
    struct tok_bpe *m = &L->t->bpe;
    const cJSON *drop = get(mo, "dropout");
    const char *unk = NULL, *pre = NULL, *suf = NULL;
    if (!absent(drop) && (!cJSON_IsNumber(drop) || drop->valuedouble != 0.0)) {
        return fail(L, "model.dropout: BPE-dropout is not supported (it "
                       "makes encoding random); expected null");
    }
    if (opt_str(L, mo, "model", "unk_token", &unk) != 0 ||
        opt_str(L, mo, "model", "continuing_subword_prefix", &pre) != 0 ||
        opt_str(L, mo, "model", "end_of_word_suffix", &suf) != 0 ||
        opt_bool(L, mo, "model", "byte_fallback", 0, &m->byte_fallback) ||
        opt_bool(L, mo, "model", "fuse_unk", 0, &m->fuse_unk) != 0 ||
        opt_bool(L, mo, "model", "ignore_merges", 0, &m->ignore_merges)) {
        return -1;
    }
    m->unk_token = unk ? dup(L, unk, strlen(unk)) : NULL;
    m->prefix = dup(L, pre ? pre : "", pre ? strlen(pre) : 0);
    m->suffix = dup(L, suf ? suf : "", suf ? strlen(suf) : 0);
    if ((unk && !m->unk_token) || !m->prefix || !m->suffix) {
        return -1;
    }
    m->prefix_len = strlen(m->prefix);
    m->suffix_len = strlen(m->suffix);
    return 0;
}

static int load_model(struct loader *L, const cJSON *mo, int32_t *max_id)
{
    struct tok_bpe *m = &L->t->bpe;
    const char *type = NULL;
    char b1[64];
    if (!cJSON_IsObject(mo)) {
        return fail(L, "model: missing (expected an object)");
    }
    if (opt_str(L, mo, "model", "type", &type) != 0) {
        return -1;
    }
    if (type != NULL && strcmp(type, "BPE") != 0) {
        return fail(L,
                    "model.type '%s' is not supported (only BPE; "
                    "Unigram, WordPiece and WordLevel are not)",
                    show(b1, sizeof b1, type));
    }
    if (type == NULL && get(mo, "merges") == NULL) {
        return fail(L, "model.type: missing (expected \"BPE\")");
    }
    if (load_bpe_options(L, mo) != 0 ||
        load_vocab(L, get(mo, "vocab"), max_id) != 0 ||
        load_merges(L, get(mo, "merges")) != 0) {
        return -1;
    }
    m->unk_id = -1;
    if (m->unk_token != NULL) {
        m->unk_id =
            alc_tok_strmap_get(&m->vocab, m->unk_token, strlen(m->unk_token));
    }
    alc_tok_bpe_index(m);
    return 0;
}

/* ---- Added tokens ---- */

static int load_added_flags(struct loader *L, const cJSON *x, const char *where,
                            struct tok_added *a)
{
    return opt_bool(L, x, where, "single_word", 0, &a->single_word) ||
           opt_bool(L, x, where, "lstrip", 0, &a->lstrip) ||
           opt_bool(L, x, where, "rstrip", 0, &a->rstrip) ||
           opt_bool(L, x, where, "normalized", 1, &a->normalized) ||
           opt_bool(L, x, where, "special", 0, &a->special);
}

/* The id Hugging Face gives an added token (AddedVocabulary::add_tokens):
 * its vocabulary id, else one past the ids added so far (at least the
 * vocabulary size). */
static int32_t assign_id(struct loader *L, const char *content, int n_done)
{
    const struct alc_tokenizer *t = L->t;
    int32_t id = alc_tok_strmap_get(&t->bpe.vocab, content, strlen(content));
    int32_t vsize = (int32_t)t->bpe.vocab.count, max = -1;
    if (id >= 0) {
        return id;
    }
    for (int i = 0; i < n_done; i++) {
        max = t->added[i].id > max ? t->added[i].id : max;
    }
    if (max < 0) {
        return vsize;
    }
    return (max >= vsize || vsize == 0) ? max + 1 : vsize;
}

static int find_added_content(const struct alc_tokenizer *t, int n,
                              const char *content)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(t->added[i].content, content) == 0) {
            return i;
        }
    }
    return -1;
}

static int load_one_added(struct loader *L, const cJSON *x, int i)
{
    struct alc_tokenizer *t = L->t;
    struct tok_added a = {0};
    const char *content = NULL;
    char w[64], b1[64];
    long file_id;
    snprintf(w, sizeof w, "added_tokens[%d]", i);
    if (!cJSON_IsObject(x)) {
        return fail(L, "%s: expected an object", w);
    }
    if (req_str(L, x, w, "content", &content) != 0 ||
        opt_int(L, x, w, "id", -1, 0, TOK_MAX_ID - 1, &file_id) != 0 ||
        load_added_flags(L, x, w, &a) != 0) {
        return -1;
    }
    if (content[0] == '\0') {
        return 0; /* Hugging Face ignores empty added tokens */
    }
    int old = find_added_content(t, t->n_added, content);
    if (old >= 0) {
        a.id = t->added[old].id; /* same content: new flags, same id */
        a.content = t->added[old].content;
        a.len = t->added[old].len;
        t->added[old] = a;
        return 0;
    }
    a.id = assign_id(L, content, t->n_added);
    if (a.id >= TOK_MAX_ID) {
        return fail(L, "%s: id %d is too large", w, a.id);
    }
    if (file_id >= 0 && file_id != a.id) {
        alc_diag_warnf(L->d,
                       "%s: %s: '%s' gets id %d, not %ld (ids follow "
                       "the vocabulary as in Hugging Face)",
                       L->file, w, show(b1, sizeof b1, content), a.id, file_id);
    }
    a.len = strlen(content);
    a.content = dup(L, content, a.len);
    if (a.content == NULL) {
        return -1;
    }
    t->added[t->n_added++] = a;
    return 0;
}

static int load_added(struct loader *L, const cJSON *arr)
{
    struct alc_tokenizer *t = L->t;
    const cJSON *x = NULL;
    int i = 0;
    if (absent(arr)) {
        return 0;
    }
    if (!cJSON_IsArray(arr)) {
        return fail(L, "added_tokens: expected an array");
    }
    int n = cJSON_GetArraySize(arr);
    t->added = alc_arena_alloc(&t->arena, ((size_t)n + 1) * sizeof *t->added);
    if (t->added == NULL) {
        return fail(L, "out of memory");
    }
    cJSON_ArrayForEach(x, arr)
    {
        if (load_one_added(L, x, i++) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- Steps shared by normalizers, pre-tokenizers, decoders and
 * post-processors ---- */

typedef int (*step_fn)(struct loader *L, const cJSON *o, const char *where,
                       void *ctx);

/* A Sequence's array `key` of steps, each loaded by fn with its path. */
static int load_steps(struct loader *L, const cJSON *o, const char *where,
                      const char *key, step_fn fn, void *ctx)
{
    const cJSON *arr = get(o, key);
    const cJSON *x = NULL;
    int i = 0;
    if (!cJSON_IsArray(arr)) {
        return fail(L, "%s.%s: expected an array", where, key);
    }
    cJSON_ArrayForEach(x, arr)
    {
        char w[160];
        snprintf(w, sizeof w, "%s.%s[%d]", where, key, i++);
        if (fn(L, x, w, ctx) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A step's text field (Prepend's prepend, Replace's content), copied. */
static int step_text(struct loader *L, const cJSON *o, const char *where,
                     const char *key, const char **text, size_t *len)
{
    const char *s = NULL;
    if (req_str(L, o, where, key, &s) != 0) {
        return -1;
    }
    *len = strlen(s);
    char *t = dup(L, s, *len);
    *text = t;
    return t == NULL ? -1 : 0;
}

/* ---- Normalizers ---- */

static int load_normalizer(struct loader *L, const cJSON *o, const char *where,
                           void *ctx);

static struct tok_norm *new_norm(struct loader *L, const char *where,
                                 enum tok_norm_kind kind)
{
    struct alc_tokenizer *t = L->t;
    if (t->n_norm >= TOK_MAX_STEPS) {
        fail(L, "%s: more than %d normalizer steps", where, TOK_MAX_STEPS);
        return NULL;
    }
    struct tok_norm *nm = &t->norms[t->n_norm++];
    nm->kind = kind;
    return nm;
}

static int load_norm_sequence(struct loader *L, const cJSON *o,
                              const char *where)
{
    return load_steps(L, o, where, "normalizers", load_normalizer, NULL);
}

static int norm_text(struct loader *L, const cJSON *o, const char *where,
                     const char *key, struct tok_norm *nm)
{
    return step_text(L, o, where, key, &nm->text, &nm->text_len);
}

static const struct {
    const char *name;
    enum tok_nf form;
} unicode_norms[] = {
    {"NFC", TOK_NF_NFC},   {"NFD", TOK_NF_NFD},         {"NFKC", TOK_NF_NFKC},
    {"NFKD", TOK_NF_NFKD}, {"Lowercase", TOK_NF_LOWER},
};
_Static_assert(TOK_NF_COUNT == 5, "one unicode_norms entry per form");

/* ctx: unused (the signature of step_fn, for Sequences) */
static int load_normalizer(struct loader *L, const cJSON *o, const char *where,
                           void *ctx)
{
    (void)ctx;
    const char *type = NULL;
    struct tok_norm *nm = NULL;
    char b1[64];
    if (absent(o)) {
        return 0;
    }
    if (!cJSON_IsObject(o)) {
        return fail(L, "%s: expected an object or null", where);
    }
    if (req_str(L, o, where, "type", &type) != 0) {
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        return load_norm_sequence(L, o, where);
    }
    for (size_t i = 0; i < sizeof unicode_norms / sizeof *unicode_norms; i++) {
        if (strcmp(type, unicode_norms[i].name) == 0) {
            nm = new_norm(L, where, TOK_NORM_UNICODE);
            if (nm != NULL) {
                nm->form = unicode_norms[i].form;
            }
            return nm == NULL ? -1 : 0;
        }
    }
    if (strcmp(type, "Prepend") == 0) {
        nm = new_norm(L, where, TOK_NORM_PREPEND);
        return nm == NULL ? -1 : norm_text(L, o, where, "prepend", nm);
    }
    if (strcmp(type, "Replace") == 0) {
        nm = new_norm(L, where, TOK_NORM_REPLACE);
        if (nm == NULL || load_pattern(L, o, where, &nm->pat) != 0) {
            return -1;
        }
        return norm_text(L, o, where, "content", nm);
    }
    if (strcmp(type, "Strip") == 0) {
        nm = new_norm(L, where, TOK_NORM_STRIP);
        if (nm == NULL) {
            return -1;
        }
        return opt_bool(L, o, where, "strip_left", 1, &nm->left) ||
               opt_bool(L, o, where, "strip_right", 1, &nm->right);
    }
    return fail(L, "%s.type '%s' is not supported", where,
                show(b1, sizeof b1, type));
}

/* ---- Pre-tokenizers ---- */

static int load_pre(struct loader *L, const cJSON *o, const char *where,
                    void *ctx);

static struct tok_pre *new_pre(struct loader *L, const char *where,
                               enum tok_pre_kind kind)
{
    struct alc_tokenizer *t = L->t;
    if (t->n_pre >= TOK_MAX_STEPS) {
        fail(L, "%s: more than %d pre-tokenizer steps", where, TOK_MAX_STEPS);
        return NULL;
    }
    struct tok_pre *p = &t->pres[t->n_pre++];
    p->kind = kind;
    return p;
}

static const char *const behavior_names[TOK_SPLIT_COUNT] = {
    [TOK_SPLIT_REMOVED] = "Removed",
    [TOK_SPLIT_ISOLATED] = "Isolated",
    [TOK_SPLIT_MERGED_PREV] = "MergedWithPrevious",
    [TOK_SPLIT_MERGED_NEXT] = "MergedWithNext",
    [TOK_SPLIT_CONTIGUOUS] = "Contiguous",
};
_Static_assert(TOK_SPLIT_COUNT == 5, "one name per split behaviour");

static int load_behavior(struct loader *L, const cJSON *o, const char *where,
                         enum tok_split_behavior def,
                         enum tok_split_behavior *out)
{
    const char *s = NULL;
    char b1[64];
    *out = def;
    if (opt_str(L, o, where, "behavior", &s) != 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    for (int i = 0; i < TOK_SPLIT_COUNT; i++) {
        if (strcmp(s, behavior_names[i]) == 0) {
            *out = (enum tok_split_behavior)i;
            return 0;
        }
    }
    return fail(L,
                "%s.behavior '%s' is not one of Removed, Isolated, "
                "MergedWithPrevious, MergedWithNext, Contiguous",
                where, show(b1, sizeof b1, s));
}

/* A Split step over a built-in regex (Digits, Whitespace, ...). */
static int builtin_split(struct loader *L, const char *where, const char *re,
                         enum tok_split_behavior b, int invert)
{
    struct tok_pre *p = new_pre(L, where, TOK_PRE_SPLIT);
    if (p == NULL) {
        return -1;
    }
    p->behavior = b;
    p->invert = invert;
    return compile(L, where, re, PAT_PCRE2, &p->pat.re);
}

static const char *const prepend_names[TOK_PREPEND_COUNT] = {
    [TOK_PREPEND_ALWAYS] = "always",
    [TOK_PREPEND_FIRST] = "first",
    [TOK_PREPEND_NEVER] = "never",
};
_Static_assert(TOK_PREPEND_COUNT == 3, "one name per prepend scheme");

/* Metaspace's replacement and prepend scheme (pre-tokenizer and decoder):
 * prepend_scheme, or the older add_prefix_space (false = never). */
static int load_metaspace(struct loader *L, const cJSON *o, const char *where,
                          const char **text, size_t *text_len,
                          enum tok_prepend *prepend)
{
    const char *repl = NULL, *scheme = NULL;
    int aps = 1;
    char b1[64];
    if (req_str(L, o, where, "replacement", &repl) != 0 ||
        one_char(L, where, "replacement", repl) != 0 ||
        opt_str(L, o, where, "prepend_scheme", &scheme) != 0 ||
        opt_bool(L, o, where, "add_prefix_space", 1, &aps) != 0) {
        return -1;
    }
    *text_len = strlen(repl);
    *text = dup(L, repl, *text_len);
    *prepend = aps ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
    if (scheme == NULL) {
        return *text == NULL ? -1 : 0;
    }
    for (int i = 0; i < TOK_PREPEND_COUNT; i++) {
        if (strcmp(scheme, prepend_names[i]) == 0) {
            *prepend = (enum tok_prepend)i;
            return *text == NULL ? -1 : 0;
        }
    }
    return fail(L,
                "%s.prepend_scheme '%s' is not one of always, first, "
                "never",
                where, show(b1, sizeof b1, scheme));
}

static int load_pre_metaspace(struct loader *L, const cJSON *o,
                              const char *where)
{
    struct tok_pre *p = new_pre(L, where, TOK_PRE_METASPACE);
    if (p == NULL ||
        load_metaspace(L, o, where, &p->text, &p->text_len, &p->prepend) ||
        opt_bool(L, o, where, "split", 1, &p->split) != 0) {
        return -1;
    }
    p->pat.lit = p->text;
    p->pat.lit_len = p->text_len;
    return 0;
}

static int load_pre_bytelevel(struct loader *L, const cJSON *o,
                              const char *where)
{
    struct tok_pre *p = new_pre(L, where, TOK_PRE_BYTELEVEL);
    int use_regex = 1;
    if (p == NULL ||
        opt_bool(L, o, where, "add_prefix_space", 1, &p->add_prefix_space) ||
        opt_bool(L, o, where, "use_regex", 1, &use_regex) != 0) {
        return -1;
    }
    L->t->byte_level = 1;
    return use_regex ? compile(L, where, gpt2_pattern, PAT_ONIG, &p->pat.re)
                     : 0;
}

static int load_pre_split(struct loader *L, const cJSON *o, const char *where)
{
    struct tok_pre *p = new_pre(L, where, TOK_PRE_SPLIT);
    if (p == NULL || load_pattern(L, o, where, &p->pat) != 0 ||
        load_behavior(L, o, where, TOK_SPLIT_ISOLATED, &p->behavior) != 0) {
        return -1;
    }
    return opt_bool(L, o, where, "invert", 0, &p->invert);
}

static int load_pre_sequence(struct loader *L, const cJSON *o,
                             const char *where)
{
    return load_steps(L, o, where, "pretokenizers", load_pre, NULL);
}

static int load_pre_builtin(struct loader *L, const cJSON *o, const char *where,
                            const char *type)
{
    enum tok_split_behavior b;
    int digits = 0;
    char b1[64];
    if (strcmp(type, "Digits") == 0) {
        if (opt_bool(L, o, where, "individual_digits", 0, &digits) != 0) {
            return -1;
        }
        return builtin_split(L, where, "\\p{N}",
                             digits ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS,
                             0);
    }
    if (strcmp(type, "WhitespaceSplit") == 0) {
        return builtin_split(L, where, space_pattern, TOK_SPLIT_REMOVED, 0);
    }
    if (strcmp(type, "Whitespace") == 0) {
        return builtin_split(L, where, words_pattern, TOK_SPLIT_REMOVED, 1);
    }
    if (strcmp(type, "Punctuation") == 0) {
        if (load_behavior(L, o, where, TOK_SPLIT_ISOLATED, &b) != 0) {
            return -1;
        }
        return builtin_split(L, where, punct_pattern, b, 0);
    }
    return fail(L, "%s.type '%s' is not supported", where,
                show(b1, sizeof b1, type));
}

/* ctx: unused (the signature of step_fn, for Sequences) */
static int load_pre(struct loader *L, const cJSON *o, const char *where,
                    void *ctx)
{
    (void)ctx;
    const char *type = NULL;
    if (absent(o)) {
        return 0;
    }
    if (!cJSON_IsObject(o)) {
        return fail(L, "%s: expected an object or null", where);
    }
    if (req_str(L, o, where, "type", &type) != 0) {
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        return load_pre_sequence(L, o, where);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        return load_pre_bytelevel(L, o, where);
    }
    if (strcmp(type, "Split") == 0) {
        return load_pre_split(L, o, where);
    }
    if (strcmp(type, "Metaspace") == 0) {
        return load_pre_metaspace(L, o, where);
    }
    return load_pre_builtin(L, o, where, type);
}

/* ---- Decoders ---- */

static int load_decoder(struct loader *L, const cJSON *o, const char *where,
                        void *ctx);

static struct tok_dec *new_dec(struct loader *L, const char *where,
                               enum tok_dec_kind kind)
{
    struct alc_tokenizer *t = L->t;
    if (t->n_dec >= TOK_MAX_STEPS) {
        fail(L, "%s: more than %d decoder steps", where, TOK_MAX_STEPS);
        return NULL;
    }
    struct tok_dec *dc = &t->decs[t->n_dec++];
    dc->kind = kind;
    return dc;
}

static int load_dec_sequence(struct loader *L, const cJSON *o,
                             const char *where)
{
    return load_steps(L, o, where, "decoders", load_decoder, NULL);
}

static int load_dec_text(struct loader *L, const cJSON *o, const char *where,
                         const char *key, struct tok_dec *dc)
{
    return step_text(L, o, where, key, &dc->text, &dc->text_len);
}

static int load_dec_strip(struct loader *L, const cJSON *o, const char *where)
{
    struct tok_dec *dc = new_dec(L, where, TOK_DEC_STRIP);
    long start = 0, stop = 0;
    if (dc == NULL || load_dec_text(L, o, where, "content", dc) != 0 ||
        one_char(L, where, "content", dc->text) != 0 ||
        opt_int(L, o, where, "start", 0, 0, 1 << 20, &start) != 0 ||
        opt_int(L, o, where, "stop", 0, 0, 1 << 20, &stop) != 0) {
        return -1;
    }
    dc->start = (int)start;
    dc->stop = (int)stop;
    return 0;
}

/* ctx: unused (the signature of step_fn, for Sequences) */
static int load_decoder(struct loader *L, const cJSON *o, const char *where,
                        void *ctx)
{
    (void)ctx;
    const char *type = NULL;
    struct tok_dec *dc = NULL;
    char b1[64];
    if (absent(o)) {
        return 0;
    }
    if (!cJSON_IsObject(o)) {
        return fail(L, "%s: expected an object or null", where);
    }
    if (req_str(L, o, where, "type", &type) != 0) {
        return -1;
    }
    if (strcmp(type, "Sequence") == 0) {
        return load_dec_sequence(L, o, where);
    }
    if (strcmp(type, "Strip") == 0) {
        return load_dec_strip(L, o, where);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        return new_dec(L, where, TOK_DEC_BYTELEVEL) == NULL ? -1 : 0;
    }
    if (strcmp(type, "ByteFallback") == 0) {
        return new_dec(L, where, TOK_DEC_BYTEFALLBACK) == NULL ? -1 : 0;
    }
    if (strcmp(type, "Fuse") == 0) {
        return new_dec(L, where, TOK_DEC_FUSE) == NULL ? -1 : 0;
    }
    if (strcmp(type, "Metaspace") == 0) {
        dc = new_dec(L, where, TOK_DEC_METASPACE);
        return dc == NULL ? -1
                          : load_metaspace(L, o, where, &dc->text,
                                           &dc->text_len, &dc->prepend);
    }
    if (strcmp(type, "Replace") == 0) {
        dc = new_dec(L, where, TOK_DEC_REPLACE);
        if (dc == NULL || load_pattern(L, o, where, &dc->pat) != 0) {
            return -1;
        }
        return load_dec_text(L, o, where, "content", dc);
    }
    return fail(L, "%s.type '%s' is not supported", where,
                show(b1, sizeof b1, type));
}

/* ---- Post-processor (what add_special puts around the text) ---- */

struct special_ids {
    struct tok_ids prefix, suffix;
};

static int load_post(struct loader *L, const cJSON *o, const char *where,
                     struct special_ids *sp);

/* The ids of one SpecialToken of a template, from special_tokens. */
static int template_special(struct loader *L, const cJSON *o, const char *where,
                            const cJSON *item, struct tok_ids *to)
{
    const char *name = NULL;
    const cJSON *ids = NULL, *x = NULL;
    char b1[64];
    if (req_str(L, item, where, "id", &name) != 0) {
        return -1;
    }
    const cJSON *st = get(get(o, "special_tokens"), name);
    ids = get(st, "ids");
    if (!cJSON_IsArray(ids)) {
        return fail(L,
                    "%s: special token '%s' has no ids in "
                    "special_tokens",
                    where, show(b1, sizeof b1, name));
    }
    cJSON_ArrayForEach(x, ids)
    {
        long id;
        if (as_int(x, 0, TOK_MAX_ID - 1, &id) != 0) {
            return fail(L, "%s: special_tokens['%s'].ids: expected ids", where,
                        show(b1, sizeof b1, name));
        }
        alc_tok_ids_push(to, (int32_t)id);
    }
    return 0;
}

static int load_template(struct loader *L, const cJSON *o, const char *where,
                         struct special_ids *sp)
{
    const cJSON *single = get(o, "single"), *x = NULL;
    struct special_ids mine = {{0}, {0}};
    int seen_a = 0, i = 0, rc = -1;
    if (!cJSON_IsArray(single)) {
        return fail(L, "%s.single: expected an array", where);
    }
    cJSON_ArrayForEach(x, single)
    {
        char w[160];
        const cJSON *tok = get(x, "SpecialToken"), *seq = get(x, "Sequence");
        const char *id = NULL;
        snprintf(w, sizeof w, "%s.single[%d]", where, i++);
        if (cJSON_IsObject(tok)) {
            if (template_special(L, o, w, tok,
                                 seen_a ? &mine.suffix : &mine.prefix)) {
                goto done;
            }
        } else if (cJSON_IsObject(seq)) {
            if (req_str(L, seq, w, "id", &id) != 0) {
                goto done;
            }
            if (strcmp(id, "A") != 0 || seen_a) {
                fail(L, "%s: a single-sequence template uses $A once", w);
                goto done;
            }
            seen_a = 1;
        } else {
            fail(L,
                 "%s: expected {\"SpecialToken\": ...} or "
                 "{\"Sequence\": ...}",
                 w);
            goto done;
        }
    }
    if (!seen_a) {
        fail(L, "%s.single: the template has no $A", where);
        goto done;
    }
    /* a later processor wraps what the earlier ones produced */
    for (size_t k = 0; k < sp->prefix.n; k++) {
        alc_tok_ids_push(&mine.prefix, sp->prefix.v[k]);
    }
    for (size_t k = 0; k < mine.suffix.n; k++) {
        alc_tok_ids_push(&sp->suffix, mine.suffix.v[k]);
    }
    alc_tok_ids_free(&sp->prefix);
    sp->prefix = mine.prefix;
    mine.prefix = (struct tok_ids){0};
    rc = 0;
done:
    alc_tok_ids_free(&mine.prefix);
    alc_tok_ids_free(&mine.suffix);
    return rc;
}

/* RobertaProcessing / BertProcessing: cls $A sep. */
static int load_cls_sep(struct loader *L, const cJSON *o, const char *where,
                        struct special_ids *sp)
{
    const char *keys[2] = {"cls", "sep"};
    long ids[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *x = get(o, keys[i]);
        if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 ||
            as_int(cJSON_GetArrayItem(x, 1), 0, TOK_MAX_ID - 1, &ids[i]) != 0) {
            return fail(L, "%s.%s: expected [\"token\", id]", where, keys[i]);
        }
    }
    struct tok_ids pre = {0};
    alc_tok_ids_push(&pre, (int32_t)ids[0]);
    for (size_t k = 0; k < sp->prefix.n; k++) {
        alc_tok_ids_push(&pre, sp->prefix.v[k]);
    }
    alc_tok_ids_free(&sp->prefix);
    sp->prefix = pre;
    alc_tok_ids_push(&sp->suffix, (int32_t)ids[1]);
    return 0;
}

static int load_post_sequence_step(struct loader *L, const cJSON *o,
                                   const char *where, void *ctx)
{
    return load_post(L, o, where, (struct special_ids *)ctx);
}

static int load_post_sequence(struct loader *L, const cJSON *o,
                              const char *where, struct special_ids *sp)
{
    return load_steps(L, o, where, "processors", load_post_sequence_step, sp);
}

static int load_post(struct loader *L, const cJSON *o, const char *where,
                     struct special_ids *sp)
{
    const char *type = NULL;
    char b1[64];
    if (absent(o)) {
        return 0;
    }
    if (!cJSON_IsObject(o)) {
        return fail(L, "%s: expected an object or null", where);
    }
    if (req_str(L, o, where, "type", &type) != 0) {
        return -1;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        return load_template(L, o, where, sp);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        return 0; /* offsets only */
    }
    if (strcmp(type, "RobertaProcessing") == 0 ||
        strcmp(type, "BertProcessing") == 0) {
        return load_cls_sep(L, o, where, sp);
    }
    if (strcmp(type, "Sequence") == 0) {
        return load_post_sequence(L, o, where, sp);
    }
    return fail(L, "%s.type '%s' is not supported", where,
                show(b1, sizeof b1, type));
}

/* ---- tokenizer_config.json ---- */

/* The id of a token string: an added token, else the vocabulary. */
static int32_t token_id(const struct alc_tokenizer *t, const char *s)
{
    for (int i = 0; i < t->n_added; i++) {
        if (strcmp(t->added[i].content, s) == 0) {
            return t->added[i].id;
        }
    }
    return alc_tok_strmap_get(&t->bpe.vocab, s, strlen(s));
}

/* bos_token / eos_token: "<s>", {"content": "<s>", ...} or null. */
static int config_token(struct loader *L, const cJSON *cfg, const char *key,
                        const char **out)
{
    const cJSON *x = get(cfg, key);
    *out = NULL;
    if (absent(x)) {
        return 0;
    }
    if (cJSON_IsObject(x)) {
        return req_str(L, x, key, "content", out);
    }
    if (!cJSON_IsString(x)) {
        return fail(L, "%s: expected a string or {\"content\": ...}", key);
    }
    *out = x->valuestring;
    return 0;
}

/* Classes whose __init__ rebuilds the post-processor from add_bos_token /
 * add_eos_token (transformers' update_post_processor). */
static int rebuilds_template(const char *cls)
{
    static const char *const names[] = {"LlamaTokenizer", "CodeLlamaTokenizer",
                                        "GemmaTokenizer"};
    if (cls == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(cls, names[i], n) == 0 &&
            (cls[n] == '\0' || strcmp(cls + n, "Fast") == 0)) {
            return 1;
        }
    }
    return 0;
}

/* Puts the id of token (named by key) into ids, or fails. */
static int config_add(struct loader *L, const char *key, const char *token,
                      struct tok_ids *ids)
{
    char b1[64];
    if (token == NULL) {
        return fail(L, "add_%s is true but %s is not set", key, key);
    }
    int32_t id = token_id(L->t, token);
    if (id < 0) {
        return fail(L, "%s '%s' is not in the vocabulary", key,
                    show(b1, sizeof b1, token));
    }
    alc_tok_ids_push(ids, id);
    return 0;
}

/*
 * BOS/EOS as transformers applies them: LlamaTokenizer(Fast) and friends
 * rebuild the template as [bos if add_bos_token (default true)] $A [eos if
 * add_eos_token (default false)]; other classes keep tokenizer.json's
 * post-processor, and add_bos_token / add_eos_token set to true add the
 * token when the post-processor adds none (GPT-2/OPT-style converters).
 */
static int apply_config(struct loader *L, const cJSON *cfg,
                        struct special_ids *sp)
{
    const char *cls = NULL, *bos = NULL, *eos = NULL;
    int add_bos = -1, add_eos = -1;
    if (opt_str(L, cfg, "", "tokenizer_class", &cls) ||
        config_token(L, cfg, "bos_token", &bos) ||
        config_token(L, cfg, "eos_token", &eos) ||
        opt_bool(L, cfg, "", "add_bos_token", -1, &add_bos) ||
        opt_bool(L, cfg, "", "add_eos_token", -1, &add_eos)) {
        return -1;
    }
    if (rebuilds_template(cls)) {
        /* the class's constructor defaults when the file leaves them out */
        int gemma = strncmp(cls, "Gemma", 5) == 0;
        bos = bos ? bos : gemma ? "<bos>" : "<s>";
        eos = eos ? eos : gemma ? "<eos>" : "</s>";
        sp->prefix.n = sp->suffix.n = 0;
        add_bos = add_bos < 0 ? 1 : add_bos;
        add_eos = add_eos < 0 ? 0 : add_eos;
    } else {
        add_bos = add_bos == 1 && sp->prefix.n == 0;
        add_eos = add_eos == 1 && sp->suffix.n == 0;
    }
    if (eos != NULL) {
        L->t->eos_id = token_id(L->t, eos);
    }
    if (add_bos && config_add(L, "bos_token", bos, &sp->prefix) != 0) {
        return -1;
    }
    if (add_eos && config_add(L, "eos_token", eos, &sp->suffix) != 0) {
        return -1;
    }
    return 0;
}

/* ---- Tables built after loading ---- */

static int copy_ids(struct loader *L, const struct tok_ids *from, int32_t **to,
                    int *n)
{
    *n = (int)from->n;
    *to = alc_arena_alloc(&L->t->arena, (from->n + 1) * sizeof **to);
    if (*to == NULL) {
        return fail(L, "out of memory");
    }
    if (from->n > 0) {
        memcpy(*to, from->v, from->n * sizeof **to);
    }
    return 0;
}

/* pieces[], piece_len[], special[] over every vocabulary and added id. */
static int build_pieces(struct loader *L, int32_t max_id)
{
    struct alc_tokenizer *t = L->t;
    for (int i = 0; i < t->n_added; i++) {
        max_id = t->added[i].id > max_id ? t->added[i].id : max_id;
    }
    t->n_ids = max_id + 1;
    size_t n = (size_t)t->n_ids + 1;
    t->pieces = alc_arena_alloc(&t->arena, n * sizeof *t->pieces);
    t->piece_len = alc_arena_alloc(&t->arena, n * sizeof *t->piece_len);
    t->special = alc_arena_alloc(&t->arena, n);
    if (t->pieces == NULL || t->piece_len == NULL || t->special == NULL) {
        return fail(L, "out of memory");
    }
    for (uint32_t i = 0; i < t->bpe.vocab.cap; i++) {
        const struct tok_strent *e = &t->bpe.vocab.ents[i];
        if (e->s != NULL) {
            t->pieces[e->val] = e->s;
            t->piece_len[e->val] = e->n;
        }
    }
    for (int i = 0; i < t->n_added; i++) {
        const struct tok_added *a = &t->added[i];
        t->pieces[a->id] = a->content; /* added tokens decode as written */
        t->piece_len[a->id] = (uint32_t)a->len;
        t->special[a->id] = (uint8_t)a->special;
    }
    return 0;
}

/* Orders matcher entries: first byte, then longest, then special first. */
static int cmp_added(const void *pa, const void *pb, void *ctx)
{
    const struct alc_tokenizer *t = ctx;
    const struct tok_added *a = &t->added[*(const int32_t *)pa];
    const struct tok_added *b = &t->added[*(const int32_t *)pb];
    unsigned ca = (unsigned char)a->match[0], cb = (unsigned char)b->match[0];
    if (ca != cb) {
        return ca < cb ? -1 : 1;
    }
    if (a->match_len != b->match_len) {
        return a->match_len > b->match_len ? -1 : 1;
    }
    if (a->special != b->special) {
        return a->special ? -1 : 1;
    }
    return *(const int32_t *)pa < *(const int32_t *)pb ? -1 : 1;
}

static int build_matcher(struct loader *L, struct tok_matcher *mt,
                         int normalized)
{
    struct alc_tokenizer *t = L->t;
    mt->order =
        alc_arena_alloc(&t->arena, ((size_t)t->n_added + 1) * sizeof(int32_t));
    if (mt->order == NULL) {
        return fail(L, "out of memory");
    }
    for (int i = 0; i < t->n_added; i++) {
        const struct tok_added *a = &t->added[i];
        if (a->normalized == normalized && a->match_len > 0) {
            mt->order[mt->n++] = i;
        }
    }
    qsort_r(mt->order, (size_t)mt->n, sizeof *mt->order, cmp_added, t);
    for (int b = 0, k = 0; b <= 256; b++) {
        while (k < mt->n &&
               (unsigned char)t->added[mt->order[k]].match[0] < b) {
            k++;
        }
        mt->start[b] = k;
    }
    return 0;
}

/* What each added token is searched as: normalized tokens through the
 * normalizer (Hugging Face normalizes their content the same way). */
static int added_match_forms(struct loader *L)
{
    struct alc_tokenizer *t = L->t;
    struct alc_sb sb;
    alc_sb_init(&sb);
    for (int i = 0; i < t->n_added; i++) {
        struct tok_added *a = &t->added[i];
        a->match = a->content;
        a->match_len = a->len;
        if (!a->normalized || t->n_norm == 0) {
            continue;
        }
        alc_sb_reset(&sb);
        if (alc_tok_normalize(t, a->content, a->len, &sb, L->d) != 0) {
            alc_sb_free(&sb);
            return -1;
        }
        a->match_len = sb.len;
        a->match = dup(L, alc_sb_str(&sb), sb.len);
        if (a->match == NULL) {
            alc_sb_free(&sb);
            return -1;
        }
    }
    alc_sb_free(&sb);
    return 0;
}

/* Long words (no splitting pre-tokenizer, or Metaspace without split) are
 * cut at points no merge crosses; that needs the bigram set. */
static int maybe_bigrams(struct loader *L)
{
    struct alc_tokenizer *t = L->t;
    int long_words = t->n_pre == 0;
    for (int i = 0; i < t->n_pre; i++) {
        long_words |= t->pres[i].kind == TOK_PRE_METASPACE && !t->pres[i].split;
    }
    if (!long_words || t->bpe.prefix_len > 0 || t->bpe.suffix_len > 0) {
        return 0;
    }
    return alc_tok_bpe_bigrams(&t->bpe) == 0 ? 0 : fail(L, "out of memory");
}

/* ---- Entry points ---- */

static int load_parts(struct loader *L, const cJSON *root, int32_t *max_id)
{
    L->in_file = L->file;
    if (load_model(L, get(root, "model"), max_id) != 0 ||
        load_added(L, get(root, "added_tokens")) != 0 ||
        load_normalizer(L, get(root, "normalizer"), "normalizer", NULL) != 0 ||
        load_pre(L, get(root, "pre_tokenizer"), "pre_tokenizer", NULL) != 0 ||
        load_decoder(L, get(root, "decoder"), "decoder", NULL) != 0 ||
        maybe_bigrams(L) != 0) {
        return -1;
    }
    return 0;
}

static int load_specials(struct loader *L, const cJSON *root,
                         const char *config_json)
{
    struct special_ids sp = {{0}, {0}};
    cJSON *cfg = NULL;
    int rc = -1;
    if (load_post(L, get(root, "post_processor"), "post_processor", &sp)) {
        goto done;
    }
    if (config_json != NULL) {
        L->in_file = L->cfgfile;
        cfg = parse_json(L, config_json, strlen(config_json));
        if (cfg == NULL || apply_config(L, cfg, &sp) != 0) {
            goto done;
        }
        L->in_file = L->file;
    }
    for (size_t i = 0; i < sp.prefix.n + sp.suffix.n; i++) {
        int32_t id =
            i < sp.prefix.n ? sp.prefix.v[i] : sp.suffix.v[i - sp.prefix.n];
        if (id >= L->t->n_ids || L->t->pieces[id] == NULL) {
            fail(L,
                 "post_processor: special token id %d is not in the "
                 "vocabulary",
                 id);
            goto done;
        }
    }
    if (copy_ids(L, &sp.prefix, &L->t->prefix_ids, &L->t->n_prefix) ||
        copy_ids(L, &sp.suffix, &L->t->suffix_ids, &L->t->n_suffix)) {
        goto done;
    }
    rc = 0;
done:
    alc_tok_ids_free(&sp.prefix);
    alc_tok_ids_free(&sp.suffix);
    cJSON_Delete(cfg);
    return rc;
}

static struct alc_tokenizer *load(struct loader *L, const char *json,
                                  size_t len, const char *config_json)
{
    struct alc_tokenizer *t = calloc(1, sizeof *t);
    cJSON *root = NULL;
    int32_t max_id = -1;
    int ok = 0;
    if (t == NULL) {
        alc_diag_errorf(L->d, "%s: out of memory", L->file);
        return NULL;
    }
    alc_arena_init(&t->arena, 0);
    t->eos_id = -1;
    L->t = t;
    L->in_file = L->file;
    t->mctx = pcre2_match_context_create(NULL);
    root = parse_json(L, json, len);
    if (root == NULL || t->mctx == NULL) {
        goto done;
    }
    pcre2_set_match_limit(t->mctx, 1000000); /* bounds a hostile regex */
    if (load_parts(L, root, &max_id) != 0 || build_pieces(L, max_id) != 0 ||
        added_match_forms(L) != 0 || build_matcher(L, &t->raw_match, 0) != 0 ||
        build_matcher(L, &t->norm_match, 1) != 0 ||
        load_specials(L, root, config_json) != 0) {
        goto done;
    }
    ok = 1;
done:
    cJSON_Delete(root);
    if (!ok) {
        alc_tok_free(t);
        return NULL;
    }
    return t;
}

struct alc_tokenizer *alc_tok_load_json(const char *tokenizer_json, size_t len,
                                        const char *config_json,
                                        struct alc_diag *d)
{
    struct loader L = {NULL, "tokenizer.json", "tokenizer_config.json", d,
                       NULL};
    return load(&L, tokenizer_json, len, config_json);
}

struct alc_tokenizer *alc_tok_load(const char *dir, struct alc_diag *d)
{
    char *path = alc_path_join(dir, "tokenizer.json");
    char *cfgpath = alc_path_join(dir, "tokenizer_config.json");
    char *json = NULL, *cfg = NULL;
    size_t len = 0, cfglen = 0;
    struct alc_tokenizer *t = NULL;
    if (alc_read_file(path, &json, &len, d) != 0) {
        goto done;
    }
    if (alc_path_exists(cfgpath) &&
        alc_read_file(cfgpath, &cfg, &cfglen, d) != 0) {
        goto done;
    }
    struct loader L = {NULL, path, cfgpath, d, NULL};
    t = load(&L, json, len, cfg);
done:
    free(path);
    free(cfgpath);
    free(json);
    free(cfg);
    return t;
}

void alc_tok_free(struct alc_tokenizer *t)
{
    if (t == NULL) {
        return;
    }
    for (int i = 0; i < t->n_regex; i++) {
        pcre2_code_free(t->regexes[i]);
    }
    if (t->mctx != NULL) {
        pcre2_match_context_free(t->mctx);
    }
    alc_tok_strmap_free(&t->bpe.vocab);
    alc_tok_pairmap_free(&t->bpe.merges);
    alc_tok_pairmap_free(&t->bpe.bigrams);
    alc_arena_free(&t->arena);
    free(t);
}
