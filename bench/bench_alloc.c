/*
 * bench_alloc.c: throughput of allocation functions over a 256M-element
 * unit set, all measured in one run: the LLVM JIT and the reference
 * interpreter on stdlib/owl.alloc and stdlib/dsa.alloc, the same formulas
 * as eager PyTorch ops (bench/torch_alloc.py, Debian's python3-torch, on
 * the same bytes through a memory-mapped file), and the machine's read
 * bandwidth by a plain summing loop. Prints GB/s and the ratios
 * JIT/bandwidth, JIT/interpreter and JIT/PyTorch.
 *
 * Data: 32 units shaped like LLaMA-7B's decoder blocks scaled down (q, k,
 * v, o: 832 x 832; gate, up: 2240 x 832; down: 832 x 2240), 267.5M BF16
 * weights (random signs, log-uniform magnitudes, 0.1% exact zeros, a
 * per-unit share of 16x outliers) and one F32 act vector per matrix.
 *
 * What "GB/s" counts: the input bytes a function must read per pass over
 * the elements -- every weight (2 bytes) plus every matrix's act vector (4
 * bytes per column) once -- times its number of passes (OWL 2, DSA 1),
 * divided by wall time. The interpreter and PyTorch are credited with the
 * same bytes, so every ratio is a ratio of times.
 *
 * Timing: N rounds (default 7), each a summing pass over the weights,
 * then OWL, DSA and DSA's log variants by the JIT (the default: var of
 * log|wanda| summed in float; log|w| by table in registers, in double;
 * by gathers; the vector log: alc_jit_logw), so that all
 * see the same machine conditions. Reported per function: the best round
 * and the median, and the ratio to the bandwidth as best / best and as
 * the median of the per-round ratios (each round's kernel against the
 * same round's summing pass, which cancels most of the load of a shared
 * machine). The load is printed: /proc/loadavg before and after, and the
 * share of the timed section's wall time x threads that this process got
 * on a CPU (below ~90 % means other processes took cores).
 *
 * Usage: bench_alloc [--repeat N] [--interp-units K] [--threads T]
 *                    [--no-torch]
 * The interpreter runs on the first K units (default 4) and its time is
 * scaled by the element count, as printed.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "backend.h"
#include "front.h"
#include "jit.h"
#include "plan.h"

#define N_UNITS 32
#define N_MATS 7
#define D_MODEL 832
#define D_FF 2240
#define MAX_ROUNDS 64

/* ---- Data ---- */

struct data {
    uint16_t *w; /* all weights, BF16, matrix after matrix */
    float *act;  /* all act vectors */
    struct alc_mat_view mats[N_UNITS * N_MATS];
    struct alc_unit_view units[N_UNITS];
    size_t n_w, n_act;
};

static void mat_shape(int m, int64_t *rows, int64_t *cols)
{
    /* q k v o gate up down */
    static const int r[N_MATS] = {D_MODEL, D_MODEL, D_MODEL, D_MODEL,
                                  D_FF,    D_FF,    D_MODEL};
    static const int c[N_MATS] = {D_MODEL, D_MODEL, D_MODEL, D_MODEL,
                                  D_MODEL, D_MODEL, D_FF};
    *rows = r[m];
    *cols = c[m];
}

/* A BF16 weight: random sign and mantissa, magnitude 2^-9 .. 2^-5; one in
 * 1024 an exact zero; with probability (1 + u % 8) / 256 (unit u) an
 * outlier 16 times larger, so that units differ. */
static uint16_t rand_bf16(uint64_t bits, int u)
{
    if ((bits & 0x3ff) == 0) {
        return 0;
    }
    uint16_t sign = (uint16_t)((bits >> 10) & 1) << 15;
    uint16_t expo = (uint16_t)(118 + ((bits >> 11) & 3));
    uint16_t mant = (uint16_t)((bits >> 14) & 0x7f);
    if (((bits >> 24) & 0xff) < (uint64_t)(1 + u % 8)) {
        expo += 4;
    }
    return (uint16_t)(sign | (uint16_t)(expo << 7) | mant);
}

