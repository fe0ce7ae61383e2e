/*
 * ast.h: the syntax tree of an .alloc program, as the parser builds it and
 * as the searcher mutates it, plus the operations every user of trees
 * shares: constructors, the walker (continue / prune / abort), deep copy
 * into another arena, structural equality, the canonical printer and its
 * hash, the S-expression dump, and the random program generator.
 *
 * Ownership: every node, string and array of a program lives in one arena
 * (struct alc_arena, alc_common.h) that the caller owns; nothing in a
 * program is freed on its own. Copying a program into a fresh arena
 * (alc_ast_copy) is how the searcher keeps a tree beyond its arena.
 *
 * Checked vs unchecked: the parser and the constructors fill only the
 * syntactic fields. alc_check (front.h) resolves names and levels into
 * the fields marked "checker"; a tree that was built, copied or mutated
 * must be checked again before it is lowered.
 */
#ifndef ALC_AST_H
#define ALC_AST_H

#include <stdint.h>

#include "alc_common.h"
#include "ir.h"
#include "ops.h"

/* Nesting limits. Deep or hostile input gets an error, never a stack
 * overflow: the parser rejects expressions deeper than ALC_AST_MAX_DEPTH,
 * the checker rejects fn calls nested deeper than ALC_MAX_CALL_DEPTH. */
#define ALC_AST_MAX_DEPTH 200
#define ALC_MAX_CALL_DEPTH 32
#define ALC_MAX_FN_PARAMS 16

/* ---- Expressions ---- */

enum alc_expr_kind {
    ALC_EX_NUM,  /* a literal: u.num (finite, >= 0; `-2` is NEG(2)) */
    ALC_EX_NAME, /* a name used as a value: u.name */
    ALC_EX_OP,   /* a builtin operator or function: u.op, with exactly
                    alc_op_table[u.op].nargs operands in args */
    ALC_EX_CALL, /* a call of a user or prelude fn: u.call. Also a builtin
                    called with an arity it does not have (`min(a, b, c)`),
                    which the checker reports. */
    ALC_EX_COUNT
};

/* What a name refers to (filled by the checker). */
enum alc_ref {
    ALC_REF_NONE,  /* unresolved */
    ALC_REF_INPUT, /* u.name.index: enum alc_input */
    ALC_REF_PARAM, /* u.name.decl: the param statement */
    ALC_REF_LET,   /* u.name.decl: the let statement */
    ALC_REF_ARG,   /* u.name.index: position among the enclosing fn's
                      parameters */
    ALC_REF_COUNT
};

struct alc_stmt;

struct alc_expr {
    enum alc_expr_kind kind;
    int nargs;               /* OP, CALL: number of operands */
    struct alc_expr **args;  /* (nargs) OP, CALL: operands, arena */
    struct alc_span span;    /* the whole expression (parentheses included
                                when written); line 0 = not from source */
    struct alc_span at;      /* the operator, function name, name or
                                literal: where carets point */
    unsigned off;            /* byte offset of span in the source */
    int depth;               /* 1 + deepest operand (parser's limit) */
    union {
        double num; /* NUM */
        struct {
            const char *name;            /* NAME: as written */
            enum alc_ref ref;            /* checker */
            int index;                   /* checker: input or arg index */
            const struct alc_stmt *decl; /* checker: PARAM/LET statement */
        } name;
        enum alc_op op; /* OP */
        struct {
            const char *name;          /* CALL: function name as written */
            const struct alc_stmt *fn; /* checker: the FN statement */
        } call;
    } u;
};

/* ---- Statements ---- */

enum alc_stmt_kind {
    ALC_ST_PARAM, /* param NAME = value in [lo, hi]: value, lo, hi */
    ALC_ST_FN,    /* fn NAME(fn_params) = expr */
    ALC_ST_LET,   /* let NAME = expr */
    ALC_ST_OUT,   /* NAME = expr, NAME one of the outputs (sparsity, score;
                     the checker rejects others) */
    ALC_ST_COUNT
};

/* Outputs a program can set with `NAME = EXPR`. */
enum alc_output {
    ALC_OUT_SPARSITY, /* required; layer- or model-level */
    ALC_OUT_SCORE,    /* optional per-unit score reported to users */
    ALC_OUT_COUNT
};

extern const char *const alc_output_name[ALC_OUT_COUNT];

/* A comment line as written, kept so that `dsac fmt` never loses one. */
struct alc_comment {
    const char *text;  /* after the '#', trailing blanks removed */
    int blank_before;  /* a blank line separated it from what precedes */
};

