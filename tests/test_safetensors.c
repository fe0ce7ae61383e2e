/*
 * test_safetensors.c: the safetensors reader's validation rules (one test
 * per malformed-file class, each a clear error naming the file and the
 * tensor) and the writer (round trip, reference layout, atomic output).
 */
#include "alc_test.h"

#include <unistd.h>

#include "safetensors.h"

/* ---- Helpers ---- */

/* 8-byte length + header + data_len bytes of data (value i % 251). */
static unsigned char *mk(const char *header, size_t data_len, size_t *size)
{
    size_t n = strlen(header);
    unsigned char *b = malloc(8 + n + data_len + 1);
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    memcpy(b + 8, header, n);
    for (size_t i = 0; i < data_len; i++) {
        b[8 + n + i] = (unsigned char)(i % 251);
    }
    *size = 8 + n + data_len;
    return b;
}

/* Parses header + data and returns the first error line ("" if none). */
static const char *parse_err(const char *header, size_t data_len)
{
    static char first[512];
    size_t size = 0;
    unsigned char *b = mk(header, data_len, &size);
    struct alc_diag d;
    struct alc_st_file f;
    alc_diag_init(&d);
    int rc = alc_st_parse(&f, b, size, "t.safetensors", &d);
    snprintf(first, sizeof first, "%s", d.first);
    if (rc == 0) {
        assert_int_equal(d.n_err, 0);
        alc_st_close(&f);
    } else {
        assert_true(d.n_err > 0);
    }
    alc_diag_free(&d);
    free(b);
    return first;
}

#define assert_contains(hay, needle)                                           \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL) {                                 \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));           \
        }                                                                      \
    } while (0)

/* ---- Reader: valid files ---- */

/* A valid two-tensor file with metadata and trailing header spaces. */
static void test_st_parse_valid(void **state)
{
    (void)state;
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],"
                    "\"data_offsets\":[4,20]},"
                    "\"a\":{\"dtype\":\"BF16\",\"shape\":[2],"
                    "\"data_offsets\":[0,4]}}   ";
    size_t size = 0;
    unsigned char *b = mk(h, 20, &size);
    struct alc_diag d;
    struct alc_st_file f;
    alc_diag_init(&d);
    assert_int_equal(alc_st_parse(&f, b, size, "ok", &d), 0);
    assert_int_equal(f.n_tensors, 2);
    assert_string_equal(f.tensors[0].name, "a"); /* sorted by name */
    const struct alc_st_tensor *t = alc_st_find(&f, "b");
    assert_non_null(t);
    assert_int_equal(t->dtype, ALC_DT_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->numel, 4);
    assert_ptr_equal(t->data, b + 8 + strlen(h) + 4);
    assert_null(alc_st_find(&f, "c"));
    assert_string_equal(alc_st_meta(&f, "format"), "pt");
    alc_st_close(&f);
    alc_diag_free(&d);
    free(b);
}

/* Scalars, zero-size tensors, and non-computable dtypes are accepted. */
static void test_st_parse_edge_shapes(void **state)
{
    (void)state;
    assert_string_equal(parse_err("{\"s\":{\"dtype\":\"F32\",\"shape\":[],"
                                  "\"data_offsets\":[0,4]},"
                                  "\"z\":{\"dtype\":\"F16\",\"shape\":[0,7],"
                                  "\"data_offsets\":[4,4]},"
                                  "\"q\":{\"dtype\":\"I8\",\"shape\":[3],"
                                  "\"data_offsets\":[4,7]},"
                                  "\"f4\":{\"dtype\":\"F4\",\"shape\":[2],"
                                  "\"data_offsets\":[7,8]}}",
                                  8),
                        "");
    assert_string_equal(parse_err("{}", 0), "");
}

/* ---- Reader: malformed files ---- */

/* Fewer than 8 bytes, or a header length past the end: truncated. */
static void test_st_truncated(void **state)
{
    struct alc_diag d;
    struct alc_st_file f;
    unsigned char b[4] = {1, 0, 0, 0};
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_st_parse(&f, b, sizeof b, "short", &d), -1);
    assert_contains(d.first, "short: file too short");
    alc_diag_free(&d);
    size_t size = 0;
    unsigned char *m = mk("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
                          "\"data_offsets\":[0,16]}}",
                          16, &size);
    alc_diag_init(&d);
    assert_int_equal(alc_st_parse(&f, m, 20, "cut", &d), -1);
    assert_contains(d.first, "runs past the end");
    alc_diag_free(&d);
    /* cut inside the data: the tensor no longer fits */
    alc_diag_init(&d);
    assert_int_equal(alc_st_parse(&f, m, size - 4, "cut2", &d), -1);
    assert_contains(d.first, "cut2: tensor 'a': data_offsets [0, 16] outside");
    alc_diag_free(&d);
    free(m);
}

