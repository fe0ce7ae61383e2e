/*
 * data.c: reading evaluation / calibration data (formats in data.h):
 * verbatim text, the Hugging Face wikitext row rebuild, C4 JSON lines
 * (gzip through zlib), and pre-tokenized id lists.
 */
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "data.h"

/* ---- Formats ---- */

const char *const alc_data_fmt_names[ALC_DATA_COUNT] = {
    [ALC_DATA_RAW] = "raw",
    [ALC_DATA_WIKITEXT] = "wikitext",
    [ALC_DATA_C4] = "c4",
    [ALC_DATA_TEXT] = "text",
};
_Static_assert(ALC_DATA_COUNT == 4, "data format table out of sync");

int alc_data_fmt_from_name(const char *name)
{
    for (int i = 0; i < ALC_DATA_COUNT; i++) {
        if (strcmp(name, alc_data_fmt_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

enum alc_data_fmt alc_data_fmt_guess(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (ends_with(base, ".json") || ends_with(base, ".jsonl") ||
        ends_with(base, ".json.gz") || ends_with(base, ".jsonl.gz")) {
        return ALC_DATA_C4;
    }
    if (strncmp(base, "wiki.", 5) == 0 && ends_with(base, ".raw")) {
        return ALC_DATA_WIKITEXT;
    }
    return ALC_DATA_RAW;
}

/* ---- WikiText rows ---- */

/*
 * Length of the Python str.isspace() character at s (UTF-8), or 0:
 * \t \n \v \f \r \x1c-\x1f space, U+0085, U+00A0, U+1680, U+2000-U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000.
 */
static int py_space(const unsigned char *s, size_t n)
{
    if (n >= 1 &&
        ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20))) {
        return 1;
    }
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) {
        return 2;
    }
    if (n < 3) {
        return 0;
    }
    unsigned cp =
        ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
    if ((s[0] & 0xf0) != 0xe0 || (s[1] & 0xc0) != 0x80 ||
        (s[2] & 0xc0) != 0x80) {
        return 0;
    }
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000) {
        return 3;
    }
    return 0;
}

static int blank(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = py_space(p + i, n - i);
        if (k == 0) {
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}

/*
 * The wikitext builder reads the file in Python text mode (universal
 * newlines: \r\n and \r become \n), yields each line with its "\n", or ""
 * when line.strip() is empty; the GPTQ-lineage evals "\n\n".join them.
 */
char *alc_data_wikitext(const char *raw, size_t n, size_t *out_len)
{
    struct alc_sb norm, out;
    alc_sb_init(&norm);
    alc_sb_init(&out);
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '\r') {
            alc_sb_putc(&norm, '\n');
            if (i + 1 < n && raw[i + 1] == '\n') {
                i++;
            }
        } else {
            alc_sb_putc(&norm, raw[i]);
        }
    }
    const char *s = alc_sb_str(&norm);
    size_t len = norm.len, pos = 0;
    int first = 1;
    while (pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - s) + 1 : len;
        if (!first) {
            alc_sb_puts(&out, "\n\n");
        }
        first = 0;
        if (!blank(s + pos, end - pos)) {
            alc_sb_append(&out, s + pos, end - pos);
        }
        pos = end;
    }
    alc_sb_free(&norm);
    if (out.s == NULL) {
        alc_sb_puts(&out, "");
    }
    *out_len = out.len;
    return alc_sb_take(&out);
}

/* ---- gzip ---- */

/* Inflates every gzip member of src into *out (malloc'd). */
static int gunzip(const char *path, const unsigned char *src, size_t n,
                  char **out, size_t *out_len, struct alc_diag *d)
{
    z_stream z;
    struct alc_sb sb;
    unsigned char buf[1 << 16];
    int rc = -1, zr = Z_OK;
    memset(&z, 0, sizeof z);
    alc_sb_init(&sb);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        alc_diag_errorf(d, "%s: zlib init failed", path);
        return -1;
    }
    z.next_in = (unsigned char *)src;
    z.avail_in = n > 0xffffffffu ? 0xffffffffu : (unsigned)n;
    size_t fed = z.avail_in;
    for (;;) {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        zr = inflate(&z, Z_NO_FLUSH);
        alc_sb_append(&sb, (const char *)buf, sizeof buf - z.avail_out);
        if (z.avail_in == 0 && fed < n) {
            size_t more = n - fed > 0xffffffffu ? 0xffffffffu : n - fed;
            z.next_in = (unsigned char *)src + fed;
            z.avail_in = (unsigned)more;
            fed += more;
        }
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0) {
                break;
            }
            inflateReset(&z); /* concatenated members */
        } else if (zr != Z_OK) {
            alc_diag_errorf(d, "%s: corrupt gzip data (%s)", path,
                            z.msg ? z.msg : "truncated");
            goto done;
        }
    }
    *out_len = sb.len;
    *out = sb.s ? alc_sb_take(&sb) : strdup("");
    rc = 0;
done:
    inflateEnd(&z);
    alc_sb_free(&sb);
    return rc;
}

/* ---- Documents ---- */

