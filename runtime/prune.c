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

/*
 * Radix select over uint32 keys. Each pass histograms an 8-bit digit that
 * starts at the highest bit where the remaining candidates differ (float
 * metrics share their top bits, so a fixed top byte would barely split
 * them), keeps the bucket holding rank k, and stops when the candidates are
 * all equal. Four interleaved histograms keep runs of equal digits from
 * serialising on one counter.
 */
static void minmax_u32(const uint32_t *a, int64_t n, uint32_t *lo, uint32_t *hi)
{
    uint32_t l = a[0], h = a[0];
    for (int64_t i = 1; i < n; i++) {
        l = a[i] < l ? a[i] : l;
        h = a[i] > h ? a[i] : h;
    }
    *lo = l;
    *hi = h;
}

/* Shift of the `bits`-wide digit topped by the highest bit of lo ^ hi. */
static int digit_shift(uint32_t lo, uint32_t hi, int bits)
{
    int h = 31 - __builtin_clz(lo ^ hi);
    return h >= bits - 1 ? h - (bits - 1) : 0;
}

/* The bucket of rank *k in hist[0..nb); subtracts what lies below it. */
static int rank_bucket(const int64_t *hist, int nb, int64_t *k, int64_t *below)
{
    int b = 0;
    while (b < nb - 1 && *k >= hist[b]) {
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
    uint32_t lo, hi;
    minmax_u32(keys, n, &lo, &hi);
    while (lo != hi) {
        int sh = digit_shift(lo, hi, 8);
        uint32_t base = lo >> sh;
        int32_t h4[4][256];
        int64_t hist[256];
        memset(h4, 0, sizeof h4);
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            h4[0][(cand[i] >> sh) - base]++;
            h4[1][(cand[i + 1] >> sh) - base]++;
            h4[2][(cand[i + 2] >> sh) - base]++;
            h4[3][(cand[i + 3] >> sh) - base]++;
        }
        for (; i < m; i++) {
            h4[0][(cand[i] >> sh) - base]++;
        }
        for (int b = 0; b < 256; b++) {
            hist[b] = (int64_t)h4[0][b] + h4[1][b] + h4[2][b] + h4[3][b];
        }
        uint32_t want = base + (uint32_t)rank_bucket(hist, 256, &k, &below);
        int64_t j = 0;
        for (i = 0; i < m; i++) { /* branch-free compaction */
            scratch[j] = cand[i];
            j += (cand[i] >> sh) == want;
        }
        cand = scratch;
        m = j;
        minmax_u32(cand, m, &lo, &hi);
    }
    *n_less = below;
    return lo;
}

int64_t alc_prune_mark_smallest(const uint32_t *keys, int64_t n, int64_t k,
                                int keep_ties, uint32_t *scratch, uint8_t *mask)
{
    int64_t n_less = 0, marked = 0;
    uint32_t t = alc_prune_select(keys, n, k, scratch, &n_less);
    /* entries equal to t that still go: all (keep_ties) or k - n_less */
    int64_t ties = keep_ties ? n : k - n_less;
    for (int64_t i = 0; i < n; i++) { /* branch-free: random compares */
        int64_t lt = keys[i] < t, eq = keys[i] == t;
        int64_t take = lt | (eq & (ties > 0));
        ties -= eq & take;
        mask[i] = (uint8_t)take;
        marked += take;
    }
    return marked;
}

void alc_prune_nm_group(const uint32_t *keys, int m, int n, uint8_t *mask)
{
    for (int j = 0; j < m; j++) { /* rank in (key, index) order */
        int rank = 0;
        for (int l = 0; l < m; l++) { /* branch-free: random compares */
            rank += (keys[l] < keys[j]) | ((keys[l] == keys[j]) & (l < j));
        }
        mask[j] = rank < n;
    }
}

/* ---- Checks and shared loops ---- */

