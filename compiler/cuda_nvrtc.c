/*
 * cuda_nvrtc.c: compiling emitted CUDA C with NVRTC, loaded with dlopen at
 * first use so that a dsac binary runs (and emits CUDA source) where the
 * toolkit is absent. Only nvrtc.h's types are used at build time. Called by
 * cuda_backend.c, `dsac emit --target ptx` and the tests.
 *
 * Every compilation passes an explicit --gpu-architecture (compute_XX for
 * PTX, sm_XX for CUBIN), reads the program log whatever the outcome, and
 * destroys the program on every path, as NVIDIA's vectorAdd_nvrtc sample
 * should.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvrtc.h>

#include "alc_cuda.h"

#ifndef ALC_NVRTC_PATH
#define ALC_NVRTC_PATH "libnvrtc.so"
#endif

/* ---- Loading ---- */

struct nvrtc_api {
    const char *(*GetErrorString)(nvrtcResult);
    nvrtcResult (*Version)(int *, int *);
    nvrtcResult (*GetNumSupportedArchs)(int *);
    nvrtcResult (*GetSupportedArchs)(int *);
    nvrtcResult (*CreateProgram)(nvrtcProgram *, const char *, const char *,
                                 int, const char *const *, const char *const *);
    nvrtcResult (*DestroyProgram)(nvrtcProgram *);
    nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*GetPTXSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetPTX)(nvrtcProgram, char *);
    nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetCUBIN)(nvrtcProgram, char *);
    nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetProgramLog)(nvrtcProgram, char *);
};

static struct nvrtc_api api;
static int api_ok;
static char api_err[512];
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

/* Symbol name and its slot in struct nvrtc_api. */
struct sym {
    const char *name;
    size_t off;
};

#define SYM(f)                                                                 \
    {                                                                          \
        "nvrtc" #f, offsetof(struct nvrtc_api, f)                              \
    }
static const struct sym syms[] = {
    SYM(GetErrorString),    SYM(Version),       SYM(GetNumSupportedArchs),
    SYM(GetSupportedArchs), SYM(CreateProgram), SYM(DestroyProgram),
    SYM(CompileProgram),    SYM(GetPTXSize),    SYM(GetPTX),
    SYM(GetCUBINSize),      SYM(GetCUBIN),      SYM(GetProgramLogSize),
    SYM(GetProgramLog),
};
#undef SYM

static void *open_lib(void)
{
    static const char *const names[] = {
        ALC_NVRTC_PATH,
        "libnvrtc.so",
        "libnvrtc.so.13",
        "libnvrtc.so.12",
    };
    const char *env = getenv("ALC_NVRTC_LIBRARY");
    void *h = NULL;
    if (env != NULL && env[0] != '\0') {
        h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            snprintf(api_err, sizeof api_err, "ALC_NVRTC_LIBRARY=%s: %s", env,
                     dlerror());
        }
        return h;
    }
    for (size_t i = 0; h == NULL && i < sizeof names / sizeof names[0]; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL && i == 0) {
            snprintf(api_err, sizeof api_err, "%s", dlerror());
        }
    }
    return h;
}

static void load_api(void)
{
    void *h = open_lib();
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(h, syms[i].name);
        if (f == NULL) {
            snprintf(api_err, sizeof api_err, "libnvrtc: no symbol %s",
                     syms[i].name);
            return; /* the handle stays open: harmless, process-wide */
        }
        memcpy((char *)&api + syms[i].off, &f, sizeof f);
    }
    api_ok = 1;
}

static int need_api(struct alc_diag *d)
{
    pthread_once(&api_once, load_api);
    if (!api_ok) {
        if (d != NULL) {
            alc_diag_errorf(d, "NVRTC is not available (%s)", api_err);
        }
        return -1;
    }
    return 0;
}

/* d may be NULL when only the answer matters. */
int alc_cuda_nvrtc_available(struct alc_diag *d)
{
    return need_api(d) == 0;
}

int alc_cuda_nvrtc_version(int *major, int *minor)
{
    *major = *minor = 0;
    pthread_once(&api_once, load_api);
    if (!api_ok || api.Version(major, minor) != NVRTC_SUCCESS) {
        return -1;
    }
    return 0;
}

/* ---- Architectures ---- */

int alc_cuda_nvrtc_archs(int *archs, int max)
{
    int n = 0;
    pthread_once(&api_once, load_api);
    if (!api_ok || api.GetNumSupportedArchs(&n) != NVRTC_SUCCESS || n <= 0) {
        return 0;
    }
    int *all = malloc((size_t)n * sizeof *all);
    if (all == NULL || api.GetSupportedArchs(all) != NVRTC_SUCCESS) {
        free(all);
        return 0;
    }
    int k = n < max ? n : max;
    memcpy(archs, all, (size_t)k * sizeof *archs);
    free(all);
    return k;
}

