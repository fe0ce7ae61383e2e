/*
 * search_out.c: what a search leaves in its directory besides state.json
 * (search.h): best.alloc (the best program, formatted, with a header that
 * says how good it is and how to reproduce it), history.csv (one line per
 * candidate; the four time columns last, so that `cut`-ing them off gives
 * bytes that depend on the seed alone), history.json (the same with the
 * run's summary), and search.svg (fitness per evaluation as dots and the
 * best so far as a line, log scale; several state directories in one plot
 * compare evolution with random search). Hand-written SVG, no library.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "search_internal.h"

/* ---- Describing candidates ---- */

/* "ABSLOG -> VAR -> ATAN -> ASIN" (or the free expression). */
static void chain_of(const struct alc_search *s,
                     const struct alc_search_cand *c, struct alc_sb *out)
{
    struct alc_arena a;
    struct alc_cand m;
    struct alc_diag d;
    alc_arena_init(&a, 0);
    alc_diag_init(&d);
    if (alc_evolve_read(s->sp, &a, "<history>", c->src, &m, &d) >= 0) {
        alc_space_describe(s->sp, &m, out);
    }
    alc_diag_free(&d);
    alc_arena_free(&a);
}

/* The candidate's program with the space's comments (re-encoded). */
static int pretty_program(const struct alc_search *s,
                          const struct alc_search_cand *c, struct alc_sb *out,
                          struct alc_diag *d)
{
    struct alc_arena a;
    struct alc_cand m;
    int rc = -1;
    alc_arena_init(&a, 0);
    if (alc_evolve_read(s->sp, &a, "<best>", c->src, &m, d) >= 0) {
        struct alc_program *p = alc_space_encode(s->sp, &a, &m);
        if (p != NULL) {
            alc_print_program(p, 0, out);
            rc = 0;
        }
    }
    alc_arena_free(&a);
    return rc;
}

static int64_t count_status(const struct alc_search *s,
                            enum alc_cand_status st)
{
    int64_t n = 0;
    for (int64_t i = 0; i < s->n_cand; i++) {
        n += s->cand[i].status == st;
    }
    return n;
}

/* ---- best.alloc ---- */

static void header_lines(const struct alc_search *s,
                         const struct alc_search_meta *m,
                         const struct alc_search_cand *b, struct alc_sb *out)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    alc_sb_puts(out, "# best.alloc: the best allocation function found by "
                     "`dsac search`\n#   validation perplexity ");
    alc_sb_printf(out, "%.6g", b->fitness);
    if (isfinite(m->dense_ppl)) {
        alc_sb_printf(out, " (dense model %.6g)", m->dense_ppl);
    }
    alc_sb_printf(out, ", candidate %" PRId64 " (generation %d, %s)\n",
                  b->id, b->gen, b->op);
    alc_sb_puts(out, "#   chain: ");
    chain_of(s, b, out);
    alc_sb_printf(out, "\n#   sparsity %.6g, method %s, model %s\n", m->S,
                  m->method, m->model);
    alc_sb_printf(out, "#   space %s, strategy %s, seed %" PRIu64 ", %"
                       PRId64 " evaluations of %" PRId64 " candidates\n",
                  s->sp->name, alc_strategy_name[s->algo.strategy],
                  s->algo.seed, s->n_evals, s->n_cand);
    alc_sb_puts(out, "#   ratios:");
    for (int u = 0; u < b->n_units; u++) {
        alc_sb_printf(out, "%s %.4f", u > 0 && u % 10 == 0 ? "\n#          "
                                                            : "",
                      b->ratio[u]);
    }
    alc_sb_printf(out, "\n#   date %s\n#   reproduce: %s\n\n", date,
                  m->command);
}

int alc_search_best_text(const struct alc_search *s,
                         const struct alc_search_meta *m, struct alc_sb *out,
                         struct alc_diag *d)
{
    const struct alc_search_cand *b = alc_search_best(s);
    if (b == NULL) {
        alc_diag_errorf(d, "search: no valid candidate was evaluated");
        return -1;
    }
    const struct alc_search_cand *r = b;
    while (r->cache_of >= 0) {
        r = &s->cand[r->cache_of]; /* the ratios' owner */
    }
    header_lines(s, m, b->ratio != NULL ? b : r, out);
    return pretty_program(s, b, out, d);
}

