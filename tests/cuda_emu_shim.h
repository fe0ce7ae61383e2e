/*
 * cuda_emu_shim.h: runs emitted CUDA C on the host. tests/cuda_emu.h
 * compiles the backend's source unchanged with
 *     g++ -std=c++17 -O1 -ffp-contract=off -fno-fast-math -fPIC -shared
 *         -include tests/cuda_emu_shim.h -x c++ SRC -o MOD.so
 * This header supplies the CUDA built-ins the source uses, and a block
 * scheduler: the threads of a block are cooperative fibers (a six-register
 * stack switch on x86-64, ucontext elsewhere), run
 * in thread order until each blocks at __syncthreads() or inside a warp
 * shuffle; a barrier releases when every thread (or, for a shuffle, every
 * lane of the warp) has arrived. Blocks run one after another, so
 * `__shared__` can be a function-static. Misuse the hardware would not
 * forgive is reported instead of hanging: a __syncthreads() that not every
 * thread reaches, a shuffle without all 32 lanes, a partial mask.
 *
 * Math is glibc's (log, exp, ... exactly the interpreter's), so results
 * differ from the interpreter only by the order of summation; the GPU's
 * own functions are within 2 ulp of these. What the emulation cannot show:
 * the device's math library, memory-model effects beyond the barriers, and
 * performance.
 */
#ifndef ALC_CUDA_EMU_SHIM_H
#define ALC_CUDA_EMU_SHIM_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ucontext.h>

using std::isinf;
using std::isnan;
using std::isfinite;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __constant__

struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

struct alignas(16) float4 {
    float x, y, z, w;
};

struct alignas(16) double2 {
    double x, y;
};

struct alc_emu_dim3 {
    unsigned x, y, z;
};

/* Cache hints are plain loads here. */
template <class T> static inline T __ldg(const T *p)
{
    return *p;
}

template <class T> static inline T __ldcs(const T *p)
{
    return *p;
}

