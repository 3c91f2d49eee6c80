#pragma once
// Scheduler decisions -> the Batch a backend runs: the scheduled tokens flattened, their slots
// through each block table, and a logits row for every sequence whose chunk reaches its end.
#include "llmserve/backend/batch.h"
#include "llmserve/engine/scheduler.h"

namespace llmserve::engine {

// Fills `batch` (cleared first; its vectors keep their capacity from step to step).
void build_batch(const SchedulerOutput& scheduled, std::int32_t block_size, backend::Batch& batch);

}  // namespace llmserve::engine
