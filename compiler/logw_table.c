/*
 * logw_table.c: the host tables of log|w| for 16-bit weights
 * (logw_table.h), built once on first use.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "logw_table.h"

static double tm_bf16[128];    /* TM[m] */
static double tab_f16[32768];  /* log|w| by the 15 magnitude bits */
static double tab_bf16[32768]; /* likewise, BF16 (formula, see above) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

double alc_logw_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static double formula(unsigned v)
{
    double e = (double)alc_logw_bf16_e(v & 0x7fffu);
    double lo = fma(e, alc_logw_bits(ALC_LOGW_LN2_LO_BITS), tm_bf16[v & 0x7fu]);
    return fma(e, alc_logw_bits(ALC_LOGW_LN2_HI_BITS), lo);
}

static void init(void)
{
    double (*lg)(double) = alc_op_table[ALC_OP_LOG].map1;
    for (int m = 0; m < 128; m++) {
        double x = 1.0 + m / 128.0;
        tm_bf16[m] = lg(m >= ALC_LOGW_SPLIT_M ? x / 2.0 : x);
    }
    for (unsigned v = 0; v < 32768; v++) {
        unsigned e = v >> 7;
        tab_f16[v] = lg((double)alc_f16_to_f32((uint16_t)v));
        tab_bf16[v] = e == 0 || e == 255
                          ? lg((double)alc_bf16_to_f32((uint16_t)v))
                          : formula(v);
    }
}

const double *alc_logw_tm_bf16(void)
{
    pthread_once(&once, init);
    return tm_bf16;
}

double alc_logw_bf16_formula(unsigned v)
{
    pthread_once(&once, init);
    return formula(v);
}

const double *alc_logw_table(enum alc_dtype dt)
{
    pthread_once(&once, init);
    switch (dt) {
    case ALC_DT_F16:
        return tab_f16;
    case ALC_DT_BF16:
        return tab_bf16;
    default:
        return NULL;
    }
}
