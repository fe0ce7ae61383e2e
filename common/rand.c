/*
 * rand.c: stable 64-bit hashing and the deterministic RNG. Both must give the
 * same bits on every machine and run: canonical hashes key the JIT cache and
 * the searcher's dedupe, and RNG state is checkpointed for --resume.
 */
#include <math.h>

#include "alc_common.h"

/* ---- Hashing (xxHash64 constants and mixing) ---- */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t alc_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed + P5 + (uint64_t)n;
    while (n >= 8) {
        uint64_t k = read64(p) * P2;
        k = rotl(k, 31) * P1;
        h ^= k;
        h = rotl(h, 27) * P1 + P4;
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        h ^= (uint64_t)(*p) * P5;
        h = rotl(h, 11) * P1;
        p++;
        n--;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t alc_hash_mix(uint64_t h, uint64_t v)
{
    unsigned char b[16];
    memcpy(b, &h, 8);
    memcpy(b + 8, &v, 8);
    return alc_hash64(b, sizeof b, 0x5eed);
}

uint64_t alc_hash_double(uint64_t h, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return alc_hash_mix(h, bits);
}

/* ---- RNG: xoshiro256** ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void alc_rng_seed(struct alc_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&seed);
    }
}

uint64_t alc_rng_u64(struct alc_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t alc_rng_below(struct alc_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = alc_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double alc_rng_double(struct alc_rng *r)
{
    return (double)(alc_rng_u64(r) >> 11) * 0x1.0p-53;
}

double alc_rng_normal(struct alc_rng *r)
{
    double u1 = alc_rng_double(r);
    double u2 = alc_rng_double(r);
    if (u1 < 1e-300) {
        u1 = 1e-300;
    }
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
