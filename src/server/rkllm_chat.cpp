#include "server/rkllm_chat.h"

#include <cstdint>
#include <vector>

#include "server/openai.h"

namespace rkchat::server::rkllm_chat {
namespace {

// The client prints choices[-1].delta.content of every object whose finish_reason is not "stop", so every object
// has exactly one choice with a content string; the reasoning goes into the content between the tags the model
// wrote (the reference server passed the model's text through), so nothing the model said is lost.
class Stream : public StreamFormat {
 public:
  explicit Stream(std::string model) : model_(std::move(model)), created_(unix_time()) {}

  std::string content_type() const override { return "text/plain; charset=utf-8"; }

  std::string delta(int choice, const chat::OutputDelta& d) override {
    std::string text;
    if (!d.reasoning.empty()) {
      if (!in_think(choice)) text += "<think>\n";
      in_think(choice) = 1;
      text += d.reasoning;
    }
    if (!d.content.empty()) {
      text += close_think(choice);
      text += d.content;
    }
    return text.empty() ? "" : line(chunk(choice, text, nullptr));
  }

  std::string end(const Generation& g) override {
    std::string out;
    const auto& outcomes = g.outcomes();
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const int choice = static_cast<int>(i);
      std::string rest = close_think(choice);
      for (const auto& c : outcomes[i].tool_calls)
        rest += "<tool_call>\n" + dump(ojson{{"name", c.name}, {"arguments", ojson(c.arguments)}}) + "\n</tool_call>";
      if (!rest.empty()) out += line(chunk(choice, rest, nullptr));
      auto last = chunk(choice, "", finish_reason(outcomes[i]));
      if (i + 1 == outcomes.size()) last["usage"] = openai::usage(g);
      out += line(last);
    }
    return out;
  }

  // Printed by the client (its finish_reason is not "stop"), and an "error" member for programs.
  std::string error(const std::string& message) override {
    auto j = chunk(0, "\n[error: " + message + "]", "error");
    j["error"] = {{"code", 500}, {"message", message}, {"type", "server_error"}};
    return line(j);
  }

 private:
  static std::string line(const ojson& j) { return dump(j) + "\n\n"; }

  ojson chunk(int choice, const std::string& content, ojson finish) const {
    return {{"id", "rkllm_chat"},
            {"object", "rkllm_chat"},
            {"created", created_},
            {"model", model_},
            {"choices", ojson::array({{{"index", choice},
                                       {"delta", {{"role", "assistant"}, {"content", content}}},
                                       {"logprobs", nullptr},
                                       {"finish_reason", std::move(finish)}}})}};
  }

  uint8_t& in_think(int choice) {
    if (static_cast<size_t>(choice) >= thinking_.size()) thinking_.resize(static_cast<size_t>(choice) + 1, 0);
    return thinking_[static_cast<size_t>(choice)];
  }
  std::string close_think(int choice) {
    if (!in_think(choice)) return "";
    in_think(choice) = 0;
    return "\n</think>\n\n";
  }

  std::string model_;
  int64_t created_;
  std::vector<uint8_t> thinking_;  // per choice: a <think> block is open in the content sent
};

}  // namespace

ChatRequest parse(const ojson& body) {
  ChatRequest r = openai::parse_chat(body);
  const auto kwargs = body.find("chat_template_kwargs");
  const bool asked = body.contains("enable_thinking") ||
                     (kwargs != body.end() && kwargs->is_object() && kwargs->contains("enable_thinking"));
  if (!asked) r.enable_thinking = false;
  read_bool(body, "enable_thinking", r.enable_thinking);
  return r;
}

std::shared_ptr<StreamFormat> stream_format(const std::string& model) { return std::make_shared<Stream>(model); }

}  // namespace rkchat::server::rkllm_chat
