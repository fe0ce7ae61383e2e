/*
 * space_internal.h: what space.c (the file parser) and space_member.c
 * (validation, members, inlining, matching) share. Not for other users.
 */
#ifndef ALC_SPACE_INTERNAL_H
#define ALC_SPACE_INTERNAL_H

#include "space.h"

/* The name that marks the searched expression in a template. */
#define ALC_SPACE_HOLE "_"

/*
 * Checks the parsed sections together (space.c calls it last): classifies
 * every op (level-keeping or reducing), checks the stages' rules, inlines
 * the ops' bodies for matching, and checks the template with a sample
 * member. Errors go to d at the space file's positions (loc holds its
 * file name and text).
 */
int alc_space_validate(struct alc_space *sp, const struct alc_program *loc,
                       struct alc_diag *d);

#endif /* ALC_SPACE_INTERNAL_H */