/* A header length over 100 MB is refused before anything is read. */
static void test_st_header_too_long(void **state)
{
    struct alc_diag d;
    struct alc_st_file f;
    unsigned char b[16] = {0};
    uint64_t n = 100000001ull;
    (void)state;
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(n >> (8 * i));
    }
    alc_diag_init(&d);
    assert_int_equal(alc_st_parse(&f, b, sizeof b, "big", &d), -1);
    assert_contains(d.first, "exceeds the limit");
    alc_diag_free(&d);
    b[7] = 0xff; /* a huge length must not overflow the bounds check */
    alc_diag_init(&d);
    assert_int_equal(alc_st_parse(&f, b, sizeof b, "huge", &d), -1);
    alc_diag_free(&d);
}

/* Not JSON, not an object, garbage after the object, bad UTF-8. */
static void test_st_bad_json(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"a\":", 0), "not valid JSON");
    assert_contains(parse_err("[1,2]", 0), "not a JSON object");
    assert_contains(parse_err("{} x", 0), "trailing bytes");
    assert_contains(parse_err("{\"\xff\":1}", 0), "not valid UTF-8");
    assert_contains(parse_err("{\"a\":3}", 0), "tensor 'a': entry is not");
}

/* Missing or malformed dtype / shape / data_offsets fields. */
static void test_st_bad_fields(void **state)
{
    (void)state;
    assert_contains(
        parse_err("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
        "tensor 'w': missing or non-string 'dtype'");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]}}",
                              4),
                    "unknown dtype 'F33'");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],"
                              "\"data_offsets\":[0,4]}}",
                              4),
                    "shape[0] is not a non-negative integer");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],"
                              "\"data_offsets\":[0,4]}}",
                              4),
                    "shape[0]");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0]}}",
                              4),
                    "'data_offsets' must be [begin, end]");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
                              "4294967296,4294967296],\"data_offsets\":[0,4]}}",
                              4),
                    "shape overflows");
}

/* Offsets beyond the data region, or end before begin. */
static void test_st_offsets_out_of_range(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
                              "\"data_offsets\":[0,8]}}",
                              4),
                    "tensor 'w': data_offsets [0, 8] outside the data "
                    "region of 4 bytes");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],"
                              "\"data_offsets\":[4,0]}}",
                              4),
                    "outside");
}

/* Two ranges sharing bytes are rejected, naming both tensors. */
static void test_st_offsets_overlap(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                              "\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
                              "\"data_offsets\":[4,12]}}",
                              12),
                    "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
}

/* Gaps and trailing data are rejected, as the reference library does. */
static void test_st_gaps_rejected(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[8,12]}}",
                              12),
                    "tensor 'b': gap of 4 bytes");
    assert_contains(parse_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]}}",
                              6),
                    "2 bytes after the last tensor");
}

/* dtype x shape must equal the byte range. */
static void test_st_size_mismatch(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,2],"
                              "\"data_offsets\":[0,8]}}",
                              8),
                    "tensor 'w': dtype BF16 x shape [3, 2] needs 12 bytes "
                    "but data_offsets [0, 8] hold 8");
    assert_contains(parse_err("{\"w\":{\"dtype\":\"F4\",\"shape\":[3],"
                              "\"data_offsets\":[0,1]}}",
                              1),
                    "and a fraction");
}

/* Duplicate tensor names and bad __metadata__. */
static void test_st_duplicates_and_metadata(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[4,8]}}",
                              8),
                    "duplicate tensor 'a'");
    assert_contains(parse_err("{\"__metadata__\":{\"k\":1}}", 0),
                    "__metadata__ 'k': value is not a string");
    assert_contains(parse_err("{\"__metadata__\":[]}", 0),
                    "__metadata__ is not an object");
    assert_string_equal(parse_err("{\"__metadata__\":null}", 0), "");
}

/* alc_st_open names the path and reports a missing file. */
static void test_st_open_missing(void **state)
{
    struct alc_diag d;
    struct alc_st_file f;
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_st_open(&f, "/nonexistent/x.safetensors", &d), -1);
    assert_contains(d.first, "/nonexistent/x.safetensors: cannot open");
    alc_st_close(&f);
    alc_diag_free(&d);
}

/* ---- Writer ---- */

/* Round trip: reference layout (alignment desc, then name), header padded
 * to 8 bytes, data readable back bit-exactly. */
