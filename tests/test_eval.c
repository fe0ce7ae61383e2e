/*
 * test_eval.c: perplexity (the window protocol, the dense reference values
 * of examples/reference/dense_ppl.json, determinism, a PyTorch
 * cross-check) and the dataset readers (wikitext rows, C4 JSON lines with
 * and without gzip, id lists).
 */
#include "rt_test.h"

#include <cjson/cJSON.h>
#include <zlib.h>

#include "data.h"
#include "eval.h"
#include "tokenizer.h"

#define TEST_IDS ALC_SOURCE_DIR "/examples/reference/test_ids.json"

static void read_ids(const char *path, int32_t **ids, int64_t *n)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_data_read_ids(path, ids, n, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

static void eval(const struct alc_model *m, const int32_t *ids, int64_t n,
                 int T, int64_t K, int batch, int threads,
                 struct alc_eval_result *r)
{
    struct alc_eval_opts o = {T, K, batch, threads, 0};
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_eval_ppl(m, ids, n, &o, r, &d) != 0) {
        fail_msg("eval: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

/* dense_ppl.json: {"dense": {"256": {"ppl": .., "windows": ..}, ...}} */
static double ref_ppl(const char *seqlen, int *windows)
{
    char *text = NULL;
    size_t len = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    assert_int_equal(alc_read_file(ALC_SOURCE_DIR
                                   "/examples/reference/dense_ppl.json",
                                   &text, &len, &d),
                     0);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "dense"), seqlen);
    double ppl = cJSON_GetObjectItemCaseSensitive(e, "ppl")->valuedouble;
    *windows = cJSON_GetObjectItemCaseSensitive(e, "windows")->valueint;
    cJSON_Delete(root);
    free(text);
    alc_diag_free(&d);
    return ppl;
}

/* ---- Perplexity ---- */

/* The bundled model's dense PPL of kjv.test.raw (reference ids) equals
 * dense_ppl.json within 0.1 % at seqlen 256 and 128 (the bar;
 * measured: equal to the 4 printed decimals). */
static void test_eval_dense_reference(void **state)
{
    struct alc_model m;
    int32_t *ids = NULL;
    int64_t n = 0;
    (void)state;
    rt_load(&m, TINY_LLAMA);
    read_ids(TEST_IDS, &ids, &n);
    assert_int_equal(n, 62284);
    static const char *const lens[2] = {"256", "128"};
    for (int i = 0; i < 2; i++) {
        struct alc_eval_result r;
        int windows = 0;
        double want = ref_ppl(lens[i], &windows);
        eval(&m, ids, n, atoi(lens[i]), 0, 0, 2, &r);
        print_message("seqlen %s: PPL %.4f (reference %.4f), %lld windows\n",
                      lens[i], r.ppl, want, (long long)r.n_windows);
        assert_int_equal(r.n_windows, windows);
        assert_true(fabs(r.ppl / want - 1.0) <= 1e-3);
        alc_eval_result_free(&r);
    }
    free(ids);
    alc_model_free(&m);
}

/* Text to PPL: kjv.test.raw read verbatim (format raw) and tokenized with
 * the bundled tokenizer (BOS once at the start) gives exactly the
 * reference ids, hence the reference PPL at seqlen 256. */
static void test_eval_text_end_to_end(void **state)
{
    struct alc_model m;
    struct alc_docs docs;
    struct alc_diag d;
    struct alc_eval_result r;
    int32_t *ref = NULL, *ids = NULL;
    int64_t n_ref = 0, n = 0;
    (void)state;
    alc_diag_init(&d);
    read_ids(TEST_IDS, &ref, &n_ref);
    assert_int_equal(
        alc_data_read(ALC_SOURCE_DIR "/examples/corpus/kjv.test.raw",
                      alc_data_fmt_guess("kjv.test.raw"), &docs, &d),
        0);
    struct alc_tokenizer *t = alc_tok_load(TINY_LLAMA, &d);
    assert_non_null(t);
    assert_int_equal(alc_tok_bos_id(t), 0);
    assert_int_equal(
        alc_tok_encode(t, docs.text[0], docs.len[0], 1, &ids, &n, &d), 0);
    assert_int_equal(n, n_ref);
    assert_memory_equal(ids, ref, (size_t)n * sizeof *ids);
    rt_load(&m, TINY_LLAMA);
    int windows = 0;
    double want = ref_ppl("256", &windows);
    eval(&m, ids, n, 256, 0, 0, 2, &r);
    assert_true(fabs(r.ppl / want - 1.0) <= 1e-3);
    alc_eval_result_free(&r);
    alc_model_free(&m);
    alc_tok_free(t);
    alc_docs_free(&docs);
    free(ids);
    free(ref);
    alc_diag_free(&d);
}

/* floor(n / T) windows, the tail dropped, --max-chunks takes the first K;
 * window w's loss is the mean NLL of ids[wT, (w+1)T) computed alone. */
static void test_eval_windows(void **state)
{
    struct alc_model m;
    struct alc_fwd f;
    struct alc_diag d;
    struct alc_eval_result r;
    enum { N = 1000, T = 64 };
    static int32_t ids[N];
    float nll[T - 1];
    (void)state;
    rt_load(&m, TINY_LLAMA);
    rt_ids(ids, N, 1024, 21);
    eval(&m, ids, N, T, 0, 0, 2, &r);
    assert_int_equal(r.n_avail, 15);
    assert_int_equal(r.n_windows, 15);
    assert_int_equal(r.n_dropped, 40);
    assert_int_equal(r.n_scored, 15 * 63);
    alc_eval_result_free(&r);
    eval(&m, ids, N, T, 4, 0, 2, &r);
    assert_int_equal(r.n_windows, 4);
    alc_diag_init(&d);
    assert_int_equal(alc_fwd_init(&f, &m, 1, T, 2, &d), 0);
    double mean = 0.0;
    for (int w = 0; w < 4; w++) {
        double s = 0.0;
        assert_int_equal(alc_fwd_nll(&f, ids + w * T, 1, T, nll, &d), 0);
        for (int t = 0; t < T - 1; t++) {
            s += nll[t];
        }
        assert_close(r.window_nll[w], s / (T - 1), 1e-12);
        mean += s / (T - 1) / 4;
    }
    assert_close(r.mean_nll, mean, 1e-12);
    assert_close(r.ppl, exp(mean), 1e-12);
    alc_fwd_free(&f);
    alc_eval_result_free(&r);
    alc_diag_free(&d);
    alc_model_free(&m);
}

/* Same bits for 1 thread / batch 1 and 2 threads / batch 5. */
static void test_eval_deterministic(void **state)
{
    struct alc_model m;
    struct alc_eval_result a, b;
    int32_t *ids = NULL;
    int64_t n = 0;
    (void)state;
    rt_load(&m, TINY_LLAMA);
    read_ids(TEST_IDS, &ids, &n);
    eval(&m, ids, n, 256, 12, 1, 1, &a);
    eval(&m, ids, n, 256, 12, 5, 2, &b);
    assert_int_equal(a.batch, 1);
    assert_int_equal(b.batch, 5);
    assert_memory_equal(a.window_nll, b.window_nll, 12 * sizeof(double));
    assert_memory_equal(&a.ppl, &b.ppl, sizeof a.ppl);
    alc_eval_result_free(&a);
    alc_eval_result_free(&b);
    free(ids);
    alc_model_free(&m);
}

/* Bad settings give one clear error. */
static void test_eval_errors(void **state)
{
    struct alc_model m;
    struct alc_eval_result r;
    struct alc_diag d;
    int32_t ids[10] = {0};
    (void)state;
    rt_load(&m, TINY_LLAMA);
    alc_diag_init(&d);
    struct alc_eval_opts o = {1, 0, 0, 1, 0};
    assert_int_equal(alc_eval_ppl(&m, ids, 10, &o, &r, &d), -1);
    assert_contains(d.first, "seqlen 1 is below 2");
    o.seqlen = 16;
    assert_int_equal(alc_eval_ppl(&m, ids, 10, &o, &r, &d), -1);
    assert_contains(alc_diag_text(&d), "10 tokens do not fill one window");
    alc_model_free(&m);
    alc_diag_free(&d);
}

/* PPL of a random OPT model equals tools/ref_forward.py's within 1e-5
 * relative (fp32 on both sides; skipped without torch). */
static void test_eval_vs_torch(void **state)
{
    (void)state;
    if (!rt_have_torch()) {
        skip();
    }
    char *dir = alc_test_tmpdir("eval_torch");
    char *mdir = alc_path_join(dir, "m"), *ipath = alc_path_join(dir, "i");
    char *opath = alc_path_join(dir, "out.json");
    struct alc_gen_opts o = rt_opts(ALC_ARCH_OPT, 64, 2, 4, 4);
    struct alc_model m;
    struct alc_eval_result r;
    enum { N = 700, T = 96 };
    static int32_t ids[N];
    char cmd[8192], *text = NULL;
    size_t len = 0;
    struct alc_diag d;
    rt_gen(&o, mdir);
    rt_load(&m, mdir);
    rt_ids(ids, N, 300, 17);
    rt_write_ids(ipath, ids, 1, N);
    eval(&m, ids, N, T, 0, 0, 2, &r);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tools/ref_forward.py ppl --model '%s' "
             "--ids '%s' --seqlen %d --batch 3 > '%s'",
             ALC_SOURCE_DIR, mdir, ipath, T, opath);
    assert_int_equal(system(cmd), 0);
    alc_diag_init(&d);
    assert_int_equal(alc_read_file(opath, &text, &len, &d), 0);
    cJSON *j = cJSON_Parse(text);
    double ppl = cJSON_GetObjectItemCaseSensitive(j, "ppl")->valuedouble;
    int windows = cJSON_GetObjectItemCaseSensitive(j, "windows")->valueint;
    print_message("random OPT: PPL %.6f, PyTorch %.6f\n", r.ppl, ppl);
    assert_int_equal(windows, r.n_windows);
    assert_true(fabs(r.ppl / ppl - 1.0) <= 1e-5);
    cJSON_Delete(j);
    free(text);
    alc_eval_result_free(&r);
    alc_model_free(&m);
    alc_diag_free(&d);
    free(mdir);
    free(ipath);
    free(opath);
    free(dir);
}

