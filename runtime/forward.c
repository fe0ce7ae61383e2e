/*
 * forward.c: the CPU forward pass of LLaMA / Mistral / Qwen2 / OPT, block
 * by block (see forward.h for the streaming loop and determinism). Kernels
 * take outputs first, then inputs, weights and plain-int dims, as in
 * llama2.c's run.c; alc_fwd_block is the straight-line forward of one
 * decoder block. Every kernel is split into tasks whose boundaries depend
 * only on the shapes, never on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include <cblas.h>

#include "forward.h"

/* Tile sizes. Row tiles never straddle a sequence (see forward.h). */
#define TILE_M 256   /* rows of a GEMM tile */
#define TILE_N 256   /* output columns of a GEMM tile */
#define ROWBLK 64    /* query rows per attention task */
#define ROWS_TASK 32 /* rows per task of the row-wise kernels */
#define VCHUNK 4096  /* vocabulary rows of lm_head converted at a time */

/* ---- Memory ---- */

static float *falloc(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes > 0 ? bytes : 64);
}

/* ---- Elementwise kernels ---- */

/*
 * Elementwise kernels are compiled for AVX-512, AVX2 and baseline x86-64
 * and picked at load time (target_clones); runtime/CMakeLists.txt lets GCC
 * vectorize them at -O2 and turns FMA contraction off, so every variant
 * rounds the same way. Reductions stay scalar and in a fixed order.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ALC_VEC                                                                \
    __attribute__((                                                            \
        target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ALC_VEC
#endif

/*
 * exp(x) for the softmax, the log-sum-exp and SiLU, vectorizable (no call,
 * no branch): Cephes expf's range reduction x = n ln2 + r (ln2 in two
 * parts), a degree-5 polynomial for e^r and 2^n from the exponent bits.
 * Relative error below 2e-7 on [-87, 88]; arguments are clamped there
 * (e^-87 ~ 1.6e-38: a weight of zero next to the row maximum).
 */
static inline float exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return y * scale;
}

/* o[i] = exp(x[i] - m) */
ALC_VEC static void vexp(float *o, const float *x, float m, int n)
{
    for (int i = 0; i < n; i++) {
        o[i] = exp_fast(x[i] - m);
    }
}

/* o[i] *= a */
ALC_VEC static void vscale(float *o, float a, int n)
{
    for (int i = 0; i < n; i++) {
        o[i] *= a;
    }
}

/* o[i] += x[i] */
ALC_VEC static void vadd(float *o, const float *x, int n)
{
    for (int i = 0; i < n; i++) {
        o[i] += x[i];
    }
}

/* o[i] = silu(o[i]) * x[i]  (SwiGLU: silu(gate) * up) */
ALC_VEC static void vswiglu(float *o, const float *x, int n)
{
    for (int i = 0; i < n; i++) {
        o[i] = o[i] / (1.0f + exp_fast(-o[i])) * x[i];
    }
}

/* o[i] = act(o[i]) for the non-gated MLP (OPT: ReLU) */
ALC_VEC static void vact(float *o, enum alc_act a, int n)
{
    if (a == ALC_ACT_RELU) {
        for (int i = 0; i < n; i++) {
            o[i] = o[i] > 0.0f ? o[i] : 0.0f;
        }
    } else if (a == ALC_ACT_SILU) {
        for (int i = 0; i < n; i++) {
            o[i] = o[i] / (1.0f + exp_fast(-o[i]));
        }
    } else { /* exact GELU */
        for (int i = 0; i < n; i++) {
            o[i] = 0.5f * o[i] * (1.0f + erff(o[i] * 0.70710678118654752f));
        }
    }
}

/* o = x / rms(x) * w   (LlamaRMSNorm, fp32, sum of squares in double) */
ALC_VEC static void rmsnorm(float *o, const float *x, const float *w, int n,
                            double eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        ss += (double)x[i] * x[i];
    }
    float r = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) {
        o[i] = w[i] * (x[i] * r);
    }
}

/* o = (x - mean) / sqrt(var + eps) * w + b   (nn.LayerNorm) */
ALC_VEC static void layernorm(float *o, const float *x, const float *w,
                              const float *b, int n, double eps)
{
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < n; i++) {
        mean += x[i];
    }
    mean /= n;
    for (int i = 0; i < n; i++) {
        double t = x[i] - mean;
        var += t * t;
    }
    float r = (float)(1.0 / sqrt(var / n + eps));
    float mu = (float)mean;
    for (int i = 0; i < n; i++) {
        o[i] = (x[i] - mu) * r * w[i] + b[i];
    }
}

/* Rotate-half RoPE of the heads of one row: x[i], x[i + D/2] rotated by
 * the angle pos * inv_freq[i] (HF apply_rotary_pos_emb). */
ALC_VEC static void rope(float *x, int n_heads, int D, const float *cs,
                         const float *sn)
{
    int half = D / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + h * D;
        for (int i = 0; i < half; i++) {
            float a = v[i], b = v[i + half];
            v[i] = a * cs[i] - b * sn[i];
            v[i + half] = b * cs[i] + a * sn[i];
        }
    }
}

/* Softmax of s[lo..hi] in place; entries outside are masked to 0. */
static void softmax_masked(float *s, int lo, int hi, int cols)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int i = lo; i <= hi; i++) {
        mx = s[i] > mx ? s[i] : mx;
    }
    vexp(s + lo, s + lo, mx, hi - lo + 1);
    for (int i = lo; i <= hi; i++) {
        sum += s[i];
    }
    vscale(s + lo, 1.0f / sum, hi - lo + 1);
    memset(s, 0, (size_t)lo * sizeof *s);
    memset(s + hi + 1, 0, (size_t)(cols - hi - 1) * sizeof *s);
}

