/*
 * cmd_tokenize.c: `dsac tokenize` encodes text with a model directory's
 * tokenizer.json, as the evaluation does, and prints the ids (or one
 * "id<TAB>piece" line per token with --pieces) and the count. For checking
 * a protocol against Hugging Face's tokenizer(text)["input_ids"].
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "tokenizer.h"

int cmd_tokenize(int argc, char **argv);

static const char usage_text[] =
    "usage: dsac tokenize --model DIR [--no-special] (TEXT | -f FILE) "
    "[--ids | --pieces]\n"
    "\n"
    "Encodes TEXT (or the bytes of FILE) with DIR/tokenizer.json and\n"
    "DIR/tokenizer_config.json, and prints the token ids and their count.\n"
    "\n"
    "  -m, --model DIR   a Hugging Face model directory\n"
    "  -f, --file FILE   encode this file's bytes instead of TEXT\n"
    "      --no-special  do not add the BOS/EOS the post-processor adds\n"
    "      --ids         one line of ids (default)\n"
    "      --pieces      one line per token: id, tab, its vocabulary string\n"
    "  -h, --help        this help\n";

/* A piece with control bytes and backslashes escaped, on one line. */
static void print_piece(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\') {
            fputs("\\\\", stdout);
        } else if (*p == '\n') {
            fputs("\\n", stdout);
        } else if (*p == '\t') {
            fputs("\\t", stdout);
        } else if (*p < 0x20 || *p == 0x7F) {
            printf("\\x%02X", *p);
        } else {
            putchar(*p);
        }
    }
}

static void print_ids(const struct alc_tokenizer *t, const int32_t *ids,
                      int64_t n, int pieces)
{
    for (int64_t i = 0; i < n; i++) {
        if (pieces) {
            const char *p = alc_tok_piece(t, ids[i]);
            printf("%d\t", ids[i]);
            print_piece(p != NULL ? p : "");
            putchar('\n');
        } else {
            printf(i > 0 ? " %d" : "%d", ids[i]);
        }
    }
    if (!pieces && n > 0) {
        putchar('\n');
    }
    printf("%lld tokens\n", (long long)n);
}

struct tok_opts {
    const char *model, *file, *text;
    int special, pieces;
};

/* Returns -1 after printing --help, CLI_USAGE on a usage error, else 0. */
static int parse(int argc, char **argv, struct tok_opts *o)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"no-special", no_argument, NULL, 'n'},
        {"ids", no_argument, NULL, 'i'},
        {"pieces", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:f:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->model = optarg;
            break;
        case 'f':
            o->file = optarg;
            break;
        case 'n':
            o->special = 0;
            break;
        case 'i':
            o->pieces = 0;
            break;
        case 'p':
            o->pieces = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return cli_usage_error("tokenize", "unknown option");
        }
    }
    if (o->model == NULL) {
        return cli_usage_error("tokenize", "--model DIR is required");
    }
    if (optind < argc) {
        o->text = argv[optind++];
    }
    if (optind < argc || (o->text == NULL) == (o->file == NULL)) {
        return cli_usage_error("tokenize", "give either TEXT or -f FILE");
    }
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    struct tok_opts o = {NULL, NULL, NULL, 1, 0};
    struct alc_diag d;
    struct alc_tokenizer *t = NULL;
    char *buf = NULL;
    int32_t *ids = NULL;
    int64_t n = 0;
    size_t len = 0;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        return rc < 0 ? CLI_OK : rc;
    }
    rc = CLI_ERR;
    alc_diag_init(&d);
    if (o.file != NULL && alc_read_file(o.file, &buf, &len, &d) != 0) {
        goto done;
    }
    t = alc_tok_load(o.model, &d);
    if (t == NULL) {
        goto done;
    }
    if (o.text != NULL) {
        len = strlen(o.text);
    }
    if (alc_tok_encode(t, o.text ? o.text : buf, len, o.special, &ids, &n,
                       &d) != 0) {
        goto done;
    }
    print_ids(t, ids, n, o.pieces);
    rc = CLI_OK;
done:
    cli_print_diag("tokenize", &d);
    alc_diag_free(&d);
    alc_tok_free(t);
    free(ids);
    free(buf);
    return rc;
}
