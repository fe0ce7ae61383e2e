/*
 * cuda_driver.c: the CUDA driver API, loaded with dlopen("libcuda.so.1") at
 * first use, behind struct alc_cuda_dev (cuda_internal.h). The binary never
 * links libcuda, so it builds and runs on machines without a driver; then
 * alc_cuda_available() says "no CUDA GPU found (...)" and the runtime uses
 * the CPU backend (backend_select.h).
 *
 * Entry points are resolved by their versioned names (cuMemAlloc_v2, ...),
 * the ones <cuda.h> maps the plain names to; cuEventElapsedTime_v2 (CUDA
 * 12.8+) falls back to cuEventElapsedTime for older drivers. Every call is
 * checked and a failure names the call and the driver's error name and
 * string. One device (0; CUDA_VISIBLE_DEVICES picks another), its primary
 * context, the default stream. ALC_CUDA_DRIVER=PATH loads another driver
 * library (the tests use the toolkit's stub, whose cuInit always fails).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>

#include "cuda_internal.h"

/* ---- Entry points ---- */

struct cu_api {
    CUresult (*Init)(unsigned);
    CUresult (*DriverGetVersion)(int *);
    CUresult (*GetErrorName)(CUresult, const char **);
    CUresult (*GetErrorString)(CUresult, const char **);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*DeviceGetAttribute)(int *, CUdevice_attribute, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxSynchronize)(void);
    CUresult (*MemGetInfo)(size_t *, size_t *);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
    CUresult (*EventCreate)(CUevent *, unsigned);
    CUresult (*EventRecord)(CUevent, CUstream);
    CUresult (*EventSynchronize)(CUevent);
    CUresult (*EventElapsedTime)(float *, CUevent, CUevent);
    CUresult (*EventDestroy)(CUevent);
};

struct sym {
    const char *name;     /* versioned name */
    const char *fallback; /* older name, or NULL */
    size_t off;
};

#define SYM(f, n, fb)                                                          \
    {                                                                          \
        n, fb, offsetof(struct cu_api, f)                                      \
    }
static const struct sym syms[] = {
    SYM(Init, "cuInit", NULL),
    SYM(DriverGetVersion, "cuDriverGetVersion", NULL),
    SYM(GetErrorName, "cuGetErrorName", NULL),
    SYM(GetErrorString, "cuGetErrorString", NULL),
    SYM(DeviceGetCount, "cuDeviceGetCount", NULL),
    SYM(DeviceGet, "cuDeviceGet", NULL),
    SYM(DeviceGetName, "cuDeviceGetName", NULL),
    SYM(DeviceGetAttribute, "cuDeviceGetAttribute", NULL),
    SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", NULL),
    SYM(CtxSetCurrent, "cuCtxSetCurrent", NULL),
    SYM(CtxSynchronize, "cuCtxSynchronize", NULL),
    SYM(MemGetInfo, "cuMemGetInfo_v2", NULL),
    SYM(MemAlloc, "cuMemAlloc_v2", NULL),
    SYM(MemFree, "cuMemFree_v2", NULL),
    SYM(MemcpyHtoD, "cuMemcpyHtoD_v2", NULL),
    SYM(MemcpyDtoH, "cuMemcpyDtoH_v2", NULL),
    SYM(MemcpyDtoD, "cuMemcpyDtoD_v2", NULL),
    SYM(ModuleLoadData, "cuModuleLoadData", NULL),
    SYM(ModuleUnload, "cuModuleUnload", NULL),
    SYM(ModuleGetFunction, "cuModuleGetFunction", NULL),
    SYM(LaunchKernel, "cuLaunchKernel", NULL),
    SYM(EventCreate, "cuEventCreate", NULL),
    SYM(EventRecord, "cuEventRecord", NULL),
    SYM(EventSynchronize, "cuEventSynchronize", NULL),
    SYM(EventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime"),
    SYM(EventDestroy, "cuEventDestroy_v2", NULL),
};
#undef SYM

#define N_SYMS (sizeof syms / sizeof syms[0])

/* Resolves every entry point of handle h into api; names the missing one. */
static int resolve(void *h, struct cu_api *api, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SYMS; i++) {
        void *f = dlsym(h, syms[i].name);
        if (f == NULL && syms[i].fallback != NULL) {
            f = dlsym(h, syms[i].fallback);
        }
        if (f == NULL) {
            snprintf(err, errlen, "no symbol %s (driver too old?)",
                     syms[i].name);
            return -1;
        }
        memcpy((char *)api + syms[i].off, &f, sizeof f);
    }
    return 0;
}

