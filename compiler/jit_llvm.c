/*
 * jit_llvm.c: the LLVM backend (alc_backend_llvm, backend.h) and its own
 * interface (jit.h). Compiles a plan's passes through jit_codegen.c and
 * llvm_compat.c, then evaluates: each pass cuts every unit's matrices into
 * fixed chunks of whole rows, runs the JIT'd function on each chunk on the
 * thread pool, folds the per-lane partial states of each chunk in a fixed
 * pairwise order, and combines the chunks of a unit in a fixed pairwise
 * tree (plan.c) -- so results are bit-identical for any thread count.
 *
 * Raw record of a pass function call (written by the kernel, read here):
 * for each accumulator a in pass order, for each of its raw slots s
 * (alc_cg_raw_slots: SUM/MIN/MAX have 1, VAR has 4 = n, K, s1, s2), for
 * each unroll copy u, ALC_VL lanes: raw[base_a + (s * U + u) * VL + l].
 * Lane u * VL + l holds the elements at columns c + u * VL + l of every
 * main-loop step.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <llvm-c/Core.h>

#include "backend.h"
#include "interp.h"
#include "jit_internal.h"
#include "llvm_compat.h"

typedef void (*pass_fn)(const void *w, const double *act, int64_t nrows,
                        int64_t cols, int64_t mat_rows, const double *env,
                        double *raw, double **store, const double *logw,
                        const double *lact);

/* Machine code of one LLVM module, shared by the states compiled into it
 * (alc_jit_compile_batch); freed with the last of them. */
struct jit_code {
    LLVMOrcResourceTrackerRef rt; /* owns the code in the JIT */
    atomic_int refs;
};

struct alc_jit {
    struct alc_ir ir; /* compacted copy, owned */
    struct alc_plan plan;
    struct alc_jit_opts opts;
    struct jit_code *code; /* one reference; NULL without passes */
    char prefix[32];       /* of its function names in the module */
    pass_fn *fns;          /* (n_passes * ALC_DT_COUNT) */
    int *raw_size;         /* (n_passes) doubles per raw record */
    double fm_z0;          /* alc_cg_fm_zero: zero weights' log, or NaN */
    int reads_lact;        /* ALC_CG_LACT_* bits: act's per-column logs
                              the code reads */
    alc_jit_vfn_ptr vfns[ALC_VFN_COUNT];
};

/* Compilations are serialised: one LLJIT, one target machine. */
static pthread_mutex_t compile_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong module_counter;

/* ---- Compilation ---- */

static void norm_opts(struct alc_jit_opts *o, const struct alc_jit_opts *in)
{
    memset(o, 0, sizeof *o);
    if (in != NULL) {
        *o = *in;
    }
    if (o->unroll <= 0) {
        o->unroll = 4; /* ~8% faster than 2 on OWL and DSA (Zen 4) */
    }
    if (o->unroll > 4) {
        o->unroll = 4;
    }
    if (o->chunk <= 0) {
        o->chunk = ALC_JIT_CHUNK;
    }
    if (o->logw < 0 || o->logw >= ALC_JIT_LOGW_COUNT) {
        o->logw = ALC_JIT_LOGW_AUTO;
    }
    o->dtypes &= (1u << ALC_DT_COUNT) - 1;
    if (o->dtypes == 0) {
        o->dtypes = (1u << ALC_DT_COUNT) - 1;
    }
}

/* ---- Calls from JIT'd code ---- */

void alc_jit_vmap(int32_t op, const double *a, const double *b, double *out)
{
    const struct alc_op_info *o = &alc_op_table[op];
    if (o->map1 != NULL) {
        for (int i = 0; i < ALC_VL; i++) {
            out[i] = o->map1(a[i]);
        }
    } else {
        for (int i = 0; i < ALC_VL; i++) {
            out[i] = o->map2(a[i], b[i]);
        }
    }
}

static pthread_once_t symbols_once = PTHREAD_ONCE_INIT;
static int symbols_ok;

static void define_symbols(void)
{
    struct alc_diag d;
    alc_diag_init(&d);
    symbols_ok =
        alc_llvm_define(ALC_JIT_VMAP_SYMBOL, (void *)alc_jit_vmap, &d) == 0;
    alc_diag_free(&d);
}

/* Starts a module in u with a code generator g over it. */
static int begin_module(struct alc_llvm_unit *u, struct alc_cg *g,
                        const struct alc_jit_opts *opts, struct alc_diag *d)
{
    memset(g, 0, sizeof *g);
    if (alc_llvm_unit_init(u, "alc", d) != 0) {
        return -1;
    }
    g->ctx = u->ctx;
    g->mod = u->mod;
    g->opts = opts;
    g->b = LLVMCreateBuilderInContext(g->ctx);
    alc_cg_types(g);
    return 0;
}

