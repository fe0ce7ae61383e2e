/*
 * import_dsa.c: DSA genome strings -> .alloc programs (import_dsa.h).
 *
 * DSA's LayerEngine.compute_importance (lib/autolayer.py) applies the
 * pre-process ("stick") ops to the unit's pooled 1-D Wanda metric, then
 * the reduction ("deform") ops, then the post ops; a result that is not
 * one number is averaged; NaN reads as 0 and +-inf as -1. Each op becomes
 * one `let` here, with its torch semantics (see the tables below and
 * /work/shared/reference/dsa.md 1.2). The mapping of scores to sparsities
 * is test_prune_wanda_outlier_use_var's, the prelude's dsa_sparsity, with
 * s <= 0 -> 0.01.
 *
 * After a reduction the value is one number per unit, so a further
 * reduction acts on a single value as torch does on a 0-d tensor: MEAN,
 * GEOMETRIC_MEAN and NO_OP keep it, FROBENIUS_NORM and L1_NORM take |x|,
 * VAR and STD give NaN (n - 1 = 0), ENTROPY gives -log(1 - eps32).
 */
#include <ctype.h>
#include <stdlib.h>

#include "front.h"
#include "import_dsa.h"

/* ---- The op tables ---- */

/* `$` in a template stands for the previous step's name. */
struct dsa_op {
    const char *name;
    const char *expr;    /* NULL: identity */
    const char *comment; /* what DSA computes, for the trailing comment */
};

static const struct dsa_op pre_ops[] = {
    {"NO_OP", NULL, NULL},
    {"ABS", "abs($)", "ABS: |x|"},
    {"LOG", "log(where($ <= 0, 1, $) + 0.000001)",
     "LOG: ln(x + 1e-6), x <= 0 read as 1"},
    {"ABSLOG", "log(abs(where($ == 0, 1, $)))", "ABSLOG: ln|x|, 0 read as 1"},
    {"POW", "$ ^ 2", "POW: x^2"},
    {"EXP", "exp($)", "EXP: e^x"},
    {"NORMALIZE", "nan_to(zscore($), 0)",
     "NORMALIZE: z-score, NaN read as 0"},
    {"SIGMOID", "sigmoid($)", "SIGMOID"},
    {"TANH", "tanh($)", "TANH"},
    {"MMS", "($ - min($)) / (max($) - min($) + 0.000000001)",
     "MMS: (x - min) / (max - min + 1e-9)"},
};

/* Reductions of the unit's element vector (the first real one). */
static const struct dsa_op reduce_ops[] = {
    {"NO_OP", NULL, NULL},
    {"GRAM", NULL, NULL},
    {"CORREF", NULL, NULL},
    {"DIAGONAL", NULL, NULL},
    {"FROBENIUS_NORM", "l2($)", "FROBENIUS_NORM: sqrt(sum x^2)"},
    {"L1_NORM", "meanabs($)", "L1_NORM: sum|x| / numel"},
    {"DETERMINANT", NULL, NULL},
    {"RANK", NULL, NULL},
    {"GEOMETRIC_MEAN", "geomean($)",
     "GEOMETRIC_MEAN as exp(mean(log x)); see the header"},
    {"MEAN", "mean($)", "MEAN"},
    {"VAR", "var($)", "VAR: unbiased (n - 1)"},
    {"STD", "std($)", "STD: unbiased (n - 1)"},
    {"SLOGDET", NULL, NULL},
    {"ENTROPY", "", "ENTROPY"}, /* several steps: see entropy_steps */
};

/* The same reductions applied to one value per unit (0-d in torch). */
static const struct dsa_op scalar_ops[] = {
    {"NO_OP", NULL, NULL},
    {"GRAM", NULL, NULL},
    {"CORREF", NULL, NULL},
    {"DIAGONAL", NULL, NULL},
    {"FROBENIUS_NORM", "abs($)", "FROBENIUS_NORM of one value: |x|"},
    {"L1_NORM", "abs($)", "L1_NORM of one value: |x|"},
    {"DETERMINANT", NULL, NULL},
    {"RANK", NULL, NULL},
    {"GEOMETRIC_MEAN", NULL, NULL},
    {"MEAN", NULL, NULL},
    {"VAR", "$ * 0 / 0", "VAR of one value: NaN (n - 1 = 0)"},
    {"STD", "$ * 0 / 0", "STD of one value: NaN (n - 1 = 0)"},
    {"SLOGDET", NULL, NULL},
    {"ENTROPY", "$ - $ + 1.1920928955078125e-07",
     "ENTROPY of one value: -log(1 - eps32)"},
};

