/*
 * test_tokenizer.c: the tokenizer.json reader and encoder/decoder
 * (runtime/tokenizer.c, tok_*.c). Exact ids against the bundled references:
 * the byte-level BPE of examples/tiny-llama on the whole kjv.test.raw, and
 * the LLaMA-2-style tokenizer of examples/tokenizer-sp against ids from
 * SentencePiece itself; then layout variants (Metaspace, merge pairs),
 * added tokens, hand-derived GPT-2 / LLaMA-3 splits, and every error class.
 */
#include "alc_test.h"

#include <cjson/cJSON.h>

#include "tok_internal.h"
#include "tokenizer.h"

/* ---- Helpers ---- */

static char *read_text(const char *rel, size_t *len)
{
    struct alc_diag d;
    char *path = alc_path_join(ALC_SOURCE_DIR, rel);
    char *buf = NULL;
    alc_diag_init(&d);
    if (alc_read_file(path, &buf, len, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    free(path);
    return buf;
}

static cJSON *read_json(const char *rel)
{
    size_t len;
    char *text = read_text(rel, &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(j);
    return j;
}

static struct alc_tokenizer *load_dir(const char *rel)
{
    struct alc_diag d;
    char *dir = alc_path_join(ALC_SOURCE_DIR, rel);
    alc_diag_init(&d);
    struct alc_tokenizer *t = alc_tok_load(dir, &d);
    if (t == NULL) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    free(dir);
    return t;
}

/* Loads from JSON texts; fails the test on error. */
static struct alc_tokenizer *load_text(const char *json, const char *cfg)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_tokenizer *t = alc_tok_load_json(json, strlen(json), cfg, &d);
    if (t == NULL) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return t;
}

static struct alc_tokenizer *load_cjson(const cJSON *j, const char *cfg)
{
    char *s = cJSON_PrintUnformatted(j);
    struct alc_tokenizer *t = load_text(s, cfg);
    free(s);
    return t;
}

/* Encodes and returns the ids (malloc'd); fails the test on error. */
static int32_t *enc(const struct alc_tokenizer *t, const char *s, size_t n,
                    int add_special, int64_t *count)
{
    struct alc_diag d;
    int32_t *ids = NULL;
    alc_diag_init(&d);
    if (alc_tok_encode(t, s, n, add_special, &ids, count, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return ids;
}

/* Asserts ids[0..n) equal the JSON array want, naming the first mismatch. */
static void assert_ids(const int32_t *ids, int64_t n, const cJSON *want)
{
    int64_t m = cJSON_GetArraySize(want), i = 0;
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, want)
    {
        if (i >= n || ids[i] != (int32_t)x->valuedouble) {
            fail_msg("id %lld: got %d, want %d (n %lld vs %lld)", (long long)i,
                     i < n ? ids[i] : -1, (int)x->valuedouble, (long long)n,
                     (long long)m);
        }
        i++;
    }
    assert_int_equal(n, m);
}

static void assert_ids_eq(const int32_t *a, int64_t na, const int32_t *b,
                          int64_t nb)
{
    for (int64_t i = 0; i < na && i < nb; i++) {
        if (a[i] != b[i]) {
            fail_msg("id %lld: %d vs %d", (long long)i, a[i], b[i]);
        }
    }
    assert_int_equal(na, nb);
}

/* Encodes without specials and checks the ids, given as -1-terminated. */
static void check_enc(const struct alc_tokenizer *t, const char *s,
                      const int32_t *want)
{
    int64_t n, m = 0;
    int32_t *ids = enc(t, s, strlen(s), 0, &n);
    while (want[m] >= 0) {
        m++;
    }
    assert_ids_eq(ids, n, want, m);
    free(ids);
}

/* Decodes ids and checks the text round-trips. */
static void check_roundtrip(const struct alc_tokenizer *t, const char *s,
                            size_t n, int add_special)
{
    int64_t k;
    size_t len = 0;
    int32_t *ids = enc(t, s, n, add_special, &k);
    char *back = alc_tok_decode_len(t, ids, k, 1, &len);
    assert_non_null(back);
    assert_int_equal(len, n);
    assert_memory_equal(back, s, n);
    free(back);
    free(ids);
}

/* ---- Reference fixtures ---- */

/* tiny-llama byte-level BPE: all 62284 reference ids of kjv.test.raw. */
static void test_tok_bytelevel_reference(void **state)
{
    size_t len;
    int64_t n;
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tiny-llama");
    char *text = read_text("examples/corpus/kjv.test.raw", &len);
    cJSON *ref = read_json("examples/reference/test_ids.json");
    int32_t *ids = enc(t, text, len, 1, &n);
    assert_ids(ids, n, cJSON_GetObjectItem(ref, "ids"));
    assert_int_equal(alc_tok_bos_id(t), 0);
    assert_int_equal(alc_tok_eos_id(t), 1);
    assert_int_equal(alc_tok_vocab_size(t), 1024);
    free(ids);
    cJSON_Delete(ref);
    free(text);
    alc_tok_free(t);
}

/* tokenizer-sp: ids equal SentencePiece's on its three texts, and the
 * texts decode back. */
static void test_tok_sp_reference(void **state)
{
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tokenizer-sp");
    cJSON *ref = read_json("examples/tokenizer-sp/reference_ids.json");
    cJSON *texts = cJSON_GetObjectItem(ref, "texts");
    cJSON *ids = cJSON_GetObjectItem(ref, "ids");
    const cJSON *x = NULL;
    int count = 0;
    cJSON_ArrayForEach(x, texts)
    {
        int64_t n;
        const char *s = x->valuestring;
        int32_t *got = enc(t, s, strlen(s), 1, &n);
        assert_ids(got, n, cJSON_GetObjectItem(ids, x->string));
        check_roundtrip(t, s, strlen(s), 1);
        free(got);
        count++;
    }
    assert_int_equal(count, 3);
    assert_int_equal(alc_tok_bos_id(t), 1);
    assert_int_equal(alc_tok_eos_id(t), 2);
    cJSON_Delete(ref);
    alc_tok_free(t);
}

/* The byte-level fixture decodes the whole test text back, byte for byte. */
static void test_tok_bytelevel_roundtrip(void **state)
{
    size_t len;
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tiny-llama");
    char *text = read_text("examples/corpus/kjv.test.raw", &len);
    check_roundtrip(t, text, len, 1);
    free(text);
    alc_tok_free(t);
}

/* The id of a token string in the vocabulary (for expected ids). */
static int32_t vid(const struct alc_tokenizer *t, const char *s)
{
    int32_t id = alc_tok_strmap_get(&t->bpe.vocab, s, strlen(s));
    if (id < 0) {
        fail_msg("'%s' is not in the vocabulary", s);
    }
    return id;
}

/* Encodes every text of the sp fixture with both tokenizers and asserts
 * equal ids. */
static void assert_same_on_sp_texts(const struct alc_tokenizer *a,
                                    const struct alc_tokenizer *b,
                                    int skip_leading_space)
{
    cJSON *ref = read_json("examples/tokenizer-sp/reference_ids.json");
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(ref, "texts"))
    {
        int64_t na, nb;
        const char *s = x->valuestring;
        if (skip_leading_space && s[0] == ' ') {
            continue;
        }
        int32_t *ia = enc(a, s, strlen(s), 1, &na);
        int32_t *ib = enc(b, s, strlen(s), 1, &nb);
        assert_ids_eq(ia, na, ib, nb);
        free(ia);
        free(ib);
    }
    cJSON_Delete(ref);
}

/* Cutting long SentencePiece-style words where no merge can cross gives
 * the same ids as merging the whole text at once (kjv.test.raw). */
static void test_tok_sp_cut_exact(void **state)
{
    size_t len;
    int64_t na, nb;
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tokenizer-sp");
    char *text = read_text("examples/corpus/kjv.test.raw", &len);
    assert_true(t->bpe.bigrams.count > 0);
    int32_t *cut = enc(t, text, len, 1, &na);
    alc_tok_pairmap_free(&t->bpe.bigrams); /* now one word, one heap */
    int32_t *whole = enc(t, text, len, 1, &nb);
    assert_ids_eq(cut, na, whole, nb);
    free(cut);
    free(whole);
    free(text);
    alc_tok_free(t);
}

/* The newer layout (Metaspace pre-tokenizer, no normalizer) encodes like
 * the legacy Prepend+Replace normalizer. The one difference Hugging Face
 * has: Metaspace does not prepend "▁" to text that already starts with a
 * space (" And" -> "▁And"), where Prepend gives "▁▁And" like
 * SentencePiece. */
static void test_tok_sp_metaspace_layout(void **state)
{
    (void)state;
    struct alc_tokenizer *legacy = load_dir("examples/tokenizer-sp");
    cJSON *j = read_json("examples/tokenizer-sp/tokenizer.json");
    cJSON_ReplaceItemInObject(j, "normalizer", cJSON_CreateNull());
    cJSON_ReplaceItemInObject(
        j, "pre_tokenizer",
        cJSON_Parse("{\"type\": \"Metaspace\", \"replacement\": \"\u2581\","
                    " \"prepend_scheme\": \"first\", \"split\": false}"));
    size_t clen;
    char *cfg = read_text("examples/tokenizer-sp/tokenizer_config.json", &clen);
    struct alc_tokenizer *meta = load_cjson(j, cfg);
    assert_same_on_sp_texts(legacy, meta, 1);
    /* " And God said" == legacy "And God said" */
    int64_t na, nb;
    int32_t *ia = enc(meta, " And God said", 13, 1, &na);
    int32_t *ib = enc(legacy, "And God said", 12, 1, &nb);
    assert_ids_eq(ia, na, ib, nb);
    check_roundtrip(meta, "And God said", 12, 1);
    /* the Metaspace decoder drops the first token's "▁" */
    cJSON_ReplaceItemInObject(
        j, "decoder",
        cJSON_Parse("{\"type\": \"Metaspace\", \"replacement\": \"\u2581\","
                    " \"prepend_scheme\": \"first\", \"split\": false}"));
    struct alc_tokenizer *meta2 = load_cjson(j, cfg);
    check_roundtrip(meta2, "And God said, Let there be light.", 33, 1);
    alc_tok_free(meta2);
    free(ia);
    free(ib);
    /* split: true gives the same on text with single spaces */
    cJSON_ReplaceItemInObject(
        j, "pre_tokenizer",
        cJSON_Parse("{\"type\": \"Metaspace\", \"replacement\": \"\u2581\","
                    " \"prepend_scheme\": \"always\", \"split\": true}"));
    struct alc_tokenizer *split = load_cjson(j, cfg);
    const char *s = "And God said, Let there be light: and there was light.";
    ia = enc(split, s, strlen(s), 1, &na);
    ib = enc(legacy, s, strlen(s), 1, &nb);
    assert_ids_eq(ia, na, ib, nb);
    free(ia);
    free(ib);
    alc_tok_free(split);
    alc_tok_free(meta);
    alc_tok_free(legacy);
    free(cfg);
    cJSON_Delete(j);
}

/* Encoding from several threads at once gives the sequential ids. */
struct par_job {
    const struct alc_tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids[8];
    int64_t n[8];
    int failed;
};

static void par_task(void *ctx, int64_t task, int worker)
{
    struct par_job *j = ctx;
    struct alc_diag d;
    size_t start = j->len * (size_t)task / 8;
    (void)worker;
    alc_diag_init(&d);
    if (alc_tok_encode(j->t, j->text + start, j->len - start, 1, &j->ids[task],
                       &j->n[task], &d) != 0) {
        j->failed = 1;
    }
    alc_diag_free(&d);
}

static void test_tok_threads(void **state)
{
    struct par_job j = {0};
    (void)state;
    for (int k = 0; k < 2; k++) {
        j.t =
            load_dir(k == 0 ? "examples/tiny-llama" : "examples/tokenizer-sp");
        j.text = read_text("examples/corpus/kjv.test.raw", &j.len);
        struct alc_pool *pool = alc_pool_new(4);
        alc_pool_run(pool, 8, par_task, &j);
        alc_pool_free(pool);
        assert_false(j.failed);
        for (int i = 0; i < 8; i++) {
            int64_t n;
            size_t start = j.len * (size_t)i / 8;
            int32_t *ids = enc(j.t, j.text + start, j.len - start, 1, &n);
            assert_ids_eq(j.ids[i], j.n[i], ids, n);
            free(ids);
            free(j.ids[i]);
        }
        free((char *)j.text);
        alc_tok_free((struct alc_tokenizer *)j.t);
    }
}

/* Converts model.merges from "a b" strings to ["a", "b"] pairs. */
static void merges_to_pairs(cJSON *j)
{
    cJSON *merges =
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges");
    cJSON *pairs = cJSON_CreateArray();
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, merges)
    {
        const char *s = x->valuestring;
        const char *sp = strchr(s, ' ');
        char *a = strndup(s, (size_t)(sp - s));
        const char *ab[2] = {a, sp + 1};
        cJSON_AddItemToArray(pairs, cJSON_CreateStringArray(ab, 2));
        free(a);
    }
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "model"), "merges", pairs);
}

