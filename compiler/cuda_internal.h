/*
 * cuda_internal.h: what the GPU backend's files share, and the seam the
 * tests use to run the backend without a GPU. The backend (cuda_backend.c)
 * talks to the device only through struct alc_cuda_dev: cuda_driver.c
 * implements it with the CUDA driver API; tests/cuda_emu.h implements it in
 * host memory, compiling the emitted CUDA source with the host C++ compiler
 * and running blocks as cooperative threads (tests/cuda_emu_shim.h).
 *
 * The kernel parameter block (struct alc_cuda_args) and the tile descriptor
 * (struct alc_cuda_tile) are declared twice: here for the host and in the
 * emitted prelude for the device (struct alc_args, struct alc_tile). Device
 * pointers are 64-bit on every CUDA target; both sides assert the sizes.
 */
#ifndef ALC_CUDA_INTERNAL_H
#define ALC_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "alc_cuda.h"

/* ---- Kernel-side layouts (host view) ---- */

/* One tile: elements [start, start + count) of one matrix, row-major. */
struct alc_cuda_tile {
    uint64_t w;    /* device address of the matrix's (rows, cols)
                      weights in dtype, 256-byte aligned; 0 if not
                      uploaded */
    uint64_t act;  /* device address of its (cols) F32 act; or 0 */
    int64_t start; /* first element, a multiple of ALC_CUDA_TILE */
    int64_t rows;
    int64_t cols;
    int64_t rec;       /* index of the tile's record (unit-major order) */
    int64_t store_off; /* offset of element `start` within its unit
                          (matrices in order), for quantile's values */
    int64_t col0;      /* start % cols */
    int32_t count;     /* elements, 1 .. ALC_CUDA_TILE */
    int32_t unit;
    int32_t dtype; /* enum alc_dtype */
    int32_t pad;
    uint64_t lact; /* device address of its (2, cols) double act logs
                      (alc_cuda_lw_lact), or 0 when the mirror holds none */
};
_Static_assert(sizeof(struct alc_cuda_tile) == 88, "alc_tile layout");

/* The one parameter of every kernel, passed by value. */
struct alc_cuda_args {
    uint64_t tiles; /* (n_tiles) struct alc_cuda_tile */
    int64_t n_tiles;
    uint64_t env;         /* (n_units * env_stride) double: node values */
    int64_t env_stride;   /* n_nodes of the compacted IR */
    uint64_t rec;         /* (n_tiles_total * n_slots) double records */
    uint64_t store;       /* (n_stores * store_stride) double, or 0 */
    int64_t store_stride; /* elements of one store row */
    uint64_t unit_first;  /* (n_units) int64: first record of each unit */
    uint64_t unit_count;  /* (n_units) int64: records of each unit */
    int64_t n_units;
    uint64_t out;    /* (n_units * n_slots) double: combined records */
    uint64_t layout; /* int32 alc_cuda_layout of the pass (combine) */
    int64_t n_slots; /* doubles per record (combine) */
};
_Static_assert(sizeof(struct alc_cuda_args) == 104, "alc_args layout");

/* ---- Device interface ---- */

/* A compiled module as the device loads it: the source (the emulator
 * compiles it) and the NVRTC output (the driver loads it). */
struct alc_cuda_image {
    const char *src;
    const struct alc_cuda_binary *bin; /* NULL when want == none */
};

struct alc_cuda_dev;

struct alc_cuda_dev_ops {
    int (*mem_alloc)(struct alc_cuda_dev *dev, uint64_t *ptr, size_t n,
                     struct alc_diag *d);
    void (*mem_free)(struct alc_cuda_dev *dev, uint64_t ptr);
    int (*htod)(struct alc_cuda_dev *dev, uint64_t dst, const void *src,
                size_t n, struct alc_diag *d);
    int (*dtoh)(struct alc_cuda_dev *dev, void *dst, uint64_t src, size_t n,
                struct alc_diag *d);
    int (*module_load)(struct alc_cuda_dev *dev,
                       const struct alc_cuda_image *img, void **mod,
                       struct alc_diag *d);
    void (*module_unload)(struct alc_cuda_dev *dev, void *mod);
    int (*function)(struct alc_cuda_dev *dev, void *mod, const char *name,
                    void **fn, struct alc_diag *d);
    /* Launches fn(*args) on grid x block threads (1-D), asynchronously. */
    int (*launch)(struct alc_cuda_dev *dev, void *fn, unsigned grid,
                  unsigned block, const struct alc_cuda_args *args,
                  struct alc_diag *d);
    /* Waits for every launch; reports a failed one. */
    int (*sync)(struct alc_cuda_dev *dev, struct alc_diag *d);
    /* Makes the device current in the calling thread (NULL if none). */
    int (*bind)(struct alc_cuda_dev *dev, struct alc_diag *d);
    /* Timing: begin records a start event, end a stop event, waits and
     * returns the elapsed seconds. NULL when unsupported. */
    int (*time_begin)(struct alc_cuda_dev *dev, struct alc_diag *d);
    int (*time_end)(struct alc_cuda_dev *dev, double *seconds,
                    struct alc_diag *d);
    /* Device-to-device copy (bandwidth measurement); may be NULL. */
    int (*dtod)(struct alc_cuda_dev *dev, uint64_t dst, uint64_t src, size_t n,
                struct alc_diag *d);
};

