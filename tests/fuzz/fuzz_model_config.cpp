// Any bytes as config.json: parse_model_config must accept or throw llmserve::Error, and an
// accepted spec must be internally consistent.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "llmserve/common/error.h"
#include "llmserve/model/model_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto spec = llmserve::model::parse_model_config(text, "fuzz");
    if (spec.hidden_size <= 0 || spec.num_heads <= 0 || spec.num_kv_heads <= 0 ||
        spec.head_dim <= 0 || spec.num_heads % spec.num_kv_heads != 0 || spec.vocab_size <= 0) {
      std::abort();
    }
  } catch (const llmserve::Error&) {
  }
  return 0;
}
