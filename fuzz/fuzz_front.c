/*
 * fuzz_front.c: libFuzzer target over the whole .alloc front end: lexer,
 * parser, checker, lowering, the printer's round trip, and the reference
 * interpreter plus alc_explain on two tiny units. Any crash, sanitizer
 * report or broken invariant (print(parse(x)) must parse back to the same
 * tree and print identically) aborts. Seeds: fuzz/seeds/front/.
 */
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "front.h"
#include "interp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const float w0[6] = {0.5f, -1.0f, 0.0f, 2.0f, -0.25f, 3.0f};
static const float w1[4] = {1.0f, 1.0f, -4.0f, 0.125f};
static const float act[3] = {1.0f, 0.5f, 2.0f};

static void evaluate(const struct alc_ir *ir)
{
    struct alc_mat_view m[2] = {
        {w0, ALC_DT_F32, 2, 3, act, 2.5, 3.0, "m0"},
        {w1, ALC_DT_F32, 2, 2, act, 4.0, 3.5, "m1"},
    };
    struct alc_unit_view u[2] = {{&m[0], 1, 0, "u0"}, {&m[1], 1, 1, "u1"}};
    struct alc_units units = {u, 2};
    struct alc_diag d;
    double sp[2], sc[2];
    alc_diag_init(&d);
    struct alc_compiled *c = alc_compile(ir, ALC_BE_INTERP, &d);
    if (c != NULL) {
        const struct alc_ir *cir = alc_compiled_ir(c);
        double *nodes = malloc((size_t)cir->n_nodes * 2 * sizeof *nodes + 1);
        struct alc_eval_opts opts = {0.5, NULL, 1};
        struct alc_eval_out out = {sp, sc, nodes, 0};
        if (nodes != NULL && alc_evaluate(c, &units, &opts, &out, &d) == 0) {
            struct alc_sb sb;
            alc_sb_init(&sb);
            alc_explain(cir, nodes, 2, &units, &sb);
            alc_sb_free(&sb);
        }
        free(nodes);
        alc_compiled_free(c);
    }
    alc_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alc_arena a;
    struct alc_diag d;
    struct alc_sb text, again;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    alc_sb_init(&text);
    alc_sb_init(&again);
    struct alc_program *p = alc_parse(&a, "fuzz.alloc", (const char *)data,
                                      size, &d);
    if (p == NULL) {
        if (d.n_err != 1) {
            abort(); /* the parser reports exactly one error */
        }
        goto done;
    }
    alc_print_program(p, 0, &text);
    struct alc_program *q = alc_parse(&a, "printed.alloc", alc_sb_str(&text),
                                      text.len, &d);
    if (q == NULL || !alc_ast_equal(p, q)) {
        abort(); /* the printer's output must parse back to the same tree */
    }
    alc_print_program(q, 0, &again);
    if (strcmp(alc_sb_str(&text), alc_sb_str(&again)) != 0) {
        abort(); /* printing must be idempotent */
    }
    (void)alc_ast_hash(p);
    struct alc_arena b;
    alc_arena_init(&b, 0);
    struct alc_program *c = alc_ast_copy(&b, p, 0);
    if (c == NULL || !alc_ast_equal(p, c) ||
        alc_ast_hash(p) != alc_ast_hash(c)) {
        abort(); /* a deep copy is equal */
    }
    alc_arena_free(&b);
    if (alc_check(p, &d) == 0 && !alc_program_is_library(p)) {
        struct alc_ir ir;
        alc_ir_init(&ir);
        if (alc_lower(p, &ir, &d) == 0 && ir.n_nodes <= 4000) {
            evaluate(&ir);
        }
        alc_ir_free(&ir);
    }
done:
    alc_sb_free(&text);
    alc_sb_free(&again);
    alc_diag_free(&d);
    alc_arena_free(&a);
    return 0;
}
