/*
 * cuda_backend.c: the GPU backend (alc_backend_cuda, backend.h) and its
 * device mirror (alc_cuda.h). alloc.c calls compile/evaluate/release; the
 * device is reached only through struct alc_cuda_dev (cuda_internal.h):
 * the driver's (cuda_driver.c) or, in the tests, the host emulator's.
 *
 * Compile: plan (plan.h) -> CUDA C (cuda_emit.c) -> NVRTC CUBIN for the
 * device's architecture (cuda_nvrtc.c) -> module loaded, kernels looked
 * up. The state holds the image and the loaded module, and alloc.c caches
 * it by the IR's structural hash, so re-evaluating a program (other params,
 * other S) never recompiles.
 *
 * Evaluate: alc_plan_execute runs the host stages; for each pass this file
 *   1. uploads env (every node's value for every unit; small),
 *   2. launches the pass kernel over every tile of the mirror (for a pass
 *      with quantile operands: unit by unit, copying that unit's values
 *      back for the interpreter's selection, alc_interp_reduce, as the CPU
 *      backend does),
 *   3. launches alc_combine with the pass's record layout (one block per
 *      unit, fixed pairwise tree over the unit's tile records) and copies
 *      the n_units combined records back,
 *   4. finishes each reduction on the host (alc_plan_finish).
 * Device work is serialised by one mutex (one device, default stream).
 *
 * The mirror: one per process, shared by every compiled program; see
 * alc_cuda_release_units in alc_cuda.h for its lifetime. Matrices are packed
 * into one device allocation at 256-byte aligned offsets (the kernels' 16-
 * byte vector loads rely on it), then cut into tiles of ALC_CUDA_TILE
 * elements, unit by unit, matrix by matrix (the record order). A program
 * with a table path (cuda_logw.c) also needs the act logs of the BF16
 * matrices: computed on the host with ops.c's log and uploaded into a
 * second allocation, once, when the first such program meets the units
 * (mirror_add_lact; the weights stay).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cuda_internal.h"
#include "interp.h"

#define ALIGN 256u

/* ---- Process state (under mu) ---- */

struct mkey {
    const void *w;
    const float *act;
    int64_t rows, cols;
    int dtype;
};

/* Bits of struct mirror.have. */
#define HAVE_W 1u
#define HAVE_ACT 2u
#define HAVE_LACT 4u /* act logs of the BF16 matrices (cuda_logw.c) */

struct mirror {
    struct alc_cuda_dev *dev; /* NULL: empty */
    int n_units;
    int n_mats;
    int *unit_mats;              /* (n_units) matrices per unit */
    struct mkey *keys;           /* (n_mats) */
    unsigned have;               /* HAVE_* uploaded */
    uint64_t data;               /* device: packed weights and acts */
    uint64_t lact;               /* device: packed act logs, or 0 */
    struct alc_cuda_tile *tiles; /* (n_tiles) host copy */
    int64_t n_tiles;
    uint64_t d_tiles;
    int64_t *unit_first, *unit_count, *unit_numel; /* (n_units) host */
    uint64_t d_first, d_count;
    int64_t max_numel; /* largest unit */
};