static int raw_record_size(const struct alc_plan_pass *ps, int U)
{
    int n = 0;
    for (int a = 0; a < ps->n_accs; a++) {
        n += alc_cg_raw_slots[ps->accs[a].kind] * U * ALC_VL;
    }
    return n;
}

static int lookup_passes(struct alc_jit *j, struct alc_diag *d)
{
    char name[160];
    for (int k = 0; k < j->plan.n_passes; k++) {
        j->raw_size[k] = raw_record_size(&j->plan.passes[k], j->opts.unroll);
        for (int dt = 0; dt < ALC_DT_COUNT; dt++) {
            uint64_t addr = 0;
            if (!(j->opts.dtypes & (1u << dt))) {
                continue;
            }
            snprintf(name, sizeof name, "%sp%d_%s", j->prefix, k + 1,
                     alc_cg_dtype_suffix[dt]);
            if (alc_llvm_lookup(name, &addr, d) != 0) {
                return -1;
            }
            j->fns[k * ALC_DT_COUNT + dt] = (pass_fn)(uintptr_t)addr;
        }
    }
    return 0;
}

static int lookup_vmath(struct alc_jit *j, struct alc_diag *d)
{
    char name[160];
    for (int i = 0; i < ALC_VFN_COUNT; i++) {
        uint64_t addr = 0;
        snprintf(name, sizeof name, "%s%s", j->prefix, alc_cg_vfn_name[i]);
        if (alc_llvm_lookup(name, &addr, d) != 0) {
            return -1;
        }
        j->vfns[i] = (alc_jit_vfn_ptr)(uintptr_t)addr;
    }
    return 0;
}

static int ensure_symbols(struct alc_diag *d)
{
    pthread_once(&symbols_once, define_symbols);
    if (symbols_ok) {
        return 0;
    }
    /* repeat the definition to report why it failed (LLVM missing...) */
    if (alc_llvm_define(ALC_JIT_VMAP_SYMBOL, (void *)alc_jit_vmap, d) == 0) {
        alc_diag_errorf(d, "cannot register JIT helper symbols");
    }
    return -1;
}

/* Emits the functions of the states js[0 .. n) that have code into g's
 * module, each under a fresh prefix; returns how many have code. */
static int emit_states(struct alc_cg *g, struct alc_jit **js, int n, int vmath,
                       struct alc_diag *d)
{
    int with_code = 0;
    for (int i = 0; i < n; i++) {
        struct alc_jit *j = js[i];
        if (!vmath && j->plan.n_passes == 0) {
            continue;
        }
        snprintf(j->prefix, sizeof j->prefix, "alc%llu_",
                 (unsigned long long)atomic_fetch_add(&module_counter, 1));
        int rc = vmath ? alc_cg_vmath_module(g, j->prefix, d)
                       : alc_cg_plan(g, &j->ir, &j->plan, j->prefix, d);
        if (rc != 0) {
            return -1;
        }
        with_code++;
    }
    return with_code;
}

/*
 * Generates one module for the states js[0 .. n) (all with the same
 * options), optimises it, adds it to the JIT and looks up every function.
 * One module amortises LLVM's fixed cost per compilation (pass and
 * code-generation pipelines, linking) over the batch.
 */
static int codegen_batch(struct alc_jit **js, int n, int vmath,
                         struct alc_diag *d)
{
    struct alc_llvm_unit u = {0};
    struct alc_cg g;
    LLVMOrcResourceTrackerRef rt = NULL;
    int rc = -1, with_code = 0;
    if (ensure_symbols(d) != 0) {
        return -1;
    }
    pthread_mutex_lock(&compile_mu);
    if (begin_module(&u, &g, &js[0]->opts, d) != 0) {
        goto done;
    }
    with_code = emit_states(&g, js, n, vmath, d);
    LLVMDisposeBuilder(g.b);
    if (with_code <= 0) {
        rc = with_code;
        goto done;
    }
    if (alc_llvm_optimize(&u, d) != 0 || alc_llvm_add(&u, &rt, d) != 0) {
        goto done;
    }
    struct jit_code *code = calloc(1, sizeof *code);
    if (code == NULL) {
        alc_llvm_remove(rt);
        alc_diag_errorf(d, "out of memory compiling the allocation");
        goto done;
    }
    code->rt = rt;
    atomic_init(&code->refs, with_code);
    rc = 0;
    for (int i = 0; i < n; i++) {
        struct alc_jit *j = js[i];
        if (!vmath && j->plan.n_passes == 0) {
            continue;
        }
        j->code = code; /* each state holds one of the with_code refs */
        if ((vmath ? lookup_vmath(j, d) : lookup_passes(j, d)) != 0) {
            rc = -1;
        }
    }
done:
    pthread_mutex_unlock(&compile_mu);
    alc_llvm_unit_free(&u);
    return rc;
}

