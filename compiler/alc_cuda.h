/*
 * alc_cuda.h: the GPU backend's own interface, beyond the alc_backend_cuda
 * ops (backend.h) that alloc.c dispatches to. Used by `dsac emit --target
 * cuda|ptx`, the runtime (backend choice, device mirror), the tests and
 * bench/bench_cuda.c. Named alc_cuda.h so that it never shadows the
 * toolkit's <cuda.h>.
 *
 * Five files:
 *   cuda_emit.c    CUDA C for the passes of a plan (plan.h): per pass one
 *                  `extern "C" __global__` kernel over fixed tiles of
 *                  ALC_CUDA_TILE elements, and one kernel (alc_combine)
 *                  that combines a unit's tile records in a fixed pairwise
 *                  tree;
 *   cuda_logw.c    logs of the Wanda metric of BF16 weights by table
 *                  (which passes qualify, the tables, the act logs);
 *   cuda_nvrtc.c   NVRTC (dlopen'ed libnvrtc) compiling that source to PTX
 *                  or CUBIN for an explicit architecture;
 *   cuda_driver.c  the CUDA driver API, dlopen("libcuda.so.1") at run time,
 *                  so the binary runs where no driver is installed;
 *   cuda_backend.c compile/evaluate for alloc.c, the device mirror of the
 *                  units and the launches.
 *
 * Determinism: the tiles depend only on the units' shapes (never on the
 * device), the block size is fixed (ALC_CUDA_THREADS), every reduction is a
 * fixed tree (warp shuffles, then the warps' partials in shared memory, then
 * the tiles of a unit in the pairwise order of alc_plan_combine_tree), no
 * float atomics. The same program on the same units gives the same bits on
 * every run, whatever the number of SMs, blocks or launches; it matches the
 * LLVM JIT within rounding (different chunking: relative 1e-6 on
 * reductions; exact where the result does not depend on the order).
 *
 * Which backend to use: alc_backend_select (backend_select.h) turns
 * --backend auto|llvm|cuda|interp into one, falling back to the CPU with a
 * one-time note when no GPU is usable.
 */
#ifndef ALC_CUDA_H
#define ALC_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "alc_common.h"
#include "alloc.h"
#include "ir.h"
#include "plan.h"

/* Block size of every kernel (threads; a power of two, 32 .. 1024). */
#define ALC_CUDA_THREADS 256
/* Elements per thread per step (one 16-byte load of BF16/F16). */
#define ALC_CUDA_VEC 8
/* Elements per tile: a tile is a run of at most this many consecutive
 * elements of one matrix (row-major) starting at a multiple of it. One
 * block reduces one tile into one record. */
#define ALC_CUDA_TILE 65536

/* ---- Emitting CUDA C ---- */

struct alc_cuda_emit_opts {
    const char *prefix; /* kernel name prefix; NULL = "alc_" */
    int threads;        /* block size emitted; 0 = ALC_CUDA_THREADS (the
                           backend always uses the default; tests of the
                           host emulation may pick a smaller block) */
    int no_logw;        /* 1: no table path for log|wanda| of BF16 weights
                           (cuda_logw.c); every pass as its element code */
};

/*
 * The shared part of a translation unit: struct layouts (struct alc_tile,
 * struct alc_args), weight conversions, the ops' semantics (ops.c), the
 * accumulator combines (plan.c) and the kernel alc_combine, which every
 * pass uses with its record layout (alc_cuda_layout). Emitted once, before
 * any program.
 */
void alc_cuda_emit_prelude(const struct alc_cuda_emit_opts *o,
                           struct alc_sb *out);
/*
 * The kernels of one program: for each pass k of plan (built from the
 * compacted ir), `<prefix>p<k>`. Several programs with distinct prefixes
 * may share one prelude. Deterministic: IRs with equal alc_ir_hash give
 * equal text.
 */
int alc_cuda_emit_program(const struct alc_ir *ir, const struct alc_plan *plan,
                          const struct alc_cuda_emit_opts *o,
                          struct alc_sb *out, struct alc_diag *d);
/* Prelude + program for ir (compacted and planned here): the text of
 * `dsac emit --target cuda`. */
int alc_cuda_emit(const struct alc_ir *ir, const struct alc_cuda_emit_opts *o,
                  struct alc_sb *out, struct alc_diag *d);

/* The record layout alc_combine reads for pass ps: out[0] = n_accs, then
 * (kind, slot) of each accumulator. Returns the ints written, 1 + 2 n_accs
 * (out must hold that many). */
int alc_cuda_layout(const struct alc_plan_pass *ps, int32_t *out);

/* ---- NVRTC ---- */

enum alc_cuda_bin {
    ALC_CUDA_BIN_PTX,   /* --gpu-architecture=compute_XX, text */
    ALC_CUDA_BIN_CUBIN, /* --gpu-architecture=sm_XX, ELF */
    ALC_CUDA_BIN_COUNT
};

struct alc_cuda_binary {
    enum alc_cuda_bin kind;
    int arch;   /* 80 for sm_80 */
    char *data; /* malloc'd; PTX is NUL-terminated (len excludes it) */
    size_t len;
    char *log;      /* malloc'd program log, "" when empty */
    double seconds; /* nvrtcCompileProgram time */
};

