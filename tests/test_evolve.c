/*
 * test_evolve.c: search spaces (space.h) and the search's operators
 * (evolve.h), without a model. The built-in DSA space reads
 * stdlib/dsa.alloc and every program `dsac import-dsa` writes as members
 * whose encoded programs compute the same ratios (the interpreter on
 * synthetic units); members round-trip through their canonical text;
 * mutation and crossover keep chains within their stages' bounds and
 * free trees at their level and depth, produce checked children, and are
 * deterministic for a seed; bad space files get one file:line:col error.
 */
#include "alc_test.h"

#include "alloc.h"
#include "evolve.h"
#include "front.h"
#include "import_dsa.h"
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

static char *describe(const struct alc_space *sp, const struct alc_cand *c)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_space_describe(sp, c, &sb);
    return alc_sb_take(&sb);
}

/* Reads a program text as a member; returns alc_evolve_read's result. */
static int read_member(const struct alc_space *sp, struct alc_arena *a,
                       const char *src, struct alc_cand *c)
{
    struct alc_diag d;
    alc_diag_init(&d);
    int r = alc_evolve_read(sp, a, "<test>", src, c, &d);
    if (r < 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return r;
}

static char *read_text(const char *rel)
{
    char path[1024];
    char *src = NULL;
    size_t len = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    snprintf(path, sizeof path, "%s/%s", ALC_SOURCE_DIR, rel);
    if (alc_read_file(path, &src, &len, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    return src;
}

/* Synthetic units: U units of two F32 matrices with positive act vectors
 * (fixed seed), enough to give every DSA op a value. */
#define SYN_U 6
#define SYN_R 12
#define SYN_C 20

struct syn {
    float w[SYN_U][2][SYN_R * SYN_C];
    float act[SYN_U][2][SYN_C];
    struct alc_mat_view mats[SYN_U][2];
    struct alc_unit_view units[SYN_U];
    struct alc_units view;
};

static void syn_init(struct syn *s)
{
    struct alc_rng rng;
    alc_rng_seed(&rng, 42);
    for (int u = 0; u < SYN_U; u++) {
        for (int m = 0; m < 2; m++) {
            double scale = 0.02 * (1.0 + u + m);
            for (int i = 0; i < SYN_R * SYN_C; i++) {
                s->w[u][m][i] = (float)(scale * alc_rng_normal(&rng));
            }
            for (int j = 0; j < SYN_C; j++) {
                s->act[u][m][j] = (float)(0.5 + alc_rng_double(&rng) * u);
            }
            struct alc_mat_view *v = &s->mats[u][m];
            memset(v, 0, sizeof *v);
            v->w = s->w[u][m];
            v->dtype = ALC_DT_F32;
            v->rows = SYN_R;
            v->cols = SYN_C;
            v->act = s->act[u][m];
            v->alpha_peak = NAN;
            v->alpha_hill = NAN;
        }
        s->units[u].mats = s->mats[u];
        s->units[u].n_mats = 2;
        s->units[u].block = u;
        s->units[u].name = NULL;
    }
    s->view.units = s->units;
    s->view.n_units = SYN_U;
}

/* The interpreter's sparsities of a program text at S = 0.7. */
static void ratios_of(const char *src, const struct syn *s, double *out)
{
    struct alc_arena a;
    struct alc_ir ir;
    struct alc_diag d;
    alc_arena_init(&a, 0);
    alc_ir_init(&ir);
    alc_diag_init(&d);
    struct alc_program *p = alc_front_load(&a, "<ratios>", src, strlen(src),
                                           &d);
    if (p == NULL || alc_lower(p, &ir, &d) != 0) {
        fail_msg("%s\n%s", src, alc_diag_text(&d));
    }
    struct alc_compiled *c = alc_compile(&ir, ALC_BE_INTERP, &d);
    assert_non_null(c);
    struct alc_eval_opts eo = {0.7, NULL, 1};
    struct alc_eval_out o = {out, NULL, NULL, 0.0};
    if (alc_evaluate(c, &s->view, &eo, &o, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_compiled_free(c);
    alc_diag_free(&d);
    alc_ir_free(&ir);
    alc_arena_free(&a);
}

static char *encode_text(const struct alc_space *sp, const struct alc_cand *c)
{
    struct alc_evolve_child ch;
    assert_int_equal(alc_evolve_finish(sp, c, &ch), 0);
    if (ch.reject != ALC_REJ_NONE) {
        fail_msg("rejected (%s): %s", alc_reject_name[ch.reject], ch.why);
    }
    char *src = ch.src;
    ch.src = NULL;
    alc_evolve_child_free(&ch);
    return src;
}

/* ---- The built-in spaces ---- */

/* The DSA space: four stages with DSA's op lists, VAR... reducing. */
static void test_space_dsa_builtin(void **state)
{
    struct alc_space sp;
    (void)state;
    load_space(&sp, "dsa");
    assert_int_equal(sp.mode, ALC_SPACE_CHAIN);
    assert_int_equal(sp.n_stages, 4);
    static const int n_ops[4] = {10, 8, 13, 13};
    static const int lo[4] = {0, 1, 1, 1}, hi[4] = {2, 1, 1, 1};
    for (int s = 0; s < 4; s++) {
        assert_int_equal(sp.stages[s].n, n_ops[s]);
        assert_int_equal(sp.stages[s].min, lo[s]);
        assert_int_equal(sp.stages[s].max, hi[s]);
        assert_true(sp.stages[s].identity >= 0);
    }
    assert_int_equal(sp.reduce_stage, 1);
    assert_non_null(sp.finish);
    assert_int_equal(sp.inputs, 1u << ALC_IN_WANDA);
    assert_string_equal(sp.ops[sp.stages[0].first + 3].label, "ABSLOG");
    alc_space_free(&sp);
}

/* stdlib/dsa.alloc (README genome) and its ATAN-only variant are members. */
static void test_space_decode_stdlib(void **state)
{
    static const char *const files[][2] = {
        {"stdlib/dsa.alloc", "ABSLOG -> VAR -> ATAN -> ASIN"},
        {"stdlib/dsa_atan.alloc", "ABSLOG -> VAR -> ATAN -> NO_OP"},
        {"stdlib/dsa_poster.alloc", "NORMALIZE -> VAR -> ABS -> NO_OP"},
        {"stdlib/owl.alloc", "(not a member of space dsa)"},
    };
    struct alc_space sp;
    (void)state;
    load_space(&sp, "dsa");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct alc_arena a;
        struct alc_cand c;
        char *src = read_text(files[i][0]);
        alc_arena_init(&a, 0);
        int r = read_member(&sp, &a, src, &c);
        char *desc = describe(&sp, &c);
        assert_string_equal(desc, files[i][1]);
        assert_int_equal(r, i < 3 ? 1 : 0);
        assert_int_equal(c.n_params, i < 3 ? 1 : 2);
        assert_close(c.params[0], i < 3 ? 0.08 : 5.0, 0.0);
        free(desc);
        free(src);
        alc_arena_free(&a);
    }
    alc_space_free(&sp);
}

/* Every genome `dsac import-dsa` accepts (random ones over all op names,
 * 1-2 post ops as DSA draws them) is a member whose program gives exactly
 * the imported program's ratios. Tolerance 0: both lower to the same ops
 * in the same order (NaN equals NaN). */
static void test_space_import_equivalence(void **state)
{
    static const char *const pre[] = {"NO_OP", "ABS", "LOG", "ABSLOG", "POW",
                                      "EXP", "NORMALIZE", "SIGMOID", "TANH",
                                      "MMS"};
    static const char *const red[] = {"NO_OP", "FROBENIUS_NORM", "L1_NORM",
                                      "GEOMETRIC_MEAN", "MEAN", "VAR", "STD",
                                      "ENTROPY"};
    static const char *const post[] = {"NO_OP", "SIN", "COS", "TAN", "ASIN",
                                       "ACOS", "ATAN", "EXP", "LOG", "ABS",
                                       "SIGMOID", "TANH", "SOFTPLUS"};
    struct alc_space sp;
    struct syn *s = malloc(sizeof *s);
    struct alc_rng rng;
    (void)state;
    load_space(&sp, "dsa");
    syn_init(s);
    alc_rng_seed(&rng, 5);
    for (int t = 0; t < 300; t++) {
        char g[256];
        int np = (int)alc_rng_below(&rng, 3), nq = 1 + (int)alc_rng_below(
                                                          &rng, 2);
        int k = snprintf(g, sizeof g, "W:(");
        for (int i = 0; i < np; i++) {
            k += snprintf(g + k, sizeof g - (size_t)k, "%s%s", i ? "," : "",
                          pre[alc_rng_below(&rng, 10)]);
        }
        k += snprintf(g + k, sizeof g - (size_t)k, ")-(%s)-(",
                      red[t < 8 ? t : (int)alc_rng_below(&rng, 8)]);
        for (int i = 0; i < nq; i++) {
            k += snprintf(g + k, sizeof g - (size_t)k, "%s%s", i ? "," : "",
                          post[alc_rng_below(&rng, 13)]);
        }
        snprintf(g + k, sizeof g - (size_t)k, ")");
        struct alc_sb imp;
        struct alc_diag d;
        struct alc_arena a;
        struct alc_cand c;
        double r1[SYN_U], r2[SYN_U];
        alc_sb_init(&imp);
        alc_diag_init(&d);
        alc_arena_init(&a, 0);
        if (alc_import_dsa(g, &imp, &d) != 0) {
            fail_msg("%s: %s", g, alc_diag_text(&d));
        }
        if (read_member(&sp, &a, imp.s, &c) != 1) {
            fail_msg("%s is not read as a member:\n%s", g, imp.s);
        }
        char *enc = encode_text(&sp, &c);
        ratios_of(imp.s, s, r1);
        ratios_of(enc, s, r2);
        for (int u = 0; u < SYN_U; u++) {
            if (memcmp(&r1[u], &r2[u], sizeof r1[u]) != 0 &&
                !(isnan(r1[u]) && isnan(r2[u]))) {
                fail_msg("%s unit %d: %.17g vs %.17g\n%s", g, u, r1[u], r2[u],
                         enc);
            }
        }
        free(enc);
        alc_arena_free(&a);
        alc_diag_free(&d);
        alc_sb_free(&imp);
    }
    free(s);
    alc_space_free(&sp);
}

/* Random members check, and their canonical text reads back as the same
 * member, whose text is the same again (both spaces). */
static void test_space_roundtrip(void **state)
{
    static const char *const spaces[] = {"dsa", "free"};
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct alc_space sp;
        struct alc_rng rng;
        load_space(&sp, spaces[k]);
        alc_rng_seed(&rng, 11);
        for (int t = 0; t < 300; t++) {
            struct alc_arena a;
            struct alc_cand c, back;
            alc_arena_init(&a, 0);
            assert_int_equal(alc_space_random(&sp, &a, &rng, &c), 0);
            char *src = encode_text(&sp, &c);
            assert_int_equal(read_member(&sp, &a, src, &back), 1);
            char *again = encode_text(&sp, &back);
            assert_string_equal(src, again);
            if (sp.mode == ALC_SPACE_CHAIN) {
                assert_memory_equal(&c.chain, &back.chain, sizeof c.chain);
            }
            free(src);
            free(again);
            alc_arena_free(&a);
        }
        alc_space_free(&sp);
    }
}

/* ---- Operators ---- */

struct op_stats {
    int mut_ok, mut_none, cross_ok, cross_none;
    int reject[ALC_REJ_COUNT];
    char names[32][32];
    int n_names;
};

static void note_name(struct op_stats *st, const char *what)
{
    for (int i = 0; i < st->n_names; i++) {
        if (strcmp(st->names[i], what) == 0) {
            return;
        }
    }
    if (st->n_names < 32) {
        snprintf(st->names[st->n_names++], 32, "%s", what);
    }
}

static int has_name(const struct op_stats *st, const char *what)
{
    for (int i = 0; i < st->n_names; i++) {
        if (strcmp(st->names[i], what) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Invariants of a child: chains within bounds, free trees at the space's
 * level and, when accepted, within the depth limit. */
static void check_child(const struct alc_space *sp, const struct alc_cand *c,
                        struct op_stats *st)
{
    struct alc_evolve_child ch;
    if (sp->mode == ALC_SPACE_CHAIN) {
        assert_true(alc_space_chain_valid(sp, &c->chain));
    } else {
        assert_int_equal(alc_space_expr_level(c->expr), (int)sp->level);
    }
    assert_int_equal(alc_evolve_finish(sp, c, &ch), 0);
    st->reject[ch.reject]++;
    if (ch.reject == ALC_REJ_NONE && sp->mode == ALC_SPACE_FREE) {
        assert_true(alc_space_expr_depth(c->expr) <= sp->gen.max_depth);
    }
    alc_evolve_child_free(&ch);
}

/* One operator run from random parents; appends the child's text. */
static void run_ops(const struct alc_space *sp, struct alc_rng *rng,
                    struct op_stats *st, struct alc_sb *log)
{
    struct alc_arena a;
    struct alc_cand x, y, c;
    struct alc_sb what;
    alc_arena_init(&a, 0);
    alc_sb_init(&what);
    assert_int_equal(alc_space_random(sp, &a, rng, &x), 0);
    assert_int_equal(alc_space_random(sp, &a, rng, &y), 0);
    int r = alc_evolve_mutate(sp, &a, rng, &x, &c, &what);
    assert_true(r >= 0);
    if (r == 0) {
        st->mut_ok++;
        note_name(st, what.s);
        check_child(sp, &c, st);
        alc_space_describe(sp, &c, log);
        alc_sb_putc(log, '\n');
    } else {
        st->mut_none++;
    }
    alc_sb_reset(&what);
    r = alc_evolve_crossover(sp, &a, rng, &x, &y, &c, &what);
    assert_true(r >= 0);
    if (r == 0) {
        st->cross_ok++;
        note_name(st, what.s);
        check_child(sp, &c, st);
        alc_space_describe(sp, &c, log);
        alc_sb_putc(log, '\n');
    } else {
        st->cross_none++;
    }
    alc_sb_free(&what);
    alc_arena_free(&a);
}

/* DSA space: every operator occurs, every child checks, bounds hold. */
static void test_evolve_chain_ops(void **state)
{
    static const char *const expect[] = {
        "swap pre", "insert pre", "delete pre", "swap transform",
        "swap post", "reduction reduce", "param lambda", "crossover pre",
        "crossover reduce", "crossover transform", "crossover post"};
    struct alc_space sp;
    struct alc_rng rng;
    struct op_stats st;
    struct alc_sb log;
    (void)state;
    memset(&st, 0, sizeof st);
    alc_sb_init(&log);
    load_space(&sp, "dsa");
    alc_rng_seed(&rng, 3);
    for (int t = 0; t < 2000; t++) {
        run_ops(&sp, &rng, &st, &log);
    }
    assert_int_equal(st.mut_none, 0);
    assert_int_equal(st.reject[ALC_REJ_NONE], st.mut_ok + st.cross_ok);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        if (!has_name(&st, expect[i])) {
            fail_msg("operator '%s' never occurred", expect[i]);
        }
    }
    alc_sb_free(&log);
    alc_space_free(&sp);
}

/* Free space: children keep their level; the checker accepts almost all
 * (depth-limit rejections are expected from wrap and subtree). */
static void test_evolve_free_ops(void **state)
{
    static const char *const expect[] = {"point", "subtree", "wrap",
                                         "unwrap", "param lambda",
                                         "crossover"};
    struct alc_space sp;
    struct alc_rng rng;
    struct op_stats st;
    struct alc_sb log;
    (void)state;
    memset(&st, 0, sizeof st);
    alc_sb_init(&log);
    load_space(&sp, "free");
    alc_rng_seed(&rng, 4);
    for (int t = 0; t < 2000; t++) {
        run_ops(&sp, &rng, &st, &log);
    }
    int total = st.mut_ok + st.cross_ok;
    assert_true(st.reject[ALC_REJ_NONE] + st.reject[ALC_REJ_DEPTH] == total);
    assert_true(st.reject[ALC_REJ_NONE] > total * 9 / 10);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        if (!has_name(&st, expect[i])) {
            fail_msg("operator '%s' never occurred", expect[i]);
        }
    }
    alc_sb_free(&log);
    alc_space_free(&sp);
}

/* The same seed gives the same children, byte for byte. */
static void test_evolve_deterministic(void **state)
{
    static const char *const spaces[] = {"dsa", "free"};
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct alc_space sp;
        struct alc_sb log[2];
        load_space(&sp, spaces[k]);
        for (int run = 0; run < 2; run++) {
            struct alc_rng rng;
            struct op_stats st;
            memset(&st, 0, sizeof st);
            alc_sb_init(&log[run]);
            alc_rng_seed(&rng, 99);
            for (int t = 0; t < 300; t++) {
                run_ops(&sp, &rng, &st, &log[run]);
            }
        }
        assert_true(log[0].len > 1000);
        assert_string_equal(log[0].s, log[1].s);
        alc_sb_free(&log[0]);
        alc_sb_free(&log[1]);
        alc_space_free(&sp);
    }
}

/* A foreign program (OWL in the DSA space) can only change its params;
 * crossover refuses it. */
static void test_evolve_foreign(void **state)
{
    struct alc_space sp;
    struct alc_arena a;
    struct alc_cand owl, c, x;
    struct alc_sb what;
    struct alc_rng rng;
    (void)state;
    load_space(&sp, "dsa");
    alc_arena_init(&a, 0);
    alc_sb_init(&what);
    alc_rng_seed(&rng, 1);
    char *src = read_text("stdlib/owl.alloc");
    assert_int_equal(read_member(&sp, &a, src, &owl), 0);
    assert_int_equal(alc_evolve_mutate(&sp, &a, &rng, &owl, &c, &what), 0);
    assert_true(strncmp(what.s, "param ", 6) == 0);
    assert_true(c.params[0] != owl.params[0] || c.params[1] != owl.params[1]);
    assert_true(c.params[0] >= 1.0 && c.params[0] <= 20.0);
    char *text = encode_text(&sp, &c);
    assert_non_null(strstr(text, "let lod = mean(wanda > M * mean(wanda))"));
    assert_int_equal(alc_space_random(&sp, &a, &rng, &x), 0);
    alc_sb_reset(&what);
    assert_int_equal(alc_evolve_crossover(&sp, &a, &rng, &x, &owl, &c, &what),
                     1);
    free(text);
    free(src);
    alc_sb_free(&what);
    alc_arena_free(&a);
    alc_space_free(&sp);
}

/* Perturbed values stay in range and have at most `digits` digits. */
static void test_evolve_perturb(void **state)
{
    struct alc_rng rng;
    (void)state;
    alc_rng_seed(&rng, 8);
    for (int t = 0; t < 10000; t++) {
        double v = alc_evolve_perturb(&rng, 0.08, 0.0, 0.25, 0.5, 3);
        char buf[64];
        assert_true(v >= 0.0 && v <= 0.25);
        snprintf(buf, sizeof buf, "%.3g", v);
        assert_true(strtod(buf, NULL) == v);
    }
}

/* ---- Space-file errors ---- */

static void expect_space_error(const char *text, const char *first)
{
    struct alc_space sp;
    struct alc_diag d;
    alc_diag_init(&d);
    assert_int_equal(alc_space_parse(&sp, "t.space", text, strlen(text), &d),
                     -1);
    assert_true(d.n_err >= 1);
    if (strcmp(d.first, first) != 0) {
        fail_msg("\n got: %s\nwant: %s\n%s", d.first, first,
                 alc_diag_text(&d));
    }
    alc_diag_free(&d);
}

#define TMPL "template\nparam lambda = 0.08 in [0, 0.25]\n" \
             "let r = dsa_score(_)\nscore = r\n"          \
             "sparsity = floor_nonpos(dsa_sparsity(r, lambda), 0.01)\n"

/* One file:line:col error for each kind of mistake. */
static void test_space_errors(void **state)
{
    (void)state;
    expect_space_error("space x\nmode chian\n",
                       "t.space:2:6: error: unknown mode 'chian' (chain or "
                       "free)");
    expect_space_error("space x\nfn f(x) = x\n",
                       "t.space:2:1: error: expected a directive (space, "
                       "mode, input, stage, helpers, finish, template, "
                       "level, depth, inputs, ops, literals, leaf, sigma, "
                       "digits); .alloc text belongs in a stage, helpers, "
                       "finish or template section");
    expect_space_error("space x\nstage pre 2 1\nfn a(x) = abs(x)\n" TMPL,
                       "t.space:2:13: error: 1 is outside [2, 8]");
    expect_space_error("space x\nstage pre 0 1\nfn a(x) = abs(x +)\n" TMPL,
                       "t.space:3:18: error: unexpected ')'; expected an "
                       "expression after '+'");
    expect_space_error("space x\nstage pre 0 1\nfn a(x, y) = x\n" TMPL,
                       "t.space:3:1: error: a stage holds only fns of one "
                       "parameter, `fn NAME(x) = EXPR`");
    expect_space_error("space x\nstage r 1 1\nfn m(x) = mean(x)\n"
                       "fn a(x) = abs(x)\n" TMPL,
                       "t.space:2:1: error: stage 'r' mixes reducing and "
                       "element-wise ops");
    expect_space_error("space x\nstage r 1 2\nfn m(x) = mean(x)\n" TMPL,
                       "t.space:2:1: error: stage 'r' reduces, so it holds "
                       "at most one op (stage NAME MIN 1)");
    expect_space_error("space x\nstage pre 0 1\nfn a(x) = abs(x)\n" TMPL,
                       "t.space:1:1: error: a chain can end element-level "
                       "here (no reducing op, or a NO_OP reduction): add a "
                       "`finish` section with the fn that reduces it, e.g. "
                       "mean(x)");
    expect_space_error("space x\nstage r 1 1\nfn m(x) = mean(x)\n"
                       "template\nsparsity = S\n",
                       "t.space:1:1: error: the template never uses `_`, the "
                       "searched expression");
    expect_space_error("space x\nstage r 1 1\nfn m(x) = mean(x)\n"
                       "template\nsparsity = dsa_sparsity(_, lamda)\n",
                       "t.space:5:28: error: unknown name 'lamda'; did you "
                       "mean 'wanda'?");
    expect_space_error("space x\nmode free\ninput wanda\n" TMPL,
                       "t.space:1:1: error: 'input' is for chain spaces, but "
                       "this one is mode free");
    expect_space_error("space x\nmode free\nops abs foo\n" TMPL,
                       "t.space:3:9: error: unknown op 'foo'");
    expect_space_error("space x\nstage r 1 1\nfn m(x) = mean(x)\n"
                       "fn m(x) = var(x)\n" TMPL,
                       "t.space:4:4: error: 'm' is declared twice in this "
                       "space");
    /* fuzz_space: a template fn named like an op made every candidate
     * that drew the op fail its check */
    expect_space_error("space x\nstage r 1 1\nfn m(x) = mean(x)\n"
                       "template\nfn m(x) = x\nsparsity = S + _\n",
                       "t.space:5:4: error: 'm' is declared twice in this "
                       "space");
    expect_space_error("space x\nstage r 1 1\nfn m(x) = mean(mean(x))\n"
                       TMPL,
                       "t.space:3:4: error: 'm' gives one value for the "
                       "model; a stage op keeps the input's level or reduces "
                       "an element-level input to one value per unit");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_space_dsa_builtin),
        cmocka_unit_test(test_space_decode_stdlib),
        cmocka_unit_test(test_space_import_equivalence),
        cmocka_unit_test(test_space_roundtrip),
        cmocka_unit_test(test_evolve_chain_ops),
        cmocka_unit_test(test_evolve_free_ops),
        cmocka_unit_test(test_evolve_deterministic),
        cmocka_unit_test(test_evolve_foreign),
        cmocka_unit_test(test_evolve_perturb),
        cmocka_unit_test(test_space_errors),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
