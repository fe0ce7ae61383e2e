/*
 * bench_prune_model.c: whole-model pruning, dsac against the PyTorch
 * pipeline (tools/ref_prune_model.py), in one run, on the same model,
 * calibration windows (kjv.train.raw, 32 x 256, even), ratios (uniform 50 %)
 * and thread count. Models: the bundled tiny-llama and a random LLaMA of
 * hidden 1024 (dsac gen-model: 2 layers, 16 heads, ffn 3072, vocab 1024,
 * the bundled tokenizer).
 *
 * Wall time = pass 2 of `dsac prune`: embedding the windows, the
 * statistics forward through each dense block, the pruning kernels, and
 * the forward through each pruned block (calibration forward INCLUDED);
 * not loading the model, tokenizing or evaluating. The PyTorch side times
 * the same span, with the same calibration batch as dsac (the Wanda
 * repository's loop uses batch 1, which is slower still in PyTorch).
 * Each side runs in a child process, so its peak RSS (wait4) is its own;
 * it is shown against the model's size (bytes of its safetensors files).
 *
 *   bench_prune_model [--threads N] [--no-torch] [--reps R]
 * Run from anywhere; the model, corpus and scripts come from ALC_SOURCE_DIR.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocfn.h"
#include "genmodel.h"
#include "session.h"

#define TINY ALC_SOURCE_DIR "/examples/tiny-llama"
#define TRAIN ALC_SOURCE_DIR "/examples/corpus/kjv.train.raw"

static void die(const char *what, const struct alc_diag *d)
{
    fprintf(stderr, "bench_prune_model: %s%s%s\n", what, d ? ": " : "",
            d ? alc_diag_text(d) : "");
    exit(1);
}

/* ---- The dsac side (child) ---- */

/* Prunes dir with method at 50 % (uniform); prints "seconds batch". With
 * dump, also writes the windows and the ratios for the PyTorch side. */
static int dsac_child(const char *dir, const char *method, int threads,
                      const char *dump)
{
    struct alc_session_opts so = {dir, threads, 0, 0};
    struct alc_calib_opts co = {TRAIN, -1, 32, 256, ALC_CALIB_EVEN, 0, 0};
    struct alc_session s;
    struct alc_allocfn f;
    struct alc_alloc_result r;
    struct alc_prune_report pr;
    struct alc_prune_opts o;
    struct alc_diag d;
    alc_diag_init(&d);
    alc_prune_opts_default(
        &o, (enum alc_prune_method)alc_prune_method_from_name(method), 0);
    if (alc_allocfn_load(&f, NULL, ALC_BE_INTERP, &d) != 0 ||
        alc_session_open(&s, &so, &d) != 0 ||
        alc_session_calibrate(&s, &co, &d) != 0 ||
        alc_session_prepare(&s, f.inputs, ALC_GRAN_BLOCK, &d) != 0 ||
        alc_session_allocate(&s, f.c, 0.5, f.params, &r, &d) != 0 ||
        alc_session_prune(&s, r.ratio, &o, &pr, &d) != 0) {
        die(dir, &d);
    }
    if (dump != NULL) {
        char *ids = alc_path_join(dump, "calib.json");
        if (alc_calib_write_ids(&s.calib, ids, &d) != 0) {
            die("calibration ids", &d);
        }
        free(ids);
    }
    printf("%.6f %d\n", pr.seconds, alc_session_calib_batch(&s));
    alc_prune_report_free(&pr);
    alc_alloc_result_free(&r);
    alc_session_close(&s);
    alc_allocfn_free(&f);
    alc_diag_free(&d);
    return 0;
}

/* ---- Children and their peak RSS ---- */