/* ---- GEMM: y (M, N) = x (M, K) . w (N, K)^T + bias (N) ---- */

struct mm_job {
    float *y;
    const float *x, *w, *bias;
    int T, N, K;
    int rt, nt; /* row tiles per sequence, column tiles */
    float alpha;
};

static void mm_task(void *ctx, int64_t task, int worker)
{
    const struct mm_job *j = ctx;
    (void)worker;
    int64_t seq = task / ((int64_t)j->rt * j->nt);
    int rest = (int)(task % ((int64_t)j->rt * j->nt));
    int r0 = (rest / j->nt) * TILE_M, n0 = (rest % j->nt) * TILE_N;
    int rows = j->T - r0 < TILE_M ? j->T - r0 : TILE_M;
    int cols = j->N - n0 < TILE_N ? j->N - n0 : TILE_N;
    int64_t row = seq * j->T + r0;
    float *y = j->y + row * j->N + n0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, j->K,
                j->alpha, j->x + row * j->K, j->K, j->w + (int64_t)n0 * j->K,
                j->K, 0.0f, y, j->N);
    if (j->bias != NULL) {
        for (int r = 0; r < rows; r++) {
            vadd(y + (int64_t)r * j->N, j->bias + n0, cols);
        }
    }
}

/* y (B*T, N) = x (B*T, K) . w (N, K)^T + bias, tiles per sequence. */
static void matmul(struct alc_fwd *f, float *y, const float *x, const float *w,
                   const float *bias, int B, int T, int N, int K)
{
    struct mm_job j = {y,
                       x,
                       w,
                       bias,
                       T,
                       N,
                       K,
                       (T + TILE_M - 1) / TILE_M,
                       (N + TILE_N - 1) / TILE_N,
                       1.0f};
    alc_pool_run(f->pool, (int64_t)B * j.rt * j.nt, mm_task, &j);
}

/* Several GEMMs on the same input (q/k/v, gate/up) in one pool run. */
struct mm_multi {
    struct mm_job g[3];
    int64_t first[4]; /* first task of each GEMM */
};

static void mm_multi_task(void *ctx, int64_t task, int worker)
{
    struct mm_multi *mj = ctx;
    int i = 0;
    while (task >= mj->first[i + 1]) {
        i++;
    }
    mm_task(&mj->g[i], task - mj->first[i], worker);
}

/* y[i] (B*T, N[i]) = x (B*T, K) . w[i]^T + bias[i] for i < n (n <= 3). */
static void matmul_n(struct alc_fwd *f, int n, float *const *y, const float *x,
                     const float *const *w, const float *const *bias,
                     const int *N, int B, int T, int K)
{
    struct mm_multi mj;
    memset(&mj, 0, sizeof mj);
    for (int i = 0; i < n; i++) {
        struct mm_job j = {y[i],
                           x,
                           w[i],
                           bias[i],
                           T,
                           N[i],
                           K,
                           (T + TILE_M - 1) / TILE_M,
                           (N[i] + TILE_N - 1) / TILE_N,
                           1.0f};
        mj.g[i] = j;
        mj.first[i + 1] = mj.first[i] + (int64_t)B * j.rt * j.nt;
    }
    for (int i = n; i < 3; i++) {
        mj.first[i + 1] = mj.first[i];
    }
    alc_pool_run(f->pool, mj.first[n], mm_multi_task, &mj);
}

/* ---- Row-wise kernels ---- */

enum row_op {
    OP_RMSNORM,   /* o = x / rms(x) * w */
    OP_LAYERNORM, /* o = (x - mean) / std * w + b */
    OP_ADD,       /* o += x (residual) */
    OP_ADD_NORM,  /* res += x, then o = norm(res) (o may be res or x) */
    OP_SWIGLU,    /* o = act(o) * x (gate, up) */
    OP_ACT,       /* o = act(o) */
    OP_ROPE,      /* rotate-half RoPE on q (o) and k (x) */
};

struct row_job {
    struct alc_fwd *f;
    enum row_op op;
    float *o;
    const float *x, *w, *b;
    float *res; /* OP_ADD_NORM: the residual stream */
    int n;      /* columns */
    int64_t M;  /* rows */
    int T;      /* tokens per sequence (positions for RoPE) */
};

static void row_task(void *ctx, int64_t task, int worker)
{
    const struct row_job *j = ctx;
    const struct alc_config *c = j->f->c;
    (void)worker;
    int64_t r1 = (task + 1) * ROWS_TASK < j->M ? (task + 1) * ROWS_TASK : j->M;
    for (int64_t r = task * ROWS_TASK; r < r1; r++) {
        float *o = j->o + r * j->n;
        const float *x = j->x ? j->x + r * j->n : NULL;
        switch (j->op) {
        case OP_RMSNORM:
            rmsnorm(o, x, j->w, j->n, c->norm_eps);
            break;
        case OP_LAYERNORM:
            layernorm(o, x, j->w, j->b, j->n, c->norm_eps);
            break;
        case OP_ADD:
            vadd(o, x, j->n);
            break;
        case OP_ADD_NORM: {
            float *res = j->res + r * j->n;
            vadd(res, x, j->n); /* x's row is read before o's is written */
            if (c->layer_norm) {
                layernorm(o, res, j->w, j->b, j->n, c->norm_eps);
            } else {
                rmsnorm(o, res, j->w, j->n, c->norm_eps);
            }
            break;
        }
        case OP_SWIGLU:
            vswiglu(o, x, j->n); /* LLaMA family: hidden_act silu */
            break;
        case OP_ACT:
            vact(o, c->act, j->n);
            break;
        case OP_ROPE: {
            int half = c->head_dim / 2;
            int pos = (int)(r % j->T);
            const float *cs = j->f->s.rope_cos + (int64_t)pos * half;
            const float *sn = j->f->s.rope_sin + (int64_t)pos * half;
            rope(j->o + r * c->n_heads * c->head_dim, c->n_heads, c->head_dim,
                 cs, sn);
            rope((float *)j->x + r * c->n_kv_heads * c->head_dim, c->n_kv_heads,
                 c->head_dim, cs, sn);
            break;
        }
        }
    }
}