static int data_make(struct data *dt)
{
    struct alc_rng r;
    size_t nw = 0, na = 0;
    memset(dt, 0, sizeof *dt);
    for (int m = 0; m < N_MATS; m++) {
        int64_t rows, cols;
        mat_shape(m, &rows, &cols);
        nw += (size_t)(rows * cols);
        na += (size_t)cols;
    }
    dt->n_w = nw * N_UNITS;
    dt->n_act = na * N_UNITS;
    dt->w = malloc(dt->n_w * sizeof *dt->w);
    dt->act = malloc(dt->n_act * sizeof *dt->act);
    if (dt->w == NULL || dt->act == NULL) {
        return -1;
    }
    alc_rng_seed(&r, 2024);
    for (size_t i = 0; i < dt->n_w; i++) {
        dt->w[i] = rand_bf16(alc_rng_u64(&r), (int)(i / (dt->n_w / N_UNITS)));
    }
    for (size_t i = 0; i < dt->n_act; i++) {
        dt->act[i] = (float)(0.5 + 2.0 * alc_rng_double(&r));
    }
    size_t wo = 0, ao = 0;
    for (int u = 0; u < N_UNITS; u++) {
        for (int m = 0; m < N_MATS; m++) {
            struct alc_mat_view *mv = &dt->mats[u * N_MATS + m];
            mat_shape(m, &mv->rows, &mv->cols);
            mv->w = dt->w + wo;
            mv->dtype = ALC_DT_BF16;
            mv->act = dt->act + ao;
            mv->alpha_peak = mv->alpha_hill = NAN;
            wo += (size_t)(mv->rows * mv->cols);
            ao += (size_t)mv->cols;
        }
        dt->units[u] =
            (struct alc_unit_view){&dt->mats[u * N_MATS], N_MATS, u, NULL};
    }
    return 0;
}

/* Bytes one pass over the first n units reads (see the header). */
static double pass_bytes(const struct data *dt, int n)
{
    double b = 0;
    for (int i = 0; i < n * N_MATS; i++) {
        b += 2.0 * (double)(dt->mats[i].rows * dt->mats[i].cols) +
             4.0 * (double)dt->mats[i].cols;
    }
    return b;
}

/* ---- Read bandwidth: a plain summing loop ---- */

struct sum_ctx {
    const uint64_t *p;
    size_t n_words, block;
    uint64_t *out; /* per task */
};

static void sum_task(void *ctx, int64_t t, int worker)
{
    struct sum_ctx *s = ctx;
    size_t lo = (size_t)t * s->block;
    size_t hi = lo + s->block < s->n_words ? lo + s->block : s->n_words;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = lo;
    (void)worker;
    for (; i + 4 <= hi; i += 4) {
        a0 += s->p[i];
        a1 += s->p[i + 1];
        a2 += s->p[i + 2];
        a3 += s->p[i + 3];
    }
    for (; i < hi; i++) {
        a0 += s->p[i];
    }
    s->out[t] = a0 + a1 + a2 + a3;
}

/* Seconds of one summing pass over the weights (checksum into *check). */
static double sum_once(struct alc_pool *pool, struct sum_ctx *s,
                       uint64_t *check)
{
    int64_t tasks = (int64_t)((s->n_words + s->block - 1) / s->block);
    double t0 = alc_now();
    alc_pool_run(pool, tasks, sum_task, s);
    double t = alc_now() - t0;
    for (int64_t k = 0; k < tasks; k++) {
        *check += s->out[k];
    }
    return t;
}

/* ---- Rounds ---- */

/* Seconds of one timed thing per round. */
struct series {
    double t[MAX_ROUNDS];
    int n;
};

