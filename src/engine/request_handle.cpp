#include "llmserve/engine/request_handle.h"

#include <utility>

#include "request_stream.h"

namespace llmserve::engine {

RequestHandle::RequestHandle(std::shared_ptr<RequestStream> stream) : stream_(std::move(stream)) {}

std::uint64_t RequestHandle::id() const { return stream_->id(); }
std::optional<RequestOutput> RequestHandle::poll() { return stream_->poll(); }
RequestOutput RequestHandle::wait() { return stream_->wait(); }
bool RequestHandle::done() const { return stream_->done(); }
void RequestHandle::on_ready(std::function<void()> notify) { stream_->on_ready(std::move(notify)); }
void RequestHandle::abort(FinishReason reason) { stream_->abort(reason); }

}  // namespace llmserve::engine