static void rows(struct alc_fwd *f, enum row_op op, float *o, const float *x,
                 const float *w, const float *b, int64_t M, int n, int T)
{
    struct row_job j = {f, op, o, x, w, b, NULL, n, M, T};
    alc_pool_run(f->pool, (M + ROWS_TASK - 1) / ROWS_TASK, row_task, &j);
}

/* res (M, C) += x, then o = norm(res): the residual add and the next norm
 * in one pass. */
static void add_norm(struct alc_fwd *f, float *o, float *res, const float *x,
                     const float *w, const float *b, int64_t M)
{
    struct row_job j = {f, OP_ADD_NORM, o, x, w, b, res, f->c->dim, M, 0};
    alc_pool_run(f->pool, (M + ROWS_TASK - 1) / ROWS_TASK, row_task, &j);
}

/* o (M, C) = norm(x) with the weights of one norm (RMS or Layer). */
static void norm(struct alc_fwd *f, float *o, const float *x, const float *w,
                 const float *b, int64_t M)
{
    rows(f, f->c->layer_norm ? OP_LAYERNORM : OP_RMSNORM, o, x, w, b, M,
         f->c->dim, 0);
}

/* ---- Attention ---- */

struct att_job {
    struct alc_fwd *f;
    float *out;             /* (M, H*D) */
    const float *q, *k, *v; /* (M, H*D), (M, KV*D), (M, KV*D) */
    int T, nrb;             /* tokens, row blocks per sequence */
};

/*
 * One task: query rows [r0, r1) of head h of sequence b.
 * scores = q k^T / sqrt(D) over the keys the causal (and sliding-window)
 * mask keeps, softmax per row, out = P v. GQA: head h reads kv head
 * h / (H / KV), as HF's repeat_kv.
 */
static void att_task(void *ctx, int64_t task, int worker)
{
    const struct att_job *j = ctx;
    const struct alc_config *c = j->f->c;
    int H = c->n_heads, KV = c->n_kv_heads, D = c->head_dim;
    int64_t b = task / ((int64_t)H * j->nrb);
    int h = (int)(task / j->nrb % H), rb = (int)(task % j->nrb);
    int g = h / (H / KV);
    int r0 = rb * ROWBLK;
    int r1 = r0 + ROWBLK < j->T ? r0 + ROWBLK : j->T;
    int c0 = 0, W = c->sliding_window;
    if (W > 0 && r0 - W + 1 > 0) {
        c0 = r0 - W + 1;
    }
    int cols = r1 - c0, qs = H * D, ks = KV * D;
    float *S = j->f->s.scores + (int64_t)worker * ROWBLK * j->f->max_t;
    const float *q = j->q + (b * j->T + r0) * qs + h * D;
    const float *k = j->k + (b * j->T + c0) * ks + g * D;
    const float *v = j->v + (b * j->T + c0) * ks + g * D;
    /* S (rows, cols) = q (rows, D) . k (cols, D)^T * D^-0.5 */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, cols, D,
                (float)(1.0 / sqrt((double)D)), q, qs, k, ks, 0.0f, S, cols);
    for (int t = r0; t < r1; t++) {
        int lo = W > 0 && t - W + 1 > c0 ? t - W + 1 - c0 : 0;
        softmax_masked(S + (int64_t)(t - r0) * cols, lo, t - c0, cols);
    }
    /* out (rows, D) = P (rows, cols) . v (cols, D) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, cols,
                1.0f, S, cols, v, ks, 0.0f,
                j->out + (b * j->T + r0) * qs + h * D, qs);
}

static void attention(struct alc_fwd *f, float *out, const float *q,
                      const float *k, const float *v, int B, int T)
{
    struct att_job j = {f, out, q, k, v, T, (T + ROWBLK - 1) / ROWBLK};
    alc_pool_run(f->pool, (int64_t)B * f->c->n_heads * j.nrb, att_task, &j);
}

/* ---- Blocks: loading and storing ---- */

#define CVT_ROWS 256 /* rows converted per task */

/* Converting a block: one task per CVT_ROWS rows of each tensor. */
struct cvt_job {
    const struct alc_model *m;
    struct alc_tref refs[ALC_BT_COUNT];
    float *dst[ALC_BT_COUNT];
    int64_t first[ALC_BT_COUNT + 1]; /* first task of each slot */
};

static int64_t tensor_rows(const struct alc_st_tensor *t)
{
    return t->ndim == 2 ? t->shape[0] : 1;
}

