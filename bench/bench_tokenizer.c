/*
 * bench_tokenizer.c: encoding speed of the two bundled tokenizers on the
 * corpus (calibration tokenizes kjv.train.raw, evaluation kjv.test.raw).
 * Prints, per tokenizer and file, the best of three runs in ms, tokens/s
 * and MB/s, then the decode time of the test ids.
 *   ./build/bench/bench_tokenizer
 */
#include <stdio.h>
#include <stdlib.h>

#include "alc_common.h"
#include "tokenizer.h"

static int bench_file(const struct alc_tokenizer *t, const char *name,
                      const char *rel)
{
    struct alc_diag d;
    char *path = alc_path_join(ALC_SOURCE_DIR, rel);
    char *text = NULL;
    size_t len = 0;
    double best = 1e30;
    int64_t n = 0;
    int rc = -1;
    alc_diag_init(&d);
    if (alc_read_file(path, &text, &len, &d) != 0) {
        goto done;
    }
    for (int rep = 0; rep < 3; rep++) {
        int32_t *ids = NULL;
        double t0 = alc_now();
        if (alc_tok_encode(t, text, len, 1, &ids, &n, &d) != 0) {
            goto done;
        }
        double dt = alc_now() - t0;
        best = dt < best ? dt : best;
        if (rep == 0) {
            double t1 = alc_now();
            char *back = alc_tok_decode(t, ids, n, 1);
            printf("%-10s %-16s decode %8.1f ms\n", name, rel + 16,
                   1e3 * (alc_now() - t1));
            free(back);
        }
        free(ids);
    }
    printf("%-10s %-16s %8.1f ms  %9lld tokens  %6.2f M tokens/s  "
           "%6.1f MB/s\n",
           name, rel + 16, 1e3 * best, (long long)n, (double)n / best / 1e6,
           (double)len / best / 1e6);
    rc = 0;
done:
    if (rc != 0) {
        fprintf(stderr, "bench_tokenizer: %s", alc_diag_text(&d));
    }
    alc_diag_free(&d);
    free(text);
    free(path);
    return rc;
}

int main(void)
{
    static const char *const dirs[2][2] = {
        {"byte-level", "examples/tiny-llama"},
        {"sp", "examples/tokenizer-sp"},
    };
    for (int i = 0; i < 2; i++) {
        struct alc_diag d;
        char *dir = alc_path_join(ALC_SOURCE_DIR, dirs[i][1]);
        alc_diag_init(&d);
        double t0 = alc_now();
        struct alc_tokenizer *t = alc_tok_load(dir, &d);
        free(dir);
        if (t == NULL) {
            fprintf(stderr, "bench_tokenizer: %s", alc_diag_text(&d));
            alc_diag_free(&d);
            return 1;
        }
        printf("%-10s load %.1f ms\n", dirs[i][0], 1e3 * (alc_now() - t0));
        int rc = bench_file(t, dirs[i][0], "examples/corpus/kjv.test.raw") |
                 bench_file(t, dirs[i][0], "examples/corpus/kjv.train.raw");
        alc_tok_free(t);
        alc_diag_free(&d);
        if (rc != 0) {
            return 1;
        }
    }
    return 0;
}