/* The default architecture (80), and parsing "sm_90", "compute_90", "90". */
#define ALC_CUDA_DEFAULT_ARCH 80
int alc_cuda_arch_parse(const char *s, int *arch);

/*
 * Compiles CUDA source with NVRTC: --gpu-architecture=compute_<arch> (PTX)
 * or sm_<arch> (CUBIN), -default-device, --std=c++17, --fmad=false,
 * --prec-div=true, --prec-sqrt=true, --ftz=false. The program log is
 * always read into out->log (on success too) and the program always
 * destroyed. Fails with the log in d on a compile error, or when NVRTC
 * cannot be loaded. Free out with alc_cuda_binary_free whatever the result
 * (out->log is kept on failure). Thread-safe.
 */
int alc_cuda_nvrtc_compile(const char *src, const char *name, int arch,
                           enum alc_cuda_bin kind, struct alc_cuda_binary *out,
                           struct alc_diag *d);
void alc_cuda_binary_free(struct alc_cuda_binary *b);
/* Whether libnvrtc can be loaded; the reason in d (may be NULL) when not.
 * Its version. */
int alc_cuda_nvrtc_available(struct alc_diag *d);
int alc_cuda_nvrtc_version(int *major, int *minor);
/* The architectures NVRTC compiles for, ascending (80 for sm_80); returns
 * how many (at most max), 0 when NVRTC cannot be loaded. */
int alc_cuda_nvrtc_archs(int *archs, int max);

/* ---- Device ---- */

/*
 * Opens the process's GPU once (libcuda.so.1, or $ALC_CUDA_DRIVER; cuInit,
 * device 0 -- use CUDA_VISIBLE_DEVICES to pick another -- and its primary
 * context).
 * Returns 0 when a GPU is usable, else -1 with one line in d:
 *   "no CUDA GPU found (libcuda.so.1: cannot open shared object file ...)"
 *   "no CUDA GPU found (cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable ...)"
 * The outcome is remembered: later calls answer at once.
 */
int alc_cuda_available(struct alc_diag *d);

/* One line for `dsac version`: the device, or why there is none. */
void alc_cuda_describe(struct alc_sb *out);

/* What alc_cuda_available found (zeros when nothing). */
struct alc_cuda_info {
    char name[256]; /* "NVIDIA H100 80GB HBM3" */
    int cc_major, cc_minor;
    int sm_count;
    int arch;           /* the architecture kernels are compiled for */
    int driver_version; /* cuDriverGetVersion: 12040 = 12.4 */
    size_t mem_total, mem_free;
};
int alc_cuda_info(struct alc_cuda_info *info, struct alc_diag *d);

/*
 * Overrides the architecture kernels are compiled for (0 = the device's
 * compute capability, the default). Takes effect for later compilations.
 */
void alc_cuda_set_arch(int arch);

/* ---- Device mirror of the units ---- */

/*
 * The units' weights live in host memory (the mmapped model). The backend
 * copies them to the GPU once and keeps them there: the mirror is keyed by
 * every matrix's (weight pointer, act pointer, dtype, rows, cols) and the
 * unit boundaries, is shared by every compiled program, and is replaced
 * only when an evaluation passes different units. So a search evaluating
 * hundreds of candidates over the same units uploads once. For programs
 * whose logs of BF16 weights take the table path (cuda_logw.c) it also
 * holds each BF16 matrix's log|act| and log act (2 doubles per column),
 * computed on the host the first time such a program meets the units.
 *
 * The mirror assumes the host data behind those pointers does not change
 * while it is resident. A runtime that modifies weights or act vectors in
 * place (pruning, recalibration into the same buffers) must call
 * alc_cuda_release_units() afterwards; so must one that unmaps the model
 * and maps another at the same addresses. Releasing also frees the device
 * scratch buffers; the next evaluation uploads again. Thread-safe.
 */
void alc_cuda_release_units(void);

/* Counters since process start (or alc_cuda_stats_reset). */
struct alc_cuda_stats {
    uint64_t evaluations;
    uint64_t uploads;        /* mirror (re)builds */
    uint64_t bytes_uploaded; /* weights, act vectors and act logs */
    uint64_t launches;       /* kernel launches */
    uint64_t compiles;       /* NVRTC compilations by the backend */
    double compile_seconds;
    double kernel_seconds; /* pass kernels only, by device events, when
                              timing is on (alc_cuda_set_timing) */
    uint64_t kernel_bytes; /* weight + act bytes the timed pass kernels
                              read (for GB/s) */
};
void alc_cuda_stats_get(struct alc_cuda_stats *s);
void alc_cuda_stats_reset(void);
/* Times every pass kernel with device events (synchronises; for the
 * benchmark). Off by default. */
void alc_cuda_set_timing(int on);
/* Whether later compilations use the table path for logs of BF16 weights'
 * wanda (cuda_logw.c; on by default). Off: every pass runs its element
 * code as written (for comparisons: bench_cuda --no-logw, the tests). */
void alc_cuda_set_logw(int on);

/*
 * Device-to-device copy bandwidth: copies a bytes-sized buffer `reps`
 * times with cuMemcpyDtoD and returns the best rate counted as bytes read +
 * bytes written per second (2 * bytes / t), and read-only (bytes / t).
 */
int alc_cuda_copy_bandwidth(size_t bytes, int reps, double *rw_gbps,
                            double *read_gbps, struct alc_diag *d);

#endif /* ALC_CUDA_H */