/* ---- history.csv ---- */

/* A CSV field: quoted, inner quotes doubled, newlines as \n. */
static void csv_field(struct alc_sb *out, const char *s, int first_line)
{
    alc_sb_putc(out, '"');
    for (const char *p = s != NULL ? s : ""; *p; p++) {
        if (*p == '\n' && first_line) {
            break;
        }
        if (*p == '"') {
            alc_sb_puts(out, "\"\"");
        } else if (*p == '\n') {
            alc_sb_puts(out, "\\n");
        } else {
            alc_sb_putc(out, *p);
        }
    }
    alc_sb_putc(out, '"');
}

static void csv_row(const struct alc_search *s,
                    const struct alc_search_cand *c, struct alc_sb *out)
{
    struct alc_sb chain;
    alc_sb_init(&chain);
    chain_of(s, c, &chain);
    alc_sb_printf(out, "%" PRId64 ",%d,%" PRId64 ",%" PRId64 ",", c->id,
                  c->gen, c->parent[0], c->parent[1]);
    csv_field(out, c->op, 0);
    alc_sb_printf(out, ",%s,%s,", alc_cand_status_name[c->status],
                  c->status == ALC_CS_INVALID ? alc_reject_name[c->reject]
                                              : "");
    if (isfinite(c->fitness)) {
        alc_sb_printf(out, "%.17g", c->fitness);
    }
    alc_sb_printf(out, ",%" PRId64 ",%" PRId64 ",%016" PRIx64 ",",
                  c->cache_of, c->eval_index, c->hash);
    csv_field(out, chain.s, 0);
    alc_sb_puts(out, ",\"");
    for (int u = 0; c->ratio != NULL && u < c->n_units; u++) {
        alc_sb_printf(out, "%s%.9g", u > 0 ? " " : "", c->ratio[u]);
    }
    alc_sb_puts(out, "\",");
    csv_field(out, c->src, 0);
    alc_sb_putc(out, ',');
    csv_field(out, c->why, 1);
    alc_sb_printf(out, ",%.6f,%.6f,%.6f,%.6f\n", c->t_compile, c->t_alloc,
                  c->t_prune, c->t_eval);
    alc_sb_free(&chain);
}

static void history_csv(const struct alc_search *s, struct alc_sb *out)
{
    alc_sb_puts(out, "id,generation,parent1,parent2,operator,status,reason,"
                     "fitness,cache_of,eval_index,hash,chain,ratios,source,"
                     "why,seconds_compile,seconds_alloc,seconds_prune,"
                     "seconds_eval\n");
    for (int64_t i = 0; i < s->n_cand; i++) {
        csv_row(s, &s->cand[i], out);
    }
}

/* ---- history.json ---- */

