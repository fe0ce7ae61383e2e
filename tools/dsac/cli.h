/*
 * cli.h: helpers shared by the dsac subcommands (tools/dsac/cmd_*.c).
 * Subcommands parse their options with getopt_long, print errors through
 * cli_diag, and return the process exit status (0 ok, 1 error, 2 usage).
 */
#ifndef ALC_CLI_H
#define ALC_CLI_H

#include <stdio.h>

#include "alc_common.h"

#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

/* Prints every message of d to stderr, prefixed with "dsac <cmd>: " for
 * messages that carry no file location. */
void cli_print_diag(const char *cmd, const struct alc_diag *d);
/* Prints "dsac <cmd>: error: <msg>" to stderr and returns CLI_ERR. */
int cli_error(const char *cmd, const char *fmt, ...) ALC_PRINTF(2, 3);
/* Prints a usage error plus "see dsac <cmd> --help", returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) ALC_PRINTF(2, 3);
/* Strict number parsing: the whole string must be a finite number. */
int cli_parse_double(const char *s, double *out);
int cli_parse_long(const char *s, long *out);

#endif /* ALC_CLI_H */
