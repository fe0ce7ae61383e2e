/*
 * cmd_version.c: `dsac version` prints the version and what this binary was
 * built with (LLVM version, whether the GPU backend and MPI are compiled in).
 */
#include <stdio.h>

#include "cli.h"
#if ALC_HAVE_CUDA
#include "alc_cuda.h"
#endif

int cmd_version(int argc, char **argv);

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("dsac %s\n", ALC_VERSION);
    printf("  LLVM:  %s\n", ALC_LLVM_VERSION);
    printf("  CUDA:  %s\n", ALC_HAVE_CUDA ? "NVRTC backend compiled in"
                                          : "not compiled in");
#if ALC_HAVE_CUDA
    struct alc_sb gpu;
    alc_sb_init(&gpu);
    alc_cuda_describe(&gpu);
    printf("  GPU:   %s\n", alc_sb_str(&gpu));
    alc_sb_free(&gpu);
#endif
    printf("  MPI:   %s\n", ALC_HAVE_MPI ? "yes" : "no");
    return CLI_OK;
}