static void cvt_task(void *ctx, int64_t task, int worker)
{
    const struct cvt_job *j = ctx;
    int s = 0;
    (void)worker;
    while (task >= j->first[s + 1]) {
        s++;
    }
    const struct alc_st_tensor *t = alc_model_st(j->m, j->refs[s]);
    int64_t rows = tensor_rows(t), cols = t->numel / (rows ? rows : 1);
    int64_t r0 = (task - j->first[s]) * CVT_ROWS;
    int64_t n = rows - r0 < CVT_ROWS ? rows - r0 : CVT_ROWS;
    alc_model_prefetch_rows(j->m, j->refs[s], r0, n);
    alc_model_rows_f32(j->m, j->refs[s], r0, n, j->dst[s] + r0 * cols);
}

/*
 * Loads block `layer` into mem (cap floats) when it is large enough (the
 * block then borrows it), else into a fresh allocation it owns.
 */
static int block_load(struct alc_block *b, const struct alc_model *m, int layer,
                      struct alc_pool *pool, float *mem, size_t cap,
                      struct alc_diag *d)
{
    struct cvt_job j;
    size_t off[ALC_BT_COUNT], total = 0;
    memset(b, 0, sizeof *b);
    memset(&j, 0, sizeof j);
    j.m = m;
    if (layer < 0 || layer >= m->cfg.n_layers) {
        alc_diag_errorf(d, "%s: no block %d", m->dir, layer);
        return -1;
    }
    for (int s = 0; s < ALC_BT_COUNT; s++) {
        j.refs[s] = alc_model_bref(m, layer, s);
        const struct alc_st_tensor *t = alc_model_st(m, j.refs[s]);
        off[s] = total;
        total += t ? ((size_t)t->numel + 15) & ~(size_t)15 : 0;
        int64_t chunks = t ? (tensor_rows(t) + CVT_ROWS - 1) / CVT_ROWS : 0;
        j.first[s + 1] = j.first[s] + chunks;
    }
    b->mem = mem != NULL && cap >= total ? mem : falloc(total);
    if (b->mem == NULL) {
        alc_diag_errorf(d, "%s: block %d: out of memory", m->dir, layer);
        return -1;
    }
    b->borrowed = b->mem == mem;
    b->n_floats = total;
    b->layer = layer;
    for (int s = 0; s < ALC_BT_COUNT; s++) {
        const struct alc_st_tensor *t = alc_model_st(m, j.refs[s]);
        j.dst[s] = t ? b->mem + off[s] : NULL;
    }
    alc_pool_run(pool, j.first[ALC_BT_COUNT], cvt_task, &j);
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        const struct alc_st_tensor *t = alc_model_st(m, j.refs[lin]);
        b->w[lin] = j.dst[lin];
        b->b[lin] = j.dst[ALC_BT_BIAS + lin];
        b->out[lin] = t ? (int)t->shape[0] : 0;
        b->in[lin] = t ? (int)t->shape[1] : 0;
    }
    b->norm1 = j.dst[ALC_BT_NORM1];
    b->norm1_b = j.dst[ALC_BT_NORM1_BIAS];
    b->norm2 = j.dst[ALC_BT_NORM2];
    b->norm2_b = j.dst[ALC_BT_NORM2_BIAS];
    for (int s = 0; s < ALC_BT_COUNT; s++) {
        alc_model_release(m, j.refs[s]);
    }
    return 0;
}

int alc_block_load(struct alc_block *b, const struct alc_model *m, int layer,
                   struct alc_pool *pool, struct alc_diag *d)
{
    return block_load(b, m, layer, pool, NULL, 0, d);
}

void alc_block_free(struct alc_block *b)
{
    if (!b->borrowed) {
        free(b->mem);
    }
    memset(b, 0, sizeof *b);
}

int alc_block_store_linear(struct alc_model *m, struct alc_block *b,
                           enum alc_lin lin, struct alc_diag *d)
{
    if (b->w[lin] == NULL) {
        return 0;
    }
    struct alc_tref r = alc_model_bref(m, b->layer, (int)lin);
    return alc_model_set_f32(m, r, b->w[lin], b->w[lin], d);
}

