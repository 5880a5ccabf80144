// Chat templates: renders a model's Jinja template (tokenizer.chat_template) for a conversation, as Hugging Face
// transformers does (trim_blocks, lstrip_blocks, loopcontrols, raise_exception, strftime_now, tojson).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace rkchat::chat {

// A template that cannot be parsed or rendered. `refused` is true when the template itself refused the input
// through raise_exception(msg); message() is then exactly msg. what() names the culprit for a caller that prints
// it as it is: "chat template raised: msg" for a refusal, "chat template: line L, column C: ..." otherwise.
class TemplateError : public std::runtime_error {
 public:
  TemplateError(const std::string& msg, bool refused)
      : std::runtime_error((refused ? "chat template raised: " : "chat template: ") + msg),
        message_(msg),
        refused_(refused) {}
  bool refused() const { return refused_; }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  bool refused_;
};

class ChatTemplate {
 public:
  // Parses once; throws TemplateError (with line:column) on a syntax error.
  explicit ChatTemplate(const std::string& source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // messages: [{"role", "content", ...}], tools: array or null; vars: extra variables such as
  // add_generation_prompt, enable_thinking, bos_token, eos_token (they override defaults).
  // Defaults as transformers sets them: tools and documents None, add_generation_prompt false.
  std::string render(const nlohmann::json& messages, const nlohmann::json& tools, const nlohmann::json& vars) const;
  // The same over ordered_json, which keeps the key order of the input: tojson of a tool schema then writes
  // the keys in the order the client sent them, as transformers does (nlohmann::json sorts keys).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     const nlohmann::ordered_json& vars) const;

  // What strftime_now(fmt) returns; by default the local time formatted by strftime. Tests pin the date.
  void set_strftime_now(std::function<std::string(const std::string& fmt)> fn);
  // The work budget of each render (default 128M units, about a byte each; see jinja::kMaxWork). The fuzzers
  // lower it so that hostile inputs stop sooner under the sanitizers.
  void set_max_work(uint64_t units);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The built-in ChatML template used when a model ships none.
const std::string& chatml_template();

}  // namespace rkchat::chat
