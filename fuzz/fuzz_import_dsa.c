/*
 * fuzz_import_dsa.c: libFuzzer target over DSA genome strings (outside
 * input of `dsac import-dsa`): the genome parser and the program writer.
 * An accepted genome must give a program that the front end accepts (the
 * importer checks it itself and fails otherwise, which would be a bug:
 * abort). Seeds: fuzz/seeds/import_dsa/.
 */
#include <stdint.h>
#include <stdlib.h>

#include "front.h"
#include "import_dsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alc_diag d;
    struct alc_sb out;
    char *g = malloc(size + 1);
    if (g == NULL) {
        return 0;
    }
    memcpy(g, data, size);
    g[size] = '\0';
    alc_diag_init(&d);
    alc_sb_init(&out);
    int rc = alc_import_dsa(g, &out, &d);
    if (rc == 0 && d.n_err != 0) {
        abort();
    }
    if (rc != 0 && strstr(d.first, "<import-dsa>") != NULL) {
        abort(); /* the generated program did not check */
    }
    alc_sb_free(&out);
    alc_diag_free(&d);
    free(g);
    return 0;
}