int alc_block_store(struct alc_model *m, struct alc_block *b,
                    struct alc_diag *d)
{
    for (int lin = 0; lin < ALC_LIN_COUNT; lin++) {
        if (alc_block_store_linear(m, b, (enum alc_lin)lin, d) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- Owner ---- */

static void rope_tables(struct alc_fwd *f)
{
    const struct alc_config *c = f->c;
    int half = c->head_dim / 2;
    float *inv = falloc((size_t)half);
    alc_rope_inv_freq(c, inv);
    for (int t = 0; t < f->max_t; t++) {
        for (int i = 0; i < half; i++) {
            float a = (float)t * inv[i]; /* fp32 product, as HF */
            f->s.rope_cos[(int64_t)t * half + i] = (float)cos((double)a);
            f->s.rope_sin[(int64_t)t * half + i] = (float)sin((double)a);
        }
    }
    free(inv);
}

/* Floats of the largest block (block_load's layout). */
static size_t block_floats(const struct alc_model *m)
{
    size_t best = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        size_t total = 0;
        for (int s = 0; s < ALC_BT_COUNT; s++) {
            const struct alc_st_tensor *t =
                alc_model_st(m, alc_model_bref(m, l, s));
            total += t ? ((size_t)t->numel + 15) & ~(size_t)15 : 0;
        }
        best = total > best ? total : best;
    }
    return best;
}

int alc_fwd_init(struct alc_fwd *f, const struct alc_model *m, int max_b,
                 int max_t, int n_threads, struct alc_diag *d)
{
    struct alc_runstate *s = &f->s;
    const struct alc_config *c = &m->cfg;
    memset(f, 0, sizeof *f);
    f->m = m;
    f->c = c;
    f->max_b = max_b;
    f->max_t = max_t;
    if (max_b < 1 || max_t < 2) {
        alc_diag_errorf(d, "forward: need at least 1 sequence of 2 tokens");
        return -1;
    }
    if (!c->rope && max_t > c->max_pos) {
        alc_diag_errorf(d,
                        "%s: sequence length %d exceeds the %d learned "
                        "positions (max_position_embeddings)",
                        m->dir, max_t, c->max_pos);
        return -1;
    }
    openblas_set_num_threads(1); /* our pool threads the GEMMs */
    f->pool = alc_pool_new(n_threads);
    f->n_threads = alc_pool_threads(f->pool);
    size_t M = (size_t)max_b * max_t;
    size_t C = (size_t)c->dim;
    size_t P = c->proj_dim > c->dim ? (size_t)c->proj_dim : C;
    size_t q = (size_t)c->n_heads * c->head_dim;
    size_t kv = (size_t)c->n_kv_heads * c->head_dim;
    size_t VC = c->vocab_size < VCHUNK ? (size_t)c->vocab_size : VCHUNK;
    s->x = falloc(M * C);
    s->xb = falloc(M * P);
    s->q = falloc(M * q);
    s->k = falloc(M * kv);
    s->v = falloc(M * kv);
    s->att = falloc(M * q);
    s->hb = falloc(M * (size_t)c->hidden_dim);
    s->hb2 = c->gated_mlp ? falloc(M * (size_t)c->hidden_dim) : NULL;
    s->scores = falloc((size_t)f->n_threads * ROWBLK * (size_t)max_t);
    s->rope_cos = falloc((size_t)max_t * (size_t)(c->head_dim / 2 + 1));
    s->rope_sin = falloc((size_t)max_t * (size_t)(c->head_dim / 2 + 1));
    s->head_w = falloc(VC * P);
    s->logits = falloc(M * VC);
    s->lse_max = falloc(M);
    s->lse_sum = malloc(M * sizeof(double));
    s->tgt = falloc(M);
    f->blk_cap = block_floats(m);
    f->blk_mem = falloc(f->blk_cap);
    if (!s->x || !f->blk_mem || !s->xb || !s->q || !s->k || !s->v || !s->att ||
        !s->hb || (c->gated_mlp && !s->hb2) || !s->scores || !s->rope_cos ||
        !s->rope_sin || !s->head_w || !s->logits || !s->lse_max ||
        !s->lse_sum || !s->tgt) {
        alc_diag_errorf(d,
                        "%s: out of memory for the run state (%d x %d "
                        "tokens)",
                        m->dir, max_b, max_t);
        alc_fwd_free(f);
        return -1;
    }
    if (c->rope) {
        rope_tables(f);
    }
    return 0;
}

void alc_fwd_free(struct alc_fwd *f)
{
    struct alc_runstate *s = &f->s;
    free(s->x);
    free(f->blk_mem);
    free(s->xb);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->hb);
    free(s->hb2);
    free(s->scores);
    free(s->rope_cos);
    free(s->rope_sin);
    free(s->head_w);
    free(s->logits);
    free(s->lse_max);
    free(s->lse_sum);
    free(s->tgt);
    alc_pool_free(f->pool);
    memset(f, 0, sizeof *f);
}

static int check_dims(const struct alc_fwd *f, int B, int T, struct alc_diag *d)
{
    if (B < 1 || B > f->max_b || T < 1 || T > f->max_t) {
        alc_diag_errorf(d,
                        "forward: batch %d x %d outside the run state "
                        "(%d x %d)",
                        B, T, f->max_b, f->max_t);
        return -1;
    }
    return 0;
}

/* ---- Embeddings ---- */

struct emb_job {
    struct alc_fwd *f;
    const int32_t *ids;
    float *x; /* (M, C) */
    float *e; /* (M, P) token rows (x itself when P == C) */
    int T;
};

static void emb_task(void *ctx, int64_t task, int worker)
{
    const struct emb_job *j = ctx;
    const struct alc_model *m = j->f->m;
    const struct alc_config *c = j->f->c;
    int P = c->rope ? c->dim : c->proj_dim;
    (void)worker;
    alc_model_rows_f32(m, m->global[ALC_GT_EMBED], j->ids[task], 1,
                       j->e + task * P);
}

static void pos_task(void *ctx, int64_t task, int worker)
{
    const struct emb_job *j = ctx;
    const struct alc_model *m = j->f->m;
    const struct alc_config *c = j->f->c;
    float *row = j->f->s.att + task * c->dim; /* scratch: H*D == C in OPT */
    (void)worker;
    int pos = (int)(task % j->T) + c->pos_offset;
    alc_model_rows_f32(m, m->global[ALC_GT_POS], pos, 1, row);
    float *x = j->x + task * c->dim;
    for (int i = 0; i < c->dim; i++) {
        x[i] += row[i];
    }
}

int alc_fwd_embed(struct alc_fwd *f, const int32_t *ids, int B, int T, float *x,
                  struct alc_diag *d)
{
    const struct alc_config *c = f->c;
    const struct alc_model *m = f->m;
    int64_t M = (int64_t)B * T;
    if (check_dims(f, B, T, d) != 0) {
        return -1;
    }
    for (int64_t i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size) {
            alc_diag_errorf(d,
                            "token id %d at position %lld is outside the "
                            "vocabulary [0, %d)",
                            ids[i], (long long)i, c->vocab_size);
            return -1;
        }
    }
    int projected = !c->rope && c->proj_dim != c->dim;
    struct emb_job j = {f, ids, x, projected ? f->s.xb : x, T};
    alc_pool_run(f->pool, M, emb_task, &j);
    if (projected) {
        /* x (M, C) = e (M, P) . project_in (C, P)^T */
        float *pw = falloc((size_t)c->dim * c->proj_dim);
        if (pw == NULL) {
            alc_diag_errorf(d, "%s: out of memory", m->dir);
            return -1;
        }
        alc_model_rows_f32(m, m->global[ALC_GT_PROJ_IN], 0, c->dim, pw);
        matmul(f, x, f->s.xb, pw, NULL, B, T, c->dim, c->proj_dim);
        free(pw);
    }
    if (!c->rope) {
        alc_pool_run(f->pool, M, pos_task, &j);
        alc_model_release(m, m->global[ALC_GT_POS]);
    }
    alc_model_release(m, m->global[ALC_GT_EMBED]); /* rows read stay cold */
    return 0;
}