/* Grow-only device scratch of one evaluation. */
struct scratch {
    uint64_t env, rec, out, store;
    size_t env_n, rec_n, out_n, store_n; /* bytes */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct alc_cuda_dev *override_dev;
static int arch_override;
static int timing;
static int no_logw; /* alc_cuda_set_logw(0) */
static struct alc_cuda_stats stats;
static struct mirror mir;
static struct scratch scr;

static struct alc_cuda_dev *current_dev(struct alc_diag *d)
{
    return override_dev != NULL ? override_dev : alc_cuda_driver_dev(d);
}

/* ---- Scratch and mirror (called with mu held) ---- */

static void scratch_release(struct alc_cuda_dev *dev)
{
    if (dev != NULL) {
        dev->ops->mem_free(dev, scr.env);
        dev->ops->mem_free(dev, scr.rec);
        dev->ops->mem_free(dev, scr.out);
        dev->ops->mem_free(dev, scr.store);
    }
    memset(&scr, 0, sizeof scr);
}

/* *buf holds at least n bytes afterwards (contents not kept). */
static int scratch_need(struct alc_cuda_dev *dev, uint64_t *buf, size_t *cap,
                        size_t n, struct alc_diag *d)
{
    if (*cap >= n && *buf != 0) {
        return 0;
    }
    dev->ops->mem_free(dev, *buf);
    *buf = 0;
    *cap = 0;
    if (dev->ops->mem_alloc(dev, buf, n, d) != 0) {
        return -1;
    }
    *cap = n;
    return 0;
}

static void mirror_release(void)
{
    struct alc_cuda_dev *dev = mir.dev;
    if (dev != NULL) {
        dev->ops->mem_free(dev, mir.data);
        dev->ops->mem_free(dev, mir.lact);
        dev->ops->mem_free(dev, mir.d_tiles);
        dev->ops->mem_free(dev, mir.d_first);
        dev->ops->mem_free(dev, mir.d_count);
    }
    scratch_release(dev);
    free(mir.unit_mats);
    free(mir.keys);
    free(mir.tiles);
    free(mir.unit_first);
    free(mir.unit_count);
    free(mir.unit_numel);
    memset(&mir, 0, sizeof mir);
}

static int mirror_matches(struct alc_cuda_dev *dev,
                          const struct alc_units *units, unsigned need)
{
    int k = 0;
    if (mir.dev != dev || mir.n_units != units->n_units ||
        (mir.have & need) != need) {
        return 0;
    }
    for (int u = 0; u < units->n_units; u++) {
        const struct alc_unit_view *uv = &units->units[u];
        if (mir.unit_mats[u] != uv->n_mats) {
            return 0;
        }
        for (int m = 0; m < uv->n_mats; m++, k++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            const struct mkey *key = &mir.keys[k];
            if (key->w != mv->w || key->act != mv->act ||
                key->rows != mv->rows || key->cols != mv->cols ||
                key->dtype != (int)mv->dtype) {
                return 0;
            }
        }
    }
    return 1;
}

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static int64_t mat_numel(const struct alc_mat_view *mv)
{
    return mv->rows * mv->cols;
}

/* Device offsets of each matrix's weights and act in the packed buffer;
 * SIZE_MAX when not uploaded. Returns the total size. */
static size_t layout(const struct alc_units *units, unsigned have,
                     size_t *w_off, size_t *a_off)
{
    size_t total = 0;
    int k = 0;
    for (int u = 0; u < units->n_units; u++) {
        const struct alc_unit_view *uv = &units->units[u];
        for (int m = 0; m < uv->n_mats; m++, k++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            size_t n = (size_t)mat_numel(mv);
            w_off[k] = a_off[k] = SIZE_MAX;
            if (n == 0) {
                continue;
            }
            if ((have & HAVE_W) && mv->w != NULL) {
                w_off[k] = total;
                total += align_up(n * (size_t)alc_dtype_table[mv->dtype].size);
            }
            if ((have & HAVE_ACT) && mv->act != NULL) {
                a_off[k] = total;
                total += align_up((size_t)mv->cols * sizeof(float));
            }
        }
    }
    return total;
}

static int upload_mats(struct alc_cuda_dev *dev, const struct alc_units *units,
                       const size_t *w_off, const size_t *a_off,
                       struct alc_diag *d)
{
    int k = 0;
    for (int u = 0; u < units->n_units; u++) {
        const struct alc_unit_view *uv = &units->units[u];
        for (int m = 0; m < uv->n_mats; m++, k++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            size_t wb =
                (size_t)mat_numel(mv) * (size_t)alc_dtype_table[mv->dtype].size;
            size_t ab = (size_t)mv->cols * sizeof(float);
            if (w_off[k] != SIZE_MAX &&
                dev->ops->htod(dev, mir.data + w_off[k], mv->w, wb, d) != 0) {
                return -1;
            }
            if (a_off[k] != SIZE_MAX &&
                dev->ops->htod(dev, mir.data + a_off[k], mv->act, ab, d) != 0) {
                return -1;
            }
            stats.bytes_uploaded += (w_off[k] != SIZE_MAX ? wb : 0) +
                                    (a_off[k] != SIZE_MAX ? ab : 0);
        }
    }
    return 0;
}

static int64_t count_tiles(const struct alc_units *units)
{
    int64_t n = 0;
    for (int u = 0; u < units->n_units; u++) {
        for (int m = 0; m < units->units[u].n_mats; m++) {
            int64_t e = mat_numel(&units->units[u].mats[m]);
            n += (e + ALC_CUDA_TILE - 1) / ALC_CUDA_TILE;
        }
    }
    return n;
}

/* The tiles of every unit in record order (unit, matrix, start). */
static void build_tiles(const struct alc_units *units, const size_t *w_off,
                        const size_t *a_off)
{
    int64_t rec = 0;
    int k = 0;
    mir.max_numel = 0;
    for (int u = 0; u < units->n_units; u++) {
        const struct alc_unit_view *uv = &units->units[u];
        int64_t elem0 = 0;
        mir.unit_first[u] = rec;
        for (int m = 0; m < uv->n_mats; m++, k++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            int64_t n = mat_numel(mv);
            for (int64_t s = 0; s < n; s += ALC_CUDA_TILE) {
                struct alc_cuda_tile *t = &mir.tiles[rec];
                memset(t, 0, sizeof *t);
                t->w = w_off[k] != SIZE_MAX ? mir.data + w_off[k] : 0;
                t->act = a_off[k] != SIZE_MAX ? mir.data + a_off[k] : 0;
                t->start = s;
                t->rows = mv->rows;
                t->cols = mv->cols;
                t->rec = rec++;
                t->store_off = elem0 + s;
                t->col0 = s % mv->cols;
                t->count =
                    (int32_t)(n - s < ALC_CUDA_TILE ? n - s : ALC_CUDA_TILE);
                t->unit = u;
                t->dtype = (int32_t)mv->dtype;
            }
            elem0 += n;
        }
        mir.unit_count[u] = rec - mir.unit_first[u];
        mir.unit_numel[u] = elem0;
        mir.max_numel = elem0 > mir.max_numel ? elem0 : mir.max_numel;
    }
}

static int mirror_keys(const struct alc_units *units)
{
    int k = 0;
    mir.n_units = units->n_units;
    mir.n_mats = 0;
    for (int u = 0; u < units->n_units; u++) {
        mir.n_mats += units->units[u].n_mats;
    }
    size_t nu = (size_t)units->n_units + 1, nm = (size_t)mir.n_mats + 1;
    mir.unit_mats = malloc(nu * sizeof *mir.unit_mats);
    mir.keys = malloc(nm * sizeof *mir.keys);
    mir.unit_first = malloc(nu * sizeof *mir.unit_first);
    mir.unit_count = malloc(nu * sizeof *mir.unit_count);
    mir.unit_numel = malloc(nu * sizeof *mir.unit_numel);
    if (!mir.unit_mats || !mir.keys || !mir.unit_first || !mir.unit_count ||
        !mir.unit_numel) {
        return -1;
    }
    for (int u = 0; u < units->n_units; u++) {
        const struct alc_unit_view *uv = &units->units[u];
        mir.unit_mats[u] = uv->n_mats;
        for (int m = 0; m < uv->n_mats; m++, k++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            mir.keys[k] = (struct mkey){mv->w, mv->act, mv->rows, mv->cols,
                                        (int)mv->dtype};
        }
    }
    return 0;
}

static int upload_index(struct alc_cuda_dev *dev, struct alc_diag *d)
{
    size_t tb = (size_t)mir.n_tiles * sizeof *mir.tiles;
    size_t ub = (size_t)mir.n_units * sizeof(int64_t);
    if (dev->ops->mem_alloc(dev, &mir.d_tiles, tb, d) != 0 ||
        dev->ops->mem_alloc(dev, &mir.d_first, ub, d) != 0 ||
        dev->ops->mem_alloc(dev, &mir.d_count, ub, d) != 0) {
        return -1;
    }
    if ((tb > 0 && dev->ops->htod(dev, mir.d_tiles, mir.tiles, tb, d) != 0) ||
        dev->ops->htod(dev, mir.d_first, mir.unit_first, ub, d) != 0 ||
        dev->ops->htod(dev, mir.d_count, mir.unit_count, ub, d) != 0) {
        return -1;
    }
    return 0;
}

/* Whether the table path can read matrix mv (cuda_logw.c): BF16 with an
 * act vector and cols % 8 == 0. */
static int lact_wanted(const struct alc_mat_view *mv)
{
    return mv->dtype == ALC_DT_BF16 && mv->act != NULL && mv->cols % 8 == 0 &&
           mat_numel(mv) > 0;
}

/* Adds the act logs (alc_cuda_lw_lact, (2, cols) doubles) of every matrix
 * lact_wanted takes to a built mirror: one more allocation, the tiles'
 * lact set and the tile index uploaded again; weights and acts untouched. */
static int mirror_add_lact(struct alc_cuda_dev *dev,
                           const struct alc_units *units, struct alc_diag *d)
{
    size_t *off = malloc(((size_t)mir.n_mats + 1) * sizeof *off);
    size_t total = 0, max_cols = 0;
    double *h = NULL;
    int k = 0, rc = -1;
    if (off == NULL) {
        goto oom;
    }
    for (int u = 0; u < units->n_units; u++) {
        for (int m = 0; m < units->units[u].n_mats; m++, k++) {
            const struct alc_mat_view *mv = &units->units[u].mats[m];
            off[k] = SIZE_MAX;
            if (lact_wanted(mv)) {
                off[k] = total;
                total += align_up(2 * (size_t)mv->cols * sizeof(double));
                max_cols =
                    (size_t)mv->cols > max_cols ? (size_t)mv->cols : max_cols;
            }
        }
    }
    h = malloc((2 * max_cols + 1) * sizeof *h);
    if (h == NULL) {
        goto oom;
    }
    if (total > 0 && dev->ops->mem_alloc(dev, &mir.lact, total, d) != 0) {
        goto done;
    }
    k = 0;
    for (int u = 0; u < units->n_units; u++) {
        for (int m = 0; m < units->units[u].n_mats; m++, k++) {
            const struct alc_mat_view *mv = &units->units[u].mats[m];
            size_t n = 2 * (size_t)mv->cols * sizeof(double);
            if (off[k] == SIZE_MAX) {
                continue;
            }
            alc_cuda_lw_lact(mv->act, mv->cols, h);
            if (dev->ops->htod(dev, mir.lact + off[k], h, n, d) != 0) {
                goto done;
            }
            stats.bytes_uploaded += n;
        }
    }
    /* the tiles in build_tiles' order: unit, matrix, start */
    k = 0;
    int64_t rec = 0;
    for (int u = 0; u < units->n_units; u++) {
        for (int m = 0; m < units->units[u].n_mats; m++, k++) {
            int64_t n = mat_numel(&units->units[u].mats[m]);
            for (int64_t st = 0; st < n; st += ALC_CUDA_TILE, rec++) {
                mir.tiles[rec].lact =
                    off[k] != SIZE_MAX ? mir.lact + off[k] : 0;
            }
        }
    }
    if (mir.n_tiles > 0 &&
        dev->ops->htod(dev, mir.d_tiles, mir.tiles,
                       (size_t)mir.n_tiles * sizeof *mir.tiles, d) != 0) {
        goto done;
    }
    mir.have |= HAVE_LACT;
    rc = 0;
    goto done;
oom:
    alc_diag_errorf(d, "out of memory building the device mirror");
done:
    free(off);
    free(h);
    return rc;
}

/* Makes the mirror hold units with at least `need` uploaded. */
static int mirror_ensure(struct alc_cuda_dev *dev,
                         const struct alc_units *units, unsigned need,
                         struct alc_diag *d)
{
    size_t *w_off = NULL, *a_off = NULL;
    int rc = -1;
    if (mirror_matches(dev, units, need)) {
        return 0;
    }
    if ((need & HAVE_LACT) && mirror_matches(dev, units, need & ~HAVE_LACT)) {
        if (mirror_add_lact(dev, units, d) != 0) {
            mirror_release();
            return -1;
        }
        return 0;
    }
    unsigned have = need | (mir.dev == dev ? mir.have : 0u);
    mirror_release();
    mir.dev = dev;
    mir.have = have & ~HAVE_LACT; /* mirror_add_lact sets it */
    if (mirror_keys(units) != 0) {
        goto oom;
    }
    w_off = malloc(((size_t)mir.n_mats + 1) * sizeof *w_off);
    a_off = malloc(((size_t)mir.n_mats + 1) * sizeof *a_off);
    mir.n_tiles = count_tiles(units);
    mir.tiles = malloc(((size_t)mir.n_tiles + 1) * sizeof *mir.tiles);
    if (w_off == NULL || a_off == NULL || mir.tiles == NULL) {
        goto oom;
    }
    size_t total = layout(units, have, w_off, a_off);
    if (dev->ops->mem_alloc(dev, &mir.data, total, d) != 0) {
        alc_diag_errorf(d, "the units need %.2f GiB on the GPU (%zu bytes)",
                        (double)total / (1u << 30), total);
        goto done;
    }
    build_tiles(units, w_off, a_off);
    if (upload_mats(dev, units, w_off, a_off, d) != 0 ||
        upload_index(dev, d) != 0 ||
        ((have & HAVE_LACT) && mirror_add_lact(dev, units, d) != 0)) {
        goto done;
    }
    stats.uploads++;
    rc = 0;
    goto done;
oom:
    alc_diag_errorf(d, "out of memory building the device mirror");
done:
    if (rc != 0) {
        mirror_release();
    }
    free(w_off);
    free(a_off);
    return rc;
}

/* ---- Compiled state ---- */

struct cstate {
    struct alc_cuda_dev *dev;
    struct alc_ir ir; /* compacted copy, owned */
    struct alc_plan plan;
    char *src; /* emitted CUDA C, malloc'd */
    struct alc_cuda_binary bin;
    void *mod;           /* loaded module, or NULL */
    void **fn;           /* (n_passes) pass kernels */
    void *combine;       /* alc_combine */
    uint64_t layout;     /* device: every pass's alc_cuda_layout */
    int64_t *layout_off; /* (n_passes) offsets into it, in int32s */
    unsigned need;       /* HAVE_* the passes read */
    int no_logw;         /* compiled without the table path */
};

int alc_cuda_pick_arch(const struct alc_cuda_dev *dev)
{
    if (arch_override > 0) {
        return arch_override;
    }
    if (dev != NULL && dev->info.cc_major > 0) {
        return dev->info.cc_major * 10 + dev->info.cc_minor;
    }
    return ALC_CUDA_DEFAULT_ARCH;
}

/* CUBIN for the arch when NVRTC knows it, else PTX for the newest older
 * one it knows (the driver compiles PTX forward). */
static int choose_binary(const struct alc_cuda_dev *dev, int *arch,
                         enum alc_cuda_bin *kind, struct alc_diag *d)
{
    int archs[64];
    if (!alc_cuda_nvrtc_available(d)) {
        return -1;
    }
    int n = alc_cuda_nvrtc_archs(archs, 64), best = 0;
    int want = alc_cuda_pick_arch(dev);
    *kind =
        dev->want == ALC_CUDA_WANT_PTX ? ALC_CUDA_BIN_PTX : ALC_CUDA_BIN_CUBIN;
    for (int i = 0; i < n; i++) {
        if (archs[i] == want) {
            *arch = want;
            return 0;
        }
        best = archs[i] < want && archs[i] > best ? archs[i] : best;
    }
    if (best == 0) {
        alc_diag_errorf(d,
                        "NVRTC cannot compile for sm_%d (older than "
                        "every architecture it knows)",
                        want);
        return -1;
    }
    *arch = best;
    *kind = ALC_CUDA_BIN_PTX;
    return 0;
}

static int state_nvrtc(struct cstate *s, struct alc_diag *d)
{
    enum alc_cuda_bin kind;
    int arch = 0;
    char name[64];
    if (choose_binary(s->dev, &arch, &kind, d) != 0) {
        return -1;
    }
    snprintf(name, sizeof name, "dsac_%016llx.cu",
             (unsigned long long)alc_ir_hash(&s->ir));
    if (alc_cuda_nvrtc_compile(s->src, name, arch, kind, &s->bin, d) != 0) {
        return -1;
    }
    if (s->bin.log[0] != '\0') {
        alc_diag_warnf(d, "nvrtc (%s): %s", name, s->bin.log);
    }
    pthread_mutex_lock(&mu);
    stats.compiles++;
    stats.compile_seconds += s->bin.seconds;
    pthread_mutex_unlock(&mu);
    return 0;
}

/* Uploads the record layout of every pass (with mu held). */
static int state_layouts(struct cstate *s, struct alc_diag *d)
{
    int64_t n = 0;
    for (int k = 0; k < s->plan.n_passes; k++) {
        n += 1 + 2 * s->plan.passes[k].n_accs;
    }
    int32_t *h = malloc(((size_t)n + 1) * sizeof *h);
    s->layout_off = calloc((size_t)s->plan.n_passes + 1, sizeof *s->layout_off);
    if (h == NULL || s->layout_off == NULL) {
        free(h);
        alc_diag_errorf(d, "out of memory compiling the allocation");
        return -1;
    }
    n = 0;
    for (int k = 0; k < s->plan.n_passes; k++) {
        s->layout_off[k] = n;
        n += alc_cuda_layout(&s->plan.passes[k], h + n);
    }
    int rc =
        s->dev->ops->mem_alloc(s->dev, &s->layout, (size_t)n * sizeof *h, d);
    if (rc == 0) {
        rc = s->dev->ops->htod(s->dev, s->layout, h, (size_t)n * sizeof *h, d);
    }
    free(h);
    return rc;
}

static int state_load(struct cstate *s, struct alc_diag *d)
{
    struct alc_cuda_image img = {s->src, s->bin.data != NULL ? &s->bin : NULL};
    struct alc_cuda_dev *dev = s->dev;
    char name[64];
    int rc = -1;
    pthread_mutex_lock(&mu);
    if (dev->ops->bind(dev, d) != 0 ||
        dev->ops->module_load(dev, &img, &s->mod, d) != 0) {
        goto done;
    }
    for (int k = 0; k < s->plan.n_passes; k++) {
        snprintf(name, sizeof name, "alc_p%d", k + 1);
        if (dev->ops->function(dev, s->mod, name, &s->fn[k], d) != 0) {
            goto done;
        }
    }
    if (dev->ops->function(dev, s->mod, "alc_combine", &s->combine, d) != 0) {
        goto done;
    }
    rc = state_layouts(s, d);
done:
    pthread_mutex_unlock(&mu);
    return rc;
}

static void cuda_release(void *state)
{
    struct cstate *s = state;
    if (s == NULL) {
        return;
    }
    if (s->mod != NULL || s->layout != 0) {
        struct alc_diag d;
        alc_diag_init(&d);
        pthread_mutex_lock(&mu);
        if (s->dev->ops->bind(s->dev, &d) == 0) {
            s->dev->ops->mem_free(s->dev, s->layout);
            s->dev->ops->module_unload(s->dev, s->mod);
        }
        pthread_mutex_unlock(&mu);
        alc_diag_free(&d);
    }
    free(s->layout_off);
    alc_cuda_binary_free(&s->bin);
    alc_plan_free(&s->plan);
    alc_ir_free(&s->ir);
    free(s->src);
    free(s->fn);
    free(s);
}

static unsigned plan_needs(const struct alc_ir *ir, const struct alc_plan *p,
                           int no_lw)
{
    const unsigned w_in = (1u << ALC_IN_WANDA) | (1u << ALC_IN_WEIGHT);
    const unsigned act_in = (1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT);
    unsigned need = 0;
    for (int k = 0; k < p->n_passes; k++) {
        need |= (p->passes[k].inputs & w_in) ? HAVE_W : 0u;
        need |= (p->passes[k].inputs & act_in) ? HAVE_ACT : 0u;
    }
    return need | (!no_lw && alc_cuda_lw_plan(ir, p) ? HAVE_LACT : 0u);
}

static int state_emit(struct cstate *s, struct alc_diag *d)
{
    struct alc_sb sb;
    struct alc_cuda_emit_opts o = {"alc_", s->dev->threads, s->no_logw};
    alc_sb_init(&sb);
    alc_cuda_emit_prelude(&o, &sb);
    alc_sb_puts(&sb, "\n");
    if (alc_cuda_emit_program(&s->ir, &s->plan, &o, &sb, d) != 0) {
        alc_sb_free(&sb);
        return -1;
    }
    s->src = alc_sb_take(&sb);
    return s->src != NULL ? 0 : -1;
}

static void *cuda_compile(const struct alc_ir *ir, struct alc_diag *d)
{
    struct cstate *s = calloc(1, sizeof *s);
    if (s == NULL) {
        alc_diag_errorf(d, "out of memory compiling the allocation");
        return NULL;
    }
    pthread_mutex_lock(&mu);
    s->dev = current_dev(d);
    s->no_logw = no_logw;
    pthread_mutex_unlock(&mu);
    if (s->dev == NULL) {
        free(s);
        return NULL;
    }
    if (alc_ir_compact(ir, &s->ir) != 0) {
        alc_diag_errorf(d, "out of memory compiling the allocation");
        free(s);
        return NULL;
    }
    if (alc_plan_build(&s->plan, &s->ir, d) != 0) {
        alc_ir_free(&s->ir);
        free(s);
        return NULL;
    }
    s->need = plan_needs(&s->ir, &s->plan, s->no_logw);
    s->fn = calloc((size_t)s->plan.n_passes + 1, sizeof *s->fn);
    if (s->fn == NULL || state_emit(s, d) != 0 ||
        (s->dev->want != ALC_CUDA_WANT_NONE && state_nvrtc(s, d) != 0) ||
        (s->plan.n_passes > 0 && state_load(s, d) != 0)) {
        cuda_release(s);
        return NULL;
    }
    return s;
}

/* ---- Evaluation (with mu held) ---- */

struct run {
    struct cstate *s;
    struct alc_cuda_dev *dev;
    const struct alc_units *units;
    double *hrec;   /* (n_units * max n_slots) host records */
    double *hstore; /* (max_numel) host values of one store row */
};

static int launch(struct run *x, void *fn, int64_t blocks,
                  const struct alc_cuda_args *a, struct alc_diag *d)
{
    struct alc_cuda_dev *dev = x->dev;
    unsigned grid = (unsigned)(blocks < dev->max_grid ? blocks : dev->max_grid);
    stats.launches++;
    return dev->ops->launch(dev, fn, grid > 0 ? grid : 1,
                            (unsigned)dev->threads, a, d);
}

/* Bytes of weights the pass kernel reads over tiles [first, first + n). */
static uint64_t tile_bytes(int64_t first, int64_t n)
{
    uint64_t b = 0;
    for (int64_t i = first; i < first + n; i++) {
        b += (uint64_t)mir.tiles[i].count *
             (uint64_t)alc_dtype_table[mir.tiles[i].dtype].size;
    }
    return b;
}

/* Launches pass k over tiles [first, first + n), timed if asked. */
static int run_tiles(struct run *x, int k, struct alc_cuda_args *a,
                     int64_t first, int64_t n, struct alc_diag *d)
{
    struct alc_cuda_dev *dev = x->dev;
    double sec = 0.0;
    int timed = timing && dev->ops->time_begin != NULL;
    if (n == 0) {
        return 0;
    }
    a->tiles = mir.d_tiles + (uint64_t)first * sizeof(struct alc_cuda_tile);
    a->n_tiles = n;
    if (timed && dev->ops->time_begin(dev, d) != 0) {
        return -1;
    }
    if (launch(x, x->s->fn[k], n, a, d) != 0) {
        return -1;
    }
    if (timed) {
        if (dev->ops->time_end(dev, &sec, d) != 0) {
            return -1;
        }
        stats.kernel_seconds += sec;
        if (x->s->plan.passes[k].inputs &
            ((1u << ALC_IN_WANDA) | (1u << ALC_IN_WEIGHT))) {
            stats.kernel_bytes += tile_bytes(first, n);
        }
    }
    if (dev->ops->sync(dev, d) != 0) {
        alc_diag_errorf(d, "(running kernel alc_p%d)", k + 1);
        return -1;
    }
    return 0;
}

static int store_index(const struct alc_plan_pass *ps, int acc)
{
    int s = 0;
    for (int a = 0; a < acc; a++) {
        s += ps->accs[a].kind == ALC_ACC_STORE;
    }
    return s;
}

/* Unit by unit: pass k's tiles of unit u, then its quantiles on the host. */
static int run_storing(struct run *x, int k, struct alc_cuda_args *a,
                       double *env, struct alc_diag *d)
{
    const struct alc_plan_pass *ps = &x->s->plan.passes[k];
    size_t nn = (size_t)x->s->ir.n_nodes;
    for (int u = 0; u < mir.n_units; u++) {
        int64_t numel = mir.unit_numel[u];
        if (run_tiles(x, k, a, mir.unit_first[u], mir.unit_count[u], d) != 0) {
            return -1;
        }
        for (int i = 0; i < ps->n_reds; i++) {
            const struct alc_plan_red *r = &ps->reds[i];
            const struct alc_ir_node *n = &x->s->ir.nodes[r->node];
            if (n->op != ALC_OP_QUANTILE) {
                continue;
            }
            uint64_t row = a->store + (uint64_t)store_index(ps, r->acc[0]) *
                                          (uint64_t)a->store_stride *
                                          sizeof(double);
            if (numel > 0 &&
                x->dev->ops->dtoh(x->dev, x->hstore, row,
                                  (size_t)numel * sizeof(double), d) != 0) {
                return -1;
            }
            env[(size_t)u * nn + (size_t)r->node] =
                alc_interp_reduce(ALC_OP_QUANTILE, x->hstore, (size_t)numel,
                                  env[(size_t)u * nn + (size_t)n->arg[1]]);
        }
    }
    return 0;
}

/* Combines each unit's records and finishes the pass's reductions. */
static int run_combine(struct run *x, int k, struct alc_cuda_args *a,
                       double *env, struct alc_diag *d)
{
    const struct alc_plan_pass *ps = &x->s->plan.passes[k];
    size_t nn = (size_t)x->s->ir.n_nodes, ns = (size_t)ps->n_slots;
    if (ns == 0) {
        return 0;
    }
    a->layout = x->s->layout + (uint64_t)x->s->layout_off[k] * sizeof(int32_t);
    a->n_slots = (int64_t)ns;
    if (launch(x, x->s->combine, mir.n_units, a, d) != 0 ||
        x->dev->ops->sync(x->dev, d) != 0 ||
        x->dev->ops->dtoh(x->dev, x->hrec, a->out,
                          (size_t)mir.n_units * ns * sizeof(double), d) != 0) {
        alc_diag_errorf(d, "(combining pass %d)", k + 1);
        return -1;
    }
    for (int u = 0; u < mir.n_units; u++) {
        for (int i = 0; i < ps->n_reds; i++) {
            const struct alc_plan_red *r = &ps->reds[i];
            if (x->s->ir.nodes[r->node].op == ALC_OP_QUANTILE) {
                continue;
            }
            env[(size_t)u * nn + (size_t)r->node] =
                alc_plan_finish(ps, r, &x->s->ir, x->hrec + (size_t)u * ns,
                                (double)mir.unit_numel[u]);
        }
    }
    return 0;
}

static int run_pass(void *ctx, int pass, double *env, struct alc_diag *d)
{
    struct run *x = ctx;
    struct alc_cuda_dev *dev = x->dev;
    int k = pass - 1;
    const struct alc_plan_pass *ps = &x->s->plan.passes[k];
    size_t nn = (size_t)x->s->ir.n_nodes, nu = (size_t)mir.n_units;
    size_t ns = (size_t)ps->n_slots;
    size_t sn = (size_t)ps->n_stores * (size_t)mir.max_numel;
    if (scratch_need(dev, &scr.env, &scr.env_n, nu * nn * sizeof(double), d) !=
            0 ||
        scratch_need(dev, &scr.rec, &scr.rec_n,
                     ((size_t)mir.n_tiles + 1) * ns * sizeof(double), d) ||
        scratch_need(dev, &scr.out, &scr.out_n, (nu + 1) * ns * sizeof(double),
                     d) ||
        (sn > 0 && scratch_need(dev, &scr.store, &scr.store_n,
                                sn * sizeof(double), d) != 0)) {
        return -1;
    }
    if (dev->ops->htod(dev, scr.env, env, nu * nn * sizeof(double), d) != 0) {
        return -1;
    }
    struct alc_cuda_args a = {
        .env = scr.env,
        .env_stride = (int64_t)nn,
        .rec = scr.rec,
        .store = sn > 0 ? scr.store : 0,
        .store_stride = mir.max_numel,
        .unit_first = mir.d_first,
        .unit_count = mir.d_count,
        .n_units = mir.n_units,
        .out = scr.out,
    };
    int rc = ps->n_stores > 0 ? run_storing(x, k, &a, env, d)
                              : run_tiles(x, k, &a, 0, mir.n_tiles, d);
    return rc != 0 ? -1 : run_combine(x, k, &a, env, d);
}

static int run_alloc(struct run *x, const struct alc_plan *p,
                     struct alc_diag *d)
{
    int max_slots = 1;
    for (int k = 0; k < p->n_passes; k++) {
        if (p->passes[k].n_slots > max_slots) {
            max_slots = p->passes[k].n_slots;
        }
    }
    x->hrec =
        malloc(((size_t)mir.n_units + 1) * (size_t)max_slots * sizeof *x->hrec);
    x->hstore = malloc(((size_t)mir.max_numel + 1) * sizeof *x->hstore);
    if (x->hrec == NULL || x->hstore == NULL) {
        alc_diag_errorf(d, "out of memory evaluating the allocation");
        return -1;
    }
    return 0;
}

/* With mu held: mirror, then the plan's stages and passes. */
static int evaluate_locked(struct cstate *s, const struct alc_units *units,
                           const struct alc_eval_opts *opts, double *env,
                           struct alc_eval_out *out, struct alc_diag *d)
{
    struct run x = {.s = s, .dev = s->dev, .units = units};
    int rc = -1;
    if (current_dev(d) != s->dev) {
        alc_diag_errorf(d, "this program was compiled for another device");
        return -1;
    }
    if (s->dev->ops->bind(s->dev, d) != 0 ||
        alc_plan_check_units(alc_ir_inputs_used(&s->ir), units, d) != 0 ||
        (s->plan.n_passes > 0 &&
         mirror_ensure(s->dev, units, s->need, d) != 0) ||
        (s->plan.n_passes > 0 && run_alloc(&x, &s->plan, d) != 0)) {
        goto done;
    }
    stats.evaluations++;
    rc = alc_plan_execute(&s->plan, &s->ir, units, opts, run_pass, &x, env, out,
                          d);
done:
    free(x.hrec);
    free(x.hstore);
    return rc;
}

static int cuda_evaluate(void *state, const struct alc_ir *ir,
                         const struct alc_units *units,
                         const struct alc_eval_opts *opts,
                         struct alc_eval_out *out, struct alc_diag *d)
{
    struct cstate *s = state;
    struct alc_eval_opts o = *opts;
    double *pv = NULL, *env = NULL;
    int rc = -1;
    if (o.params == NULL && ir->n_params > 0) {
        /* this IR's defaults (same structure, maybe other declared values) */
        pv = malloc((size_t)ir->n_params * sizeof *pv);
        if (pv == NULL) {
            goto oom;
        }
        for (int i = 0; i < ir->n_params; i++) {
            pv[i] = ir->params[i].value;
        }
        o.params = pv;
    }
    env = malloc(((size_t)units->n_units * (size_t)s->ir.n_nodes + 1) *
                 sizeof *env);
    if (env == NULL) {
        goto oom;
    }
    pthread_mutex_lock(&mu);
    rc = evaluate_locked(s, units, &o, env, out, d);
    pthread_mutex_unlock(&mu);
    goto done;
oom:
    alc_diag_errorf(d, "out of memory evaluating the allocation");
done:
    free(pv);
    free(env);
    return rc;
}

const struct alc_backend_ops alc_backend_cuda = {
    .name = "cuda",
    .compile = cuda_compile,
    .evaluate = cuda_evaluate,
    .release = cuda_release,
};

/* ---- Public controls (alc_cuda.h) ---- */

int alc_cuda_available(struct alc_diag *d)
{
    pthread_mutex_lock(&mu);
    struct alc_cuda_dev *dev = current_dev(d);
    pthread_mutex_unlock(&mu);
    if (dev == NULL) {
        return -1;
    }
    if (dev->want != ALC_CUDA_WANT_NONE && !alc_cuda_nvrtc_available(d)) {
        return -1;
    }
    return 0;
}

void alc_cuda_describe(struct alc_sb *out)
{
    struct alc_diag d;
    struct alc_cuda_info in;
    int major = 0, minor = 0;
    alc_diag_init(&d);
    if (alc_cuda_available(&d) != 0) {
        const char *why = d.first;
        alc_sb_puts(out, strncmp(why, "error: ", 7) == 0 ? why + 7 : why);
    } else if (alc_cuda_info(&in, &d) == 0) {
        alc_cuda_nvrtc_version(&major, &minor);
        alc_sb_printf(out,
                      "%s (sm_%d, %d SMs, %.1f GiB), driver %d.%d, NVRTC "
                      "%d.%d",
                      in.name, in.arch, in.sm_count,
                      (double)in.mem_total / (1u << 30),
                      in.driver_version / 1000, in.driver_version % 1000 / 10,
                      major, minor);
    }
    alc_diag_free(&d);
}

int alc_cuda_info(struct alc_cuda_info *info, struct alc_diag *d)
{
    memset(info, 0, sizeof *info);
    pthread_mutex_lock(&mu);
    struct alc_cuda_dev *dev = current_dev(d);
    if (dev != NULL) {
        *info = dev->info;
        info->arch = alc_cuda_pick_arch(dev);
    }
    pthread_mutex_unlock(&mu);
    return dev != NULL ? 0 : -1;
}

void alc_cuda_set_arch(int arch)
{
    pthread_mutex_lock(&mu);
    arch_override = arch > 0 ? arch : 0;
    pthread_mutex_unlock(&mu);
}

void alc_cuda_release_units(void)
{
    struct alc_diag d;
    alc_diag_init(&d);
    pthread_mutex_lock(&mu);
    if (mir.dev != NULL && mir.dev->ops->bind(mir.dev, &d) != 0) {
        mir.dev = NULL; /* unreachable device memory is forgotten */
    }
    mirror_release();
    pthread_mutex_unlock(&mu);
    alc_diag_free(&d);
}

void alc_cuda_use_device(struct alc_cuda_dev *dev)
{
    struct alc_diag d;
    alc_diag_init(&d);
    pthread_mutex_lock(&mu);
    if (mir.dev != NULL && mir.dev->ops->bind(mir.dev, &d) != 0) {
        mir.dev = NULL; /* unreachable device memory is forgotten */
    }
    mirror_release();
    override_dev = dev;
    pthread_mutex_unlock(&mu);
    alc_diag_free(&d);
}

void alc_cuda_stats_get(struct alc_cuda_stats *s)
{
    pthread_mutex_lock(&mu);
    *s = stats;
    pthread_mutex_unlock(&mu);
}

void alc_cuda_stats_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(&stats, 0, sizeof stats);
    pthread_mutex_unlock(&mu);
}

