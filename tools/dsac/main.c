/*
 * main.c: the dsac command line. Dispatches `dsac <command> [args]` to the
 * subcommands listed in commands.def; each is a thin layer over the
 * libraries (common/, compiler/, runtime/) that tests and benchmarks link.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ALC_CMD(fn, name, usage, help) int cmd_##fn(int argc, char **argv);
#include "commands.def"
#undef ALC_CMD

struct command {
    const char *name;
    const char *usage;
    const char *help;
    int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
#define ALC_CMD(fn, name, usage, help) {name, usage, help, cmd_##fn},
#include "commands.def"
#undef ALC_CMD
};

#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: dsac <command> [options]\n\n"
               "dsac compiles layer-wise sparsity allocation functions "
               "(.alloc files) and\nprunes, evaluates and searches Hugging "
               "Face models with them.\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    }
    fprintf(f, "\nRun 'dsac <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        return cmd_version(1, argv + 1);
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "dsac: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

/* ---- Helpers shared by the subcommands (cli.h) ---- */

void cli_print_diag(const char *cmd, const struct alc_diag *d)
{
    const char *s = alc_diag_text(d);
    while (*s != '\0') {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (strncmp(s, "error: ", 7) == 0 || strncmp(s, "warning: ", 9) == 0) {
            fprintf(stderr, "dsac %s: ", cmd);
        }
        fwrite(s, 1, n, stderr);
        fputc('\n', stderr);
        s += n;
        if (*s == '\n') {
            s++;
        }
    }
}

int cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dsac %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_ERR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dsac %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'dsac %s --help')\n", cmd);
    return CLI_USAGE;
}

int cli_parse_double(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v == v) || v > 1e308 || v < -1e308) {
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_long(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}
