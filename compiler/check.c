/*
 * check.c: the checker (alc_check, front.h). Two passes over a parsed or
 * generated program:
 *   1. declarations and names, statement by statement through the walker:
 *      what every name and call refers to (fn parameters, params and lets
 *      declared earlier, fns, the prelude, inputs, builtins), arities,
 *      redefinitions, shadowing of inputs and builtins, outputs, params'
 *      ranges. Names must be declared before use, so recursion can only be
 *      a fn calling itself, which is reported.
 *   2. levels (element / layer / model): every let and output, with user
 *      fns instantiated per call site for the levels of their arguments
 *      (memoised on fn + argument levels), nesting bounded.
 * Every error is recorded (alc_front_error); an erroneous subexpression
 * gets the level LV_ERR, which silences the errors it would cause
 * further up, so that one mistake gives one message.
 */
#include <math.h>
#include <stdlib.h>

#include "front.h"

#define LV_ERR (-1)
#define MAX_TOTAL_DEPTH 2000 /* recursion frames across inlined calls */

void alc_front_error_note(struct alc_diag *d, const struct alc_program *p,
                          struct alc_span sp, const char *hint,
                          const char *note, const char *msg);

/* One active fn instantiation (pass 2). */
struct frame {
    const struct alc_expr *call; /* the call being instantiated */
    const struct alc_stmt *fn;
    int in_user_code;            /* the call is written in the user's code */
    int reported;                /* an error inside the prelude was placed
                                    at this call: report no more there */
};

/* Memo of instantiations: (fn, argument levels) -> result level. */
struct inst {
    const struct alc_stmt *fn;
    uint32_t levels; /* 2 bits per argument */
    int result;
};

/* An error, rendered, kept until the end to be printed in source order. */
struct pending {
    int line, col, seq;
    char *text;
};

struct checker {
    struct alc_program *p;
    struct alc_diag *d;     /* errors are rendered into tmp, then sorted */
    struct alc_diag tmp;
    struct pending *errs;
    int n_errs, cap_errs;
    int n_err;
    /* pass 1 */
    struct alc_stmt *const *scope; /* statements visible: scope[0..n_scope) */
    int n_scope;
    int in_prelude;                /* resolving prelude statements */
    const struct alc_stmt *fn;     /* fn whose body is being resolved */
    const struct alc_stmt *cur;    /* statement being resolved */
    /* pass 2 */
    struct frame frames[ALC_MAX_CALL_DEPTH + 1];
    int n_frames;
    int total_depth;
    int depth_reported;
    struct inst *memo;             /* open addressing, fn == NULL empty */
    int memo_cap, memo_n;
    int oom;
};

/* ---- Messages ---- */

/* The expression's canonical text, shortened for messages. */
static void expr_text(const struct alc_expr *e, struct alc_sb *out)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_print_expr(e, &sb);
    if (sb.len > 40) {
        alc_sb_append(out, sb.s, 37);
        alc_sb_puts(out, "...");
    } else {
        alc_sb_puts(out, alc_sb_str(&sb));
    }
    alc_sb_free(&sb);
}

static int is_prelude_fn(const struct checker *c, const struct alc_stmt *fn)
{
    for (int i = 0; i < c->p->n_prelude; i++) {
        if (c->p->prelude[i] == fn) {
            return 1;
        }
    }
    return 0;
}

static void render_report(struct checker *c, struct alc_diag *d,
                          struct alc_span sp, const char *hint,
                          const char *msg, struct alc_span *where)
{
    struct alc_sb note, text;
    *where = sp;
    if (c->n_frames == 0 && !c->in_prelude) {
        alc_front_error(d, c->p, sp, hint, "%s", msg);
        return;
    }
    alc_sb_init(&note);
    alc_sb_init(&text);
    const struct frame *top = c->n_frames > 0 ? &c->frames[c->n_frames - 1]
                                              : NULL;
    if (top != NULL && !is_prelude_fn(c, top->fn)) {
        alc_sb_printf(&note, "in the call of '%s' at line %d, column %d",
                      top->fn->name, top->call->at.line, top->call->at.col);
        alc_front_error_note(d, c->p, sp, hint, alc_sb_str(&note), msg);
    } else {
        int k = c->n_frames - 1;
        while (k >= 0 && !c->frames[k].in_user_code) {
            k--;
        }
        struct alc_span at = {0, 0, 0};
        if (k >= 0) {
            at = c->frames[k].call->at;
            c->frames[k].reported = 1;
        }
        *where = at;
        alc_sb_printf(&text, "in '%s' (prelude): %s",
                      top ? top->fn->name : "?", msg);
        alc_front_error(d, c->p, at, hint, "%s", alc_sb_str(&text));
    }
    alc_sb_free(&note);
    alc_sb_free(&text);
}

