/*
 * search_util.c: small pieces of the search (search.h): a uint64 ->
 * int64 multimap (open addressing, linear probing) for the dedupe set of
 * canonical hashes and for the evaluation cache, and the cache key of a
 * ratio vector.
 */
#include <math.h>
#include <stdlib.h>

#include "search.h"

struct u64slot {
    uint64_t key;
    int64_t val;
    int used;
};

struct alc_u64map {
    struct u64slot *slot; /* [cap], cap a power of two */
    size_t cap, n;
};

struct alc_u64map *alc_u64map_new(void)
{
    struct alc_u64map *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    m->cap = 64;
    m->slot = calloc(m->cap, sizeof *m->slot);
    if (m->slot == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void alc_u64map_free(struct alc_u64map *m)
{
    if (m != NULL) {
        free(m->slot);
        free(m);
    }
}

static size_t home(const struct alc_u64map *m, uint64_t key)
{
    return (size_t)alc_hash_mix(key, 0x9e3779b97f4a7c15ull) & (m->cap - 1);
}

static void put(struct alc_u64map *m, uint64_t key, int64_t val)
{
    size_t i = home(m, key);
    while (m->slot[i].used) {
        i = (i + 1) & (m->cap - 1);
    }
    m->slot[i].key = key;
    m->slot[i].val = val;
    m->slot[i].used = 1;
    m->n++;
}

static int grow(struct alc_u64map *m)
{
    struct u64slot *old = m->slot;
    size_t old_cap = m->cap;
    m->slot = calloc(2 * old_cap, sizeof *m->slot);
    if (m->slot == NULL) {
        m->slot = old;
        return -1;
    }
    m->cap = 2 * old_cap;
    m->n = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].used) {
            put(m, old[i].key, old[i].val);
        }
    }
    free(old);
    return 0;
}

int alc_u64map_add(struct alc_u64map *m, uint64_t key, int64_t val)
{
    if (2 * (m->n + 1) > m->cap && grow(m) != 0) {
        return -1;
    }
    put(m, key, val);
    return 0;
}

int64_t alc_u64map_find(const struct alc_u64map *m, uint64_t key,
                        int (*fn)(void *ctx, int64_t val), void *ctx)
{
    size_t i = home(m, key);
    while (m->slot[i].used) {
        if (m->slot[i].key == key && fn(ctx, m->slot[i].val)) {
            return m->slot[i].val;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

uint64_t alc_search_ratio_key(const double *ratio, int n, double round)
{
    uint64_t h = alc_hash_mix(0, (uint64_t)n);
    for (int u = 0; u < n; u++) {
        h = alc_hash_mix(h, (uint64_t)llround(ratio[u] / round));
    }
    return h;
}
