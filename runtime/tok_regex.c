/*
 * tok_regex.c: rewrites the Oniguruma regexes of tokenizer.json (Hugging
 * Face compiles Split / Replace patterns with onig) into PCRE2 with the same
 * meaning. With PCRE2_UCP the classes differ from onig's Unicode ones:
 *   \s  onig: White_Space          PCRE2: also U+180E     -> \p{White_Space}
 *   \w  onig: L, M, Nd, Pc         PCRE2: L, N and '_'    -> [\p{L}\p{M}...]
 *   \h  onig: a hexadecimal digit  PCRE2: horizontal space -> [0-9a-fA-F]
 * Everything else (\p{..}, (?i:..), lookaheads, {m,n}) is common syntax and
 * is copied. Called by tok_load.c before pcre2_compile.
 */
#include "tok_internal.h"

/* The rewrite of escape c, inside or outside a character class; NULL to
 * copy it unchanged. */
static const char *rewrite(char c, int in_class)
{
    switch (c) {
    case 's':
        return "\\p{White_Space}";
    case 'S':
        return "\\P{White_Space}";
    case 'w':
        return in_class ? "\\p{L}\\p{M}\\p{Nd}\\p{Pc}"
                        : "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
    case 'W':
        return in_class ? NULL : "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
    case 'h':
        return in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
    case 'H':
        return in_class ? NULL : "[^0-9a-fA-F]";
    default:
        return NULL;
    }
}

void alc_tok_regex_from_onig(struct alc_sb *out, const char *src)
{
    int in_class = 0;
    size_t i = 0, n = strlen(src);
    alc_sb_append(out, "", 0);
    while (i < n) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            const char *r = rewrite(src[i + 1], in_class);
            if (r != NULL) {
                alc_sb_puts(out, r);
            } else {
                alc_sb_append(out, src + i, 2);
            }
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            /* "[", "[^", and a "]" right after them is a literal */
            size_t k = i + 1;
            k += k < n && src[k] == '^';
            k += k < n && src[k] == ']';
            alc_sb_append(out, src + i, k - i);
            i = k;
            in_class = 1;
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && src[i + 1] == ':') {
            const char *end = strstr(src + i + 2, ":]");
            size_t k = end != NULL ? (size_t)(end - src) + 2 : i + 1;
            alc_sb_append(out, src + i, k - i); /* [:alpha:] */
            i = k;
            continue;
        }
        if (in_class && c == ']') {
            in_class = 0;
        }
        alc_sb_putc(out, c);
        i++;
    }
}