/* Merges as pairs load to the same tokenizer as merges as strings. */
static void test_tok_merge_pairs(void **state)
{
    size_t len, clen;
    int64_t na, nb;
    (void)state;
    struct alc_tokenizer *sp = load_dir("examples/tokenizer-sp");
    cJSON *j = read_json("examples/tokenizer-sp/tokenizer.json");
    char *cfg = read_text("examples/tokenizer-sp/tokenizer_config.json", &clen);
    merges_to_pairs(j);
    struct alc_tokenizer *sp2 = load_cjson(j, cfg);
    assert_same_on_sp_texts(sp, sp2, 0);
    cJSON_Delete(j);
    free(cfg);
    struct alc_tokenizer *bl = load_dir("examples/tiny-llama");
    j = read_json("examples/tiny-llama/tokenizer.json");
    cfg = read_text("examples/tiny-llama/tokenizer_config.json", &clen);
    merges_to_pairs(j);
    struct alc_tokenizer *bl2 = load_cjson(j, cfg);
    char *text = read_text("examples/corpus/kjv.test.raw", &len);
    int32_t *ia = enc(bl, text, len, 1, &na);
    int32_t *ib = enc(bl2, text, len, 1, &nb);
    assert_ids_eq(ia, na, ib, nb);
    free(ia);
    free(ib);
    free(text);
    free(cfg);
    cJSON_Delete(j);
    alc_tok_free(sp);
    alc_tok_free(sp2);
    alc_tok_free(bl);
    alc_tok_free(bl2);
}

