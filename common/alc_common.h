/*
 * alc_common.h: the small shared base every module of dsac links against.
 *
 * Errors (struct alc_diag), growable strings (struct alc_sb), arenas,
 * file I/O with atomic replacement, a deterministic RNG, 64-bit hashing,
 * a fixed-order thread pool, progress lines with ETA, and the weight dtypes.
 * Library code never prints or exits: it records into a struct alc_diag and
 * returns a status (0 = ok, -1 = error); only CLI mains print.
 */
#ifndef ALC_COMMON_H
#define ALC_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__)
#define ALC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ALC_PRINTF(a, b)
#endif

/* ---- Growable string buffer ---- */

struct alc_sb {
    char *s;    /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
};

void alc_sb_init(struct alc_sb *sb);
void alc_sb_free(struct alc_sb *sb);
void alc_sb_reset(struct alc_sb *sb);
void alc_sb_append(struct alc_sb *sb, const char *s, size_t n);
void alc_sb_puts(struct alc_sb *sb, const char *s);
void alc_sb_putc(struct alc_sb *sb, char c);
void alc_sb_printf(struct alc_sb *sb, const char *fmt, ...) ALC_PRINTF(2, 3);
void alc_sb_vprintf(struct alc_sb *sb, const char *fmt, va_list ap);
/* Hands the string to the caller (free() it); the buffer is left empty. */
char *alc_sb_take(struct alc_sb *sb);
/* "" when empty, never NULL. */
const char *alc_sb_str(const struct alc_sb *sb);

/* ---- Diagnostics ---- */

/*
 * Collects errors and warnings as rendered text. Compile errors arrive
 * already formatted as "file:line:col: error: ...\n<source>\n<caret>\n";
 * runtime errors as "file: field: ...". n_err > 0 means the operation failed.
 */
struct alc_diag {
    int n_err;
    int n_warn;
    int max_err;        /* stop recording after this many errors (0 = 100) */
    struct alc_sb text; /* every message, each ending in '\n' */
    char first[512];    /* the first error's first line, for one-line use */
};

void alc_diag_init(struct alc_diag *d);
void alc_diag_free(struct alc_diag *d);
void alc_diag_reset(struct alc_diag *d);
/* Records "error: <msg>" (or a pre-rendered message with _raw). */
void alc_diag_errorf(struct alc_diag *d, const char *fmt, ...) ALC_PRINTF(2, 3);
void alc_diag_verrorf(struct alc_diag *d, const char *fmt, va_list ap);
void alc_diag_warnf(struct alc_diag *d, const char *fmt, ...) ALC_PRINTF(2, 3);
/* Appends text as-is; is_error says whether it counts as an error. */
void alc_diag_raw(struct alc_diag *d, int is_error, const char *text);
const char *alc_diag_text(const struct alc_diag *d);

/* ---- Arena ---- */

/*
 * Bump allocator for everything of one compilation (AST, strings, symbol
 * tables). Allocations are 16-byte aligned and zeroed; nothing is freed
 * individually; alc_arena_free releases all blocks at once.
 */
struct alc_arena_block;
struct alc_arena {
    struct alc_arena_block *head;
    size_t block_size; /* default size of a new block */
    size_t used_total; /* bytes handed out, for statistics */
};

void alc_arena_init(struct alc_arena *a, size_t block_size);
void alc_arena_free(struct alc_arena *a);
/* Returns zeroed memory, or NULL when malloc fails. */
void *alc_arena_alloc(struct alc_arena *a, size_t n);
char *alc_arena_strndup(struct alc_arena *a, const char *s, size_t n);
char *alc_arena_strdup(struct alc_arena *a, const char *s);

/* ---- Files ---- */

/* Reads a whole file; *out is NUL-terminated and malloc'd (free()). */
int alc_read_file(const char *path, char **out, size_t *len,
                  struct alc_diag *d);
/*
 * Writes path atomically: data goes to "path.tmp.<pid>" in the same
 * directory, is fsync'd, then renamed over path. On any failure (a full disk
 * included) the temporary file is removed and path is left untouched.
 */
int alc_write_file_atomic(const char *path, const void *data, size_t len,
                          struct alc_diag *d);
/* Writes all of data to fd; on error records "<what>: <strerror>". */
int alc_write_all(int fd, const void *data, size_t len, const char *what,
                  struct alc_diag *d);
