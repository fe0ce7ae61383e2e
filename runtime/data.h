/*
 * data.h: evaluation and calibration text. Formats:
 *   raw       the file verbatim (what examples/reference used on kjv.*.raw);
 *   wikitext  Hugging Face wikitext-2-raw-v1 rows rebuilt from a
 *             wiki.*.raw file (one row per line keeping its "\n",
 *             whitespace-only lines as "") joined with "\n\n": what the
 *             Wanda / SparseGPT numbers on WikiText-2 tokenize;
 *   c4        JSON lines, one {"text": ...} document per line, optionally
 *             gzip-compressed (c4-*.json.gz); for evaluation the first
 *             max_docs documents are joined with " " (SparseGPT's C4 eval);
 *   text      plain text, verbatim (same as raw).
 * Auto-detection by name: *.json, *.jsonl, *.json.gz -> c4; wiki.*.raw ->
 * wikitext; anything else -> raw. Also reads pre-tokenized ids (JSON).
 * Used by `dsac eval`, the bench and Runtime II's calibration sampler.
 */
#ifndef ALC_DATA_H
#define ALC_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "alc_common.h"

enum alc_data_fmt {
    ALC_DATA_RAW,
    ALC_DATA_WIKITEXT,
    ALC_DATA_C4,
    ALC_DATA_TEXT,
    ALC_DATA_COUNT
};

extern const char *const alc_data_fmt_names[ALC_DATA_COUNT];
/* -1 when unknown. */
int alc_data_fmt_from_name(const char *name);
enum alc_data_fmt alc_data_fmt_guess(const char *path);

/* Documents of a file: one for raw/wikitext/text, one per line for c4. */
struct alc_docs {
    int64_t n;
    char **text;         /* [n], NUL-terminated, malloc'd */
    size_t *len;         /* [n] */
    uint64_t file_bytes; /* size of the file on disk */
    uint64_t file_hash;  /* alc_hash64 of the file's bytes on disk */
    int gz;              /* the file was gzip-compressed */
};

int alc_data_read(const char *path, enum alc_data_fmt fmt,
                  struct alc_docs *docs, struct alc_diag *d);
void alc_docs_free(struct alc_docs *docs);

/* The text to evaluate: the single document, or for c4 the first
 * max_docs (0 = all) documents joined with " ". *docs_used says how many
 * documents went in. Malloc'd. */
char *alc_data_join(const struct alc_docs *docs, enum alc_data_fmt fmt,
                    int64_t max_docs, int64_t *docs_used, size_t *len);

/* The wikitext rebuild of raw bytes (exposed for tests). Malloc'd. */
char *alc_data_wikitext(const char *raw, size_t n, size_t *out_len);

/* Token ids from JSON: {"ids": [...]} (examples/reference/test_ids.json)
 * or a bare [...]. *ids malloc'd. */
int alc_data_read_ids(const char *path, int32_t **ids, int64_t *n,
                      struct alc_diag *d);

#endif /* ALC_DATA_H */