int alc_prune_check(const float *W, int64_t rows, int64_t cols,
                    const struct alc_prune_opts *o, struct alc_diag *d)
{
    if (W == NULL || rows <= 0 || cols <= 0) {
        alc_diag_errorf(d, "prune: empty matrix (%lld x %lld)", (long long)rows,
                        (long long)cols);
        return -1;
    }
    if ((int)o->method < 0 || o->method >= ALC_PRUNE_COUNT) {
        alc_diag_errorf(d, "prune: unknown method %d", (int)o->method);
        return -1;
    }
    if (o->n != 0 || o->m != 0) {
        if (o->n <= 0 || o->m <= o->n || o->m > 64) {
            alc_diag_errorf(d,
                            "prune: invalid N:M pattern %d:%d (need "
                            "0 < N < M <= 64)",
                            o->n, o->m);
            return -1;
        }
        if (cols % o->m != 0) {
            alc_diag_errorf(d,
                            "prune: %d:%d needs in_features (%lld) to "
                            "be a multiple of %d",
                            o->n, o->m, (long long)cols, o->m);
            return -1;
        }
    } else if (!(o->sparsity >= 0.0 && o->sparsity < 1.0)) {
        alc_diag_errorf(d, "prune: sparsity %g is outside [0, 1)", o->sparsity);
        return -1;
    }
    return 0;
}

/* Zeroes w when take is 1, branch-free (+0.0, as the reference's W[m] = 0). */
static inline void zero_if(float *w, int64_t take)
{
    uint32_t u;
    memcpy(&u, w, sizeof u);
    u &= (uint32_t)take - 1u;
    memcpy(w, &u, sizeof u);
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
                           struct alc_pool *pool, struct alc_prune_result *res)
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
    uint8_t *mask;   /* (rows, cols) or NULL */
    int64_t *pruned; /* (n_tasks) */
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
                zero_if(w + c0 + l, pick[l]);
            }
            if (j->mask != NULL) {
                memcpy(j->mask + r * j->cols + c0, pick, (size_t)j->m);
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
 * The k-th smallest |W| by radix passes straight over W (no copy of the
 * matrix): the candidates are always an interval [L, U] of keys; each pass
 * histograms the next 11-bit digit of the keys inside it (the first digit
 * starts at the highest bit where min and max differ), keeps the bucket of
 * rank k, and narrows the interval. Each worker owns its histogram; integer
 * counts make the sum order irrelevant.
 */
enum { MAG_BITS = 11, MAG_BUCKETS = 1 << MAG_BITS };

struct mag_job {
    float *W;
    int64_t rows, cols, per;
    int pass;        /* 0: min/max; 1: histogram; 2: count ties; 3: apply */
    uint32_t L, U;   /* pass 1: candidate interval of keys */
    int sh;          /* pass 1: digit shift */
    uint32_t t;      /* passes 2-3: the threshold key */
    int keep_ties;   /* pass 3: prune every key <= t */
    int64_t *hist;   /* (threads, MAG_BUCKETS) */
    uint32_t *lohi;  /* (n_tasks, 2) pass 0 */
    int64_t *ties;   /* (n_tasks): pass 2 counts, pass 3 quotas */
    int64_t *pruned; /* (n_tasks) */
    uint8_t *mask;   /* (rows, cols) or NULL */
};

static void mag_minmax(struct mag_job *j, int64_t task, int64_t i0, int64_t i1)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int64_t i = i0; i < i1; i++) {
        uint32_t key = alc_prune_key(j->W[i]);
        lo = key < lo ? key : lo;
        hi = key > hi ? key : hi;
    }
    j->lohi[2 * task] = lo;
    j->lohi[2 * task + 1] = hi;
}

static void mag_hist(struct mag_job *j, int64_t i0, int64_t i1, int worker)
{
    int64_t *h = j->hist + (size_t)worker * MAG_BUCKETS;
    uint32_t base = j->L >> j->sh;
    for (int64_t i = i0; i < i1; i++) {
        /* branch-free: keys outside [L, U] add 0 to some bucket */
        uint32_t key = alc_prune_key(j->W[i]);
        int64_t in = key - j->L <= j->U - j->L;
        h[((key >> j->sh) - base) & (MAG_BUCKETS - 1)] += in;
    }
}

static void mag_apply(struct mag_job *j, int64_t task, int64_t i0, int64_t i1)
{
    int64_t quota = j->keep_ties ? i1 - i0 : j->ties[task], cnt = 0;
    for (int64_t i = i0; i < i1; i++) { /* branch-free: random compares */
        uint32_t key = alc_prune_key(j->W[i]);
        int64_t lt = key < j->t, eq = key == j->t;
        int64_t take = lt | (eq & (quota > 0));
        quota -= eq & take;
        zero_if(j->W + i, take);
        cnt += take;
        if (j->mask != NULL) {
            j->mask[i] = (uint8_t)take;
        }
    }
    j->pruned[task] = cnt;
}