static void history_json(const struct alc_search *s,
                         const struct alc_search_meta *m, struct alc_sb *out)
{
    const struct alc_search_cand *b = alc_search_best(s);
    int64_t rej[ALC_REJ_COUNT];
    alc_search_reject_counts(s, rej);
    alc_sb_puts(out, "{\"space\": ");
    alc_sj_str(out, s->sp->name);
    alc_sb_printf(out, ", \"strategy\": \"%s\", \"seed\": %" PRIu64
                       ", \"model\": ",
                  alc_strategy_name[s->algo.strategy], s->algo.seed);
    alc_sj_str(out, m->model);
    alc_sb_puts(out, ", \"method\": ");
    alc_sj_str(out, m->method);
    alc_sb_puts(out, ", \"sparsity\": ");
    alc_sj_num(out, m->S);
    alc_sb_puts(out, ", \"dense_ppl\": ");
    alc_sj_num(out, m->dense_ppl);
    alc_sb_printf(out, ",\n\"evaluations\": %" PRId64 ", \"candidates\": %"
                       PRId64 ", \"cache_hits\": %" PRId64 ", \"invalid\": %"
                       PRId64 ", \"exhausted\": %" PRId64 ", \"best\": %" PRId64
                       ", \"best_fitness\": ",
                  s->n_evals, s->n_cand, alc_search_cache_hits(s),
                  count_status(s, ALC_CS_INVALID), s->exhausted,
                  b != NULL ? b->id : -1);
    alc_sj_num(out, b != NULL ? b->fitness : NAN);
    alc_sb_puts(out, ",\n\"rejected\": {");
    for (int r = 1; r < ALC_REJ_COUNT; r++) {
        alc_sb_printf(out, "%s\"%s\": %" PRId64, r > 1 ? ", " : "",
                      alc_reject_name[r], rej[r]);
    }
    alc_sb_puts(out, "},\n\"config\": ");
    alc_sj_str(out, s->config);
    alc_sb_puts(out, ",\n\"history\": [");
    for (int64_t i = 0; i < s->n_cand; i++) {
        alc_sb_puts(out, i > 0 ? ",\n  " : "\n  ");
        alc_search_cand_json(&s->cand[i], 1, out);
    }
    alc_sb_puts(out, "]}\n");
}

/* ---- Files ---- */

static int write_text(const char *dir, const char *name,
                      const struct alc_sb *sb, struct alc_diag *d)
{
    char *path = alc_path_join(dir, name);
    int rc = -1;
    if (path == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    rc = alc_write_file_atomic(path, sb->s != NULL ? sb->s : "", sb->len, d);
    free(path);
    return rc;
}

static int plot_self(const struct alc_search *s, const char *dir,
                     struct alc_diag *d);

int alc_search_write_outputs(const struct alc_search *s,
                             const struct alc_search_meta *m,
                             const char *dir, struct alc_diag *d)
{
    struct alc_sb sb;
    int rc = -1;
    alc_sb_init(&sb);
    if (alc_mkdir_p(dir, d) != 0) {
        goto done;
    }
    history_csv(s, &sb);
    if (write_text(dir, "history.csv", &sb, d) != 0) {
        goto done;
    }
    alc_sb_reset(&sb);
    history_json(s, m, &sb);
    if (write_text(dir, "history.json", &sb, d) != 0 ||
        plot_self(s, dir, d) != 0) {
        goto done;
    }
    alc_sb_reset(&sb);
    if (alc_search_best(s) != NULL) {
        if (alc_search_best_text(s, m, &sb, d) != 0 ||
            write_text(dir, "best.alloc", &sb, d) != 0) {
            goto done;
        }
    }
    rc = 0;
done:
    alc_sb_free(&sb);
    return rc;
}

/* ---- search.svg ---- */

/* One curve: the evaluations of one search, in evaluation order. */
struct series {
    char label[256];
    double *y;        /* [n] fitness by evaluation index (NaN: invalid) */
    int64_t n;
};

static int series_of(const struct alc_search *s, const char *label,
                     struct series *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->label, sizeof out->label, "%s", label);
    out->y = malloc((size_t)(s->n_evals + 1) * sizeof *out->y);
    if (out->y == NULL) {
        return -1;
    }
    for (int64_t i = 0; i <= s->n_evals; i++) {
        out->y[i] = NAN;
    }
    for (int64_t i = 0; i < s->n_cand; i++) {
        const struct alc_search_cand *c = &s->cand[i];
        if (c->eval_index >= 0 && c->eval_index < s->n_evals) {
            out->y[c->eval_index] = c->status == ALC_CS_EVALUATED
                                        ? c->fitness
                                        : NAN;
        }
    }
    out->n = s->n_evals;
    return 0;
}

static const char *const colour[] = {"#1f77b4", "#d62728", "#2ca02c",
                                     "#9467bd", "#ff7f0e", "#8c564b"};

#define PW 860
#define PH 480
#define ML 70
#define MR 20
#define MT 40
#define MB 50

struct axes {
    double lo, hi;  /* log10 range */
    int64_t xmax;
};

