/*
 * allocfn.h: an .alloc file as the pruning commands use it: read, checked
 * (syntax tree kept for printing and its canonical hash), lowered and
 * compiled once for a backend, with the current value of every param.
 * `dsac prune`, `dsac alloc` and `dsac tune` load one; the session
 * (session.h) takes the compiled program and the param values. Changing a
 * param never recompiles (params are runtime values of the IR).
 */
#ifndef ALC_ALLOCFN_H
#define ALC_ALLOCFN_H

#include <stdint.h>

#include "alc_common.h"
#include "alloc.h"
#include "ast.h"
#include "ir.h"

struct alc_allocfn {
    struct alc_arena arena;     /* owns prog and src */
    struct alc_program *prog;   /* checked syntax tree */
    struct alc_ir ir;           /* lowered; owned */
    struct alc_compiled *c;     /* compiled for be; owned */
    enum alc_backend be;
    char *path;                 /* the file, or "uniform (built in)" */
    uint64_t ast_hash;          /* alc_ast_hash: canonical print without
                                   comments (layout-independent) */
    uint64_t src_hash;          /* alc_hash64 of the file's bytes */
    double *params;             /* (ir.n_params) current values, starting
                                   at the declared defaults */
    unsigned inputs;            /* alc_compiled_inputs */
    double compile_seconds;
};

/*
 * Loads and compiles path (NULL: the built-in uniform program
 * `sparsity = S`). Errors are the front end's (file:line:col) or the
 * backend's.
 */
int alc_allocfn_load(struct alc_allocfn *f, const char *path,
                     enum alc_backend be, struct alc_diag *d);
void alc_allocfn_free(struct alc_allocfn *f);

/* Sets a param; errors name it and its declared range when value is
 * outside it, or list the program's params when the name is unknown. */
int alc_allocfn_set_param(struct alc_allocfn *f, const char *name,
                          double value, struct alc_diag *d);

/* Parses "NAME=VALUE" and sets it. */
int alc_allocfn_set_param_str(struct alc_allocfn *f, const char *spec,
                              struct alc_diag *d);

/*
 * The program in the canonical layout (comments kept) with every param's
 * default replaced by its current value, and `header` (lines without '#',
 * '\n'-separated, may be NULL) as comment lines at the top. What `dsac
 * tune -o` writes. *out is malloc'd.
 */
int alc_allocfn_print(const struct alc_allocfn *f, const char *header,
                      char **out, struct alc_diag *d);

#endif /* ALC_ALLOCFN_H */