/* ---- Data ---- */

/* wikitext rows: each line keeps its "\n", blank (Python isspace) lines
 * become "", rows joined with "\n\n"; CRLF read as LF. */
static void test_data_wikitext(void **state)
{
    size_t n = 0;
    (void)state;
    const char *raw = " = T = \n \n A b .\r\n\xc2\xa0\t\nlast";
    char *w = alc_data_wikitext(raw, strlen(raw), &n);
    assert_string_equal(w, " = T = \n\n\n\n\n A b .\n\n\n\n\nlast");
    assert_int_equal(n, strlen(w));
    free(w);
    w = alc_data_wikitext("", 0, &n);
    assert_string_equal(w, "");
    free(w);
    w = alc_data_wikitext("a\n", 2, &n);
    assert_string_equal(w, "a\n");
    free(w);
    assert_int_equal(alc_data_fmt_guess("/x/wiki.test.raw"), ALC_DATA_WIKITEXT);
    assert_int_equal(alc_data_fmt_guess("kjv.test.raw"), ALC_DATA_RAW);
    assert_int_equal(alc_data_fmt_guess("c4-train.00000-of-01024.json.gz"),
                     ALC_DATA_C4);
    assert_int_equal(alc_data_fmt_guess("v.jsonl"), ALC_DATA_C4);
    assert_int_equal(alc_data_fmt_from_name("text"), ALC_DATA_TEXT);
    assert_int_equal(alc_data_fmt_from_name("csv"), -1);
}

