#include "runtime/chat_session.h"

#include <algorithm>
#include <string_view>

#include "runtime/chat_prompt.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {
namespace {

// Tokens kept free for the answer when deciding whether the conversation still fits.
int answer_reserve(const backends::GenerateOptions& g, int n_ctx) {
  return g.max_tokens > 0 ? std::min(g.max_tokens, n_ctx / 2) : std::min(256, n_ctx / 4);
}

}  // namespace

ChatSession::ChatSession(backends::Backend& backend, SessionOptions options)
    : backend_(backend), tok_(backend.tokenizer()), options_(std::move(options)) {
  const auto caps = backend_.capabilities();
  uses_tokens_ = caps.token_input && tok_ != nullptr;
  if (!uses_tokens_ && !caps.text_input) {
    throw backends::Error(
        backend_.info().path +
        ": the model carries no tokenizer (no tokenizer.ggml.model metadata), so text cannot be "
        "turned into tokens; use a GGUF that carries its tokenizer, or give token ids (--prompt-ids)");
  }
  if (uses_tokens_) template_.emplace(template_for(*tok_, &template_warning_));
  conv_ = backend_.start_conversation();
}

ChatSession::~ChatSession() = default;

void ChatSession::abort() { conv_->abort(); }

void ChatSession::reset() {
  history_ = nlohmann::json::array();
  conv_->clear();
}

nlohmann::json ChatSession::messages_with(const std::string& user_text) const {
  auto messages = nlohmann::json::array();
  if (!options_.system.empty()) messages.push_back({{"role", "system"}, {"content", options_.system}});
  for (const auto& m : history_) messages.push_back(m);
  messages.push_back({{"role", "user"}, {"content", user_text}});
  return messages;
}

std::vector<int32_t> ChatSession::encode(const nlohmann::json& messages, bool* opens_reasoning) const {
  return encode_chat(*tok_, *template_, nlohmann::ordered_json(messages), nullptr, options_.enable_thinking,
                     opens_reasoning);
}

void ChatSession::drop_oldest_turn() {
  // A turn is a user message and whatever follows it up to the next user message.
  auto end = history_.begin() + 1;
  while (end != history_.end() && (*end)["role"] != "user") ++end;
  history_.erase(history_.begin(), end);
}

std::vector<int32_t> ChatSession::fit_to_context(const std::string& user_text, bool& opens_reasoning, int& dropped) {
  const int n_ctx = backend_.info().n_ctx;
  const int limit = n_ctx - answer_reserve(options_.generate, n_ctx);
  auto ids = encode(messages_with(user_text), &opens_reasoning);
  while (static_cast<int>(ids.size()) > limit && !history_.empty()) {
    drop_oldest_turn();
    ++dropped;
    ids = encode(messages_with(user_text), &opens_reasoning);
  }
  if (n_ctx > 0 && static_cast<int>(ids.size()) >= n_ctx) {
    throw backends::Error("the message does not fit the context: the prompt is " + std::to_string(ids.size()) +
                          " tokens, the context holds " + std::to_string(n_ctx) +
                          " (shorten the message or the system prompt, or raise -c/--ctx-size)");
  }
  return ids;
}

TurnResult ChatSession::send(const std::string& user_text, const DeltaSink& sink) {
  backends::TurnInput input;
  input.text = user_text;
  input.system = options_.system;
  input.enable_thinking = options_.enable_thinking;
  bool opens_reasoning = false;
  int dropped = 0;
  if (uses_tokens_) input.tokens = fit_to_context(user_text, opens_reasoning, dropped);

  auto r = stream_turn(*conv_, input, options_.generate, options_.stop, chat::OutputParser(opens_reasoning), sink);
  r.dropped_turns = dropped;
  history_.push_back({{"role", "user"}, {"content", user_text}});
  history_.push_back({{"role", "assistant"}, {"content", r.content}});

  totals_.turns++;
  totals_.prompt_new += r.stats.prompt_tokens - r.stats.cached_tokens;
  totals_.prompt_cached += r.stats.cached_tokens;
  totals_.generated += r.stats.gen_tokens;
  totals_.prefill_ms += r.stats.prefill_ms;
  totals_.decode_ms += r.stats.decode_ms;
  totals_.dropped_turns += dropped;
  return r;
}

}  // namespace rkchat::runtime
