/*
 * backend_select.h: picking the backend from a --backend option, for the
 * runtime and the dsac commands that evaluate allocations. Built in every
 * configuration (with or without the GPU backend).
 *
 *   auto    cuda when a GPU is usable, else llvm
 *   cuda    the same (a missing GPU falls back to llvm with the note below)
 *   llvm    the LLVM JIT (CPU)
 *   interp  the reference interpreter
 *
 * When the GPU is asked for (auto, cuda) but not usable, the choice is llvm
 * and the first such call in the process records one warning in d:
 *   "no CUDA GPU found (libcuda.so.1: cannot open shared object file: ...);
 *    using the CPU backend"
 * (or "... the CUDA backend is not built into this binary ..."), so a
 * command prints it once however many programs it compiles.
 */
#ifndef ALC_BACKEND_SELECT_H
#define ALC_BACKEND_SELECT_H

#include "alloc.h"

/* Returns 0 and the backend in *be; -1 with an error for an unknown name. */
int alc_backend_select(const char *name, enum alc_backend *be,
                       struct alc_diag *d);

/* The names alc_backend_select accepts, for --help: "auto|llvm|cuda|interp".
 */
extern const char alc_backend_choices[];

#endif /* ALC_BACKEND_SELECT_H */
