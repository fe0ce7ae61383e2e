/*
 * llvm_compat.c: the version-sensitive LLVM calls (llvm_compat.h), written
 * against Debian's LLVM 16 C API after LLVM's OrcV2CBindingsBasicUsage.c:
 * one LLJIT per process created on first use, a DynamicLibrarySearch
 * generator so JIT'd code can call libm, a ThreadSafeContext per
 * compilation, LLVMRunPasses with our pipeline and the host target
 * machine, absolute symbols for the C helpers JIT'd code calls.
 */
#include <pthread.h>
#include <stdlib.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "llvm_compat.h"

/*
 * The optimisation pipeline. The generated code is already explicit
 * <8 x double> loops, so what it needs is promotion of the accumulators to
 * registers, common-subexpression elimination, combining and loop-invariant
 * hoisting. default<O3> produced no faster kernels (OWL and DSA, BF16,
 * within 2% on one thread) but unswitches and unrolls the loops, doubling
 * code size and compile time. No pass here changes floating-point results (no
 * fast-math flags are ever set).
 */
#define ALC_LLVM_PIPELINE                                                      \
    "function(sroa,early-cse,instcombine,simplifycfg,loop-mssa(licm),gvn,"     \
    "instcombine,simplifycfg)"

#if LLVM_VERSION_MAJOR != 16
#error "llvm_compat.c is written for LLVM 16 (Debian 12); port it first"
#endif

/* ---- Errors ---- */

int alc_llvm_handle_error(LLVMErrorRef err, const char *what,
                          struct alc_diag *d)
{
    if (err == NULL) {
        return 0;
    }
    char *msg = LLVMGetErrorMessage(err); /* consumes err */
    alc_diag_errorf(d, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return -1;
}

/* ---- Process-wide JIT ---- */

static struct {
    pthread_once_t once;
    int ok;
    char err[600];
    char *triple;   /* LLVMGetDefaultTargetTriple, kept for the process */
    char *cpu;      /* LLVMGetHostCPUName */
    char *features; /* LLVMGetHostCPUFeatures */
    LLVMTargetMachineRef tm; /* for optimisation and asm; guarded by mu */
    pthread_mutex_t mu;
    LLVMOrcLLJITRef jit;
} g = {PTHREAD_ONCE_INIT,         0,   "", NULL, NULL, NULL, NULL,
       PTHREAD_MUTEX_INITIALIZER, NULL};

/* Records an initialisation failure (err may be NULL) in g.err. */
static void set_init_error(const char *what, LLVMErrorRef err)
{
    struct alc_diag d;
    alc_diag_init(&d);
    if (err == NULL) {
        alc_diag_errorf(&d, "%s", what);
    } else {
        alc_llvm_handle_error(err, what, &d);
    }
    snprintf(g.err, sizeof g.err, "%s", d.first);
    alc_diag_free(&d);
}

static int create_tm(void)
{
    LLVMTargetRef target = NULL;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(g.triple, &target, &msg) != 0) {
        snprintf(g.err, sizeof g.err, "LLVM target %s: %s", g.triple,
                 msg ? msg : "unknown");
        LLVMDisposeMessage(msg);
        return -1;
    }
    g.tm = LLVMCreateTargetMachine(target, g.triple, g.cpu, g.features,
                                   LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                   LLVMCodeModelJITDefault);
    if (g.tm == NULL) {
        set_init_error("cannot create the host target machine", NULL);
        return -1;
    }
    return 0;
}

static int create_jit(void)
{
    LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
    LLVMOrcLLJITBuilderRef builder = NULL;
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    LLVMErrorRef err = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb);
    if (err != NULL) {
        set_init_error("detecting the host for the JIT", err);
        return -1;
    }
    builder = LLVMOrcCreateLLJITBuilder();
    /* The builder takes ownership of jtmb. */
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    /* LLVMOrcCreateLLJIT takes ownership of the builder, even on error. */
    err = LLVMOrcCreateLLJIT(&g.jit, builder);
    if (err != NULL) {
        set_init_error("creating the LLJIT", err);
        return -1;
    }
    err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(g.jit), NULL, NULL);
    if (err != NULL) {
        set_init_error("process symbol generator", err);
        return -1;
    }
    /* The JITDylib takes ownership of gen. */
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(g.jit), gen);
    return 0;
}

static void init_once(void)
{
    if (LLVMInitializeNativeTarget() != 0 ||
        LLVMInitializeNativeAsmPrinter() != 0) {
        set_init_error("LLVM has no native target for this machine", NULL);
        return;
    }
    g.triple = LLVMGetDefaultTargetTriple();
    g.cpu = LLVMGetHostCPUName();
    g.features = LLVMGetHostCPUFeatures();
    if (create_tm() != 0 || create_jit() != 0) {
        return;
    }
    g.ok = 1;
}

static int ensure_init(struct alc_diag *d)
{
    pthread_once(&g.once, init_once);
    if (!g.ok) {
        alc_diag_errorf(d, "LLVM JIT unavailable: %s", g.err);
        return -1;
    }
    return 0;
}

int alc_llvm_define(const char *name, void *addr, struct alc_diag *d)
{
    if (ensure_init(d) != 0) {
        return -1;
    }
    LLVMOrcCSymbolMapPair pair = {
        LLVMOrcLLJITMangleAndIntern(g.jit, name),
        {(LLVMOrcExecutorAddress)(uintptr_t)addr,
         {LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable,
          0}}};
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(&pair, 1);
    LLVMErrorRef err =
        LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(g.jit), mu);
    if (err != NULL) {
        /* on failure the unit is still ours */
        LLVMOrcDisposeMaterializationUnit(mu);
    }
    return alc_llvm_handle_error(err, name, d);
}

