#include "llmserve/backend/backend.h"

#include "llmserve/common/error.h"

namespace llmserve::backend {

void Backend::reserve_steps(std::int32_t, std::int32_t, std::int32_t) {}

void Backend::begin_recording() {
  throw Error("the {} backend cannot record a step", name());
}

std::unique_ptr<Backend::Recording> Backend::end_recording() {
  throw Error("the {} backend cannot record a step", name());
}

bool Backend::replay(const Recording&) {
  throw Error("the {} backend cannot replay a step", name());
}

void Backend::sample(const Tensor&, std::span<const SamplingRow>, std::span<SampledToken>) {
  throw Error("the {} backend does not sample on its device", name());
}

}  // namespace llmserve::backend
