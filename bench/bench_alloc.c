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
 * Usage: bench_alloc [--repeat N] [--interp-units K] [--threads T]
 *                    [--no-torch]
 * The interpreter runs on the first K units (default 4) and its time is
 * scaled by the element count, as printed.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"
#include "backend.h"
#include "front.h"
#include "plan.h"

#define N_UNITS 32
#define N_MATS 7
#define D_MODEL 832
#define D_FF 2240

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

/* ---- Compiled allocations ---- */

struct fn_result {
    double jit_s, interp_s, compile_s, torch_s[2];
    int passes;
    double sparsity0;
};

/* Best time of `repeat` evaluations over the first n units. */
static double time_eval(struct alc_compiled *c, struct data *dt, int n,
                        int threads, int repeat, double *sp0)
{
    struct alc_units us = {dt->units, n};
    struct alc_eval_opts o = {.S = 0.7, .params = NULL, .n_threads = threads};
    double sp[N_UNITS], best = 1e30;
    struct alc_eval_out out = {.sparsity = sp};
    struct alc_diag d;
    alc_diag_init(&d);
    for (int r = 0; r < repeat; r++) {
        if (alc_evaluate(c, &us, &o, &out, &d) != 0) {
            fprintf(stderr, "bench_alloc: %s", alc_diag_text(&d));
            exit(1);
        }
        best = out.seconds < best ? out.seconds : best;
    }
    *sp0 = sp[0];
    alc_diag_free(&d);
    return best;
}

static struct alc_compiled *compile_or_die(const struct alc_ir *ir,
                                           enum alc_backend be)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_compiled *c = alc_compile(ir, be, &d);
    if (c == NULL) {
        fprintf(stderr, "bench_alloc: %s", alc_diag_text(&d));
        exit(1);
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
        fprintf(stderr, "bench_alloc: %s", alc_diag_text(&d));
        exit(1);
    }
    alc_diag_free(&d);
}

/* The interpreter on the first k units, scaled to all by bytes. */
static double time_interp(const struct alc_ir *ir, struct data *dt, int k)
{
    double sp;
    struct alc_compiled *in = compile_or_die(ir, ALC_BE_INTERP);
    double t = time_eval(in, dt, k, 1, 1, &sp);
    alc_compiled_free(in);
    return t * pass_bytes(dt, N_UNITS) / pass_bytes(dt, k);
}

/*
 * The timed part: `repeat` rounds, each a summing pass over the weights,
 * then OWL, then DSA by the JIT, so that all three see the same machine
 * conditions; the best of each is kept.
 */
static double run_jit(struct data *dt, const struct alc_ir *ir, int threads,
                      int repeat, struct fn_result *res)
{
    struct sum_ctx s = {(const uint64_t *)dt->w, dt->n_w / 4, 1 << 17, NULL};
    struct alc_pool *pool = alc_pool_new(threads);
    struct alc_compiled *j[2];
    double bw_best = 1e30, sp;
    uint64_t check = 0;
    s.out = calloc(s.n_words / s.block + 1, sizeof *s.out);
    for (int f = 0; f < 2; f++) {
        res[f].passes = count_passes(&ir[f]);
        j[f] = compile_or_die(&ir[f], ALC_BE_LLVM);
        res[f].compile_s = alc_compiled_compile_seconds(j[f]);
        res[f].jit_s = 1e30;
        time_eval(j[f], dt, N_UNITS, threads, 1, &sp); /* warm-up */
    }
    sum_once(pool, &s, &check);
    for (int r = 0; r < repeat; r++) {
        double t = sum_once(pool, &s, &check);
        bw_best = t < bw_best ? t : bw_best;
        for (int f = 0; f < 2; f++) {
            t = time_eval(j[f], dt, N_UNITS, threads, 1, &res[f].sparsity0);
            res[f].jit_s = t < res[f].jit_s ? t : res[f].jit_s;
        }
    }
    printf("  (checksum %llx)\n", (unsigned long long)check);
    for (int f = 0; f < 2; f++) {
        alc_compiled_free(j[f]);
    }
    free(s.out);
    alc_pool_free(pool);
    return (double)s.n_words * 8.0 / bw_best / 1e9;
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

static void report(const char *name, const struct fn_result *r,
                   const struct data *dt, int interp_units, double bw,
                   int have_torch)
{
    double bytes = pass_bytes(dt, N_UNITS) * r->passes;
    double jit = bytes / r->jit_s / 1e9, in = bytes / r->interp_s / 1e9;
    printf("%s (%d pass%s, %.0f MB read, unit 0's sparsity %.6f):\n", name,
           r->passes, r->passes == 1 ? "" : "es", bytes / 1e6, r->sparsity0);
    printf("  JIT          %8.2f GB/s  (%.3f s; compiled in %.1f ms)\n", jit,
           r->jit_s, 1e3 * r->compile_s);
    printf("  interpreter  %8.3f GB/s  (%.1f s, scaled from %d of %d "
           "units)\n",
           in, r->interp_s, interp_units, N_UNITS);
    if (have_torch) {
        for (int k = 0; k < 2; k++) {
            printf("  PyTorch %s  %8.3f GB/s  (%.3f s, eager, float%s)\n",
                   k ? "f64" : "f32", bytes / r->torch_s[k] / 1e9,
                   r->torch_s[k], k ? "64" : "32");
        }
    }
    printf("  JIT / bandwidth   %6.1f %%   (target >= 70 %%)\n",
           100.0 * jit / bw);
    printf("  JIT / interpreter %6.1f x   (target >= 20 x)\n",
           r->interp_s / r->jit_s);
    if (have_torch) {
        printf("  JIT / PyTorch     %6.1f x (float32), %.1f x (float64)   "
               "(target >= 5 x)\n",
               r->torch_s[0] / r->jit_s, r->torch_s[1] / r->jit_s);
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
    int repeat = 3, interp_units = 4, threads = alc_default_threads();
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
    struct data dt;
    if (data_make(&dt) != 0) {
        fprintf(stderr, "bench_alloc: out of memory\n");
        return 1;
    }
    printf("bench_alloc: %d units, %zu BF16 weights (%.0f MB) + F32 act, "
           "%d threads, best of %d interleaved rounds\n",
           N_UNITS, dt.n_w, dt.n_w * 2 / 1e6, threads, repeat);
    struct alc_ir ir[2];
    struct fn_result res[2];
    memset(res, 0, sizeof res);
    load_fn("owl.alloc", &ir[0]);
    load_fn("dsa.alloc", &ir[1]);
    double bw = run_jit(&dt, ir, threads, repeat, res);
    printf("read bandwidth (plain summing loop): %.2f GB/s\n", bw);
    for (int f = 0; f < 2; f++) {
        res[f].interp_s = time_interp(&ir[f], &dt, interp_units);
        alc_ir_free(&ir[f]);
    }
    struct fn_result *owl = &res[0], *dsa = &res[1];
    int have_torch =
        want_torch && run_torch(&dt, threads, repeat, owl, dsa) == 0;
    if (!have_torch) {
        printf("PyTorch: skipped (%s)\n",
               want_torch ? "/usr/bin/python3 cannot import torch"
                          : "--no-torch");
    }
    report("OWL  stdlib/owl.alloc", owl, &dt, interp_units, bw, have_torch);
    report("DSA  stdlib/dsa.alloc", dsa, &dt, interp_units, bw, have_torch);
    free(dt.w);
    free(dt.act);
    return 0;
}
