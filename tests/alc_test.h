/*
 * alc_test.h: what every cmocka test executable includes. Debian's cmocka
 * 1.1.5 needs stdarg/stddef/setjmp/stdint before <cmocka.h>. ALC_TEST_MAIN
 * gives each test binary a main that accepts an optional name filter
 * (`./test_lexer 'test_lex_*'`), as libssh's torture main does.
 */
#ifndef ALC_TEST_H
#define ALC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alc_common.h"

/* Source and build directories, set by tests/CMakeLists.txt. */
#ifndef ALC_SOURCE_DIR
#define ALC_SOURCE_DIR "."
#endif
#ifndef ALC_BINARY_DIR
#define ALC_BINARY_DIR "."
#endif

#define ALC_TEST_MAIN(tests)                                               \
    int main(int argc, char **argv)                                        \
    {                                                                      \
        if (argc > 1) {                                                    \
            cmocka_set_test_filter(argv[1]);                               \
        }                                                                  \
        return cmocka_run_group_tests(tests, NULL, NULL);                  \
    }

/* Asserts |a - b| <= tol * max(1, |a|, |b|); NaN equals only NaN. */
#define assert_close(a, b, tol)                                            \
    do {                                                                   \
        double a_ = (a), b_ = (b), t_ = (tol);                             \
        if (isnan(a_) || isnan(b_)) {                                      \
            if (!(isnan(a_) && isnan(b_))) {                               \
                fail_msg("%s = %.17g vs %s = %.17g", #a, a_, #b, b_);      \
            }                                                              \
        } else if (a_ != b_) {                                             \
            double m_ = fmax(1.0, fmax(fabs(a_), fabs(b_)));               \
            if (!(fabs(a_ - b_) <= t_ * m_)) {                             \
                fail_msg("%s = %.17g vs %s = %.17g (tol %g)", #a, a_, #b,  \
                         b_, t_);                                          \
            }                                                              \
        }                                                                  \
    } while (0)

/* A fresh empty directory under the build tree for one test; malloc'd. */
static inline char *alc_test_tmpdir(const char *name)
{
    struct alc_sb sb;
    char cmd[4096];
    alc_sb_init(&sb);
    alc_sb_printf(&sb, "%s/testtmp/%s", ALC_BINARY_DIR, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", sb.s, sb.s);
    if (system(cmd) != 0) {
        fail_msg("cannot create %s", sb.s);
    }
    return alc_sb_take(&sb);
}

#endif /* ALC_TEST_H */