int alc_cuda_driver_check_symbols(const char *path, struct alc_diag *d)
{
    struct cu_api a;
    char err[256];
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        alc_diag_errorf(d, "%s", dlerror());
        return -1;
    }
    int rc = resolve(h, &a, err, sizeof err);
    if (rc != 0) {
        alc_diag_errorf(d, "%s: %s", path, err);
    }
    dlclose(h);
    return rc;
}

/* ---- The device ---- */

struct drv {
    struct cu_api api;
    CUdevice dev;
    CUcontext ctx;
    CUevent ev[2]; /* timing: start, stop */
};

static const struct alc_cuda_dev_ops driver_ops;
static struct drv drv;
static struct alc_cuda_dev the_dev;
static int dev_ok;
static char dev_err[512];
static pthread_once_t dev_once = PTHREAD_ONCE_INIT;

/* Names of the errors met while opening a device, for drivers (the
 * toolkit's stub) whose cuGetErrorName does not answer. */
static const char *fallback_name(CUresult r)
{
    switch (r) {
    case CUDA_ERROR_NOT_INITIALIZED:
        return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_NO_DEVICE:
        return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_STUB_LIBRARY:
        return "CUDA_ERROR_STUB_LIBRARY: the toolkit's stub, not a driver";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
        return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    default:
        return "CUDA error";
    }
}

/* "CUDA_ERROR_X (n): text" for r. */
static void cu_text(CUresult r, char *buf, size_t n)
{
    const char *name = NULL, *str = NULL;
    if (drv.api.GetErrorName == NULL ||
        drv.api.GetErrorName(r, &name) != CUDA_SUCCESS || name == NULL) {
        name = fallback_name(r);
    }
    if (drv.api.GetErrorString == NULL ||
        drv.api.GetErrorString(r, &str) != CUDA_SUCCESS || str == NULL) {
        snprintf(buf, n, "%s (%d)", name, (int)r);
        return;
    }
    snprintf(buf, n, "%s (%d): %s", name, (int)r, str);
}

static int cu_check(CUresult r, const char *call, struct alc_diag *d)
{
    char buf[384];
    if (r == CUDA_SUCCESS) {
        return 0;
    }
    cu_text(r, buf, sizeof buf);
    alc_diag_errorf(d, "%s: %s", call, buf);
    return -1;
}

/* Records why no GPU is usable (called once, during opening). */
static int open_fail(CUresult r, const char *call)
{
    char buf[384];
    cu_text(r, buf, sizeof buf);
    snprintf(dev_err, sizeof dev_err, "%s: %s", call, buf);
    return -1;
}

static int attr(CUdevice_attribute a, int *v)
{
    return drv.api.DeviceGetAttribute(v, a, drv.dev) == CUDA_SUCCESS ? 0 : -1;
}

