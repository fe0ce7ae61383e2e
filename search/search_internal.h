/*
 * search_internal.h: what the files of search/ share and nobody else
 * needs: JSON writing helpers (state.json, history.json) and the
 * candidates' JSON form.
 */
#ifndef ALC_SEARCH_INTERNAL_H
#define ALC_SEARCH_INTERNAL_H

#include "search.h"

/* A JSON string literal (escaped), or null for NULL. */
void alc_sj_str(struct alc_sb *out, const char *s);
/* A number with 17 significant digits (round-trips), null for NaN/inf. */
void alc_sj_num(struct alc_sb *out, double v);
/* A 64-bit value as a 16-digit hex string. */
void alc_sj_hex(struct alc_sb *out, uint64_t v);

/* One candidate as a JSON object; with_times adds the seconds fields. */
void alc_search_cand_json(const struct alc_search_cand *c, int with_times,
                          struct alc_sb *out);

#endif /* ALC_SEARCH_INTERNAL_H */
