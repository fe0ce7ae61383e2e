/*
 * prune_impl.h: internals shared by prune.c, sparsegpt.c and the tests:
 * metric keys, deterministic k-th-smallest selection, N:M group picks and
 * argument checks. Not part of the public API (see prune.h).
 */
#ifndef ALC_PRUNE_IMPL_H
#define ALC_PRUNE_IMPL_H

#include <stdint.h>
#include <string.h>

#include "prune.h"

/*
 * Sort key of a non-negative metric: the IEEE bits without the sign (so
 * -0 == +0), which order like the values; every NaN becomes one quiet NaN
 * that sorts after +inf, as torch.sort places NaN last.
 */
static inline uint32_t alc_prune_key(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u &= 0x7fffffffu;
    return u > 0x7f800000u ? 0x7fc00000u : u;
}

/* k = int(count * s) as Python computes it (double product, truncated). */
static inline int64_t alc_prune_count_k(int64_t count, double s)
{
    return (int64_t)((double)count * s);
}

/*
 * The key at position k (0-based) of keys[0..n) sorted ascending, by an
 * 8-bit radix select (4 passes, linear time whatever the data, ties
 * included). scratch holds n uint32 and is overwritten; keys is not.
 * *n_less receives how many keys are strictly smaller than the result.
 */
uint32_t alc_prune_select(const uint32_t *keys, int64_t n, int64_t k,
                          uint32_t *scratch, int64_t *n_less);

/*
 * Marks in mask[0..n) (1 = pruned) the k smallest keys, ties taken in index
 * order: exactly the first k of a stable ascending sort. With keep_ties = 1
 * instead marks every key <= the key at sorted position k (the reference's
 * `metric <= sorted[k]`). Returns the number marked. k < n.
 */
int64_t alc_prune_mark_smallest(const uint32_t *keys, int64_t n, int64_t k,
                                int keep_ties, uint32_t *scratch,
                                uint8_t *mask);

/*
 * N:M within one group: marks in mask[0..m) the n smallest of keys[0..m),
 * ties by lower index (torch.topk(largest=False) leaves ties unspecified).
 */
void alc_prune_nm_group(const uint32_t *keys, int m, int n, uint8_t *mask);

/* Checks shapes and options common to every method; errors go to d. */
int alc_prune_check(const float *W, int64_t rows, int64_t cols,
                    const struct alc_prune_opts *o, struct alc_diag *d);

/* Counts the zeros of W into res->zeros, using the pool. */
void alc_prune_count_zeros(const float *W, int64_t rows, int64_t cols,
                           struct alc_pool *pool, struct alc_prune_result *res);

/* Rows per pool task so that there are about 8 tasks per thread. */
int64_t alc_prune_rows_per_task(int64_t rows, struct alc_pool *pool);

#endif /* ALC_PRUNE_IMPL_H */