static void series_add(struct series *s, double t)
{
    if (s->n < MAX_ROUNDS) {
        s->t[s->n++] = t;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double series_best(const struct series *s)
{
    double b = s->t[0];
    for (int i = 1; i < s->n; i++) {
        b = s->t[i] < b ? s->t[i] : b;
    }
    return b;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double series_median(const struct series *s)
{
    double v[MAX_ROUNDS];
    memcpy(v, s->t, (size_t)s->n * sizeof *v);
    return median(v, s->n);
}

/* Median over rounds of bw.t[i] / bytes_bw * bytes / k.t[i], i.e. of
 * each round's kernel rate over the same round's bandwidth. */
static double median_ratio(const struct series *k, const struct series *bw,
                           double bytes, double bytes_bw)
{
    double v[MAX_ROUNDS];
    for (int i = 0; i < k->n; i++) {
        v[i] = (bytes / k->t[i]) / (bytes_bw / bw->t[i]);
    }
    return median(v, k->n);
}

/* ---- Compiled allocations ---- */

enum { V_FM, V_REG, V_GATHER, V_VLOG, V_COUNT }; /* DSA's log|w| variants */

static const char *const variant_name[V_COUNT] = {[V_FM] = "float sums",
                                                  [V_REG] = "registers",
                                                  [V_GATHER] = "gathers",
                                                  [V_VLOG] = "vector log"};
static const int variant_logw[V_COUNT] = {[V_FM] = ALC_JIT_LOGW_AUTO,
                                          [V_REG] = ALC_JIT_LOGW_EXACT,
                                          [V_GATHER] = ALC_JIT_LOGW_GATHER,
                                          [V_VLOG] = ALC_JIT_LOGW_OFF};

struct fn_result {
    struct series jit;          /* through alc_compile / alc_evaluate */
    struct series var[V_COUNT]; /* DSA only: alc_jit with each logw */
    double interp_s, compile_s, torch_s[2];
    int passes;
    double sparsity0;
};

struct timed {
    struct series bw; /* the summing pass */
    double load0[3], load1[3];
    double cpu_share;
};

static void die(const char *what, struct alc_diag *d)
{
    fprintf(stderr, "bench_alloc: %s: %s", what, alc_diag_text(d));
    exit(1);
}

/* One evaluation over the first n units; seconds. */
static double time_eval(struct alc_compiled *c, struct data *dt, int n,
                        int threads, double *sp0)
{
    struct alc_units us = {dt->units, n};
    struct alc_eval_opts o = {.S = 0.7, .params = NULL, .n_threads = threads};
    double sp[N_UNITS];
    struct alc_eval_out out = {.sparsity = sp};
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_evaluate(c, &us, &o, &out, &d) != 0) {
        die("evaluate", &d);
    }
    *sp0 = sp[0];
    alc_diag_free(&d);
    return out.seconds;
}

static double time_jit(struct alc_jit *j, struct data *dt, int threads)
{
    struct alc_units us = {dt->units, N_UNITS};
    struct alc_eval_opts o = {.S = 0.7, .params = NULL, .n_threads = threads};
    double sp[N_UNITS];
    struct alc_eval_out out = {.sparsity = sp};
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_jit_evaluate(j, &us, &o, NULL, &out, &d) != 0) {
        die("evaluate", &d);
    }
    alc_diag_free(&d);
    return out.seconds;
}

static struct alc_compiled *compile_or_die(const struct alc_ir *ir,
                                           enum alc_backend be)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_compiled *c = alc_compile(ir, be, &d);
    if (c == NULL) {
        die("compile", &d);
    }
    alc_diag_free(&d);
    return c;
}

/* Passes over the elements, from the plan every backend follows. */
static int count_passes(const struct alc_ir *ir)
{
    struct alc_ir c;
    struct alc_plan p;
    struct alc_diag d;
    int n = -1;
    alc_diag_init(&d);
    if (alc_ir_compact(ir, &c) == 0 && alc_plan_build(&p, &c, &d) == 0) {
        n = p.n_passes;
        alc_plan_free(&p);
    }
    alc_ir_free(&c);
    alc_diag_free(&d);
    return n;
}

static void load_fn(const char *file, struct alc_ir *ir)
{
    struct alc_diag d;
    char path[1024];
    snprintf(path, sizeof path, "%s/stdlib/%s", ALC_SOURCE_DIR, file);
    alc_ir_init(ir);
    alc_diag_init(&d);
    if (alc_front_compile_file(path, ir, &d) != 0) {
        die(file, &d);
    }
    alc_diag_free(&d);
}

/* The interpreter on the first k units, scaled to all by bytes. */
static double time_interp(const struct alc_ir *ir, struct data *dt, int k)
{
    double sp;
    struct alc_compiled *in = compile_or_die(ir, ALC_BE_INTERP);
    double t = time_eval(in, dt, k, 1, &sp);
    alc_compiled_free(in);
    return t * pass_bytes(dt, N_UNITS) / pass_bytes(dt, k);
}

