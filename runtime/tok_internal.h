/*
 * tok_internal.h: the tokenizer's internal data, shared by its four files:
 *   tok_load.c     reads tokenizer.json / tokenizer_config.json into it;
 *   tokenizer.c    encodes (added tokens, normalizers, pre-tokenizers, BPE,
 *                  post-processor) and decodes;
 *   tok_bpe.c      hash maps and the BPE merge loop;
 *   tok_unicode.c  UTF-8, GPT-2's byte-to-character table, whitespace and
 *                  word-character classes, ICU normalization.
 * Not part of the public API (that is tokenizer.h); tests include it to
 * check the stages one by one.
 */
#ifndef ALC_TOK_INTERNAL_H
#define ALC_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "alc_common.h"
#include "tokenizer.h"

/* Ids live in [0, TOK_MAX_ID): bounds the id -> piece table a file can ask
 * for (real vocabularies stay under 300 k). */
#define TOK_MAX_ID (1 << 22)
/* Flattened normalizer / pre-tokenizer / decoder steps per tokenizer. */
#define TOK_MAX_STEPS 16
/* One-character tokens of code points below this are looked up by table. */
#define TOK_CP_FAST 1024
/* Code point returned by alc_tok_utf8_next for an ill-formed sequence. */
#define TOK_CP_INVALID 0xFFFFFFFFu

/* ---- Growable id vector ---- */

struct tok_ids {
    int32_t *v;
    size_t n, cap;
};

void alc_tok_ids_push(struct tok_ids *ids, int32_t id);
void alc_tok_ids_free(struct tok_ids *ids);

/* ---- Hash maps (tok_bpe.c) ---- */

/* String -> int32 with open addressing; keys are not copied. */
struct tok_strent {
    const char *s; /* NULL: empty slot */
    uint32_t n;
    uint32_t hash;
    int32_t val;
};

struct tok_strmap {
    struct tok_strent *ents; /* [cap], cap a power of two */
    uint32_t cap, count;
};

/* Inserts s -> val. Returns 0 when inserted, 1 when s was already there
 * (*old gets its value, the map is unchanged), -1 when out of memory. */
int alc_tok_strmap_put(struct tok_strmap *m, const char *s, size_t n,
                       int32_t val, int32_t *old);
/* Value of s, or -1 when absent. */
int32_t alc_tok_strmap_get(const struct tok_strmap *m, const char *s, size_t n);
void alc_tok_strmap_free(struct tok_strmap *m);

/* (left id, right id) -> (rank, merged id): the BPE merge table. */
struct tok_pairent {
    uint64_t key; /* left << 32 | right; UINT64_MAX: empty slot */
    uint32_t rank;
    int32_t new_id;
};

struct tok_pairmap {
    struct tok_pairent *ents; /* [cap] */
    uint32_t cap, count;
};

/* Inserts or overwrites (a later merge of the same pair wins, as in
 * Hugging Face's HashMap). Returns -1 when out of memory. */
int alc_tok_pairmap_put(struct tok_pairmap *m, int32_t a, int32_t b,
                        uint32_t rank, int32_t new_id);
const struct tok_pairent *alc_tok_pairmap_get(const struct tok_pairmap *m,
                                              int32_t a, int32_t b);
void alc_tok_pairmap_free(struct tok_pairmap *m);

/* ---- BPE model (tok_bpe.c) ---- */

struct tok_bpe {
    struct tok_strmap vocab;   /* model.vocab: token -> id */
    struct tok_pairmap merges; /* model.merges by rank */
    const char *unk_token;     /* NULL: unknown characters are dropped */
    int32_t unk_id;            /* id of unk_token, -1 if not in vocab */
    const char *prefix;        /* continuing_subword_prefix or "" */
    const char *suffix;        /* end_of_word_suffix or "" */
    size_t prefix_len, suffix_len;
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t byte_ids[256];       /* id of "<0xNN>", -1 if absent */
    int32_t cp_ids[TOK_CP_FAST]; /* id of the 1-character token, or -1 */
    /* Every pair of adjacent code points inside some vocabulary token (a
     * set; rank and new_id unused). Built only for tokenizers whose words
     * can be long (no splitting pre-tokenizer): a long word is cut between
     * two single-token characters that no token contains side by side,
     * since no merge can ever join across such a point. */
    struct tok_pairmap bigrams;
};

