/*
 * cuda_emu.h: a struct alc_cuda_dev (compiler/cuda_internal.h) in host
 * memory, for the tests that run the GPU backend without a GPU. Device
 * memory is 256-byte aligned host memory; a module is the emitted CUDA
 * source compiled by g++ against tests/cuda_emu_shim.h into a shared object
 * and dlopen'ed; a launch runs the kernel's blocks with the shim's fiber
 * scheduler. So everything of the backend except the driver calls and the
 * device's compiler and math library runs as it would on a GPU: tiles,
 * mirror, kernels' indexing, block reductions, combine order, host stages.
 */
#ifndef ALC_CUDA_EMU_H
#define ALC_CUDA_EMU_H

#include <dlfcn.h>

#include "alc_test.h"
#include "cuda_internal.h"

typedef int (*emu_launch_fn)(void (*fn)(void *), void *ctx, unsigned grid,
                             unsigned block, char *err, size_t errlen);
typedef void (*emu_kernel_fn)(struct alc_cuda_args a);

struct emu_mod;

struct emu_fn {
    emu_kernel_fn k;
    struct emu_mod *m;
};

struct emu_mod {
    void *h;
    emu_launch_fn launch;
    struct emu_fn fns[256];
    int n_fns;
};

struct emu_state {
    char *dir;     /* build directory of the modules */
    int n_modules; /* compiled so far */
    double compile_seconds;
    double t0; /* time_begin */
    const char *cxxflags;
};

static int emu_alloc(struct alc_cuda_dev *dev, uint64_t *ptr, size_t n,
                     struct alc_diag *d)
{
    (void)dev;
    void *p = aligned_alloc(256, (n + 255) / 256 * 256 + 256);
    if (p == NULL) {
        alc_diag_errorf(d, "emu: out of memory (%zu bytes)", n);
        return -1;
    }
    /* poison, so a kernel that reads what nobody wrote gives NaN */
    memset(p, 0xff, (n + 255) / 256 * 256 + 256);
    *ptr = (uint64_t)(uintptr_t)p;
    return 0;
}

static void emu_free(struct alc_cuda_dev *dev, uint64_t ptr)
{
    (void)dev;
    free((void *)(uintptr_t)ptr);
}

static int emu_htod(struct alc_cuda_dev *dev, uint64_t dst, const void *src,
                    size_t n, struct alc_diag *d)
{
    (void)dev;
    (void)d;
    memcpy((void *)(uintptr_t)dst, src, n);
    return 0;
}

static int emu_dtoh(struct alc_cuda_dev *dev, void *dst, uint64_t src, size_t n,
                    struct alc_diag *d)
{
    (void)dev;
    (void)d;
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return 0;
}

static int emu_dtod(struct alc_cuda_dev *dev, uint64_t dst, uint64_t src,
                    size_t n, struct alc_diag *d)
{
    (void)dev;
    (void)d;
    memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return 0;
}

/* Compiles src with g++ and the shim into a shared object; loads it. */
static int emu_module_load(struct alc_cuda_dev *dev,
                           const struct alc_cuda_image *img, void **mod,
                           struct alc_diag *d)
{
    struct emu_state *st = dev->impl;
    char src[4096], so[4096], log[4096], cmd[16384];
    struct alc_diag wd;
    int k = st->n_modules++;
    snprintf(src, sizeof src, "%s/mod%d.cu", st->dir, k);
    snprintf(so, sizeof so, "%s/mod%d.so", st->dir, k);
    snprintf(log, sizeof log, "%s/mod%d.log", st->dir, k);
    alc_diag_init(&wd);
    if (alc_write_file_atomic(src, img->src, strlen(img->src), &wd) != 0) {
        alc_diag_errorf(d, "emu: %s", alc_diag_text(&wd));
        alc_diag_free(&wd);
        return -1;
    }
    alc_diag_free(&wd);
    snprintf(cmd, sizeof cmd,
             "g++ -std=c++17 %s -ffp-contract=off -fno-fast-math -fPIC "
             "-shared -w -include '%s/tests/cuda_emu_shim.h' -x c++ '%s' "
             "-o '%s' > '%s' 2>&1",
             st->cxxflags != NULL ? st->cxxflags : "-O1", ALC_SOURCE_DIR, src,
             so, log);
    double t0 = alc_now();
    int rc = system(cmd);
    st->compile_seconds += alc_now() - t0;
    if (rc != 0) {
        char *text = NULL;
        size_t len = 0;
        alc_read_file(log, &text, &len, &wd);
        alc_diag_errorf(d, "emu: g++ failed on %s:\n%s", src, text ? text : "");
        free(text);
        return -1;
    }
    struct emu_mod *m = calloc(1, sizeof *m);
    m->h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (m->h == NULL) {
        alc_diag_errorf(d, "emu: %s", dlerror());
        free(m);
        return -1;
    }
    *(void **)&m->launch = dlsym(m->h, "alc_emu_launch");
    *mod = m;
    return 0;
}