/* A state with its compacted IR and plan, no code yet. */
static struct alc_jit *jit_new(const struct alc_ir *ir,
                               const struct alc_jit_opts *opts,
                               struct alc_diag *d)
{
    struct alc_jit *j = calloc(1, sizeof *j);
    if (j == NULL) {
        alc_diag_errorf(d, "out of memory compiling the allocation");
        return NULL;
    }
    norm_opts(&j->opts, opts);
    if (ir == NULL) {
        alc_ir_init(&j->ir);
        return j;
    }
    if (alc_ir_compact(ir, &j->ir) != 0) {
        alc_diag_errorf(d, "out of memory compiling the allocation");
        free(j);
        return NULL;
    }
    if (alc_plan_build(&j->plan, &j->ir, d) != 0) {
        alc_ir_free(&j->ir);
        free(j);
        return NULL;
    }
    j->reads_lact = alc_cg_reads_lact(&j->ir, &j->plan, &j->opts);
    j->fm_z0 = alc_cg_fm_zero(&j->ir, &j->plan, &j->opts);
    size_t np = (size_t)j->plan.n_passes + 1;
    j->fns = calloc(np * ALC_DT_COUNT, sizeof *j->fns);
    j->raw_size = calloc(np, sizeof *j->raw_size);
    if (j->fns == NULL || j->raw_size == NULL) {
        alc_diag_errorf(d, "out of memory compiling the allocation");
        alc_jit_free(j);
        return NULL;
    }
    return j;
}

int alc_jit_compile_batch(const struct alc_ir *const *irs, int n,
                          const struct alc_jit_opts *opts, struct alc_jit **out,
                          struct alc_diag *d)
{
    int rc = -1;
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
    }
    for (int i = 0; i < n; i++) {
        out[i] = jit_new(irs[i], opts, d);
        if (out[i] == NULL) {
            goto done;
        }
    }
    rc = n > 0 ? codegen_batch(out, n, 0, d) : 0;
done:
    if (rc != 0) {
        for (int i = 0; i < n; i++) {
            alc_jit_free(out[i]);
            out[i] = NULL;
        }
    }
    return rc;
}

struct alc_jit *alc_jit_compile(const struct alc_ir *ir,
                                const struct alc_jit_opts *opts,
                                struct alc_diag *d)
{
    struct alc_jit *j = NULL;
    return alc_jit_compile_batch(&ir, 1, opts, &j, d) == 0 ? j : NULL;
}

struct alc_jit *alc_jit_compile_vmath(struct alc_diag *d)
{
    struct alc_jit *j = calloc(1, sizeof *j);
    if (j == NULL) {
        alc_diag_errorf(d, "out of memory");
        return NULL;
    }
    norm_opts(&j->opts, NULL);
    alc_ir_init(&j->ir);
    if (codegen_batch(&j, 1, 1, d) != 0) {
        alc_jit_free(j);
        return NULL;
    }
    return j;
}

alc_jit_vfn_ptr alc_jit_vmath(const struct alc_jit *j, enum alc_jit_vfn f)
{
    return j->vfns[f];
}

void alc_jit_free(struct alc_jit *j)
{
    if (j == NULL) {
        return;
    }
    if (j->code != NULL && atomic_fetch_sub(&j->code->refs, 1) == 1) {
        alc_llvm_remove(j->code->rt);
        free(j->code);
    }
    alc_plan_free(&j->plan);
    alc_ir_free(&j->ir);
    free(j->fns);
    free(j->raw_size);
    free(j);
}

const struct alc_ir *alc_jit_ir(const struct alc_jit *j)
{
    return &j->ir;
}

const struct alc_plan *alc_jit_plan(const struct alc_jit *j)
{
    return &j->plan;
}

int alc_jit_emit(const struct alc_ir *ir, const struct alc_jit_opts *opts,
                 enum alc_jit_emit_kind kind, struct alc_sb *out,
                 struct alc_diag *d)
{
    struct alc_jit_opts o;
    struct alc_ir cir;
    struct alc_plan plan;
    struct alc_llvm_unit u = {0};
    int rc = -1;
    norm_opts(&o, opts);
    if (alc_ir_compact(ir, &cir) != 0) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    if (alc_plan_build(&plan, &cir, d) != 0) {
        alc_ir_free(&cir);
        return -1;
    }
    struct alc_cg g;
    pthread_mutex_lock(&compile_mu);
    if (begin_module(&u, &g, &o, d) != 0) {
        goto done;
    }
    int bad = alc_cg_plan(&g, &cir, &plan, "alc_", d);
    LLVMDisposeBuilder(g.b);
    if (bad != 0) {
        goto done;
    }
    if (kind != ALC_JIT_EMIT_RAW && alc_llvm_optimize(&u, d) != 0) {
        goto done;
    }
    if (kind == ALC_JIT_EMIT_ASM) {
        rc = alc_llvm_emit_asm(&u, out, d);
        goto done;
    }
    char *text = LLVMPrintModuleToString(u.mod);
    alc_sb_puts(out, text);
    LLVMDisposeMessage(text);
    rc = 0;
done:
    pthread_mutex_unlock(&compile_mu);
    alc_llvm_unit_free(&u);
    alc_plan_free(&plan);
    alc_ir_free(&cir);
    return rc;
}

