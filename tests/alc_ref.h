/*
 * alc_ref.h: running the independent PyTorch reference (tools/ref_prune.py)
 * from cmocka tests: raw binary files in a test directory, a JSON spec, the
 * interpreter, the result files. Included by test_prune.c and test_esd.c.
 *
 * The interpreter is $ALC_REF_PYTHON, else /usr/bin/python3 (Debian's, with
 * torch). Tests that need it call ref_have_torch() and skip() when it is 0:
 * when the interpreter cannot `import torch`, or when ALC_NO_TORCH is set to
 * anything but "" or "0" (to exercise the skip path on a machine with torch).
 */
#ifndef ALC_REF_H
#define ALC_REF_H

#include <cjson/cJSON.h>
#include <sys/wait.h>

#include "alc_test.h"

static inline const char *ref_python(void)
{
    const char *p = getenv("ALC_REF_PYTHON");
    return p != NULL && p[0] != '\0' ? p : "/usr/bin/python3";
}

/* 1 when the reference can run (checked once per process). */
static inline int ref_have_torch(void)
{
    static int cached = -1;
    const char *off = getenv("ALC_NO_TORCH");
    char cmd[1024];
    if (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0) {
        return 0;
    }
    if (cached < 0) {
        snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1",
                 ref_python());
        cached = system(cmd) == 0;
    }
    return cached;
}

static inline char *ref_path(const char *dir, const char *name)
{
    char *p = alc_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static inline void ref_write(const char *dir, const char *name,
                             const void *data, size_t bytes)
{
    struct alc_diag d;
    char *p = ref_path(dir, name);
    alc_diag_init(&d);
    if (alc_write_file_atomic(p, data, bytes, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    free(p);
}

/* Reads dir/name, which must hold exactly `bytes` bytes; malloc'd. */
static inline void *ref_read(const char *dir, const char *name, size_t bytes)
{
    struct alc_diag d;
    char *p = ref_path(dir, name), *data = NULL;
    size_t len = 0;
    alc_diag_init(&d);
    if (alc_read_file(p, &data, &len, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    if (len != bytes) {
        fail_msg("%s: %zu bytes, expected %zu", p, len, bytes);
    }
    alc_diag_free(&d);
    free(p);
    return data;
}

/* Writes dir/spec.json (consumes spec), runs the reference on it, and
 * returns the parsed dir/result.json (cJSON_Delete it). */
static inline cJSON *ref_run(const char *dir, cJSON *spec)
{
    char *text = cJSON_Print(spec);
    char cmd[4096];
    assert_non_null(text);
    ref_write(dir, "spec.json", text, strlen(text));
    free(text);
    cJSON_Delete(spec);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tools/ref_prune.py' '%s/spec.json'",
             ref_python(), ALC_SOURCE_DIR, dir);
    int st = system(cmd);
    if (st != 0) {
        fail_msg("reference failed (status %d): %s", st, cmd);
    }
    char *p = ref_path(dir, "result.json"), *json = NULL;
    size_t len = 0;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_read_file(p, &json, &len, &d) != 0) {
        fail_msg("%s", alc_diag_text(&d));
    }
    cJSON *res = cJSON_Parse(json);
    assert_non_null(res);
    free(json);
    free(p);
    alc_diag_free(&d);
    return res;
}

/* result.json: obj[key][field] as a number. */
static inline double ref_num(const cJSON *res, const char *key,
                             const char *field)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(res, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!cJSON_IsNumber(v)) {
        fail_msg("result.json has no %s.%s", key, field);
    }
    return v->valuedouble;
}

#endif /* ALC_REF_H */
