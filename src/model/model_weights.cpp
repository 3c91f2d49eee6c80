#include "llmserve/model/model_weights.h"

#include "architectures.h"
#include "llmserve/model/safetensors.h"

namespace llmserve::model {

ModelWeights load_model_weights(const std::filesystem::path& dir, const ModelSpec& spec,
                                backend::Backend& backend) {
  const Checkpoint checkpoint = Checkpoint::open(dir);
  const WeightReader reader(checkpoint, dir.string(), backend);
  switch (spec.architecture) {
    case Architecture::kGpt2:
      return load_gpt2_weights(reader, spec);
    case Architecture::kQwen2:
    case Architecture::kLlama:
      return load_qwen2_weights(reader, spec);
  }
  return {};
}

}  // namespace llmserve::model
