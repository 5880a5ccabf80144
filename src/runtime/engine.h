// The serving engine: the sole owner of a loaded backend, with one loop thread that runs every request.
//
// Main idea: N conversations share each pass over the weights (continuous batching). Each step of the loop takes
// one decode row from every active request plus a bounded chunk of waiting prompt tokens
// (EngineOptions::batch_tokens), sends them through the weights in one pass, then samples for each request with
// its own sampler, stream decoder, stop strings and output parser. Requests join and leave between steps; a long
// prompt is processed in chunks between the decode steps of the others, so running streams keep flowing.
//
// Prompt cache: a new request takes the free slot whose cached tokens share the longest prefix with its prompt
// (chat clients resend the whole history, agents the same system prompt) and computes only the rest; when no slot
// shares a prefix the least recently used one is taken. A request may also seed its slot by copying the keys and
// values of a common prefix that another slot holds (the same prompt sent n times is computed once).
//
// Backends that cannot step (RKLLM: turn-based, capabilities().batching false) get the same interface: the
// engine runs their requests one at a time, in order, through Conversation::generate.
//
// Threads: submit(), stats() and everything on Request are thread-safe. The loop never waits for a consumer:
// updates are queued on the request and the consumer picks them up with Request::wait().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "chat/output_parser.h"
#include "runtime/turn.h"

namespace rkchat::runtime {

// What a server maps to a status code, without parsing messages.
enum class ErrorKind {
  bad_request,  // the request cannot be served as sent (prompt longer than the context, bad ids or options): 400
  overloaded,   // all slots busy and the queue full: try again later, 503
  failure,      // the model or runtime failed: 500
};
const char* error_kind_name(ErrorKind kind);  // "bad_request" | "overloaded" | "failure"

class EngineError : public backends::Error {
 public:
  EngineError(ErrorKind kind, const std::string& message, int n_prompt_tokens = 0, int n_ctx = 0)
      : backends::Error(message), kind_(kind), n_prompt_tokens_(n_prompt_tokens), n_ctx_(n_ctx) {}
  ErrorKind kind() const { return kind_; }
  // For a prompt that does not fit (bad_request): its length and the context; 0 otherwise.
  int n_prompt_tokens() const { return n_prompt_tokens_; }
  int n_ctx() const { return n_ctx_; }

 private:
  ErrorKind kind_;
  int n_prompt_tokens_, n_ctx_;
};

struct EngineOptions {
  int parallel = 4;        // requests generating at once (each holds one KV slot of the backend)
  int queue = 16;          // requests waiting beyond those; once full, submit() throws overloaded
  int batch_tokens = 256;  // most prompt tokens per step, shared by the waiting prompts (decode rows come first)
};

struct RequestOptions {
  // Token-input backends: the whole prompt, chat template applied, tokenized. The engine never cuts it: a prompt
  // that leaves no room for one generated token is refused (bad_request).
  std::vector<int32_t> prompt;
  // Text-input backends (capabilities().token_input false): the new turn; it continues the backend's own
  // conversation unless new_conversation.
  backends::TurnInput text_input;
  bool new_conversation = false;
  backends::GenerateOptions generate;        // sampling (incl. seed), max_tokens, ignore_eos
  std::vector<std::string> stop;             // stop strings: the answer ends before the first match
  std::optional<chat::OutputParser> parser;  // splits reasoning / content / tool calls; nullopt: all is content
};

// A piece of the answer, delivered in order. The last update of a request has done set and carries the summary.
struct Update {
  chat::OutputDelta delta;      // text now safe to show (stop strings held back, complete UTF-8 only)
  std::vector<int32_t> tokens;  // the ids generated since the previous update
  bool done = false;
  // When the engine queued it (Request::push): a consumer that reads late still sees when each token came.
  std::chrono::steady_clock::time_point queued_at;
  // Only when done:
  backends::TurnStats stats;  // prompt/cached/generated tokens, ttft_ms, prefill_ms, decode_ms, stop reason
  std::vector<chat::ToolCall> tool_calls;
  bool stop_string = false;        // a stop string ended the answer
  std::optional<ErrorKind> error;  // set when the request failed; stats.error says what
};

// The handle of one submitted request, shared by the engine and the consumer.
class Request {
 public:
  // The next updates in order; waits up to timeout for at least one; empty on timeout. After the update with
  // done has been returned, returns empty at once.
  std::vector<Update> wait(std::chrono::milliseconds timeout);
  // Thread-safe, from any thread: stop generating. The slot is freed within one step and a last update with
  // done (stop reason aborted) follows.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  bool finished() const;  // the done update has been queued

