/*
 * session_internal.h: what the session's source files (session.c,
 * session_pass.c, session_alloc.c) share and nobody else calls.
 */
#ifndef ALC_SESSION_INTERNAL_H
#define ALC_SESSION_INTERNAL_H

#include "session.h"

/* Pass 1: the act vector of every linear from the dense model. */
int alc_session_pass1(struct alc_session *s, struct alc_diag *d);

/* Frees the units view (not the matrices). */
void alc_session_free_units(struct alc_session *s);

#endif /* ALC_SESSION_INTERNAL_H */
