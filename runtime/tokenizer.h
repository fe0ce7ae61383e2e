/*
 * tokenizer.h: Hugging Face tokenizer.json in C. Two model families:
 *  - byte-level BPE (GPT-2, OPT, LLaMA-3, Qwen2): ByteLevel pre-tokenizer
 *    with the GPT-2 / LLaMA-3 / Qwen2 split regex (PCRE2), bytes mapped to
 *    printable code points, merges by rank;
 *  - SentencePiece-style BPE (LLaMA-1/2, Mistral): "▁" metaspace (as a
 *    Prepend+Replace normalizer or a Metaspace pre-tokenizer), merges by
 *    rank, byte_fallback to <0xNN> pieces, unk otherwise.
 * Merges are accepted as "a b" strings and as ["a", "b"] pairs. Added and
 * special tokens are matched before the model runs. BOS comes from
 * tokenizer_config.json (add_bos_token) or the TemplateProcessing
 * post-processor. Token ids equal Hugging Face's on the bundled fixtures.
 */
#ifndef ALC_TOKENIZER_H
#define ALC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "alc_common.h"

struct alc_tokenizer;

/*
 * Loads <dir>/tokenizer.json and, when present, <dir>/tokenizer_config.json.
 * Errors name the file and the field ("tokenizer.json: model.merges[12]:
 * ..."). Returns NULL on error.
 */
struct alc_tokenizer *alc_tok_load(const char *dir, struct alc_diag *d);
/* Same from in-memory JSON texts (config may be NULL); for tests/fuzzing. */
struct alc_tokenizer *alc_tok_load_json(const char *tokenizer_json,
                                        size_t len, const char *config_json,
                                        struct alc_diag *d);
void alc_tok_free(struct alc_tokenizer *t);

/*
 * Encodes text (UTF-8; invalid bytes are handled as the HF tokenizer does
 * with byte-level models, replaced by U+FFFD for SentencePiece models).
 * With add_special != 0 the post-processor's tokens (BOS) are added as
 * Hugging Face's tokenizer(text) would. *ids is malloc'd (free()).
 */
int alc_tok_encode(const struct alc_tokenizer *t, const char *text,
                   size_t len, int add_special, int32_t **ids, int64_t *n,
                   struct alc_diag *d);
/* Decodes ids to UTF-8 text (malloc'd), skipping special tokens if asked. */
char *alc_tok_decode(const struct alc_tokenizer *t, const int32_t *ids,
                     int64_t n, int skip_special);
/* Same, also giving the length (byte-fallback and byte-level tokens can
 * decode to NUL bytes). Returns NULL only on a decoder error. */
char *alc_tok_decode_len(const struct alc_tokenizer *t, const int32_t *ids,
                         int64_t n, int skip_special, size_t *len);

int alc_tok_vocab_size(const struct alc_tokenizer *t);
/* BOS id that add_special prepends, or -1 when none is added. */
int alc_tok_bos_id(const struct alc_tokenizer *t);
int alc_tok_eos_id(const struct alc_tokenizer *t); /* -1 if unknown */
/* The token string of id (as in the vocab), or NULL if out of range. */
const char *alc_tok_piece(const struct alc_tokenizer *t, int32_t id);

#endif /* ALC_TOKENIZER_H */