/* ---- Evaluation ---- */

/* One chunk: rows [r0, r0 + nr) of matrix m of unit u. */
struct chunk {
    int u, m;
    int64_t r0, nr;
    int64_t elem0; /* offset of its first element within the unit */
};

struct unit_chunks {
    int64_t first, count; /* range in the chunk list */
    int64_t numel;
};

struct pass_run {
    const struct alc_jit *j;
    const struct alc_units *units;
    const struct alc_plan_pass *ps;
    int k; /* 0-based pass index */
    double *env;
    struct chunk *chunks;
    int64_t n_chunks;
    struct unit_chunks *uc; /* (n_units) */
    double *rec;            /* (n_chunks * n_slots) combined records */
    double *raw;            /* (n_workers * raw_size) kernel scratch */
    double **store;         /* (n_stores) unit buffers while storing */
    double **wstore;        /* (n_workers * n_stores) per-call pointers */
    int64_t task0;          /* first chunk of the current parallel run */
    double **act;           /* (n_units * max mats) act vectors as double,
                               or NULLs when the program reads no act */
    double **lact;          /* (n_units * max mats) per-column logs of act
                               (2 cols: log|act_j|, log act_j), or NULLs */
    void *scratch;          /* the block act and lact point into */
    size_t scratch_cap;
    int max_mats;
    struct alc_pool *pool;
    const struct alc_jit_eval *hooks; /* never NULL */
};

static int64_t chunk_rows(int64_t chunk, int64_t cols)
{
    int64_t r = chunk / (cols > 0 ? cols : 1);
    return r > 0 ? r : 1;
}

/* Lists the chunks of every unit (matrices with no elements have none). */
static int list_chunks(struct pass_run *x)
{
    int64_t n = 0, cap = 0;
    for (int u = 0; u < x->units->n_units; u++) {
        const struct alc_unit_view *uv = &x->units->units[u];
        int64_t elem0 = 0;
        x->uc[u].first = n;
        for (int m = 0; m < uv->n_mats; m++) {
            const struct alc_mat_view *mv = &uv->mats[m];
            int64_t rpc = chunk_rows(x->j->opts.chunk, mv->cols);
            for (int64_t r = 0; mv->cols > 0 && r < mv->rows; r += rpc) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 256;
                    struct chunk *nc =
                        realloc(x->chunks, (size_t)cap * sizeof *nc);
                    if (nc == NULL) {
                        return -1;
                    }
                    x->chunks = nc;
                }
                int64_t nr = mv->rows - r < rpc ? mv->rows - r : rpc;
                x->chunks[n++] =
                    (struct chunk){u, m, r, nr, elem0 + r * mv->cols};
            }
            elem0 += mv->rows * mv->cols;
        }
        x->uc[u].count = n - x->uc[u].first;
        x->uc[u].numel = elem0;
    }
    x->n_chunks = n;
    return 0;
}

/* Folds n states of width w of kind k in a fixed pairwise tree into s[0]. */
static void tree_fold(enum alc_acc_kind k, double *s, int n, int w)
{
    for (int step = 1; step < n; step *= 2) {
        for (int i = 0; i + step < n; i += 2 * step) {
            alc_plan_acc_combine(k, s + i * w, s + (i + step) * w);
        }
    }
}

/* Raw per-lane kernel output -> one combined record of the chunk, whose
 * first element is element elem0 of its unit. */
static void fold_raw(const struct alc_plan_pass *ps, int U, const double *raw,
                     int64_t elem0, double *rec)
{
    const int W = U * ALC_VL;
    double tmp[4 * ALC_VL * 4];
    int pos = 0;
    for (int a = 0; a < ps->n_accs; a++) {
        const struct alc_plan_acc *acc = &ps->accs[a];
        const double *r = raw + pos;
        switch (acc->kind) {
        case ALC_ACC_SUM:
            memcpy(tmp, r, (size_t)W * sizeof *tmp);
            tree_fold(acc->kind, tmp, W, 1);
            rec[acc->slot] = tmp[0];
            break;
        case ALC_ACC_MIN:
        case ALC_ACC_MAX: /* chunk-relative indices -> unit indices */
            for (int l = 0; l < W; l++) {
                tmp[2 * l] = r[l];
                tmp[2 * l + 1] = r[W + l] + (double)elem0;
            }
            tree_fold(acc->kind, tmp, W, 2);
            memcpy(rec + acc->slot, tmp, 2 * sizeof *tmp);
            break;
        case ALC_ACC_VAR:
            for (int l = 0; l < W; l++) {
                alc_plan_var_from_shifted(r[l], r[W + l], r[2 * W + l],
                                          r[3 * W + l], tmp + 4 * l);
            }
            tree_fold(ALC_ACC_VAR, tmp, W, 4);
            memcpy(rec + acc->slot, tmp, 4 * sizeof *tmp);
            break;
        default:
            break;
        }
        pos += alc_cg_raw_slots[acc->kind] * W;
    }
}