/* Runs argv with stdout into out (a file); returns the peak RSS in MB. */
static double run_child(char *const argv[], const char *out)
{
    struct rusage ru;
    int status = 0;
    fflush(stdout); /* the child must not inherit buffered output */
    pid_t pid = fork();
    if (pid < 0) {
        die("fork", NULL);
    }
    if (pid == 0) {
        if (freopen(out, "w", stdout) == NULL) {
            _exit(127);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        die(argv[0], NULL);
    }
    return (double)ru.ru_maxrss / 1024.0;
}

/* GCC 12 at -O2 and above reports the buffer alc_read_file returns
 * through &text as a dangling pointer to the local `text` once slurp is
 * inlined (a known -Wdangling-pointer false positive); silenced from here
 * to the end of this file. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_read_file(path, &text, &len, &d) != 0) {
        die(path, &d);
    }
    alc_diag_free(&d);
    return text;
}

static double json_num(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *s = strstr(json, pat);
    return s ? strtod(s + strlen(pat), NULL) : NAN;
}

/* ---- Setup ---- */

static uint64_t model_bytes(const char *dir)
{
    struct alc_model m;
    struct alc_diag d;
    uint64_t n = 0;
    alc_diag_init(&d);
    if (alc_model_load(&m, dir, &d) != 0) {
        die(dir, &d);
    }
    for (int i = 0; i < m.n_files; i++) {
        n += m.files[i].st.map.size;
    }
    alc_model_free(&m);
    alc_diag_free(&d);
    return n;
}

static void gen_h1024(const char *dir)
{
    struct alc_gen_opts o;
    struct alc_diag d;
    memset(&o, 0, sizeof o);
    alc_config_defaults(&o.cfg, ALC_ARCH_LLAMA);
    o.cfg.dim = 1024;
    o.cfg.n_layers = 2;
    o.cfg.n_heads = 16;
    o.cfg.n_kv_heads = 16;
    o.cfg.head_dim = 64;
    o.cfg.hidden_dim = 3072;
    o.cfg.vocab_size = 1024;
    o.cfg.max_pos = 512;
    o.dtype = ALC_DT_BF16;
    o.n_shards = 1;
    o.tokenizer_dir = TINY;
    o.force = 1;
    alc_diag_init(&d);
    if (alc_gen_model(&o, dir, &d) != 0) {
        die("gen-model", &d);
    }
    alc_diag_free(&d);
}

/* Uniform ratios for every linear, in the report's "linears" format. */
static void write_ratios(const char *dir, const char *model)
{
    struct alc_model m;
    struct alc_diag d;
    struct alc_sb sb;
    static const char *const names[ALC_LIN_COUNT] = {
        "q_proj",    "k_proj",  "v_proj",   "o_proj",
        "gate_proj", "up_proj", "down_proj"};
    alc_diag_init(&d);
    alc_sb_init(&sb);
    if (alc_model_load(&m, model, &d) != 0) {
        die(model, &d);
    }
    alc_sb_puts(&sb, "{\"linears\": [");
    for (int l = 0; l < m.cfg.n_layers; l++) {
        for (int k = 0; k < ALC_LIN_COUNT; k++) {
            alc_sb_printf(&sb,
                          "%s{\"block\": %d, \"linear\": \"%s\", "
                          "\"asked\": 0.5}",
                          l || k ? ", " : "", l, names[k]);
        }
    }
    alc_sb_puts(&sb, "]}\n");
    char *p = alc_path_join(dir, "ratios.json");
    if (alc_write_file_atomic(p, sb.s, sb.len, &d) != 0) {
        die(p, &d);
    }
    free(p);
    alc_sb_free(&sb);
    alc_model_free(&m);
    alc_diag_free(&d);
}

/* ---- One comparison ---- */

struct side {
    double seconds, rss_mb;
};

static struct side run_dsac(const char *model, const char *method, int threads,
                            const char *tmp, int dump, int *batch)
{
    char th[16], out[4096];
    struct side r;
    snprintf(th, sizeof th, "%d", threads);
    snprintf(out, sizeof out, "%s/dsac.out", tmp);
    char *argv[] = {
        "/proc/self/exe",          "--child", (char *)model, (char *)method, th,
        dump ? (char *)tmp : NULL, NULL};
    r.rss_mb = run_child(argv, out);
    char *text = slurp(out);
    r.seconds = strtod(text, NULL);
    const char *sp = strchr(text, ' ');
    int b = sp != NULL ? atoi(sp + 1) : -1;
    free(text);
    if (b < 1) {
        die(out, NULL);
    }
    *batch = b;
    return r;
}

static struct side run_torch(const char *model, const char *method, int threads,
                             int batch, const char *tmp)
{
    char th[16], bs[16], ids[4096], rat[4096], res[4096], out[4096];
    struct side r;
    snprintf(th, sizeof th, "%d", threads);
    snprintf(bs, sizeof bs, "%d", batch);
    snprintf(ids, sizeof ids, "%s/calib.json", tmp);
    snprintf(rat, sizeof rat, "%s/ratios.json", tmp);
    snprintf(res, sizeof res, "%s/torch.json", tmp);
    snprintf(out, sizeof out, "%s/torch.out", tmp);
    char *argv[] = {"/usr/bin/python3",
                    ALC_SOURCE_DIR "/tools/ref_prune_model.py",
                    "--model",
                    (char *)model,
                    "--calib-ids",
                    ids,
                    "--ratios",
                    rat,
                    "--method",
                    (char *)method,
                    "--threads",
                    th,
                    "--batch",
                    bs,
                    "--out",
                    res,
                    NULL};
    r.rss_mb = run_child(argv, out);
    char *text = slurp(res);
    r.seconds = json_num(text, "seconds_prune");
    free(text);
    return r;
}

static int have_torch(void)
{
    return system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

int main(int argc, char **argv)
{
    int threads = alc_default_threads(), torch = 1, reps = 1;
    if (argc == 6 && strcmp(argv[1], "--child") == 0) {
        return dsac_child(argv[2], argv[3], atoi(argv[4]), argv[5]);
    }
    if (argc == 5 && strcmp(argv[1], "--child") == 0) {
        return dsac_child(argv[2], argv[3], atoi(argv[4]), NULL);
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-torch") == 0) {
            torch = 0;
        } else {
            fprintf(stderr, "usage: bench_prune_model [--threads N] "
                            "[--no-torch] [--reps R]\n");
            return 2;
        }
    }
    torch = torch && have_torch();
    char tmpl[] = "/tmp/bench_prune_model.XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (tmp == NULL) {
        die("mkdtemp", NULL);
    }
    char *h1024 = alc_path_join(tmp, "llama-h1024");
    gen_h1024(h1024);
    const char *models[2] = {TINY, h1024};
    const char *labels[2] = {"tiny-llama (bundled, 8 x h128)",
                             "random llama (2 x h1024)"};
    const char *methods[2] = {"wanda", "sparsegpt"};
    printf("whole-model pruning at 50%% (uniform), calibration kjv.train.raw "
           "32 x 256 even, %d threads, best of %d;\n"
           "time = pass 2: embedding + statistics forward + kernels + "
           "pruned forward (calibration forward included)\n\n",
           threads, reps);
    printf("%-32s %-10s %9s %9s %8s %10s %9s %10s\n", "model", "method",
           "dsac s", "torch s", "speedup", "model MB", "dsac RSS", "torch RSS");
    for (int mi = 0; mi < 2; mi++) {
        write_ratios(tmp, models[mi]);
        double mb = (double)model_bytes(models[mi]) / (1024.0 * 1024.0);
        for (int k = 0; k < 2; k++) {
            struct side a = {INFINITY, 0}, b = {INFINITY, 0};
            int batch = 1;
            for (int r = 0; r < reps; r++) {
                struct side x = run_dsac(models[mi], methods[k], threads, tmp,
                                         r == 0 && k == 0, &batch);
                a = x.seconds < a.seconds ? x : a;
                if (torch) {
                    struct side y =
                        run_torch(models[mi], methods[k], threads, batch, tmp);
                    b = y.seconds < b.seconds ? y : b;
                }
            }
            printf("%-32s %-10s %9.3f ", labels[mi], methods[k], a.seconds);
            if (torch) {
                printf("%9.3f %7.1fx ", b.seconds, b.seconds / a.seconds);
            } else {
                printf("%9s %8s ", "-", "-");
            }
            printf("%10.2f %6.0f MB ", mb, a.rss_mb);
            if (torch) {
                printf("%7.0f MB", b.rss_mb);
            }
            printf("\n            peak RSS / model size: dsac %.1fx%s",
                   a.rss_mb / mb, torch ? "" : "\n");
            if (torch) {
                printf(", torch %.1fx\n", b.rss_mb / mb);
            }
        }
    }
    if (!torch) {
        printf("\n(PyTorch side skipped: /usr/bin/python3 has no torch, or "
               "--no-torch)\n");
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmp);
    }
    free(h1024);
    return 0;
}
