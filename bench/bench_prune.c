/*
 * bench_prune.c: kernel-level pruning benchmark. One LLaMA-like decoder
 * block at hidden 1024 (q, k, v, o: 1024 x 1024; gate, up: 2816 x 1024;
 * down: 1024 x 2816) with random calibration inputs of 32 sequences x 256
 * tokens, fed one sequence at a time like the reference pipeline. Times, in
 * one run and on the same data and thread count, dsac's kernels and the
 * PyTorch reference (tools/ref_prune.py via bench/bench_prune_torch.py):
 * statistics, Wanda and SparseGPT (50% and 2:4), the ESD estimators, and
 * reports peak RSS against the size of the matrices.
 *
 *   bench_prune [REPS]     (default 5; ALC_THREADS sets the thread count;
 *                           ALC_NO_TORCH=1 skips the PyTorch side)
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alc_common.h"
#include "prune.h"

enum { SEQLEN = 256, NSEQ = 32, NMATS = 7, NX = 4 };

struct bmat {
    const char *name;
    int64_t rows, cols;
    int x;    /* which input feeds it */
    float *W; /* (rows, cols) original */
    float *w; /* (rows, cols) work copy */
    struct alc_prune_stats st;
};

static struct bmat mats[NMATS] = {
    {"q_proj", 1024, 1024, 0, NULL, NULL, {0}},
    {"k_proj", 1024, 1024, 0, NULL, NULL, {0}},
    {"v_proj", 1024, 1024, 0, NULL, NULL, {0}},
    {"o_proj", 1024, 1024, 1, NULL, NULL, {0}},
    {"gate_proj", 2816, 1024, 2, NULL, NULL, {0}},
    {"up_proj", 2816, 1024, 2, NULL, NULL, {0}},
    {"down_proj", 1024, 2816, 3, NULL, NULL, {0}},
};
static const int64_t x_cols[NX] = {1024, 1024, 1024, 2816};
static float *X[NX]; /* (NSEQ * SEQLEN, x_cols) */

/* ---- Memory ---- */

/* A /proc/self/status field in MB: "VmHWM:" (peak resident set since the
 * last reset) or "VmRSS:" (current). */
static double status_mb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0.0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, strlen(field)) == 0) {
            kb = atof(line + strlen(field));
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb / 1024.0;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0; ignored elsewhere). */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

/* One phase's memory: resident before it and its peak. */
struct mem {
    double before, peak;
};

static void mem_begin(struct mem *m)
{
    reset_peak();
    m->before = status_mb("VmRSS:");
}

static void mem_end(struct mem *m)
{
    m->peak = status_mb("VmHWM:");
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "bench_prune: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- Data ---- */

static void make_data(void)
{
    struct alc_rng rng;
    alc_rng_seed(&rng, 2024);
    for (int i = 0; i < NMATS; i++) {
        size_t n = (size_t)(mats[i].rows * mats[i].cols);
        mats[i].W = xmalloc(n * sizeof(float));
        mats[i].w = xmalloc(n * sizeof(float));
        for (size_t k = 0; k < n; k++) {
            mats[i].W[k] = (float)(0.02 * alc_rng_normal(&rng));
        }
        memcpy(mats[i].w, mats[i].W, n * sizeof(float)); /* resident now */
    }
    for (int x = 0; x < NX; x++) {
        int64_t c = x_cols[x], T = (int64_t)NSEQ * SEQLEN;
        float *scale = xmalloc((size_t)c * sizeof *scale);
        for (int64_t j = 0; j < c; j++) {
            scale[j] = (float)exp(alc_rng_normal(&rng));
        }
        X[x] = xmalloc((size_t)(T * c) * sizeof(float));
        for (int64_t k = 0; k < T * c; k++) {
            X[x][k] = scale[k % c] * (float)alc_rng_normal(&rng);
        }
        free(scale);
    }
}

static void check(int rc, struct alc_diag *d)
{
    if (rc != 0) {
        fprintf(stderr, "bench_prune: %s", alc_diag_text(d));
        exit(1);
    }
}

/* ---- C phases ---- */

static double run_stats(unsigned which, struct alc_pool *pool)
{
    struct alc_diag d;
    alc_diag_init(&d);
    double t0 = alc_now();
    for (int i = 0; i < NMATS; i++) {
        struct bmat *m = &mats[i];
        alc_prune_stats_free(&m->st);
        check(alc_prune_stats_init(&m->st, m->cols, which, &d), &d);
        for (int q = 0; q < NSEQ; q++) {
            const float *xb = X[m->x] + (int64_t)q * SEQLEN * m->cols;
            check(alc_prune_stats_add_batch(&m->st, xb, SEQLEN, 1, pool, &d),
                  &d);
        }
    }
    double t = alc_now() - t0;
    alc_diag_free(&d);
    return t;
}

/* Median over reps of pruning all matrices (fresh copies each time). */
static double run_prune(enum alc_prune_method meth, int n, int m, int reps,
                        struct alc_pool *pool)
{
    double times[16];
    struct alc_diag d;
    alc_diag_init(&d);
    reps = reps > 16 ? 16 : reps;
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < NMATS; i++) {
            memcpy(mats[i].w, mats[i].W,
                   (size_t)(mats[i].rows * mats[i].cols) * sizeof(float));
        }
        double t0 = alc_now();
        for (int i = 0; i < NMATS; i++) {
            struct alc_prune_opts o;
            struct alc_prune_result res = {0};
            alc_prune_opts_default(&o, meth, 0.5);
            o.n = n;
            o.m = m;
            o.pool = pool;
            check(alc_prune(mats[i].w, mats[i].rows, mats[i].cols, &mats[i].st,
                            &o, &res, &d),
                  &d);
        }
        times[r] = alc_now() - t0;
    }
    for (int i = 1; i < reps; i++) { /* median */
        double v = times[i];
        int j = i - 1;
        while (j >= 0 && times[j] > v) {
            times[j + 1] = times[j];
            j--;
        }
        times[j + 1] = v;
    }
    alc_diag_free(&d);
    return times[reps / 2];
}