/* Empty text: nothing, or just BOS with add_special. */
static void test_tok_empty(void **state)
{
    int64_t n;
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tiny-llama");
    int32_t *ids = enc(t, "", 0, 0, &n);
    assert_non_null(ids);
    assert_int_equal(n, 0);
    free(ids);
    ids = enc(t, NULL, 0, 1, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 0);
    free(ids);
    char *s = alc_tok_decode(t, NULL, 0, 0);
    assert_string_equal(s, "");
    free(s);
    alc_tok_free(t);
}

/* Ill-formed UTF-8: every byte maps in byte-level BPE and round-trips; a
 * SentencePiece-style model sees U+FFFD (as bytes.decode(errors="replace")
 * would give it) and byte-falls back to its three bytes. */
static void test_tok_invalid_utf8(void **state)
{
    static const char bad[] = "ab\xff\xfe cd\xc3 \xe2\x82 z\xed\xa0\x80";
    int64_t n;
    size_t len;
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tiny-llama");
    check_roundtrip(t, bad, sizeof bad - 1, 1);
    alc_tok_free(t);
    t = load_dir("examples/tokenizer-sp");
    int32_t *ids = enc(t, "a\xff", 2, 0, &n);
    const int32_t want[] = {vid(t, "\u2581a"), vid(t, "<0xEF>"),
                            vid(t, "<0xBF>"), vid(t, "<0xBD>")};
    assert_ids_eq(ids, n, want, 4);
    char *back = alc_tok_decode_len(t, ids, n, 1, &len);
    assert_string_equal(back, "a\xEF\xBF\xBD");
    free(back);
    free(ids);
    alc_tok_free(t);
}

/* Added tokens in the middle of text split it: each side is encoded on its
 * own (the GPT-2 split never crosses them). */
static void test_tok_added_in_text(void **state)
{
    int64_t n, na, nb, nc;
    (void)state;
    struct alc_tokenizer *t = load_dir("examples/tiny-llama");
    const char *s = "In the beginning</s>God<s> created";
    int32_t *ids = enc(t, s, strlen(s), 1, &n);
    int32_t *a = enc(t, "In the beginning", 16, 0, &na);
    int32_t *b = enc(t, "God", 3, 0, &nb);
    int32_t *c = enc(t, " created", 8, 0, &nc);
    int32_t want[64];
    int64_t k = 0;
    want[k++] = 0;
    memcpy(want + k, a, (size_t)na * sizeof *a);
    k += na;
    want[k++] = 1;
    memcpy(want + k, b, (size_t)nb * sizeof *b);
    k += nb;
    want[k++] = 0;
    memcpy(want + k, c, (size_t)nc * sizeof *c);
    k += nc;
    assert_ids_eq(ids, n, want, k);
    /* decoding keeps them unless asked to skip them */
    char *full = alc_tok_decode(t, ids, n, 0);
    assert_string_equal(full, "<s>In the beginning</s>God<s> created");
    free(full);
    free(ids);
    free(a);
    free(b);
    free(c);
    alc_tok_free(t);
}