static inline float __uint_as_float(unsigned u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

static inline double __longlong_as_double(long long u)
{
    double f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

static inline long long __double_as_longlong(double f)
{
    long long u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- The scheduler ---- */

namespace alc_emu {

enum state { RUN, AT_BLOCK, AT_WARP, DONE };

/* ---- Context switching ---- */

#if defined(__x86_64__)
/* Saves the callee-saved registers on the current stack, stores the stack
 * pointer in *save and continues on the stack `to` (System V ABI). */
extern "C" __attribute__((visibility("hidden"))) void
alc_emu_switch(void **save, void *to);
__asm__(".text\n"
        ".hidden alc_emu_switch\n"
        ".type alc_emu_switch, @function\n"
        "alc_emu_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size alc_emu_switch, .-alc_emu_switch\n");

struct fiber {
    void *sp;
    int state;
};

static void *sched_sp;

static void to_fiber(fiber *f)
{
    alc_emu_switch(&sched_sp, f->sp);
}

static void to_sched(fiber *f)
{
    alc_emu_switch(&f->sp, sched_sp);
}

/* A fresh stack whose first switch "returns" into start(): six zero
 * registers, start's address, and a slot keeping the ABI alignment. */
static void fiber_make(fiber *f, char *stack, size_t size, void (*start)())
{
    uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;
    *--sp = (void *)start;
    for (int i = 0; i < 6; i++) {
        *--sp = nullptr;
    }
    f->sp = sp;
}
#else
struct fiber {
    ucontext_t uc;
    int state;
};

static ucontext_t sched_uc;

static void to_fiber(fiber *f)
{
    swapcontext(&sched_uc, &f->uc);
}

static void to_sched(fiber *f)
{
    swapcontext(&f->uc, &sched_uc);
}

static void fiber_make(fiber *f, char *stack, size_t size, void (*start)())
{
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = stack;
    f->uc.uc_stack.ss_size = size;
    f->uc.uc_link = nullptr;
    makecontext(&f->uc, start, 0);
}
#endif

/* ---- Blocks ---- */

static const size_t stack_size = 256 * 1024;
static fiber fibers[1024];
static char *stacks;          /* 1024 * stack_size, allocated once */
static unsigned cur, block_dim, block_idx, grid_dim;
static double warp_buf[32][32];
static void (*entry)(void *);
static void *entry_ctx;
static char error[256];

static void fail(const char *what)
{
    if (error[0] == '\0') {
        std::snprintf(error, sizeof error, "block %u thread %u: %s",
                      block_idx, cur, what);
    }
}

static void yield(int st)
{
    fibers[cur].state = st;
    to_sched(&fibers[cur]);
}

/* A thread: the kernel, then back to the scheduler for good. */
static void fiber_main()
{
    entry(entry_ctx);
    for (;;) {
        yield(DONE);
    }
}

/* Releases warps whose 32 lanes all wait in a shuffle. */
static int release_warps()
{
    int any = 0;
    for (unsigned w = 0; w < block_dim / 32; w++) {
        unsigned at = 0;
        for (unsigned l = 0; l < 32; l++) {
            at += fibers[w * 32 + l].state == AT_WARP;
        }
        if (at == 32) {
            for (unsigned l = 0; l < 32; l++) {
                fibers[w * 32 + l].state = RUN;
            }
            any = 1;
        }
    }
    return any;
}

/* Releases a __syncthreads() every thread reached; 1 when done. */
static int release_block(int *progress)
{
    unsigned bar = 0, done = 0;
    for (unsigned t = 0; t < block_dim; t++) {
        bar += fibers[t].state == AT_BLOCK;
        done += fibers[t].state == DONE;
    }
    if (done == block_dim) {
        return 1;
    }
    if (bar == block_dim) {
        for (unsigned t = 0; t < block_dim; t++) {
            fibers[t].state = RUN;
        }
        *progress = 1;
        return 0;
    }
    fail(done > 0 ? "__syncthreads() not reached by every thread"
                  : "deadlock: a warp shuffle without all its lanes");
    return 1;
}

static int run_block()
{
    for (unsigned t = 0; t < block_dim; t++) {
        fiber_make(&fibers[t], stacks + t * stack_size, stack_size,
                   fiber_main);
        fibers[t].state = RUN;
    }
    for (;;) {
        for (unsigned t = 0; t < block_dim; t++) {
            if (fibers[t].state == RUN) {
                cur = t;
                to_fiber(&fibers[t]);
            }
        }
        int progress = release_warps();
        if (progress) {
            continue;
        }
        if (release_block(&progress) || !progress) {
            break;
        }
    }
    return error[0] == '\0' ? 0 : -1;
}

} /* namespace alc_emu */

/* The stacks go with the module (dlclose). */
__attribute__((destructor)) static void alc_emu_free_stacks()
{
    std::free(alc_emu::stacks);
    alc_emu::stacks = nullptr;
}

#define threadIdx (alc_emu_dim3{alc_emu::cur, 0, 0})
#define blockIdx (alc_emu_dim3{alc_emu::block_idx, 0, 0})
#define blockDim (alc_emu_dim3{alc_emu::block_dim, 1, 1})
#define gridDim (alc_emu_dim3{alc_emu::grid_dim, 1, 1})

static inline void __syncthreads()
{
    alc_emu::yield(alc_emu::AT_BLOCK);
}

static inline double __shfl_down_sync(unsigned mask, double v, int o)
{
    unsigned lane = alc_emu::cur & 31, w = alc_emu::cur >> 5;
    if (mask != 0xffffffffu) {
        alc_emu::fail("partial shuffle mask");
    }
    alc_emu::warp_buf[w][lane] = v;
    alc_emu::yield(alc_emu::AT_WARP);
    double r = lane + (unsigned)o < 32 ? alc_emu::warp_buf[w][lane + o] : v;
    alc_emu::yield(alc_emu::AT_WARP); /* everyone has read before reuse */
    return r;
}

/*
 * Runs entry(ctx) as a grid of `grid` blocks of `block` threads. Returns 0,
 * or -1 with the reason in err.
 */
extern "C" int alc_emu_launch(void (*fn)(void *), void *ctx, unsigned grid,
                              unsigned block, char *err, size_t errlen)
{
    if (block % 32 != 0 || block == 0 || block > 1024 || grid == 0) {
        std::snprintf(err, errlen, "bad launch %u x %u", grid, block);
        return -1;
    }
    if (alc_emu::stacks == nullptr) {
        alc_emu::stacks = (char *)std::malloc(1024 * alc_emu::stack_size);
        if (alc_emu::stacks == nullptr) {
            std::snprintf(err, errlen, "out of memory for fiber stacks");
            return -1;
        }
    }
    alc_emu::error[0] = '\0';
    alc_emu::entry = fn;
    alc_emu::entry_ctx = ctx;
    alc_emu::block_dim = block;
    alc_emu::grid_dim = grid;
    for (unsigned b = 0; b < grid; b++) {
        alc_emu::block_idx = b;
        if (alc_emu::run_block() != 0) {
            std::snprintf(err, errlen, "%s", alc_emu::error);
            return -1;
        }
    }
    return 0;
}

#endif /* ALC_CUDA_EMU_SHIM_H */