static void run_chunk(void *ctx, int64_t task, int worker)
{
    struct pass_run *x = ctx;
    int64_t ci = x->task0 + task;
    const struct chunk *c = &x->chunks[ci];
    const struct alc_unit_view *uv = &x->units->units[c->u];
    const struct alc_mat_view *mv = &uv->mats[c->m];
    const struct alc_plan_pass *ps = x->ps;
    double *raw = x->raw + (size_t)worker * (size_t)x->j->raw_size[x->k];
    double **st = x->wstore + (size_t)worker * (size_t)(ps->n_stores + 1);
    for (int i = 0; i < ps->n_stores; i++) {
        st[i] = x->store[i] + c->elem0;
    }
    const char *w = mv->w;
    if (w != NULL) {
        w += (size_t)(c->r0 * mv->cols) *
             (size_t)alc_dtype_table[mv->dtype].size;
    }
    pass_fn fn = x->j->fns[x->k * ALC_DT_COUNT + (int)mv->dtype];
    size_t am = (size_t)c->u * (size_t)x->max_mats + (size_t)c->m;
    fn(w, x->act[am], c->nr, mv->cols, mv->rows,
       x->env + (size_t)c->u * (size_t)x->j->ir.n_nodes, raw, st,
       alc_logw_table(mv->dtype), x->lact[am]);
    fold_raw(ps, x->j->opts.unroll, raw, c->elem0,
             x->rec + (size_t)ci * (size_t)ps->n_slots);
}

/* Chunks run in runs of CHUNK_RUN consecutive ones per task: a thread then
 * streams 1M contiguous elements (with the default chunk) instead of 256K,
 * which the hardware prefetcher keeps up with (OWL +20 % on 2 threads, with
 * 64K chunks, Zen 4). The chunks, their records and the combine are
 * unchanged, so are the bits. */
#define CHUNK_RUN 4

static void run_chunk_run(void *ctx, int64_t task, int worker)
{
    struct pass_run *x = ctx;
    int64_t c0 = task * CHUNK_RUN, c1 = c0 + CHUNK_RUN;
    c1 = c1 < x->n_chunks ? c1 : x->n_chunks;
    for (int64_t c = c0; c < c1; c++) {
        run_chunk(ctx, c, worker);
    }
}

/* Combines unit u's chunk records and writes its reductions into env. */
static void finish_unit(struct pass_run *x, int u)
{
    const struct alc_plan_pass *ps = x->ps;
    const struct unit_chunks *uc = &x->uc[u];
    double *env = x->env + (size_t)u * (size_t)x->j->ir.n_nodes;
    double *rec = x->rec + (size_t)uc->first * (size_t)ps->n_slots;
    if (uc->count == 0) { /* a unit without elements: the spare record */
        rec = x->rec + (size_t)x->n_chunks * (size_t)ps->n_slots;
        for (int a = 0; a < ps->n_accs; a++) {
            alc_plan_acc_identity(ps->accs[a].kind, rec + ps->accs[a].slot);
        }
    } else {
        alc_plan_combine_tree(ps, rec, uc->count);
    }
    for (int i = 0; i < ps->n_reds; i++) {
        const struct alc_plan_red *r = &ps->reds[i];
        const struct alc_ir_node *n = &x->j->ir.nodes[r->node];
        double v;
        if (n->op == ALC_OP_QUANTILE) {
            int s = 0;
            for (int a = 0; a < r->acc[0]; a++) {
                s += ps->accs[a].kind == ALC_ACC_STORE;
            }
            /* the interpreter's own selection, on the same values in the
             * same order */
            v = alc_interp_reduce(ALC_OP_QUANTILE, x->store[s],
                                  (size_t)uc->numel, env[n->arg[1]]);
        } else {
            v = alc_plan_finish(ps, r, &x->j->ir, rec, (double)uc->numel);
        }
        size_t at = (size_t)r->node * (size_t)x->units->n_units + (size_t)u;
        if (x->hooks->red_out != NULL) {
            x->hooks->red_out[at] = v;
        }
        if (x->hooks->inject != NULL) {
            v = x->hooks->inject[at];
        } else if (x->hooks->perturb_red != 0.0) {
            v *= 1.0 + x->hooks->perturb_red;
        }
        env[r->node] = v;
    }
}