/* One symbol of a word being merged (Hugging Face's Symbol). */
struct tok_sym {
    int32_t id;
    int32_t prev, next; /* neighbours, -1 at the ends */
    uint32_t len;       /* bytes covered; 0 once merged into its left */
};

/* A candidate merge in the priority queue: lowest rank, then leftmost. */
struct tok_merge {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
};

/* Per-call scratch of the BPE merge (so encode is reentrant). */
struct tok_bpe_scratch {
    struct tok_sym *syms;
    size_t nsym, capsym;
    struct tok_merge *heap;
    size_t nheap, capheap;
    struct alc_sb tmp; /* one character with its prefix/suffix */
};

void alc_tok_bpe_scratch_free(struct tok_bpe_scratch *s);
/* Fills cp_ids from the vocabulary (call after vocab and affixes). */
void alc_tok_bpe_index(struct tok_bpe *m);
/* Fills m->bigrams from the vocabulary; -1 when out of memory. */
int alc_tok_bpe_bigrams(struct tok_bpe *m);
/* The id of the one-character token c (len bytes, code point cp), -1 if
 * absent. */
int32_t alc_tok_bpe_char_id(const struct tok_bpe *m, const char *c, size_t len,
                            uint32_t cp);
/*
 * Hugging Face BPE::merge_word + Word::merge_all on one pre-tokenized word
 * (valid UTF-8): characters to ids (byte_fallback / unk), then merges by
 * rank; appends the ids to out. Fails only when an unknown character needs
 * an unk_token that is not in the vocabulary.
 */
int alc_tok_bpe_word(const struct tok_bpe *m, const char *w, size_t n,
                     struct tok_bpe_scratch *s, struct tok_ids *out,
                     struct alc_diag *d);

/* ---- Unicode helpers (tok_unicode.c) ---- */

/* Decodes one character of s[0..n), n >= 1. Returns its length; for an
 * ill-formed sequence, the length of its maximal subpart (>= 1) with *cp =
 * TOK_CP_INVALID (the Unicode "substitution of maximal subparts"). */
size_t alc_tok_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 into out[4]; returns the length. */
size_t alc_tok_utf8_put(char *out, uint32_t cp);
/* Length of the valid UTF-8 prefix of s. */
size_t alc_tok_utf8_valid_prefix(const char *s, size_t n);
/* Appends s with every ill-formed subsequence replaced by U+FFFD. */
void alc_tok_utf8_sanitize(struct alc_sb *out, const char *s, size_t n);
/* Unicode White_Space (Rust's char::is_whitespace). */
int alc_tok_is_space(uint32_t cp);
/* Unicode \w of Rust's regex crate (Alphabetic, M, Nd, Pc, Join_Control). */
int alc_tok_is_word(uint32_t cp);
/* GPT-2's bytes_to_unicode: the printable code point standing for byte b,
 * and back (-1 for a code point that stands for no byte). */
uint32_t alc_tok_byte_char(unsigned b);
int alc_tok_char_byte(uint32_t cp);

enum tok_nf {
    TOK_NF_NFC,
    TOK_NF_NFD,
    TOK_NF_NFKC,
    TOK_NF_NFKD,
    TOK_NF_LOWER, /* full Unicode lowercase (Rust's str::to_lowercase) */
    TOK_NF_COUNT
};

/* Appends the normalized form of s to out. Ill-formed bytes (possible with
 * byte-level models) pass through unchanged, splitting the text into
 * separately normalized runs. */
int alc_tok_unicode_apply(enum tok_nf form, struct alc_sb *out, const char *s,
                          size_t n, struct alc_diag *d);

/* ---- Regex dialect (tok_regex.c) ---- */

/* Appends src, an Oniguruma regex as tokenizer.json holds it, rewritten
 * for PCRE2 (PCRE2_UTF | PCRE2_UCP) with onig's \s, \w and \h. */
void alc_tok_regex_from_onig(struct alc_sb *out, const char *src);

/* ---- Tokenizer description (filled by tok_load.c) ---- */

/* A pattern: a literal string (re == NULL) or a compiled regex. */
struct tok_pattern {
    const char *lit;
    size_t lit_len;
    pcre2_code *re;
};

enum tok_split_behavior {
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS,
    TOK_SPLIT_COUNT
};

enum tok_prepend {
    TOK_PREPEND_ALWAYS,
    TOK_PREPEND_FIRST,
    TOK_PREPEND_NEVER,
    TOK_PREPEND_COUNT
};

