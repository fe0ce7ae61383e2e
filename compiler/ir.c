/*
 * ir.c: building the lowered DAG with hash-consing, level computation,
 * reachability, the structural hash that keys compiled-code caches, and the
 * text dump behind `dsac emit --target ir`.
 */
#include <math.h>
#include <stdlib.h>

#include "ir.h"

void alc_ir_init(struct alc_ir *ir)
{
    memset(ir, 0, sizeof *ir);
    ir->sparsity = -1;
    ir->score = -1;
}

void alc_ir_free(struct alc_ir *ir)
{
    for (int i = 0; i < ir->n_params; i++) {
        free(ir->params[i].name);
    }
    free(ir->params);
    free(ir->nodes);
    free(ir->table);
    free(ir->file);
    alc_ir_init(ir);
}

/* ---- Hash-consing ---- */

static uint64_t node_key(const struct alc_ir_node *n)
{
    uint64_t h = alc_hash_mix((uint64_t)n->op, (uint64_t)n->nargs);
    for (int i = 0; i < n->nargs; i++) {
        h = alc_hash_mix(h, (uint64_t)(uint32_t)n->arg[i]);
    }
    switch (n->op) {
    case ALC_OP_CONST:
        h = alc_hash_double(h, n->u.k);
        break;
    case ALC_OP_INPUT:
        h = alc_hash_mix(h, (uint64_t)n->u.input);
        break;
    case ALC_OP_PARAM:
        h = alc_hash_mix(h, (uint64_t)n->u.param);
        break;
    default:
        break;
    }
    return h;
}

static int node_equal(const struct alc_ir_node *a, const struct alc_ir_node *b)
{
    if (a->op != b->op || a->nargs != b->nargs) {
        return 0;
    }
    for (int i = 0; i < a->nargs; i++) {
        if (a->arg[i] != b->arg[i]) {
            return 0;
        }
    }
    switch (a->op) {
    case ALC_OP_CONST:
        return memcmp(&a->u.k, &b->u.k, sizeof a->u.k) == 0;
    case ALC_OP_INPUT:
        return a->u.input == b->u.input;
    case ALC_OP_PARAM:
        return a->u.param == b->u.param;
    default:
        return 1;
    }
}

static int table_grow(struct alc_ir *ir)
{
    int cap = ir->table_cap ? ir->table_cap * 2 : 64;
    int32_t *t = malloc((size_t)cap * sizeof *t);
    if (t == NULL) {
        return -1;
    }
    for (int i = 0; i < cap; i++) {
        t[i] = -1;
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        uint64_t h = node_key(&ir->nodes[i]);
        int slot = (int)(h & (uint64_t)(cap - 1));
        while (t[slot] >= 0) {
            slot = (slot + 1) & (cap - 1);
        }
        t[slot] = i;
    }
    free(ir->table);
    ir->table = t;
    ir->table_cap = cap;
    return 0;
}

static int intern(struct alc_ir *ir, const struct alc_ir_node *n)
{
    if ((ir->n_nodes + 1) * 2 > ir->table_cap && table_grow(ir) != 0) {
        return -1;
    }
    uint64_t h = node_key(n);
    int slot = (int)(h & (uint64_t)(ir->table_cap - 1));
    while (ir->table[slot] >= 0) {
        if (node_equal(&ir->nodes[ir->table[slot]], n)) {
            return ir->table[slot];
        }
        slot = (slot + 1) & (ir->table_cap - 1);
    }
    if (ir->n_nodes == ir->cap_nodes) {
        int cap = ir->cap_nodes ? ir->cap_nodes * 2 : 64;
        struct alc_ir_node *nn = realloc(ir->nodes, (size_t)cap * sizeof *nn);
        if (nn == NULL) {
            return -1;
        }
        ir->nodes = nn;
        ir->cap_nodes = cap;
    }
    ir->nodes[ir->n_nodes] = *n;
    ir->table[slot] = ir->n_nodes;
    return ir->n_nodes++;
}

