#include "llmserve/backend/backend.h"

#include "llmserve/common/error.h"

namespace llmserve::backend {

void Backend::sample(const Tensor&, std::span<const SamplingRow>, std::span<SampledToken>) {
  throw Error("the {} backend does not sample on its device", name());
}

}  // namespace llmserve::backend