struct alc_stmt {
    enum alc_stmt_kind kind;
    const char *name;          /* declared name, or the output's name */
    struct alc_span span;      /* from the keyword (or name) to the end */
    struct alc_span name_span;
    double value, lo, hi;      /* PARAM: finite, lo <= value <= hi when
                                  checked */
    const char **fn_params;    /* (n_fn_params) FN: parameter names */
    struct alc_span *fn_param_spans; /* (n_fn_params) FN, may be NULL */
    int n_fn_params;
    struct alc_expr *expr;     /* FN body, LET value, OUT value */
    /* layout, kept for the printer */
    struct alc_comment *comments; /* (n_comments) comment lines before the
                                     statement (and any written inside it,
                                     which the printer moves before it) */
    int n_comments;
    const char *trailing;      /* comment after the statement on its last
                                  line, or NULL */
    int blank_before;          /* a blank line separates it from what
                                  precedes */
    /* checker */
    int index;                 /* position in its statement list */
    enum alc_level level;      /* LET, OUT: the value's level */
    int output;                /* OUT: enum alc_output, or -1 when the
                                  name is no output. LET: -2 when an error
                                  inside it left its level unknown. */
};

struct alc_program {
    struct alc_stmt **stmts;   /* (n_stmts) the user's statements */
    int n_stmts;
    int cap_stmts;             /* entries allocated in stmts */
    struct alc_stmt **prelude; /* (n_prelude) fns of stdlib/prelude.alloc,
                                  visible to the program, never printed */
    int n_prelude;
    struct alc_comment *end_comments; /* (n_end_comments) after the last
                                         statement */
    int n_end_comments;
    const char *file;          /* name for messages */
    const char *src;           /* NUL-terminated source for carets, or
                                  NULL for generated trees */
    size_t src_len;
    struct alc_arena *arena;   /* owns everything above; not owned here */
    int checked;               /* alc_check succeeded on this tree */
};

/* ---- Constructors (arena-allocated; NULL when the arena is out of
 * memory). They set spans to 0 (not from source) and compute depth. ---- */

struct alc_expr *alc_ast_num(struct alc_arena *a, double v);
struct alc_expr *alc_ast_name(struct alc_arena *a, const char *name);
/* nargs must equal alc_op_table[op].nargs. */
struct alc_expr *alc_ast_op(struct alc_arena *a, enum alc_op op,
                            struct alc_expr *const *args, int nargs);
struct alc_expr *alc_ast_call(struct alc_arena *a, const char *fn,
                              struct alc_expr *const *args, int nargs);
struct alc_stmt *alc_ast_stmt(struct alc_arena *a, enum alc_stmt_kind kind,
                              const char *name);
struct alc_program *alc_ast_program(struct alc_arena *a);
/* Appends a statement (the array is reallocated in the arena). */
int alc_ast_append(struct alc_program *p, struct alc_stmt *s);

/* ---- Walker (like SQLite's walker.c) ---- */

enum alc_walk {
    ALC_WALK_CONTINUE, /* visit the node's operands */
    ALC_WALK_PRUNE,    /* skip its operands, go on with its siblings */
    ALC_WALK_ABORT     /* stop the whole walk */
};

struct alc_walker {
    /* Called before a node's operands (pre-order); NULL = continue. */
    enum alc_walk (*expr)(struct alc_walker *w, struct alc_expr *e);
    /* Called after a node's operands (post-order), unless pruned; NULL =
     * nothing. Returning ABORT stops the walk. */
    enum alc_walk (*expr_post)(struct alc_walker *w, struct alc_expr *e);
    /* Called for every statement before its expression; PRUNE skips the
     * expression. NULL = continue. */
    enum alc_walk (*stmt)(struct alc_walker *w, struct alc_stmt *s);
    void *ctx;         /* the caller's context */
    int depth;         /* current expression depth (read-only) */
    int max_depth;     /* 0 = ALC_AST_MAX_DEPTH; deeper: abort */
    int too_deep;      /* set when the walk aborted on max_depth */
    struct alc_stmt *cur_stmt; /* statement being walked (read-only) */
};

/* Return ALC_WALK_ABORT if the walk was aborted, else CONTINUE. */
enum alc_walk alc_walk_expr(struct alc_walker *w, struct alc_expr *e);
enum alc_walk alc_walk_program(struct alc_walker *w, struct alc_program *p);

/* ---- Copy, equality ---- */

/* Deep copy into arena a (strings included); checker fields are cleared
 * (the copy must be checked again). The prelude is copied too when
 * with_prelude is set; otherwise the copy has none and alc_check attaches
 * a fresh one. Nothing of the copy points into p's arena. Returns NULL
 * when out of memory. */
