/*
 * bench_eval.c: speed and memory of the perplexity path (`dsac eval`), all
 * measured in one run:
 *  1. tokens/s of alc_eval_ppl on a random LLaMA (hidden >= 1024, written
 *     by genmodel into a temporary directory) and its GFLOP/s, counted as
 *     alc_fwd_flops does (2*M*N*K for every linear and the lm_head, 4*D
 *     per causal query-key pair), as a share of OpenBLAS sgemm's GFLOP/s
 *     on the same GEMM shapes (whole matrices, OpenBLAS's own threads);
 *  2. the same evaluation in PyTorch (bench/bench_eval_torch.py: fp32,
 *     no_grad, same weights, same tokens, same thread count) on the bundled
 *     model and on the large one;
 *  3. peak RSS (wait4 of a child process) of an 8-block and a 32-block
 *     model of the same width.
 *   ./build/bench/bench_eval [--threads N] [--hidden C] [--seqlen T]
 *                            [--windows W] [--no-torch]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cblas.h>

#include "data.h"
#include "eval.h"
#include "forward.h"
#include "genmodel.h"
#include "model.h"

/* Sources (examples/, the bench scripts) and the Python with torch; the
 * environment can move both (ALC_SOURCE_DIR, ALC_PYTHON) to run the bench
 * away from the build tree. */
static const char *src_dir(void)
{
    const char *e = getenv("ALC_SOURCE_DIR");
    return e != NULL && *e ? e : ALC_SOURCE_DIR;
}

static const char *python(void)
{
    const char *e = getenv("ALC_PYTHON");
    return e != NULL && *e ? e : "/usr/bin/python3";
}

struct opts {
    int threads, hidden, layers, seqlen, windows, vocab, torch;
};

/* ---- Helpers ---- */

static void die(const char *what, const struct alc_diag *d)
{
    fprintf(stderr, "bench_eval: %s: %s", what, d ? alc_diag_text(d) : "\n");
    exit(1);
}

/* Writes a random LLaMA of the bench's width; returns its parameters. */
static int64_t gen(const struct opts *o, int layers, const char *dir)
{
    struct alc_gen_opts g;
    struct alc_diag d;
    memset(&g, 0, sizeof g);
    alc_config_defaults(&g.cfg, ALC_ARCH_LLAMA);
    g.cfg.dim = o->hidden;
    g.cfg.n_layers = layers;
    g.cfg.n_heads = o->hidden / 64;
    g.cfg.n_kv_heads = g.cfg.n_heads;
    g.cfg.head_dim = 64;
    g.cfg.hidden_dim = (o->hidden * 11 / 4 + 255) / 256 * 256; /* 2816 */
    g.cfg.vocab_size = o->vocab;
    g.cfg.max_pos = 4096;
    g.dtype = ALC_DT_BF16;
    g.seed = 1;
    g.n_shards = 1;
    g.force = 1;
    alc_diag_init(&d);
    if (alc_gen_model(&g, dir, &d) != 0) {
        die("gen-model", &d);
    }
    alc_diag_free(&d);
    return alc_config_n_params(&g.cfg);
}

static void load(struct alc_model *m, const char *dir)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_model_load(m, dir, &d) != 0) {
        die(dir, &d);
    }
    alc_diag_free(&d);
}

/* Best of reps evaluations (the first one also warms the page cache). */
static void eval_best(const struct alc_model *m, const int32_t *ids, int64_t n,
                      int T, int64_t K, int threads, int reps,
                      struct alc_eval_result *best)
{
    struct alc_diag d;
    struct alc_eval_opts eo = {T, K, 0, threads, 0};
    alc_diag_init(&d);
    memset(best, 0, sizeof *best);
    for (int r = 0; r < reps; r++) {
        struct alc_eval_result res;
        if (alc_eval_ppl(m, ids, n, &eo, &res, &d) != 0) {
            die("eval", &d);
        }
        if (r == 0 || res.seconds < best->seconds) {
            alc_eval_result_free(best);
            *best = res;
        } else {
            alc_eval_result_free(&res);
        }
    }
    alc_diag_free(&d);
}

