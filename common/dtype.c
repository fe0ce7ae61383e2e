/*
 * dtype.c: the weight dtypes (F32, F16, BF16) as safetensors and config.json
 * name them, and bulk conversions to and from float.
 */
#include <math.h>

#include "alc_common.h"

const struct alc_dtype_info alc_dtype_table[ALC_DT_COUNT] = {
    [ALC_DT_F32] = {"F32", "float32", 4},
    [ALC_DT_F16] = {"F16", "float16", 2},
    [ALC_DT_BF16] = {"BF16", "bfloat16", 2},
};
_Static_assert(ALC_DT_COUNT == 3, "dtype table out of sync");

int alc_dtype_from_st(const char *name)
{
    for (int i = 0; i < ALC_DT_COUNT; i++) {
        if (strcmp(name, alc_dtype_table[i].st_name) == 0) {
            return i;
        }
    }
    return -1;
}

int alc_dtype_from_hf(const char *name)
{
    for (int i = 0; i < ALC_DT_COUNT; i++) {
        if (strcmp(name, alc_dtype_table[i].hf_name) == 0) {
            return i;
        }
    }
    if (strcmp(name, "float") == 0) {
        return ALC_DT_F32;
    }
    if (strcmp(name, "half") == 0) {
        return ALC_DT_F16;
    }
    return -1;
}

float alc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t alc_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t au = u & 0x7fffffffu;
    if (au > 0x7f800000u) {
        return (uint16_t)(sign | 0x7e00u); /* NaN */
    }
    if (au >= 0x477ff000u) { /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (au < 0x38800000u) { /* below the smallest normal half */
        /* value * 2^24 rounded to an integer gives the subnormal mantissa */
        float a;
        memcpy(&a, &au, sizeof a);
        float m = nearbyintf(a * 16777216.0f);
        return (uint16_t)(sign | (uint32_t)m);
    }
    uint32_t r = au + 0xfffu + ((au >> 13) & 1u); /* round to nearest even */
    r -= 0x38000000u;                             /* rebias 127 -> 15 */
    return (uint16_t)(sign | (r >> 13));
}

void alc_to_f32(float *dst, const void *src, enum alc_dtype dt, size_t n)
{
    const uint16_t *h = src;
    switch (dt) {
    case ALC_DT_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case ALC_DT_BF16:
        for (size_t i = 0; i < n; i++) {
            dst[i] = alc_bf16_to_f32(h[i]);
        }
        break;
    case ALC_DT_F16:
        for (size_t i = 0; i < n; i++) {
            dst[i] = alc_f16_to_f32(h[i]);
        }
        break;
    default:
        break;
    }
}

void alc_from_f32(void *dst, const float *src, enum alc_dtype dt, size_t n)
{
    uint16_t *h = dst;
    switch (dt) {
    case ALC_DT_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case ALC_DT_BF16:
        for (size_t i = 0; i < n; i++) {
            h[i] = alc_f32_to_bf16(src[i]);
        }
        break;
    case ALC_DT_F16:
        for (size_t i = 0; i < n; i++) {
            h[i] = alc_f32_to_f16(src[i]);
        }
        break;
    default:
        break;
    }
}