static double run_esd(struct alc_pool *pool)
{
    struct alc_diag d;
    alc_diag_init(&d);
    double t0 = alc_now();
    for (int i = 0; i < NMATS; i++) {
        struct alc_esd_result r;
        check(alc_esd_matrix(mats[i].W, ALC_DT_F32, mats[i].rows, mats[i].cols,
                             pool, &r, &d),
              &d);
    }
    double t = alc_now() - t0;
    alc_diag_free(&d);
    return t;
}

/* ---- The PyTorch side ---- */

static int have_torch(void)
{
    const char *off = getenv("ALC_NO_TORCH");
    if (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0) {
        return 0;
    }
    return system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

static void write_file(const char *dir, const char *name, const void *p,
                       size_t n)
{
    struct alc_diag d;
    char *path = alc_path_join(dir, name);
    alc_diag_init(&d);
    check(alc_write_file_atomic(path, p, n, &d), &d);
    alc_diag_free(&d);
    free(path);
}

/* Writes the data and bench.json into dir. */
static void export_data(const char *dir)
{
    char name[64];
    cJSON *spec = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddNumberToObject(spec, "seqlen", SEQLEN);
    cJSON_AddNumberToObject(spec, "nseq", NSEQ);
    for (int x = 0; x < NX; x++) {
        snprintf(name, sizeof name, "X%d.f32", x);
        write_file(dir, name, X[x],
                   (size_t)NSEQ * SEQLEN * (size_t)x_cols[x] * 4);
    }
    for (int i = 0; i < NMATS; i++) {
        cJSON *m = cJSON_CreateObject();
        snprintf(name, sizeof name, "W%d.f32", i);
        write_file(dir, name, mats[i].W,
                   (size_t)(mats[i].rows * mats[i].cols) * 4);
        cJSON_AddStringToObject(m, "w", name);
        snprintf(name, sizeof name, "X%d.f32", mats[i].x);
        cJSON_AddStringToObject(m, "x", name);
        cJSON_AddNumberToObject(m, "rows", (double)mats[i].rows);
        cJSON_AddNumberToObject(m, "cols", (double)mats[i].cols);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddItemToObject(spec, "mats", arr);
    char *text = cJSON_Print(spec);
    write_file(dir, "bench.json", text, strlen(text));
    free(text);
    cJSON_Delete(spec);
}

/* Runs the torch script; returns its parsed JSON, or NULL. */
static cJSON *run_torch(int threads, int reps)
{
    char dir[] = "/tmp/bench_prune.XXXXXX", cmd[1024];
    struct alc_sb out;
    cJSON *res = NULL;
    if (mkdtemp(dir) == NULL) {
        return NULL;
    }
    export_data(dir);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/bench/bench_prune_torch.py' '%s' %d %d",
             ALC_SOURCE_DIR, dir, threads, reps);
    FILE *p = popen(cmd, "r");
    alc_sb_init(&out);
    char buf[4096];
    size_t n;
    while (p != NULL && (n = fread(buf, 1, sizeof buf, p)) > 0) {
        alc_sb_append(&out, buf, n);
    }
    if (p != NULL && pclose(p) == 0) {
        res = cJSON_Parse(alc_sb_str(&out));
    }
    alc_sb_free(&out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_prune: could not remove %s\n", dir);
    }
    return res;
}

/* ---- Report ---- */

static void row(const char *what, double c, const cJSON *t, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, key);
    if (cJSON_IsNumber(v)) {
        printf("  %-24s %10.4f %10.4f %9.1fx\n", what, c, v->valuedouble,
               v->valuedouble / c);
    } else {
        printf("  %-24s %10.4f %10s %10s\n", what, c, "-", "-");
    }
}