static int run_units_storing(struct pass_run *x, struct alc_diag *d)
{
    const struct alc_plan_pass *ps = x->ps;
    for (int u = 0; u < x->units->n_units; u++) {
        const struct unit_chunks *uc = &x->uc[u];
        for (int i = 0; i < ps->n_stores; i++) {
            x->store[i] = malloc(((size_t)uc->numel + 1) * sizeof(double));
            if (x->store[i] == NULL) {
                alc_diag_errorf(d,
                                "out of memory: quantile needs the %lld "
                                "values of unit %d",
                                (long long)uc->numel, u);
                for (int k = 0; k < i; k++) {
                    free(x->store[k]);
                    x->store[k] = NULL;
                }
                return -1;
            }
        }
        x->task0 = uc->first;
        alc_pool_run(x->pool, uc->count, run_chunk, x);
        finish_unit(x, u);
        for (int i = 0; i < ps->n_stores; i++) {
            free(x->store[i]);
            x->store[i] = NULL;
        }
    }
    return 0;
}

/* Every matrix's dtype has code (alc_jit_opts.dtypes). */
static int check_dtypes(const struct alc_jit *j, const struct alc_units *U,
                        struct alc_diag *d)
{
    for (int u = 0; u < U->n_units; u++) {
        for (int m = 0; m < U->units[u].n_mats; m++) {
            int dt = (int)U->units[u].mats[m].dtype;
            if (dt >= 0 && dt < ALC_DT_COUNT &&
                !(j->opts.dtypes & (1u << dt))) {
                alc_diag_errorf(d,
                                "unit %d: weights are %s but the "
                                "allocation was compiled without it",
                                u, alc_dtype_table[dt].st_name);
                return -1;
            }
        }
    }
    return 0;
}

static int run_pass(void *ctx, int pass, double *env, struct alc_diag *d)
{
    struct pass_run *x = ctx;
    int rc = -1;
    int nw = alc_pool_threads(x->pool);
    x->k = pass - 1;
    x->ps = &x->j->plan.passes[x->k];
    x->env = env;
    x->uc = calloc((size_t)x->units->n_units, sizeof *x->uc);
    if (x->uc == NULL || list_chunks(x) != 0) {
        goto oom;
    }
    x->rec = malloc(((size_t)x->n_chunks + 1) * (size_t)x->ps->n_slots *
                        sizeof *x->rec +
                    1);
    x->raw =
        malloc((size_t)nw * (size_t)x->j->raw_size[x->k] * sizeof *x->raw + 1);
    x->store = calloc((size_t)x->ps->n_stores + 1, sizeof *x->store);
    x->wstore =
        calloc((size_t)nw * ((size_t)x->ps->n_stores + 1), sizeof *x->wstore);
    if (!x->rec || !x->raw || !x->store || !x->wstore) {
        goto oom;
    }
    if (x->ps->n_stores > 0) {
        rc = run_units_storing(x, d);
        goto done;
    }
    x->task0 = 0;
    alc_pool_run(x->pool, (x->n_chunks + CHUNK_RUN - 1) / CHUNK_RUN,
                 run_chunk_run, x);
    for (int u = 0; u < x->units->n_units; u++) {
        finish_unit(x, u);
    }
    rc = 0;
    goto done;
oom:
    alc_diag_errorf(d, "out of memory evaluating the allocation");
done:
    free(x->uc);
    free(x->chunks);
    free(x->rec);
    free(x->raw);
    free(x->store);
    free(x->wstore);
    x->uc = NULL;
    x->chunks = NULL;
    x->rec = x->raw = NULL;
    x->store = x->wstore = NULL;
    return rc;
}

/*
 * The per-column buffers of an evaluation (act as double, its logs) come
 * from a small process-wide pool and go back to it: fresh pages cost a
 * page fault each on first touch, milliseconds per evaluation on a
 * 7B-shaped unit set (more under a hypervisor), while a search evaluates
 * thousands of times. At most SCRATCH_KEEP blocks are kept (the largest),
 * so the memory held is bounded whatever the number of compiled programs.
 */
