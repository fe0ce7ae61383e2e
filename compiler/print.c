/*
 * print.c: the canonical printer behind `dsac fmt` (alc_print_program), the
 * canonical hash the searcher dedupes with (alc_ast_hash), and the
 * S-expression dump of `dsac emit --target ast` and the parser tests.
 *
 * Canonical layout: one statement per line; comments on their own lines
 * before the statement they preceded (a comment written inside a
 * statement moves before it), a statement's trailing comment after two
 * spaces, one blank line wherever the source had one or more; operators
 * surrounded by single spaces, `, ` between arguments, parentheses only
 * where precedence or associativity needs them, literals in the shortest
 * form that reads back as the same double.
 */
#include <math.h>
#include <stdlib.h>

#include "ast.h"

/* ---- Numbers ---- */

void alc_print_number(double v, struct alc_sb *out)
{
    char buf[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    /* Plain decimals rather than exponents between 1e-5 and 1e16. */
    double m = fabs(v);
    if (strchr(buf, 'e') != NULL && m >= 1e-5 && m < 1e16) {
        int e10 = (int)floor(log10(m));
        int decimals = prec - 1 - e10;
        char alt[64];
        snprintf(alt, sizeof alt, "%.*f", decimals > 0 ? decimals : 0, v);
        if (strtod(alt, NULL) == v) {
            memcpy(buf, alt, sizeof buf);
        }
    }
    alc_sb_puts(out, buf);
}

/* ---- Expressions ---- */

#define PREC_ATOM 100

static int expr_prec(const struct alc_expr *e)
{
    if (e->kind != ALC_EX_OP || e->u.op >= ALC_OP_COUNT) {
        return PREC_ATOM;
    }
    int p = alc_op_table[e->u.op].prec;
    return p > 0 ? p : PREC_ATOM;
}

static void print_expr(const struct alc_expr *e, struct alc_sb *out);

/* Prints e, parenthesised when its precedence is below min. */
static void print_operand(const struct alc_expr *e, int min,
                          struct alc_sb *out)
{
    if (expr_prec(e) < min) {
        alc_sb_putc(out, '(');
        print_expr(e, out);
        alc_sb_putc(out, ')');
    } else {
        print_expr(e, out);
    }
}

static void print_call(const char *name, const struct alc_expr *e,
                       struct alc_sb *out)
{
    alc_sb_puts(out, name);
    alc_sb_putc(out, '(');
    for (int i = 0; i < e->nargs; i++) {
        if (i > 0) {
            alc_sb_puts(out, ", ");
        }
        print_expr(e->args[i], out);
    }
    alc_sb_putc(out, ')');
}

/* expr -> prefix-op expr | expr infix-op expr | name(args) */
static void print_op(const struct alc_expr *e, struct alc_sb *out)
{
    const struct alc_op_info *o = &alc_op_table[e->u.op];
    int p = o->prec;
    if (p == 0) {
        print_call(o->name, e, out);
        return;
    }
    if (o->flags & ALC_OPF_PREFIX) {
        /* `-(-x)` rather than `--x`; `not not x` reads fine */
        alc_sb_puts(out, o->name);
        if (e->u.op == ALC_OP_NOT) {
            alc_sb_putc(out, ' ');
            print_operand(e->args[0], p, out);
        } else {
            print_operand(e->args[0], p + 1, out);
        }
        return;
    }
    int lmin = p, rmin = p + 1;
    if (o->flags & ALC_OPF_RIGHT) {
        lmin = p + 1;
        rmin = p;
    } else if (p == ALC_PREC_CMP) {
        lmin = p + 1; /* comparisons do not chain */
    }
    print_operand(e->args[0], lmin, out);
    alc_sb_putc(out, ' ');
    alc_sb_puts(out, o->name);
    alc_sb_putc(out, ' ');
    print_operand(e->args[1], rmin, out);
}

static void print_expr(const struct alc_expr *e, struct alc_sb *out)
{
    switch (e->kind) {
    case ALC_EX_NUM:
        alc_print_number(e->u.num, out);
        break;
    case ALC_EX_NAME:
        alc_sb_puts(out, e->u.name.name);
        break;
    case ALC_EX_OP:
        if (e->u.op < ALC_OP_COUNT && alc_op_table[e->u.op].name != NULL) {
            print_op(e, out);
        } else {
            alc_sb_puts(out, "<bad op>");
        }
        break;
    case ALC_EX_CALL:
        print_call(e->u.call.name, e, out);
        break;
    default:
        alc_sb_puts(out, "<bad node>");
        break;
    }
}

void alc_print_expr(const struct alc_expr *e, struct alc_sb *out)
{
    print_expr(e, out);
}

/* ---- Statements ---- */

static void print_stmt(const struct alc_stmt *s, struct alc_sb *out)
{
    switch (s->kind) {
    case ALC_ST_PARAM:
        alc_sb_printf(out, "param %s = ", s->name);
        alc_print_number(s->value, out);
        alc_sb_puts(out, " in [");
        alc_print_number(s->lo, out);
        alc_sb_puts(out, ", ");
        alc_print_number(s->hi, out);
        alc_sb_putc(out, ']');
        return;
    case ALC_ST_FN:
        alc_sb_printf(out, "fn %s(", s->name);
        for (int i = 0; i < s->n_fn_params; i++) {
            alc_sb_printf(out, "%s%s", i > 0 ? ", " : "", s->fn_params[i]);
        }
        alc_sb_puts(out, ") = ");
        break;
    case ALC_ST_LET:
        alc_sb_printf(out, "let %s = ", s->name);
        break;
    default:
        alc_sb_printf(out, "%s = ", s->name);
        break;
    }
    if (s->expr != NULL) {
        print_expr(s->expr, out);
    }
}

/* Comment lines; *first is cleared once something is printed. */
static void print_comments(const struct alc_comment *c, int n, int *first,
                           struct alc_sb *out)
{
    for (int i = 0; i < n; i++) {
        if (c[i].blank_before && !*first) {
            alc_sb_putc(out, '\n');
        }
        alc_sb_printf(out, "#%s\n", c[i].text);
        *first = 0;
    }
}

void alc_print_program(const struct alc_program *p, unsigned flags,
                       struct alc_sb *out)
{
    int comments = !(flags & ALC_PRINT_NO_COMMENTS);
    int first = 1;
    for (int i = 0; i < p->n_stmts; i++) {
        const struct alc_stmt *s = p->stmts[i];
        if (comments) {
            print_comments(s->comments, s->n_comments, &first, out);
            if (s->blank_before && !first) {
                alc_sb_putc(out, '\n');
            }
        }
        print_stmt(s, out);
        if (comments && s->trailing != NULL) {
            alc_sb_printf(out, "  #%s", s->trailing);
        }
        alc_sb_putc(out, '\n');
        first = 0;
    }
    if (comments) {
        print_comments(p->end_comments, p->n_end_comments, &first, out);
    }
}

uint64_t alc_ast_hash(const struct alc_program *p)
{
    struct alc_sb sb;
    alc_sb_init(&sb);
    alc_print_program(p, ALC_PRINT_NO_COMMENTS, &sb);
    uint64_t h = alc_hash64(alc_sb_str(&sb), sb.len, 0x616c63ull);
    alc_sb_free(&sb);
    return h;
}

/* ---- S-expression dump ---- */

void alc_ast_dump_expr(const struct alc_expr *e, struct alc_sb *out)
{
    switch (e->kind) {
    case ALC_EX_NUM:
        alc_print_number(e->u.num, out);
        return;
    case ALC_EX_NAME:
        alc_sb_puts(out, e->u.name.name);
        return;
    case ALC_EX_OP:
        alc_sb_putc(out, '(');
        if (e->u.op == ALC_OP_NEG) {
            alc_sb_puts(out, "neg");
        } else if (e->u.op < ALC_OP_COUNT && alc_op_table[e->u.op].name) {
            alc_sb_puts(out, alc_op_table[e->u.op].name);
        } else {
            alc_sb_puts(out, "?");
        }
        break;
    case ALC_EX_CALL:
        alc_sb_printf(out, "(call %s", e->u.call.name);
        break;
    default:
        alc_sb_puts(out, "?");
        return;
    }
    for (int i = 0; i < e->nargs; i++) {
        alc_sb_putc(out, ' ');
        alc_ast_dump_expr(e->args[i], out);
    }
    alc_sb_putc(out, ')');
}

static void dump_stmt(const struct alc_stmt *s, struct alc_sb *out)
{
    switch (s->kind) {
    case ALC_ST_PARAM:
        alc_sb_printf(out, "(param %s ", s->name);
        alc_print_number(s->value, out);
        alc_sb_putc(out, ' ');
        alc_print_number(s->lo, out);
        alc_sb_putc(out, ' ');
        alc_print_number(s->hi, out);
        alc_sb_putc(out, ')');
        return;
    case ALC_ST_FN:
        alc_sb_printf(out, "(fn %s (", s->name);
        for (int i = 0; i < s->n_fn_params; i++) {
            alc_sb_printf(out, "%s%s", i > 0 ? " " : "", s->fn_params[i]);
        }
        alc_sb_puts(out, ") ");
        break;
    case ALC_ST_LET:
        alc_sb_printf(out, "(let %s ", s->name);
        break;
    default:
        alc_sb_printf(out, "(out %s ", s->name);
        break;
    }
    if (s->expr != NULL) {
        alc_ast_dump_expr(s->expr, out);
    }
    alc_sb_putc(out, ')');
}

void alc_ast_dump(const struct alc_program *p, struct alc_sb *out)
{
    alc_sb_puts(out, "(program");
    for (int i = 0; i < p->n_stmts; i++) {
        alc_sb_puts(out, "\n  ");
        dump_stmt(p->stmts[i], out);
    }
    alc_sb_puts(out, ")\n");
}