static double px(const struct axes *ax, double x)
{
    return ML + (PW - ML - MR) * x / (double)(ax->xmax > 1 ? ax->xmax : 1);
}

static double py(const struct axes *ax, double y)
{
    double t = (log10(y) - ax->lo) / (ax->hi - ax->lo);
    return PH - MB - (PH - MT - MB) * t;
}

static void find_axes(const struct series *sv, int n, struct axes *ax)
{
    double lo = INFINITY, hi = -INFINITY;
    ax->xmax = 1;
    for (int k = 0; k < n; k++) {
        ax->xmax = sv[k].n > ax->xmax ? sv[k].n : ax->xmax;
        for (int64_t i = 0; i < sv[k].n; i++) {
            if (isfinite(sv[k].y[i]) && sv[k].y[i] > 0) {
                lo = fmin(lo, log10(sv[k].y[i]));
                hi = fmax(hi, log10(sv[k].y[i]));
            }
        }
    }
    if (!isfinite(lo)) {
        lo = 0.0;
        hi = 1.0;
    }
    if (hi - lo < 0.05) {
        hi = lo + 0.05;
    }
    ax->lo = lo - 0.03 * (hi - lo);
    ax->hi = hi + 0.03 * (hi - lo);
}

static void svg_axes(const struct axes *ax, const char *title,
                     struct alc_sb *out)
{
    alc_sb_printf(out, "<rect x='%d' y='%d' width='%d' height='%d' "
                       "fill='none' stroke='#444'/>\n",
                  ML, MT, PW - ML - MR, PH - MT - MB);
    for (int i = 0; i <= 5; i++) {
        double v = pow(10.0, ax->lo + (ax->hi - ax->lo) * i / 5.0);
        double y = py(ax, v);
        alc_sb_printf(out, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' "
                           "stroke='#ddd'/><text x='%d' y='%.1f' "
                           "font-size='11' text-anchor='end'>%.4g</text>\n",
                      ML, y, PW - MR, y, ML - 6, y + 4, v);
    }
    for (int i = 0; i <= 5; i++) {
        int64_t xv = (int64_t)llround((double)ax->xmax * i / 5.0);
        alc_sb_printf(out, "<text x='%.1f' y='%d' font-size='11' "
                           "text-anchor='middle'>%" PRId64 "</text>\n",
                      px(ax, (double)xv), PH - MB + 16, xv);
    }
    alc_sb_printf(out, "<text x='%d' y='%d' font-size='12' "
                       "text-anchor='middle'>evaluation</text>\n"
                       "<text x='16' y='%d' font-size='12' "
                       "text-anchor='middle' transform='rotate(-90 16 %d)'>"
                       "validation perplexity (log scale)</text>\n"
                       "<text x='%d' y='24' font-size='14' "
                       "text-anchor='middle'>",
                  (PW + ML) / 2, PH - 12, (PH + MT - MB) / 2,
                  (PH + MT - MB) / 2, (PW + ML) / 2);
    for (const char *p = title; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&') {
            alc_sb_printf(out, "&#%d;", *p);
        } else {
            alc_sb_putc(out, *p);
        }
    }
    alc_sb_puts(out, "</text>\n");
}