/* C4 JSON lines, plain and gzip'd (two members), read the same. */
static void test_data_c4(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("data_c4");
    char *plain = alc_path_join(dir, "c4.json");
    char *gz = alc_path_join(dir, "c4.json.gz");
    const char *l1 = "{\"text\": \"first doc\", \"url\": \"u\"}\n\n";
    const char *l2 = "{\"text\": \"second \\u00e9\"}\n{\"text\": \"third\"}\n";
    struct alc_diag d;
    struct alc_docs a, b;
    alc_diag_init(&d);
    FILE *f = fopen(plain, "w");
    fputs(l1, f);
    fputs(l2, f);
    fclose(f);
    for (int k = 0; k < 2; k++) {
        gzFile g = gzopen(gz, k == 0 ? "wb" : "ab");
        gzputs(g, k == 0 ? l1 : l2);
        gzclose(g);
    }
    assert_int_equal(alc_data_read(plain, ALC_DATA_C4, &a, &d), 0);
    assert_int_equal(alc_data_read(gz, ALC_DATA_C4, &b, &d), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.gz, 1);
    assert_string_equal(a.text[1], "second \xc3\xa9");
    for (int i = 0; i < 3; i++) {
        assert_string_equal(a.text[i], b.text[i]);
    }
    int64_t used = 0;
    size_t len = 0;
    char *j = alc_data_join(&a, ALC_DATA_C4, 2, &used, &len);
    assert_string_equal(j, "first doc second \xc3\xa9");
    assert_int_equal(used, 2);
    free(j);
    alc_docs_free(&a);
    alc_docs_free(&b);
    /* a bad line names its number; a truncated gzip is an error */
    f = fopen(plain, "a");
    fputs("{\"txt\": 1}\n", f);
    fclose(f);
    assert_int_equal(alc_data_read(plain, ALC_DATA_C4, &a, &d), -1);
    assert_contains(d.first, "c4.json:5: expected a JSON object");
    alc_diag_reset(&d);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "head -c 30 '%s' > '%s.cut'", gz, gz);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.cut", gz);
    assert_int_equal(alc_data_read(cmd, ALC_DATA_C4, &a, &d), -1);
    assert_contains(d.first, "corrupt gzip data");
    alc_diag_free(&d);
    free(plain);
    free(gz);
    free(dir);
}

