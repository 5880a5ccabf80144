// One request running on a model's engine: builds the prompt (chat template, tools, thinking switch), submits
// n answers, and hands their updates to the API's formatter as they come. Shared by every API.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/api_error.h"
#include "server/models.h"
#include "server/request.h"

namespace rkchat::server {

// What one answer came to.
struct Outcome {
  std::string content;
  std::string reasoning;
  std::vector<chat::ToolCall> tool_calls;
  backends::TurnStats stats;
  bool stop_string = false;
  bool failed = false;
  std::string error;  // when failed
};

// The engine's refusal as the status and type every API reports: 400 (exceed_context_size_error when the prompt
// does not fit), 503 (queue full, with Retry-After), 500.
ApiError to_api_error(const runtime::EngineError& e);

// "stop" | "length" | "tool_calls" as OpenAI names why an answer ended ("length" when a limit cut it, even in
// the middle of a tool call).
std::string finish_reason(const Outcome& o);

class Generation {
 public:
  // Throws ApiError: 400 (bad prompt, prompt too long: exceed_context_size_error), 503 (queue full).
  Generation(std::shared_ptr<LoadedModel> model, const ChatRequest& request);
  ~Generation();  // cancels what is still running

  // Waits up to `timeout` for progress; calls on_delta(choice, delta) for each non-empty piece in order.
  // Returns true once every answer is done.
  using DeltaFn = std::function<void(int choice, const chat::OutputDelta& delta)>;
  bool poll(std::chrono::milliseconds timeout, const DeltaFn& on_delta);
  // Runs to the end (non-streamed answers).
  void finish();
  void cancel();

  const std::vector<Outcome>& outcomes() const { return outcomes_; }
  bool failed() const;
  int prompt_tokens() const { return prompt_tokens_; }
  const LoadedModel& model() const { return *model_; }
  double first_token_ms() const { return ttft_ms_; }  // -1 until the first piece

 private:
  std::shared_ptr<LoadedModel> model_;
  std::vector<std::shared_ptr<runtime::Request>> requests_;
  std::vector<Outcome> outcomes_;
  std::vector<bool> done_;
  int prompt_tokens_ = 0;
  std::chrono::steady_clock::time_point start_, deadline_;
  double ttft_ms_ = -1;
};

// The prompt tokens of a conversation for this model (count_tokens); throws ApiError 400.
std::vector<int32_t> encode_request(const LoadedModel& model, const ChatRequest& request, bool* opens_reasoning);

}  // namespace rkchat::server
