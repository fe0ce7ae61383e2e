/*
 * genmodel.h: random-weight models in the Hugging Face layout, for tests
 * and benchmarks (`dsac gen-model`). Any size, any of the four
 * architectures, F32 / F16 / BF16, one file or N shards with an index.
 * The same options and seed give the same bytes.
 */
#ifndef ALC_GENMODEL_H
#define ALC_GENMODEL_H

#include <stdint.h>

#include "alc_common.h"
#include "config.h"

struct alc_gen_opts {
    struct alc_config cfg; /* alc_config_defaults(arch), then the sizes */
    enum alc_dtype dtype;  /* stored dtype of every tensor */
    uint64_t seed;
    int n_shards; /* 1: model.safetensors; N > 1: N files + index */
    const char *tokenizer_dir; /* tokenizer files copied from here, or NULL */
    int force;                 /* replace an existing output directory */
};

/*
 * Writes config.json and the weights (and the tokenizer) into out_dir,
 * atomically (model.h alc_outdir). Values, per tensor from an RNG seeded by
 * (seed, tensor name), so sharding does not change them: linear weights
 * ~ N(0, 1/in), biases ~ N(0, 0.1^2), norm weights 1 + N(0, 0.1^2), norm
 * biases N(0, 0.1^2), embeddings, positions and lm_head N(0, 1/width);
 * "N" is an Irwin-Hall sum of four uniforms scaled to unit variance
 * (fast; bounded at 3.46 sigma). A tokenizer is copied only if its
 * ids fit in the vocabulary.
 */
int alc_gen_model(const struct alc_gen_opts *o, const char *out_dir,
                  struct alc_diag *d);

#endif /* ALC_GENMODEL_H */