static void read_load(double *l)
{
    FILE *f = fopen("/proc/loadavg", "r");
    l[0] = l[1] = l[2] = NAN;
    if (f != NULL) {
        if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3) {
            l[0] = NAN;
        }
        fclose(f);
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static struct alc_jit *jit_or_die(const struct alc_ir *ir, int logw)
{
    struct alc_diag d;
    struct alc_jit_opts o = {.logw = logw};
    alc_diag_init(&d);
    struct alc_jit *j = alc_jit_compile(ir, &o, &d);
    if (j == NULL) {
        die("compile", &d);
    }
    alc_diag_free(&d);
    return j;
}

/* The timed part: `repeat` rounds of the summing pass, OWL, DSA and DSA's
 * variants (header). */
static void run_rounds(struct data *dt, const struct alc_ir *ir, int threads,
                       int repeat, struct fn_result *res, struct timed *tm)
{
    struct sum_ctx s = {(const uint64_t *)dt->w, dt->n_w / 4, 1 << 17, NULL};
    struct alc_pool *pool = alc_pool_new(threads);
    struct alc_compiled *j[2];
    struct alc_jit *var[V_COUNT];
    double sp;
    uint64_t check = 0;
    s.out = calloc(s.n_words / s.block + 1, sizeof *s.out);
    for (int f = 0; f < 2; f++) {
        res[f].passes = count_passes(&ir[f]);
        j[f] = compile_or_die(&ir[f], ALC_BE_LLVM);
        res[f].compile_s = alc_compiled_compile_seconds(j[f]);
        time_eval(j[f], dt, N_UNITS, threads, &sp); /* warm-up */
    }
    for (int v = 0; v < V_COUNT; v++) {
        var[v] = jit_or_die(&ir[1], variant_logw[v]);
        time_jit(var[v], dt, threads);
    }
    sum_once(pool, &s, &check);
    read_load(tm->load0);
    double w0 = alc_now(), c0 = cpu_seconds();
    for (int r = 0; r < repeat && r < MAX_ROUNDS; r++) {
        series_add(&tm->bw, sum_once(pool, &s, &check));
        for (int f = 0; f < 2; f++) {
            series_add(&res[f].jit, time_eval(j[f], dt, N_UNITS, threads,
                                              &res[f].sparsity0));
        }
        for (int v = 0; v < V_COUNT; v++) {
            series_add(&res[1].var[v], time_jit(var[v], dt, threads));
        }
    }
    tm->cpu_share = (cpu_seconds() - c0) / ((alc_now() - w0) * threads);
    read_load(tm->load1);
    printf("  (checksum %llx)\n", (unsigned long long)check);
    for (int f = 0; f < 2; f++) {
        alc_compiled_free(j[f]);
    }
    for (int v = 0; v < V_COUNT; v++) {
        alc_jit_free(var[v]);
    }
    free(s.out);
    alc_pool_free(pool);
}

/* ---- PyTorch ---- */

/* Writes the data and its layout for torch_alloc.py under dir. */
static int write_torch_data(const struct data *dt, const char *dir)
{
    char path[1024];
    struct alc_diag d;
    struct alc_sb meta;
    int rc = -1;
    alc_diag_init(&d);
    alc_sb_init(&meta);
    size_t wbytes = dt->n_w * 2, abytes = dt->n_act * 4;
    char *buf = malloc(wbytes + abytes);
    if (buf == NULL) {
        goto done;
    }
    memcpy(buf, dt->w, wbytes);
    memcpy(buf + wbytes, dt->act, abytes);
    for (int i = 0; i < N_UNITS * N_MATS; i++) {
        const struct alc_mat_view *m = &dt->mats[i];
        alc_sb_printf(
            &meta, "%d %lld %lld %zu %zu\n", i / N_MATS, (long long)m->rows,
            (long long)m->cols,
            (size_t)((const char *)m->w - (const char *)dt->w),
            wbytes + (size_t)((const char *)m->act - (const char *)dt->act));
    }
    snprintf(path, sizeof path, "%s/data.bin", dir);
    if (alc_write_file_atomic(path, buf, wbytes + abytes, &d) != 0) {
        goto done;
    }
    snprintf(path, sizeof path, "%s/meta.txt", dir);
    rc = alc_write_file_atomic(path, meta.s, meta.len, &d);
done:
    if (rc != 0) {
        fprintf(stderr, "bench_alloc: %s", alc_diag_text(&d));
    }
    free(buf);
    alc_sb_free(&meta);
    alc_diag_free(&d);
    return rc;
}

/* Runs torch_alloc.py; fills best seconds [fn][dtype], or returns -1. */
static int run_torch(const struct data *dt, int threads, int repeat,
                     struct fn_result *owl, struct fn_result *dsa)
{
    char dir[] = "/tmp/bench_alloc.XXXXXX", cmd[2048], line[256];
    int rc = -1;
    if (system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
        return -1;
    }
    if (mkdtemp(dir) == NULL || write_torch_data(dt, dir) != 0) {
        return -1;
    }
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/bench/torch_alloc.py %s/data.bin "
             "%s/meta.txt %d %d",
             ALC_SOURCE_DIR, dir, dir, threads, repeat);
    FILE *p = popen(cmd, "r");
    for (int f = 0; f < 2; f++) {
        owl->torch_s[f] = dsa->torch_s[f] = 1e30;
    }
    while (p != NULL && fgets(line, sizeof line, p) != NULL) {
        char fn[16], dtn[16];
        double s;
        if (sscanf(line, "seconds %15s %15s %lf", fn, dtn, &s) != 3) {
            continue;
        }
        struct fn_result *r = strcmp(fn, "owl") == 0 ? owl : dsa;
        int k = strcmp(dtn, "f32") == 0 ? 0 : 1;
        r->torch_s[k] = s < r->torch_s[k] ? s : r->torch_s[k];
        rc = 0;
    }
    if (p != NULL && pclose(p) != 0) {
        rc = -1;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_alloc: could not remove %s\n", dir);
    }
    return rc;
}