static void emu_module_unload(struct alc_cuda_dev *dev, void *mod)
{
    struct emu_mod *m = mod;
    (void)dev;
    if (m != NULL) {
        dlclose(m->h);
        free(m);
    }
}

static int emu_function(struct alc_cuda_dev *dev, void *mod, const char *name,
                        void **fn, struct alc_diag *d)
{
    struct emu_mod *m = mod;
    (void)dev;
    void *f = dlsym(m->h, name);
    if (f == NULL || m->n_fns == 256) {
        alc_diag_errorf(d, "emu: no kernel %s", name);
        return -1;
    }
    struct emu_fn *e = &m->fns[m->n_fns++];
    *(void **)&e->k = f;
    e->m = m;
    *fn = e;
    return 0;
}

struct emu_call {
    emu_kernel_fn k;
    struct alc_cuda_args a;
};

static void emu_call_kernel(void *ctx)
{
    struct emu_call *c = ctx;
    c->k(c->a);
}

static int emu_launch(struct alc_cuda_dev *dev, void *fn, unsigned grid,
                      unsigned block, const struct alc_cuda_args *args,
                      struct alc_diag *d)
{
    struct emu_fn *e = fn;
    struct emu_call c = {e->k, *args};
    char err[512];
    (void)dev;
    if (e->m->launch(emu_call_kernel, &c, grid, block, err, sizeof err) != 0) {
        alc_diag_errorf(d, "emu launch: %s", err);
        return -1;
    }
    return 0;
}

static int emu_nop(struct alc_cuda_dev *dev, struct alc_diag *d)
{
    (void)dev;
    (void)d;
    return 0;
}

static int emu_time_begin(struct alc_cuda_dev *dev, struct alc_diag *d)
{
    (void)d;
    ((struct emu_state *)dev->impl)->t0 = alc_now();
    return 0;
}

static int emu_time_end(struct alc_cuda_dev *dev, double *sec,
                        struct alc_diag *d)
{
    (void)d;
    *sec = alc_now() - ((struct emu_state *)dev->impl)->t0;
    return 0;
}

static const struct alc_cuda_dev_ops emu_ops = {
    .mem_alloc = emu_alloc,
    .mem_free = emu_free,
    .htod = emu_htod,
    .dtoh = emu_dtoh,
    .module_load = emu_module_load,
    .module_unload = emu_module_unload,
    .function = emu_function,
    .launch = emu_launch,
    .sync = emu_nop,
    .bind = emu_nop,
    .time_begin = emu_time_begin,
    .time_end = emu_time_end,
    .dtod = emu_dtod,
};

/* An emulated device with blocks of `threads` and at most max_grid blocks
 * per launch (small, so blocks loop over several tiles). */
static inline void emu_dev_init(struct alc_cuda_dev *dev, struct emu_state *st,
                                const char *name, int threads, int max_grid)
{
    memset(dev, 0, sizeof *dev);
    memset(st, 0, sizeof *st);
    st->dir = alc_test_tmpdir(name);
    dev->ops = &emu_ops;
    dev->impl = st;
    snprintf(dev->info.name, sizeof dev->info.name, "host emulator");
    dev->info.sm_count = 1;
    dev->want = ALC_CUDA_WANT_NONE;
    dev->threads = threads;
    dev->max_grid = max_grid;
}

#endif /* ALC_CUDA_EMU_H */
