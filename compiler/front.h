/*
 * front.h: the .alloc front end's entry points. Source text -> syntax tree
 * (alc_parse: re2c lexer + Lemon parser, grammar/) -> checked tree
 * (alc_check: names, arity, levels, limits) -> lowered DAG (alc_lower:
 * fns inlined, lets shared, constants folded; ir.h) that every backend
 * consumes.
 *
 * Errors: every function records its errors into a struct alc_diag, each
 * rendered as
 *     file:line:col: error: message
 *      <the source line>
 *      <caret under the offending token>
 *     hint: <a suggestion>             (only where one helps)
 * and returns -1 (or NULL). The parser stops at the first syntax error;
 * the checker reports every error it finds (at most d->max_err).
 *
 * Typical use (what `dsac check` and the runtime do):
 *     struct alc_arena a; alc_arena_init(&a, 0);
 *     struct alc_program *p = alc_front_load(&a, file, src, len, &d);
 *     struct alc_ir ir; alc_ir_init(&ir);
 *     if (p != NULL && alc_lower(p, &ir, &d) == 0) { ... alc_compile(&ir) }
 *     alc_ir_free(&ir); alc_arena_free(&a);
 */
#ifndef ALC_FRONT_H
#define ALC_FRONT_H

#include <stddef.h>

#include "alc_common.h"
#include "ast.h"
#include "ir.h"

/* Largest source accepted (bytes). */
#define ALC_MAX_SOURCE (16u << 20)

/*
 * Parses src[0..len) (need not be NUL-terminated; it is copied into the
 * arena) into a program named `file`, with the prelude attached. Returns
 * NULL with one error in d on a syntax error, a NUL byte, invalid UTF-8
 * or a control character (binary files), or a too-deep expression.
 */
struct alc_program *alc_parse(struct alc_arena *a, const char *file,
                              const char *src, size_t len,
                              struct alc_diag *d);

/*
 * Resolves names, checks arity, levels, params' ranges, outputs and
 * limits; records every error into d. A program must set `sparsity`
 * unless it is a library (alc_program_is_library). Fills the checker
 * fields of the tree (ast.h), and attaches the prelude to a tree that has
 * none. Returns 0 when the program is valid.
 */
int alc_check(struct alc_program *p, struct alc_diag *d);

/* Parses the embedded prelude into p's arena and attaches it (alc_parse
 * does; alc_check does for a tree without one, e.g. a generated one). */
int alc_front_attach_prelude(struct alc_program *p, struct alc_diag *d);

/* A file of fn declarations only (like stdlib/prelude.alloc): it checks
 * without `sparsity =`, but there is nothing to lower. */
int alc_program_is_library(const struct alc_program *p);

/* alc_parse + alc_check; NULL on any error. */
struct alc_program *alc_front_load(struct alc_arena *a, const char *file,
                                   const char *src, size_t len,
                                   struct alc_diag *d);

/*
 * Lowers a checked program into ir (initialised by the caller with
 * alc_ir_init; freed by the caller with alc_ir_free, also on error): params
 * declared in order, user fns inlined at each call site (memoised on their
 * arguments' nodes), lets lowered once and shared, map ops over constants
 * folded when the result is finite and not -0.0 (never NaN, -0.0 or inf;
 * params, S and L are not constants). Returns -1 with an error in d when
 * the program is not checked or the DAG would exceed ALC_MAX_IR_NODES.
 */
#define ALC_MAX_IR_NODES 1000000
int alc_lower(const struct alc_program *p, struct alc_ir *ir,
              struct alc_diag *d);

/* alc_front_load + alc_lower from a file on disk. */
int alc_front_compile_file(const char *path, struct alc_ir *ir,
                           struct alc_diag *d);

/* The embedded stdlib/prelude.alloc (NUL-terminated). */
extern const unsigned char alc_prelude_src[];
extern const size_t alc_prelude_src_len;

/*
 * Records a compile error at span sp of program p's source, rendered as
 * described above; hint may be NULL. Used by the checker and by tools that
 * validate trees (the searcher). A span with line 0 renders as
 * "file: error: message".
 */
void alc_front_error(struct alc_diag *d, const struct alc_program *p,
                     struct alc_span sp, const char *hint, const char *fmt,
                     ...) ALC_PRINTF(5, 6);

/* Optimal string alignment distance (edit distance with adjacent
 * transpositions), for "did you mean" hints. */
int alc_edit_distance(const char *a, const char *b);

#endif /* ALC_FRONT_H */