int alc_cuda_arch_parse(const char *s, int *arch)
{
    char *end = NULL;
    if (strncmp(s, "sm_", 3) == 0) {
        s += 3;
    } else if (strncmp(s, "compute_", 8) == 0) {
        s += 8;
    }
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 10 || v > 999) {
        return -1;
    }
    *arch = (int)v;
    return 0;
}

/* ---- Compiling ---- */

void alc_cuda_binary_free(struct alc_cuda_binary *b)
{
    free(b->data);
    free(b->log);
    memset(b, 0, sizeof *b);
}

static int check(nvrtcResult r, const char *call, struct alc_diag *d)
{
    if (r != NVRTC_SUCCESS) {
        alc_diag_errorf(d, "%s: %s", call, api.GetErrorString(r));
        return -1;
    }
    return 0;
}

/* Reads the program log into out->log (always, "" when empty). */
static int read_log(nvrtcProgram p, struct alc_cuda_binary *out,
                    struct alc_diag *d)
{
    size_t n = 0;
    nvrtcResult r = api.GetProgramLogSize(p, &n);
    if (check(r, "nvrtcGetProgramLogSize", d) != 0) {
        return -1;
    }
    out->log = malloc(n + 1);
    if (out->log == NULL) {
        alc_diag_errorf(d, "out of memory reading the NVRTC log");
        return -1;
    }
    out->log[0] = '\0';
    r = n > 0 ? api.GetProgramLog(p, out->log) : NVRTC_SUCCESS;
    if (check(r, "nvrtcGetProgramLog", d) != 0) {
        return -1;
    }
    out->log[n] = '\0';
    return 0;
}

static int read_output(nvrtcProgram p, struct alc_cuda_binary *out,
                       struct alc_diag *d)
{
    int ptx = out->kind == ALC_CUDA_BIN_PTX;
    size_t n = 0;
    nvrtcResult r = ptx ? api.GetPTXSize(p, &n) : api.GetCUBINSize(p, &n);
    if (check(r, ptx ? "nvrtcGetPTXSize" : "nvrtcGetCUBINSize", d) != 0) {
        return -1;
    }
    out->data = malloc(n + 1);
    if (out->data == NULL) {
        alc_diag_errorf(d, "out of memory reading NVRTC output");
        return -1;
    }
    r = ptx ? api.GetPTX(p, out->data) : api.GetCUBIN(p, out->data);
    if (check(r, ptx ? "nvrtcGetPTX" : "nvrtcGetCUBIN", d) != 0) {
        return -1;
    }
    out->data[n] = '\0';
    /* PTX size counts its terminating NUL */
    out->len = ptx && n > 0 ? strlen(out->data) : n;
    return 0;
}

int alc_cuda_nvrtc_compile(const char *src, const char *name, int arch,
                           enum alc_cuda_bin kind, struct alc_cuda_binary *out,
                           struct alc_diag *d)
{
    nvrtcProgram p = NULL;
    char archopt[64];
    int rc = -1;
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->arch = arch;
    if (need_api(d) != 0) {
        return -1;
    }
    snprintf(archopt, sizeof archopt, "--gpu-architecture=%s_%d",
             kind == ALC_CUDA_BIN_PTX ? "compute" : "sm", arch);
    const char *const opts[] = {
        archopt,           "-default-device",  "--std=c++17", "--fmad=false",
        "--prec-div=true", "--prec-sqrt=true", "--ftz=false",
    };
    nvrtcResult r = api.CreateProgram(&p, src, name, 0, NULL, NULL);
    if (check(r, "nvrtcCreateProgram", d) != 0) {
        return -1;
    }
    double t0 = alc_now();
    nvrtcResult cr =
        api.CompileProgram(p, (int)(sizeof opts / sizeof opts[0]), opts);
    out->seconds = alc_now() - t0;
    if (read_log(p, out, d) != 0) {
        goto done;
    }
    if (cr != NVRTC_SUCCESS) {
        alc_diag_errorf(d, "nvrtcCompileProgram (%s, %s): %s\n%s", name,
                        archopt, api.GetErrorString(cr), out->log);
        goto done;
    }
    rc = read_output(p, out, d);
done:
    /* always destroyed, whatever failed above */
    r = api.DestroyProgram(&p);
    if (check(r, "nvrtcDestroyProgram", d) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        free(out->data);
        out->data = NULL;
        out->len = 0;
    }
    return rc;
}