struct alc_program *alc_ast_copy(struct alc_arena *a,
                                 const struct alc_program *p,
                                 int with_prelude);
struct alc_expr *alc_ast_copy_expr(struct alc_arena *a,
                                   const struct alc_expr *e);
/* Deep copy of one statement (comments included, checker fields cleared),
 * for the searcher, which assembles programs from parts of others. */
struct alc_stmt *alc_ast_copy_stmt(struct alc_arena *a,
                                   const struct alc_stmt *s);
/* Structural equality: kinds, ops, names, literal bits, statements, param
 * values; not spans, comments or checker fields. */
int alc_ast_equal(const struct alc_program *a, const struct alc_program *b);
int alc_ast_expr_equal(const struct alc_expr *a, const struct alc_expr *b);

/* ---- Printing ---- */

#define ALC_PRINT_NO_COMMENTS 0x1 /* drop comments and blank lines */

/* The canonical text of a program (what `dsac fmt` writes): one statement
 * per line, operators spaced, parentheses only where precedence needs
 * them, shortest round-trip literals, comments kept. Prelude functions are
 * not printed. parse(print(p)) is structurally equal to p. */
void alc_print_program(const struct alc_program *p, unsigned flags,
                       struct alc_sb *out);
void alc_print_expr(const struct alc_expr *e, struct alc_sb *out);
/* The shortest decimal text that reads back as exactly v (finite v). */
void alc_print_number(double v, struct alc_sb *out);
/* Hash of the canonical print without comments: equal for programs that
 * differ only in layout and comments (the searcher's dedupe key). */
uint64_t alc_ast_hash(const struct alc_program *p);
/* S-expression dump for `dsac emit --target ast` and the parser tests:
 * (program (param M 5 1 20) (let lod (mean (> wanda (* M (mean wanda)))))
 * ...), one statement per line. */
void alc_ast_dump(const struct alc_program *p, struct alc_sb *out);
void alc_ast_dump_expr(const struct alc_expr *e, struct alc_sb *out);

/* ---- Random programs ---- */

/*
 * Options of alc_ast_random. The result is always a program that passes
 * alc_check: every op is applied at a level it accepts, so the random
 * trees serve as round-trip tests, as the searcher's free-mode seeds and
 * as the JIT/CUDA property tests' inputs.
 */
struct alc_random_opts {
    int max_depth;       /* expression depth limit, 1 .. ALC_AST_MAX_DEPTH */
    uint64_t ops;        /* allowed ops: bit (1 << enum alc_op); leaves
                            (CONST, INPUT, PARAM) are governed below */
    unsigned inputs;     /* allowed inputs: bit (1 << enum alc_input) */
    double const_lo;     /* literals drawn uniformly in [const_lo,
                            const_hi] (both >= 0) ... */
    double const_hi;
    int const_digits;    /* ... and rounded to this many significant
                            digits (0 = keep all 17) */
    double p_leaf;       /* chance of a leaf before max_depth (0..1) */
    int n_params;        /* params to declare (used as model leaves) */
    int n_lets;          /* lets to declare before the outputs */
    int n_fns;           /* user fns to declare (element-wise bodies over
                            their parameters, called from later exprs) */
    int score;           /* also set `score = ...` */
    int use_prelude;     /* may call prelude fns (minmax, zscore, ...) */
};

/* Defaults: depth 6, every op with ALC_OPF_SEARCH plus where/clamp/rank/
 * quantile, every named input, literals in [0, 4] with 3 digits, p_leaf
 * 0.3, 1 param, 2 lets, 1 fn, score on, prelude on. */
void alc_random_opts_default(struct alc_random_opts *o);

/* A random well-levelled program in arena a, or NULL (out of memory or
 * options that allow no program: e.g. no input and no reduction). */
struct alc_program *alc_ast_random(struct alc_arena *a, struct alc_rng *rng,
                                   const struct alc_random_opts *o);
/* A random expression of the given level whose free names are the
 * params and lets among the first `upto` statements of p (p checked, so
 * that lets have levels; or NULL) plus inputs, literals and prelude fns,
 * for the searcher's subtree mutations. NULL when no expression of that
 * level can be built from the options. */
struct alc_expr *alc_ast_random_expr(struct alc_arena *a, struct alc_rng *rng,
                                     const struct alc_random_opts *o,
                                     const struct alc_program *p, int upto,
                                     enum alc_level level);

#endif /* ALC_AST_H */