/* ---- Report ---- */

static double gbs(double bytes, double t)
{
    return bytes / t / 1e9;
}

static void report(const char *name, const struct fn_result *r,
                   const struct data *dt, int interp_units,
                   const struct timed *tm, int have_torch)
{
    double bytes = pass_bytes(dt, N_UNITS) * r->passes;
    double bw_bytes = (double)dt->n_w * 2.0;
    double jbest = series_best(&r->jit), jmed = series_median(&r->jit);
    double bwbest = gbs(bw_bytes, series_best(&tm->bw));
    printf("%s (%d pass%s, %.0f MB read, unit 0's sparsity %.6f):\n", name,
           r->passes, r->passes == 1 ? "" : "es", bytes / 1e6, r->sparsity0);
    printf("  JIT          %8.2f GB/s best, %.2f median  (%.3f s; compiled "
           "in %.1f ms)\n",
           gbs(bytes, jbest), gbs(bytes, jmed), jbest, 1e3 * r->compile_s);
    printf("  interpreter  %8.3f GB/s  (%.1f s, scaled from %d of %d "
           "units)\n",
           gbs(bytes, r->interp_s), r->interp_s, interp_units, N_UNITS);
    if (have_torch) {
        for (int k = 0; k < 2; k++) {
            printf("  PyTorch %s  %8.3f GB/s  (%.3f s, eager, float%s)\n",
                   k ? "f64" : "f32", gbs(bytes, r->torch_s[k]), r->torch_s[k],
                   k ? "64" : "32");
        }
    }
    printf("  JIT / bandwidth   %6.1f %% best/best, %.1f %% median of "
           "rounds   (target >= 70 %%)\n",
           100.0 * gbs(bytes, jbest) / bwbest,
           100.0 * median_ratio(&r->jit, &tm->bw, bytes, bw_bytes));
    printf("  JIT / interpreter %6.1f x   (target >= 20 x)\n",
           r->interp_s / jbest);
    if (have_torch) {
        printf("  JIT / PyTorch     %6.1f x (float32), %.1f x (float64)   "
               "(target >= 5 x)\n",
               r->torch_s[0] / jbest, r->torch_s[1] / jbest);
    }
}

