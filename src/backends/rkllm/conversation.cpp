// A turn on the NPU: the runtime runs on a worker thread and its callbacks (on whatever thread the runtime
// uses) only queue events; the caller's thread takes them off the queue, cuts the answer at the end-of-turn
// token, joins UTF-8 and calls the sink. So the sink never runs on a runtime thread, and a slow sink or an
// exception in it never reaches the C side.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "backends/rkllm/rkllm_impl.h"

namespace rkchat::backends::rkllm {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Events from the runtime thread to the caller's thread.
class EventQueue {
 public:
  void push(Event&& e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
    cv_.notify_one();
  }
  void finish(int rc) {
    std::lock_guard lock(mutex_);
    done_ = true;
    rc_ = rc;
    cv_.notify_one();
  }
  enum class Pop { event, timeout, done };
  // Waits a little so that the caller can notice abort() even when the runtime is silent.
  Pop pop(Event& out) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !events_.empty() || done_; });
    if (!events_.empty()) {
      out = std::move(events_.front());
      events_.pop_front();
      return Pop::event;
    }
    return done_ ? Pop::done : Pop::timeout;
  }
  int rc() const {
    std::lock_guard lock(mutex_);
    return rc_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool done_ = false;
  int rc_ = 0;
};

// ChatML (Qwen 2/2.5/3, the usual RKLLM models): how a system prompt reaches the runtime in text mode.
constexpr const char* kChatmlUser = "<|im_start|>user\n";
constexpr const char* kChatmlAssistant = "<|im_end|>\n<|im_start|>assistant\n";

class RkllmConversation final : public Conversation {
 public:
  explicit RkllmConversation(RkllmBackend& backend) : b_(backend) {}
  ~RkllmConversation() override { b_.release_conversation(); }

  TurnStats generate(const TurnInput& input, const GenerateOptions& options, const PieceSink& sink) override;
  std::vector<float> evaluate(const std::vector<int32_t>&) override {
    throw Error("the RKLLM backend cannot return logits (use a GGUF model on the CPU backend)");
  }
  void clear() override {
    b_.session().clear_kv_cache();
    held_.clear();
    history_known_ = true;
    history_empty_ = true;
    text_tokens_ = 0;
  }
  void abort() override {
    abort_requested_ = true;
    std::lock_guard lock(running_mutex_);
    if (running_) b_.session().abort();
  }
  int cached_tokens() const override { return token_mode_ ? static_cast<int>(held_.size()) : text_tokens_; }

 private:
  struct Turn;
  RunRequest prepare(const TurnInput& input, const GenerateOptions& options, TurnStats& stats);
  void set_running(bool running) {
    std::lock_guard lock(running_mutex_);
    running_ = running;
  }

  RkllmBackend& b_;
  std::vector<int32_t> held_;  // token mode: the ids the runtime holds in its history
  bool history_known_ = true;  // false after a turn cut short: the runtime may hold more than held_
  bool history_empty_ = true;
  bool token_mode_ = false;
  int text_tokens_ = 0;  // text mode: tokens the runtime reported for the history
  std::string applied_system_;
  std::atomic<bool> abort_requested_{false};
  std::mutex running_mutex_;
  bool running_ = false;
};

// The state of one answer while its events are processed.
struct RkllmConversation::Turn {
  Turn(RkllmBackend& backend, const GenerateOptions& o, const PieceSink& s, TurnStats& st)
      : b(backend), options(o), sink(s), stats(st), guard(backend.make_guard()) {}
  RkllmBackend& b;
  const GenerateOptions& options;
  const PieceSink& sink;
  TurnStats& stats;
  Clock::time_point start = Clock::now();
  EndGuard guard;
  Utf8Joiner utf8;
  bool stopping = false;  // rkllm_abort sent (or the runtime reported an error): drop further pieces
  bool ended = false;     // the end-of-turn token went by
  bool runaway = false;   // ... and the runtime kept going
  bool emitted = false;
  bool finished = false;
  int generated = 0;
  std::vector<int32_t> ids;
  abi::PerfStat perf{};

  void stop(StopReason why) {
    if (stopping) return;
    stopping = true;
    stats.stop = why;
    b.session().abort();
  }
  void emit(const std::string& text, int32_t token) {
    if (text.empty() || stopping) return;
    if (!emitted) stats.ttft_ms = ms_since(start);
    emitted = true;
    if (!sink(Piece{text, token})) stop(StopReason::stopped_by_caller);
  }
  void on_piece(const Event& e) {
    if (ended) {
      if (!e.text.empty() || e.token >= 0) {
        runaway = true;
        stop(StopReason::eos);
      }
      return;
    }
    if (stopping) return;
    ++generated;
    if (e.token >= 0) ids.push_back(e.token);
    const auto step = guard.push(e.text, e.token);
    emit(utf8.push(step.text), e.token);
    if (step.ended) {
      ended = true;
      stats.stop = StopReason::eos;
    } else if (options.max_tokens > 0 && generated >= options.max_tokens) {
      stop(StopReason::max_tokens);
    }
  }
  void on_event(const Event& e) {
    switch (e.state) {
      case abi::kRunNormal:
      case abi::kRunWaiting:
        on_piece(e);
        break;
      case abi::kRunFinish:
        finished = true;
        perf = e.perf;
        break;
      case abi::kRunError:
        if (!stopping) {
          stopping = true;
          stats.stop = StopReason::error;
          stats.error = "the RKLLM runtime reported an error during generation";
        }
        break;
      default:
        break;
    }
  }
  void flush() {
    if (stopping || ended) return;
    emit(utf8.push(guard.flush()), -1);
    emit(utf8.flush(), -1);
  }
};