/* ---- One decoder block (straight-line) ---- */

static int call_hook(alc_lin_hook hook, void *ctx, const struct alc_block *b,
                     enum alc_lin lin, const float *x, int64_t M,
                     struct alc_diag *d)
{
    if (hook == NULL || b->w[lin] == NULL) {
        return 0;
    }
    if (hook(ctx, b->layer, lin, x, M, b->in[lin]) != 0) {
        alc_diag_errorf(d, "block %d: the activation hook failed", b->layer);
        return -1;
    }
    return 0;
}

int alc_fwd_block(struct alc_fwd *f, const struct alc_block *b, float *x, int B,
                  int T, alc_lin_hook hook, void *hook_ctx, struct alc_diag *d)
{
    const struct alc_config *c = f->c;
    struct alc_runstate *s = &f->s;
    int64_t M = (int64_t)B * T;
    int C = c->dim, F = c->hidden_dim;
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    if (check_dims(f, B, T, d) != 0) {
        return -1;
    }

    /* -- attention -- */
    /* xb = norm1(x)   (pre-norm; OPT post-norm feeds x itself) */
    const float *ain = x;
    if (c->pre_norm) {
        norm(f, s->xb, x, b->norm1, b->norm1_b, M);
        ain = s->xb;
    }
    for (int lin = ALC_LIN_Q; lin <= ALC_LIN_V; lin++) {
        if (call_hook(hook, hook_ctx, b, (enum alc_lin)lin, ain, M, d)) {
            return -1;
        }
    }
    /* q = ain Wq^T + bq (M, H*D); k, v = ain Wk^T + bk, ain Wv^T + bv */
    float *qkv[3] = {s->q, s->k, s->v};
    const float *wqkv[3] = {b->w[ALC_LIN_Q], b->w[ALC_LIN_K], b->w[ALC_LIN_V]};
    const float *bqkv[3] = {b->b[ALC_LIN_Q], b->b[ALC_LIN_K], b->b[ALC_LIN_V]};
    int nqkv[3] = {qd, kvd, kvd};
    matmul_n(f, 3, qkv, ain, wqkv, bqkv, nqkv, B, T, C);
    /* q, k = apply_rotary_pos_emb(q, k, cos, sin) */
    if (c->rope) {
        rows(f, OP_ROPE, s->q, s->k, NULL, NULL, M, 0, T);
    }
    /* att = softmax(q k^T / sqrt(D) + causal mask) v   (M, H*D) */
    attention(f, s->att, s->q, s->k, s->v, B, T);
    if (call_hook(hook, hook_ctx, b, ALC_LIN_O, s->att, M, d)) {
        return -1;
    }
    /* xb = att Wo^T + bo */
    matmul(f, s->xb, s->att, b->w[ALC_LIN_O], b->b[ALC_LIN_O], B, T, C, qd);
    if (c->pre_norm) {
        /* x = x + xb; xb = norm2(x), the MLP's input */
        add_norm(f, s->xb, x, s->xb, b->norm2, b->norm2_b, M);
    } else {
        /* x = norm1(x + xb) (OPT post-norm) */
        add_norm(f, x, x, s->xb, b->norm1, b->norm1_b, M);
    }

    /* -- MLP -- */
    const float *min = c->pre_norm ? s->xb : x;
    if (call_hook(hook, hook_ctx, b, ALC_LIN_GATE, min, M, d) ||
        call_hook(hook, hook_ctx, b, ALC_LIN_UP, min, M, d)) {
        return -1;
    }
    if (c->gated_mlp) {
        /* hb = act(min Wg^T) * (min Wu^T)   (M, F) */
        float *gu[2] = {s->hb, s->hb2};
        const float *wgu[2] = {b->w[ALC_LIN_GATE], b->w[ALC_LIN_UP]};
        const float *bgu[2] = {b->b[ALC_LIN_GATE], b->b[ALC_LIN_UP]};
        int ngu[2] = {F, F};
        matmul_n(f, 2, gu, min, wgu, bgu, ngu, B, T, C);
        rows(f, OP_SWIGLU, s->hb, s->hb2, NULL, NULL, M, F, T);
    } else {
        /* hb = act(min W1^T + b1)   (M, F) */
        matmul(f, s->hb, min, b->w[ALC_LIN_UP], b->b[ALC_LIN_UP], B, T, F, C);
        rows(f, OP_ACT, s->hb, NULL, NULL, NULL, M, F, T);
    }
    if (call_hook(hook, hook_ctx, b, ALC_LIN_DOWN, s->hb, M, d)) {
        return -1;
    }
    /* xb = hb Wd^T + bd; x = x + xb (post-norm: x = norm2(x + xb)) */
    matmul(f, s->xb, s->hb, b->w[ALC_LIN_DOWN], b->b[ALC_LIN_DOWN], B, T, C, F);
    if (c->pre_norm) {
        rows(f, OP_ADD, x, s->xb, NULL, NULL, M, C, T);
    } else {
        add_norm(f, x, x, s->xb, b->norm2, b->norm2_b, M);
    }
    return 0;
}

