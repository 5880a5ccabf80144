#include "server/generation.h"

#include "chat/template.h"
#include "runtime/chat_prompt.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::server {
namespace {

using Clock = std::chrono::steady_clock;

// The text form for backends that template the conversation themselves (RKLLM without a tokenizer): the last
// user message, with the system prompt.
backends::TurnInput text_turn(const ChatRequest& r) {
  backends::TurnInput in;
  in.enable_thinking = r.enable_thinking;
  if (r.prompt) {
    in.text = *r.prompt;
    return in;
  }
  for (const auto& m : r.messages) {
    if (m["role"] == "system") in.system = m["content"].get<std::string>();
    if (m["role"] == "user") in.text = m["content"].get<std::string>();
  }
  return in;
}

}  // namespace

ApiError to_api_error(const runtime::EngineError& e) {
  switch (e.kind()) {
    case runtime::ErrorKind::bad_request:
      if (e.n_ctx() > 0) {
        ApiError a(400, "exceed_context_size_error", e.what());
        a.n_prompt_tokens = e.n_prompt_tokens();
        a.n_ctx = e.n_ctx();
        return a;
      }
      return bad_request(e.what());
    case runtime::ErrorKind::overloaded: {
      ApiError a(503, "unavailable_error", e.what());
      a.retry_after_s = 1;
      return a;
    }
    case runtime::ErrorKind::failure:
      break;
  }
  return ApiError(500, "server_error", e.what());
}

std::string finish_reason(const Outcome& o) {
  // A stop string ends the answer itself; a limit cuts it, and a tool call cut by it is incomplete: "length".
  if (o.stop_string) return o.tool_calls.empty() ? "stop" : "tool_calls";
  switch (o.stats.stop) {
    case backends::StopReason::max_tokens:
    case backends::StopReason::context_full:
      return "length";
    default:
      return o.tool_calls.empty() ? "stop" : "tool_calls";
  }
}

std::vector<int32_t> encode_request(const LoadedModel& model, const ChatRequest& r, bool* opens_reasoning) {
  const auto* tok = model.backend().tokenizer();
  if (!tok || !model.tmpl) throw bad_request("this model takes text: its tokens cannot be counted");
  if (opens_reasoning) *opens_reasoning = false;
  if (r.prompt) return tok->encode(*r.prompt, /*parse_special=*/false, tok->add_bos());
  try {
    return runtime::encode_chat(*tok, *model.tmpl, r.messages, r.tools, r.enable_thinking, opens_reasoning);
  } catch (const chat::TemplateError& e) {
    throw bad_request(std::string("the chat template refused the conversation: ") + e.what());
  }
}

Generation::Generation(std::shared_ptr<LoadedModel> model, const ChatRequest& r)
    : model_(std::move(model)), start_(Clock::now()) {
  deadline_ = r.deadline.count() > 0 ? start_ + r.deadline : Clock::time_point::max();
  const int parallel = model_->engine->options().parallel;
  if (r.n < 1 || r.n > parallel) throw bad_request("'n' must be between 1 and " + std::to_string(parallel));
  runtime::RequestOptions base;
  bool opens_reasoning = false;
  const bool tokens = model_->backend().capabilities().token_input && model_->tmpl;
  if (tokens) {
    base.prompt = encode_request(*model_, r, &opens_reasoning);
    prompt_tokens_ = static_cast<int>(base.prompt.size());
  } else {
    base.text_input = text_turn(r);
    base.new_conversation = true;
  }
  base.generate = r.generate;
  base.stop = r.stop;
  if (!r.prompt) base.parser.emplace(opens_reasoning);
  try {
    for (int i = 0; i < r.n; ++i) {
      auto o = base;
      o.generate.sampling.seed += static_cast<uint64_t>(i);  // n answers, not n copies of one
      requests_.push_back(model_->engine->submit(std::move(o)));
    }
  } catch (const runtime::EngineError& e) {
    for (auto& q : requests_) q->cancel();
    throw to_api_error(e);
  }
  outcomes_.resize(requests_.size());
  done_.assign(requests_.size(), false);
}

Generation::~Generation() { cancel(); }

void Generation::cancel() {
  for (auto& q : requests_)
    if (!q->finished()) q->cancel();
}

bool Generation::failed() const {
  for (const auto& o : outcomes_)
    if (o.failed) return true;
  return false;
}

bool Generation::poll(std::chrono::milliseconds timeout, const DeltaFn& on_delta) {
  if (Clock::now() > deadline_) cancel();
  bool all_done = true;
  const auto each = requests_.size() > 1 ? std::chrono::milliseconds(1) : timeout;
  for (size_t i = 0; i < requests_.size(); ++i) {
    if (done_[i]) continue;
    auto& out = outcomes_[i];
    for (auto& u : requests_[i]->wait(each)) {
      if (!u.delta.empty()) {
        if (ttft_ms_ < 0) ttft_ms_ = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
        out.reasoning += u.delta.reasoning;
        out.content += u.delta.content;
        if (on_delta) on_delta(static_cast<int>(i), u.delta);
      }
      if (!u.done) continue;
      done_[i] = true;
      out.stats = u.stats;
      out.tool_calls = std::move(u.tool_calls);
      out.stop_string = u.stop_string;
      if (u.error) {
        out.failed = true;
        out.error = u.stats.error.empty() ? runtime::error_kind_name(*u.error) : u.stats.error;
      }
    }
    all_done = all_done && done_[i];
  }
  return all_done;
}

void Generation::finish() {
  while (!poll(std::chrono::milliseconds(200), nullptr)) {
  }
}

}  // namespace rkchat::server