RunRequest RkllmConversation::prepare(const TurnInput& input, const GenerateOptions& options, TurnStats& stats) {
  RunRequest req;
  req.role = input.role;
  req.enable_thinking = input.enable_thinking;
  req.max_new_tokens = options.max_tokens > 0 ? options.max_tokens : 0;
  req.sampling = options.sampling;
  const bool tokens = !input.tokens.empty();
  if (tokens && !b_.tokenizer()) {
    throw Error("token input needs the model's tokenizer: pass --tokenizer FILE.gguf (a vocab GGUF)");
  }
  if (!tokens && input.text.empty()) throw Error("empty turn: no text and no tokens");
  if (tokens != token_mode_ && !history_empty_) clear();  // the two forms do not share a history
  token_mode_ = tokens;
  if (tokens) {
    size_t common = 0;
    if (history_known_) {
      while (common < held_.size() && common < input.tokens.size() && held_[common] == input.tokens[common]) ++common;
    }
    if (common == held_.size() && common < input.tokens.size() && history_known_) {
      req.tokens = std::span(input.tokens).subspan(common);
    } else {
      if (!history_empty_) clear();
      req.tokens = input.tokens;
      common = 0;
    }
    stats.prompt_tokens = static_cast<int>(input.tokens.size());
    stats.cached_tokens = static_cast<int>(common);
    return req;
  }
  if (history_empty_ && input.system != applied_system_) {
    const std::string system = input.system.empty() ? "" : "<|im_start|>system\n" + input.system + "<|im_end|>\n";
    if (!b_.session().set_chat_template(system, kChatmlUser, kChatmlAssistant)) {
      warn("this runtime cannot take a system prompt (no rkllm_set_chat_template); it is ignored");
    }
    applied_system_ = input.system;
  }
  req.prompt = input.text;
  stats.cached_tokens = text_tokens_;
  return req;
}

TurnStats RkllmConversation::generate(const TurnInput& input, const GenerateOptions& options, const PieceSink& sink) {
  TurnStats stats;
  abort_requested_ = false;
  const RunRequest req = prepare(input, options, stats);
  Turn turn(b_, options, sink, stats);
  if (!b_.session().per_run_sampling() && options.sampling.temperature != sampling::Params{}.temperature) {
    // 1.2.x takes sampling only at load; say so instead of ignoring it silently.
    static std::once_flag once;
    std::call_once(once, [] { warn("runtime 1.2.x takes sampling options at load only; per-turn values ignored"); });
  }

  EventQueue queue;
  set_running(true);
  history_empty_ = false;
  std::thread worker([&] {
    int rc = -1;
    try {
      rc = b_.session().run(req, [&](Event&& e) { queue.push(std::move(e)); });
    } catch (...) {  // NOLINT(bugprone-empty-catch): reported below as a failed run
    }
    queue.finish(rc);
  });
  Event e;
  for (EventQueue::Pop p; (p = queue.pop(e)) != EventQueue::Pop::done;) {
    if (abort_requested_) turn.stop(StopReason::aborted);
    if (p == EventQueue::Pop::event) {
      try {
        turn.on_event(e);
      } catch (...) {
        turn.stop(StopReason::error);  // a throwing sink: stop the runtime, then rethrow once it has returned
        worker.join();
        set_running(false);
        history_known_ = false;
        throw;
      }
    }
  }
  worker.join();
  set_running(false);
  turn.flush();

  const int rc = queue.rc();
  if (rc != 0 && stats.stop != StopReason::error && !turn.stopping) {
    stats.stop = StopReason::error;
    stats.error = "rkllm_run failed (code " + std::to_string(rc) + ")";
  }
  if (turn.runaway) b_.warn_runaway(b_.tokenizer() && !turn.ids.empty() ? "end-of-turn token" : "<|im_end|>");
  const bool clean = !turn.stopping || turn.runaway;
  if (clean && stats.stop == StopReason::eos && !turn.emitted) {
    stats.stop = StopReason::error;
    stats.error = b_.empty_answer_message();
  } else if (clean && !turn.ended && stats.stop == StopReason::eos) {
    if (options.max_tokens > 0 && turn.generated >= options.max_tokens) {
      stats.stop = StopReason::max_tokens;
    } else if (stats.prompt_tokens + turn.generated >= b_.info().n_ctx) {
      stats.stop = StopReason::context_full;
    }
  }

  stats.total_ms = ms_since(turn.start);
  stats.gen_tokens = turn.finished && turn.perf.generate_tokens > 0 ? turn.perf.generate_tokens : turn.generated;
  stats.prefill_ms = double{turn.perf.prefill_time_ms};
  stats.decode_ms = turn.finished ? double{turn.perf.generate_time_ms} : stats.total_ms - stats.ttft_ms;
  stats.memory_bytes = static_cast<uint64_t>(static_cast<double>(turn.perf.memory_usage_mb) * 1024.0 * 1024.0);
  if (token_mode_) {
    held_.assign(input.tokens.begin(), input.tokens.end());
    held_.insert(held_.end(), turn.ids.begin(), turn.ids.end());
    history_known_ = stats.stop == StopReason::eos && !turn.runaway;
  } else {
    stats.prompt_tokens = text_tokens_ + turn.perf.prefill_tokens;
    text_tokens_ += turn.perf.prefill_tokens + stats.gen_tokens;
  }
  return stats;
}

}  // namespace

std::unique_ptr<Conversation> make_conversation(RkllmBackend& backend) {
  return std::make_unique<RkllmConversation>(backend);
}

}  // namespace rkchat::backends::rkllm