/* An error inside a prelude body was already placed at the user's call. */
static int prelude_already_reported(const struct checker *c)
{
    if (c->n_frames == 0 ||
        !is_prelude_fn(c, c->frames[c->n_frames - 1].fn)) {
        return 0;
    }
    for (int k = c->n_frames - 1; k >= 0; k--) {
        if (c->frames[k].in_user_code) {
            return c->frames[k].reported;
        }
    }
    return 0;
}

/*
 * Reports msg at sp. Inside a fn instantiation (pass 2) the error is
 * placed in the user's code: at sp with a note naming the call when the
 * body is the user's, at the innermost call written by the user when the
 * body is the prelude's. Errors are kept and printed in source order by
 * flush_reports.
 */
static void report(struct checker *c, struct alc_span sp, const char *hint,
                   const char *msg)
{
    struct alc_span where;
    int max_err = c->d->max_err > 0 ? c->d->max_err : 100;
    if (prelude_already_reported(c)) {
        return; /* one error per call of a prelude fn */
    }
    c->n_err++;
    if (c->n_errs >= max_err) {
        return; /* counted, not rendered: alc_diag would drop it anyway */
    }
    alc_diag_reset(&c->tmp);
    render_report(c, &c->tmp, sp, hint, msg, &where);
    if (c->n_errs == c->cap_errs) {
        int cap = c->cap_errs ? c->cap_errs * 2 : 16;
        struct pending *v = realloc(c->errs, (size_t)cap * sizeof *v);
        if (v == NULL) {
            c->oom = 1;
            return;
        }
        c->errs = v;
        c->cap_errs = cap;
    }
    struct pending *e = &c->errs[c->n_errs];
    e->line = where.line;
    e->col = where.col;
    e->seq = c->n_errs;
    e->text = alc_sb_take(&c->tmp.text);
    c->n_errs++;
}

static int cmp_pending(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    /* errors without a position last */
    int lx = x->line > 0 ? x->line : 1 << 30;
    int ly = y->line > 0 ? y->line : 1 << 30;
    if (lx != ly) {
        return lx < ly ? -1 : 1;
    }
    if (x->col != y->col) {
        return x->col < y->col ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void flush_reports(struct checker *c)
{
    if (c->n_errs > 1) {
        qsort(c->errs, (size_t)c->n_errs, sizeof *c->errs, cmp_pending);
    }
    for (int i = 0; i < c->n_errs; i++) {
        alc_diag_raw(c->d, 1, c->errs[i].text);
        free(c->errs[i].text);
    }
    free(c->errs);
    c->errs = NULL;
    c->n_errs = 0;
}

static void reportf(struct checker *c, struct alc_span sp, const char *hint,
                    const char *fmt, ...) ALC_PRINTF(4, 5);

static void reportf(struct checker *c, struct alc_span sp, const char *hint,
                    const char *fmt, ...)
{
    struct alc_sb msg;
    va_list ap;
    alc_sb_init(&msg);
    va_start(ap, fmt);
    alc_sb_vprintf(&msg, fmt, ap);
    va_end(ap);
    report(c, sp, hint, alc_sb_str(&msg));
    alc_sb_free(&msg);
}

/* ---- Edit distance and suggestions ---- */

int alc_edit_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 64 || m > 64) {
        return 1000;
    }
    int d[65][65];
    for (int i = 0; i <= n; i++) {
        d[i][0] = i;
    }
    for (int j = 0; j <= m; j++) {
        d[0][j] = j;
    }
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) {
                v = d[i][j - 1] + 1;
            }
            if (d[i - 1][j - 1] + cost < v) {
                v = d[i - 1][j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v) {
                v = d[i - 2][j - 2] + 1;
            }
            d[i][j] = v;
        }
    }
    return d[n][m];
}

struct suggest {
    const char *name;
    const char *best;
    int dist;
};

static void consider(struct suggest *s, const char *cand)
{
    if (cand == NULL) {
        return;
    }
    int len = (int)strlen(s->name);
    int limit = len <= 3 ? 1 : 2;
    int d = alc_edit_distance(s->name, cand);
    if (d <= limit && d < s->dist && d < len) {
        s->dist = d;
        s->best = cand;
    }
}

