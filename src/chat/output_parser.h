// Splits what a model generates into reasoning (Qwen3's <think>...</think>), the answer, and tool calls
// (<tool_call>{"name": ..., "arguments": ...}</tool_call>), also while streaming: text that might be the start
// of a tag is held back until it is known not to be one. Whitespace around the tags is not part of the reasoning
// or the answer: "<think>\nwhy\n</think>\n\nanswer" gives reasoning "why" and content "answer". A <tool_call>
// whose body is not a JSON object with a "name" stays in the content as it was written.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rkchat::chat {

struct ToolCall {
  std::string name;
  nlohmann::json arguments;  // object
};

struct OutputDelta {
  std::string reasoning;
  std::string content;
};

class OutputParser {
 public:
  // in_reasoning: the prompt already opened a <think> block (some templates end the prompt with "<think>\n").
  explicit OutputParser(bool in_reasoning = false);
  OutputDelta push(std::string_view text);
  OutputDelta finish();  // releases what was held back (an unterminated tool call: parsed if it is complete JSON)
  const std::vector<ToolCall>& tool_calls() const { return tool_calls_; }
  bool in_reasoning() const { return in_reasoning_; }

 private:
  bool in_reasoning_;
  bool in_tool_call_ = false;
  std::string held_;      // possible start of a tag, and trailing whitespace that a tag may make redundant
  bool skip_ws_ = false;  // drop the whitespace that follows <think>, </think> and </tool_call>
  std::string tool_buf_;  // body of the open <tool_call>
  std::vector<ToolCall> tool_calls_;
};

}  // namespace rkchat::chat
