/*
 * search_mpi.h: `dsac search` across MPI ranks (search_mpi.c). Rank 0
 * runs the search and hands tasks to ranks 1 .. N-1 (the MPI executor);
 * every other rank opens its own worker (session) and runs the tasks it
 * receives until rank 0 tells it to stop. Without MPI in the build
 * (ALC_HAVE_MPI 0) these report that MPI is unavailable, and dsac runs
 * searches in one process.
 */
#ifndef ALC_SEARCH_MPI_H
#define ALC_SEARCH_MPI_H

#include "search.h"

/* dsac was started by an MPI launcher (mpirun / mpiexec / srun). */
int search_mpi_launched(void);

/* MPI_Init; rank and size of MPI_COMM_WORLD. */
int search_mpi_init(int *rank, int *size, struct alc_diag *d);

/* A worker rank: opens a worker for f, reports to rank 0, runs tasks
 * until told to stop, finalizes MPI. Returns the process exit status. */
int search_mpi_worker(const struct alc_search_fitness *f);

/* Rank 0: an executor over ranks 1 .. size-1, after every worker opened
 * (their first error is returned in d). desc and dense: the first
 * worker's model description and dense perplexity. */
int search_mpi_exec(struct alc_search_exec *ex, int size,
                    struct alc_sb *desc, double *dense, struct alc_diag *d);

/* Rank 0, at the end (also after an error): stops the worker ranks that
 * still run and finalizes MPI. */
void search_mpi_finish(int size);

#endif /* ALC_SEARCH_MPI_H */
