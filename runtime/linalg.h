/*
 * linalg.h: deterministic parallel dense kernels for the pruning code:
 * the Hessian's X^T X (and its double twin for the ESD Gram matrix), a
 * tiled Cholesky factorization and a tiled triangular inverse. Private to
 * runtime/ (used by prune_stats.c, sparsegpt.c, esd.c).
 *
 * Why not just OpenBLAS's threads: its threaded sgemm, ssyrk, spotrf and
 * spotri give different bits for 1, 2, 3 or 4 threads (measured on
 * OpenBLAS 0.3.21), and dsac promises the same bytes for any thread count.
 * So these kernels cut the work into tiles of a fixed size (independent of
 * the thread count), run each tile with one single-threaded BLAS/LAPACK
 * call on our pool, and always combine a tile's updates in the same order.
 * While they run, OpenBLAS is switched to one thread (alc_la_serial_begin)
 * and restored afterwards; callers must not run BLAS concurrently from
 * other threads meanwhile (the pipeline is sequential).
 *
 * All matrices are row-major with leading dimension n unless stated.
 */
#ifndef ALC_LINALG_H
#define ALC_LINALG_H

#include <stdint.h>

#include "alc_common.h"

/* Tile edge of every tiled kernel; results depend on it, never on threads. */
enum { ALC_LA_TILE = 256 };

/* Switches OpenBLAS to one thread; returns the previous count. */
int alc_la_serial_begin(void);
void alc_la_serial_end(int prev);

/*
 * H (n, n) upper triangle (j >= i) = beta * H + alpha * X^T X, X (k, n)
 * row-major (tokens x cols). Tiles of H in parallel, each one call.
 */
void alc_la_ssyrk_upper(float *H, const float *X, int64_t k, int64_t n,
                        float alpha, float beta, struct alc_pool *pool);

/* Double version with X's leading dimension ldx (the Gram of esd.c). */
void alc_la_dsyrk_upper(double *G, const double *X, int64_t k, int64_t n,
                        int64_t ldx, struct alc_pool *pool);

/*
 * In place: A (n, n) symmetric positive definite in its lower triangle
 * (j <= i) -> L with A = L L^T in the lower triangle. The strict upper
 * triangle is never read or written. Returns 0, or the 1-based column at
 * which A is not positive definite (then the lower triangle is garbage).
 */
int64_t alc_la_potrf_lower(float *A, int64_t n, struct alc_pool *pool);

/*
 * In place: L (n, n) lower triangular with a non-zero diagonal -> L^-1 in
 * the lower triangle; strict upper untouched. Returns -1 when out of memory
 * (needs n * ALC_LA_TILE floats of scratch).
 */
int alc_la_trtri_lower(float *A, int64_t n, struct alc_pool *pool);

#endif /* ALC_LINALG_H */
