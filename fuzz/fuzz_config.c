/*
 * fuzz_config.c: libFuzzer target for the config.json reader
 * (runtime/config.c). Every input must parse or fail with an error; a
 * parsed config must be self-consistent (sizes positive, heads divisible,
 * tensor list computable) and survive a write/parse round trip. Seeds:
 * fuzz/seeds/config/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alc_config c, back;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_config_parse(&c, (const char *)data, size, "config.json", &d) !=
        0) {
        if (d.n_err == 0) {
            abort();
        }
        alc_diag_free(&d);
        return 0;
    }
    if (c.dim < 1 || c.n_layers < 1 || c.n_heads < 1 || c.n_kv_heads < 1 ||
        c.head_dim < 1 || c.n_heads % c.n_kv_heads != 0) {
        abort();
    }
    if (c.n_layers <= 64) {
        struct alc_tspec *sp = NULL;
        int n = 0;
        alc_tspecs(&c, "model.", &sp, &n);
        free(sp);
    }
    char *json = alc_config_to_json(&c);
    if (alc_config_parse(&back, json, strlen(json), "rt", &d) != 0 ||
        back.dim != c.dim || back.arch != c.arch ||
        back.head_dim != c.head_dim) {
        abort();
    }
    free(json);
    alc_diag_free(&d);
    return 0;
}
