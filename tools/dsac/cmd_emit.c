/*
 * cmd_emit.c: `dsac emit --target T FILE` prints a compiled form of an
 * .alloc program: `ast` (S-expression dump of the syntax tree) or `ir`
 * (the lowered DAG, one node per line). Targets are rows of one table, so
 * the backends add theirs (plan, llvm, cuda, ptx) with one row each.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "cli.h"
#include "front.h"
#include "jit.h"
#include "plan.h"

int cmd_emit(int argc, char **argv);

/* What a target's emitter gets: the checked program and its IR. */
struct emit_ctx {
    const struct alc_program *prog;
    const struct alc_ir *ir;
};

struct emit_target {
    const char *name;
    const char *help;
    int (*emit)(const struct emit_ctx *c, struct alc_sb *out,
                struct alc_diag *d);
};

static int emit_ast(const struct emit_ctx *c, struct alc_sb *out,
                    struct alc_diag *d)
{
    (void)d;
    alc_ast_dump(c->prog, out);
    return 0;
}

static int emit_ir(const struct emit_ctx *c, struct alc_sb *out,
                   struct alc_diag *d)
{
    (void)d;
    alc_ir_dump(c->ir, out);
    return 0;
}

/* The pass schedule every compiled backend follows (plan.h). */
static int emit_plan(const struct emit_ctx *c, struct alc_sb *out,
                     struct alc_diag *d)
{
    struct alc_ir ir;
    struct alc_plan plan;
    if (alc_ir_compact(c->ir, &ir) != 0) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    if (alc_plan_build(&plan, &ir, d) != 0) {
        alc_ir_free(&ir);
        return -1;
    }
    alc_plan_dump(&plan, &ir, out);
    alc_plan_free(&plan);
    alc_ir_free(&ir);
    return 0;
}

/* The optimised LLVM IR of the CPU backend's pass functions. */
static int emit_llvm(const struct emit_ctx *c, struct alc_sb *out,
                     struct alc_diag *d)
{
    return alc_jit_emit(c->ir, NULL, ALC_JIT_EMIT_IR, out, d);
}

/* The host assembly of the same functions. */
static int emit_asm(const struct emit_ctx *c, struct alc_sb *out,
                    struct alc_diag *d)
{
    return alc_jit_emit(c->ir, NULL, ALC_JIT_EMIT_ASM, out, d);
}

static const struct emit_target targets[] = {
    {"ast", "the syntax tree as an S-expression", emit_ast},
    {"ir", "the lowered DAG (fns inlined, constants folded)", emit_ir},
    {"plan", "the passes over the elements and the host stages", emit_plan},
    {"llvm", "the CPU backend's optimised LLVM IR", emit_llvm},
    {"asm", "the CPU backend's host assembly", emit_asm},
};

#define N_TARGETS ((int)(sizeof targets / sizeof targets[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: dsac emit --target TARGET FILE\n\n"
               "Prints a compiled form of an .alloc program.\n\n"
               "  -t, --target TARGET  one of:\n");
    for (int i = 0; i < N_TARGETS; i++) {
        fprintf(f, "      %-8s %s\n", targets[i].name, targets[i].help);
    }
    fprintf(f, "  -h, --help           show this help\n");
}

static int emit_file(const struct emit_target *t, const char *path)
{
    struct alc_diag d;
    struct alc_arena a;
    struct alc_ir ir;
    struct alc_sb out;
    char *src = NULL;
    size_t len = 0;
    int rc = CLI_ERR;
    alc_diag_init(&d);
    alc_arena_init(&a, 0);
    alc_ir_init(&ir);
    alc_sb_init(&out);
    if (alc_read_file(path, &src, &len, &d) != 0) {
        goto done;
    }
    struct alc_program *p = alc_front_load(&a, path, src, len, &d);
    if (p == NULL || alc_lower(p, &ir, &d) != 0) {
        goto done;
    }
    struct emit_ctx c = {p, &ir};
    if (t->emit(&c, &out, &d) != 0) {
        goto done;
    }
    fwrite(alc_sb_str(&out), 1, out.len, stdout);
    rc = CLI_OK;
done:
    cli_print_diag("emit", &d);
    free(src);
    alc_sb_free(&out);
    alc_ir_free(&ir);
    alc_arena_free(&a);
    alc_diag_free(&d);
    return rc;
}

int cmd_emit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct emit_target *t = NULL;
    int c = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            for (int i = 0; i < N_TARGETS; i++) {
                if (strcmp(optarg, targets[i].name) == 0) {
                    t = &targets[i];
                }
            }
            if (t == NULL) {
                return cli_usage_error("emit", "unknown target '%s'", optarg);
            }
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            return cli_usage_error("emit", "unknown option");
        }
    }
    if (t == NULL) {
        return cli_usage_error("emit", "--target is required");
    }
    if (optind != argc - 1) {
        return cli_usage_error("emit", "expected exactly one FILE");
    }
    return emit_file(t, argv[optind]);
}
