/*
 * ir_build.h: terse construction of IRs by hand for the plan and JIT tests
 * (before and independently of the parser), plus the IRs of OWL and DSA.
 * Every helper fails the test on an ill-levelled node.
 */
#ifndef ALC_IR_BUILD_H
#define ALC_IR_BUILD_H

#include "alc_test.h"
#include "ir.h"

static const struct alc_span irb_sp = {1, 1, 1};

static inline int irb_check(int n)
{
    if (n < 0) {
        fail_msg("ill-levelled IR node");
    }
    return n;
}

static inline int IN(struct alc_ir *ir, enum alc_input in)
{
    return irb_check(alc_ir_input(ir, in, irb_sp));
}

static inline int K(struct alc_ir *ir, double k)
{
    return irb_check(alc_ir_const(ir, k, irb_sp));
}

static inline int PARAM(struct alc_ir *ir, const char *name, double v)
{
    int p = alc_ir_add_param(ir, name, v, -1e9, 1e9, irb_sp);
    return irb_check(alc_ir_param(ir, p, irb_sp));
}

static inline int OP1(struct alc_ir *ir, enum alc_op op, int a)
{
    int args[1] = {a};
    return irb_check(alc_ir_op(ir, op, 1, args, irb_sp));
}

static inline int OP2(struct alc_ir *ir, enum alc_op op, int a, int b)
{
    int args[2] = {a, b};
    return irb_check(alc_ir_op(ir, op, 2, args, irb_sp));
}

static inline int OP3(struct alc_ir *ir, enum alc_op op, int a, int b, int c)
{
    int args[3] = {a, b, c};
    return irb_check(alc_ir_op(ir, op, 3, args, irb_sp));
}

/* Node numbers follow construction order, so every node below is built in
 * its own statement (C leaves the order of argument evaluation open). */

/* DSA's README function with its OWL-style mapping (dsa.md section 3):
 * r = asin(atan(var(log(where(wanda == 0, 1, abs(wanda)))))),
 * u = (r - min r) / (max r - min r), sparsity = S + 2 lambda (u - mean u). */
static inline void irb_dsa(struct alc_ir *ir)
{
    int w = IN(ir, ALC_IN_WANDA);
    int zero = K(ir, 0.0);
    int one = K(ir, 1.0);
    int isz = OP2(ir, ALC_OP_EQ, w, zero);
    int aw = OP1(ir, ALC_OP_ABS, w);
    int x = OP3(ir, ALC_OP_WHERE, isz, one, aw);
    int lg = OP1(ir, ALC_OP_LOG, x);
    int v = OP1(ir, ALC_OP_VAR, lg);
    int at = OP1(ir, ALC_OP_ATAN, v);
    int r = OP1(ir, ALC_OP_ASIN, at);
    int lam = PARAM(ir, "lambda", 0.08);
    int mn = OP1(ir, ALC_OP_MIN, r);
    int mx = OP1(ir, ALC_OP_MAX, r);
    int num = OP2(ir, ALC_OP_SUB, r, mn);
    int den = OP2(ir, ALC_OP_SUB, mx, mn);
    int u = OP2(ir, ALC_OP_DIV, num, den);
    int mu = OP1(ir, ALC_OP_MEAN, u);
    int d = OP2(ir, ALC_OP_SUB, u, mu);
    int two = K(ir, 2.0);
    int tl = OP2(ir, ALC_OP_MUL, two, lam);
    int sc = OP2(ir, ALC_OP_MUL, tl, d);
    int S = IN(ir, ALC_IN_S);
    ir->score = r;
    ir->sparsity = OP2(ir, ALC_OP_ADD, S, sc);
}

/* OWL: outlier ratio D = mean(wanda > M * mean(wanda)) per block, then
 * sparsity = S - 2 lambda ((D - min D) / (max D - min D) - mean(...)):
 * more outliers, lower sparsity. Two passes. */
static inline void irb_owl(struct alc_ir *ir)
{
    int w = IN(ir, ALC_IN_WANDA);
    int M = PARAM(ir, "M", 5.0);
    int lam = PARAM(ir, "lambda", 0.08);
    int m1 = OP1(ir, ALC_OP_MEAN, w);
    int th = OP2(ir, ALC_OP_MUL, M, m1);
    int gt = OP2(ir, ALC_OP_GT, w, th);
    int D = OP1(ir, ALC_OP_MEAN, gt);
    int mn = OP1(ir, ALC_OP_MIN, D);
    int mx = OP1(ir, ALC_OP_MAX, D);
    int num = OP2(ir, ALC_OP_SUB, D, mn);
    int den = OP2(ir, ALC_OP_SUB, mx, mn);
    int u = OP2(ir, ALC_OP_DIV, num, den);
    int mu = OP1(ir, ALC_OP_MEAN, u);
    int d = OP2(ir, ALC_OP_SUB, u, mu);
    int two = K(ir, 2.0);
    int tl = OP2(ir, ALC_OP_MUL, two, lam);
    int sc = OP2(ir, ALC_OP_MUL, tl, d);
    int S = IN(ir, ALC_IN_S);
    ir->score = D;
    ir->sparsity = OP2(ir, ALC_OP_SUB, S, sc);
}

#endif /* ALC_IR_BUILD_H */
