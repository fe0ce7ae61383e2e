/*
 * fuzz_space.c: libFuzzer target over search-space files (outside input of
 * `dsac search --space FILE`): the directive scanner, the .alloc sections
 * parsed in place, the space's validation. An accepted space must give
 * members that check: a few random members (fixed seed) are encoded and
 * must pass alc_evolve_finish (a rejection other than the depth limit
 * would be a bug: abort), and their canonical text must read back as
 * members. Seeds: fuzz/seeds/space/.
 */
#include <stdint.h>
#include <stdlib.h>

#include "evolve.h"
#include "front.h"
#include "space.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void members(const struct alc_space *sp)
{
    struct alc_rng rng;
    alc_rng_seed(&rng, 1);
    for (int i = 0; i < 4; i++) {
        struct alc_arena a;
        struct alc_cand c, back;
        struct alc_evolve_child ch;
        struct alc_diag d;
        alc_arena_init(&a, 0);
        alc_diag_init(&d);
        if (alc_space_random(sp, &a, &rng, &c) == 0 &&
            alc_evolve_finish(sp, &c, &ch) == 0) {
            if (ch.reject != ALC_REJ_NONE && ch.reject != ALC_REJ_DEPTH) {
                abort();
            }
            if (ch.src != NULL &&
                alc_evolve_read(sp, &a, "<fuzz>", ch.src, &back, &d) != 1) {
                abort();
            }
            alc_evolve_child_free(&ch);
        }
        alc_diag_free(&d);
        alc_arena_free(&a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alc_space sp;
    struct alc_diag d;
    alc_diag_init(&d);
    if (alc_space_parse(&sp, "fuzz.space", (const char *)data, size, &d) ==
        0) {
        if (d.n_err != 0) {
            abort();
        }
        members(&sp);
        alc_space_free(&sp);
    } else if (d.n_err == 0) {
        abort(); /* a failure must say why */
    }
    alc_diag_free(&d);
    return 0;
}