static int open_device(void)
{
    struct cu_api *a = &drv.api;
    struct alc_cuda_info *in = &the_dev.info;
    int n = 0;
    CUresult r = a->Init(0);
    if (r != CUDA_SUCCESS) {
        return open_fail(r, "cuInit");
    }
    if ((r = a->DeviceGetCount(&n)) != CUDA_SUCCESS) {
        return open_fail(r, "cuDeviceGetCount");
    }
    if (n < 1) {
        snprintf(dev_err, sizeof dev_err, "cuDeviceGetCount: 0 devices");
        return -1;
    }
    if ((r = a->DeviceGet(&drv.dev, 0)) != CUDA_SUCCESS) {
        return open_fail(r, "cuDeviceGet");
    }
    if ((r = a->DevicePrimaryCtxRetain(&drv.ctx, drv.dev)) != CUDA_SUCCESS) {
        return open_fail(r, "cuDevicePrimaryCtxRetain");
    }
    if ((r = a->CtxSetCurrent(drv.ctx)) != CUDA_SUCCESS) {
        return open_fail(r, "cuCtxSetCurrent");
    }
    if (a->DeviceGetName(in->name, (int)sizeof in->name, drv.dev) !=
            CUDA_SUCCESS ||
        attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &in->cc_major) ||
        attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &in->cc_minor) ||
        attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &in->sm_count)) {
        snprintf(dev_err, sizeof dev_err, "cuDeviceGetAttribute failed");
        return -1;
    }
    a->DriverGetVersion(&in->driver_version);
    a->MemGetInfo(&in->mem_free, &in->mem_total);
    if ((r = a->EventCreate(&drv.ev[0], CU_EVENT_DEFAULT)) != CUDA_SUCCESS ||
        (r = a->EventCreate(&drv.ev[1], CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
        return open_fail(r, "cuEventCreate");
    }
    return 0;
}

static void load_driver(void)
{
    char err[256];
    const char *lib = getenv("ALC_CUDA_DRIVER");
    if (lib == NULL || lib[0] == '\0') {
        lib = "libcuda.so.1";
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(dev_err, sizeof dev_err, "%s", dlerror());
        return;
    }
    if (resolve(h, &drv.api, err, sizeof err) != 0) {
        snprintf(dev_err, sizeof dev_err, "%s: %s", lib, err);
        return;
    }
    if (open_device() != 0) {
        return;
    }
    the_dev.ops = &driver_ops;
    the_dev.impl = &drv;
    the_dev.want = ALC_CUDA_WANT_CUBIN;
    the_dev.threads = ALC_CUDA_THREADS;
    the_dev.max_grid = the_dev.info.sm_count * 8;
    dev_ok = 1;
}

struct alc_cuda_dev *alc_cuda_driver_dev(struct alc_diag *d)
{
    pthread_once(&dev_once, load_driver);
    if (!dev_ok) {
        alc_diag_errorf(d, "no CUDA GPU found (%s)", dev_err);
        return NULL;
    }
    return &the_dev;
}

/* ---- Operations ---- */

static struct cu_api *A(struct alc_cuda_dev *dev)
{
    return &((struct drv *)dev->impl)->api;
}

static int d_alloc(struct alc_cuda_dev *dev, uint64_t *ptr, size_t n,
                   struct alc_diag *d)
{
    CUdeviceptr p = 0;
    CUresult r = A(dev)->MemAlloc(&p, n > 0 ? n : 1);
    if (cu_check(r, "cuMemAlloc_v2", d) != 0) {
        return -1;
    }
    *ptr = (uint64_t)p;
    return 0;
}

static void d_free(struct alc_cuda_dev *dev, uint64_t ptr)
{
    if (ptr != 0) {
        A(dev)->MemFree((CUdeviceptr)ptr);
    }
}

static int d_htod(struct alc_cuda_dev *dev, uint64_t dst, const void *src,
                  size_t n, struct alc_diag *d)
{
    return cu_check(A(dev)->MemcpyHtoD((CUdeviceptr)dst, src, n),
                    "cuMemcpyHtoD_v2", d);
}

static int d_dtoh(struct alc_cuda_dev *dev, void *dst, uint64_t src, size_t n,
                  struct alc_diag *d)
{
    return cu_check(A(dev)->MemcpyDtoH(dst, (CUdeviceptr)src, n),
                    "cuMemcpyDtoH_v2", d);
}

static int d_dtod(struct alc_cuda_dev *dev, uint64_t dst, uint64_t src,
                  size_t n, struct alc_diag *d)
{
    return cu_check(A(dev)->MemcpyDtoD((CUdeviceptr)dst, (CUdeviceptr)src, n),
                    "cuMemcpyDtoD_v2", d);
}

static int d_module_load(struct alc_cuda_dev *dev,
                         const struct alc_cuda_image *img, void **mod,
                         struct alc_diag *d)
{
    CUmodule m = NULL;
    if (img->bin == NULL || img->bin->data == NULL) {
        alc_diag_errorf(d, "cuModuleLoadData: no compiled image");
        return -1;
    }
    CUresult r = A(dev)->ModuleLoadData(&m, img->bin->data);
    if (cu_check(r, "cuModuleLoadData", d) != 0) {
        alc_diag_errorf(d,
                        "(%s for %s_%d; the driver is %d.%d: a driver "
                        "older than the NVRTC that compiled it may reject "
                        "it)",
                        img->bin->kind == ALC_CUDA_BIN_PTX ? "PTX" : "CUBIN",
                        img->bin->kind == ALC_CUDA_BIN_PTX ? "compute" : "sm",
                        img->bin->arch, dev->info.driver_version / 1000,
                        dev->info.driver_version % 1000 / 10);
        return -1;
    }
    *mod = m;
    return 0;
}

static void d_module_unload(struct alc_cuda_dev *dev, void *mod)
{
    if (mod != NULL) {
        A(dev)->ModuleUnload((CUmodule)mod);
    }
}

static int d_function(struct alc_cuda_dev *dev, void *mod, const char *name,
                      void **fn, struct alc_diag *d)
{
    CUfunction f = NULL;
    if (A(dev)->ModuleGetFunction(&f, (CUmodule)mod, name) != CUDA_SUCCESS) {
        alc_diag_errorf(d, "cuModuleGetFunction: no kernel %s", name);
        return -1;
    }
    *fn = f;
    return 0;
}

static int d_launch(struct alc_cuda_dev *dev, void *fn, unsigned grid,
                    unsigned block, const struct alc_cuda_args *args,
                    struct alc_diag *d)
{
    void *params[1] = {(void *)args};
    return cu_check(A(dev)->LaunchKernel((CUfunction)fn, grid, 1, 1, block, 1,
                                         1, 0, NULL, params, NULL),
                    "cuLaunchKernel", d);
}

static int d_sync(struct alc_cuda_dev *dev, struct alc_diag *d)
{
    return cu_check(A(dev)->CtxSynchronize(), "cuCtxSynchronize", d);
}

static int d_bind(struct alc_cuda_dev *dev, struct alc_diag *d)
{
    return cu_check(A(dev)->CtxSetCurrent(((struct drv *)dev->impl)->ctx),
                    "cuCtxSetCurrent", d);
}

static int d_time_begin(struct alc_cuda_dev *dev, struct alc_diag *d)
{
    struct drv *x = dev->impl;
    return cu_check(x->api.EventRecord(x->ev[0], NULL), "cuEventRecord", d);
}

static int d_time_end(struct alc_cuda_dev *dev, double *seconds,
                      struct alc_diag *d)
{
    struct drv *x = dev->impl;
    float ms = 0.0f;
    CUresult r = x->api.EventRecord(x->ev[1], NULL);
    if (cu_check(r, "cuEventRecord", d) != 0) {
        return -1;
    }
    r = x->api.EventSynchronize(x->ev[1]);
    if (cu_check(r, "cuEventSynchronize", d) != 0) {
        return -1;
    }
    r = x->api.EventElapsedTime(&ms, x->ev[0], x->ev[1]);
    if (cu_check(r, "cuEventElapsedTime", d) != 0) {
        return -1;
    }
    *seconds = (double)ms * 1e-3;
    return 0;
}

static const struct alc_cuda_dev_ops driver_ops = {
    .mem_alloc = d_alloc,
    .mem_free = d_free,
    .htod = d_htod,
    .dtoh = d_dtoh,
    .module_load = d_module_load,
    .module_unload = d_module_unload,
    .function = d_function,
    .launch = d_launch,
    .sync = d_sync,
    .bind = d_bind,
    .time_begin = d_time_begin,
    .time_end = d_time_end,
    .dtod = d_dtod,
};