/* Adds one added token (JSON object text) to a loaded tokenizer.json. */
static struct alc_tokenizer *with_added(const char *dir_json, const char *token)
{
    cJSON *j = read_json(dir_json);
    cJSON_AddItemToArray(cJSON_GetObjectItem(j, "added_tokens"),
                         cJSON_Parse(token));
    struct alc_tokenizer *t = load_cjson(j, NULL);
    cJSON_Delete(j);
    return t;
}

/* lstrip / rstrip take the spaces around; single_word needs word edges;
 * a normalized token matches in the normalized text. */
static void test_tok_added_flags(void **state)
{
    (void)state;
    struct alc_tokenizer *t = with_added(
        "examples/tiny-llama/tokenizer.json",
        "{\"id\": 1024, \"content\": \"<mask>\", \"lstrip\": true, "
        "\"rstrip\": true, \"normalized\": false, \"special\": true}");
    struct alc_tokenizer *base = load_dir("examples/tiny-llama");
    int64_t n, na, nb;
    int32_t *ids = enc(t, "a  <mask>  b", 12, 0, &n);
    int32_t *a = enc(base, "a", 1, 0, &na);
    int32_t *b = enc(base, "b", 1, 0, &nb);
    assert_int_equal(n, na + 1 + nb);
    assert_int_equal(ids[na], 1024);
    assert_ids_eq(ids, na, a, na);
    assert_ids_eq(ids + na + 1, nb, b, nb);
    assert_int_equal(alc_tok_vocab_size(t), 1025);
    assert_string_equal(alc_tok_piece(t, 1024), "<mask>");
    free(ids);
    free(a);
    free(b);
    alc_tok_free(t);
    /* single_word: "xyz" inside "axyz" is not a match, alone it is */
    t = with_added("examples/tiny-llama/tokenizer.json",
                   "{\"id\": 1024, \"content\": \"xyz\", "
                   "\"single_word\": true, \"normalized\": false}");
    ids = enc(t, "axyz xyz", 8, 0, &n);
    a = enc(base, "axyz ", 5, 0, &na);
    assert_int_equal(n, na + 1);
    assert_ids_eq(ids, na, a, na);
    assert_int_equal(ids[na], 1024);
    free(ids);
    free(a);
    alc_tok_free(t);
    alc_tok_free(base);
    /* normalized with the sp normalizer: "hello" is searched as "▁hello",
     * so "say hello" splits into "▁say" and the token */
    t = with_added("examples/tokenizer-sp/tokenizer.json",
                   "{\"id\": 1000, \"content\": \"hello\", "
                   "\"normalized\": true}");
    base = load_dir("examples/tokenizer-sp");
    ids = enc(t, "say hello", 9, 0, &n);
    a = enc(base, "say", 3, 0, &na);
    assert_int_equal(n, na + 1);
    assert_ids_eq(ids, na, a, na);
    assert_int_equal(ids[na], 1000);
    free(ids);
    free(a);
    alc_tok_free(t);
    alc_tok_free(base);
}

/* ---- Hand-built byte-level tokenizers ---- */

/* A byte-level BPE whose vocabulary is the 256 byte characters (id = byte
 * value), then extra tokens (ids 256, 257, ...) and merges, in order. */
static cJSON *byte_bpe(const char *const *extra, const char *const *merges)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(j, "model");
    cJSON *vocab = cJSON_CreateObject();
    cJSON *m = cJSON_CreateArray();
    cJSON_AddStringToObject(model, "type", "BPE");
    for (unsigned b = 0; b < 256; b++) {
        char key[8] = {0};
        alc_tok_utf8_put(key, alc_tok_byte_char(b));
        cJSON_AddNumberToObject(vocab, key, b);
    }
    for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
        cJSON_AddNumberToObject(vocab, extra[i], 256 + i);
    }
    for (int i = 0; merges != NULL && merges[i] != NULL; i++) {
        cJSON_AddItemToArray(m, cJSON_CreateString(merges[i]));
    }
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", m);
    cJSON_AddItemToObject(j, "pre_tokenizer",
                          cJSON_Parse("{\"type\": \"ByteLevel\", "
                                      "\"add_prefix_space\": false, "
                                      "\"use_regex\": true}"));
    cJSON_AddItemToObject(j, "decoder",
                          cJSON_Parse("{\"type\": \"ByteLevel\"}"));
    return j;
}

/* GPT-2 split and merge order, derived by hand. The split of
 * "I'm  here's 2024!! ok  \n" is I | 'm | " " | " here" | 's | " 2024" |
 * !! | " ok" | "  \n" (\s+(?!\S) leaves the last space before "here").
 * In " here" the merges by rank are "e r" (0), then "h er" (2); "Ġ h" (3)
 * never applies because h is gone by then. */
static void test_tok_gpt2_by_hand(void **state)
{
    static const char *const extra[] = {"er",   "he", "her", "Ġh",
                                        "Ġher", "'s", NULL};
    static const char *const merges[] = {"e r",   "h e", "h er", "Ġ h",
                                         "Ġh er", "' s", NULL};
    static const int32_t want[] = {73,  39,  109, 32, 32, 258, 101, 261,
                                   32,  50,  48,  50, 52, 33,  33,  32,
                                   111, 107, 32,  32, 10, -1};
    (void)state;
    cJSON *j = byte_bpe(extra, merges);
    struct alc_tokenizer *t = load_cjson(j, NULL);
    const char *s = "I'm  here's 2024!! ok  \n";
    check_enc(t, s, want);
    check_roundtrip(t, s, strlen(s), 0);
    /* GPT-2's contractions are case-sensitive: "'M" is ' then M */
    static const int32_t upper[] = {73, 39, 77, -1};
    check_enc(t, "I'M", upper);
    /* " hher": "e r", "h er", then "Ġ h"; nothing joins "Ġh" and "her" */
    static const int32_t hh[] = {259, 258, -1};
    check_enc(t, " hher", hh);
    alc_tok_free(t);
    cJSON_Delete(j);
}

