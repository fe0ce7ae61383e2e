/*
 * safetensors.h: the safetensors format, read through mmap and written by
 * streaming. The reader validates the whole header before any tensor byte
 * is used (users.md §2.3, huggingface/safetensors tensor.rs); the writer
 * declares every tensor first, writes the header, then takes the data tensor
 * by tensor in any order. The model loader (model.c), the random-model
 * generator (genmodel.c) and the pruned-model saver use them.
 */
#ifndef ALC_SAFETENSORS_H
#define ALC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "alc_common.h"

/* ---- dtypes a safetensors file may hold ---- */

/*
 * Every dtype name of the reference library. Files may contain any of them;
 * only F32, F16 and BF16 can be computed with (alc_st_dtype_info.alc >= 0),
 * and the loader reports a clear error when a tensor it needs has another.
 */
enum alc_st_dtype {
    ALC_ST_BOOL,
    ALC_ST_U8,
    ALC_ST_I8,
    ALC_ST_I16,
    ALC_ST_U16,
    ALC_ST_F16,
    ALC_ST_BF16,
    ALC_ST_I32,
    ALC_ST_U32,
    ALC_ST_F32,
    ALC_ST_F64,
    ALC_ST_I64,
    ALC_ST_U64,
    ALC_ST_C64,
    ALC_ST_F8_E5M2,
    ALC_ST_F8_E4M3,
    ALC_ST_F8_E8M0,
    ALC_ST_F8_E4M3FNUZ,
    ALC_ST_F8_E5M2FNUZ,
    ALC_ST_F4,
    ALC_ST_F6_E2M3,
    ALC_ST_F6_E3M2,
    ALC_ST_DT_COUNT
};

struct alc_st_dtype_info {
    const char *name; /* as in the header: "BF16" */
    int bits;         /* bits per element (F4: 4, F6_*: 6) */
    int alc;          /* enum alc_dtype, or -1 when we cannot compute on it */
};

extern const struct alc_st_dtype_info alc_st_dtype_table[ALC_ST_DT_COUNT];
/* Returns -1 when the name is not a safetensors dtype. */
int alc_st_dtype_from_name(const char *name);
/* The safetensors dtype of an alc_dtype (F32 -> ALC_ST_F32, ...). */
enum alc_st_dtype alc_st_dtype_of(enum alc_dtype dt);

/* ---- Reader ---- */

#define ALC_ST_MAX_HEADER 100000000u /* MAX_HEADER_SIZE of the reference */
#define ALC_ST_MAX_DIMS 8

struct alc_st_tensor {
    const char *name;           /* NUL-terminated, owned by the file */
    enum alc_st_dtype st_dtype; /* as stored */
    int dtype;                  /* enum alc_dtype, or -1 (not computable) */
    int ndim;                   /* 0 for a scalar */
    int64_t shape[ALC_ST_MAX_DIMS];
    int64_t numel;       /* product of shape (1 for a scalar) */
    uint64_t begin, end; /* bytes, relative to the data region */
    const void *data;    /* begin inside the map; NULL if empty */
};

/*
 * One parsed file. tensors[] is sorted by name (alc_st_find bisects it).
 * Ownership: the file owns the map (alc_st_open) or borrows the caller's
 * bytes (alc_st_parse); names, tensors and metadata live in its arena.
 */
struct alc_st_file {
    char *path;         /* as opened or named; malloc'd */
    struct alc_map map; /* the whole file; empty for _parse */
    int n_tensors;
    struct alc_st_tensor *tensors; /* [n_tensors], sorted by name */
    int n_meta;                    /* __metadata__ entries */
    const char **meta_keys, **meta_values;
    uint64_t header_len; /* N, the JSON length */
    uint64_t data_len;   /* bytes after 8 + N */
    struct alc_arena arena;
};

/*
 * Maps path and validates it: the 8-byte header length N <= 100 MB and
 * inside the file; the header is UTF-8 JSON (an object; trailing
 * whitespace tolerated); each entry has dtype (a known name), shape (array
 * of non-negative integers) and data_offsets [begin, end]; __metadata__ is
 * a string -> string map; no duplicate keys; every range lies inside the
 * data region and has numel * bits / 8 bytes; sorted by offset, ranges are
 * contiguous from 0 without gaps or overlaps and the last one ends at the
 * end of the file. Gaps and trailing bytes are rejected, as the reference
 * library does. Errors name the file and the tensor. On error f is left
 * empty (alc_st_close is still safe).
 */