/* ---- Head ---- */

/*
 * x (M, C) -> h (M, P): final norm (in place) and OPT's project_out. Returns
 * the matrix the lm_head multiplies (x itself or s->xb).
 */
static float *head_input(struct alc_fwd *f, float *x, int B, int T,
                         struct alc_diag *d)
{
    const struct alc_config *c = f->c;
    const struct alc_model *m = f->m;
    int64_t M = (int64_t)B * T;
    if (c->final_norm) {
        float *w = falloc((size_t)c->dim), *b = falloc((size_t)c->dim);
        if (w == NULL || b == NULL) {
            free(w);
            free(b);
            alc_diag_errorf(d, "%s: out of memory", m->dir);
            return NULL;
        }
        alc_model_rows_f32(m, m->global[ALC_GT_NORM], 0, 1, w);
        if (c->layer_norm) {
            alc_model_rows_f32(m, m->global[ALC_GT_NORM_BIAS], 0, 1, b);
        }
        norm(f, x, x, w, b, M);
        free(w);
        free(b);
    }
    if (c->rope || c->proj_dim == c->dim) {
        return x;
    }
    float *pw = falloc((size_t)c->dim * c->proj_dim);
    if (pw == NULL) {
        alc_diag_errorf(d, "%s: out of memory", m->dir);
        return NULL;
    }
    alc_model_rows_f32(m, m->global[ALC_GT_PROJ_OUT], 0, c->proj_dim, pw);
    matmul(f, f->s.xb, x, pw, NULL, B, T, c->proj_dim, c->dim);
    free(pw);
    return f->s.xb;
}

struct cvt_rows_job {
    const struct alc_model *m;
    struct alc_tref r;
    int64_t row0, nrows;
    int cols;
    float *dst;
};

static void cvt_rows_task(void *ctx, int64_t task, int worker)
{
    const struct cvt_rows_job *j = ctx;
    (void)worker;
    int64_t r0 = task * 256, n = j->nrows - r0 < 256 ? j->nrows - r0 : 256;
    alc_model_prefetch_rows(j->m, j->r, j->row0 + r0, n);
    alc_model_rows_f32(j->m, j->r, j->row0 + r0, n,
                       j->dst + r0 * (int64_t)j->cols);
}

/* dst (nrows, cols) = rows [row0, row0 + nrows) of a tensor, in parallel. */
static void cvt_rows(struct alc_fwd *f, struct alc_tref r, int64_t row0,
                     int64_t nrows, int cols, float *dst)
{
    struct cvt_rows_job j = {f->m, r, row0, nrows, cols, dst};
    alc_pool_run(f->pool, (nrows + 255) / 256, cvt_rows_task, &j);
}

struct lse_job {
    struct alc_fwd *f;
    const int32_t *ids;
    int64_t M;     /* rows */
    int T, v0, vn; /* tokens; vocabulary chunk [v0, v0 + vn) */
};

/* Online log-sum-exp over one vocabulary chunk for a group of rows. */
static void lse_task(void *ctx, int64_t task, int worker)
{
    const struct lse_job *j = ctx;
    struct alc_runstate *s = &j->f->s;
    (void)worker;
    int64_t r1 = (task + 1) * ROWS_TASK;
    r1 = r1 < j->M ? r1 : j->M;
    for (int64_t r = task * ROWS_TASK; r < r1; r++) {
        float *l = s->logits + r * j->vn;
        float cm = -INFINITY;
        double cs = 0.0;
        if ((r + 1) % j->T == 0) {
            continue; /* last position: no next token */
        }
        int tgt = j->ids[r + 1] - j->v0;
        if (tgt >= 0 && tgt < j->vn) {
            s->tgt[r] = l[tgt];
        }
        for (int i = 0; i < j->vn; i++) {
            cm = l[i] > cm ? l[i] : cm;
        }
        vexp(l, l, cm, j->vn); /* the chunk's logits are not needed again */
        for (int i = 0; i < j->vn; i++) {
            cs += l[i];
        }
        if (cm > s->lse_max[r]) {
            s->lse_sum[r] =
                s->lse_sum[r] * exp((double)s->lse_max[r] - cm) + cs;
            s->lse_max[r] = cm;
        } else {
            s->lse_sum[r] += cs * exp((double)cm - s->lse_max[r]);
        }
    }
}

struct copy_job {
    const float *src;
    float *dst;
    int vn, V, v0;
};

static void copy_task(void *ctx, int64_t task, int worker)
{
    const struct copy_job *j = ctx;
    (void)worker;
    memcpy(j->dst + task * j->V + j->v0, j->src + task * j->vn,
           (size_t)j->vn * sizeof(float));
}

