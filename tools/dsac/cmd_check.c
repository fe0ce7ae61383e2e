/*
 * cmd_check.c: `dsac check FILE...` parses and checks .alloc files and
 * lowers them to the IR, printing every error (file:line:col, source line,
 * caret, hint). Prints nothing on success unless -v. Exit 0 when every
 * file is valid, 1 otherwise, 2 on usage errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "front.h"

int cmd_check(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f, "usage: dsac check [-v] FILE...\n\n"
               "Checks .alloc programs: syntax, names, arities, levels, "
               "params' ranges.\nErrors go to stderr as "
               "file:line:col: error: ...; exit status 1 if any.\n\n"
               "  -v, --verbose  print a summary line per valid file\n"
               "  -h, --help     show this help\n");
}

/* Checks one file; returns 0 when it is valid. */
static int check_file(const char *path, int verbose)
{
    struct alc_diag d;
    struct alc_arena a;
    struct alc_ir ir;
    char *src = NULL;
    size_t len = 0;
    int rc = -1;
    alc_diag_init(&d);
    alc_arena_init(&a, 0);
    alc_ir_init(&ir);
    if (alc_read_file(path, &src, &len, &d) != 0) {
        goto done;
    }
    struct alc_program *p = alc_front_load(&a, path, src, len, &d);
    if (p != NULL && alc_program_is_library(p)) {
        if (verbose) {
            printf("%s: ok: a library of %d functions\n", path, p->n_stmts);
        }
        rc = 0;
        goto done;
    }
    if (p == NULL || alc_lower(p, &ir, &d) != 0) {
        goto done;
    }
    rc = 0;
    if (verbose) {
        printf("%s: ok: %d statements, %d params, %d IR nodes, sparsity "
               "%s-level%s\n",
               path, p->n_stmts, ir.n_params, ir.n_nodes,
               alc_level_name[ir.nodes[ir.sparsity].level],
               ir.score >= 0 ? ", score" : "");
    }
done:
    cli_print_diag("check", &d);
    free(src);
    alc_ir_free(&ir);
    alc_arena_free(&a);
    alc_diag_free(&d);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int verbose = 0, c = 0, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            return cli_usage_error("check", "unknown option");
        }
    }
    if (optind >= argc) {
        return cli_usage_error("check", "no input files");
    }
    for (int i = optind; i < argc; i++) {
        bad |= check_file(argv[i], verbose) != 0;
    }
    return bad ? CLI_ERR : CLI_OK;
}
