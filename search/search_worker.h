/*
 * search_worker.h: the worker's inside (search_worker.c) and its model
 * part on the pruning session (search_session.c). Not for other users.
 */
#ifndef ALC_SEARCH_WORKER_H
#define ALC_SEARCH_WORKER_H

#include "alloc.h"
#include "search.h"

struct syn;
struct search_session;

struct alc_search_worker {
    struct alc_search_fitness f;
    enum alc_backend be;
    struct syn *syn;             /* synthetic units, or NULL */
    struct search_session *ses;  /* the model's session, or NULL */
    double dense_ppl;            /* NaN until measured */
};

/* The class of a ratio vector: NAN when a ratio is NaN, RANGE when one is
 * outside [0, 1), else NONE. */
enum alc_reject alc_search_ratio_reject(const double *ratio, int n);

/* The model part (search_session.c). */
int alc_search_session_open(struct alc_search_worker *w, struct alc_diag *d);
void alc_search_session_close(struct alc_search_worker *w);
int alc_search_session_alloc(struct alc_search_worker *w,
                             struct alc_compiled *c,
                             struct alc_task_result *r, struct alc_diag *d);
int alc_search_session_eval(struct alc_search_worker *w,
                            const struct alc_task *t,
                            struct alc_task_result *r, struct alc_diag *d);
int alc_search_session_units(const struct alc_search_worker *w);
const char *alc_search_session_unit_name(const struct alc_search_worker *w,
                                         int u);
void alc_search_session_describe(const struct alc_search_worker *w,
                                 struct alc_sb *out);

#endif /* ALC_SEARCH_WORKER_H */