int alc_st_open(struct alc_st_file *f, const char *path, struct alc_diag *d);
/* The same validation over bytes in memory (tests and fuzzing); data must
 * outlive f. name is used in messages. */
int alc_st_parse(struct alc_st_file *f, const void *data, size_t size,
                 const char *name, struct alc_diag *d);
void alc_st_close(struct alc_st_file *f);
/* Tensor by name, or NULL. */
const struct alc_st_tensor *alc_st_find(const struct alc_st_file *f,
                                        const char *name);
/* Metadata value by key, or NULL. */
const char *alc_st_meta(const struct alc_st_file *f, const char *key);
/* Bytes of a tensor: numel * bits / 8. */
uint64_t alc_st_tensor_bytes(const struct alc_st_tensor *t);
/* Formats a shape as "[4096, 11008]" into buf. */
void alc_st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* ---- Writer ---- */

/*
 * Streams one safetensors file. Usage:
 *   alc_st_writer_init(&w);
 *   alc_st_writer_add(&w, "a.weight", ALC_ST_BF16, 2, shape, d);  (each)
 *   alc_st_writer_meta(&w, "format", "pt", d);                     (opt.)
 *   alc_st_writer_open(&w, path, d);      header written, offsets fixed
 *   alc_st_writer_put(&w, "a.weight", bytes, nbytes, d);  any order, or
 *   alc_st_writer_put_f32(&w, "a.weight", floats, d);     converts
 *   alc_st_writer_close(&w, d);           all written? fsync, rename
 *   alc_st_writer_free(&w);
 * Tensors are laid out as the reference writer does: by descending dtype
 * alignment, then by name. The data goes to "<path>.tmp.<pid>" and is
 * renamed to path by close, so a failed write (a full disk included)
 * leaves no partial file: free() removes the temporary file.
 */
struct alc_st_wtensor {
    char *name;
    enum alc_st_dtype st_dtype;
    int ndim;
    int64_t shape[ALC_ST_MAX_DIMS];
    uint64_t begin, end; /* relative to the data region */
    int written;
};

struct alc_st_writer {
    int n, cap;
    struct alc_st_wtensor *t; /* [n]; sorted at open */
    int n_meta;
    char **meta; /* [2 * n_meta]: key, value */
    char *path, *tmp_path;
    int fd;              /* -1 until open */
    uint64_t data_start; /* 8 + N */
    int closed;
};

void alc_st_writer_init(struct alc_st_writer *w);
int alc_st_writer_add(struct alc_st_writer *w, const char *name,
                      enum alc_st_dtype st_dtype, int ndim,
                      const int64_t *shape, struct alc_diag *d);
int alc_st_writer_meta(struct alc_st_writer *w, const char *key,
                       const char *value, struct alc_diag *d);
int alc_st_writer_open(struct alc_st_writer *w, const char *path,
                       struct alc_diag *d);
/* nbytes must equal the declared size. */
int alc_st_writer_put(struct alc_st_writer *w, const char *name,
                      const void *data, size_t nbytes, struct alc_diag *d);
/* src holds numel floats; converted to the declared F32/F16/BF16. */
int alc_st_writer_put_f32(struct alc_st_writer *w, const char *name,
                          const float *src, struct alc_diag *d);
int alc_st_writer_close(struct alc_st_writer *w, struct alc_diag *d);
/* Releases everything; removes the temporary file unless close succeeded. */
void alc_st_writer_free(struct alc_st_writer *w);
/* Data bytes the file will hold (sum of tensor sizes); valid after add. */
uint64_t alc_st_writer_data_bytes(const struct alc_st_writer *w);

/* ---- JSON text helper shared by the writers ---- */

/* Appends s as a JSON string literal (quotes, escapes). */
void alc_json_put_str(struct alc_sb *sb, const char *s);

#endif /* ALC_SAFETENSORS_H */