#define SCRATCH_KEEP 2
static struct {
    pthread_mutex_t mu;
    void *buf[SCRATCH_KEEP];
    size_t cap[SCRATCH_KEEP];
} scratch_pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *scratch_take(size_t bytes, size_t *cap)
{
    void *p = NULL;
    pthread_mutex_lock(&scratch_pool.mu);
    for (int i = 0; i < SCRATCH_KEEP; i++) {
        if (scratch_pool.buf[i] != NULL && scratch_pool.cap[i] >= bytes) {
            p = scratch_pool.buf[i];
            *cap = scratch_pool.cap[i];
            scratch_pool.buf[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&scratch_pool.mu);
    if (p == NULL) {
        p = malloc(bytes);
        *cap = bytes;
    }
    return p;
}

static void scratch_give(void *p, size_t cap)
{
    int slot = -1;
    pthread_mutex_lock(&scratch_pool.mu);
    for (int i = 0; i < SCRATCH_KEEP; i++) {
        if (scratch_pool.buf[i] == NULL) {
            slot = i;
            break;
        }
        if (scratch_pool.cap[i] < cap &&
            (slot < 0 || scratch_pool.cap[i] < scratch_pool.cap[slot])) {
            slot = i; /* replace the smallest kept block */
        }
    }
    if (slot >= 0) {
        void *old = scratch_pool.buf[slot];
        scratch_pool.buf[slot] = p;
        scratch_pool.cap[slot] = cap;
        p = old;
    }
    pthread_mutex_unlock(&scratch_pool.mu);
    free(p);
}

static void free_act(struct pass_run *x)
{
    if (x->scratch != NULL) {
        scratch_give(x->scratch, x->scratch_cap);
        x->scratch = NULL;
    }
    free(x->act);
    free(x->lact);
    x->act = x->lact = NULL;
}

/* log|act_j| of the float moments' matrices (BF16, alc_jit_fm_prepare's
 * column terms and the same matrices' slow blocks): the JIT's vector log
 * (jit_vmath.c, within ~1 ulp of libm's; 0.75 against 2.95 ns a column,
 * ~2 % of DSA's evaluation on bench_alloc's set; measured), compiled once
 * for the process. NULL when that failed: libm's then. */
static pthread_once_t act_log_once = PTHREAD_ONCE_INIT;
static alc_jit_vfn_ptr act_log;

static void act_log_init(void)
{
    struct alc_diag d;
    alc_diag_init(&d);
    struct alc_jit *vm = alc_jit_compile_vmath(&d); /* kept: process-wide */
    act_log = vm != NULL ? alc_jit_vmath(vm, ALC_VFN_LOG) : NULL;
    alc_diag_free(&d);
}

/* Fills matrix task's act vector as double and, when the code reads
 * them, its per-column logs (log|act_j| then log act_j; ops.c's log, the
 * interpreter's function, or act_log's), for the logs by table
 * (jit_codegen.c). */
static void fill_act(void *ctx, int64_t task, int worker)
{
    struct pass_run *x = ctx;
    int u = (int)(task / x->max_mats), m = (int)(task % x->max_mats);
    double (*lg)(double) = alc_op_table[ALC_OP_LOG].map1;
    double *a = x->act[task], *l = x->lact[task];
    (void)worker;
    if (a == NULL) {
        return;
    }
    const struct alc_mat_view *mv = &x->units->units[u].mats[m];
    int fm = x->j->reads_lact & ALC_CG_LACT_FM;
    if (l != NULL && fm && mv->dtype == ALC_DT_BF16 && mv->w != NULL) {
        /* K's sample is in DRAM: its lines arrive while the logs run */
        alc_jit_fm_prefetch_sample(mv->w, mv->rows * mv->cols);
    }
    for (int64_t c = 0; c < mv->cols; c++) {
        a[c] = (double)mv->act[c];
    }
    int64_t n = mv->cols, nv = 0; /* n: columns; nv: by the vector log */
    if (l != NULL && (x->j->reads_lact & ALC_CG_LACT_ABS || fm)) {
        for (int64_t c = 0; c < n; c++) {
            l[c] = fabs(a[c]);
        }
        if (fm && mv->dtype == ALC_DT_BF16 && act_log != NULL) {
            nv = n / 8 * 8;
            act_log(l, l, nv);
        }
        for (int64_t c = nv; c < n; c++) {
            l[c] = lg(l[c]);
        }
    }
    for (int64_t c = 0;
         l != NULL && (x->j->reads_lact & ALC_CG_LACT_SIGNED) && c < n; c++) {
        l[n + c] = lg(a[c]);
    }
    if (l != NULL && fm) {
        double *hdr = l + 2 * mv->cols;
        memset(hdr, 0, ALC_FM_HDR * sizeof *hdr);
        if (mv->dtype == ALC_DT_BF16 && mv->w != NULL) {
            alc_jit_fm_prepare(mv->w, mv->rows * mv->cols, l, a, mv->cols,
                               (x->j->reads_lact & ALC_CG_LACT_FM_POS) != 0,
                               x->j->fm_z0, hdr, (float *)(hdr + ALC_FM_HDR));
        }
    }
}

/* Each matrix's act vector as double (and its logs), when the program
 * reads act: allocated here, filled on the pool (libm's logs cost ~3 ns
 * per column here, the vector log's ~0.75; see act_log). */
static int widen_act(struct pass_run *x, struct alc_diag *d)
{
    const unsigned need = (1u << ALC_IN_WANDA) | (1u << ALC_IN_ACT);
    int need_act = 0;
    for (int k = 0; k < x->j->plan.n_passes; k++) {
        need_act |= (x->j->plan.passes[k].inputs & need) != 0;
    }
    for (int u = 0; u < x->units->n_units; u++) {
        int n = x->units->units[u].n_mats;
        x->max_mats = n > x->max_mats ? n : x->max_mats;
    }
    if (x->j->reads_lact & ALC_CG_LACT_FM) {
        pthread_once(&act_log_once, act_log_init);
    }
    size_t n_slots = (size_t)x->units->n_units * (size_t)x->max_mats;
    x->act = calloc(n_slots + 1, sizeof *x->act);
    x->lact = calloc(n_slots + 1, sizeof *x->lact);
    if (x->act == NULL || x->lact == NULL) {
        goto oom;
    }
    /* per column: act as double (8 bytes) and its two logs (16); each
     * array 64-byte aligned, all in one block (see scratch_take) */
    /* (and with the float moments: a header and the float column terms) */
    size_t per_col = 8 + (x->j->reads_lact ? 20 : 0), bytes = 64;
    for (int u = 0; u < x->units->n_units && need_act; u++) {
        const struct alc_unit_view *uv = &x->units->units[u];
        for (int m = 0; m < uv->n_mats; m++) {
            bytes +=
                (size_t)uv->mats[m].cols * per_col + 2 * 64 + ALC_FM_HDR * 8;
        }
    }
    x->scratch = scratch_take(bytes, &x->scratch_cap);
    if (x->scratch == NULL) {
        goto oom;
    }
    uintptr_t p = ((uintptr_t)x->scratch + 63) & ~(uintptr_t)63;
    for (int u = 0; u < x->units->n_units && need_act; u++) {
        const struct alc_unit_view *uv = &x->units->units[u];
        for (int m = 0; m < uv->n_mats; m++) {
            size_t am = (size_t)u * (size_t)x->max_mats + (size_t)m;
            size_t cols = (size_t)uv->mats[m].cols;
            x->act[am] = (double *)p;
            p = (p + cols * 8 + 63) & ~(uintptr_t)63;
            if (x->j->reads_lact) {
                x->lact[am] = (double *)p;
                p = (p + cols * 20 + ALC_FM_HDR * 8 + 63) & ~(uintptr_t)63;
            }
        }
    }
    alc_pool_run(x->pool, (int64_t)n_slots, fill_act, x);
    return 0;
oom:
    alc_diag_errorf(d, "out of memory evaluating the allocation");
    return -1;
}

int alc_jit_evaluate(struct alc_jit *j, const struct alc_units *units,
                     const struct alc_eval_opts *opts,
                     const struct alc_jit_eval *hooks, struct alc_eval_out *out,
                     struct alc_diag *d)
{
    static const struct alc_jit_eval no_hooks = {0};
    struct pass_run x = {
        .j = j, .units = units, .hooks = hooks != NULL ? hooks : &no_hooks};
    double t0 = alc_now();
    int rc = -1;
    if (units->n_units <= 0) {
        alc_diag_errorf(d, "no allocation units to evaluate");
        return -1;
    }
    double *env = malloc(
        (size_t)units->n_units * (size_t)j->ir.n_nodes * sizeof *env + 1);
    int nt = opts->n_threads > 0 ? opts->n_threads : alc_default_threads();
    x.pool = alc_pool_new(nt);
    if (env == NULL || x.pool == NULL) {
        alc_diag_errorf(d, "out of memory evaluating the allocation");
        goto done;
    }
    /* the executor checks again; act vectors must be known good before
     * they are widened */
    if (alc_plan_check_units(alc_ir_inputs_used(&j->ir), units, d) != 0) {
        goto done;
    }
    if (j->plan.n_passes > 0 && check_dtypes(j, units, d) != 0) {
        goto done;
    }
    if (j->plan.n_passes > 0 && widen_act(&x, d) != 0) {
        goto done;
    }
    rc = alc_plan_execute(&j->plan, &j->ir, units, opts, run_pass, &x, env, out,
                          d);
done:
    alc_pool_free(x.pool);
    free_act(&x);
    free(env);
    out->seconds = alc_now() - t0;
    return rc;
}

/* ---- Backend ops (backend.h) ---- */

static void *llvm_compile(const struct alc_ir *ir, struct alc_diag *d)
{
    return alc_jit_compile(ir, NULL, d);
}

static int llvm_evaluate(void *state, const struct alc_ir *ir,
                         const struct alc_units *units,
                         const struct alc_eval_opts *opts,
                         struct alc_eval_out *out, struct alc_diag *d)
{
    struct alc_eval_opts o = *opts;
    double *pv = NULL;
    int rc = -1;
    if (o.params == NULL && ir->n_params > 0) {
        /* the defaults of this IR, which may differ from the compiled
         * one's (same structure, other declared values) */
        pv = malloc((size_t)ir->n_params * sizeof *pv);
        if (pv == NULL) {
            alc_diag_errorf(d, "out of memory");
            return -1;
        }
        for (int i = 0; i < ir->n_params; i++) {
            pv[i] = ir->params[i].value;
        }
        o.params = pv;
    }
    rc = alc_jit_evaluate(state, units, &o, NULL, out, d);
    free(pv);
    return rc;
}

static void llvm_release(void *state)
{
    alc_jit_free(state);
}

const struct alc_backend_ops alc_backend_llvm = {
    .name = "llvm",
    .compile = llvm_compile,
    .evaluate = llvm_evaluate,
    .release = llvm_release,
};