/* ---- OpenBLAS sgemm on the forward's GEMM shapes ---- */

static double time_sgemm(int M, int N, int K, int reps)
{
    float *a = malloc((size_t)M * K * sizeof(float));
    float *b = malloc((size_t)N * K * sizeof(float));
    float *c = malloc((size_t)M * N * sizeof(float));
    double best = 1e30;
    for (size_t i = 0; i < (size_t)M * K; i++) {
        a[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    }
    for (size_t i = 0; i < (size_t)N * K; i++) {
        b[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = alc_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a,
                    K, b, K, 0.0f, c, N);
        double dt = alc_now() - t0;
        best = dt < best ? dt : best;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* GFLOP/s of OpenBLAS on every GEMM of one forward of M rows: one block's
 * seven linears (times L) and the lm_head in vocabulary chunks of 4096. */
static double sgemm_gflops(const struct alc_config *c, int M, int threads)
{
    int C = c->dim, F = c->hidden_dim, q = c->n_heads * c->head_dim;
    int kv = c->n_kv_heads * c->head_dim;
    int shapes[7][2] = {{q, C}, {kv, C}, {kv, C}, {C, q},
                        {F, C}, {F, C},  {C, F}};
    double t = 0.0, fl = 0.0;
    openblas_set_num_threads(threads);
    for (int i = 0; i < 7; i++) {
        t += c->n_layers * time_sgemm(M, shapes[i][0], shapes[i][1], 3);
        fl += c->n_layers * 2.0 * M * shapes[i][0] * shapes[i][1];
    }
    int vc = c->vocab_size < 4096 ? c->vocab_size : 4096;
    t += (double)c->vocab_size / vc * time_sgemm(M, vc, C, 3);
    fl += 2.0 * M * (double)c->vocab_size * C;
    openblas_set_num_threads(1);
    return fl / t / 1e9;
}

/* ---- PyTorch ---- */

static int have_torch(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", python());
    return system(cmd) == 0;
}

static void write_ids(const char *path, const int32_t *ids, int64_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        die(path, NULL);
    }
    fputs("{\"ids\": [", f);
    for (int64_t i = 0; i < n; i++) {
        fprintf(f, "%s%d", i ? ", " : "", ids[i]);
    }
    fputs("]}\n", f);
    fclose(f);
}

/* Runs bench_eval_torch.py; returns tokens/s and the PPL it found. */
static double torch_eval(const char *model, const char *ids_path, int T,
                         int64_t K, int batch, int threads, double *ppl)
{
    char cmd[8192], line[4096] = {0};
    snprintf(cmd, sizeof cmd,
             "%s %s/bench/bench_eval_torch.py --model '%s' --ids '%s' "
             "--seqlen %d --max-chunks %lld --batch %d --threads %d",
             python(), src_dir(), model, ids_path, T, (long long)K, batch,
             threads);
    FILE *p = popen(cmd, "r");
    if (p == NULL || fgets(line, sizeof line, p) == NULL) {
        die("torch run failed", NULL);
    }
    pclose(p);
    const char *tp = strstr(line, "\"tokens_per_s\": ");
    const char *pp = strstr(line, "\"ppl\": ");
    if (tp == NULL || pp == NULL) {
        die("torch output", NULL);
    }
    *ppl = atof(pp + 7);
    return atof(tp + 16);
}

/* ---- Peak RSS in a child ---- */

/* Child: load dir, evaluate W windows of T random tokens, exit. */
static int rss_child(const char *dir, int T, int W, int threads)
{
    struct alc_model m;
    struct alc_eval_result r;
    int64_t n = (int64_t)T * W;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    load(&m, dir);
    for (int64_t i = 0; i < n; i++) {
        ids[i] = (int32_t)((i * 2654435761u) % (uint64_t)m.cfg.vocab_size);
    }
    eval_best(&m, ids, n, T, 0, threads, 1, &r);
    alc_eval_result_free(&r);
    alc_model_free(&m);
    free(ids);
    return 0;
}

/* Peak RSS in MB of `self --rss-child dir T W threads`. */
static double peak_rss(const char *dir, int T, int W, int threads)
{
    char ts[32], ws[32], th[32];
    snprintf(ts, sizeof ts, "%d", T);
    snprintf(ws, sizeof ws, "%d", W);
    snprintf(th, sizeof th, "%d", threads);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", "bench_eval", "--rss-child", dir, ts, ws, th,
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        die("rss child failed", NULL);
    }
    return (double)ru.ru_maxrss / 1024.0;
}

/* ---- Main ---- */

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"threads", required_argument, NULL, 't'},
        {"hidden", required_argument, NULL, 'c'},
        {"seqlen", required_argument, NULL, 's'},
        {"windows", required_argument, NULL, 'w'},
        {"no-torch", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    int c;
    o->threads = alc_default_threads();
    o->hidden = 1024;
    o->layers = 8;
    o->seqlen = 512;
    o->windows = 8;
    o->vocab = 32000;
    o->torch = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 't':
            o->threads = atoi(optarg);
            break;
        case 'c':
            o->hidden = atoi(optarg);
            break;
        case 's':
            o->seqlen = atoi(optarg);
            break;
        case 'w':
            o->windows = atoi(optarg);
            break;
        case 'n':
            o->torch = 0;
            break;
        default:
            exit(2);
        }
    }
    if (o->threads < 1 || o->hidden < 64 || o->hidden % 64 != 0 ||
        o->seqlen < 2 || o->windows < 1) {
        fprintf(stderr, "bench_eval: bad options\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    if (argc == 6 && strcmp(argv[1], "--rss-child") == 0) {
        return rss_child(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    }
    parse(argc, argv, &o);
    alc_progress_set_quiet(1);
    char tmpl[] = "/tmp/bench_eval.XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (tmp == NULL) {
        die("mkdtemp", NULL);
    }
    char *big = alc_path_join(tmp, "llama8"), *deep = alc_path_join(tmp, "l32");
    char *ids_big = alc_path_join(tmp, "ids_big.json");
    char *ids_tiny = alc_path_join(tmp, "ids_tiny.json");
    printf("bench_eval: %d threads, temporary models in %s\n", o.threads, tmp);
    printf("OpenBLAS: %s, kernels for %s\n", openblas_get_config(),
           openblas_get_corename());
    if (alc_fwd_blas_advice() != NULL) {
        printf("  note: %s\n", alc_fwd_blas_advice());
    }
    int64_t p8 = gen(&o, o.layers, big);
    int64_t p32 = gen(&o, 32, deep);

    /* 3. peak RSS first, in fresh processes */
    double rss8 = peak_rss(big, o.seqlen, 2, o.threads);
    double rss32 = peak_rss(deep, o.seqlen, 2, o.threads);

    /* 1. the large model: ours, then OpenBLAS on the same shapes */
    struct alc_model m;
    struct alc_eval_result r;
    load(&m, big);
    int64_t n = (int64_t)o.seqlen * o.windows;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int64_t i = 0; i < n; i++) {
        ids[i] = (int32_t)((i * 2654435761u + 12345) % (uint64_t)o.vocab);
    }
    eval_best(&m, ids, n, o.seqlen, 0, o.threads, 2, &r);
    double flops = alc_fwd_flops(&m.cfg, (int)r.n_windows, o.seqlen);
    double ours_gf = flops / r.seconds / 1e9;
    double blas_gf = sgemm_gflops(&m.cfg, r.batch * o.seqlen, o.threads);
    printf("\nlarge model: LLaMA, hidden %d, %d blocks, %d heads, ffn %d, "
           "vocab %d, %.0f M params, bf16\n",
           m.cfg.dim, m.cfg.n_layers, m.cfg.n_heads, m.cfg.hidden_dim,
           m.cfg.vocab_size, (double)m.n_params / 1e6);
    printf("  dsac eval      %8.0f tokens/s  (%lld windows x %d tokens, batch "
           "%d, %.2f s, PPL %.4f)\n",
           r.tokens_per_s, (long long)r.n_windows, o.seqlen, r.batch, r.seconds,
           r.ppl);
    printf("  achieved       %8.1f GFLOP/s (%.1f GFLOP per pass: linears + "
           "lm_head + causal attention)\n",
           ours_gf, flops / 1e9);
    printf("  OpenBLAS sgemm %8.1f GFLOP/s on the same GEMM shapes (M = %d)\n",
           blas_gf, r.batch * o.seqlen);
    printf("  share of sgemm %8.1f %%   (target >= 60 %%)\n",
           100.0 * ours_gf / blas_gf);
    double ppl_big = r.ppl, tps_big = r.tokens_per_s;
    int batch_big = r.batch;
    alc_eval_result_free(&r);
    alc_model_free(&m);

    /* the bundled model on the reference ids of kjv.test.raw */
    struct alc_model tm;
    struct alc_diag d;
    int32_t *tids = NULL;
    int64_t tn = 0;
    alc_diag_init(&d);
    char *tiny = alc_path_join(src_dir(), "examples/tiny-llama");
    char *tpath = alc_path_join(src_dir(), "examples/reference/test_ids.json");
    load(&tm, tiny);
    if (alc_data_read_ids(tpath, &tids, &tn, &d) != 0) {
        die("ids", &d);
    }
    int64_t tk = 64;
    eval_best(&tm, tids, tn, 256, tk, o.threads, 3, &r);
    printf("\nbundled model (tiny-llama, 1.84 M params), kjv.test.raw, "
           "seqlen 256, %lld windows\n",
           (long long)tk);
    printf("  dsac eval      %8.0f tokens/s  (batch %d, PPL %.4f)\n",
           r.tokens_per_s, r.batch, r.ppl);
    double ppl_tiny = r.ppl, tps_tiny = r.tokens_per_s;
    int batch_tiny = r.batch;
    alc_eval_result_free(&r);
    alc_model_free(&tm);

    /* 2. PyTorch on the same weights and tokens */
    if (o.torch && have_torch()) {
        double tp = 0.0;
        write_ids(ids_tiny, tids, tk * 256);
        double t_tiny =
            torch_eval(tiny, ids_tiny, 256, tk, batch_tiny, o.threads, &tp);
        printf("  PyTorch        %8.0f tokens/s  (PPL %.4f)  -> dsac is "
               "%.2fx PyTorch (target >= 2x)\n",
               t_tiny, tp, tps_tiny / t_tiny);
        if (fabs(tp / ppl_tiny - 1.0) > 1e-4) {
            printf("  WARNING: PyTorch PPL differs from ours\n");
        }
        write_ids(ids_big, ids, n);
        double t_big = torch_eval(big, ids_big, o.seqlen, o.windows, batch_big,
                                  o.threads, &tp);
        printf("large model:\n  PyTorch        %8.0f tokens/s  (PPL %.4f)  "
               "-> dsac is %.2fx PyTorch (target >= 1x)\n",
               t_big, tp, tps_big / t_big);
        if (fabs(tp / ppl_big - 1.0) > 1e-4) {
            printf("  WARNING: PyTorch PPL differs from ours\n");
        }
    } else {
        printf("  PyTorch: skipped (--no-torch or no torch in %s)\n", python());
    }

    printf("\npeak RSS (child process, eval of 2 x %d tokens), hidden %d:\n",
           o.seqlen, o.hidden);
    printf("  %2d blocks %8.1f MB  (weights file %.0f MB)\n", o.layers, rss8,
           2.0 * (double)p8 / 1e6);
    printf("  32 blocks %8.1f MB  (weights file %.0f MB)  -> ratio %.3f "
           "(target: nearly equal)\n",
           rss32, 2.0 * (double)p32 / 1e6, rss32 / rss8);
    free(ids);
    free(tids);
    alc_diag_free(&d);
    alc_remove_tree(tmp);
    free(big);
    free(deep);
    free(ids_big);
    free(ids_tiny);
    free(tiny);
    free(tpath);
    return 0;
}
