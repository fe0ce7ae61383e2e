/*
 * text.c: growable strings (struct alc_sb) and diagnostics (struct alc_diag).
 * Used by every module to build messages without fixed-size buffers.
 */
#include <stdlib.h>

#include "alc_common.h"

/* ---- String buffer ---- */

void alc_sb_init(struct alc_sb *sb)
{
    sb->s = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void alc_sb_free(struct alc_sb *sb)
{
    free(sb->s);
    alc_sb_init(sb);
}

void alc_sb_reset(struct alc_sb *sb)
{
    sb->len = 0;
    if (sb->s != NULL) {
        sb->s[0] = '\0';
    }
}

static void sb_reserve(struct alc_sb *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap) {
        return;
    }
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    char *s = realloc(sb->s, cap);
    if (s == NULL) {
        abort(); /* out of memory: nothing sensible to do */
    }
    sb->s = s;
    sb->cap = cap;
}

void alc_sb_append(struct alc_sb *sb, const char *s, size_t n)
{
    sb_reserve(sb, n);
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
}

void alc_sb_puts(struct alc_sb *sb, const char *s)
{
    alc_sb_append(sb, s, strlen(s));
}

void alc_sb_putc(struct alc_sb *sb, char c)
{
    alc_sb_append(sb, &c, 1);
}

void alc_sb_vprintf(struct alc_sb *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return;
    }
    sb_reserve(sb, (size_t)n);
    vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void alc_sb_printf(struct alc_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    alc_sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

char *alc_sb_take(struct alc_sb *sb)
{
    char *s = sb->s;
    if (s == NULL) {
        s = calloc(1, 1);
    }
    alc_sb_init(sb);
    return s;
}

const char *alc_sb_str(const struct alc_sb *sb)
{
    return sb->s ? sb->s : "";
}

/* ---- Diagnostics ---- */

void alc_diag_init(struct alc_diag *d)
{
    memset(d, 0, sizeof *d);
    alc_sb_init(&d->text);
}

void alc_diag_free(struct alc_diag *d)
{
    alc_sb_free(&d->text);
    memset(d, 0, sizeof *d);
}

void alc_diag_reset(struct alc_diag *d)
{
    int max_err = d->max_err;
    alc_diag_free(d);
    d->max_err = max_err;
}

static void set_first(struct alc_diag *d, const char *text)
{
    if (d->first[0] != '\0') {
        return;
    }
    size_t n = strcspn(text, "\n");
    if (n >= sizeof d->first) {
        n = sizeof d->first - 1;
    }
    memcpy(d->first, text, n);
    d->first[n] = '\0';
}

void alc_diag_raw(struct alc_diag *d, int is_error, const char *text)
{
    int max_err = d->max_err > 0 ? d->max_err : 100;
    if (is_error) {
        d->n_err++;
        if (d->n_err > max_err) {
            return;
        }
        set_first(d, text);
    } else {
        d->n_warn++;
    }
    alc_sb_puts(&d->text, text);
    if (d->text.len > 0 && d->text.s[d->text.len - 1] != '\n') {
        alc_sb_putc(&d->text, '\n');
    }
}

void alc_diag_verrorf(struct alc_diag *d, const char *fmt, va_list ap)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "error: ");
    alc_sb_vprintf(&sb, fmt, ap);
    alc_diag_raw(d, 1, alc_sb_str(&sb));
    alc_sb_free(&sb);
}

void alc_diag_errorf(struct alc_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    alc_diag_verrorf(d, fmt, ap);
    va_end(ap);
}

void alc_diag_warnf(struct alc_diag *d, const char *fmt, ...)
{
    struct alc_sb sb;
    va_list ap;
    alc_sb_init(&sb);
    alc_sb_puts(&sb, "warning: ");
    va_start(ap, fmt);
    alc_sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    alc_diag_raw(d, 0, alc_sb_str(&sb));
    alc_sb_free(&sb);
}

const char *alc_diag_text(const struct alc_diag *d)
{
    return alc_sb_str(&d->text);
}
