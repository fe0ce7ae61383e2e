/*
 * tok_unicode.c: the Unicode pieces of the tokenizer. UTF-8 decoding with
 * Unicode's maximal-subpart rule for ill-formed input, GPT-2's
 * bytes_to_unicode table (byte-level BPE), the whitespace and word classes
 * Hugging Face's added-token matching uses, and NFC/NFD/NFKC/NFKD/lowercase
 * through ICU (PCRE2 matches Unicode but does not normalize it).
 * Called by tokenizer.c, tok_bpe.c and tok_load.c.
 */
#include <stdlib.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "tok_internal.h"

/* ---- UTF-8 ---- */

/* Bounds of the second byte after lead byte b (Unicode Table 3-7). */
static void second_range(unsigned b, unsigned *lo, unsigned *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b == 0xE0) {
        *lo = 0xA0;
    } else if (b == 0xED) {
        *hi = 0x9F;
    } else if (b == 0xF0) {
        *lo = 0x90;
    } else if (b == 0xF4) {
        *hi = 0x8F;
    }
}

static int lead_length(unsigned b)
{
    if (b < 0x80) {
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        return 4;
    }
    return 0;
}

size_t alc_tok_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    int len = lead_length(u[0]);
    if (len == 1) {
        *cp = u[0];
        return 1;
    }
    *cp = TOK_CP_INVALID;
    if (len == 0) {
        return 1;
    }
    unsigned lo, hi;
    second_range(u[0], &lo, &hi);
    uint32_t c = u[0] & (0x7Fu >> len);
    for (int k = 1; k < len; k++) {
        if ((size_t)k >= n || u[k] < lo || u[k] > hi) {
            return (size_t)k;
        }
        c = (c << 6) | (u[k] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = c;
    return (size_t)len;
}

size_t alc_tok_utf8_put(char *out, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t alc_tok_utf8_valid_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = alc_tok_utf8_next(s + i, n - i, &cp);
        if (cp == TOK_CP_INVALID) {
            break;
        }
        i += k;
    }
    return i;
}

void alc_tok_utf8_sanitize(struct alc_sb *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t ok = alc_tok_utf8_valid_prefix(s + i, n - i);
        alc_sb_append(out, s + i, ok);
        i += ok;
        if (i < n) {
            uint32_t cp;
            i += alc_tok_utf8_next(s + i, n - i, &cp);
            alc_sb_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
        }
    }
}

/* ---- Character classes ---- */

int alc_tok_is_space(uint32_t cp)
{
    if (cp < 0x80) {
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    }
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int alc_tok_is_word(uint32_t cp)
{
    if (cp < 0x80) {
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
               (cp >= 'A' && cp <= 'Z') || cp == '_';
    }
    if (cp > 0x10FFFF) {
        return 0;
    }
    UChar32 c = (UChar32)cp;
    uint32_t gc = U_GET_GC_MASK(c);
    return u_hasBinaryProperty(c, UCHAR_ALPHABETIC) ||
           u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL) ||
           (gc & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0;
}

/* ---- GPT-2 bytes_to_unicode ---- */

/* Bytes that stand for themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'. */
static int byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
           (b >= 0xAE && b <= 0xFF);
}

/* The other bytes, in order, take 256, 257, ...: 0x00-0x20 -> 256-288,
 * 0x7F-0xA0 -> 289-322, 0xAD -> 323. */
uint32_t alc_tok_byte_char(unsigned b)
{
    if (byte_is_printable(b)) {
        return b;
    }
    if (b <= 0x20) {
        return 256 + b;
    }
    if (b >= 0x7F && b <= 0xA0) {
        return 289 + (b - 0x7F);
    }
    return 323; /* 0xAD, the soft hyphen */
}

int alc_tok_char_byte(uint32_t cp)
{
    if (cp < 256) {
        return byte_is_printable(cp) ? (int)cp : -1;
    }
    if (cp <= 288) {
        return (int)(cp - 256);
    }
    if (cp <= 322) {
        return (int)(cp - 289 + 0x7F);
    }
    return cp == 323 ? 0xAD : -1;
}

/* ---- Normalization through ICU ---- */

