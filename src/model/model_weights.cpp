#include "llmserve/model/model_weights.h"

#include "architectures.h"
#include "llmserve/model/safetensors.h"

namespace llmserve::model {

ModelWeights load_model_weights(const std::filesystem::path& dir, const ModelSpec& spec,
                                backend::Backend& backend) {
  const Checkpoint checkpoint = Checkpoint::open(dir);
  const WeightReader reader(checkpoint, dir.string(), backend);
  ModelWeights weights = spec.architecture == Architecture::kGpt2
                             ? load_gpt2_weights(reader, spec)
                             : load_qwen2_weights(reader, spec);
  // Every architecture names its head lm_head.weight; a tied head reuses the token embedding,
  // even where an export also wrote a copy.
  weights.lm_head = spec.tie_word_embeddings
                        ? weights.token_embedding
                        : reader.upload("lm_head.weight", {spec.vocab_size, spec.hidden_size});
  return weights;
}

std::int64_t parameter_count(const ModelSpec& spec) {
  const std::int64_t body = spec.architecture == Architecture::kGpt2 ? gpt2_parameter_count(spec)
                                                                     : qwen2_parameter_count(spec);
  const std::int64_t head =
      spec.tie_word_embeddings ? 0 : std::int64_t{spec.vocab_size} * spec.hidden_size;
  return body + head;
}

}  // namespace llmserve::model
