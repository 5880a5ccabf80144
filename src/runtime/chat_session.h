// A multi-turn conversation with a model: keeps the messages (JSON, as chat templates take them), renders the
// model's chat template over the whole conversation each turn and submits it as tokens to the serving engine,
// whose prompt cache reuses the prefix and processes only the new tokens. Backends without token input get the
// new text (and keep the history themselves).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "chat/template.h"
#include "runtime/engine.h"
#include "runtime/turn.h"

namespace rkchat::runtime {

struct SessionOptions {
  std::string system;  // "" for none
  bool enable_thinking = true;
  std::vector<std::string> stop;
  backends::GenerateOptions generate;
};

// Running sums over the session, for /stats.
struct SessionTotals {
  int turns = 0;
  int64_t prompt_new = 0;     // prompt tokens processed
  int64_t prompt_cached = 0;  // prompt tokens reused from the cache
  int64_t generated = 0;
  double prefill_ms = 0;
  double decode_ms = 0;
  int dropped_turns = 0;
};

class ChatSession {
 public:
  ChatSession(Engine& engine, SessionOptions options);
  ~ChatSession();

  // Sends a user message and streams the answer. Throws backends::Error when the message alone does not fit
  // the context (it is never cut), EngineError when the engine refuses or fails the turn, and
  // chat::TemplateError when the template refuses the conversation.
  TurnResult send(const std::string& user_text, const DeltaSink& sink);
  // Thread-safe: stops the answer being generated (Ctrl-C).
  void abort();
  // Forgets the conversation (the system prompt stays).
  void reset();

  SessionOptions& options() { return options_; }
  const nlohmann::json& history() const { return history_; }
  const SessionTotals& totals() const { return totals_; }
  int cached_tokens() const { return cached_tokens_; }  // what the engine's cache holds of this conversation
  bool uses_tokens() const { return uses_tokens_; }
  // Why the model's own template is not used ("" when it is).
  const std::string& template_warning() const { return template_warning_; }

  // The token ids of messages rendered with the template (generation prompt added). Message contents are
  // encoded as plain text, so a user who types "<|im_end|>" gets those characters, not the control token.
  std::vector<int32_t> encode(const nlohmann::json& messages, bool* opens_reasoning = nullptr) const;

 private:
  nlohmann::json messages_with(const std::string& user_text) const;
  std::vector<int32_t> fit_to_context(const std::string& user_text, bool& opens_reasoning, int& dropped);
  void drop_oldest_turn();

  Engine& engine_;
  const backends::Backend& backend_;
  const tok::Tokenizer* tok_ = nullptr;
  SessionOptions options_;
  std::mutex request_mu_;
  std::shared_ptr<Request> request_;  // the turn being generated, for abort()
  int cached_tokens_ = 0;
  bool new_conversation_ = true;
  std::optional<chat::ChatTemplate> template_;
  std::string template_warning_;
  bool uses_tokens_ = false;
  nlohmann::json history_ = nlohmann::json::array();  // user and assistant messages, oldest first
  SessionTotals totals_;
};

}  // namespace rkchat::runtime