  // Used by the engine: queue updates and wake the consumer; what cancel() should also do (wake the loop, abort
  // a turn-based backend).
  void push(Update update);
  void on_cancel(std::function<void()> f);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Update> updates_;
  bool done_queued_ = false;
  bool done_taken_ = false;
  std::atomic<bool> cancelled_{false};
  std::function<void()> on_cancel_;
};

// Blocks until the request is done, calling sink with each delta; returns the whole answer.
// Throws EngineError when the request failed. For the console and benchmarks.
TurnResult collect(Request& request, const DeltaSink& sink);

// The answer to Engine::embed: one vector per input, in input order.
struct Embeddings {
  std::vector<std::vector<float>> vectors;  // [inputs][ModelInfo::n_embd], each of L2 norm 1 (or all zero)
  int prompt_tokens = 0;                    // over all inputs
};

// Why this backend cannot compute embeddings (a sentence for the client), or "" when it can.
std::string embed_refusal(const backends::Backend& backend);

// Figures since the engine started, for /metrics.
struct EngineStats {
  int parallel = 0;  // slots (1 for turn-based backends)
  int queue_capacity = 0;
  int active = 0;                  // requests holding a slot
  int queued = 0;                  // requests waiting for one
  uint64_t requests = 0;           // accepted by submit()
  uint64_t refused = 0;            // overloaded
  uint64_t failed = 0;             // ended with an error
  uint64_t prompt_tokens = 0;      // of accepted requests, cached ones included
  uint64_t cached_tokens = 0;      // prompt tokens reused from a slot's cache (or copied from another slot)
  uint64_t prompt_cache_hits = 0;  // requests that reused at least one token
  uint64_t generated_tokens = 0;
  uint64_t steps = 0;  // passes over the weights
};

class Engine {
 public:
  // Takes the backend (the engine is its only user from then on) and starts the loop thread. A stepping backend
  // must offer at least options.parallel slots (backends::LoadOptions::max_sequences). Throws EngineError
  // (bad_request) for options out of range.
  Engine(std::unique_ptr<backends::Backend> backend, EngineOptions options = {});
  // Cancels every request (each gets its done update) and joins the loop.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // For info(), tokenizer() and capabilities(); never to generate.
  const backends::Backend& backend() const { return *backend_; }
  const EngineOptions& options() const { return options_; }

  // Queues a request and returns its handle at once. Throws EngineError: bad_request for a prompt that does not
  // fit the context (with its length and the context), an empty prompt or ids outside the vocabulary; overloaded
  // when the queue is full.
  std::shared_ptr<Request> submit(RequestOptions options);

  // Embeddings of token sequences (capabilities().embeddings), pooled as the model's metadata says
  // (ModelInfo::pooling) and L2-normalized. Blocks until done. They go through the loop like any request: one
  // input per step, in the free slot used least recently (which then holds that input, like a prompt), between
  // the steps of the generating requests; no sampling. Throws EngineError: bad_request when the model does not
  // embed, for no inputs, an empty one, ids outside the vocabulary or an input longer than the context (with its
  // length and the context); overloaded when the queue is full or the engine stops first; failure when the
  // backend fails.
  Embeddings embed(std::vector<std::vector<int32_t>> inputs);

  EngineStats stats() const;

  struct Impl;  // the loop's state (engine_*.cpp)

 private:
  std::unique_ptr<backends::Backend> backend_;
  EngineOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rkchat::runtime