enum tok_norm_kind {
    TOK_NORM_PREPEND, /* text: the prefix (added to a non-empty string) */
    TOK_NORM_REPLACE, /* pat -> text */
    TOK_NORM_STRIP,   /* left, right */
    TOK_NORM_UNICODE, /* form */
    TOK_NORM_COUNT
};

struct tok_norm {
    enum tok_norm_kind kind;
    struct tok_pattern pat;
    const char *text;
    size_t text_len;
    int left, right;
    enum tok_nf form;
};

enum tok_pre_kind {
    TOK_PRE_SPLIT,     /* pat, behavior, invert */
    TOK_PRE_BYTELEVEL, /* add_prefix_space; pat.re = GPT-2 regex or NULL */
    TOK_PRE_METASPACE, /* text = replacement char, prepend, split */
    TOK_PRE_COUNT
};

struct tok_pre {
    enum tok_pre_kind kind;
    struct tok_pattern pat;
    enum tok_split_behavior behavior;
    int invert;
    int add_prefix_space;
    const char *text;
    size_t text_len;
    enum tok_prepend prepend;
    int split;
};

enum tok_dec_kind {
    TOK_DEC_BYTELEVEL,    /* characters back to bytes */
    TOK_DEC_METASPACE,    /* text = replacement char, prepend */
    TOK_DEC_REPLACE,      /* pat -> text, per token */
    TOK_DEC_BYTEFALLBACK, /* <0xNN> runs back to UTF-8 */
    TOK_DEC_FUSE,         /* join all tokens */
    TOK_DEC_STRIP,        /* text = char; start, stop */
    TOK_DEC_COUNT
};

struct tok_dec {
    enum tok_dec_kind kind;
    struct tok_pattern pat;
    const char *text;
    size_t text_len;
    enum tok_prepend prepend;
    int start, stop;
};

/* One entry of "added_tokens". */
struct tok_added {
    const char *content; /* as written in the file */
    size_t len;
    const char *match; /* what is searched for: content, or content after
                          the normalizer when normalized */
    size_t match_len;
    int32_t id;
    int single_word, lstrip, rstrip, normalized, special;
};

/* Added tokens searched in one form of the text (raw or normalized),
 * grouped by first byte, longest first within a group (leftmost-longest). */
struct tok_matcher {
    int32_t *order; /* indices into alc_tokenizer.added */
    int32_t start[257];
    int n;
};

struct alc_tokenizer {
    struct alc_arena arena; /* strings and tables below, freed at once */
    struct tok_bpe bpe;
    int32_t n_ids;       /* 1 + the largest id */
    const char **pieces; /* [n_ids] token string, NULL for unused ids */
    uint32_t *piece_len; /* [n_ids] */
    uint8_t *special;    /* [n_ids] 1 for special added tokens */
    struct tok_added *added;
    int n_added;
    struct tok_matcher raw_match;  /* normalized == false */
    struct tok_matcher norm_match; /* normalized == true */
    struct tok_norm norms[TOK_MAX_STEPS];
    int n_norm;
    struct tok_pre pres[TOK_MAX_STEPS];
    int n_pre;
    struct tok_dec decs[TOK_MAX_STEPS];
    int n_dec;
    int byte_level; /* has a ByteLevel pre-tokenizer: raw bytes go through */
    int32_t *prefix_ids, *suffix_ids; /* what add_special puts around */
    int n_prefix, n_suffix;
    int32_t eos_id;
    pcre2_match_context *mctx; /* match limits shared by every regex */
    pcre2_code *regexes[3 * TOK_MAX_STEPS]; /* owned, freed by alc_tok_free */
    int n_regex;
};

/* ---- Stages (tokenizer.c), reachable for tests and the loader ---- */

/* Applies the normalizer steps to s (Hugging Face's normalizer.normalize). */
int alc_tok_normalize(const struct alc_tokenizer *t, const char *s, size_t n,
                      struct alc_sb *out, struct alc_diag *d);
/*
 * Runs added-token extraction, normalization and pre-tokenization on text
 * and calls fn for every word the model would see (after the ByteLevel
 * mapping, so " the" arrives as "Ġthe"), and with id >= 0 for every added
 * token found. For tests and `dsac tokenize --words`.
 */
typedef void (*tok_word_fn)(void *ctx, const char *w, size_t n, int32_t id);
int alc_tok_split_words(const struct alc_tokenizer *t, const char *text,
                        size_t len, tok_word_fn fn, void *ctx,
                        struct alc_diag *d);

#endif /* ALC_TOK_INTERNAL_H */