/* Collects split_words output as "w1|w2|..." (added tokens as <id>). */
static void collect(void *ctx, const char *w, size_t n, int32_t id)
{
    struct alc_sb *sb = ctx;
    if (sb->len > 0) {
        alc_sb_putc(sb, '|');
    }
    if (id >= 0) {
        alc_sb_printf(sb, "<%d>", id);
    } else {
        alc_sb_append(sb, w, n);
    }
}

static void check_split(const struct alc_tokenizer *t, const char *s,
                        const char *want)
{
    struct alc_sb sb;
    struct alc_diag d;
    alc_sb_init(&sb);
    alc_diag_init(&d);
    if (alc_tok_split_words(t, s, strlen(s), collect, &sb, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    assert_string_equal(alc_sb_str(&sb), want);
    alc_sb_free(&sb);
    alc_diag_free(&d);
}

/* A byte-level tokenizer with a given pre_tokenizer (JSON text). */
static struct alc_tokenizer *byte_with_pre(const char *pre)
{
    cJSON *j = byte_bpe(NULL, NULL);
    cJSON_ReplaceItemInObject(j, "pre_tokenizer", cJSON_Parse(pre));
    struct alc_tokenizer *t = load_cjson(j, NULL);
    cJSON_Delete(j);
    return t;
}

#define LLAMA3_RE                                                              \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|"    \
    "\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"                  \
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"

#define SPLIT_THEN_BYTES(re)                                                   \
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", "      \
    "\"pattern\": {\"Regex\": \"" re "\"}, \"behavior\": \"Isolated\", "       \
    "\"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": "     \
    "false, \"trim_offsets\": true, \"use_regex\": false}]}"

/* LLaMA-3's split as it ships (Sequence[Split, ByteLevel]), on strings
 * split by hand from the regex: (?i:) contractions, a letter run with one
 * optional non-letter prefix, digits in threes, punctuation with trailing
 * newlines, newline runs, and \s+(?!\S). Qwen2's \p{N} splits digits. */
static void test_tok_llama3_split(void **state)
{
    (void)state;
    struct alc_tokenizer *t = byte_with_pre(SPLIT_THEN_BYTES(LLAMA3_RE));
    check_split(t, "I'M here, 1234567 ok!!\n\n  end  ",
                "I|'M|Ġhere|,|Ġ|123|456|7|Ġok|!!ĊĊ|Ġ|Ġend|ĠĠ");
    check_split(t, "a\n\n b\r\nc", "a|ĊĊ|Ġb|čĊ|c");
    check_split(t, "we'LL see\t(x)", "we|'LL|Ġsee|ĉ|(x|)");
    alc_tok_free(t);
    t = byte_with_pre(SPLIT_THEN_BYTES(
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
        "\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
        "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"));
    check_split(t, "x 1234", "x|Ġ|1|2|3|4");
    alc_tok_free(t);
    /* GPT-2's own regex through ByteLevel(use_regex) */
    t = byte_with_pre("{\"type\": \"ByteLevel\", \"add_prefix_space\": "
                      "true}");
    check_split(t, "I'M here", "ĠI|'|M|Ġhere");
    alc_tok_free(t);
}

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
 * others take 256, 257, ... in byte order; the table inverts. */
static void test_tok_byte_table(void **state)
{
    uint32_t next = 256;
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                        (b >= 0xAE && b <= 0xFF);
        uint32_t want = printable ? b : next++;
        assert_int_equal(alc_tok_byte_char(b), want);
        assert_int_equal(alc_tok_char_byte(want), (int)b);
    }
    assert_int_equal(next, 324);
    assert_int_equal(alc_tok_char_byte(324), -1);
    assert_int_equal(alc_tok_char_byte(0x20), -1);
    assert_int_equal(alc_tok_byte_char(' '), 0x120); /* "Ġ" */
}

/* Oniguruma classes rewritten for PCRE2; escapes and POSIX classes kept. */
static void test_tok_regex_dialect(void **state)
{
    static const char *const cases[][2] = {
        {"[^\\s\\p{L}]+", "[^\\p{White_Space}\\p{L}]+"},
        {"\\s+(?!\\S)", "\\p{White_Space}+(?!\\P{White_Space})"},
        {"\\w+", "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]+"},
        {"[]\\w]", "[]\\p{L}\\p{M}\\p{Nd}\\p{Pc}]"},
        {"\\\\s[[:alpha:]\\h]", "\\\\s[[:alpha:]0-9a-fA-F]"},
        {"\\p{N}{1,3}", "\\p{N}{1,3}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct alc_sb sb;
        alc_sb_init(&sb);
        alc_tok_regex_from_onig(&sb, cases[i][0]);
        assert_string_equal(alc_sb_str(&sb), cases[i][1]);
        alc_sb_free(&sb);
    }
}

/* Appends s with every byte as its GPT-2 byte-level character. */
static void bytemap(struct alc_sb *out, const char *s)
{
    for (; *s; s++) {
        char buf[4];
        size_t k = alc_tok_utf8_put(buf, alc_tok_byte_char((unsigned char)*s));
        alc_sb_append(out, buf, k);
    }
}

/* U+180E is no whitespace for onig (Cf since Unicode 6.3), though PCRE2's
 * \s matches it: GPT-2's split keeps " \u180E" as punctuation. The Rust
 * \w of the Whitespace pre-tokenizer includes combining marks. */
static void test_tok_regex_classes(void **state)
{
    struct alc_sb want;
    (void)state;
    struct alc_tokenizer *t = byte_with_pre("{\"type\": \"ByteLevel\", "
                                            "\"add_prefix_space\": false}");
    alc_sb_init(&want);
    alc_sb_puts(&want, "a|");
    bytemap(&want, " \xe1\xa0\x8e");
    alc_sb_puts(&want, "|b");
    check_split(t,
                "a \xe1\xa0\x8e"
                "b",
                alc_sb_str(&want));
    alc_sb_free(&want);
    alc_tok_free(t);
    t = byte_with_pre("{\"type\": \"Whitespace\"}");
    check_split(t, "cafe\xcc\x81s, ok", "cafe\xcc\x81s|,|ok");
    alc_tok_free(t);
}

/* Split behaviours and the built-in splitting pre-tokenizers. */
static void test_tok_split_behaviors(void **state)
{
    static const struct {
        const char *behavior, *want;
    } cases[] = {
        {"Removed", "a|b|c"},
        {"Isolated", "a|-|b|-|-|c"},
        {"MergedWithPrevious", "a-|b-|-|c"},
        {"MergedWithNext", "a|-b|-|-c"},
        {"Contiguous", "a|-|b|--|c"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char pre[256];
        snprintf(pre, sizeof pre,
                 "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, "
                 "\"behavior\": \"%s\", \"invert\": false}",
                 cases[i].behavior);
        struct alc_tokenizer *t = byte_with_pre(pre);
        check_split(t, "a-b--c", cases[i].want);
        alc_tok_free(t);
    }
    struct alc_tokenizer *t = byte_with_pre(
        "{\"type\": \"Sequence\", \"pretokenizers\": ["
        "{\"type\": \"WhitespaceSplit\"}, {\"type\": \"Punctuation\"}, "
        "{\"type\": \"Digits\", \"individual_digits\": true}]}");
    check_split(t, " ab,c  12\td!", "ab|,|c|1|2|d|!");
    alc_tok_free(t);
    t = byte_with_pre("{\"type\": \"Whitespace\"}");
    check_split(t, "hi, you  there!?", "hi|,|you|there|!?");
    alc_tok_free(t);
}

/* Normalizers: NFC composes, NFKC folds compatibility forms, Lowercase,
 * Strip, Replace with a regex; all through ICU / PCRE2. */
static void test_tok_normalizers(void **state)
{
    (void)state;
    cJSON *j = byte_bpe(NULL, NULL);
    cJSON_ReplaceItemInObject(j, "pre_tokenizer",
                              cJSON_Parse("{\"type\": \"WhitespaceSplit\"}"));
    cJSON_AddItemToObject(
        j, "normalizer",
        cJSON_Parse("{\"type\": \"Sequence\", \"normalizers\": ["
                    "{\"type\": \"Strip\", \"strip_left\": true, "
                    "\"strip_right\": true}, {\"type\": \"NFC\"}, "
                    "{\"type\": \"Lowercase\"}, {\"type\": \"Replace\", "
                    "\"pattern\": {\"Regex\": \"[0-9]+\"}, "
                    "\"content\": \"#\"}]}"));
    struct alc_tokenizer *t = load_cjson(j, NULL);
    /* e + U+0301 -> é (C3 A9); É -> é */
    check_split(t, "  Cafe\xcc\x81 \xc3\x89T\xc3\x89 42x7 ",
                "caf\xc3\xa9|\xc3\xa9t\xc3\xa9|#x#");
    alc_tok_free(t);
    cJSON_ReplaceItemInObject(j, "normalizer",
                              cJSON_Parse("{\"type\": \"NFKC\"}"));
    t = load_cjson(j, NULL);
    check_split(t, "\xef\xac\x81ne \xef\xbc\xa1", "fine|A"); /* ﬁ, Ａ */
    alc_tok_free(t);
    cJSON_Delete(j);
}

/* ignore_merges emits a whole word found in the vocabulary; without it the
 * merges decide. */
static void test_tok_ignore_merges(void **state)
{
    static const char *const extra[] = {"ab", "abc", NULL};
    static const char *const merges[] = {"a b", NULL};
    (void)state;
    cJSON *j = byte_bpe(extra, merges);
    struct alc_tokenizer *t = load_cjson(j, NULL);
    static const int32_t plain[] = {256, 99, -1};
    check_enc(t, "abc", plain);
    alc_tok_free(t);
    cJSON_AddTrueToObject(cJSON_GetObjectItem(j, "model"), "ignore_merges");
    t = load_cjson(j, NULL);
    static const int32_t whole[] = {257, -1};
    check_enc(t, "abc", whole);
    alc_tok_free(t);
    cJSON_Delete(j);
}

/* Without byte_fallback unknown characters become unk, fused or not. */
static void test_tok_unk(void **state)
{
    (void)state;
    cJSON *j = read_json("examples/tokenizer-sp/tokenizer.json");
    cJSON *model = cJSON_GetObjectItem(j, "model");
    cJSON_ReplaceItemInObject(model, "byte_fallback", cJSON_CreateFalse());
    struct alc_tokenizer *t = load_cjson(j, NULL);
    const int32_t fused[] = {vid(t, "\u2581"), 0, vid(t, "\u2581a"), -1};
    check_enc(t, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 a", fused);
    alc_tok_free(t);
    cJSON_ReplaceItemInObject(model, "fuse_unk", cJSON_CreateFalse());
    t = load_cjson(j, NULL);
    const int32_t apart[] = {vid(t, "\u2581"), 0, 0, vid(t, "\u2581a"), -1};
    check_enc(t, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 a", apart);
    alc_tok_free(t);
    cJSON_Delete(j);
}

/* continuing_subword_prefix: non-first characters carry it, and a merge
 * "a ##b" makes "ab". */
static void test_tok_subword_prefix(void **state)
{
    (void)state;
    struct alc_tokenizer *t = load_text(
        "{\"model\": {\"type\": \"BPE\", \"continuing_subword_prefix\": "
        "\"##\", \"vocab\": {\"a\": 0, \"##b\": 1, \"ab\": 2, \"##c\": 3, "
        "\"b\": 4}, \"merges\": [\"a ##b\"]}, \"pre_tokenizer\": "
        "{\"type\": \"WhitespaceSplit\"}}",
        NULL);
    static const int32_t want[] = {2, 3, 4, -1};
    check_enc(t, "abc b", want);
    alc_tok_free(t);
}

/* BOS per tokenizer_config.json: LlamaTokenizerFast rebuilds the template
 * from add_bos_token / add_eos_token; a GPT-2/OPT-style config adds its
 * bos_token ("</s>" for OPT) when the post-processor adds nothing. */
static void test_tok_bos_config(void **state)
{
    int64_t n;
    (void)state;
    cJSON *j = read_json("examples/tokenizer-sp/tokenizer.json");
    struct alc_tokenizer *t = load_cjson(
        j, "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": "
           "\"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": false, "
           "\"add_eos_token\": true}");
    int32_t *ids = enc(t, "a", 1, 1, &n);
    const int32_t want[] = {vid(t, "\u2581a"), 2};
    assert_ids_eq(ids, n, want, 2);
    assert_int_equal(alc_tok_bos_id(t), -1);
    free(ids);
    alc_tok_free(t);
    /* the class's default bos_token "<s>" when the file has none */
    t = load_cjson(j, "{\"tokenizer_class\": \"LlamaTokenizer\"}");
    assert_int_equal(alc_tok_bos_id(t), 1);
    assert_int_equal(alc_tok_eos_id(t), 2);
    alc_tok_free(t);
    cJSON_Delete(j);
    j = read_json("examples/tiny-llama/tokenizer.json");
    cJSON_ReplaceItemInObject(j, "post_processor",
                              cJSON_Parse("{\"type\": \"ByteLevel\"}"));
    t = load_cjson(j, NULL);
    assert_int_equal(alc_tok_bos_id(t), -1);
    alc_tok_free(t);
    t = load_cjson(j, "{\"tokenizer_class\": \"GPT2Tokenizer\", "
                      "\"bos_token\": {\"content\": \"</s>\"}, "
                      "\"add_bos_token\": true}");
    assert_int_equal(alc_tok_bos_id(t), 1);
    ids = enc(t, "a", 1, 1, &n);
    assert_int_equal(ids[0], 1);
    free(ids);
    alc_tok_free(t);
    cJSON_Delete(j);
}

/* ---- Errors: one clear message naming the file and the field ---- */

static void expect_error(const char *json, const char *cfg, const char *msg)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_tokenizer *t = alc_tok_load_json(json, strlen(json), cfg, &d);
    assert_null(t);
    assert_int_equal(d.n_err, 1);
    if (strstr(d.first, msg) == NULL) {
        fail_msg("got '%s', want '%s'", d.first, msg);
    }
    alc_diag_free(&d);
}

#define VOCAB_ABC "{\"a\": 0, \"b\": 1, \"ab\": 2, \"c\": 3}"
#define BPE(vocab, merges)                                                     \
    "{\"model\": {\"type\": \"BPE\", \"vocab\": " vocab                        \
    ", \"merges\": " merges "}"

static void test_tok_errors(void **state)
{
    (void)state;
    expect_error("{\"model\": ", NULL,
                 "error: tokenizer.json:1:10: invalid JSON");
    expect_error("[1]", NULL, "tokenizer.json: expected a JSON object");
    expect_error("{}", NULL, "tokenizer.json: model: missing");
    expect_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", NULL,
                 "tokenizer.json: model.type 'Unigram' is not supported");
    expect_error("{\"model\": {\"type\": \"WordPiece\"}}", NULL,
                 "model.type 'WordPiece' is not supported");
    expect_error(BPE(VOCAB_ABC, "[\"a b\", \"ab c\", \"b c\", \"a\"]") "}",
                 NULL,
                 "tokenizer.json: model.merges[1]: merged token 'abc' "
                 "is not in model.vocab");
    expect_error(BPE(VOCAB_ABC, "[\"a b\", \"b c\", \"c c\", \"a\"]") "}", NULL,
                 "model.merges[1]: merged token 'bc'");
    expect_error(BPE("{\"a\": 0, \"b\": 1, \"ab\": 2, \"aa\": 3}",
                     "[\"a b\", \"a a\", [\"b\", \"b\"], \"a\"]") "}",
                 NULL, "model.merges[2]: merged token 'bb'");
    expect_error(BPE("{\"a\": 0, \"b\": 1, \"ab\": 2, \"aa\": 3}",
                     "[\"a b\", \"a a\", \"a b\", \"a\"]") "}",
                 NULL,
                 "tokenizer.json: model.merges[3]: merge 'a' has no "
                 "second token");
    expect_error(BPE(VOCAB_ABC, "[\"a b c\"]") "}", NULL,
                 "model.merges[0]: merge 'a b c' has more than two tokens");
    expect_error(BPE(VOCAB_ABC, "[\"a x\"]") "}", NULL,
                 "model.merges[0]: token 'x' is not in model.vocab");
    expect_error(BPE(VOCAB_ABC, "[[\"a\"]]") "}", NULL,
                 "model.merges[0]: expected \"a b\" or [\"a\", \"b\"]");
    expect_error(BPE("{\"a\": 5, \"b\": 5}", "[]") "}", NULL,
                 "tokenizer.json: model.vocab: id 5 used twice");
    expect_error(BPE("{\"a\": -1}", "[]") "}", NULL,
                 "model.vocab['a']: id must be an integer");
    expect_error(BPE("{\"a\": 1.5}", "[]") "}", NULL,
                 "model.vocab['a']: id must be an integer");
    expect_error(BPE("[]", "[]") "}", NULL, "model.vocab: expected an object");
    expect_error(BPE(VOCAB_ABC, "{}") "}", NULL,
                 "model.merges: expected an array");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"normalizer\": {\"type\": "
                                      "\"Foo\"}}",
                 NULL,
                 "tokenizer.json: normalizer.type 'Foo' is not "
                 "supported");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"normalizer\": {\"type\": "
                                      "\"Sequence\", \"normalizers\": "
                                      "[{\"type\": \"NFC\"}, {\"type\": "
                                      "\"Precompiled\"}]}}",
                 NULL,
                 "normalizer.normalizers[1].type 'Precompiled' is not "
                 "supported");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"pre_tokenizer\": {\"type\": "
                                      "\"BertPreTokenizer\"}}",
                 NULL,
                 "pre_tokenizer.type 'BertPreTokenizer' is not "
                 "supported");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"pre_tokenizer\": {\"type\": "
                                      "\"Split\", \"pattern\": {\"Regex\": "
                                      "\"(a\"}, \"behavior\": "
                                      "\"Isolated\"}}",
                 NULL,
                 "pre_tokenizer.pattern.Regex: invalid regex at "
                 "offset 2: missing closing parenthesis");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"pre_tokenizer\": {\"type\": "
                                      "\"Split\", \"pattern\": {\"String\": "
                                      "\"a\"}, \"behavior\": \"Sideways\"}}",
                 NULL, "pre_tokenizer.behavior 'Sideways' is not one of");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"pre_tokenizer\": {\"type\": "
                                      "\"Metaspace\", \"replacement\": "
                                      "\"ab\"}}",
                 NULL,
                 "pre_tokenizer.replacement: expected exactly one "
                 "character");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"decoder\": {\"type\": "
                                      "\"WordPiece\"}}",
                 NULL, "decoder.type 'WordPiece' is not supported");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"post_processor\": {\"type\": "
                                      "\"Nope\"}}",
                 NULL, "post_processor.type 'Nope' is not supported");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"post_processor\": {\"type\": "
                                      "\"TemplateProcessing\", \"single\": "
                                      "[{\"SpecialToken\": {\"id\": "
                                      "\"<s>\"}}, {\"Sequence\": {\"id\": "
                                      "\"A\"}}], \"special_tokens\": {}}}",
                 NULL,
                 "post_processor.single[0]: special token '<s>' has "
                 "no ids");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"added_tokens\": [{\"id\": 4}]}",
                 NULL, "added_tokens[0].content: missing");
    expect_error(BPE(VOCAB_ABC, "[]") ", \"added_tokens\": [{\"id\": 4, "
                                      "\"content\": \"x\", \"lstrip\": "
                                      "1}]}",
                 NULL, "added_tokens[0].lstrip: expected true or false");
    expect_error(BPE(VOCAB_ABC, "[]") "}", "{\"add_bos_token\": true}",
                 "tokenizer_config.json: add_bos_token is true but "
                 "bos_token is not set");
    expect_error(BPE(VOCAB_ABC, "[]") "}",
                 "{\"tokenizer_class\": \"LlamaTokenizerFast\", "
                 "\"bos_token\": \"<s>\"}",
                 "tokenizer_config.json: bos_token '<s>' is not in the "
                 "vocabulary");
    expect_error(BPE(VOCAB_ABC, "[]") "}", "{\"add_eos_token\": 1}",
                 "tokenizer_config.json: add_eos_token: expected true or "
                 "false");
    expect_error(BPE(VOCAB_ABC, "[]") "}", "{\n\"add_bos_token\": tru}",
                 "tokenizer_config.json:2:18: invalid JSON");
    expect_error("{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, "
                 "\"vocab\": {}, \"merges\": []}}",
                 NULL, "model.dropout: BPE-dropout is not supported");
}

