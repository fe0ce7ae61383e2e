/*
 * cmd_import_dsa.c: `dsac import-dsa GENOME [-o FILE]` converts a DSA
 * genome string such as 'W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)' into an
 * equivalent .alloc program (import_dsa.h), printed to stdout or written
 * atomically to FILE.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "import_dsa.h"

int cmd_import_dsa(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dsac import-dsa GENOME [-o FILE]\n\n"
            "Converts a DSA allocation genome (Li et al., NeurIPS 2024), "
            "e.g.\n  'W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)'\n"
            "into an .alloc program with the same per-unit scores and "
            "DSA's mapping\nto sparsities.\n\n"
            "  -o, --output FILE  write the program to FILE (atomically) "
            "instead of stdout\n"
            "  -h, --help         show this help\n");
}

int cmd_import_dsa(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    struct alc_diag d;
    struct alc_sb out;
    int c = 0, rc = CLI_ERR;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            return cli_usage_error("import-dsa", "unknown option");
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("import-dsa", "expected exactly one GENOME");
    }
    alc_diag_init(&d);
    alc_sb_init(&out);
    if (alc_import_dsa(argv[optind], &out, &d) == 0) {
        if (out_path == NULL) {
            fwrite(alc_sb_str(&out), 1, out.len, stdout);
            rc = CLI_OK;
        } else if (alc_write_file_atomic(out_path, alc_sb_str(&out),
                                         out.len, &d) == 0) {
            rc = CLI_OK;
        }
    }
    cli_print_diag("import-dsa", &d);
    alc_sb_free(&out);
    alc_diag_free(&d);
    return rc;
}