/* ---- Modules ---- */

int alc_llvm_unit_init(struct alc_llvm_unit *u, const char *name,
                       struct alc_diag *d)
{
    memset(u, 0, sizeof *u);
    if (ensure_init(d) != 0) {
        return -1;
    }
    u->tsc = LLVMOrcCreateNewThreadSafeContext();
    u->ctx = LLVMOrcThreadSafeContextGetContext(u->tsc);
    u->mod = LLVMModuleCreateWithNameInContext(name, u->ctx);
    LLVMSetTarget(u->mod, g.triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(g.tm);
    LLVMSetModuleDataLayout(u->mod, td);
    LLVMDisposeTargetData(td);
    return 0;
}

void alc_llvm_unit_free(struct alc_llvm_unit *u)
{
    if (u->mod != NULL) {
        LLVMDisposeModule(u->mod);
    }
    if (u->tsc != NULL) {
        LLVMOrcDisposeThreadSafeContext(u->tsc);
    }
    memset(u, 0, sizeof *u);
}

void alc_llvm_set_host_attrs(LLVMContextRef ctx, LLVMValueRef fn)
{
    static const char k_cpu[] = "target-cpu";
    static const char k_feat[] = "target-features";
    LLVMAttributeRef a = LLVMCreateStringAttribute(
        ctx, k_cpu, sizeof k_cpu - 1, g.cpu, (unsigned)strlen(g.cpu));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
    a = LLVMCreateStringAttribute(ctx, k_feat, sizeof k_feat - 1, g.features,
                                  (unsigned)strlen(g.features));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

int alc_llvm_optimize(struct alc_llvm_unit *u, struct alc_diag *d)
{
    char *msg = NULL;
    if (LLVMVerifyModule(u->mod, LLVMReturnStatusAction, &msg) != 0) {
        alc_diag_errorf(d,
                        "generated LLVM IR is invalid (a compiler bug): "
                        "%s",
                        msg ? msg : "");
        LLVMDisposeMessage(msg);
        return -1;
    }
    LLVMDisposeMessage(msg);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    pthread_mutex_lock(&g.mu);
    LLVMErrorRef err = LLVMRunPasses(u->mod, ALC_LLVM_PIPELINE, g.tm, po);
    pthread_mutex_unlock(&g.mu);
    LLVMDisposePassBuilderOptions(po);
    return alc_llvm_handle_error(err, "LLVM optimisation", d);
}

int alc_llvm_emit_asm(struct alc_llvm_unit *u, struct alc_sb *out,
                      struct alc_diag *d)
{
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    pthread_mutex_lock(&g.mu);
    LLVMBool bad = LLVMTargetMachineEmitToMemoryBuffer(
        g.tm, u->mod, LLVMAssemblyFile, &msg, &buf);
    pthread_mutex_unlock(&g.mu);
    if (bad) {
        alc_diag_errorf(d, "emitting assembly: %s", msg ? msg : "");
        LLVMDisposeMessage(msg);
        return -1;
    }
    alc_sb_append(out, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
    LLVMDisposeMemoryBuffer(buf);
    return 0;
}

/* ---- JIT ---- */

int alc_llvm_add(struct alc_llvm_unit *u, LLVMOrcResourceTrackerRef *rt,
                 struct alc_diag *d)
{
    LLVMOrcJITDylibRef jd = NULL;
    LLVMOrcThreadSafeModuleRef tsm = NULL;
    *rt = NULL;
    if (ensure_init(d) != 0) {
        alc_llvm_unit_free(u);
        return -1;
    }
    /* The TSM takes the module and shares the context; our reference to
     * the context can go at once (OrcV2CBindingsBasicUsage does the same). */
    tsm = LLVMOrcCreateNewThreadSafeModule(u->mod, u->tsc);
    LLVMOrcDisposeThreadSafeContext(u->tsc);
    u->mod = NULL;
    u->tsc = NULL;
    u->ctx = NULL;
    jd = LLVMOrcLLJITGetMainJITDylib(g.jit);
    *rt = LLVMOrcJITDylibCreateResourceTracker(jd);
    LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModuleWithRT(g.jit, *rt, tsm);
    if (err != NULL) {
        /* If adding fails we must dispose of the TSM ourselves; if it
         * succeeds the JIT owns it. */
        LLVMOrcDisposeThreadSafeModule(tsm);
        LLVMOrcReleaseResourceTracker(*rt);
        *rt = NULL;
        return alc_llvm_handle_error(err, "adding the module to the JIT", d);
    }
    return 0;
}

int alc_llvm_lookup(const char *name, uint64_t *addr, struct alc_diag *d)
{
    LLVMOrcExecutorAddress a = 0;
    if (ensure_init(d) != 0) {
        return -1;
    }
    LLVMErrorRef err = LLVMOrcLLJITLookup(g.jit, &a, name);
    if (alc_llvm_handle_error(err, name, d) != 0) {
        return -1;
    }
    *addr = (uint64_t)a;
    return 0;
}

void alc_llvm_remove(LLVMOrcResourceTrackerRef rt)
{
    if (rt == NULL) {
        return;
    }
    struct alc_diag d;
    alc_diag_init(&d);
    /* A failure leaves the code allocated; there is no one to tell. */
    alc_llvm_handle_error(LLVMOrcResourceTrackerRemove(rt), "remove", &d);
    alc_diag_free(&d);
    LLVMOrcReleaseResourceTracker(rt);
}