/* ---- Pass 1: declarations and names ---- */

static const struct alc_stmt *find_decl(struct alc_stmt *const *v, int n,
                                        const char *name)
{
    for (int i = 0; i < n; i++) {
        if (v[i]->kind != ALC_ST_OUT && strcmp(v[i]->name, name) == 0) {
            return v[i];
        }
    }
    return NULL;
}

/* A user declaration anywhere in the program (for "used before"). */
static const struct alc_stmt *find_any(const struct checker *c,
                                       const char *name)
{
    if (c->in_prelude) {
        return NULL;
    }
    return find_decl(c->p->stmts, c->p->n_stmts, name);
}

static const struct alc_stmt *find_fn(const struct checker *c,
                                      const char *name)
{
    const struct alc_stmt *s = find_decl(c->scope, c->n_scope, name);
    if (s == NULL && !c->in_prelude) {
        s = find_decl(c->p->prelude, c->p->n_prelude, name);
    }
    return s;
}

static int fn_arg_index(const struct alc_stmt *fn, const char *name)
{
    if (fn == NULL) {
        return -1;
    }
    for (int i = 0; i < fn->n_fn_params; i++) {
        if (strcmp(fn->fn_params[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *kind_word(enum alc_stmt_kind k)
{
    switch (k) {
    case ALC_ST_PARAM:
        return "a param";
    case ALC_ST_FN:
        return "a function";
    case ALC_ST_LET:
        return "a let";
    default:
        return "an output";
    }
}

static void suggest_value(const struct checker *c, struct suggest *s)
{
    if (c->fn != NULL) {
        for (int i = 0; i < c->fn->n_fn_params; i++) {
            consider(s, c->fn->fn_params[i]);
        }
    }
    for (int i = 0; i < c->n_scope; i++) {
        if (c->scope[i]->kind == ALC_ST_PARAM ||
            c->scope[i]->kind == ALC_ST_LET) {
            consider(s, c->scope[i]->name);
        }
    }
    for (int i = 0; i < ALC_IN_COUNT; i++) {
        consider(s, alc_input_table[i].name);
    }
}

static void suggest_fn(const struct checker *c, struct suggest *s)
{
    for (int i = 0; i < ALC_OP_COUNT; i++) {
        if (alc_op_table[i].prec == 0) {
            consider(s, alc_op_table[i].name);
        }
    }
    for (int i = 0; i < c->n_scope; i++) {
        if (c->scope[i]->kind == ALC_ST_FN) {
            consider(s, c->scope[i]->name);
        }
    }
    if (!c->in_prelude) {
        for (int i = 0; i < c->p->n_prelude; i++) {
            consider(s, c->p->prelude[i]->name);
        }
    }
}

/* Resolves a name used as a value. */
static void resolve_name(struct checker *c, struct alc_expr *e)
{
    const char *nm = e->u.name.name;
    const struct alc_stmt *s = NULL;
    int k = fn_arg_index(c->fn, nm);
    e->u.name.ref = ALC_REF_NONE;
    e->u.name.decl = NULL;
    if (k >= 0) {
        e->u.name.ref = ALC_REF_ARG;
        e->u.name.index = k;
        return;
    }
    s = find_decl(c->scope, c->n_scope, nm);
    if (s != NULL && (s->kind == ALC_ST_PARAM || s->kind == ALC_ST_LET)) {
        e->u.name.ref = s->kind == ALC_ST_PARAM ? ALC_REF_PARAM
                                                : ALC_REF_LET;
        e->u.name.decl = s;
        return;
    }
    k = alc_input_lookup(nm);
    if (k >= 0 && s == NULL) {
        e->u.name.ref = ALC_REF_INPUT;
        e->u.name.index = k;
        return;
    }
    if (s == NULL && !c->in_prelude) {
        s = find_decl(c->p->prelude, c->p->n_prelude, nm);
    }
    if (s != NULL && s->kind == ALC_ST_FN) {
        reportf(c, e->at, NULL, "'%s' is a function; call it as %s(...)",
                nm, nm);
        return;
    }
    if (alc_op_lookup_name(nm) >= 0) {
        reportf(c, e->at, NULL,
                "'%s' is a builtin function; call it as %s(...)", nm, nm);
        return;
    }
    for (int i = 0; i < ALC_OUT_COUNT; i++) {
        if (strcmp(nm, alc_output_name[i]) == 0) {
            reportf(c, e->at, "define the value with `let` and use that name",
                    "the output '%s' cannot be read", nm);
            return;
        }
    }
    s = find_any(c, nm);
    if (s != NULL) {
        reportf(c, e->at, "move the definition before its first use",
                "'%s' is used before its definition (line %d)", nm,
                s->span.line);
        return;
    }
    struct suggest sg = {nm, NULL, 1000};
    suggest_value(c, &sg);
    if (sg.best != NULL) {
        reportf(c, e->at, NULL, "unknown name '%s'; did you mean '%s'?", nm,
                sg.best);
    } else {
        reportf(c, e->at, NULL, "unknown name '%s'", nm);
    }
}

/* "1 argument", "1 or 2 arguments" for a builtin name. */
static void builtin_arities(const char *name, struct alc_sb *out)
{
    int n = 0, last = -1;
    for (int k = 0; k <= 3; k++) {
        if (alc_op_lookup_call(name, k) < 0) {
            continue;
        }
        alc_sb_printf(out, "%s%d", n == 0 ? "" : " or ", k);
        last = k;
        n++;
    }
    alc_sb_puts(out, n == 1 && last == 1 ? " argument" : " arguments");
}

static void arity_error(struct checker *c, const struct alc_expr *e,
                        const char *name, const char *takes)
{
    reportf(c, e->at, NULL, "'%s' takes %s, but %d %s given", name, takes,
            e->nargs, e->nargs == 1 ? "was" : "were");
}

/* Resolves a call of a fn (or of a builtin with a wrong arity). */
static void resolve_call(struct checker *c, struct alc_expr *e)
{
    const char *nm = e->u.call.name;
    const struct alc_stmt *s = NULL;
    struct alc_sb takes;
    e->u.call.fn = NULL;
    alc_sb_init(&takes);
    if (alc_op_lookup_name(nm) >= 0) {
        builtin_arities(nm, &takes);
        arity_error(c, e, nm, alc_sb_str(&takes));
        goto done;
    }
    if (c->fn != NULL && strcmp(c->fn->name, nm) == 0) {
        reportf(c, e->at, NULL,
                "'%s' calls itself: functions cannot be recursive", nm);
        goto done;
    }
    if (fn_arg_index(c->fn, nm) >= 0) {
        reportf(c, e->at, NULL, "'%s' is a parameter, not a function", nm);
        goto done;
    }
    s = find_fn(c, nm);
    if (s != NULL && s->kind == ALC_ST_FN) {
        if (s->n_fn_params != e->nargs) {
            alc_sb_printf(&takes, "%d argument%s", s->n_fn_params,
                          s->n_fn_params == 1 ? "" : "s");
            arity_error(c, e, nm, alc_sb_str(&takes));
            goto done;
        }
        e->u.call.fn = s;
        goto done;
    }
    if (s != NULL) {
        reportf(c, e->at, NULL, "'%s' is %s, not a function", nm,
                kind_word(s->kind));
        goto done;
    }
    if (alc_input_lookup(nm) >= 0) {
        reportf(c, e->at, NULL, "'%s' is an input, not a function", nm);
        goto done;
    }
    s = find_any(c, nm);
    if (s != NULL) {
        reportf(c, e->at, "move the definition before its first use",
                "'%s' is used before its definition (line %d)", nm,
                s->span.line);
        goto done;
    }
    struct suggest sg = {nm, NULL, 1000};
    suggest_fn(c, &sg);
    if (sg.best != NULL) {
        reportf(c, e->at, NULL, "unknown function '%s'; did you mean '%s'?",
                nm, sg.best);
    } else {
        reportf(c, e->at, NULL, "unknown function '%s'", nm);
    }
done:
    alc_sb_free(&takes);
}

/* alpha_peak(weight) / alpha_hill(weight): the argument is `weight`. */
static void check_matrix_arg(struct checker *c, struct alc_expr *e)
{
    const struct alc_expr *a = e->args[0];
    if (a->kind == ALC_EX_NAME && strcmp(a->u.name.name, "weight") == 0 &&
        fn_arg_index(c->fn, "weight") < 0) {
        return;
    }
    reportf(c, e->at, NULL,
            "%s takes the input `weight` itself as its argument",
            alc_op_table[e->u.op].name);
}

static enum alc_walk resolve_expr(struct alc_walker *w, struct alc_expr *e)
{
    struct checker *c = w->ctx;
    switch (e->kind) {
    case ALC_EX_NAME:
        resolve_name(c, e);
        break;
    case ALC_EX_CALL:
        resolve_call(c, e);
        break;
    case ALC_EX_OP:
        if (e->u.op >= ALC_OP_COUNT ||
            alc_op_table[e->u.op].kind == ALC_OPK_LEAF ||
            e->nargs != alc_op_table[e->u.op].nargs) {
            reportf(c, e->at, NULL, "malformed operator node");
            return ALC_WALK_PRUNE;
        }
        if (alc_op_table[e->u.op].kind == ALC_OPK_MATRIX) {
            check_matrix_arg(c, e);
            return ALC_WALK_PRUNE;
        }
        break;
    case ALC_EX_NUM:
        if (!(e->u.num >= 0.0) || isinf(e->u.num) || signbit(e->u.num)) {
            reportf(c, e->at, NULL, "malformed literal (negative or not "
                                    "finite)");
        }
        break;
    default:
        reportf(c, e->at, NULL, "malformed expression node");
        return ALC_WALK_PRUNE;
    }
    return ALC_WALK_CONTINUE;
}

static const char *reserved_why(const char *name)
{
    if (alc_input_lookup(name) >= 0) {
        return "it is an input";
    }
    if (alc_op_lookup_name(name) >= 0) {
        return "it is a builtin function";
    }
    for (int i = 0; i < ALC_OUT_COUNT; i++) {
        if (strcmp(name, alc_output_name[i]) == 0) {
            return "it is an output";
        }
    }
    return NULL;
}

static void check_fn_params(struct checker *c, const struct alc_stmt *s)
{
    static const struct alc_span none = {0, 0, 0};
    if (s->n_fn_params > ALC_MAX_FN_PARAMS) {
        reportf(c, s->name_span, NULL,
                "'%s' has %d parameters; at most %d are allowed", s->name,
                s->n_fn_params, ALC_MAX_FN_PARAMS);
        return;
    }
    for (int i = 0; i < s->n_fn_params; i++) {
        struct alc_span sp = s->fn_param_spans ? s->fn_param_spans[i] : none;
        const char *why = reserved_why(s->fn_params[i]);
        if (why != NULL) {
            reportf(c, sp, NULL, "cannot name a parameter '%s': %s",
                    s->fn_params[i], why);
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(s->fn_params[i], s->fn_params[j]) == 0) {
                reportf(c, sp, NULL, "duplicate parameter '%s'",
                        s->fn_params[i]);
            }
        }
    }
}

static void check_param(struct checker *c, const struct alc_stmt *s)
{
    if (!isfinite(s->value) || !isfinite(s->lo) || !isfinite(s->hi)) {
        reportf(c, s->name_span, NULL, "param '%s' has a non-finite value",
                s->name);
    } else if (s->lo > s->hi) {
        reportf(c, s->name_span, NULL,
                "param '%s' has an empty range [%.17g, %.17g]", s->name,
                s->lo, s->hi);
    } else if (s->value < s->lo || s->value > s->hi) {
        reportf(c, s->name_span, NULL,
                "param '%s' = %.17g is outside its range [%.17g, %.17g]",
                s->name, s->value, s->lo, s->hi);
    }
}

static void check_output(struct checker *c, struct alc_stmt *s,
                         struct alc_stmt **seen)
{
    s->output = -1;
    for (int i = 0; i < ALC_OUT_COUNT; i++) {
        if (strcmp(s->name, alc_output_name[i]) == 0) {
            s->output = i;
        }
    }
    if (s->output < 0) {
        struct suggest sg = {s->name, NULL, 1000};
        const char *hint = "`NAME = EXPR` sets an output (sparsity or "
                           "score); define a name with `let NAME = EXPR`";
        for (int i = 0; i < ALC_OUT_COUNT; i++) {
            consider(&sg, alc_output_name[i]);
        }
        if (sg.best != NULL) {
            reportf(c, s->name_span, hint,
                    "unknown output '%s'; did you mean '%s'?", s->name,
                    sg.best);
        } else {
            reportf(c, s->name_span, hint, "unknown output '%s'", s->name);
        }
        return;
    }
    if (seen[s->output] != NULL) {
        reportf(c, s->name_span, NULL, "'%s' is set twice (first at line %d)",
                s->name, seen[s->output]->span.line);
        return;
    }
    seen[s->output] = s;
}

/* Checks one declaration's name against the statements before it. */
static void check_decl_name(struct checker *c, struct alc_stmt *s)
{
    const char *why = reserved_why(s->name);
    const struct alc_stmt *prev = NULL;
    if (why != NULL) {
        reportf(c, s->name_span, NULL, "cannot define '%s': %s", s->name,
                why);
        return;
    }
    prev = find_decl(c->scope, c->n_scope, s->name);
    if (prev != NULL) {
        reportf(c, s->name_span, NULL,
                "redefinition of '%s' (first defined at line %d)", s->name,
                prev->span.line);
    }
}

static int resolve_stmts(struct checker *c, struct alc_stmt **v, int n,
                         struct alc_stmt **seen)
{
    struct alc_walker w;
    memset(&w, 0, sizeof w);
    w.expr = resolve_expr;
    w.ctx = c;
    c->scope = v;
    for (int i = 0; i < n; i++) {
        struct alc_stmt *s = v[i];
        c->n_scope = i;
        c->cur = s;
        c->fn = s->kind == ALC_ST_FN ? s : NULL;
        s->index = i;
        s->level = ALC_LV_MODEL;
        if (s->kind == ALC_ST_OUT) {
            check_output(c, s, seen);
        } else {
            check_decl_name(c, s);
        }
        if (s->kind == ALC_ST_PARAM) {
            check_param(c, s);
        } else if (s->kind == ALC_ST_FN) {
            check_fn_params(c, s);
        }
        if (s->expr == NULL) {
            if (s->kind != ALC_ST_PARAM) {
                reportf(c, s->name_span, NULL, "statement without a value");
            }
            continue;
        }
        w.depth = 0;
        w.too_deep = 0;
        if (alc_walk_expr(&w, s->expr) == ALC_WALK_ABORT && w.too_deep) {
            reportf(c, s->name_span, "split it with `let`",
                    "expression nested too deeply (more than %d levels)",
                    ALC_AST_MAX_DEPTH);
        }
    }
    c->fn = NULL;
    return 0;
}

/* ---- Pass 2: levels ---- */

static uint64_t memo_hash(const struct alc_stmt *fn, uint32_t levels)
{
    return alc_hash_mix((uint64_t)(uintptr_t)fn, levels);
}

static struct inst *memo_find(struct checker *c, const struct alc_stmt *fn,
                              uint32_t levels)
{
    if (c->memo_cap == 0) {
        return NULL;
    }
    int i = (int)(memo_hash(fn, levels) & (uint64_t)(c->memo_cap - 1));
    while (c->memo[i].fn != NULL) {
        if (c->memo[i].fn == fn && c->memo[i].levels == levels) {
            return &c->memo[i];
        }
        i = (i + 1) & (c->memo_cap - 1);
    }
    return NULL;
}

static void memo_put(struct checker *c, const struct alc_stmt *fn,
                     uint32_t levels, int result)
{
    if ((c->memo_n + 1) * 2 > c->memo_cap) {
        int cap = c->memo_cap ? c->memo_cap * 2 : 64;
        struct inst *m = calloc((size_t)cap, sizeof *m);
        if (m == NULL) {
            c->oom = 1;
            return;
        }
        for (int k = 0; k < c->memo_cap; k++) {
            if (c->memo[k].fn == NULL) {
                continue;
            }
            int i = (int)(memo_hash(c->memo[k].fn, c->memo[k].levels) &
                          (uint64_t)(cap - 1));
            while (m[i].fn != NULL) {
                i = (i + 1) & (cap - 1);
            }
            m[i] = c->memo[k];
        }
        free(c->memo);
        c->memo = m;
        c->memo_cap = cap;
    }
    int i = (int)(memo_hash(fn, levels) & (uint64_t)(c->memo_cap - 1));
    while (c->memo[i].fn != NULL) {
        i = (i + 1) & (c->memo_cap - 1);
    }
    c->memo[i].fn = fn;
    c->memo[i].levels = levels;
    c->memo[i].result = result;
    c->memo_n++;
}

static int level_of(struct checker *c, const struct alc_expr *e,
                    const int *env);

static void level_error(struct checker *c, const struct alc_expr *e,
                        const struct alc_expr *arg, int lv,
                        const char *needs, const char *hint)
{
    struct alc_sb t;
    alc_sb_init(&t);
    expr_text(arg, &t);
    reportf(c, e->at, hint, "%s needs %s argument, but `%s` is %s-level",
            alc_op_table[e->u.op].name, needs, alc_sb_str(&t),
            alc_level_name[lv]);
    alc_sb_free(&t);
}

/* Level of a builtin op applied to operands of levels lv[]. */
static int op_level(struct checker *c, const struct alc_expr *e,
                    const int *lv)
{
    const struct alc_op_info *o = &alc_op_table[e->u.op];
    int r = ALC_LV_MODEL;
    switch (o->kind) {
    case ALC_OPK_MAP:
        for (int i = 0; i < e->nargs; i++) {
            r = lv[i] < r ? lv[i] : r;
        }
        return r;
    case ALC_OPK_REDUCE:
        if (lv[0] == ALC_LV_MODEL) {
            level_error(c, e, e->args[0], lv[0], "an element- or layer-level",
                        "a model-level value is already one number");
            return LV_ERR;
        }
        for (int i = 1; i < e->nargs; i++) {
            if (lv[i] != ALC_LV_MODEL) {
                struct alc_sb t;
                alc_sb_init(&t);
                expr_text(e->args[i], &t);
                reportf(c, e->args[i]->at, NULL,
                        "%s's argument %d must be model-level, but `%s` is "
                        "%s-level",
                        o->name, i + 1, alc_sb_str(&t), alc_level_name[lv[i]]);
                alc_sb_free(&t);
                return LV_ERR;
            }
        }
        return lv[0] + 1;
    case ALC_OPK_ACROSS:
        if (lv[0] != ALC_LV_LAYER) {
            level_error(c, e, e->args[0], lv[0], "a layer-level",
                        lv[0] == ALC_LV_ELEM
                            ? "reduce it to one value per unit first, "
                              "e.g. rank(mean(...))"
                            : NULL);
            return LV_ERR;
        }
        return ALC_LV_LAYER;
    case ALC_OPK_MATRIX:
        return ALC_LV_LAYER;
    default:
        return LV_ERR;
    }
}

static int call_level(struct checker *c, const struct alc_expr *e,
                      const int *lv)
{
    const struct alc_stmt *fn = e->u.call.fn;
    uint32_t code = 0;
    struct inst *m = NULL;
    int r = LV_ERR;
    for (int i = 0; i < e->nargs; i++) {
        code |= (uint32_t)lv[i] << (2 * i);
    }
    m = memo_find(c, fn, code);
    if (m != NULL) {
        return m->result;
    }
    if (c->n_frames >= ALC_MAX_CALL_DEPTH) {
        reportf(c, e->at, NULL,
                "function calls nested too deeply (more than %d levels)",
                ALC_MAX_CALL_DEPTH);
        memo_put(c, fn, code, LV_ERR);
        return LV_ERR;
    }
    struct frame *f = &c->frames[c->n_frames];
    f->call = e;
    f->fn = fn;
    f->in_user_code = c->n_frames == 0 ||
                      !is_prelude_fn(c, c->frames[c->n_frames - 1].fn);
    f->reported = 0;
    c->n_frames++;
    r = level_of(c, fn->expr, lv);
    c->n_frames--;
    memo_put(c, fn, code, r);
    return r;
}

static int level_of_name(const struct alc_expr *e, const int *env)
{
    switch (e->u.name.ref) {
    case ALC_REF_INPUT:
        return (int)alc_input_table[e->u.name.index].level;
    case ALC_REF_PARAM:
        return ALC_LV_MODEL;
    case ALC_REF_LET:
        return e->u.name.decl->output == -2 ? LV_ERR
                                            : (int)e->u.name.decl->level;
    case ALC_REF_ARG:
        return env != NULL ? env[e->u.name.index] : LV_ERR;
    default:
        return LV_ERR;
    }
}

static int level_of(struct checker *c, const struct alc_expr *e,
                    const int *env)
{
    int lv[ALC_MAX_FN_PARAMS];
    int err = 0, r = LV_ERR;
    if (e->kind == ALC_EX_NUM) {
        return ALC_LV_MODEL;
    }
    if (e->kind == ALC_EX_NAME) {
        return level_of_name(e, env);
    }
    if (e->nargs > ALC_MAX_FN_PARAMS || c->oom) {
        return LV_ERR;
    }
    if (c->total_depth >= MAX_TOTAL_DEPTH) {
        if (!c->depth_reported) {
            c->depth_reported = 1;
            reportf(c, e->at, "split it with `let`",
                    "expression too deep once functions are inlined (more "
                    "than %d levels)", MAX_TOTAL_DEPTH);
        }
        return LV_ERR;
    }
    c->total_depth++;
    if (e->kind == ALC_EX_OP &&
        alc_op_table[e->u.op].kind == ALC_OPK_MATRIX) {
        c->total_depth--;
        return ALC_LV_LAYER; /* its argument is `weight` (pass 1) */
    }
    for (int i = 0; i < e->nargs; i++) {
        lv[i] = level_of(c, e->args[i], env);
        err |= lv[i] == LV_ERR;
    }
    if (!err && e->kind == ALC_EX_OP) {
        r = op_level(c, e, lv);
    } else if (!err && e->kind == ALC_EX_CALL && e->u.call.fn != NULL) {
        r = call_level(c, e, lv);
    }
    c->total_depth--;
    return r;
}

static void check_output_level(struct checker *c, struct alc_stmt *s, int lv)
{
    struct alc_sb t;
    if (lv != ALC_LV_ELEM) {
        return;
    }
    alc_sb_init(&t);
    expr_text(s->expr, &t);
    reportf(c, s->expr->span,
            "reduce it to one value per unit, e.g. mean(...)",
            "%s must be layer- or model-level, but `%s` is element-level",
            s->name, alc_sb_str(&t));
    alc_sb_free(&t);
}

static void check_levels(struct checker *c)
{
    c->scope = c->p->stmts;
    for (int i = 0; i < c->p->n_stmts; i++) {
        struct alc_stmt *s = c->p->stmts[i];
        if (s->kind != ALC_ST_LET && s->kind != ALC_ST_OUT) {
            continue;
        }
        if (s->expr == NULL) {
            continue;
        }
        c->total_depth = 0;
        c->depth_reported = 0;
        int lv = level_of(c, s->expr, NULL);
        /* output == -2 marks a let whose level is unknown (an error was
         * reported inside it), so its uses stay silent. */
        if (lv == LV_ERR) {
            if (s->kind == ALC_ST_LET) {
                s->output = -2;
            }
            s->level = ALC_LV_MODEL;
            continue;
        }
        s->level = (enum alc_level)lv;
        if (s->kind == ALC_ST_OUT && s->output >= 0) {
            check_output_level(c, s, lv);
        }
    }
}

/* ---- Entry point ---- */

/* An output statement with a name that is no output (already reported). */
static int has_unknown_output(const struct alc_program *p)
{
    for (int i = 0; i < p->n_stmts; i++) {
        if (p->stmts[i]->kind == ALC_ST_OUT && p->stmts[i]->output < 0) {
            return 1;
        }
    }
    return 0;
}

int alc_program_is_library(const struct alc_program *p)
{
    if (p->n_stmts == 0) {
        return 0;
    }
    for (int i = 0; i < p->n_stmts; i++) {
        if (p->stmts[i]->kind != ALC_ST_FN) {
            return 0;
        }
    }
    return 1;
}

int alc_check(struct alc_program *p, struct alc_diag *d)
{
    struct checker c;
    struct alc_stmt *seen[ALC_OUT_COUNT] = {NULL};
    struct alc_stmt *pre_seen[ALC_OUT_COUNT] = {NULL};
    memset(&c, 0, sizeof c);
    c.p = p;
    c.d = d;
    alc_diag_init(&c.tmp);
    c.tmp.max_err = 1 << 30;
    p->checked = 0;
    if (p->prelude == NULL && p->arena != NULL &&
        alc_front_attach_prelude(p, d) != 0) {
        alc_diag_free(&c.tmp);
        return -1;
    }
    c.in_prelude = 1;
    resolve_stmts(&c, p->prelude, p->n_prelude, pre_seen);
    c.in_prelude = 0;
    resolve_stmts(&c, p->stmts, p->n_stmts, seen);
    if (seen[ALC_OUT_SPARSITY] == NULL && !alc_program_is_library(p) &&
        !has_unknown_output(p)) {
        struct alc_span none = {0, 0, 0};
        reportf(&c, none, "every program sets one sparsity per unit, e.g. "
                          "`sparsity = S`",
                "no `sparsity = ...` statement");
    }
    check_levels(&c);
    flush_reports(&c);
    alc_diag_free(&c.tmp);
    free(c.memo);
    if (c.oom) {
        alc_diag_errorf(d, "out of memory while checking");
        c.n_err++;
    }
    p->checked = c.n_err == 0;
    return c.n_err == 0 ? 0 : -1;
}