/* What the backend compiles for a device. */
enum alc_cuda_want {
    ALC_CUDA_WANT_CUBIN, /* NVRTC CUBIN for dev->arch (a real GPU) */
    ALC_CUDA_WANT_PTX,   /* NVRTC PTX for dev->arch (driver JIT) */
    ALC_CUDA_WANT_NONE,  /* source only (the host emulator) */
    ALC_CUDA_WANT_COUNT
};

struct alc_cuda_dev {
    const struct alc_cuda_dev_ops *ops;
    void *impl; /* the implementation's state */
    struct alc_cuda_info info;
    enum alc_cuda_want want;
    int threads;  /* block size the source is emitted for */
    int max_grid; /* blocks per pass launch (persistent
                     blocks loop over tiles) */
};

/* The process's driver device (cuda_driver.c), opened once; NULL with the
 * reason in d when no GPU is usable. */
struct alc_cuda_dev *alc_cuda_driver_dev(struct alc_diag *d);
/* Resolves every driver entry point the backend uses in the library at
 * path (e.g. the toolkit's stubs/libcuda.so), without calling any. */
int alc_cuda_driver_check_symbols(const char *path, struct alc_diag *d);

/*
 * Tests: makes the backend use dev instead of the driver's device (NULL
 * restores the driver). Releases the mirror of the previous device. Compiled
 * states remember their device and refuse to run on another.
 */
void alc_cuda_use_device(struct alc_cuda_dev *dev);

/* The architecture the backend compiles for on dev (alc_cuda_set_arch's
 * override, else the device's, else ALC_CUDA_DEFAULT_ARCH), limited to what
 * NVRTC supports; *kind says whether CUBIN or PTX is emitted. */
int alc_cuda_pick_arch(const struct alc_cuda_dev *dev);

/* ---- Logs by table (cuda_logw.c) ---- */

/* How one accumulator of a qualifying pass reads on the table path. */
struct alc_cuda_lw_acc {
    int pos;            /* 1: T + log act_j (log(wanda)); 0: T + log|act_j| */
    double zero;        /* the value where wanda == 0 (ops.c's log) */
    enum alc_acc_fn fn; /* applied to it (ALC_AF_ID when the accumulator's
                           own log is the form's) */
};

/* 1 when every accumulator of pass ps reads a log form of wanda (the
 * forms: cuda_logw.c); accs (ps->n_accs, may be NULL) then says how. */
int alc_cuda_lw_pass(const struct alc_ir *ir, const struct alc_plan_pass *ps,
                     struct alc_cuda_lw_acc *accs);
/* 1 when some pass of plan qualifies (the mirror needs the act logs). */
int alc_cuda_lw_plan(const struct alc_ir *ir, const struct alc_plan *plan);
/* tab[0, 128) = TM[m], tab[128, 256) = log|w| of the BF16 magnitudes
 * 1 .. 127 (tab[128] = 0, unused): what the emitted alc_logm_bf16 holds. */
void alc_cuda_lw_table(double *tab);
/* out[0, cols) = log|act_c|, out[cols, 2 cols) = log act_c (ops.c's log). */
void alc_cuda_lw_lact(const float *act, int64_t cols, double *out);
/* The prelude's table and helpers (alc_cuda_emit_prelude calls it). */
void alc_cuda_lw_prelude(struct alc_sb *out);

#endif /* ALC_CUDA_INTERNAL_H */
