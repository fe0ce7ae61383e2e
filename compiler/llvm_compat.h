/*
 * llvm_compat.h: every LLVM call that depends on the LLVM version, pinned
 * to Debian's LLVM 16: ORC LLJIT (one per process, code owned by resource
 * trackers so releasing a compiled function frees its memory), thread-safe
 * contexts, the host target machine and the new-pass-manager pipeline. The
 * ORC C API changed in LLVM 21 (issue #155881); porting means editing this
 * file only. Called by jit_llvm.c; jit_codegen.c builds modules with the
 * stable Core.h API.
 */
#ifndef ALC_LLVM_COMPAT_H
#define ALC_LLVM_COMPAT_H

#include <stdint.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Orc.h>

#include "alc_common.h"

/* Consumes err (which may be NULL = success). On failure records
 * "<what>: <LLVM's message>" in d and returns -1; else 0. */
int alc_llvm_handle_error(LLVMErrorRef err, const char *what,
                          struct alc_diag *d);

/* A module under construction with its own thread-safe context (one per
 * compilation). */
struct alc_llvm_unit {
    LLVMOrcThreadSafeContextRef tsc; /* owned until added */
    LLVMContextRef ctx;              /* borrowed from tsc */
    LLVMModuleRef mod;               /* owned until added */
};

/* Creates the context and an empty module with the host triple and data
 * layout. */
int alc_llvm_unit_init(struct alc_llvm_unit *u, const char *name,
                       struct alc_diag *d);
/* Disposes whatever the unit still owns (safe after a successful add). */
void alc_llvm_unit_free(struct alc_llvm_unit *u);
/* Attributes every function needs for the host: target-cpu, features. */
void alc_llvm_set_host_attrs(LLVMContextRef ctx, LLVMValueRef fn);

/* Verifies the module, then runs our optimisation pipeline
 * (ALC_LLVM_PIPELINE in llvm_compat.c) for the host target machine. */
int alc_llvm_optimize(struct alc_llvm_unit *u, struct alc_diag *d);
/* Host assembly of the (optimised) module, for inspection. */
int alc_llvm_emit_asm(struct alc_llvm_unit *u, struct alc_sb *out,
                      struct alc_diag *d);

/*
 * Adds the module to the process-wide LLJIT under a fresh resource tracker
 * (*rt) and transfers the module and context to the JIT (u is left empty,
 * even on failure). Symbols of the process (libm) resolve automatically.
 */
int alc_llvm_add(struct alc_llvm_unit *u, LLVMOrcResourceTrackerRef *rt,
                 struct alc_diag *d);
/* Makes a function of this process callable from JIT'd code by name. */
int alc_llvm_define(const char *name, void *addr, struct alc_diag *d);
/* Address of a JIT'd function, compiling it on first lookup. */
int alc_llvm_lookup(const char *name, uint64_t *addr, struct alc_diag *d);
/* Frees the code and data of everything added under rt. */
void alc_llvm_remove(LLVMOrcResourceTrackerRef rt);

#endif /* ALC_LLVM_COMPAT_H */
