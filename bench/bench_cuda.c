/*
 * bench_cuda.c: the GPU backend's throughput on device-resident BF16
 * weights against the device's own copy bandwidth, measured in one run.
 * Skips with the reason (exit 0) when no GPU is usable.
 *
 * Data: `--blocks N` units (default 32) shaped like LLaMA-7B decoder blocks
 * (q, k, v, o: 4096 x 4096; gate, up: 11008 x 4096; down: 4096 x 11008),
 * i.e. 202.4M weights per unit, 6.48G (12.95 GB) for 32 -- all the linear
 * weights of a 7B model; random BF16 (random signs, log-uniform
 * magnitudes, 0.1% zeros, a per-unit share of outliers) and one F32 act
 * vector per matrix. The mirror uploads them once (timed separately).
 *
 * Programs: stdlib/owl.alloc (2 passes over the elements) and
 * stdlib/dsa.alloc (1 pass, log|wanda| per element: by table for BF16,
 * compiler/cuda_logw.c; with --no-logw by CUDA's double-precision log, the
 * element code as written, for comparison).
 *
 * What GB/s counts: the weight bytes the pass kernels read (2 bytes per
 * element per pass; act vectors are read once per tile from cache and not
 * counted), divided by the pass kernels' time from device events around
 * each launch ("kernels"), or by the wall time of a whole alc_evaluate
 * including host stages, env upload, combine and copies back ("evaluate").
 * The reference is cuMemcpyDtoD of a 2 GiB buffer, counted as bytes read +
 * bytes written per second (the usual "copy bandwidth"; its read-only rate
 * is printed too). Target: kernels >= 70% of the copy bandwidth.
 *
 * Usage: bench_cuda [--blocks N] [--repeat R] [--no-logw]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "front.h"

#ifdef ALC_CUDA_BACKEND
#include "alc_cuda.h"

#define N_MATS 7
#ifndef D_MODEL /* overridable for a quick check of this file */
#define D_MODEL 4096
#define D_FF 11008
#endif

/* ---- Data ---- */