static void svg_series(const struct axes *ax, const struct series *sv, int k,
                       struct alc_sb *out)
{
    const char *col = colour[k % 6];
    double best = INFINITY;
    int started = 0;
    for (int64_t i = 0; i < sv->n; i++) {
        if (isfinite(sv->y[i]) && sv->y[i] > 0) {
            alc_sb_printf(out, "<circle cx='%.1f' cy='%.1f' r='2' "
                               "fill='%s' fill-opacity='0.45'/>\n",
                          px(ax, (double)i), py(ax, sv->y[i]), col);
        }
    }
    alc_sb_printf(out, "<polyline fill='none' stroke='%s' stroke-width='2' "
                       "points='",
                  col);
    for (int64_t i = 0; i < sv->n; i++) {
        if (isfinite(sv->y[i]) && sv->y[i] > 0 && sv->y[i] < best) {
            if (started) {
                alc_sb_printf(out, "%.1f,%.1f ", px(ax, (double)i),
                              py(ax, best));
            }
            best = sv->y[i];
            started = 1;
        }
        if (started) {
            alc_sb_printf(out, "%.1f,%.1f ", px(ax, (double)i),
                          py(ax, best));
        }
    }
    alc_sb_puts(out, "'/>\n");
    alc_sb_printf(out, "<rect x='%d' y='%d' width='12' height='3' "
                       "fill='%s'/><text x='%d' y='%d' font-size='12'>",
                  ML + 12, MT + 14 + 18 * k, col, ML + 30, MT + 19 + 18 * k);
    for (const char *p = sv->label; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&') {
            alc_sb_printf(out, "&#%d;", *p);
        } else {
            alc_sb_putc(out, *p);
        }
    }
    if (isfinite(best)) {
        alc_sb_printf(out, " (best %.4g)", best);
    }
    alc_sb_puts(out, "</text>\n");
}

static void svg_plot(const struct series *sv, int n, const char *title,
                     struct alc_sb *out)
{
    struct axes ax;
    find_axes(sv, n, &ax);
    alc_sb_printf(out, "<svg xmlns='http://www.w3.org/2000/svg' "
                       "width='%d' height='%d' font-family='sans-serif'>\n"
                       "<rect width='100%%' height='100%%' fill='white'/>\n",
                  PW, PH);
    svg_axes(&ax, title, out);
    for (int k = 0; k < n; k++) {
        svg_series(&ax, &sv[k], k, out);
    }
    alc_sb_puts(out, "</svg>\n");
}

static void label_of(const struct alc_search *s, const char *dir, char *buf,
                     size_t n)
{
    snprintf(buf, n, "%s (%s)", alc_strategy_name[s->algo.strategy], dir);
}

static int plot_self(const struct alc_search *s, const char *dir,
                     struct alc_diag *d)
{
    struct series sv;
    struct alc_sb sb;
    char label[256], title[256];
    label_of(s, dir, label, sizeof label);
    if (series_of(s, label, &sv) != 0) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    snprintf(title, sizeof title, "dsac search: space %s, %s, seed %" PRIu64,
             s->sp->name, alc_strategy_name[s->algo.strategy], s->algo.seed);
    alc_sb_init(&sb);
    svg_plot(&sv, 1, title, &sb);
    int rc = write_text(dir, "search.svg", &sb, d);
    alc_sb_free(&sb);
    free(sv.y);
    return rc;
}

/* The strategy named in a state's config text ("strategy = random"). */
static enum alc_strategy strategy_of(const char *config)
{
    const char *p = strstr(config, "strategy = ");
    if (p != NULL && strncmp(p + 11, "random", 6) == 0) {
        return ALC_STRAT_RANDOM;
    }
    return ALC_STRAT_EVOLUTION;
}

int alc_search_plot(const char *const *dirs, int n, const char *out_path,
                    struct alc_diag *d)
{
    struct series *sv = calloc((size_t)n + 1, sizeof *sv);
    struct alc_sb sb;
    int rc = -1, made = 0;
    alc_sb_init(&sb);
    if (sv == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    for (int k = 0; k < n; k++, made++) {
        struct alc_search s;
        char *path = alc_path_join(dirs[k], "state.json");
        memset(&s, 0, sizeof s);
        int ok = path != NULL && alc_search_state_load(&s, path, d) == 0;
        free(path);
        if (ok) {
            char label[256];
            s.algo.strategy = strategy_of(s.config);
            label_of(&s, dirs[k], label, sizeof label);
            ok = series_of(&s, label, &sv[k]) == 0;
        }
        alc_search_close(&s);
        if (!ok) {
            goto done;
        }
    }
    svg_plot(sv, n, "dsac search: validation perplexity per evaluation and "
                    "best so far", &sb);
    rc = alc_write_file_atomic(out_path, sb.s, sb.len, d);
done:
    for (int k = 0; k < made; k++) {
        free(sv[k].y);
    }
    free(sv);
    alc_sb_free(&sb);
    return rc;
}
