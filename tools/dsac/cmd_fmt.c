/*
 * cmd_fmt.c: `dsac fmt [-w] [--check] FILE...` prints .alloc files in the
 * canonical layout (alc_print_program): to stdout by default, rewriting
 * them in place (atomically) with -w, or only reporting the files whose
 * layout differs with --check (exit 1). Comments are always kept. A file
 * with a syntax error is left alone and reported.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "front.h"

int cmd_fmt(int argc, char **argv);

enum fmt_mode { FMT_STDOUT, FMT_WRITE, FMT_CHECK };

static void usage(FILE *f)
{
    fprintf(f, "usage: dsac fmt [-w | --check] FILE...\n\n"
               "Prints .alloc programs in the canonical layout (comments "
               "kept).\n\n"
               "  -w, --write  rewrite the files in place (atomically)\n"
               "      --check  print the names of files that are not "
               "formatted; exit 1 if any\n"
               "  -h, --help   show this help\n");
}

/* Formats one file; returns 0 ok, 1 not formatted (--check), -1 error. */
static int fmt_file(const char *path, enum fmt_mode mode)
{
    struct alc_diag d;
    struct alc_arena a;
    struct alc_sb out;
    char *src = NULL;
    size_t len = 0;
    int rc = -1;
    alc_diag_init(&d);
    alc_arena_init(&a, 0);
    alc_sb_init(&out);
    if (alc_read_file(path, &src, &len, &d) != 0) {
        goto done;
    }
    struct alc_program *p = alc_parse(&a, path, src, len, &d);
    if (p == NULL) {
        goto done;
    }
    alc_print_program(p, 0, &out);
    int same = out.len == len && memcmp(alc_sb_str(&out), src, len) == 0;
    rc = 0;
    if (mode == FMT_STDOUT) {
        fwrite(alc_sb_str(&out), 1, out.len, stdout);
    } else if (mode == FMT_CHECK && !same) {
        printf("%s\n", path);
        rc = 1;
    } else if (mode == FMT_WRITE && !same) {
        rc = alc_write_file_atomic(path, alc_sb_str(&out), out.len, &d);
    }
done:
    cli_print_diag("fmt", &d);
    free(src);
    alc_sb_free(&out);
    alc_arena_free(&a);
    alc_diag_free(&d);
    return rc;
}

int cmd_fmt(int argc, char **argv)
{
    static const struct option opts[] = {
        {"write", no_argument, NULL, 'w'},
        {"check", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum fmt_mode mode = FMT_STDOUT;
    int c = 0, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "wh", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            mode = FMT_WRITE;
            break;
        case 'c':
            mode = FMT_CHECK;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            return cli_usage_error("fmt", "unknown option");
        }
    }
    if (optind >= argc) {
        return cli_usage_error("fmt", "no input files");
    }
    for (int i = optind; i < argc; i++) {
        bad |= fmt_file(argv[i], mode) != 0;
    }
    return bad ? CLI_ERR : CLI_OK;
}