void alc_cuda_set_logw(int on)
{
    pthread_mutex_lock(&mu);
    no_logw = !on;
    pthread_mutex_unlock(&mu);
}

void alc_cuda_set_timing(int on)
{
    pthread_mutex_lock(&mu);
    timing = on;
    pthread_mutex_unlock(&mu);
}

int alc_cuda_copy_bandwidth(size_t bytes, int reps, double *rw_gbps,
                            double *read_gbps, struct alc_diag *d)
{
    uint64_t src = 0, dst = 0;
    double best = INFINITY;
    int rc = -1;
    pthread_mutex_lock(&mu);
    struct alc_cuda_dev *dev = current_dev(d);
    if (dev == NULL || dev->ops->dtod == NULL || dev->ops->time_begin == NULL) {
        alc_diag_errorf(d, "copy bandwidth: no device with copies and timers");
        goto done;
    }
    if (dev->ops->bind(dev, d) != 0 ||
        dev->ops->mem_alloc(dev, &src, bytes, d) != 0 ||
        dev->ops->mem_alloc(dev, &dst, bytes, d) != 0) {
        goto done;
    }
    for (int r = 0; r < reps + 1; r++) { /* the first is a warm-up */
        double sec = 0.0;
        if (dev->ops->time_begin(dev, d) != 0 ||
            dev->ops->dtod(dev, dst, src, bytes, d) != 0 ||
            dev->ops->time_end(dev, &sec, d) != 0) {
            goto done;
        }
        best = r > 0 && sec < best ? sec : best;
    }
    *rw_gbps = 2.0 * (double)bytes / best * 1e-9;
    *read_gbps = (double)bytes / best * 1e-9;
    rc = 0;
done:
    if (dev != NULL) {
        dev->ops->mem_free(dev, src);
        dev->ops->mem_free(dev, dst);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}
