/*
 * space.h: search spaces of `dsac search` (grammar/SEARCH.md), read from a
 * small line-oriented file whose fragments are .alloc text, and the
 * members of a space as .alloc programs.
 *
 * A space is either
 *   chain: stages of unary ops (each a `fn` of one parameter), applied in
 *          order to one input, as DSA's pre-process -> reduction ->
 *          transform -> post-process (stdlib/search/dsa.space);
 *   free:  any well-levelled expression over a set of ops and inputs, up
 *          to a depth (stdlib/search/free.space);
 * plus a template program in which the name `_` marks where the searched
 * expression goes (DSA's mapping to sparsities, by default).
 *
 * A member (struct alc_cand) is the searched part: the chain's ops per
 * stage, or the free expression, plus the values of the template's params.
 * alc_space_encode turns it into a program:
 *     fn pre_abslog(x) = log(abs(where(x == 0, 1, x)))
 *     fn red_var(x) = var(x)
 *     ...
 *     param lambda = 0.08 in [0, 0.25]
 *     let r = dsa_score(post_asin(tr_atan(red_var(pre_abslog(wanda)))))
 *     score = r
 *     sparsity = floor_nonpos(dsa_sparsity(r, lambda), 0.01)
 * and alc_space_decode reads one back: from that form directly, or, for
 * any other program (an imported DSA genome, a hand-written file), by
 * inlining its lets and fns and matching the template and the ops'
 * bodies. The searcher (evolve.h) mutates members; the runtime compiles
 * their programs. Used by evolve.c, the search driver (search/) and the
 * tests.
 */
#ifndef ALC_SPACE_H
#define ALC_SPACE_H

#include <stdint.h>

#include "alc_common.h"
#include "ast.h"

#define ALC_SPACE_MAX_STAGES 8
#define ALC_SPACE_MAX_OPS 64      /* ops over all stages */
#define ALC_SPACE_MAX_HELPERS 32
#define ALC_SPACE_MAX_CHAIN 8     /* ops in one stage */
#define ALC_SPACE_MAX_PARAMS 16   /* params of the template */
#define ALC_SPACE_MAX_BYTES (1u << 20)

enum alc_space_mode {
    ALC_SPACE_CHAIN,
    ALC_SPACE_FREE,
    ALC_SPACE_MODE_COUNT
};

/* "chain", "free" (ORDER enum alc_space_mode). */
extern const char *const alc_space_mode_name[ALC_SPACE_MODE_COUNT];

/* One op of a chain stage: a unary fn of the space file. */
struct alc_space_op {
    const char *fn;              /* fn name, "pre_abslog" */
    const char *label;           /* genome-style name, "ABSLOG" */
    const struct alc_stmt *decl; /* the fn statement (space arena) */
    struct alc_expr *inl;        /* its body with helpers and prelude fns
                                    inlined, over the name `param` */
    const char *param;           /* the fn's parameter name */
    int stage;
    int identity;                /* the body is its parameter: no call is
                                    written for it */
    int reduces;                 /* element -> layer (else level-keeping) */
    uint64_t helpers;            /* bit h: needs helper h (transitively) */
};

struct alc_space_stage {
    const char *name;            /* "pre" */
    int min, max;                /* ops in the stage (identity included) */
    int first, n;                /* ops[first .. first + n) */
    int reduces;                 /* its non-identity ops reduce */
    int identity;                /* index of its identity op, or -1 */
    int line;                    /* of the `stage` directive */
};

struct alc_space {
    struct alc_arena arena;      /* owns everything below */
    const char *name;            /* `space NAME` */
    const char *file;            /* for messages */
    const char *src;             /* the text (arena) */
    size_t len;
    uint64_t hash;               /* alc_hash64 of the text */
    enum alc_space_mode mode;

    /* chain */
    int input;                   /* enum alc_input the chain reads */
    struct alc_space_stage stages[ALC_SPACE_MAX_STAGES];
    int n_stages;
    struct alc_space_op ops[ALC_SPACE_MAX_OPS];
    int n_ops;
    int reduce_stage;            /* stage whose ops reduce, or -1 */
    const struct alc_stmt *finish; /* fn applied when nothing reduced */
    struct alc_expr *finish_inl; /* its inlined body */
    const char *finish_param;
    uint64_t finish_helpers;
    const struct alc_stmt *helpers[ALC_SPACE_MAX_HELPERS];
    int n_helpers;

