/*
 * allocfn.c: loading, compiling and re-printing an .alloc file for the
 * pruning commands (allocfn.h).
 */
#include <stdlib.h>

#include "allocfn.h"
#include "front.h"

static const char uniform_src[] =
    "# uniform (built in): the same sparsity S for every unit\n"
    "sparsity = S\n";

static int compile(struct alc_allocfn *f, const char *src, size_t len,
                   struct alc_diag *d)
{
    double t0 = alc_now();
    f->src_hash = alc_hash64(src, len, 0);
    f->prog = alc_front_load(&f->arena, f->path, src, len, d);
    if (f->prog == NULL) {
        return -1;
    }
    if (alc_program_is_library(f->prog)) {
        alc_diag_errorf(d, "%s: a library of fns has no `sparsity =` to "
                        "allocate with", f->path);
        return -1;
    }
    if (alc_lower(f->prog, &f->ir, d) != 0) {
        return -1;
    }
    f->ast_hash = alc_ast_hash(f->prog);
    f->c = alc_compile(&f->ir, f->be, d);
    if (f->c == NULL) {
        return -1;
    }
    f->inputs = alc_compiled_inputs(f->c);
    f->params = calloc((size_t)f->ir.n_params + 1, sizeof *f->params);
    if (f->params == NULL) {
        alc_diag_errorf(d, "%s: out of memory", f->path);
        return -1;
    }
    for (int i = 0; i < f->ir.n_params; i++) {
        f->params[i] = f->ir.params[i].value;
    }
    f->compile_seconds = alc_now() - t0;
    return 0;
}

int alc_allocfn_load(struct alc_allocfn *f, const char *path,
                     enum alc_backend be, struct alc_diag *d)
{
    char *src = NULL;
    size_t len = 0;
    int rc = -1;
    memset(f, 0, sizeof *f);
    alc_arena_init(&f->arena, 0);
    alc_ir_init(&f->ir);
    f->be = be;
    f->path = strdup(path ? path : "uniform (built in)");
    if (f->path == NULL) {
        alc_diag_errorf(d, "out of memory");
        goto done;
    }
    if (path == NULL) {
        rc = compile(f, uniform_src, sizeof uniform_src - 1, d);
        goto done;
    }
    if (alc_read_file(path, &src, &len, d) != 0) {
        goto done;
    }
    rc = compile(f, src, len, d);
done:
    free(src);
    if (rc != 0) {
        alc_allocfn_free(f);
    }
    return rc;
}

void alc_allocfn_free(struct alc_allocfn *f)
{
    alc_compiled_free(f->c);
    alc_ir_free(&f->ir);
    alc_arena_free(&f->arena);
    free(f->params);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* ---- Params ---- */

static void list_params(const struct alc_allocfn *f, struct alc_sb *sb)
{
    if (f->ir.n_params == 0) {
        alc_sb_puts(sb, "it declares none");
        return;
    }
    alc_sb_puts(sb, "it declares ");
    for (int i = 0; i < f->ir.n_params; i++) {
        alc_sb_printf(sb, "%s%s", i ? ", " : "", f->ir.params[i].name);
    }
}

int alc_allocfn_set_param(struct alc_allocfn *f, const char *name,
                          double value, struct alc_diag *d)
{
    int i = alc_ir_param_find(&f->ir, name);
    if (i < 0) {
        struct alc_sb sb;
        alc_sb_init(&sb);
        list_params(f, &sb);
        alc_diag_errorf(d, "%s: no param '%s' (%s)", f->path, name,
                        alc_sb_str(&sb));
        alc_sb_free(&sb);
        return -1;
    }
    const struct alc_ir_param *p = &f->ir.params[i];
    if (!(value >= p->lo && value <= p->hi)) {
        alc_diag_errorf(d, "%s: param %s = %.17g is outside its declared "
                        "range [%.17g, %.17g]", f->path, name, value, p->lo,
                        p->hi);
        return -1;
    }
    f->params[i] = value;
    return 0;
}

int alc_allocfn_set_param_str(struct alc_allocfn *f, const char *spec,
                              struct alc_diag *d)
{
    const char *eq = strchr(spec, '=');
    char name[128];
    char *end = NULL;
    if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof name) {
        alc_diag_errorf(d, "bad param '%s' (expected NAME=VALUE)", spec);
        return -1;
    }
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end != '\0' || !(v == v)) {
        alc_diag_errorf(d, "bad value in param '%s' (expected NAME=VALUE "
                        "with a number)", spec);
        return -1;
    }
    return alc_allocfn_set_param(f, name, v, d);
}

/* ---- Printing with the current values ---- */

/* Comment lines from header ("a\nb"), prepended to the first statement. */
static int add_header(struct alc_arena *a, struct alc_stmt *s,
                      const char *header)
{
    int n = 1;
    for (const char *p = header; *p; p++) {
        n += *p == '\n';
    }
    struct alc_comment *c =
        alc_arena_alloc(a, (size_t)(n + s->n_comments + 1) * sizeof *c);
    if (c == NULL) {
        return -1;
    }
    int k = 0;
    for (const char *p = header; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *t = alc_arena_alloc(a, len + 2);
        if (t == NULL) {
            return -1;
        }
        t[0] = len ? ' ' : '\0';
        memcpy(t + (len ? 1 : 0), p, len);
        c[k].text = t;
        c[k].blank_before = 0;
        k++;
        p += len + (nl ? 1 : 0);
    }
    for (int i = 0; i < s->n_comments; i++) {
        c[k] = s->comments[i];
        c[k].blank_before = i == 0 ? 1 : c[k].blank_before;
        k++;
    }
    s->blank_before = s->n_comments == 0 ? 1 : s->blank_before;
    s->comments = c;
    s->n_comments = k;
    return 0;
}

int alc_allocfn_print(const struct alc_allocfn *f, const char *header,
                      char **out, struct alc_diag *d)
{
    struct alc_arena a;
    struct alc_sb sb;
    int rc = -1;
    alc_arena_init(&a, 0);
    alc_sb_init(&sb);
    struct alc_program *p = alc_ast_copy(&a, f->prog, 0);
    if (p == NULL) {
        alc_diag_errorf(d, "out of memory");
        goto done;
    }
    for (int i = 0; i < p->n_stmts; i++) {
        struct alc_stmt *s = p->stmts[i];
        int k = s->kind == ALC_ST_PARAM ? alc_ir_param_find(&f->ir, s->name)
                                        : -1;
        if (k >= 0) {
            s->value = f->params[k];
        }
    }
    if (header != NULL && p->n_stmts > 0 &&
        add_header(&a, p->stmts[0], header) != 0) {
        alc_diag_errorf(d, "out of memory");
        goto done;
    }
    alc_print_program(p, 0, &sb);
    *out = alc_sb_take(&sb);
    rc = *out != NULL ? 0 : -1;
done:
    alc_sb_free(&sb);
    alc_arena_free(&a);
    return rc;
}