/* One ICU call into dst[cap]; returns the needed length. */
static int32_t icu_call(enum tok_nf form, UChar *dst, int32_t cap,
                        const UChar *src, int32_t n16, UErrorCode *err)
{
    const UNormalizer2 *nf = NULL;
    switch (form) {
    case TOK_NF_LOWER:
        return u_strToLower(dst, cap, src, n16, "", err);
    case TOK_NF_NFC:
        nf = unorm2_getNFCInstance(err);
        break;
    case TOK_NF_NFD:
        nf = unorm2_getNFDInstance(err);
        break;
    case TOK_NF_NFKC:
        nf = unorm2_getNFKCInstance(err);
        break;
    default:
        nf = unorm2_getNFKDInstance(err);
        break;
    }
    if (U_FAILURE(*err)) {
        return 0;
    }
    return unorm2_normalize(nf, src, n16, dst, cap, err);
}

/* Normalizes one well-formed UTF-8 run, appending to out. */
static int icu_run(enum tok_nf form, struct alc_sb *out, const char *s,
                   size_t n, struct alc_diag *d)
{
    UErrorCode err = U_ZERO_ERROR;
    UChar *src = NULL, *dst = NULL;
    char *u8 = NULL;
    int32_t n16 = 0, m = 0, n8 = 0;
    int rc = -1;
    if (n > (size_t)INT32_MAX / 8) {
        alc_diag_errorf(d,
                        "tokenizer: a text run of %zu bytes is too long "
                        "to normalize",
                        n);
        return -1;
    }
    src = malloc((n + 1) * sizeof *src);
    if (src == NULL) {
        goto done;
    }
    u_strFromUTF8(src, (int32_t)n + 1, &n16, s, (int32_t)n, &err);
    int32_t cap = 2 * n16 + 16;
    for (int attempt = 0; attempt < 2 && U_SUCCESS(err); attempt++) {
        free(dst);
        dst = malloc((size_t)cap * sizeof *dst);
        if (dst == NULL) {
            goto done;
        }
        m = icu_call(form, dst, cap, src, n16, &err);
        if (err != U_BUFFER_OVERFLOW_ERROR) {
            break;
        }
        err = U_ZERO_ERROR; /* grow to the size ICU asked for, once */
        cap = m + 1;
    }
    if (U_FAILURE(err) || m >= cap) {
        goto done;
    }
    u8 = malloc(3 * (size_t)m + 1); /* at most 3 bytes per UTF-16 unit */
    if (u8 == NULL) {
        goto done;
    }
    u_strToUTF8(u8, 3 * m + 1, &n8, dst, m, &err);
    if (U_FAILURE(err)) {
        goto done;
    }
    alc_sb_append(out, u8, (size_t)n8);
    rc = 0;
done:
    if (rc != 0) {
        alc_diag_errorf(d,
                        "tokenizer: Unicode normalization failed (ICU: "
                        "%s)",
                        U_FAILURE(err) ? u_errorName(err) : "out of memory");
    }
    free(src);
    free(dst);
    free(u8);
    return rc;
}

/* Whether no form changes s: ASCII for all forms (without capitals for
 * lowercase), anything below U+0300 for NFC (no combining marks). */
static int is_stable(enum tok_nf form, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (form == TOK_NF_LOWER && c >= 'A' && c <= 'Z') {
                return 0;
            }
            i++;
            continue;
        }
        if (form != TOK_NF_NFC) {
            return 0;
        }
        i += alc_tok_utf8_next(s + i, n - i, &cp);
        if (cp >= 0x300) {
            return 0;
        }
    }
    return 1;
}

int alc_tok_unicode_apply(enum tok_nf form, struct alc_sb *out, const char *s,
                          size_t n, struct alc_diag *d)
{
    if (is_stable(form, s, n)) {
        alc_sb_append(out, s, n);
        return 0;
    }
    size_t i = 0;
    while (i < n) {
        size_t ok = alc_tok_utf8_valid_prefix(s + i, n - i);
        if (ok > 0 && icu_run(form, out, s + i, ok, d) != 0) {
            return -1;
        }
        i += ok;
        if (i < n) {
            uint32_t cp;
            size_t bad = alc_tok_utf8_next(s + i, n - i, &cp);
            alc_sb_append(out, s + i, bad);
            i += bad;
        }
    }
    return 0;
}
