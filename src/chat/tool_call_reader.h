// Reads the body of one <tool_call> block as it arrives, so that a call can be streamed: once the text before
// the arguments object is a JSON prefix with a "name" ({"name": "f", "arguments": {), the call is announced and
// the arguments' text follows in fragments, whitespace outside strings dropped; their concatenation is the
// call's final arguments string. Calls written otherwise (arguments first, arguments as a JSON string, no
// arguments) are checked whole at the end and sent in one piece; a body that is not a call stays text.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rkchat::chat {

struct ToolCall {
  std::string name;
  nlohmann::json arguments;    // object ({} when the model's arguments were not a JSON object)
  std::string arguments_text;  // the arguments as JSON text, exactly what was streamed
};

// A piece of a streamed call: the first names it (name set, arguments empty), the others add arguments text.
struct ToolCallDelta {
  size_t index = 0;  // which call of the answer, from 0
  std::string name;
  std::string arguments;
};

class ToolCallReader {
 public:
  explicit ToolCallReader(size_t index) : index_(index) {}
  // More of the body; appends the fragments now known to `out`.
  void push(std::string_view text, std::vector<ToolCallDelta>& out);
  // The body is over (closing tag or end of the answer). A call announced while streaming stays a call: its
  // arguments are what was streamed (cut short if the answer was), text after its JSON object goes to `rest`.
  // Otherwise the whole body must be a call, or nullopt (the caller keeps the body as text).
  std::optional<ToolCall> finish(std::vector<ToolCallDelta>& out, std::string& rest);
  const std::string& body() const { return body_; }

 private:
  void scan(size_t from, std::string& args);
  bool announce(size_t at);

  size_t index_;
  std::string body_;
  int depth_ = 0;  // of objects and arrays, outside strings
  bool in_string_ = false, escaped_ = false;
  enum class Phase { head, arguments, tail } phase_ = Phase::head;
  std::string name_;                       // set once announced
  std::string arguments_;                  // streamed so far
  size_t object_end_ = std::string::npos;  // where the top-level object closed
};

}  // namespace rkchat::chat
