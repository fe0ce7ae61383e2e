/*
 * prune.c: magnitude and Wanda pruning of one f32 matrix in place, the
 * alc_prune dispatcher, and the deterministic selection helpers every
 * pruner shares (radix select of the k-th smallest metric, N:M groups).
 * SparseGPT lives in sparsegpt.c, the statistics in prune_stats.c.
 *
 * Notation: W (rows, cols) row-major f32; s the sparsity; k = int(count*s).
 * Metrics are compared through alc_prune_key (the float's bits), so every
 * selection is exact and independent of the thread count.
 */
#include <math.h>
#include <stdlib.h>

#include "prune.h"
#include "prune_impl.h"

/* ---- Method names ---- */

const char *const alc_prune_method_name[ALC_PRUNE_COUNT] = {
    [ALC_PRUNE_MAGNITUDE] = "magnitude",
    [ALC_PRUNE_WANDA] = "wanda",
    [ALC_PRUNE_SPARSEGPT] = "sparsegpt",
};
_Static_assert(ALC_PRUNE_COUNT == 3, "update alc_prune_method_name");

int alc_prune_method_from_name(const char *name)
{
    for (int i = 0; i < ALC_PRUNE_COUNT; i++) {
        if (strcmp(name, alc_prune_method_name[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void alc_prune_opts_default(struct alc_prune_opts *o,
                            enum alc_prune_method method, double sparsity)
{
    memset(o, 0, sizeof *o);
    o->method = method;
    o->sparsity = sparsity;
    o->blocksize = 128;
    o->percdamp = 0.01;
    o->max_retries = 3;
}

/* ---- Selection ---- */

/* One radix pass: the digit bucket holding rank *k among cand[0..n). */
static int pick_bucket(const uint32_t *cand, int64_t n, int shift,
                       int64_t *k, int64_t *below)
{
    int64_t hist[256] = {0};
    for (int64_t i = 0; i < n; i++) {
        hist[(cand[i] >> shift) & 255u]++;
    }
    int b = 0;
    while (*k >= hist[b]) {
        *k -= hist[b];
        *below += hist[b];
        b++;
    }
    return b;
}

uint32_t alc_prune_select(const uint32_t *keys, int64_t n, int64_t k,
                          uint32_t *scratch, int64_t *n_less)
{
    const uint32_t *cand = keys;
    int64_t m = n, below = 0;
    uint32_t prefix = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        int b = pick_bucket(cand, m, shift, &k, &below);
        prefix |= (uint32_t)b << shift;
        /* Keep the candidates whose digit is b (in place after pass 1). */
        int64_t j = 0;
        for (int64_t i = 0; i < m; i++) {
            if (((cand[i] >> shift) & 255u) == (uint32_t)b) {
                scratch[j++] = cand[i];
            }
        }
        cand = scratch;
        m = j;
    }
    *n_less = below;
    return prefix;
}

int64_t alc_prune_mark_smallest(const uint32_t *keys, int64_t n, int64_t k,
                                int keep_ties, uint32_t *scratch,
                                uint8_t *mask)
{
    int64_t n_less = 0, marked = 0;
    uint32_t t = alc_prune_select(keys, n, k, scratch, &n_less);
    if (keep_ties) {
        for (int64_t i = 0; i < n; i++) {
            mask[i] = keys[i] <= t;
            marked += mask[i];
        }
        return marked;
    }
    int64_t ties = k - n_less; /* entries equal to t that still go */
    for (int64_t i = 0; i < n; i++) {
        int take = keys[i] < t || (keys[i] == t && ties > 0);
        ties -= keys[i] == t && take;
        mask[i] = (uint8_t)take;
        marked += take;
    }
    return marked;
}

void alc_prune_nm_group(const uint32_t *keys, int m, int n, uint8_t *mask)
{
    for (int j = 0; j < m; j++) {
        int rank = 0;
        for (int l = 0; l < m; l++) {
            rank += keys[l] < keys[j] || (keys[l] == keys[j] && l < j);
        }
        mask[j] = rank < n;
    }
}

/* ---- Checks and shared loops ---- */

int alc_prune_check(const float *W, int64_t rows, int64_t cols,
                    const struct alc_prune_opts *o, struct alc_diag *d)
{
    if (W == NULL || rows <= 0 || cols <= 0) {
        alc_diag_errorf(d, "prune: empty matrix (%lld x %lld)",
                        (long long)rows, (long long)cols);
        return -1;
    }
    if ((int)o->method < 0 || o->method >= ALC_PRUNE_COUNT) {
        alc_diag_errorf(d, "prune: unknown method %d", (int)o->method);
        return -1;
    }
    if (o->n != 0 || o->m != 0) {
        if (o->n <= 0 || o->m <= o->n || o->m > 64) {
            alc_diag_errorf(d, "prune: invalid N:M pattern %d:%d (need "
                            "0 < N < M <= 64)", o->n, o->m);
            return -1;
        }
        if (cols % o->m != 0) {
            alc_diag_errorf(d, "prune: %d:%d needs in_features (%lld) to "
                            "be a multiple of %d", o->n, o->m,
                            (long long)cols, o->m);
            return -1;
        }
    } else if (!(o->sparsity >= 0.0 && o->sparsity < 1.0)) {
        alc_diag_errorf(d, "prune: sparsity %g is outside [0, 1)",
                        o->sparsity);
        return -1;
    }
    return 0;
}

int64_t alc_prune_rows_per_task(int64_t rows, struct alc_pool *pool)
{
    int64_t tasks = 8 * (int64_t)alc_pool_threads(pool);
    int64_t per = (rows + tasks - 1) / tasks;
    return per < 1 ? 1 : per;
}

struct zero_job {
    const float *W;
    int64_t rows, cols, per;
    int64_t *count; /* (n_tasks) */
};

static void zero_task(void *ctx, int64_t task, int worker)
{
    struct zero_job *j = ctx;
    int64_t r0 = task * j->per, r1 = r0 + j->per, c = 0;
    (void)worker;
    r1 = r1 > j->rows ? j->rows : r1;
    for (int64_t i = r0 * j->cols; i < r1 * j->cols; i++) {
        c += j->W[i] == 0.0f;
    }
    j->count[task] = c;
}

void alc_prune_count_zeros(const float *W, int64_t rows, int64_t cols,
                           struct alc_pool *pool,
                           struct alc_prune_result *res)
{
    struct zero_job j = {W, rows, cols, 0, NULL};
    j.per = alc_prune_rows_per_task(rows, pool);
    int64_t n_tasks = (rows + j.per - 1) / j.per;
    j.count = calloc((size_t)n_tasks, sizeof *j.count);
    if (j.count == NULL) { /* fall back to one serial pass */
        j.per = rows;
        int64_t one = 0;
        j.count = &one;
        zero_task(&j, 0, 0);
        res->zeros = one;
        return;
    }
    alc_pool_run(pool, n_tasks, zero_task, &j);
    res->zeros = 0;
    for (int64_t t = 0; t < n_tasks; t++) {
        res->zeros += j.count[t];
    }
    free(j.count);
}

/* ---- N:M for magnitude and Wanda (metric |W| * act, act may be NULL) ---- */

struct nm_job {
    float *W;
    int64_t rows, cols, per;
    const float *act; /* (cols) or NULL for magnitude */
    int n, m;
    uint8_t *mask;    /* (rows, cols) or NULL */
    int64_t *pruned;  /* (n_tasks) */
};

static void nm_task(void *ctx, int64_t task, int worker)
{
    struct nm_job *j = ctx;
    int64_t r0 = task * j->per, r1 = r0 + j->per, cnt = 0;
    uint32_t keys[64];
    uint8_t pick[64];
    (void)worker;
    r1 = r1 > j->rows ? j->rows : r1;
    for (int64_t r = r0; r < r1; r++) {
        float *w = j->W + r * j->cols;
        for (int64_t c0 = 0; c0 < j->cols; c0 += j->m) {
            for (int l = 0; l < j->m; l++) {
                float a = j->act != NULL ? j->act[c0 + l] : 1.0f;
                keys[l] = alc_prune_key(fabsf(w[c0 + l]) * a);
            }
            alc_prune_nm_group(keys, j->m, j->n, pick);
            for (int l = 0; l < j->m; l++) {
                if (pick[l]) {
                    w[c0 + l] = 0.0f;
                }
                if (j->mask != NULL) {
                    j->mask[r * j->cols + c0 + l] = pick[l];
                }
            }
            cnt += j->n;
        }
    }
    j->pruned[task] = cnt;
}

static int prune_nm(float *W, int64_t rows, int64_t cols, const float *act,
                    const struct alc_prune_opts *o,
                    struct alc_prune_result *res, struct alc_diag *d)
{
    struct nm_job j = {W, rows, cols, 0, act, o->n, o->m, res->mask, NULL};
    j.per = alc_prune_rows_per_task(rows, o->pool);
    int64_t n_tasks = (rows + j.per - 1) / j.per;
    j.pruned = calloc((size_t)n_tasks, sizeof *j.pruned);
    if (j.pruned == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        return -1;
    }
    alc_pool_run(o->pool, n_tasks, nm_task, &j);
    for (int64_t t = 0; t < n_tasks; t++) {
        res->pruned += j.pruned[t];
    }
    free(j.pruned);
    return 0;
}

/* ---- Magnitude: one threshold per matrix ---- */

/*
 * The k-th smallest |W| comes from two 16-bit radix passes straight over W
 * (no copy of the matrix): pass 1 histograms the high 16 bits of every key,
 * pass 2 the low 16 bits of the keys in the chosen high bucket. Each worker
 * owns its histograms; integer counts make the sum order irrelevant.
 */
enum { HIST = 65536 };

struct mag_job {
    float *W;
    int64_t rows, cols, per;
    int pass;          /* 1, 2: histograms; 3: count ties; 4: apply */
    uint32_t hi;       /* pass 2: the high half of the threshold key */
    uint32_t t;        /* passes 3-4: the threshold key */
    int keep_ties;     /* pass 4: prune every key <= t */
    uint64_t *hist;    /* (threads, HIST) */
    int64_t *ties;     /* (n_tasks): pass 3 counts, pass 4 quotas */
    int64_t *pruned;   /* (n_tasks) */
    uint8_t *mask;     /* (rows, cols) or NULL */
};

static void mag_hist(struct mag_job *j, int64_t i0, int64_t i1, int worker)
{
    uint64_t *h = j->hist + (size_t)worker * HIST;
    for (int64_t i = i0; i < i1; i++) {
        uint32_t key = alc_prune_key(j->W[i]);
        if (j->pass == 1) {
            h[key >> 16]++;
        } else if ((key >> 16) == j->hi) {
            h[key & 0xffffu]++;
        }
    }
}

static void mag_apply(struct mag_job *j, int64_t task, int64_t i0,
                      int64_t i1)
{
    int64_t quota = j->ties[task], cnt = 0;
    for (int64_t i = i0; i < i1; i++) {
        uint32_t key = alc_prune_key(j->W[i]);
        int take = key < j->t || (key == j->t && (j->keep_ties || quota > 0));
        quota -= key == j->t && take;
        if (take) {
            j->W[i] = 0.0f;
        }
        if (j->mask != NULL) {
            j->mask[i] = (uint8_t)take;
        }
        cnt += take;
    }
    j->pruned[task] = cnt;
}

static void mag_task(void *ctx, int64_t task, int worker)
{
    struct mag_job *j = ctx;
    int64_t r1 = (task + 1) * j->per;
    int64_t i0 = task * j->per * j->cols;
    int64_t i1 = (r1 > j->rows ? j->rows : r1) * j->cols;
    if (j->pass <= 2) {
        mag_hist(j, i0, i1, worker);
    } else if (j->pass == 3) {
        int64_t c = 0;
        for (int64_t i = i0; i < i1; i++) {
            c += alc_prune_key(j->W[i]) == j->t;
        }
        j->ties[task] = c;
    } else {
        mag_apply(j, task, i0, i1);
    }
}

/* Sums the workers' histograms and finds the bucket of rank *k. */
static uint32_t mag_bucket(struct mag_job *j, int threads, int64_t *k,
                           int64_t *below)
{
    for (int w = 1; w < threads; w++) {
        for (int b = 0; b < HIST; b++) {
            j->hist[b] += j->hist[(size_t)w * HIST + b];
        }
    }
    uint32_t b = 0;
    while (*k >= (int64_t)j->hist[b]) {
        *k -= (int64_t)j->hist[b];
        *below += (int64_t)j->hist[b];
        b++;
    }
    memset(j->hist, 0, (size_t)threads * HIST * sizeof *j->hist);
    return b;
}

/* Turns pass-3 tie counts into per-task quotas of ties to prune. */
static void mag_quotas(int64_t *ties, int64_t n_tasks, int64_t need)
{
    for (int64_t t = 0; t < n_tasks; t++) {
        int64_t c = ties[t];
        ties[t] = need < c ? need : c;
        need -= ties[t];
    }
}

static int prune_magnitude_unstructured(float *W, int64_t rows,
                                        int64_t cols,
                                        const struct alc_prune_opts *o,
                                        struct alc_prune_result *res,
                                        struct alc_diag *d)
{
    int rc = -1, threads = alc_pool_threads(o->pool);
    struct mag_job j = {0};
    int64_t k = alc_prune_count_k(rows * cols, o->sparsity), below = 0;
    int64_t need = k, n_tasks;
    j.W = W;
    j.rows = rows;
    j.cols = cols;
    j.mask = res->mask;
    j.keep_ties = !o->exact;
    j.per = alc_prune_rows_per_task(rows, o->pool);
    n_tasks = (rows + j.per - 1) / j.per;
    j.hist = calloc((size_t)threads * HIST, sizeof *j.hist);
    j.ties = calloc((size_t)n_tasks, sizeof *j.ties);
    j.pruned = calloc((size_t)n_tasks, sizeof *j.pruned);
    if (j.hist == NULL || j.ties == NULL || j.pruned == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        goto done;
    }
    j.pass = 1;
    alc_pool_run(o->pool, n_tasks, mag_task, &j);
    j.hi = mag_bucket(&j, threads, &k, &below);
    j.pass = 2;
    alc_pool_run(o->pool, n_tasks, mag_task, &j);
    j.t = (j.hi << 16) | mag_bucket(&j, threads, &k, &below);
    if (o->exact) { /* below = keys < t; need - below ties go, in order */
        j.pass = 3;
        alc_pool_run(o->pool, n_tasks, mag_task, &j);
        mag_quotas(j.ties, n_tasks, need - below);
    }
    j.pass = 4;
    alc_pool_run(o->pool, n_tasks, mag_task, &j);
    for (int64_t t = 0; t < n_tasks; t++) {
        res->pruned += j.pruned[t];
    }
    rc = 0;
done:
    free(j.hist);
    free(j.ties);
    free(j.pruned);
    return rc;
}

/* Is this an unstructured prune with nothing to do? */
static int nothing_to_prune(const struct alc_prune_opts *o)
{
    return o->n == 0 && o->sparsity == 0.0;
}

static void clear_mask(struct alc_prune_result *res, int64_t rows,
                       int64_t cols)
{
    if (res->mask != NULL) {
        memset(res->mask, 0, (size_t)(rows * cols));
    }
}

int alc_prune_magnitude(float *W, int64_t rows, int64_t cols,
                        const struct alc_prune_opts *o,
                        struct alc_prune_result *res, struct alc_diag *d)
{
    double t0 = alc_now();
    int rc;
    res->pruned = 0;
    if (alc_prune_check(W, rows, cols, o, d) != 0) {
        return -1;
    }
    if (nothing_to_prune(o)) {
        clear_mask(res, rows, cols);
        rc = 0;
    } else if (o->n > 0) {
        rc = prune_nm(W, rows, cols, NULL, o, res, d);
    } else {
        rc = prune_magnitude_unstructured(W, rows, cols, o, res, d);
    }
    if (rc == 0) {
        alc_prune_count_zeros(W, rows, cols, o->pool, res);
    }
    res->seconds = alc_now() - t0;
    return rc;
}

/* ---- Wanda: |W| * sqrt(scaler_row), k smallest per output row ---- */

struct wanda_job {
    float *W;
    int64_t rows, cols, per, k;
    const float *act;    /* (cols) sqrtf(scaler_row) */
    uint32_t *keys;      /* (threads, cols) */
    uint32_t *scratch;   /* (threads, cols) */
    uint8_t *pick;       /* (threads, cols) */
    uint8_t *mask;       /* (rows, cols) or NULL */
};

static void wanda_row(struct wanda_job *j, int64_t r, int worker)
{
    size_t off = (size_t)worker * (size_t)j->cols;
    uint32_t *keys = j->keys + off;
    uint8_t *pick = j->pick + off;
    float *w = j->W + r * j->cols;
    for (int64_t c = 0; c < j->cols; c++) {
        keys[c] = alc_prune_key(fabsf(w[c]) * j->act[c]);
    }
    alc_prune_mark_smallest(keys, j->cols, j->k, 0, j->scratch + off, pick);
    for (int64_t c = 0; c < j->cols; c++) {
        if (pick[c]) {
            w[c] = 0.0f;
        }
    }
    if (j->mask != NULL) {
        memcpy(j->mask + r * j->cols, pick, (size_t)j->cols);
    }
}

static void wanda_task(void *ctx, int64_t task, int worker)
{
    struct wanda_job *j = ctx;
    int64_t r0 = task * j->per, r1 = r0 + j->per;
    r1 = r1 > j->rows ? j->rows : r1;
    for (int64_t r = r0; r < r1; r++) {
        wanda_row(j, r, worker);
    }
}

static int prune_wanda_unstructured(float *W, int64_t rows, int64_t cols,
                                    const float *act,
                                    const struct alc_prune_opts *o,
                                    struct alc_prune_result *res,
                                    struct alc_diag *d)
{
    int rc = -1;
    size_t per_thread = (size_t)alc_pool_threads(o->pool) * (size_t)cols;
    struct wanda_job j = {W, rows, cols, 0, 0, act, NULL, NULL, NULL,
                          res->mask};
    j.k = alc_prune_count_k(cols, o->sparsity);
    j.per = alc_prune_rows_per_task(rows, o->pool);
    j.keys = malloc(per_thread * sizeof *j.keys);
    j.scratch = malloc(per_thread * sizeof *j.scratch);
    j.pick = malloc(per_thread);
    if (j.keys == NULL || j.scratch == NULL || j.pick == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        goto done;
    }
    alc_pool_run(o->pool, (rows + j.per - 1) / j.per, wanda_task, &j);
    res->pruned = rows * j.k;
    rc = 0;
done:
    free(j.keys);
    free(j.scratch);
    free(j.pick);
    return rc;
}

int alc_prune_wanda(float *W, int64_t rows, int64_t cols,
                    const float *scaler_row, const struct alc_prune_opts *o,
                    struct alc_prune_result *res, struct alc_diag *d)
{
    double t0 = alc_now();
    int rc = -1;
    float *act = NULL;
    res->pruned = 0;
    if (alc_prune_check(W, rows, cols, o, d) != 0) {
        return -1;
    }
    if (scaler_row == NULL) {
        alc_diag_errorf(d, "prune: wanda needs activation statistics");
        return -1;
    }
    act = malloc((size_t)cols * sizeof *act);
    if (act == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        goto done;
    }
    for (int64_t c = 0; c < cols; c++) { /* torch.sqrt(scaler_row) */
        act[c] = sqrtf(scaler_row[c]);
    }
    if (nothing_to_prune(o)) {
        clear_mask(res, rows, cols);
        rc = 0;
    } else if (o->n > 0) {
        rc = prune_nm(W, rows, cols, act, o, res, d);
    } else {
        rc = prune_wanda_unstructured(W, rows, cols, act, o, res, d);
    }
    if (rc == 0) {
        alc_prune_count_zeros(W, rows, cols, o->pool, res);
    }
done:
    free(act);
    res->seconds = alc_now() - t0;
    return rc;
}

/* ---- Dispatcher ---- */

/* SparseGPT from statistics: on stats->H itself or on a copy of it. */
static int prune_sparsegpt_stats(float *W, int64_t rows, int64_t cols,
                                 struct alc_prune_stats *s,
                                 const struct alc_prune_opts *o,
                                 struct alc_prune_result *res,
                                 struct alc_diag *d)
{
    size_t bytes = (size_t)cols * (size_t)cols * sizeof(float);
    float *H = s->H;
    int rc;
    if (!o->consume) {
        H = malloc(bytes);
        if (H == NULL) {
            alc_diag_errorf(d, "prune: cannot allocate a copy of the "
                            "Hessian (%.0f MB); set consume to prune in "
                            "place", (double)bytes / 1e6);
            return -1;
        }
        memcpy(H, s->H, bytes);
    }
    rc = alc_prune_sparsegpt(W, rows, cols, H, o, res, d);
    if (!o->consume) {
        free(H);
    } else {
        free(s->H);
        s->H = NULL;
        s->which &= ~ALC_STAT_HESSIAN;
    }
    return rc;
}

/* Does s hold the statistics the method needs for this matrix? */
static int check_stats(const struct alc_prune_stats *s, int64_t cols,
                       enum alc_prune_method m, struct alc_diag *d)
{
    unsigned need = alc_prune_stats_needed(m);
    if (need == 0) {
        return 0;
    }
    if (s == NULL || (s->which & need) != need || s->nsamples == 0) {
        alc_diag_errorf(d, "prune: %s needs calibration statistics (%s) "
                        "and none were collected", alc_prune_method_name[m],
                        need == ALC_STAT_HESSIAN ? "Hessian" : "scaler_row");
        return -1;
    }
    if (s->cols != cols) {
        alc_diag_errorf(d, "prune: statistics have %lld inputs but the "
                        "matrix has %lld columns", (long long)s->cols,
                        (long long)cols);
        return -1;
    }
    return 0;
}

static int prune_wanda_stats(float *W, int64_t rows, int64_t cols,
                             const struct alc_prune_stats *s,
                             const struct alc_prune_opts *o,
                             struct alc_prune_result *res,
                             struct alc_diag *d)
{
    float *scaler = malloc((size_t)cols * sizeof *scaler);
    int rc;
    if (scaler == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        return -1;
    }
    alc_prune_stats_scaler_row(s, scaler);
    rc = alc_prune_wanda(W, rows, cols, scaler, o, res, d);
    free(scaler);
    return rc;
}

int alc_prune(float *W, int64_t rows, int64_t cols,
              struct alc_prune_stats *stats, const struct alc_prune_opts *o,
              struct alc_prune_result *res, struct alc_diag *d)
{
    double t0 = alc_now();
    int rc = -1;
    res->pruned = res->zeros = 0;
    res->loss = res->damp = 0.0;
    res->fallback = ALC_FALLBACK_NONE;
    if (alc_prune_check(W, rows, cols, o, d) != 0 ||
        check_stats(stats, cols, o->method, d) != 0) {
        return -1;
    }
    switch (o->method) {
    case ALC_PRUNE_MAGNITUDE:
        rc = alc_prune_magnitude(W, rows, cols, o, res, d);
        break;
    case ALC_PRUNE_WANDA:
        rc = prune_wanda_stats(W, rows, cols, stats, o, res, d);
        break;
    case ALC_PRUNE_SPARSEGPT:
        rc = prune_sparsegpt_stats(W, rows, cols, stats, o, res, d);
        break;
    default:
        break;
    }
    res->seconds = alc_now() - t0;
    return rc;
}