/* raw keeps the file verbatim and hashes it. */
static void test_data_raw(void **state)
{
    struct alc_docs a;
    struct alc_diag d;
    (void)state;
    alc_diag_init(&d);
    assert_int_equal(alc_data_read(ALC_SOURCE_DIR
                                   "/examples/corpus/kjv.test.raw",
                                   ALC_DATA_RAW, &a, &d),
                     0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.len[0], 194757);
    assert_int_equal(a.file_bytes, 194757);
    assert_true(a.file_hash == alc_hash64(a.text[0], a.len[0], 0));
    alc_docs_free(&a);
    assert_int_equal(alc_data_read("/nonexistent", ALC_DATA_RAW, &a, &d), -1);
    assert_contains(d.first, "/nonexistent: cannot open");
    alc_diag_free(&d);
}

/* Id lists: {"ids": [...]} or [...]; anything else is an error. */
static void test_data_ids(void **state)
{
    (void)state;
    char *dir = alc_test_tmpdir("data_ids");
    char *p = alc_path_join(dir, "i.json");
    int32_t *ids = NULL;
    int64_t n = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    alc_write_file_atomic(p, "[3, 1, 2]", 9, &d);
    assert_int_equal(alc_data_read_ids(p, &ids, &n, &d), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[2], 2);
    free(ids);
    alc_write_file_atomic(p, "{\"ids\": [3, -1]}", 16, &d);
    assert_int_equal(alc_data_read_ids(p, &ids, &n, &d), -1);
    assert_contains(d.first, "ids[1] is not a token id");
    alc_diag_free(&d);
    free(p);
    free(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_dense_reference),
        cmocka_unit_test(test_eval_text_end_to_end),
        cmocka_unit_test(test_eval_windows),
        cmocka_unit_test(test_eval_deterministic),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_eval_vs_torch),
        cmocka_unit_test(test_data_wikitext),
        cmocka_unit_test(test_data_c4),
        cmocka_unit_test(test_data_raw),
        cmocka_unit_test(test_data_ids),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
