/*
 * backend.h: what a backend implements to sit behind alc_compile /
 * alc_evaluate (alloc.h). alloc.c owns the dispatch and the compiled-code
 * cache; a backend only turns a compacted IR into state and evaluates it.
 */
#ifndef ALC_BACKEND_H
#define ALC_BACKEND_H

#include "alloc.h"

struct alc_backend_ops {
    const char *name;
    /*
     * Compiles a compacted IR (alc_ir_compact: reachable nodes only, dense
     * indices) into backend state, or returns NULL with an error in d. The
     * state may be shared by every alc_compiled whose IR has the same
     * structural hash, so it must not keep pointers into ir.
     */
    void *(*compile)(const struct alc_ir *ir, struct alc_diag *d);
    /* Evaluates; ir is the compacted IR the state was compiled from (or one
     * with the same hash: same nodes, possibly other param defaults). */
    int (*evaluate)(void *state, const struct alc_ir *ir,
                    const struct alc_units *units,
                    const struct alc_eval_opts *opts,
                    struct alc_eval_out *out, struct alc_diag *d);
    void (*release)(void *state);
};

/* Defined by interp.c (always), jit_llvm.c and the CUDA backend (when
 * built; alloc.c sees them through ALC_WITH_LLVM / ALC_WITH_CUDA). */
extern const struct alc_backend_ops alc_backend_interp;
extern const struct alc_backend_ops alc_backend_llvm;
extern const struct alc_backend_ops alc_backend_cuda;

/*
 * Copies the nodes of src reachable from its outputs into dst, renumbered
 * densely in the same relative order, with params, outputs and file name.
 * Two IRs with equal alc_ir_hash compact to identical node arrays.
 */
int alc_ir_compact(const struct alc_ir *src, struct alc_ir *dst);

#endif /* ALC_BACKEND_H */
