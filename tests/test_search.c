/*
 * test_search.c: the search driver (search/search.h) on the synthetic
 * worker: budgets, the population invariant (the P best valid candidates),
 * the evaluation cache, determinism across worker counts, resuming after
 * an interruption at every possible task (the result equals the
 * uninterrupted run's, times aside), refusing a resume with other options,
 * seeds, the random strategy, the byte forms of tasks and results, the
 * state file's errors; and one small search on the bundled model through
 * the pruning session (the real pipeline).
 */
#include "alc_test.h"

#include "front.h"
#include "search.h"
#include "search_internal.h"
#include "space.h"

/* ---- Fixtures ---- */

static void load_space(struct alc_space *sp, const char *name)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_space_load(sp, name, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

static void small_algo(struct alc_search_algo *a)
{
    alc_search_algo_default(a);
    a->evals = 40;
    a->population = 8;
    a->batch = 3;
    a->seed = 7;
}

static void synthetic(struct alc_search_fitness *f)
{
    memset(f, 0, sizeof *f);
    f->synthetic = 1;
    f->S = 0.7;
    f->backend = "llvm";
    f->threads = 1;
    f->dense = 1;
}

/* An executor that forwards to `inner` and fails (as a crash would) when
 * the fail_at-th result arrives, before the search sees it. */
struct failing {
    struct alc_search_exec inner;
    int results, fail_at;
};

static int failing_submit(void *ctx, int slot, const struct alc_task *t,
                          struct alc_diag *d)
{
    struct failing *f = ctx;
    return f->inner.submit(f->inner.ctx, slot, t, d);
}

static int failing_wait(void *ctx, int *slot, struct alc_task_result *r,
                        struct alc_diag *d)
{
    struct failing *f = ctx;
    if (f->inner.wait(f->inner.ctx, slot, r, d) != 0) {
        return -1;
    }
    if (++f->results == f->fail_at) {
        alc_task_result_free(r);
        alc_diag_errorf(d, "simulated crash");
        return -1;
    }
    return 0;
}

/* Runs (or resumes) a search in dir; returns alc_search_run's status.
 * fail_at > 0 stops it at that task result. The candidates' JSON without
 * times, the population and the counters go to out. */
static int run_search(const char *dir, const struct alc_space *sp,
                      const struct alc_search_algo *algo, int workers,
                      int resume, int fail_at, struct alc_sb *out)
{
    struct alc_search s;
    struct alc_search_exec ex;
    struct alc_search_fitness f;
    struct failing fl;
    struct alc_diag d;
    alc_diag_init(&d);
    synthetic(&f);
    f.inputs = sp->inputs;
    if (alc_search_open(&s, sp, algo, "test config\n", dir, resume, &d) !=
        0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    assert_int_equal(alc_search_exec_local(&ex, workers, &f, &d), 0);
    memset(&fl, 0, sizeof fl);
    fl.inner = ex;
    fl.fail_at = fail_at;
    struct alc_search_exec wrap = {&fl, ex.n_slots, failing_submit,
                                   failing_wait, NULL};
    int rc = alc_search_run(&s, fail_at > 0 ? &wrap : &ex, &d);
    if (rc != 0 && fail_at == 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    for (int64_t i = 0; out != NULL && i < s.n_cand; i++) {
        alc_search_cand_json(&s.cand[i], 0, out);
        alc_sb_putc(out, '\n');
    }
    for (int i = 0; out != NULL && i < s.n_pop; i++) {
        alc_sb_printf(out, "pop %lld\n", (long long)s.pop[i]);
    }
    if (out != NULL) {
        alc_sb_printf(out, "evals %lld gen %d\n", (long long)s.n_evals,
                      s.gen);
    }
    ex.close(ex.ctx);
    alc_search_close(&s);
    alc_diag_free(&d);
    return rc;
}

/* ---- The algorithm ---- */

/* The budget is spent exactly; the population holds the P best valid
 * candidates; cached candidates copy their source's fitness. */
static void test_search_invariants(void **state)
{
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_search s;
    struct alc_search_exec ex;
    struct alc_search_fitness f;
    struct alc_diag d;
    char *dir = alc_test_tmpdir("search_invariants");
    (void)state;
    load_space(&sp, "dsa");
    small_algo(&algo);
    synthetic(&f);
    f.inputs = sp.inputs;
    alc_diag_init(&d);
    assert_int_equal(alc_search_open(&s, &sp, &algo, "c\n", dir, 0, &d), 0);
    assert_int_equal(alc_search_exec_local(&ex, 1, &f, &d), 0);
    assert_int_equal(alc_search_run(&s, &ex, &d), 0);
    assert_int_equal(s.n_evals, algo.evals);
    assert_int_equal(s.n_pop, algo.population);
    int64_t evals = 0, valid = 0;
    for (int64_t i = 0; i < s.n_cand; i++) {
        const struct alc_search_cand *c = &s.cand[i];
        evals += c->eval_index >= 0;
        if (c->status == ALC_CS_CACHED) {
            assert_true(c->cache_of >= 0 && c->cache_of < i);
            assert_close(c->fitness, s.cand[c->cache_of].fitness, 0.0);
        }
        valid += c->status == ALC_CS_EVALUATED || c->status == ALC_CS_CACHED;
        assert_true(c->status == ALC_CS_EVALUATED ||
                    c->status == ALC_CS_CACHED ||
                    c->status == ALC_CS_INVALID);
    }
    assert_int_equal(evals, algo.evals);
    /* every member is at least as good as every valid non-member */
    for (int64_t i = 0; i < s.n_cand; i++) {
        const struct alc_search_cand *c = &s.cand[i];
        int member = 0;
        for (int k = 0; k < s.n_pop; k++) {
            member |= s.pop[k] == i;
        }
        if (member || !(c->status == ALC_CS_EVALUATED ||
                        c->status == ALC_CS_CACHED)) {
            continue;
        }
        for (int k = 0; k < s.n_pop; k++) {
            const struct alc_search_cand *m = &s.cand[s.pop[k]];
            assert_true(m->fitness < c->fitness ||
                        (m->fitness == c->fitness && m->id < c->id));
        }
    }
    const struct alc_search_cand *b = alc_search_best(&s);
    assert_non_null(b);
    assert_true(b->fitness < 10.5); /* synthetic optimum: 10 */
    assert_true(valid > algo.population);
    ex.close(ex.ctx);
    alc_search_close(&s);
    alc_space_free(&sp);
    alc_diag_free(&d);
    free(dir);
}

/* The same seed gives the same history with 1, 2 or 4 workers. */
static void test_search_workers(void **state)
{
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_sb ref, got;
    char *dir = NULL;
    (void)state;
    load_space(&sp, "dsa");
    small_algo(&algo);
    alc_sb_init(&ref);
    dir = alc_test_tmpdir("search_w1");
    run_search(dir, &sp, &algo, 1, 0, 0, &ref);
    free(dir);
    static const int workers[] = {2, 4};
    for (int k = 0; k < 2; k++) {
        alc_sb_init(&got);
        dir = alc_test_tmpdir("search_wn");
        run_search(dir, &sp, &algo, workers[k], 0, 0, &got);
        assert_string_equal(ref.s, got.s);
        alc_sb_free(&got);
        free(dir);
    }
    alc_sb_free(&ref);
    alc_space_free(&sp);
}

/* Interrupted at every task result in turn (twice per run), resumed: the
 * same candidates, population and counters as without interruption. */
static void test_search_resume_everywhere(void **state)
{
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_sb ref;
    (void)state;
    load_space(&sp, "dsa");
    small_algo(&algo);
    algo.evals = 14;
    algo.population = 5;
    alc_sb_init(&ref);
    char *dir = alc_test_tmpdir("search_ref");
    run_search(dir, &sp, &algo, 2, 0, 0, &ref);
    free(dir);
    int cuts = 0;
    for (int cut = 1; cut < 60; cut++) {
        struct alc_sb got;
        alc_sb_init(&got);
        dir = alc_test_tmpdir("search_cut");
        int rc = run_search(dir, &sp, &algo, 2, 0, cut, NULL);
        if (rc == 0) { /* fewer tasks than cut: nothing to interrupt */
            free(dir);
            alc_sb_free(&got);
            break;
        }
        /* a second interruption (or none, when fewer tasks remain), then
         * the rest */
        run_search(dir, &sp, &algo, 1, 1, cut / 2 + 1, NULL);
        run_search(dir, &sp, &algo, 3, 1, 0, &got);
        if (strcmp(ref.s, got.s) != 0) {
            fail_msg("cut at task %d:\nwant:\n%s\ngot:\n%s", cut, ref.s,
                     got.s);
        }
        cuts++;
        alc_sb_free(&got);
        free(dir);
    }
    assert_true(cuts >= 20); /* 14 evaluations + their allocations */
    alc_sb_free(&ref);
    alc_space_free(&sp);
}

/* --resume with other options is refused, and so is a fresh start over
 * a recorded search or a resume of nothing. */
static void test_search_resume_refused(void **state)
{
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_search s;
    struct alc_diag d;
    char *dir = alc_test_tmpdir("search_refuse");
    (void)state;
    load_space(&sp, "dsa");
    small_algo(&algo);
    algo.evals = 4;
    alc_diag_init(&d);
    assert_int_equal(alc_search_open(&s, &sp, &algo, "a\n", dir, 1, &d), -1);
    assert_non_null(strstr(d.first, "nothing to resume"));
    alc_search_close(&s);
    alc_diag_reset(&d);
    run_search(dir, &sp, &algo, 1, 0, 0, NULL); /* config "test config" */
    assert_int_equal(alc_search_open(&s, &sp, &algo, "other\n", dir, 1, &d),
                     -1);
    assert_non_null(strstr(d.first, "started with other options"));
    alc_search_close(&s);
    alc_diag_reset(&d);
    assert_int_equal(alc_search_open(&s, &sp, &algo, "test config\n", dir, 0,
                                     &d),
                     -1);
    assert_non_null(strstr(d.first, "already recorded"));
    alc_search_close(&s);
    alc_diag_free(&d);
    alc_space_free(&sp);
    free(dir);
}

/* Seeds come first (stdlib/dsa.alloc read as a member of the space,
 * owl.alloc kept as it is); the random strategy keeps no population. */
static void test_search_seeds_random(void **state)
{
    static const char *const files[] = {"stdlib/dsa_atan.alloc",
                                        "stdlib/owl.alloc"};
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_search s;
    struct alc_search_exec ex;
    struct alc_search_fitness f;
    struct alc_diag d;
    char *dir = alc_test_tmpdir("search_seeds");
    (void)state;
    load_space(&sp, "dsa");
    small_algo(&algo);
    algo.strategy = ALC_STRAT_RANDOM;
    algo.evals = 10;
    synthetic(&f);
    f.inputs = sp.inputs;
    alc_diag_init(&d);
    assert_int_equal(alc_search_open(&s, &sp, &algo, "c\n", dir, 0, &d), 0);
    for (int i = 0; i < 2; i++) {
        char path[1024], *src = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", ALC_SOURCE_DIR, files[i]);
        assert_int_equal(alc_read_file(path, &src, &len, &d), 0);
        assert_int_equal(alc_search_add_seed(&s, files[i], src, &d), 0);
        free(src);
    }
    assert_int_equal(alc_search_exec_local(&ex, 1, &f, &d), 0);
    assert_int_equal(alc_search_run(&s, &ex, &d), 0);
    assert_string_equal(s.cand[0].op, "seed stdlib/dsa_atan.alloc");
    assert_non_null(strstr(s.cand[0].src, "fn tr_atan(x) = atan(x)"));
    assert_string_equal(s.cand[1].op, "seed stdlib/owl.alloc");
    assert_non_null(strstr(s.cand[1].src, "owl_sparsity"));
    for (int64_t i = 2; i < s.n_cand; i++) {
        assert_string_equal(s.cand[i].op, "random");
    }
    assert_int_equal(s.n_pop, 0);
    assert_int_equal(s.n_evals, 10);
    ex.close(ex.ctx);
    alc_search_close(&s);
    alc_space_free(&sp);
    alc_diag_free(&d);
    free(dir);
}

/* The outputs: best.alloc checks and reads back as the best candidate;
 * history.csv has one line per candidate; the plot is an SVG. */
static void test_search_outputs(void **state)
{
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_search s;
    struct alc_search_exec ex;
    struct alc_search_fitness f;
    struct alc_diag d;
    struct alc_sb best;
    char *dir = alc_test_tmpdir("search_outputs");
    (void)state;
    load_space(&sp, "free");
    small_algo(&algo);
    synthetic(&f);
    f.inputs = sp.inputs;
    alc_diag_init(&d);
    alc_sb_init(&best);
    assert_int_equal(alc_search_open(&s, &sp, &algo, "c\n", dir, 0, &d), 0);
    assert_int_equal(alc_search_exec_local(&ex, 1, &f, &d), 0);
    assert_int_equal(alc_search_run(&s, &ex, &d), 0);
    struct alc_search_meta m = {"synthetic", "dsac search ...", 0.7, "wanda",
                                10.0};
    assert_int_equal(alc_search_write_outputs(&s, &m, dir, &d), 0);
    assert_int_equal(alc_search_best_text(&s, &m, &best, &d), 0);
    struct alc_arena a;
    alc_arena_init(&a, 0);
    struct alc_program *p = alc_front_load(&a, "best.alloc", best.s,
                                           best.len, &d);
    if (p == NULL) {
        fail_msg("%s\n%s", best.s, alc_diag_text(&d));
    }
    assert_int_equal(alc_ast_hash(p), alc_search_best(&s)->hash);
    char *path = alc_path_join(dir, "history.csv"), *csv = NULL;
    size_t len = 0;
    assert_int_equal(alc_read_file(path, &csv, &len, &d), 0);
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += csv[i] == '\n';
    }
    assert_int_equal(lines, s.n_cand + 1);
    free(csv);
    free(path);
    const char *dirs[2] = {dir, dir};
    path = alc_path_join(dir, "two.svg");
    assert_int_equal(alc_search_plot(dirs, 2, path, &d), 0);
    assert_int_equal(alc_read_file(path, &csv, &len, &d), 0);
    assert_true(strncmp(csv, "<svg", 4) == 0);
    assert_non_null(strstr(csv, "<polyline"));
    free(csv);
    free(path);
    alc_arena_free(&a);
    alc_sb_free(&best);
    ex.close(ex.ctx);
    alc_search_close(&s);
    alc_space_free(&sp);
    alc_diag_free(&d);
    free(dir);
}

/* A damaged state file is one clear error naming the file. */
static void test_search_bad_state(void **state)
{
    static const char *const bad[] = {
        "not json",
        "{\"format\": \"other\", \"version\": 1}",
        "{\"format\": \"dsac-search-state\", \"version\": 1, \"config\": "
        "\"c\\n\", \"rng\": [\"1\", \"2\", \"3\", \"4\"], \"gen\": 0, "
        "\"phase\": \"flying\", \"rejected\": {}}",
    };
    static const char *const want[] = {"not valid JSON", "not a dsac search",
                                       "field 'phase' has an unknown value"};
    struct alc_space sp;
    struct alc_search_algo algo;
    (void)state;
    load_space(&sp, "dsa");
    small_algo(&algo);
    for (int i = 0; i < 3; i++) {
        struct alc_search s;
        struct alc_diag d;
        char *dir = alc_test_tmpdir("search_bad");
        char *path = alc_path_join(dir, "state.json");
        alc_diag_init(&d);
        assert_int_equal(alc_write_file_atomic(path, bad[i], strlen(bad[i]),
                                               &d),
                         0);
        assert_int_equal(alc_search_open(&s, &sp, &algo, "c\n", dir, 1, &d),
                         -1);
        if (strstr(d.first, want[i]) == NULL ||
            strstr(d.first, "state.json") == NULL) {
            fail_msg("got: %s", d.first);
        }
        alc_search_close(&s);
        alc_diag_free(&d);
        free(path);
        free(dir);
    }
    alc_space_free(&sp);
}

/* ---- Pieces ---- */

/* Tasks and results survive their byte forms; truncated buffers are
 * refused. */
static void test_search_pack(void **state)
{
    double ratio[3] = {0.5, 0.75, NAN};
    struct alc_task t = {ALC_TASK_EVAL, 42, "sparsity = S\n", ratio, 3}, u;
    struct alc_task_result r, q;
    struct alc_sb sb;
    double *store = NULL;
    (void)state;
    alc_sb_init(&sb);
    alc_task_pack(&t, &sb);
    assert_int_equal(alc_task_unpack(sb.s, sb.len, &u, &store), 0);
    assert_int_equal(u.kind, ALC_TASK_EVAL);
    assert_int_equal(u.id, 42);
    assert_string_equal(u.src, "sparsity = S\n");
    assert_int_equal(u.n_units, 3);
    assert_memory_equal(u.ratio, ratio, sizeof ratio);
    free(store);
    assert_int_equal(alc_task_unpack(sb.s, sb.len - 1, &u, &store), -1);
    free(store);
    memset(&r, 0, sizeof r);
    r.kind = ALC_TASK_ALLOC;
    r.id = 7;
    r.reject = ALC_REJ_NAN;
    r.why = strdup("unit 3 = NaN");
    r.ratio = malloc(sizeof ratio);
    memcpy(r.ratio, ratio, sizeof ratio);
    r.n_units = 3;
    r.fitness = 12.5;
    r.t_prune = 1.25;
    alc_sb_reset(&sb);
    alc_task_result_pack(&r, &sb);
    assert_int_equal(alc_task_result_unpack(sb.s, sb.len, &q), 0);
    assert_int_equal(q.id, 7);
    assert_int_equal(q.reject, ALC_REJ_NAN);
    assert_string_equal(q.why, "unit 3 = NaN");
    assert_memory_equal(q.ratio, ratio, sizeof ratio);
    assert_close(q.fitness, 12.5, 0.0);
    assert_close(q.t_prune, 1.25, 0.0);
    alc_task_result_free(&q);
    for (size_t cut = 0; cut < sb.len; cut += 3) {
        assert_int_equal(alc_task_result_unpack(sb.s, cut, &q), -1);
        alc_task_result_free(&q);
    }
    alc_task_result_free(&r);
    alc_sb_free(&sb);
}

static int collect_fn(void *ctx, int64_t val)
{
    int64_t *sum = ctx;
    *sum += val;
    return 0;
}

/* The multimap holds several values per key through growth; the cache key
 * ignores differences below the rounding. */
static void test_search_map_key(void **state)
{
    struct alc_u64map *m = alc_u64map_new();
    (void)state;
    for (int64_t i = 0; i < 5000; i++) {
        assert_int_equal(alc_u64map_add(m, (uint64_t)(i % 1000), i), 0);
    }
    int64_t sum = 0;
    assert_int_equal(alc_u64map_find(m, 7, collect_fn, &sum), -1);
    assert_int_equal(sum, 7 + 1007 + 2007 + 3007 + 4007);
    alc_u64map_free(m);
    double a[2] = {0.7, 0.6}, b[2] = {0.7 + 1e-9, 0.6}, c[2] = {0.7, 0.6001};
    assert_true(alc_search_ratio_key(a, 2, 1e-6) ==
                alc_search_ratio_key(b, 2, 1e-6));
    assert_true(alc_search_ratio_key(a, 2, 1e-6) !=
                alc_search_ratio_key(c, 2, 1e-6));
}

/* ---- The real pipeline ---- */

/* Three evaluations on the bundled model at 70% Wanda: the session
 * worker's perplexities are finite, above the dense model's, and the same
 * with 2 workers. */
static void test_search_model(void **state)
{
    struct alc_space sp;
    struct alc_search_algo algo;
    struct alc_search_fitness f;
    struct alc_sb out[2];
    struct alc_diag d;
    (void)state;
    load_space(&sp, "dsa");
    alc_search_algo_default(&algo);
    algo.evals = 3;
    algo.population = 3;
    algo.batch = 2;
    memset(&f, 0, sizeof f);
    f.model = ALC_SOURCE_DIR "/examples/tiny-llama";
    f.S = 0.7;
    f.method = "wanda";
    f.calib = ALC_SOURCE_DIR "/examples/corpus/kjv.train.raw";
    f.nsamples = 8;
    f.seqlen = 128;
    f.valid = ALC_SOURCE_DIR "/examples/corpus/kjv.valid.raw";
    f.valid_chunks = 4;
    f.valid_seqlen = 128;
    f.backend = "llvm";
    f.inputs = sp.inputs;
    f.dense = 1;
    alc_diag_init(&d);
    for (int w = 0; w < 2; w++) {
        struct alc_search s;
        struct alc_search_exec ex;
        char *dir = alc_test_tmpdir(w == 0 ? "search_m1" : "search_m2");
        alc_sb_init(&out[w]);
        assert_int_equal(alc_search_open(&s, &sp, &algo, "m\n", dir, 0, &d),
                         0);
        if (alc_search_exec_local(&ex, w + 1, &f, &d) != 0) {
            fail_msg("%s", alc_diag_text(&d));
        }
        double dense = alc_search_worker_dense_ppl(
            alc_search_exec_local_worker(&ex));
        assert_true(dense > 1.0 && dense < 100.0);
        if (alc_search_run(&s, &ex, &d) != 0) {
            fail_msg("%s", alc_diag_text(&d));
        }
        for (int64_t i = 0; i < s.n_cand; i++) {
            const struct alc_search_cand *c = &s.cand[i];
            if (c->status == ALC_CS_EVALUATED) {
                assert_true(isfinite(c->fitness) && c->fitness > dense);
                assert_int_equal(c->n_units, 8);
            }
            alc_search_cand_json(c, 0, &out[w]);
        }
        assert_int_equal(s.n_evals, 3);
        ex.close(ex.ctx);
        alc_search_close(&s);
        free(dir);
    }
    assert_string_equal(out[0].s, out[1].s);
    alc_sb_free(&out[0]);
    alc_sb_free(&out[1]);
    alc_diag_free(&d);
    alc_space_free(&sp);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_invariants),
        cmocka_unit_test(test_search_workers),
        cmocka_unit_test(test_search_resume_everywhere),
        cmocka_unit_test(test_search_resume_refused),
        cmocka_unit_test(test_search_seeds_random),
        cmocka_unit_test(test_search_outputs),
        cmocka_unit_test(test_search_bad_state),
        cmocka_unit_test(test_search_pack),
        cmocka_unit_test(test_search_map_key),
        cmocka_unit_test(test_search_model),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