static void test_st_writer_round_trip(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("st_writer");
    char *path = alc_path_join(dir, "a.safetensors");
    struct alc_st_writer w;
    struct alc_diag d;
    struct alc_st_file f;
    int64_t s2[2] = {3, 2}, s1[1] = {5};
    float v6[6] = {1, -2, 3.5f, 1e-3f, -0.0f, 65504};
    uint16_t h5[5] = {1, 2, 3, 4, 5};
    alc_diag_init(&d);
    alc_st_writer_init(&w);
    assert_int_equal(alc_st_writer_add(&w, "z.f16", ALC_ST_F16, 1, s1, &d), 0);
    assert_int_equal(alc_st_writer_add(&w, "y.f32", ALC_ST_F32, 2, s2, &d), 0);
    assert_int_equal(alc_st_writer_add(&w, "x.bf16", ALC_ST_BF16, 2, s2, &d),
                     0);
    assert_int_equal(alc_st_writer_add(&w, "y.f32", ALC_ST_F32, 1, s1, &d),
                     -1); /* declared twice */
    alc_st_writer_meta(&w, "format", "pt", &d);
    assert_int_equal(alc_st_writer_open(&w, path, &d), 0);
    assert_int_equal(alc_path_exists(path), 0); /* only the temp file */
    assert_int_equal(alc_st_writer_put_f32(&w, "x.bf16", v6, &d), 0);
    assert_int_equal(alc_st_writer_put(&w, "z.f16", h5, sizeof h5, &d), 0);
    assert_int_equal(alc_st_writer_put(&w, "y.f32", v6, 8, &d), -1);
    assert_int_equal(alc_st_writer_put(&w, "y.f32", v6, sizeof v6, &d), 0);
    assert_int_equal(alc_st_writer_close(&w, &d), 0);
    alc_st_writer_free(&w);
    alc_diag_reset(&d);
    assert_int_equal(alc_st_open(&f, path, &d), 0);
    assert_int_equal(f.header_len % 8, 0);
    const struct alc_st_tensor *y = alc_st_find(&f, "y.f32");
    const struct alc_st_tensor *x = alc_st_find(&f, "x.bf16");
    const struct alc_st_tensor *z = alc_st_find(&f, "z.f16");
    assert_int_equal(y->begin, 0); /* F32 first, then BF16/F16 by name */
    assert_int_equal(x->begin, 24);
    assert_int_equal(z->begin, 36);
    assert_memory_equal(y->data, v6, sizeof v6);
    assert_memory_equal(z->data, h5, sizeof h5);
    float back[6];
    alc_to_f32(back, x->data, ALC_DT_BF16, 6);
    for (int i = 0; i < 6; i++) {
        /* bf16 keeps 8 significant bits: relative error <= 2^-9 */
        assert_close(back[i], v6[i], 1.0 / 512);
    }
    assert_string_equal(alc_st_meta(&f, "format"), "pt");
    alc_st_close(&f);
    alc_diag_free(&d);
    free(path);
    free(dir);
}

/* A writer freed before close leaves nothing behind; close refuses
 * tensors that were never written. */
static void test_st_writer_incomplete(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("st_writer_incomplete");
    char *path = alc_path_join(dir, "b.safetensors");
    struct alc_st_writer w;
    struct alc_diag d;
    int64_t s1[1] = {4};
    alc_diag_init(&d);
    alc_st_writer_init(&w);
    alc_st_writer_add(&w, "a", ALC_ST_F32, 1, s1, &d);
    alc_st_writer_add(&w, "b", ALC_ST_F32, 1, s1, &d);
    assert_int_equal(alc_st_writer_open(&w, path, &d), 0);
    float v[4] = {0};
    assert_int_equal(alc_st_writer_put_f32(&w, "a", v, &d), 0);
    assert_int_equal(alc_st_writer_close(&w, &d), -1);
    assert_contains(d.first, "tensor 'b' was declared but never written");
    alc_st_writer_free(&w);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    assert_int_equal(system(cmd), 0); /* no file, no temporary */
    alc_diag_free(&d);
    free(path);
    free(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_parse_valid),
        cmocka_unit_test(test_st_parse_edge_shapes),
        cmocka_unit_test(test_st_truncated),
        cmocka_unit_test(test_st_header_too_long),
        cmocka_unit_test(test_st_bad_json),
        cmocka_unit_test(test_st_bad_fields),
        cmocka_unit_test(test_st_offsets_out_of_range),
        cmocka_unit_test(test_st_offsets_overlap),
        cmocka_unit_test(test_st_gaps_rejected),
        cmocka_unit_test(test_st_size_mismatch),
        cmocka_unit_test(test_st_duplicates_and_metadata),
        cmocka_unit_test(test_st_open_missing),
        cmocka_unit_test(test_st_writer_round_trip),
        cmocka_unit_test(test_st_writer_incomplete),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