/* ---- Node constructors ---- */

int alc_ir_const(struct alc_ir *ir, double k, struct alc_span sp)
{
    struct alc_ir_node n = {.op = ALC_OP_CONST, .level = ALC_LV_MODEL,
                            .span = sp};
    n.u.k = k;
    return intern(ir, &n);
}

int alc_ir_input(struct alc_ir *ir, enum alc_input in, struct alc_span sp)
{
    if ((int)in < 0 || in >= ALC_IN_COUNT) {
        return -1;
    }
    struct alc_ir_node n = {.op = ALC_OP_INPUT,
                            .level = alc_input_table[in].level, .span = sp};
    n.u.input = (int)in;
    return intern(ir, &n);
}

int alc_ir_param(struct alc_ir *ir, int param, struct alc_span sp)
{
    if (param < 0 || param >= ir->n_params) {
        return -1;
    }
    struct alc_ir_node n = {.op = ALC_OP_PARAM, .level = ALC_LV_MODEL,
                            .span = sp};
    n.u.param = param;
    return intern(ir, &n);
}

/* Level of op applied to operands args, or -1 if ill-levelled. */
static int result_level(const struct alc_ir *ir, enum alc_op op, int nargs,
                        const int *args)
{
    const struct alc_op_info *o = &alc_op_table[op];
    if (nargs != o->nargs) {
        return -1;
    }
    for (int i = 0; i < nargs; i++) {
        if (args[i] < 0 || args[i] >= ir->n_nodes) {
            return -1;
        }
    }
    switch (o->kind) {
    case ALC_OPK_MAP: {
        int lv = ALC_LV_MODEL;
        for (int i = 0; i < nargs; i++) {
            int l = (int)ir->nodes[args[i]].level;
            lv = l < lv ? l : lv;
        }
        return lv;
    }
    case ALC_OPK_REDUCE: {
        int l0 = (int)ir->nodes[args[0]].level;
        if (l0 == ALC_LV_MODEL) {
            return -1;
        }
        for (int i = 1; i < nargs; i++) {
            if (ir->nodes[args[i]].level != ALC_LV_MODEL) {
                return -1;
            }
        }
        return l0 + 1;
    }
    case ALC_OPK_ACROSS:
        return ir->nodes[args[0]].level == ALC_LV_LAYER ? ALC_LV_LAYER : -1;
    default:
        return -1;
    }
}

int alc_ir_op(struct alc_ir *ir, enum alc_op op, int nargs, const int *args,
              struct alc_span sp)
{
    if ((int)op < 0 || op >= ALC_OP_COUNT || nargs > 3) {
        return -1;
    }
    int lv = result_level(ir, op, nargs, args);
    if (lv < 0) {
        return -1;
    }
    struct alc_ir_node n = {.op = op, .level = (enum alc_level)lv,
                            .nargs = nargs, .span = sp};
    for (int i = 0; i < nargs; i++) {
        n.arg[i] = args[i];
    }
    return intern(ir, &n);
}

int alc_ir_add_param(struct alc_ir *ir, const char *name, double value,
                     double lo, double hi, struct alc_span sp)
{
    struct alc_ir_param *p =
        realloc(ir->params, (size_t)(ir->n_params + 1) * sizeof *p);
    if (p == NULL) {
        return -1;
    }
    ir->params = p;
    p = &ir->params[ir->n_params];
    p->name = strdup(name);
    p->value = value;
    p->lo = lo;
    p->hi = hi;
    p->span = sp;
    return ir->n_params++;
}