/* Sizes in MB of the bench's own data. */
struct sizes {
    double w, x, h;
};

static void report_memory(const struct sizes *sz, const struct mem *mw,
                          const struct mem *ms, const struct mem *me,
                          const cJSON *t)
{
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(t, "peak_rss_mb");
    double peak = fmax(mw->peak, fmax(ms->peak, me->peak));
    printf("  memory: matrices %.1f MB (+ a work copy), inputs %.1f MB, "
           "Hessians %.1f MB\n",
           sz->w, sz->x, sz->h);
    printf("  dsac peak RSS %.1f MB = %.2fx the matrices; above what was "
           "resident before: Wanda phase +%.1f MB, SparseGPT phase +%.1f MB "
           "(Hessians + one working copy), ESD +%.1f MB\n",
           peak, peak / sz->w, mw->peak - mw->before, ms->peak - ms->before,
           me->peak - me->before);
    if (cJSON_IsNumber(tr)) {
        printf("  torch peak RSS %.1f MB = %.2fx the matrices\n",
               tr->valuedouble, tr->valuedouble / sz->w);
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int threads = alc_default_threads();
    struct alc_pool *pool = alc_pool_new(threads);
    struct sizes sz = {0.0, 0.0, 0.0};
    struct mem mw, ms, me;
    reps = reps < 1 ? 1 : reps;
    make_data();
    for (int i = 0; i < NMATS; i++) {
        sz.w += (double)(mats[i].rows * mats[i].cols) * 4 / 1e6;
        sz.h += (double)(mats[i].cols * mats[i].cols) * 4 / 1e6;
    }
    for (int x = 0; x < NX; x++) {
        sz.x += (double)NSEQ * SEQLEN * (double)x_cols[x] * 4 / 1e6;
    }
    mem_begin(&mw);
    double t_sc = run_stats(ALC_STAT_SCALER, pool);
    double t_wu = run_prune(ALC_PRUNE_WANDA, 0, 0, reps, pool);
    double t_w24 = run_prune(ALC_PRUNE_WANDA, 2, 4, reps, pool);
    mem_end(&mw);
    mem_begin(&ms);
    double t_h = run_stats(ALC_STAT_HESSIAN, pool);
    double t_su = run_prune(ALC_PRUNE_SPARSEGPT, 0, 0, (reps + 1) / 2, pool);
    double t_s24 = run_prune(ALC_PRUNE_SPARSEGPT, 2, 4, 1, pool);
    mem_end(&ms);
    mem_begin(&me);
    double t_esd = run_esd(pool);
    mem_end(&me);
    int torch = have_torch();
    cJSON *t = torch ? run_torch(threads, reps) : NULL;
    printf("bench_prune: LLaMA-like block, hidden 1024 (7 matrices, %.1f MB "
           "f32), calibration %d x %d tokens, %d thread(s), median of %d\n",
           sz.w, NSEQ, SEQLEN, threads, reps);
    printf("  %-24s %10s %10s %10s\n", "phase (all 7 matrices)", "dsac s",
           "torch s", "torch/dsac");
    row("stats scaler_row", t_sc, t, "stats_scaler");
    row("stats Hessian", t_h, t, "stats_hessian");
    row("prune wanda 50%", t_wu, t, "wanda_50");
    row("prune wanda 2:4", t_w24, t, "wanda_24");
    row("prune sparsegpt 50%", t_su, t, "sparsegpt_50");
    row("prune sparsegpt 2:4", t_s24, t, "sparsegpt_24");
    row("esd alpha_peak+hill", t_esd, t, "esd");
    report_memory(&sz, &mw, &ms, &me, t);
    if (t == NULL) {
        printf("  torch side %s\n", torch ? "failed" : "skipped (no torch)");
    }
    cJSON_Delete(t);
    for (int i = 0; i < NMATS; i++) {
        alc_prune_stats_free(&mats[i].st);
        free(mats[i].W);
        free(mats[i].w);
    }
    for (int x = 0; x < NX; x++) {
        free(X[x]);
    }
    alc_pool_free(pool);
    return 0;
}
