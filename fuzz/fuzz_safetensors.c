/*
 * fuzz_safetensors.c: libFuzzer target for the safetensors header reader
 * (runtime/safetensors.c). The input is a whole safetensors file. Every
 * input must either parse or fail with an error in the diag; a parsed file
 * must satisfy the reader's promises (every range inside the data region,
 * sizes equal to dtype x shape, ranges contiguous), checked by reading
 * every tensor byte under ASan. Seeds: fuzz/seeds/safetensors/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct alc_st_file *f, const uint8_t *data, size_t size)
{
    uint64_t covered = 0;
    unsigned sum = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const struct alc_st_tensor *t = &f->tensors[i];
        uint64_t n = alc_st_tensor_bytes(t);
        if (t->end > f->data_len || t->begin > t->end) {
            abort();
        }
        if (n > 0 && ((const uint8_t *)t->data < data ||
                      (const uint8_t *)t->data + n > data + size)) {
            abort();
        }
        for (uint64_t k = 0; k < n; k++) {
            sum += ((const uint8_t *)t->data)[k];
        }
        covered += n;
        if (alc_st_find(f, t->name) != t) {
            abort(); /* names are unique and sorted */
        }
    }
    if (covered != f->data_len || 8 + f->header_len + covered != size) {
        abort(); /* contiguous, no gap, nothing trailing */
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alc_st_file f;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_st_parse(&f, data, size, "fuzz.safetensors", &d) == 0) {
        check(&f, data, size);
        alc_st_close(&f);
    } else if (d.n_err == 0) {
        abort(); /* a failure must say why */
    }
    alc_diag_free(&d);
    return 0;
}
