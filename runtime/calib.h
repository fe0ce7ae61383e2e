/*
 * calib.h: calibration windows for pruning (methods.md §1.2). A calibration
 * file is read (data.h formats), tokenized WITHOUT special tokens (no BOS),
 * and cut into nsamples windows of seqlen tokens:
 *
 *   even   (default) over the tokenized stream of n tokens, window i starts
 *          at token floor(i * (n - T) / N), i = 0 .. N-1: evenly spread,
 *          overlapping only when N * T > n, no randomness;
 *   random seeded with our RNG (struct alc_rng, xoshiro256**): raw text:
 *          each start uniform in [0, n - T]; C4: Wanda's get_c4 shape, a
 *          uniformly drawn document, redrawn until it has more than T
 *          tokens, and a window starting uniformly in [0, len - T - 1].
 *          This does NOT reproduce Python's `random` bit for bit: the same
 *          seed gives other windows than the reference repositories.
 *
 * The stream: raw / text / wikitext files are one document, tokenized as a
 * whole. C4 JSON lines (even mode): the documents' tokens in file order
 * (the first max_docs documents, 0 = all) with the tokenizer's EOS id
 * between consecutive documents (nothing when the tokenizer has no EOS).
 *
 * Used by the pruning session (session.h) and `dsac prune --dump-calib`,
 * which writes the windows for the PyTorch reference
 * (tools/ref_prune_model.py) so both sides see the same ids.
 */
#ifndef ALC_CALIB_H
#define ALC_CALIB_H

#include <stdint.h>

#include "alc_common.h"
#include "data.h"
#include "tokenizer.h"

enum alc_calib_mode {
    ALC_CALIB_EVEN,
    ALC_CALIB_RANDOM,
    ALC_CALIB_COUNT
};

/* "even", "random" (ORDER enum alc_calib_mode). */
extern const char *const alc_calib_mode_name[ALC_CALIB_COUNT];
int alc_calib_mode_from_name(const char *name); /* -1 when unknown */

struct alc_calib_opts {
    const char *path;         /* calibration file */
    int fmt;                  /* enum alc_data_fmt, -1 = by name */
    int nsamples;             /* N windows (>= 1) */
    int seqlen;               /* T tokens per window (>= 2) */
    enum alc_calib_mode mode;
    uint64_t seed;            /* random mode only */
    int64_t max_docs;         /* C4: documents used, 0 = all */
};

struct alc_calib {
    int32_t *ids;             /* (nsamples, seqlen) row-major; owned */
    int64_t *start;           /* (nsamples) start of each window in the
                                 stream (random C4: in its document) */
    int64_t *doc;             /* (nsamples) document of each window (0 for
                                 a single-document file) */
    int nsamples, seqlen;
    enum alc_calib_mode mode;
    uint64_t seed;
    char *path;               /* copy of opts.path */
    enum alc_data_fmt fmt;
    uint64_t file_bytes, file_hash; /* of the file on disk */
    int64_t docs, docs_used;  /* documents in the file / tokenized */
    int64_t n_tokens;         /* tokens of the stream (even and raw random
                                 modes) or of the documents tokenized */
    int eos_id;               /* separator between C4 documents, or -1 */
    uint64_t ids_hash;        /* alc_hash64 of ids: the windows' identity */
    double seconds;           /* reading + tokenizing + cutting */
};

/* Builds the windows; errors name the file ("FILE: 812 tokens, fewer than
 * one window of 1024"). c is zeroed first; free with alc_calib_free. */
int alc_calib_build(struct alc_calib *c, const struct alc_calib_opts *o,
                    const struct alc_tokenizer *t, struct alc_diag *d);
void alc_calib_free(struct alc_calib *c);

/* Writes {"seqlen": T, "nsamples": N, "ids": [[...], ...]} atomically. */
int alc_calib_write_ids(const struct alc_calib *c, const char *path,
                        struct alc_diag *d);

/* The even-mode start of window i of n over a stream of len tokens:
 * floor(i * (len - T) / n), computed exactly in integers. */
int64_t alc_calib_even_start(int64_t i, int64_t n, int64_t len, int64_t T);

#endif /* ALC_CALIB_H */
