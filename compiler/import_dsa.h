/*
 * import_dsa.h: DSA genome strings -> .alloc programs (`dsac import-dsa`).
 * DSA (Li et al., NeurIPS 2024, github.com/lliai/DSA) writes an allocation
 * as W:(pre,...)-(reduction,...)-(post,...)[-(lambda)] over the op names
 * of its lib/autolayer.py; alc_import_dsa writes the equivalent program:
 * the same per-unit score (LayerEngine.compute_importance of the unit's
 * pooled Wanda metric) and DSA's mapping to sparsities.
 */
#ifndef ALC_IMPORT_DSA_H
#define ALC_IMPORT_DSA_H

#include "alc_common.h"

/*
 * Writes the program for `genome` to out, in canonical layout, with a
 * header comment citing DSA and the stage ops. Returns 0, or -1 with one
 * error in d naming the offending token (its column in the genome) and
 * the valid names at that stage; 2-D-only reductions (GRAM, CORREF,
 * DIAGONAL, DETERMINANT, RANK, SLOGDET) are rejected because DSA applies
 * them to a 1-D vector, where they fail.
 */
int alc_import_dsa(const char *genome, struct alc_sb *out,
                   struct alc_diag *d);

#endif /* ALC_IMPORT_DSA_H */
