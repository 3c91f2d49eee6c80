#include "llmserve/backend/backend.h"
#include "llmserve/common/error.h"

namespace llmserve::backend {

void check_kv_cache_layout(const KvCacheLayout& layout) {
  if (layout.num_layers < 1 || layout.num_blocks < 1 || layout.block_size < 1 ||
      layout.num_heads < 1 || layout.num_kv_heads < 1 || layout.head_dim < 1) {
    throw Error(
        "kv cache: layers {}, blocks {}, block size {}, heads {}, kv heads {}, head dim {} must "
        "all be positive",
        layout.num_layers, layout.num_blocks, layout.block_size, layout.num_heads,
        layout.num_kv_heads, layout.head_dim);
  }
  if (layout.num_heads % layout.num_kv_heads != 0) {
    throw Error("kv cache: {} heads is not a multiple of {} kv heads", layout.num_heads,
                layout.num_kv_heads);
  }
}

}  // namespace llmserve::backend