static void mag_task(void *ctx, int64_t task, int worker)
{
    struct mag_job *j = ctx;
    int64_t r1 = (task + 1) * j->per;
    int64_t i0 = task * j->per * j->cols;
    int64_t i1 = (r1 > j->rows ? j->rows : r1) * j->cols;
    if (j->pass == 0) {
        mag_minmax(j, task, i0, i1);
    } else if (j->pass == 1) {
        mag_hist(j, i0, i1, worker);
    } else if (j->pass == 2) {
        int64_t c = 0;
        for (int64_t i = i0; i < i1; i++) {
            c += alc_prune_key(j->W[i]) == j->t;
        }
        j->ties[task] = c;
    } else {
        mag_apply(j, task, i0, i1);
    }
}

/*
 * One histogram pass over [L, U]: narrows the interval to the bucket of
 * rank *k. Returns 1 when the interval is a single key.
 */
static int mag_narrow(struct mag_job *j, struct alc_pool *pool, int64_t n_tasks,
                      int threads, int64_t *k, int64_t *below)
{
    int64_t hist[MAG_BUCKETS];
    j->sh = digit_shift(j->L, j->U, MAG_BITS);
    memset(j->hist, 0, (size_t)threads * MAG_BUCKETS * sizeof *j->hist);
    j->pass = 1;
    alc_pool_run(pool, n_tasks, mag_task, j);
    for (int b = 0; b < MAG_BUCKETS; b++) {
        hist[b] = 0;
        for (int w = 0; w < threads; w++) {
            hist[b] += j->hist[(size_t)w * MAG_BUCKETS + b];
        }
    }
    uint32_t d =
        (j->L >> j->sh) + (uint32_t)rank_bucket(hist, MAG_BUCKETS, k, below);
    uint32_t lo = d << j->sh, hi = lo | ((1u << j->sh) - 1u);
    j->L = lo > j->L ? lo : j->L;
    j->U = hi < j->U ? hi : j->U;
    return j->L == j->U;
}

/* Turns pass-2 tie counts into per-task quotas of ties to prune. */
static void mag_quotas(int64_t *ties, int64_t n_tasks, int64_t need)
{
    for (int64_t t = 0; t < n_tasks; t++) {
        int64_t c = ties[t];
        ties[t] = need < c ? need : c;
        need -= ties[t];
    }
}

/* The threshold key (rank k of |W|) into j->t; *below = keys < it. */
static void mag_threshold(struct mag_job *j, struct alc_pool *pool,
                          int64_t n_tasks, int64_t k, int64_t *below)
{
    int threads = alc_pool_threads(pool);
    j->pass = 0;
    alc_pool_run(pool, n_tasks, mag_task, j);
    j->L = UINT32_MAX;
    j->U = 0;
    for (int64_t t = 0; t < n_tasks; t++) {
        j->L = j->lohi[2 * t] < j->L ? j->lohi[2 * t] : j->L;
        j->U = j->lohi[2 * t + 1] > j->U ? j->lohi[2 * t + 1] : j->U;
    }
    *below = 0;
    while (j->L != j->U && !mag_narrow(j, pool, n_tasks, threads, &k, below)) {
    }
    j->t = j->L;
}