/* Streams lm_head in vocabulary chunks; nll or logits (one is NULL). */
static int head(struct alc_fwd *f, float *x, const int32_t *ids, int B, int T,
                float *nll, float *logits, struct alc_diag *d)
{
    const struct alc_config *c = f->c;
    const struct alc_model *m = f->m;
    struct alc_runstate *s = &f->s;
    int64_t M = (int64_t)B * T;
    int V = c->vocab_size, P = c->rope ? c->dim : c->proj_dim;
    struct alc_tref lm = m->global[ALC_GT_LM_HEAD];
    if (check_dims(f, B, T, d) != 0) {
        return -1;
    }
    float *h = head_input(f, x, B, T, d);
    if (h == NULL) {
        return -1;
    }
    for (int64_t r = 0; r < M; r++) {
        s->lse_max[r] = -INFINITY;
        s->lse_sum[r] = 0.0;
        s->tgt[r] = 0.0f;
    }
    for (int v0 = 0; v0 < V; v0 += VCHUNK) {
        int vn = V - v0 < VCHUNK ? V - v0 : VCHUNK;
        /* logits (M, vn) = h (M, P) . lm_head[v0:v0+vn] (vn, P)^T */
        cvt_rows(f, lm, v0, vn, P, s->head_w);
        alc_model_release_rows(m, lm, v0, vn);
        matmul(f, s->logits, h, s->head_w, NULL, B, T, vn, P);
        if (logits != NULL) {
            struct copy_job cj = {s->logits, logits, vn, V, v0};
            alc_pool_run(f->pool, M, copy_task, &cj);
        } else {
            struct lse_job lj = {f, ids, M, T, v0, vn};
            alc_pool_run(f->pool, (M + ROWS_TASK - 1) / ROWS_TASK, lse_task,
                         &lj);
        }
    }
    if (nll != NULL) {
        /* nll[b, t] = logsumexp(logits[b, t]) - logits[b, t, ids[b, t+1]] */
        for (int64_t r = 0; r < M; r++) {
            if ((r + 1) % T == 0) {
                continue;
            }
            double lse = s->lse_max[r] + log(s->lse_sum[r]);
            nll[r / T * (T - 1) + r % T] = (float)(lse - s->tgt[r]);
        }
    }
    return 0;
}

int alc_fwd_head_nll(struct alc_fwd *f, float *x, const int32_t *ids, int B,
                     int T, float *nll, struct alc_diag *d)
{
    return head(f, x, ids, B, T, nll, NULL, d);
}

int alc_fwd_head_logits(struct alc_fwd *f, float *x, int B, int T,
                        float *logits, struct alc_diag *d)
{
    return head(f, x, NULL, B, T, NULL, logits, d);
}

/* ---- Whole model ---- */

static int run_blocks(struct alc_fwd *f, const int32_t *ids, int B, int T,
                      float *x, struct alc_diag *d)
{
    struct alc_block blk;
    if (alc_fwd_embed(f, ids, B, T, x, d) != 0) {
        return -1;
    }
    for (int l = 0; l < f->c->n_layers; l++) {
        if (block_load(&blk, f->m, l, f->pool, f->blk_mem, f->blk_cap, d) !=
            0) {
            return -1;
        }
        int rc = alc_fwd_block(f, &blk, x, B, T, NULL, NULL, d);
        alc_block_free(&blk);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

int alc_fwd_nll(struct alc_fwd *f, const int32_t *ids, int B, int T, float *nll,
                struct alc_diag *d)
{
    if (check_dims(f, B, T, d) != 0 ||
        run_blocks(f, ids, B, T, f->s.x, d) != 0) {
        return -1;
    }
    return alc_fwd_head_nll(f, f->s.x, ids, B, T, nll, d);
}

int alc_fwd_logits(struct alc_fwd *f, const int32_t *ids, int B, int T,
                   float *logits, struct alc_diag *d)
{
    if (check_dims(f, B, T, d) != 0 ||
        run_blocks(f, ids, B, T, f->s.x, d) != 0) {
        return -1;
    }
    return alc_fwd_head_logits(f, f->s.x, B, T, logits, d);
}

const char *alc_fwd_blas_core(void)
{
    return openblas_get_corename();
}

const char *alc_fwd_blas_advice(void)
{
    static const char *const generic[] = {"prescott", "core2",  "nehalem",
                                          "atom",     "katmai", "coppermine"};
    const char *core = openblas_get_corename();
    int is_generic = 0;
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++) {
        is_generic |= strcasecmp(core, generic[i]) == 0;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (is_generic && __builtin_cpu_supports("avx512f")) {
        return "OpenBLAS did not recognise this CPU and runs generic kernels;"
               " set OPENBLAS_CORETYPE=SkylakeX (AVX-512) for faster GEMMs";
    }
    if (is_generic && __builtin_cpu_supports("avx2")) {
        return "OpenBLAS did not recognise this CPU and runs generic kernels;"
               " set OPENBLAS_CORETYPE=Haswell (AVX2) for faster GEMMs";
    }
#endif
    (void)is_generic;
    return NULL;
}

double alc_fwd_flops(const struct alc_config *c, int B, int T)
{
    double M = (double)B * T, C = c->dim, F = c->hidden_dim;
    double q = (double)c->n_heads * c->head_dim;
    double kv = (double)c->n_kv_heads * c->head_dim;
    double P = c->rope ? C : c->proj_dim;
    double lin = 2.0 * M * (C * q + 2.0 * C * kv + q * C);
    lin += 2.0 * M * C * F * (c->gated_mlp ? 3.0 : 2.0);
    /* causal pairs per sequence: sum over t of keys kept */
    double pairs = 0.0;
    for (int t = 0; t < T; t++) {
        int kept = t + 1;
        if (c->sliding_window > 0 && kept > c->sliding_window) {
            kept = c->sliding_window;
        }
        pairs += kept;
    }
    double att = 4.0 * c->head_dim * pairs * c->n_heads * B;
    double head = 2.0 * M * P * c->vocab_size;
    return c->n_layers * (lin + att) + head;
}
