/*
 * fuzz_tokenizer.c: libFuzzer target for the tokenizer.json reader and the
 * encoder/decoder (runtime/tokenizer.c, tok_*.c). The input is
 *   tokenizer.json bytes, NUL, text to encode [, NUL, tokenizer_config.json]
 * Every input must either load or fail with an error in the diag, and a
 * loaded tokenizer must encode, split and decode the text (and decode ids
 * made from the text bytes) without crashing. Seeds: fuzz/seeds/tokenizer/
 * (made by tools/make_tokenizer_seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_word(void *ctx, const char *w, size_t n, int32_t id)
{
    size_t *total = ctx;
    (void)w;
    (void)id;
    *total += n;
}

static void exercise(const struct alc_tokenizer *t, const char *text,
                     size_t len)
{
    struct alc_diag d;
    int32_t *ids = NULL;
    int64_t n = 0;
    size_t words = 0, out = 0;
    alc_diag_init(&d);
    for (int special = 0; special < 2; special++) {
        if (alc_tok_encode(t, text, len, special, &ids, &n, &d) == 0) {
            char *s = alc_tok_decode_len(t, ids, n, special, &out);
            free(s);
            free(ids);
            ids = NULL;
        } else if (d.n_err == 0) {
            abort(); /* a failure must say why */
        }
        alc_diag_reset(&d);
    }
    if (alc_tok_split_words(t, text, len, count_word, &words, &d) != 0 &&
        d.n_err == 0) {
        abort();
    }
    /* ids from the text bytes, some out of range */
    int64_t m = (int64_t)(len / 2);
    int32_t *raw = malloc((size_t)m * sizeof *raw + 1);
    for (int64_t i = 0; i < m; i++) {
        int v =
            (unsigned char)text[2 * i] << 8 | (unsigned char)text[2 * i + 1];
        raw[i] = v % (alc_tok_vocab_size(t) + 8) - 4;
    }
    free(alc_tok_decode_len(t, raw, m, (int)(len & 1), &out));
    free(raw);
    (void)alc_tok_piece(t, (int32_t)len);
    (void)alc_tok_bos_id(t);
    (void)alc_tok_eos_id(t);
    alc_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    const char *nul = memchr(data, 0, size);
    size_t jlen = nul ? (size_t)(nul - json) : size;
    const char *text = nul ? nul + 1 : "";
    size_t tlen = nul ? size - jlen - 1 : 0;
    char *cfg = NULL;
    const char *nul2 = memchr(text, 0, tlen);
    if (nul2 != NULL) {
        size_t clen = tlen - (size_t)(nul2 - text) - 1;
        cfg = malloc(clen + 1);
        memcpy(cfg, nul2 + 1, clen);
        cfg[clen] = '\0';
        tlen = (size_t)(nul2 - text);
    }
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_tokenizer *t = alc_tok_load_json(json, jlen, cfg, &d);
    if (t == NULL && d.n_err == 0) {
        abort(); /* a failed load must say why */
    }
    if (t != NULL) {
        exercise(t, text, tlen);
        alc_tok_free(t);
    }
    alc_diag_free(&d);
    free(cfg);
    return 0;
}