struct data {
    uint16_t *w; /* all weights, BF16, matrix after matrix */
    float *act;  /* all act vectors */
    struct alc_mat_view *mats;
    struct alc_unit_view *units;
    int n_units;
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

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* A BF16 weight: random sign and mantissa, magnitude 2^-9 .. 2^-5; one in
 * 1024 an exact zero; with probability (1 + u % 8) / 256 an outlier 16
 * times larger, so that units differ. */
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

struct fill {
    struct data *dt;
    size_t per_task;
    size_t unit_size;
};

static void fill_task(void *ctx, int64_t task, int worker)
{
    struct fill *f = ctx;
    size_t lo = (size_t)task * f->per_task;
    size_t hi = lo + f->per_task < f->dt->n_w ? lo + f->per_task : f->dt->n_w;
    (void)worker;
    for (size_t i = lo; i < hi; i++) {
        f->dt->w[i] = rand_bf16(mix(i * 0x9e3779b97f4a7c15ull + 1),
                                (int)(i / f->unit_size));
    }
}

static int data_make(struct data *dt, int n_units)
{
    size_t per_unit = 0, act_per_unit = 0;
    for (int m = 0; m < N_MATS; m++) {
        int64_t r, c;
        mat_shape(m, &r, &c);
        per_unit += (size_t)(r * c);
        act_per_unit += (size_t)c;
    }
    dt->n_units = n_units;
    dt->n_w = per_unit * (size_t)n_units;
    dt->n_act = act_per_unit * (size_t)n_units;
    dt->w = malloc(dt->n_w * sizeof *dt->w);
    dt->act = malloc(dt->n_act * sizeof *dt->act);
    dt->mats = calloc((size_t)n_units * N_MATS, sizeof *dt->mats);
    dt->units = calloc((size_t)n_units, sizeof *dt->units);
    if (!dt->w || !dt->act || !dt->mats || !dt->units) {
        return -1;
    }
    struct fill f = {dt, 1u << 24, per_unit};
    struct alc_pool *pool = alc_pool_new(0);
    alc_pool_run(pool, (int64_t)((dt->n_w + f.per_task - 1) / f.per_task),
                 fill_task, &f);
    alc_pool_free(pool);
    for (size_t i = 0; i < dt->n_act; i++) {
        dt->act[i] = (float)(0.05 + (double)(mix(i) % 1000) / 250.0);
    }
    size_t wo = 0, ao = 0;
    for (int u = 0; u < n_units; u++) {
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

static void data_free(struct data *dt)
{
    free(dt->w);
    free(dt->act);
    free(dt->mats);
    free(dt->units);
}

/* ---- Runs ---- */

struct result {
    double kern_gbps, eval_gbps, eval_ms, compile_s;
    int passes;
};

static int bench_program(const char *file, const struct alc_units *units,
                         double weight_bytes, int repeat, struct result *res)
{
    struct alc_ir ir;
    struct alc_diag d;
    struct alc_cuda_stats st;
    double *sp = malloc((size_t)units->n_units * sizeof *sp);
    struct alc_eval_opts eo = {.S = 0.7};
    struct alc_eval_out out = {sp, NULL, NULL, 0.0};
    int rc = -1;
    alc_diag_init(&d);
    alc_ir_init(&ir);
    struct alc_compiled *c = NULL;
    if (alc_front_compile_file(file, &ir, &d) != 0 ||
        (c = alc_compile(&ir, ALC_BE_CUDA, &d)) == NULL) {
        fprintf(stderr, "bench_cuda: %s: %s", file, alc_diag_text(&d));
        goto done;
    }
    res->compile_s = alc_compiled_compile_seconds(c);
    if (alc_evaluate(c, units, &eo, &out, &d) != 0) { /* warm-up */
        fprintf(stderr, "bench_cuda: %s: %s", file, alc_diag_text(&d));
        goto done;
    }
    /* end to end, untimed kernels (no event syncs) */
    double t0 = alc_now();
    for (int r = 0; r < repeat; r++) {
        alc_evaluate(c, units, &eo, &out, &d);
    }
    double wall = (alc_now() - t0) / repeat;
    /* kernels, timed by events */
    alc_cuda_set_timing(1);
    alc_cuda_stats_reset();
    for (int r = 0; r < repeat && d.n_err == 0; r++) {
        alc_evaluate(c, units, &eo, &out, &d);
    }
    alc_cuda_set_timing(0);
    alc_cuda_stats_get(&st);
    if (d.n_err > 0) {
        fprintf(stderr, "bench_cuda: %s: %s", file, alc_diag_text(&d));
        goto done;
    }
    res->passes = (int)((double)st.kernel_bytes / repeat / weight_bytes + 0.5);
    res->kern_gbps = (double)st.kernel_bytes / st.kernel_seconds * 1e-9;
    res->eval_ms = wall * 1e3;
    res->eval_gbps = weight_bytes * res->passes / wall * 1e-9;
    rc = 0;
done:
    alc_compiled_free(c);
    alc_ir_free(&ir);
    alc_diag_free(&d);
    free(sp);
    return rc;
}

static int run(int blocks, int repeat, int logw)
{
    struct alc_diag d;
    struct alc_cuda_info info;
    struct data dt = {0};
    double rw = 0.0, rd = 0.0;
    int nv_major = 0, nv_minor = 0;
    alc_diag_init(&d);
    if (alc_cuda_available(&d) != 0) {
        const char *why = d.first;
        printf("bench_cuda: skipped: %s\n",
               strncmp(why, "error: ", 7) == 0 ? why + 7 : why);
        alc_diag_free(&d);
        return 0;
    }
    alc_cuda_info(&info, &d);
    alc_cuda_nvrtc_version(&nv_major, &nv_minor);
    printf("device: %s (sm_%d, %d SMs, %.1f GiB), driver %d.%d, NVRTC "
           "%d.%d\n",
           info.name, info.arch, info.sm_count,
           (double)info.mem_total / (1u << 30), info.driver_version / 1000,
           info.driver_version % 1000 / 10, nv_major, nv_minor);
    if (alc_cuda_copy_bandwidth((size_t)2 << 30, 5, &rw, &rd, &d) != 0) {
        fprintf(stderr, "bench_cuda: %s", alc_diag_text(&d));
        return 1;
    }
    printf("copy bandwidth (cuMemcpyDtoD, 2 GiB, best of 5): %.0f GB/s "
           "read+write (%.0f GB/s read)\n",
           rw, rd);
    double t0 = alc_now();
    if (data_make(&dt, blocks) != 0) {
        fprintf(stderr, "bench_cuda: out of host memory for %d blocks\n",
                blocks);
        data_free(&dt);
        return 1;
    }
    double wbytes = (double)dt.n_w * 2.0;
    printf("units: %d blocks of LLaMA-7B shape, %.2fG BF16 weights (%.2f "
           "GB), made in %.1f s\n",
           blocks, (double)dt.n_w * 1e-9, wbytes * 1e-9, alc_now() - t0);
    printf("logs by table (BF16 log|wanda|): %s\n",
           logw ? "on" : "off (--no-logw)");
    struct alc_units units = {dt.units, blocks};
    static const char *const names[] = {"owl", "dsa"};
    int status = 0;
    for (int i = 0; i < 2; i++) {
        char path[4096];
        struct result res = {0};
        snprintf(path, sizeof path, "%s/stdlib/%s.alloc", ALC_SOURCE_DIR,
                 names[i]);
        alc_cuda_stats_reset();
        if (bench_program(path, &units, wbytes, repeat, &res) != 0) {
            status = 1;
            continue;
        }
        printf("%s: %d pass%s, compile %.2f s; kernels %.0f GB/s = %.0f%% of "
               "copy (target >= 70%%); evaluate %.2f ms = %.0f GB/s\n",
               names[i], res.passes, res.passes == 1 ? "" : "es", res.compile_s,
               res.kern_gbps, 100.0 * res.kern_gbps / rw, res.eval_ms,
               res.eval_gbps);
    }
    alc_cuda_release_units();
    data_free(&dt);
    alc_diag_free(&d);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"blocks", required_argument, NULL, 'b'},
        {"repeat", required_argument, NULL, 'r'},
        {"no-logw", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    int blocks = 32, repeat = 10, logw = 1, c = 0;
    while ((c = getopt_long(argc, argv, "b:r:n", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            blocks = atoi(optarg);
            break;
        case 'r':
            repeat = atoi(optarg);
            break;
        case 'n':
            logw = 0;
            break;
        default:
            fprintf(stderr, "usage: bench_cuda [--blocks N] [--repeat R] "
                            "[--no-logw]\n");
            return 2;
        }
    }
    if (blocks < 1 || repeat < 1) {
        fprintf(stderr, "bench_cuda: --blocks and --repeat must be >= 1\n");
        return 2;
    }
    alc_cuda_set_logw(logw);
    return run(blocks, repeat, logw);
}

#else /* !ALC_CUDA_BACKEND */

int main(void)
{
    printf("bench_cuda: skipped: the GPU backend is not built (NVRTC not "
           "found or ALC_CUDA=OFF)\n");
    return 0;
}

#endif
