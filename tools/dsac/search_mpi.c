/*
 * search_mpi.c: the MPI executor of `dsac search` (search_mpi.h). Built
 * with ALC_HAVE_MPI=1 when CMake found MPI (cmake/Dependencies.cmake);
 * otherwise only the stubs at the end.
 *
 * Messages (MPI_COMM_WORLD, byte buffers):
 *   worker -> 0  TAG_READY   f64 dense ppl, then the model description
 *                TAG_ERROR   an error text (setup or task), then the
 *                            worker waits for TAG_STOP
 *                TAG_RESULT  alc_task_result_pack
 *   0 -> worker  TAG_TASK    alc_task_pack
 *                TAG_STOP    empty: finalize and exit
 * Slot k of the executor is rank k + 1. Results are filed under their
 * candidate id, so the order they arrive in never matters.
 */
#include <stdlib.h>

#include "search_mpi.h"

int search_mpi_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
                                       "PMIX_RANK", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (getenv(vars[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

#if ALC_HAVE_MPI

#include <mpi.h>

enum { TAG_READY = 1, TAG_ERROR, TAG_RESULT, TAG_TASK, TAG_STOP };

static int stopped; /* rank 0 sent TAG_STOP already */

int search_mpi_init(int *rank, int *size, struct alc_diag *d)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        alc_diag_errorf(d, "search: MPI_Init failed");
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

static void send_sb(const struct alc_sb *sb, int dest, int tag)
{
    MPI_Send(sb->s != NULL ? sb->s : "", (int)sb->len, MPI_BYTE, dest, tag,
             MPI_COMM_WORLD);
}

/* Receives the next message from src (MPI_ANY_SOURCE ok) into a
 * malloc'd buffer; *n its length, *from and *tag its origin. */
static char *recv_any(int src, int *n, int *from, int *tag)
{
    MPI_Status st;
    MPI_Probe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_BYTE, n);
    char *buf = malloc((size_t)*n + 1);
    if (buf == NULL) {
        return NULL;
    }
    MPI_Recv(buf, *n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    buf[*n] = '\0';
    *from = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    return buf;
}

static void send_error(const struct alc_diag *d)
{
    struct alc_sb sb;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    alc_sb_init(&sb);
    alc_sb_printf(&sb, "rank %d: %s", rank,
                  d->n_err > 0 ? alc_diag_text(d) : "worker failed\n");
    send_sb(&sb, 0, TAG_ERROR);
    alc_sb_free(&sb);
}

static void wait_stop(void)
{
    for (;;) {
        int n = 0, from = 0, tag = 0;
        char *buf = recv_any(0, &n, &from, &tag);
        free(buf);
        if (tag == TAG_STOP || buf == NULL) {
            return;
        }
    }
}

static void send_ready(struct alc_search_worker *w)
{
    struct alc_sb sb;
    double dense = alc_search_worker_dense_ppl(w);
    alc_sb_init(&sb);
    alc_sb_append(&sb, (const char *)&dense, sizeof dense);
    alc_search_worker_describe(w, &sb);
    send_sb(&sb, 0, TAG_READY);
    alc_sb_free(&sb);
}

/* One task message: run it and answer (0), or report an error (-1). */
static int serve(struct alc_search_worker *w, const char *buf, int n)
{
    struct alc_task t;
    struct alc_task_result r;
    struct alc_diag d;
    struct alc_sb out;
    double *store = NULL;
    int rc = -1;
    alc_diag_init(&d);
    alc_sb_init(&out);
    memset(&r, 0, sizeof r);
    if (alc_task_unpack(buf, (size_t)n, &t, &store) != 0) {
        alc_diag_errorf(&d, "search: malformed task message");
    } else if (alc_search_worker_run(w, &t, &r, &d) == 0) {
        alc_task_result_pack(&r, &out);
        send_sb(&out, 0, TAG_RESULT);
        rc = 0;
    }
    if (rc != 0) {
        send_error(&d);
    }
    alc_task_result_free(&r);
    free(store);
    alc_sb_free(&out);
    alc_diag_free(&d);
    return rc;
}

int search_mpi_worker(const struct alc_search_fitness *f)
{
    struct alc_search_worker *w = NULL;
    struct alc_diag d;
    struct alc_search_fitness wf = *f;
    int rc = 1;
    int rank = 0;
    alc_diag_init(&d);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    wf.progress = 0;
    wf.dense = wf.dense && rank == 1; /* rank 0 shows rank 1's */
    if (alc_search_worker_open(&w, &wf, &d) != 0) {
        send_error(&d);
        wait_stop();
        goto done;
    }
    send_ready(w);
    for (;;) {
        int n = 0, from = 0, tag = 0;
        char *buf = recv_any(0, &n, &from, &tag);
        if (buf == NULL || tag == TAG_STOP) {
            free(buf);
            rc = buf == NULL;
            break;
        }
        int bad = serve(w, buf, n);
        free(buf);
        if (bad != 0) {
            wait_stop();
            break;
        }
    }
done:
    alc_search_worker_close(w);
    alc_diag_free(&d);
    MPI_Finalize();
    return rc;
}

/* ---- Rank 0: the executor ---- */

struct mpi_exec {
    int size;
};

static int mpi_submit(void *ctx, int slot, const struct alc_task *t,
                      struct alc_diag *d)
{
    struct mpi_exec *ex = ctx;
    struct alc_sb sb;
    if (slot < 0 || slot >= ex->size - 1) {
        alc_diag_errorf(d, "search: no rank for slot %d", slot);
        return -1;
    }
    alc_sb_init(&sb);
    alc_task_pack(t, &sb);
    send_sb(&sb, slot + 1, TAG_TASK);
    alc_sb_free(&sb);
    return 0;
}

static int mpi_wait(void *ctx, int *slot, struct alc_task_result *r,
                    struct alc_diag *d)
{
    int n = 0, from = 0, tag = 0, rc = -1;
    (void)ctx;
    char *buf = recv_any(MPI_ANY_SOURCE, &n, &from, &tag);
    if (buf == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    *slot = from - 1;
    if (tag == TAG_RESULT && alc_task_result_unpack(buf, (size_t)n, r) == 0) {
        rc = 0;
    } else if (tag == TAG_ERROR) {
        alc_diag_raw(d, 1, buf);
    } else {
        alc_diag_errorf(d, "search: unexpected message (tag %d) from rank "
                           "%d", tag, from);
    }
    free(buf);
    return rc;
}

static void mpi_close(void *ctx)
{
    free(ctx);
}

/* Waits for every worker's READY (or its error). */
static int gather_ready(int size, struct alc_sb *desc, double *dense,
                        struct alc_diag *d)
{
    int rc = 0;
    for (int k = 1; k < size; k++) {
        int n = 0, from = 0, tag = 0;
        char *buf = recv_any(MPI_ANY_SOURCE, &n, &from, &tag);
        if (buf == NULL) {
            alc_diag_errorf(d, "out of memory");
            return -1;
        }
        if (tag == TAG_READY && n >= (int)sizeof(double)) {
            if (from == 1) {
                memcpy(dense, buf, sizeof *dense);
                alc_sb_puts(desc, buf + sizeof(double));
            }
        } else {
            if (rc == 0) {
                alc_diag_raw(d, 1, tag == TAG_ERROR ? buf : "bad message\n");
            }
            rc = -1;
        }
        free(buf);
    }
    return rc;
}

int search_mpi_exec(struct alc_search_exec *ex, int size,
                    struct alc_sb *desc, double *dense, struct alc_diag *d)
{
    struct mpi_exec *m = calloc(1, sizeof *m);
    memset(ex, 0, sizeof *ex);
    if (m == NULL) {
        alc_diag_errorf(d, "out of memory");
        return -1;
    }
    m->size = size;
    if (gather_ready(size, desc, dense, d) != 0) {
        free(m);
        return -1;
    }
    ex->ctx = m;
    ex->n_slots = size - 1;
    ex->submit = mpi_submit;
    ex->wait = mpi_wait;
    ex->close = mpi_close;
    return 0;
}

void search_mpi_finish(int size)
{
    if (!stopped) {
        for (int k = 1; k < size; k++) {
            MPI_Send("", 0, MPI_BYTE, k, TAG_STOP, MPI_COMM_WORLD);
        }
        stopped = 1;
    }
    MPI_Finalize();
}

#else /* !ALC_HAVE_MPI */

int search_mpi_init(int *rank, int *size, struct alc_diag *d)
{
    *rank = 0;
    *size = 1;
    alc_diag_errorf(d, "search: this dsac was built without MPI; install "
                       "Open MPI (libopenmpi-dev) and rebuild, or run "
                       "without mpirun");
    return -1;
}

int search_mpi_worker(const struct alc_search_fitness *f)
{
    (void)f;
    return 1;
}

int search_mpi_exec(struct alc_search_exec *ex, int size,
                    struct alc_sb *desc, double *dense, struct alc_diag *d)
{
    (void)ex;
    (void)size;
    (void)desc;
    (void)dense;
    alc_diag_errorf(d, "search: built without MPI");
    return -1;
}

void search_mpi_finish(int size)
{
    (void)size;
}

#endif