/* A missing file, and unk_token missing from the vocabulary when needed. */
static void test_tok_errors_runtime(void **state)
{
    struct alc_diag d;
    int32_t *ids = NULL;
    int64_t n;
    (void)state;
    alc_diag_init(&d);
    assert_null(alc_tok_load("/nonexistent-dir", &d));
    assert_non_null(strstr(d.first, "/nonexistent-dir/tokenizer.json"));
    alc_diag_reset(&d);
    struct alc_tokenizer *t =
        load_text("{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", "
                  "\"vocab\": {\"a\": 0}, \"merges\": []}}",
                  NULL);
    assert_int_equal(alc_tok_encode(t, "ab", 2, 0, &ids, &n, &d), -1);
    assert_null(ids);
    assert_string_equal(d.first, "error: tokenizer.json: model.unk_token "
                                 "'<unk>' is needed but is not in "
                                 "model.vocab");
    alc_tok_free(t);
    alc_diag_free(&d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tok_bytelevel_reference),
    cmocka_unit_test(test_tok_sp_reference),
    cmocka_unit_test(test_tok_bytelevel_roundtrip),
    cmocka_unit_test(test_tok_sp_cut_exact),
    cmocka_unit_test(test_tok_sp_metaspace_layout),
    cmocka_unit_test(test_tok_merge_pairs),
    cmocka_unit_test(test_tok_threads),
    cmocka_unit_test(test_tok_empty),
    cmocka_unit_test(test_tok_invalid_utf8),
    cmocka_unit_test(test_tok_added_in_text),
    cmocka_unit_test(test_tok_added_flags),
    cmocka_unit_test(test_tok_gpt2_by_hand),
    cmocka_unit_test(test_tok_llama3_split),
    cmocka_unit_test(test_tok_byte_table),
    cmocka_unit_test(test_tok_regex_dialect),
    cmocka_unit_test(test_tok_regex_classes),
    cmocka_unit_test(test_tok_split_behaviors),
    cmocka_unit_test(test_tok_normalizers),
    cmocka_unit_test(test_tok_ignore_merges),
    cmocka_unit_test(test_tok_unk),
    cmocka_unit_test(test_tok_subword_prefix),
    cmocka_unit_test(test_tok_bos_config),
    cmocka_unit_test(test_tok_errors),
    cmocka_unit_test(test_tok_errors_runtime),
};

ALC_TEST_MAIN(tests)
