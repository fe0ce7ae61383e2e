/*
 * backend_select.c: alc_backend_select (backend_select.h). The GPU is
 * probed through alc_cuda_available (cuda_backend.c) when the GPU backend
 * is built (ALC_WITH_CUDA), which opens libcuda.so.1 once per process.
 */
#include <stdatomic.h>
#include <string.h>

#include "backend_select.h"

#ifdef ALC_WITH_CUDA
#include "alc_cuda.h"
#endif

const char alc_backend_choices[] = "auto|llvm|cuda|interp";

/* 1 once the fallback note has been given. */
static atomic_int noted;

/* Whether the GPU backend can run; the reason in why when not. */
static int gpu_usable(struct alc_diag *why)
{
#ifdef ALC_WITH_CUDA
    return alc_cuda_available(why) == 0;
#else
    alc_diag_errorf(why, "the CUDA backend is not built into this binary "
                         "(NVRTC was not found when it was configured)");
    return 0;
#endif
}

/* why->first is "error: no CUDA GPU found (...)": keep what follows
 * "error: ". */
static const char *reason(const struct alc_diag *why)
{
    const char *s = why->first;
    return strncmp(s, "error: ", 7) == 0 ? s + 7 : s;
}

static void pick_gpu(enum alc_backend *be, struct alc_diag *d)
{
    struct alc_diag why;
    alc_diag_init(&why);
    if (gpu_usable(&why)) {
        *be = ALC_BE_CUDA;
    } else {
        *be = ALC_BE_LLVM;
        if (atomic_exchange(&noted, 1) == 0) {
            alc_diag_warnf(d, "%s; using the CPU backend", reason(&why));
        }
    }
    alc_diag_free(&why);
}

int alc_backend_select(const char *name, enum alc_backend *be,
                       struct alc_diag *d)
{
    if (strcmp(name, "auto") == 0 || strcmp(name, "cuda") == 0) {
        pick_gpu(be, d);
        return 0;
    }
    if (strcmp(name, "llvm") == 0) {
        *be = ALC_BE_LLVM;
        return 0;
    }
    if (strcmp(name, "interp") == 0) {
        *be = ALC_BE_INTERP;
        return 0;
    }
    alc_diag_errorf(d, "unknown backend '%s' (%s)", name, alc_backend_choices);
    return -1;
}