int alc_mkdir_p(const char *path, struct alc_diag *d);
int alc_path_exists(const char *path);
int alc_is_dir(const char *path);
/* Joins dir and name with one '/'; malloc'd. */
char *alc_path_join(const char *dir, const char *name);

/* A read-only memory map of a whole file. */
struct alc_map {
    void *data; /* NULL for an empty file */
    size_t size;
};
int alc_map_file(const char *path, struct alc_map *m, struct alc_diag *d);
void alc_unmap(struct alc_map *m);

/* ---- Hashing ---- */

/* 64-bit hash of bytes (xxHash64-style mixing); stable across runs. */
uint64_t alc_hash64(const void *data, size_t n, uint64_t seed);
uint64_t alc_hash_mix(uint64_t h, uint64_t v);
uint64_t alc_hash_double(uint64_t h, double v); /* hashes the bit pattern */

/* ---- Deterministic RNG (xoshiro256**, seeded through splitmix64) ---- */

struct alc_rng {
    uint64_t s[4];
};

void alc_rng_seed(struct alc_rng *r, uint64_t seed);
uint64_t alc_rng_u64(struct alc_rng *r);
/* Uniform in [0, n), unbiased; n > 0. */
uint64_t alc_rng_below(struct alc_rng *r, uint64_t n);
/* Uniform in [0, 1) with 53 random bits. */
double alc_rng_double(struct alc_rng *r);
/* Standard normal (Box-Muller, no cached second value: state is s[] only). */
double alc_rng_normal(struct alc_rng *r);

/* ---- Time ---- */

double alc_now(void); /* monotonic seconds */

/* ---- Thread pool ---- */

/*
 * A parallel-for. alc_pool_run calls fn(ctx, task, worker) for every task in
 * [0, n_tasks) across the pool's workers and returns when all are done.
 * Which worker runs which task varies; code that wants bit-identical results
 * for any thread count writes each task's result to its own slot and
 * combines the slots afterwards in a fixed order.
 */
struct alc_pool;
typedef void (*alc_task_fn)(void *ctx, int64_t task, int worker);

struct alc_pool *alc_pool_new(int n_threads); /* n_threads <= 0: all cores */
void alc_pool_free(struct alc_pool *p);
int alc_pool_threads(const struct alc_pool *p);
void alc_pool_run(struct alc_pool *p, int64_t n_tasks, alc_task_fn fn,
                  void *ctx);
/* Number of online CPUs, or the ALC_THREADS environment variable if set. */
int alc_default_threads(void);

/* ---- Progress with ETA on stderr ---- */

struct alc_progress {
    const char *label;
    int64_t total, done;
    double t0, last_print;
    int tty;   /* stderr is a terminal: redraw one line with '\r' */
    int quiet; /* print nothing */
    int last_pct;
};

void alc_progress_begin(struct alc_progress *p, const char *label,
                        int64_t total);
void alc_progress_step(struct alc_progress *p, int64_t n);
/* Like step, and appends extra text (e.g. a running perplexity). */
void alc_progress_stepf(struct alc_progress *p, int64_t n, const char *fmt,
                        ...) ALC_PRINTF(3, 4);
void alc_progress_end(struct alc_progress *p);
/* Global switch used by --quiet. */
void alc_progress_set_quiet(int quiet);

/* ---- Weight dtypes ---- */

enum alc_dtype {
    ALC_DT_F32,
    ALC_DT_F16,
    ALC_DT_BF16,
    ALC_DT_COUNT
};

struct alc_dtype_info {
    const char *st_name;  /* safetensors name: "F32" */
    const char *hf_name;  /* config.json torch_dtype: "float32" */
    int size;             /* bytes per element */
};

extern const struct alc_dtype_info alc_dtype_table[ALC_DT_COUNT];
/* Returns -1 when the name is unknown. */
int alc_dtype_from_st(const char *name);
int alc_dtype_from_hf(const char *name);

static inline float alc_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest even; NaN stays NaN (quiet). */
static inline uint16_t alc_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t)((u >> 16) | 0x40u);
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float alc_f16_to_f32(uint16_t h);
uint16_t alc_f32_to_f16(float f);

/* Converts n elements of dtype at src to float. */
void alc_to_f32(float *dst, const void *src, enum alc_dtype dt, size_t n);
/* Converts n floats to dtype (round to nearest even). */
void alc_from_f32(void *dst, const float *src, enum alc_dtype dt, size_t n);

#endif /* ALC_COMMON_H */