    /* free */
    struct alc_random_opts gen;  /* ops, inputs, literals, depth, p_leaf */
    enum alc_level level;        /* level of the searched expression */

    /* both */
    struct alc_program *tmpl;    /* template statements; `_` = the hole */
    double sigma;                /* param / literal perturbation, as a
                                    fraction of the range (default 0.1) */
    int digits;                  /* significant digits of perturbed values
                                    (default 3) */
    unsigned inputs;             /* bit set of the inputs members read */
};

/*
 * Parses a space file (src[0..len), need not be NUL-terminated) named
 * `file` for messages. Errors are file:line:col with the source line and
 * a caret (fragments are parsed and checked as .alloc text in place).
 * On success sp owns its arena: free with alc_space_free.
 */
int alc_space_parse(struct alc_space *sp, const char *file, const char *src,
                    size_t len, struct alc_diag *d);
/* alc_space_parse of a file, or of a built-in space when path is "dsa" or
 * "free" (stdlib/search/<name>.space embedded at build time). */
int alc_space_load(struct alc_space *sp, const char *path,
                   struct alc_diag *d);
void alc_space_free(struct alc_space *sp);

/* The embedded stdlib/search spaces (NUL-terminated). */
extern const unsigned char alc_space_dsa_src[];
extern const size_t alc_space_dsa_src_len;
extern const unsigned char alc_space_free_src[];
extern const size_t alc_space_free_src_len;

/* ---- Members ---- */

/* The chain of a member: per stage, the non-identity ops (indices into
 * sp->ops) in application order. */
struct alc_chain {
    int n[ALC_SPACE_MAX_STAGES];
    int op[ALC_SPACE_MAX_STAGES][ALC_SPACE_MAX_CHAIN];
};

struct alc_cand {
    struct alc_chain chain;      /* chain mode */
    struct alc_expr *expr;       /* free mode: the searched expression, in
                                    the caller's arena */
    double params[ALC_SPACE_MAX_PARAMS]; /* the template's params, in
                                            template order */
    int n_params;
    /* A program that is not a member (a seed from another space): kept
     * as it is; the searcher can only change its params. */
    const struct alc_program *foreign;
};

/* The chain's length: the ops of every stage. */
int alc_chain_len(const struct alc_chain *c);
/* Every stage holds between min and max ops (identity ops filling up to
 * min where the stage has one). */
int alc_space_chain_valid(const struct alc_space *sp,
                          const struct alc_chain *c);

/* Builds the member's program in arena a (unchecked; print, parse and
 * check it: evolve.h's alc_evolve_finish does). NULL when out of memory. */
struct alc_program *alc_space_encode(const struct alc_space *sp,
                                     struct alc_arena *a,
                                     const struct alc_cand *c);

/*
 * Reads a checked program as a member of sp into out (the free expression
 * is copied into arena a). Returns 1 when it is a member, 0 when it is not
 * (out->foreign is then p and its params are read by name), -1 when out
 * of memory.
 */
int alc_space_decode(const struct alc_space *sp, struct alc_arena *a,
                     const struct alc_program *p, struct alc_cand *out);

/* A member drawn at random: chain stages as DSA's generate_random_graph
 * (a count uniform in [min, max], then that many ops uniformly with
 * replacement, identity included), free expressions by alc_ast_random_expr;
 * params at their defaults. Returns 0, or -1 when no expression could be
 * built (out of memory). */
int alc_space_random(const struct alc_space *sp, struct alc_arena *a,
                     struct alc_rng *rng, struct alc_cand *out);

/* The template's params at their declared defaults. */
void alc_space_default_params(const struct alc_space *sp,
                              struct alc_cand *out);

/* "ABSLOG -> VAR -> ATAN -> ASIN" for a chain (identity stages as
 * NO_OP-like labels of the stage's identity op), or the free expression. */
void alc_space_describe(const struct alc_space *sp, const struct alc_cand *c,
                        struct alc_sb *out);

/* Level of a free expression whose names are inputs (checker-free):
 * literals model, inputs their level, maps the finest operand, reductions
 * one coarser than their first operand, rank and matrix statistics layer,
 * calls the finest argument (the prelude's polymorphic fns). -1 for a
 * name that is no input or a malformed node. */
int alc_space_expr_level(const struct alc_expr *e);

/* Depth of an expression (a leaf is 1). */
int alc_space_expr_depth(const struct alc_expr *e);

#endif /* ALC_SPACE_H */
