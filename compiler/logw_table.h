/*
 * logw_table.h: log|w| of 16-bit weights on the host, the values that both
 * backends' table paths reproduce (jit_logw.c in registers, cuda_logw.c in
 * shared memory; the formula and its accuracy: jit_logw.c's header). One
 * copy of the tables and of the constants their formula is built from, so
 * the two backends cannot drift apart.
 */
#ifndef ALC_LOGW_TABLE_H
#define ALC_LOGW_TABLE_H

#include <stdint.h>

#include "alc_common.h"
#include "ops.h"

/* fdlibm's split of ln 2: LN2_HI has 21 trailing zero bits, so e LN2_HI
 * is exact for |e| < 2^21. */
#define ALC_LOGW_LN2_HI_BITS 0x3fe62e42fee00000ull
#define ALC_LOGW_LN2_LO_BITS 0x3dea39ef35793c76ull
/* m >= this mantissa (of 128) is at or above sqrt(2): halved, e + 1 */
#define ALC_LOGW_SPLIT_M 53

/* The double with bit pattern u. */
double alc_logw_bits(uint64_t u);

/* TM[m], m < 128: ops.c's log of 1 + m/128, halved for m >= SPLIT_M. */
const double *alc_logw_tm_bf16(void);

/* e of a normal BF16 magnitude v (1 <= v >> 7 <= 254): v + (128 - SPLIT_M)
 * carries into the exponent exactly when m is halved. */
static inline int alc_logw_bf16_e(unsigned v)
{
    return (int)((v + (128 - ALC_LOGW_SPLIT_M)) >> 7) - 127;
}

/* fma(e, LN2_HI, fma(e, LN2_LO, TM[m])): the BF16 table's value for a
 * normal magnitude v. */
double alc_logw_bf16_formula(unsigned v);

/* log|w| by the 15 magnitude bits (32768 doubles) of F16 (ops.c's log of
 * every value) or BF16 (the formula for normal values, ops.c's log of
 * zeros, subnormals, inf and NaN); NULL for other dtypes. */
const double *alc_logw_table(enum alc_dtype dt);

#endif /* ALC_LOGW_TABLE_H */
