// The turn-based loop, for backends that cannot step (RKLLM): one request at a time, in order, each through the
// backend's one Conversation::generate. The backend keeps its own history (kv_reuse), which a text-input request
// continues unless it asks for a new conversation.
#include <optional>

#include "runtime/engine_impl.h"
#include "runtime/engine_output.h"

namespace rkchat::runtime {
namespace {

class TurnLoop final : public Engine::Impl {
 public:
  TurnLoop(backends::Backend& b, const EngineOptions& o) : Impl(b, o) { slots = 1; }

  void run() override {
    for (;;) {
      std::optional<Job> job;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        job = pop_locked();
        if (!job) return;  // stopping, nothing left
        active = 1;
      }
      serve(*job);
      std::lock_guard lock(mu);
      active = 0;
    }
  }

 private:
  // The last update of an answer, sent once the slot counts as free: a caller that submits its next turn as soon
  // as it sees it (the console chat, with no queue) must not find the slot still taken.
  void finish(Request& r, Update last) {
    {
      std::lock_guard lock(mu);
      active = 0;
    }
    r.push(std::move(last));
  }

  void serve(Job& job) {
    Request& r = *job.request;
    if (r.cancelled()) {
      backends::TurnStats stats;
      stats.stop = backends::StopReason::aborted;
      finish(r, detail::AnswerOutput({}, std::nullopt).finish(stats));
      return;
    }
    try {
      if (!conv_) conv_ = backend.start_conversation();
    } catch (const std::exception& e) {
      fail(r, ErrorKind::failure, e.what());
      return;
    }
    backends::Conversation* conv = conv_.get();
    r.on_cancel([this, conv] {
      conv->abort();
      wake.notify_all();
    });
    if (r.cancelled()) conv->abort();  // cancelled before the hook was set
    backends::TurnInput input = job.options.text_input;
    if (!job.options.prompt.empty()) {
      input.tokens = job.options.prompt;
    } else if (job.options.new_conversation) {
      conv->clear();
    }
    detail::AnswerOutput out(job.options.stop, std::move(job.options.parser));
    backends::TurnStats stats;
    try {
      stats = conv->generate(input, job.options.generate, [&](const backends::Piece& piece) {
        r.push(out.push(piece.text, piece.token));
        return !out.stopped() && !r.cancelled();
      });
    } catch (const std::exception& e) {
      conv->clear();  // the backend's history is unknown after a failure
      fail(r, ErrorKind::failure, e.what());
      return;
    }
    if (r.cancelled() && stats.stop == backends::StopReason::stopped_by_caller)
      stats.stop = backends::StopReason::aborted;
    if (stats.stop == backends::StopReason::error) {
      fail(r, ErrorKind::failure, stats.error, stats);
      return;
    }
    account(stats);
    finish(r, out.finish(stats));
  }

  std::unique_ptr<backends::Conversation> conv_;
};

}  // namespace

std::unique_ptr<Engine::Impl> make_turn_loop(backends::Backend& backend, const EngineOptions& options) {
  return std::make_unique<TurnLoop>(backend, options);
}

}  // namespace rkchat::runtime
