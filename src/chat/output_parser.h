// Splits what a model generates into reasoning (Qwen3's <think>...</think>), the answer, and tool calls
// (<tool_call>{"name": ..., "arguments": ...}</tool_call>), also while streaming: text that might be the start
// of a tag is held back until it is known not to be one. Whitespace around the tags is not part of the reasoning
// or the answer: "<think>\nwhy\n</think>\n\nanswer" gives reasoning "why" and content "answer". Tool calls
// stream as ToolCallReader reads them; a <tool_call> whose body is not a JSON object with a "name" stays in the
// content as it was written, and so does text after a call's object inside its block.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/tool_call_reader.h"

namespace rkchat::chat {

struct OutputDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;  // fragments of the calls, in order
  std::vector<ToolCall> calls_done;       // each call once, whole, when its block ends

  bool empty() const;
  // `more` after this one; consecutive arguments fragments of a call become one (its first fragment stays apart).
  void append(OutputDelta&& more);
};

class OutputParser {
 public:
  // in_reasoning: the prompt already opened a <think> block (some templates end the prompt with "<think>\n").
  explicit OutputParser(bool in_reasoning = false);
  OutputDelta push(std::string_view text);
  OutputDelta finish();  // releases what was held back (an unterminated tool call ends as ToolCallReader says)
  const std::vector<ToolCall>& tool_calls() const { return tool_calls_; }
  bool in_reasoning() const { return in_reasoning_; }

 private:
  bool in_reasoning_;
  std::string held_;      // possible start of a tag, and trailing whitespace that a tag may make redundant
  bool skip_ws_ = false;  // drop the whitespace that follows <think>, </think> and </tool_call>
  std::optional<ToolCallReader> call_;  // the open <tool_call>
  std::vector<ToolCall> tool_calls_;

  void end_call(OutputDelta& d, bool closed);
};

}  // namespace rkchat::chat