/* DSA's log|w| variants, same rounds. */
static void report_variants(const struct fn_result *r, const struct data *dt,
                            const struct timed *tm)
{
    double bytes = pass_bytes(dt, N_UNITS) * r->passes;
    double bw_bytes = (double)dt->n_w * 2.0;
    printf("  log|w| variants (alc_jit_logw), GB/s best / median, median "
           "share of bandwidth:\n");
    for (int v = 0; v < V_COUNT; v++) {
        const struct series *s = &r->var[v];
        printf("    %-11s %6.2f / %6.2f  %5.1f %%\n", variant_name[v],
               gbs(bytes, series_best(s)), gbs(bytes, series_median(s)),
               100.0 * median_ratio(s, &tm->bw, bytes, bw_bytes));
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"repeat", required_argument, NULL, 'r'},
        {"interp-units", required_argument, NULL, 'i'},
        {"threads", required_argument, NULL, 't'},
        {"no-torch", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    int repeat = 7, interp_units = 4, threads = alc_default_threads();
    int want_torch = 1, c;
    while ((c = getopt_long(argc, argv, "r:i:t:n", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            repeat = atoi(optarg) > 0 ? atoi(optarg) : 1;
            break;
        case 'i':
            interp_units = atoi(optarg);
            break;
        case 't':
            threads = atoi(optarg) > 0 ? atoi(optarg) : 1;
            break;
        case 'n':
            want_torch = 0;
            break;
        default:
            fprintf(stderr, "usage: bench_alloc [--repeat N] "
                            "[--interp-units K] [--threads T] "
                            "[--no-torch]\n");
            return 2;
        }
    }
    if (interp_units < 1 || interp_units > N_UNITS) {
        interp_units = 4;
    }
    repeat = repeat > MAX_ROUNDS ? MAX_ROUNDS : repeat;
    struct data dt;
    if (data_make(&dt) != 0) {
        fprintf(stderr, "bench_alloc: out of memory\n");
        return 1;
    }
    printf("bench_alloc: %d units, %zu BF16 weights (%.0f MB) + F32 act, "
           "%d threads, %d interleaved rounds\n",
           N_UNITS, dt.n_w, dt.n_w * 2 / 1e6, threads, repeat);
    printf("BF16 log|w|: %s\n",
           alc_jit_logw_in_registers()
               ? "in registers (AVX-512 VBMI), gathers for blocks with "
                 "subnormal/inf/NaN weights"
               : "gathers (no AVX-512 VBMI on this host)");
    struct alc_ir ir[2];
    struct fn_result res[2];
    struct timed tm;
    memset(res, 0, sizeof res);
    memset(&tm, 0, sizeof tm);
    load_fn("owl.alloc", &ir[0]);
    load_fn("dsa.alloc", &ir[1]);
    run_rounds(&dt, ir, threads, repeat, res, &tm);
    double bw_bytes = (double)dt.n_w * 2.0;
    printf("read bandwidth (plain summing loop): %.2f GB/s best, %.2f "
           "median\n",
           gbs(bw_bytes, series_best(&tm.bw)),
           gbs(bw_bytes, series_median(&tm.bw)));
    printf("load: /proc/loadavg %.2f %.2f %.2f before, %.2f %.2f %.2f after; "
           "this process had %.0f %% of %d CPUs while timed\n",
           tm.load0[0], tm.load0[1], tm.load0[2], tm.load1[0], tm.load1[1],
           tm.load1[2], 100.0 * tm.cpu_share, threads);
    for (int f = 0; f < 2; f++) {
        res[f].interp_s = time_interp(&ir[f], &dt, interp_units);
        alc_ir_free(&ir[f]);
    }
    struct fn_result *owl = &res[0], *dsa = &res[1];
    /* PyTorch: best of 3 at most (eager float64 takes seconds a run) */
    int have_torch =
        want_torch &&
        run_torch(&dt, threads, repeat < 3 ? repeat : 3, owl, dsa) == 0;
    if (!have_torch) {
        printf("PyTorch: skipped (%s)\n",
               want_torch ? "/usr/bin/python3 cannot import torch"
                          : "--no-torch");
    }
    report("OWL  stdlib/owl.alloc", owl, &dt, interp_units, &tm, have_torch);
    report("DSA  stdlib/dsa.alloc", dsa, &dt, interp_units, &tm, have_torch);
    report_variants(dsa, &dt, &tm);
    free(dt.w);
    free(dt.act);
    return 0;
}
