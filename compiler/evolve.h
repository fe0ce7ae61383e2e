/*
 * evolve.h: the searcher's operators on members of a search space
 * (space.h): mutation and crossover, and the check every child passes
 * before it becomes a candidate (encode, canonical print, parse, check,
 * depth limit, canonical hash). Pure AST work: no model, no runtime. The
 * search driver (search/search.c) calls these; tests/test_evolve.c tests
 * them.
 *
 * Chain spaces (DSA's): the chain of calls of the candidate's program,
 * read as ops per stage, is edited and written back:
 *   swap       an op of an element-wise stage for another of the same
 *              stage (same arity, same level);
 *   insert     a unary op into a stage below its maximum;
 *   delete     an op of a stage above its minimum (or with an identity);
 *   reduction  the reducing stage's op for another (NO_OP included);
 *   param      a template param moved by sigma * (hi - lo) * N(0, 1),
 *              clamped to its declared range, rounded to `digits`
 *              significant digits;
 *   crossover  one stage's ops (the subchain) taken from the other parent,
 *              every param from either parent.
 * Free spaces: on the searched expression tree,
 *   point      an op for another of the same kind and arity;
 *   subtree    a node for a random expression of its level;
 *   wrap       a node inside a unary map (level kept);
 *   unwrap     a unary map replaced by its operand;
 *   literal    a literal moved within the space's literal range;
 *   param      as above;
 *   crossover  a subtree for a subtree of the same level of the other
 *              parent.
 * Every random choice draws from the caller's RNG in a fixed order, so a
 * seed fixes every child.
 */
#ifndef ALC_EVOLVE_H
#define ALC_EVOLVE_H

#include <stdint.h>

#include "alc_common.h"
#include "space.h"

/* Why a child (or a candidate) is not evaluated. ORDER alc_reject_name. */
enum alc_reject {
    ALC_REJ_NONE,      /* valid */
    ALC_REJ_LEVEL,     /* checker: an op at a level it does not take */
    ALC_REJ_ARITY,     /* checker: wrong number of arguments */
    ALC_REJ_DEPTH,     /* deeper than the space's depth limit */
    ALC_REJ_CHECK,     /* checker: any other error */
    ALC_REJ_DUPLICATE, /* canonical hash seen before */
    ALC_REJ_COMPILE,   /* the backend failed to compile it */
    ALC_REJ_NAN,       /* allocation: a ratio is NaN (degenerate min-max,
                          log of a negative, ...) */
    ALC_REJ_RANGE,     /* allocation: a ratio is outside [0, 1) */
    ALC_REJ_PPL,       /* evaluation: perplexity not finite */
    ALC_REJ_COUNT
};

/* "level", "arity", ... (ORDER enum alc_reject). */
extern const char *const alc_reject_name[ALC_REJ_COUNT];

/* The class of a checker error from its first line. */
enum alc_reject alc_evolve_classify(const char *first_error);

/*
 * A mutated copy of parent into child (the free expression copied into
 * arena a); `what` receives the operator ("swap pre", "param lambda").
 * Returns 0, 1 when no operator applies (a foreign program without
 * params), -1 when out of memory.
 */
int alc_evolve_mutate(const struct alc_space *sp, struct alc_arena *a,
                      struct alc_rng *rng, const struct alc_cand *parent,
                      struct alc_cand *child, struct alc_sb *what);

/* A crossover of x and y into child. Returns 0, 1 when none is possible
 * (a foreign parent, or nothing to exchange), -1 when out of memory. */
int alc_evolve_crossover(const struct alc_space *sp, struct alc_arena *a,
                         struct alc_rng *rng, const struct alc_cand *x,
                         const struct alc_cand *y, struct alc_cand *child,
                         struct alc_sb *what);

/* A checked child. */
struct alc_evolve_child {
    char *src;              /* canonical text without comments (malloc'd),
                               NULL when rejected */
    uint64_t hash;          /* alc_ast_hash of the checked program */
    enum alc_reject reject; /* ALC_REJ_NONE when it passed */
    char *why;              /* the first error line when rejected */
};

void alc_evolve_child_free(struct alc_evolve_child *c);

/*
 * Encodes c, prints it canonically, parses and checks that text (so what
 * is stored is exactly what was checked), and applies the space's depth
 * limit. Returns 0 whether the child passed or was rejected
 * (out->reject), -1 when out of memory.
 */
int alc_evolve_finish(const struct alc_space *sp, const struct alc_cand *c,
                      struct alc_evolve_child *out);

/*
 * Reads a candidate's canonical text back into a member of sp (the parse
 * and its tree live in arena a): what the searcher does with a parent.
 * Returns 1 (member), 0 (foreign: only its params can change), -1 on a
 * parse or check error (in d) or when out of memory.
 */
int alc_evolve_read(const struct alc_space *sp, struct alc_arena *a,
                    const char *name, const char *src, struct alc_cand *out,
                    struct alc_diag *d);

/* v moved by sigma * (hi - lo) * N(0, 1), clamped to [lo, hi], rounded to
 * `digits` significant digits (then clamped again). */
double alc_evolve_perturb(struct alc_rng *rng, double v, double lo,
                          double hi, double sigma, int digits);

#endif /* ALC_EVOLVE_H */
