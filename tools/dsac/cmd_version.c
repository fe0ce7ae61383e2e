/*
 * cmd_version.c: `dsac version` prints the version and what this binary was
 * built with (LLVM version, whether the GPU backend and MPI are compiled in).
 */
#include <stdio.h>

#include "cli.h"

int cmd_version(int argc, char **argv);

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("dsac %s\n", ALC_VERSION);
    printf("  LLVM:  %s\n", ALC_LLVM_VERSION);
    printf("  CUDA:  %s\n", ALC_HAVE_CUDA ? "NVRTC backend compiled in"
                                          : "not compiled in");
    printf("  MPI:   %s\n", ALC_HAVE_MPI ? "yes" : "no");
    return CLI_OK;
}