static int prune_magnitude_unstructured(float *W, int64_t rows, int64_t cols,
                                        const struct alc_prune_opts *o,
                                        struct alc_prune_result *res,
                                        struct alc_diag *d)
{
    int rc = -1, threads = alc_pool_threads(o->pool);
    struct mag_job j = {0};
    int64_t k = alc_prune_count_k(rows * cols, o->sparsity), below = 0;
    int64_t n_tasks;
    j.W = W;
    j.rows = rows;
    j.cols = cols;
    j.mask = res->mask;
    j.keep_ties = !o->exact;
    j.per = alc_prune_rows_per_task(rows, o->pool);
    n_tasks = (rows + j.per - 1) / j.per;
    j.hist = malloc((size_t)threads * MAG_BUCKETS * sizeof *j.hist);
    j.lohi = malloc((size_t)n_tasks * 2 * sizeof *j.lohi);
    j.ties = calloc((size_t)n_tasks, sizeof *j.ties);
    j.pruned = calloc((size_t)n_tasks, sizeof *j.pruned);
    if (j.hist == NULL || j.lohi == NULL || j.ties == NULL ||
        j.pruned == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        goto done;
    }
    mag_threshold(&j, o->pool, n_tasks, k, &below);
    if (o->exact) { /* keys < t all go, then k - below ties in order */
        j.pass = 2;
        alc_pool_run(o->pool, n_tasks, mag_task, &j);
        mag_quotas(j.ties, n_tasks, k - below);
    }
    j.pass = 3;
    alc_pool_run(o->pool, n_tasks, mag_task, &j);
    for (int64_t t = 0; t < n_tasks; t++) {
        res->pruned += j.pruned[t];
    }
    rc = 0;
done:
    free(j.hist);
    free(j.lohi);
    free(j.ties);
    free(j.pruned);
    return rc;
}

/* Is this an unstructured prune with nothing to do? */
static int nothing_to_prune(const struct alc_prune_opts *o)
{
    return o->n == 0 && o->sparsity == 0.0;
}

static void clear_mask(struct alc_prune_result *res, int64_t rows, int64_t cols)
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
    const float *act;  /* (cols) sqrtf(scaler_row) */
    uint32_t *keys;    /* (threads, cols) */
    uint32_t *scratch; /* (threads, cols) */
    uint8_t *mask;     /* (rows, cols) or NULL */
};

/* One row: the k smallest metrics, ties in column order (stable sort). */
static void wanda_row(struct wanda_job *j, int64_t r, int worker)
{
    size_t off = (size_t)worker * (size_t)j->cols;
    uint32_t *keys = j->keys + off;
    float *w = j->W + r * j->cols;
    uint8_t *mask = j->mask != NULL ? j->mask + r * j->cols : NULL;
    int64_t n_less = 0;
    for (int64_t c = 0; c < j->cols; c++) {
        keys[c] = alc_prune_key(fabsf(w[c]) * j->act[c]);
    }
    uint32_t t =
        alc_prune_select(keys, j->cols, j->k, j->scratch + off, &n_less);
    int64_t ties = j->k - n_less; /* entries equal to t that still go */
    for (int64_t c = 0; c < j->cols; c++) {
        int64_t lt = keys[c] < t, eq = keys[c] == t;
        int64_t take = lt | (eq & (ties > 0));
        ties -= eq & take;
        zero_if(w + c, take);
        if (mask != NULL) {
            mask[c] = (uint8_t)take;
        }
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
    struct wanda_job j = {W, rows, cols, 0, 0, act, NULL, NULL, res->mask};
    j.k = alc_prune_count_k(cols, o->sparsity);
    j.per = alc_prune_rows_per_task(rows, o->pool);
    j.keys = malloc(per_thread * sizeof *j.keys);
    j.scratch = malloc(per_thread * sizeof *j.scratch);
    if (j.keys == NULL || j.scratch == NULL) {
        alc_diag_errorf(d, "prune: out of memory");
        goto done;
    }
    alc_pool_run(o->pool, (rows + j.per - 1) / j.per, wanda_task, &j);
    res->pruned = rows * j.k;
    rc = 0;
done:
    free(j.keys);
    free(j.scratch);
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
            alc_diag_errorf(d,
                            "prune: cannot allocate a copy of the "
                            "Hessian (%.0f MB); set consume to prune in "
                            "place",
                            (double)bytes / 1e6);
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
        alc_diag_errorf(d,
                        "prune: %s needs calibration statistics (%s) "
                        "and none were collected",
                        alc_prune_method_name[m],
                        need == ALC_STAT_HESSIAN ? "Hessian" : "scaler_row");
        return -1;
    }
    if (s->cols != cols) {
        alc_diag_errorf(d,
                        "prune: statistics have %lld inputs but the "
                        "matrix has %lld columns",
                        (long long)s->cols, (long long)cols);
        return -1;
    }
    return 0;
}

static int prune_wanda_stats(float *W, int64_t rows, int64_t cols,
                             const struct alc_prune_stats *s,
                             const struct alc_prune_opts *o,
                             struct alc_prune_result *res, struct alc_diag *d)
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
