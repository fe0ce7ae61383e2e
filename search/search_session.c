/*
 * search_session.c: the search worker's model part. Placeholder until the
 * pruning session (runtime/session.h, branch rt2) is merged.
 */
#include "search_worker.h"

int alc_search_session_open(struct alc_search_worker *w, struct alc_diag *d)
{
    (void)w;
    alc_diag_errorf(d, "search: model fitness needs runtime/session.h");
    return -1;
}

void alc_search_session_close(struct alc_search_worker *w)
{
    (void)w;
}

int alc_search_session_alloc(struct alc_search_worker *w,
                             struct alc_compiled *c,
                             struct alc_task_result *r, struct alc_diag *d)
{
    (void)w;
    (void)c;
    (void)r;
    alc_diag_errorf(d, "search: no session");
    return -1;
}

int alc_search_session_eval(struct alc_search_worker *w,
                            const struct alc_task *t,
                            struct alc_task_result *r, struct alc_diag *d)
{
    (void)w;
    (void)t;
    (void)r;
    alc_diag_errorf(d, "search: no session");
    return -1;
}

int alc_search_session_units(const struct alc_search_worker *w)
{
    (void)w;
    return 0;
}

const char *alc_search_session_unit_name(const struct alc_search_worker *w,
                                         int u)
{
    (void)w;
    (void)u;
    return "?";
}

void alc_search_session_describe(const struct alc_search_worker *w,
                                 struct alc_sb *out)
{
    (void)w;
    alc_sb_puts(out, "?");
}

