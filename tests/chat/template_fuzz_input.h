// Shared by the template fuzzer (tests/fuzz/fuzz_template.cpp) and its CTest smoke run: one conversation that
// reaches most branches of real templates, and a render that only lets TemplateError out.
#pragma once

#include <string>

#include "chat/template.h"

namespace rkchat::chat::fuzz {

inline const nlohmann::ordered_json& conversation() {
  static const auto messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Zürich?"},
    {"role": "assistant", "content": "<think>\nneed a tool\n</think>\n\n", "tool_calls": [
      {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
    {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21}"},
    {"role": "assistant", "content": "21 degrees."},
    {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
  ])");
  return messages;
}

inline const nlohmann::ordered_json& tools() {
  static const auto tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {
    "name": "get_weather", "description": "Weather now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  return tools;
}

// A smaller work budget than a real render's, so that hostile inputs stop within a fraction of a second under
// the sanitizers; the budget is the same mechanism at any size.
inline constexpr uint64_t kFuzzMaxWork = 16'000'000;

// Parses and renders `source`; a TemplateError is an expected outcome for bad input, anything else escapes.
inline bool render_untrusted(const std::string& source) {
  try {
    ChatTemplate tmpl(source);
    tmpl.set_strftime_now([](const std::string&) { return std::string("26 Jul 2024"); });
    tmpl.set_max_work(kFuzzMaxWork);
    nlohmann::ordered_json vars = {
        {"add_generation_prompt", true}, {"enable_thinking", false}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    tmpl.render(conversation(), tools(), vars);
    return true;
  } catch (const TemplateError&) {
    return false;
  }
}

}  // namespace rkchat::chat::fuzz