int alc_ir_param_find(const struct alc_ir *ir, const char *name)
{
    for (int i = 0; i < ir->n_params; i++) {
        if (strcmp(ir->params[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- Analyses ---- */

int alc_ir_strip_sign(const struct alc_ir *ir, int x)
{
    while (ir->nodes[x].level == ALC_LV_ELEM &&
           (ir->nodes[x].op == ALC_OP_ABS || ir->nodes[x].op == ALC_OP_NEG)) {
        x = ir->nodes[x].arg[0];
    }
    return x;
}

int alc_ir_wanda_zero_test(const struct alc_ir *ir, int c)
{
    const struct alc_ir_node *n = &ir->nodes[c];
    if (n->level != ALC_LV_ELEM || (n->op != ALC_OP_EQ && n->op != ALC_OP_NE)) {
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        const struct alc_ir_node *z = &ir->nodes[n->arg[1 - k]];
        const struct alc_ir_node *y =
            &ir->nodes[alc_ir_strip_sign(ir, n->arg[k])];
        if (z->op == ALC_OP_CONST && z->u.k == 0.0 && y->op == ALC_OP_INPUT &&
            y->level == ALC_LV_ELEM && y->u.input == ALC_IN_WANDA) {
            return n->op == ALC_OP_EQ;
        }
    }
    return -1;
}

void alc_ir_reachable(const struct alc_ir *ir, unsigned char *mark)
{
    memset(mark, 0, (size_t)ir->n_nodes);
    if (ir->sparsity >= 0) {
        mark[ir->sparsity] = 1;
    }
    if (ir->score >= 0) {
        mark[ir->score] = 1;
    }
    for (int i = ir->n_nodes - 1; i >= 0; i--) {
        if (!mark[i]) {
            continue;
        }
        for (int a = 0; a < ir->nodes[i].nargs; a++) {
            mark[ir->nodes[i].arg[a]] = 1;
        }
    }
}

unsigned alc_ir_inputs_used(const struct alc_ir *ir)
{
    unsigned used = 0;
    unsigned char *mark = malloc((size_t)ir->n_nodes + 1);
    if (mark == NULL) {
        return ~0u;
    }
    alc_ir_reachable(ir, mark);
    for (int i = 0; i < ir->n_nodes; i++) {
        if (mark[i] && ir->nodes[i].op == ALC_OP_INPUT) {
            used |= 1u << ir->nodes[i].u.input;
        }
    }
    free(mark);
    return used;
}

uint64_t alc_ir_hash(const struct alc_ir *ir)
{
    /* Renumber the reachable nodes densely so unreachable leftovers from
     * lowering do not change the hash. */
    int *id = malloc(((size_t)ir->n_nodes + 1) * sizeof *id);
    unsigned char *mark = malloc((size_t)ir->n_nodes + 1);
    uint64_t h = 0x616c6c6f63ull; /* "alloc" */
    if (id == NULL || mark == NULL) {
        free(id);
        free(mark);
        return 0;
    }
    alc_ir_reachable(ir, mark);
    int next = 0;
    for (int i = 0; i < ir->n_nodes; i++) {
        const struct alc_ir_node *n = &ir->nodes[i];
        if (!mark[i]) {
            continue;
        }
        id[i] = next++;
        h = alc_hash_mix(h, ((uint64_t)n->op << 8) | (uint64_t)n->level);
        for (int a = 0; a < n->nargs; a++) {
            h = alc_hash_mix(h, (uint64_t)id[n->arg[a]]);
        }
        if (n->op == ALC_OP_CONST) {
            h = alc_hash_double(h, n->u.k);
        } else if (n->op == ALC_OP_INPUT) {
            h = alc_hash_mix(h, (uint64_t)n->u.input);
        } else if (n->op == ALC_OP_PARAM) {
            h = alc_hash_mix(h, (uint64_t)n->u.param);
        }
    }
    h = alc_hash_mix(h, (uint64_t)(ir->sparsity >= 0 ? id[ir->sparsity] : -1));
    h = alc_hash_mix(h, (uint64_t)(ir->score >= 0 ? id[ir->score] : -1));
    h = alc_hash_mix(h, (uint64_t)ir->n_params);
    free(id);
    free(mark);
    return h;
}

void alc_ir_dump(const struct alc_ir *ir, struct alc_sb *out)
{
    static const char lv[ALC_LV_COUNT] = {'E', 'L', 'M'};
    for (int i = 0; i < ir->n_params; i++) {
        alc_sb_printf(out, "param %d %s = %.17g in [%.17g, %.17g]\n", i,
                      ir->params[i].name, ir->params[i].value,
                      ir->params[i].lo, ir->params[i].hi);
    }
    for (int i = 0; i < ir->n_nodes; i++) {
        const struct alc_ir_node *n = &ir->nodes[i];
        alc_sb_printf(out, "%%%d %c ", i, lv[n->level]);
        switch (n->op) {
        case ALC_OP_CONST:
            alc_sb_printf(out, "const %.17g", n->u.k);
            break;
        case ALC_OP_INPUT:
            alc_sb_printf(out, "input %s",
                          alc_input_table[n->u.input].name
                              ? alc_input_table[n->u.input].name
                              : alc_input_table[n->u.input].def);
            break;
        case ALC_OP_PARAM:
            alc_sb_printf(out, "param %s", ir->params[n->u.param].name);
            break;
        default:
            alc_sb_puts(out, n->op == ALC_OP_NEG ? "neg"
                                                 : alc_op_table[n->op].name);
            for (int a = 0; a < n->nargs; a++) {
                alc_sb_printf(out, " %%%d", n->arg[a]);
            }
            break;
        }
        alc_sb_printf(out, "  @%d:%d\n", n->span.line, n->span.col);
    }
    alc_sb_printf(out, "sparsity = %%%d\n", ir->sparsity);
    if (ir->score >= 0) {
        alc_sb_printf(out, "score = %%%d\n", ir->score);
    }
}

/* ---- Compaction (backend.h) ---- */

#include "backend.h"

int alc_ir_compact(const struct alc_ir *src, struct alc_ir *dst)
{
    int rc = -1;
    int *id = malloc(((size_t)src->n_nodes + 1) * sizeof *id);
    unsigned char *mark = malloc((size_t)src->n_nodes + 1);
    alc_ir_init(dst);
    if (id == NULL || mark == NULL) {
        goto done;
    }
    for (int i = 0; i < src->n_params; i++) {
        const struct alc_ir_param *p = &src->params[i];
        if (alc_ir_add_param(dst, p->name, p->value, p->lo, p->hi, p->span) <
            0) {
            goto done;
        }
    }
    alc_ir_reachable(src, mark);
    for (int i = 0; i < src->n_nodes; i++) {
        const struct alc_ir_node *n = &src->nodes[i];
        int args[3] = {-1, -1, -1};
        id[i] = -1;
        if (!mark[i]) {
            continue;
        }
        for (int a = 0; a < n->nargs; a++) {
            args[a] = id[n->arg[a]];
        }
        switch (n->op) {
        case ALC_OP_CONST:
            id[i] = alc_ir_const(dst, n->u.k, n->span);
            break;
        case ALC_OP_INPUT:
            id[i] = alc_ir_input(dst, (enum alc_input)n->u.input, n->span);
            break;
        case ALC_OP_PARAM:
            id[i] = alc_ir_param(dst, n->u.param, n->span);
            break;
        default:
            id[i] = alc_ir_op(dst, n->op, n->nargs, args, n->span);
            break;
        }
        if (id[i] < 0) {
            goto done;
        }
    }
    dst->sparsity = src->sparsity >= 0 ? id[src->sparsity] : -1;
    dst->score = src->score >= 0 ? id[src->score] : -1;
    dst->file = src->file ? strdup(src->file) : NULL;
    rc = 0;
done:
    free(id);
    free(mark);
    if (rc != 0) {
        alc_ir_free(dst);
    }
    return rc;
}