static const struct dsa_op post_ops[] = {
    {"NO_OP", NULL, NULL},       {"SIN", "sin($)", "SIN"},
    {"COS", "cos($)", "COS"},    {"TAN", "tan($)", "TAN"},
    {"ASIN", "asin($)", "ASIN"}, {"ACOS", "acos($)", "ACOS"},
    {"ATAN", "atan($)", "ATAN"}, {"EXP", "exp($)", "EXP"},
    {"LOG", "log($)", "LOG: ln x (no epsilon)"},
    {"ABS", "abs($)", "ABS"},    {"SIGMOID", "sigmoid($)", "SIGMOID"},
    {"TANH", "tanh($)", "TANH"},
    {"SOFTPLUS", "softplus($)", "SOFTPLUS: torch defaults"},
};

#define N_OF(t) ((int)(sizeof t / sizeof t[0]))

/* 2-D-only reductions: rejected on DSA's 1-D pooled input. */
static int is_2d_only(const char *name)
{
    static const char *const v[] = {"GRAM", "CORREF", "DIAGONAL",
                                    "DETERMINANT", "RANK", "SLOGDET"};
    for (int i = 0; i < N_OF(v); i++) {
        if (strcmp(v[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- Parsing the genome ---- */

#define MAX_STAGE_OPS 32

struct stage {
    const char *what;           /* "pre-process" */
    const struct dsa_op *table;
    int n_table;
    int ops[MAX_STAGE_OPS];     /* indices into table */
    int n_ops;
};

struct genome {
    const char *text;
    struct stage st[3];
    int has_lambda;
    long lambda;
    struct alc_diag *d;
};

static void genome_error(struct genome *g, size_t col, const char *fmt, ...)
    ALC_PRINTF(3, 4);

static void genome_error(struct genome *g, size_t col, const char *fmt, ...)
{
    struct alc_sb msg;
    va_list ap;
    alc_sb_init(&msg);
    va_start(ap, fmt);
    alc_sb_vprintf(&msg, fmt, ap);
    va_end(ap);
    alc_diag_errorf(g->d, "genome column %zu: %s", col + 1, alc_sb_str(&msg));
    alc_sb_free(&msg);
}

static void valid_names(const struct stage *s, struct alc_sb *out)
{
    for (int i = 0; i < s->n_table; i++) {
        if (s->table == reduce_ops && is_2d_only(s->table[i].name)) {
            continue;
        }
        alc_sb_printf(out, "%s%s", i > 0 ? " " : "", s->table[i].name);
    }
}

static int find_op(const struct stage *s, const char *name)
{
    for (int i = 0; i < s->n_table; i++) {
        if (strcmp(s->table[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

static int bad_op(struct genome *g, const struct stage *s, size_t col,
                  const char *name)
{
    struct alc_sb valid;
    const char *best = NULL;
    int best_d = 3;
    alc_sb_init(&valid);
    valid_names(s, &valid);
    if (s->table == reduce_ops && is_2d_only(name)) {
        genome_error(g, col,
                     "reduction %s needs a 2-D matrix, but DSA applies it "
                     "to the unit's pooled 1-D vector of Wanda scores, "
                     "where it fails; use one of: %s",
                     name, alc_sb_str(&valid));
        alc_sb_free(&valid);
        return -1;
    }
    for (int i = 0; i < s->n_table; i++) {
        int dist = alc_edit_distance(name, s->table[i].name);
        if (dist < best_d) {
            best_d = dist;
            best = s->table[i].name;
        }
    }
    if (best != NULL) {
        genome_error(g, col, "unknown %s op '%s'; did you mean '%s'? "
                             "valid %s ops: %s",
                     s->what, name, best, s->what, alc_sb_str(&valid));
    } else {
        genome_error(g, col, "unknown %s op '%s'; valid %s ops: %s",
                     s->what, name, s->what, alc_sb_str(&valid));
    }
    alc_sb_free(&valid);
    return -1;
}

/* Parses "(A,B,...)" at *pos into stage s. */
static int parse_list(struct genome *g, struct stage *s, size_t *pos)
{
    const char *t = g->text;
    size_t i = *pos;
    if (t[i] != '(') {
        genome_error(g, i, "expected '(' to open the %s ops", s->what);
        return -1;
    }
    i++;
    while (t[i] != ')') {
        char name[64];
        size_t start = i, n = 0;
        while (isupper((unsigned char)t[i]) || t[i] == '_' ||
               isdigit((unsigned char)t[i])) {
            if (n + 1 < sizeof name) {
                name[n++] = t[i];
            }
            i++;
        }
        name[n] = '\0';
        if (n == 0) {
            genome_error(g, i, "expected an op name (upper case) in the %s "
                               "ops", s->what);
            return -1;
        }
        int op = find_op(s, name);
        if (op < 0 || (s->table == reduce_ops && is_2d_only(name))) {
            return bad_op(g, s, start, name);
        }
        if (s->n_ops == MAX_STAGE_OPS) {
            genome_error(g, start, "more than %d %s ops", MAX_STAGE_OPS,
                         s->what);
            return -1;
        }
        s->ops[s->n_ops++] = op;
        if (t[i] == ',') {
            i++;
        } else if (t[i] != ')') {
            genome_error(g, i, "expected ',' or ')' after '%s'", name);
            return -1;
        }
    }
    *pos = i + 1;
    return 0;
}

static int parse_lambda(struct genome *g, size_t *pos)
{
    const char *t = g->text;
    size_t i = *pos;
    char *end = NULL;
    if (t[i] != '(') {
        genome_error(g, i, "expected '(' to open the lambda segment");
        return -1;
    }
    /* strtol would skip blanks: the digits must follow the '(' */
    int digit = isdigit((unsigned char)t[i + 1]) ||
                ((t[i + 1] == '-' || t[i + 1] == '+') &&
                 isdigit((unsigned char)t[i + 2]));
    g->lambda = digit ? strtol(t + i + 1, &end, 10) : 0;
    if (!digit || end == t + i + 1 || *end != ')') {
        genome_error(g, i + 1, "the lambda segment must be an integer, as "
                               "in (7)");
        return -1;
    }
    g->has_lambda = 1;
    *pos = (size_t)(end - t) + 1;
    return 0;
}

static int parse_genome(struct genome *g)
{
    static const char *const what[3] = {"pre-process", "reduction", "post"};
    const struct dsa_op *tables[3] = {pre_ops, reduce_ops, post_ops};
    const int sizes[3] = {N_OF(pre_ops), N_OF(reduce_ops), N_OF(post_ops)};
    size_t i = 0;
    if (strncmp(g->text, "W:", 2) != 0) {
        genome_error(g, 0, "a DSA genome starts with 'W:', as in "
                           "W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)");
        return -1;
    }
    i = 2;
    for (int k = 0; k < 3; k++) {
        g->st[k].what = what[k];
        g->st[k].table = tables[k];
        g->st[k].n_table = sizes[k];
        if (k > 0) {
            if (g->text[i] != '-') {
                genome_error(g, i, "expected '-' before the %s ops",
                             what[k]);
                return -1;
            }
            i++;
        }
        if (parse_list(g, &g->st[k], &i) != 0) {
            return -1;
        }
    }
    if (g->text[i] == '-') {
        i++;
        if (parse_lambda(g, &i) != 0) {
            return -1;
        }
    }
    if (g->text[i] != '\0') {
        genome_error(g, i, "unexpected '%c' after the genome", g->text[i]);
        return -1;
    }
    return 0;
}

/* ---- Writing the program ---- */

struct writer {
    struct alc_sb *out;
    int step;           /* number of the last x<step> */
    int layer;          /* the value is one number per unit already */
};

/* `let xN = template(x<N-1>)  # comment` */
static void emit_step(struct writer *w, const char *tmpl, const char *comment)
{
    char prev[32];
    if (w->step == 0) {
        snprintf(prev, sizeof prev, "wanda");
    } else {
        snprintf(prev, sizeof prev, "x%d", w->step);
    }
    w->step++;
    alc_sb_printf(w->out, "let x%d = ", w->step);
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (*p == '$') {
            alc_sb_puts(w->out, prev);
        } else {
            alc_sb_putc(w->out, *p);
        }
    }
    if (comment != NULL) {
        alc_sb_printf(w->out, "  # %s", comment);
    }
    alc_sb_putc(w->out, '\n');
}

/* DSA's 1-D entropy_op: drop NaN and negative entries, normalise, and
 * torch.distributions.Categorical(probs).entropy(), which takes the log
 * of the probabilities clamped to [eps, 1 - eps], eps = float32 epsilon. */
static void entropy_steps(struct writer *w)
{
    emit_step(w, "where($ >= 0, $, 0)",
              "ENTROPY: NaN and negative entries dropped");
    emit_step(w, "$ / sum($)", "as probabilities");
    emit_step(w,
              "-sum($ * log(clamp($, 1.1920928955078125e-07, "
              "1 - 1.1920928955078125e-07)))",
              "Categorical entropy: log of p clamped to [eps, 1 - eps]");
}

static void emit_stages(struct writer *w, const struct genome *g)
{
    alc_sb_puts(w->out, "\n# pre-process\n");
    for (int i = 0; i < g->st[0].n_ops; i++) {
        const struct dsa_op *o = &pre_ops[g->st[0].ops[i]];
        if (o->expr != NULL) {
            emit_step(w, o->expr, o->comment);
        }
    }
    alc_sb_puts(w->out, "\n# reduction\n");
    for (int i = 0; i < g->st[1].n_ops; i++) {
        int k = g->st[1].ops[i];
        const struct dsa_op *o = w->layer ? &scalar_ops[k] : &reduce_ops[k];
        if (o->expr == NULL) {
            w->layer |= strcmp(o->name, "NO_OP") != 0;
            continue;
        }
        if (!w->layer && strcmp(o->name, "ENTROPY") == 0) {
            entropy_steps(w);
        } else {
            emit_step(w, o->expr, o->comment);
        }
        w->layer = 1;
    }
    alc_sb_puts(w->out, "\n# post\n");
    for (int i = 0; i < g->st[2].n_ops; i++) {
        const struct dsa_op *o = &post_ops[g->st[2].ops[i]];
        if (o->expr != NULL) {
            emit_step(w, o->expr, o->comment);
        }
    }
    if (!w->layer) {
        emit_step(w, "mean($)", "no reduction: DSA averages the result");
    }
}

static void stage_names(const struct stage *s, struct alc_sb *out)
{
    if (s->n_ops == 0) {
        alc_sb_puts(out, "none");
    }
    for (int i = 0; i < s->n_ops; i++) {
        alc_sb_printf(out, "%s%s", i > 0 ? ", " : "",
                      s->table[s->ops[i]].name);
    }
}

static int uses(const struct genome *g, int stage, const char *name)
{
    for (int i = 0; i < g->st[stage].n_ops; i++) {
        if (strcmp(g->st[stage].table[g->st[stage].ops[i]].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void emit_header(struct alc_sb *out, const struct genome *g)
{
    alc_sb_printf(out,
                  "# Imported by `dsac import-dsa` from the DSA genome\n"
                  "#   %s\n"
                  "# DSA: Li et al., \"Discovering Sparsity Allocation for "
                  "Layer-wise Pruning\n"
                  "# of Large Language Models\", NeurIPS 2024 "
                  "(github.com/lliai/DSA).\n"
                  "# score: LayerEngine.compute_importance "
                  "(lib/autolayer.py) of the unit's\n"
                  "# pooled Wanda metric with\n#   pre-process: ",
                  g->text);
    stage_names(&g->st[0], out);
    alc_sb_puts(out, "\n#   reduction: ");
    stage_names(&g->st[1], out);
    alc_sb_puts(out, "\n#   post: ");
    stage_names(&g->st[2], out);
    alc_sb_puts(out,
                "\n"
                "# sparsity: lib/prune_all.py "
                "(test_prune_wanda_outlier_use_var),\n"
                "# s = S + 2 lambda (u - mean u), u = minmax(score), "
                "s <= 0 -> 0.01.\n");
    if (uses(g, 1, "GEOMETRIC_MEAN")) {
        alc_sb_puts(out,
                    "# GEOMETRIC_MEAN is computed as exp(mean(log x)), which "
                    "equals DSA's\n"
                    "# prod(x)^(1/n) for x >= 0 wherever that product does "
                    "not under- or\n# overflow (it does for large units).\n");
    }
    if (uses(g, 1, "ENTROPY")) {
        alc_sb_puts(out,
                    "# ENTROPY follows torch: Categorical clamps p to "
                    "[eps, 1 - eps] inside\n"
                    "# the log (eps = 2^-23); where every kept entry is 0, "
                    "DSA fails and this\n# gives NaN (score 0).\n");
    }
    if (g->has_lambda) {
        alc_sb_printf(out,
                      "# The genome's lambda segment (%ld) is dead in DSA's "
                      "code: LayerEngine\n"
                      "# overwrites it with random.randint(7, 10) and the "
                      "pruning reads --Lamda\n"
                      "# (default 0.08) instead, which is `lambda` here.\n",
                      g->lambda);
    } else {
        alc_sb_puts(out, "# lambda is DSA's --Lamda (default 0.08).\n");
    }
}

/* Canonical layout through the front end (which also checks the text). */
static int canonicalise(const char *src, struct alc_sb *out,
                        struct alc_diag *d)
{
    struct alc_arena a;
    struct alc_ir ir;
    int rc = -1;
    alc_arena_init(&a, 0);
    alc_ir_init(&ir);
    struct alc_program *p = alc_front_load(&a, "<import-dsa>", src,
                                           strlen(src), d);
    if (p != NULL && alc_lower(p, &ir, d) == 0) {
        alc_print_program(p, 0, out);
        rc = 0;
    }
    alc_ir_free(&ir);
    alc_arena_free(&a);
    return rc;
}

int alc_import_dsa(const char *genome, struct alc_sb *out,
                   struct alc_diag *d)
{
    struct genome g;
    struct writer w;
    struct alc_sb src;
    int rc = -1;
    memset(&g, 0, sizeof g);
    g.text = genome;
    g.d = d;
    if (strlen(genome) > 4096) {
        alc_diag_errorf(d, "genome too long (over 4096 characters)");
        return -1;
    }
    /* a genome is one line of printable ASCII (it is echoed into the
     * program's header comment, where a newline would end the comment) */
    for (size_t i = 0; genome[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)genome[i];
        if (ch < 0x20 || ch > 0x7e) {
            genome_error(&g, i, "unexpected character (byte 0x%02x): a "
                                "genome is printable ASCII",
                         ch);
            return -1;
        }
    }
    if (parse_genome(&g) != 0) {
        return -1;
    }
    alc_sb_init(&src);
    memset(&w, 0, sizeof w);
    w.out = &src;
    emit_header(&src, &g);
    alc_sb_puts(&src, "\nparam lambda = 0.08 in [0, 0.25]  # DSA's --Lamda\n");
    emit_stages(&w, &g);
    /* emit_stages always leaves a last step: a reduction or the mean */
    alc_sb_printf(&src,
                  "\n# DSA reads a NaN score as 0 and +-inf as -1\n"
                  "let r = dsa_score(x%d)\n"
                  "score = r\n"
                  "sparsity = floor_nonpos(dsa_sparsity(r, lambda), 0.01)\n",
                  w.step);
    rc = canonicalise(alc_sb_str(&src), out, d);
    alc_sb_free(&src);
    return rc;
}