static int push_doc(struct alc_docs *docs, const char *s, size_t n,
                    int64_t *cap)
{
    if (docs->n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        char **t = realloc(docs->text, (size_t)*cap * sizeof *t);
        size_t *l = realloc(docs->len, (size_t)*cap * sizeof *l);
        if (t != NULL) {
            docs->text = t;
        }
        if (l != NULL) {
            docs->len = l;
        }
        if (t == NULL || l == NULL) {
            return -1;
        }
    }
    char *c = malloc(n + 1);
    if (c == NULL) {
        return -1;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    docs->text[docs->n] = c;
    docs->len[docs->n] = n;
    docs->n++;
    return 0;
}

/* One {"text": ...} object per non-blank line. */
static int parse_jsonl(const char *path, const char *s, size_t n,
                       struct alc_docs *docs, struct alc_diag *d)
{
    int64_t cap = 0, line = 0;
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n;
        line++;
        if (!blank(s + pos, end - pos)) {
            cJSON *o = cJSON_ParseWithLength(s + pos, end - pos);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
            int ok = cJSON_IsString(t) &&
                     push_doc(docs, t->valuestring, strlen(t->valuestring),
                              &cap) == 0;
            cJSON_Delete(o);
            if (!ok) {
                alc_diag_errorf(d,
                                "%s:%lld: expected a JSON object with a "
                                "string \"text\"",
                                path, (long long)line);
                return -1;
            }
        }
        pos = end + 1;
    }
    return 0;
}

int alc_data_read(const char *path, enum alc_data_fmt fmt,
                  struct alc_docs *docs, struct alc_diag *d)
{
    char *raw = NULL, *plain = NULL;
    size_t n = 0, pn = 0;
    int64_t cap = 0;
    int rc = -1;
    memset(docs, 0, sizeof *docs);
    if (alc_read_file(path, &raw, &n, d) != 0) {
        return -1;
    }
    docs->file_bytes = n;
    docs->file_hash = alc_hash64(raw, n, 0);
    docs->gz = n >= 2 && (unsigned char)raw[0] == 0x1f &&
               (unsigned char)raw[1] == 0x8b;
    if (docs->gz) {
        if (gunzip(path, (unsigned char *)raw, n, &plain, &pn, d) != 0) {
            goto done;
        }
        free(raw);
        raw = plain;
        n = pn;
    }
    if (fmt == ALC_DATA_C4) {
        rc = parse_jsonl(path, raw, n, docs, d);
    } else if (fmt == ALC_DATA_WIKITEXT) {
        size_t wl = 0;
        char *w = alc_data_wikitext(raw, n, &wl);
        rc = push_doc(docs, w, wl, &cap);
        free(w);
    } else {
        rc = push_doc(docs, raw, n, &cap);
    }
    if (rc != 0 && d->n_err == 0) {
        alc_diag_errorf(d, "%s: out of memory", path);
    }
done:
    free(raw);
    if (rc != 0) {
        alc_docs_free(docs);
    }
    return rc;
}

void alc_docs_free(struct alc_docs *docs)
{
    for (int64_t i = 0; i < docs->n; i++) {
        free(docs->text[i]);
    }
    free(docs->text);
    free(docs->len);
    memset(docs, 0, sizeof *docs);
}

char *alc_data_join(const struct alc_docs *docs, enum alc_data_fmt fmt,
                    int64_t max_docs, int64_t *docs_used, size_t *len)
{
    struct alc_sb sb;
    int64_t n = docs->n;
    alc_sb_init(&sb);
    if (fmt == ALC_DATA_C4 && max_docs > 0 && max_docs < n) {
        n = max_docs;
    }
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) {
            alc_sb_putc(&sb, ' ');
        }
        alc_sb_append(&sb, docs->text[i], docs->len[i]);
    }
    *docs_used = n;
    *len = sb.len;
    return sb.s ? alc_sb_take(&sb) : strdup("");
}

/* ---- Pre-tokenized ids ---- */

int alc_data_read_ids(const char *path, int32_t **ids, int64_t *n,
                      struct alc_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    int rc = -1;
    *ids = NULL;
    *n = 0;
    if (alc_read_file(path, &text, &len, d) != 0) {
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *arr = cJSON_IsArray(root)
                           ? root
                           : cJSON_GetObjectItemCaseSensitive(root, "ids");
    if (!cJSON_IsArray(arr)) {
        alc_diag_errorf(d, "%s: expected {\"ids\": [...]} or a JSON array",
                        path);
        goto done;
    }
    int64_t k = cJSON_GetArraySize(arr), i = 0;
    *ids = malloc((size_t)(k > 0 ? k : 1) * sizeof **ids);
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, arr)
    {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1.0;
        if (!(v >= 0 && v < 2147483648.0) || v != (double)(int64_t)v) {
            alc_diag_errorf(d, "%s: ids[%lld] is not a token id", path,
                            (long long)i);
            goto done;
        }
        (*ids)[i++] = (int32_t)v;
    }
    *n = k;
    rc = 0;
done:
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
    }
    cJSON_Delete(root);
    free(text);
    return rc;
}
