#include "chat/tool_call_reader.h"

#include "chat/json_input.h"

namespace rkchat::chat {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

// JSON the model wrote, or null when it is not JSON or nests too deeply to handle safely (a model can be made to
// write 10^5 brackets).
nlohmann::json parse_or_null(std::string_view text) {
  try {
    return parse_json_input(text);
  } catch (const JsonInputError&) {
    return nullptr;
  }
}

// {"name": ..., "arguments": {...}} (arguments may also be a JSON string holding the object, or "parameters").
bool parse_tool_call(const std::string& body, ToolCall& out) {
  auto j = parse_or_null(body);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  nlohmann::json args = j.contains("arguments") ? j["arguments"] : j.value("parameters", nlohmann::json::object());
  if (args.is_string()) args = parse_or_null(args.get<std::string>());
  if (args.is_null()) args = nlohmann::json::object();
  if (!args.is_object()) return false;
  out.name = j["name"].get<std::string>();
  out.arguments = std::move(args);
  return true;
}

}  // namespace

// `at` holds a '{' one level into the body's object: it opens the arguments if the text before it is
// `{..."arguments":` (or "parameters") and, with the value taken as null, a JSON object with a string "name".
bool ToolCallReader::announce(size_t at) {
  std::string_view head = trim(std::string_view(body_).substr(0, at));
  if (!head.ends_with(':')) return false;
  head.remove_suffix(1);
  head = trim(head);
  if (!head.ends_with("\"arguments\"") && !head.ends_with("\"parameters\"")) return false;
  auto j = parse_or_null(body_.substr(0, at) + "null}");
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  name_ = j["name"].get<std::string>();
  return true;
}

// Follows strings and nesting from byte `from`; the arguments' bytes (minus whitespace outside strings) go to
// `args`. Stops where the top-level object closes: what follows is not part of the call.
void ToolCallReader::scan(size_t from, std::string& args) {
  for (size_t i = from; i < body_.size() && object_end_ == std::string::npos; ++i) {
    const char c = body_[i];
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      if (phase_ == Phase::arguments) args += c;
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (c == '{' && phase_ == Phase::head && depth_ == 1 && announce(i)) phase_ = Phase::arguments;
      ++depth_;
    } else if (c == '}' || c == ']') {
      --depth_;
      if (depth_ == 0) object_end_ = i + 1;
    }
    if (phase_ == Phase::arguments && !is_ws(c)) args += c;
    if (phase_ == Phase::arguments && depth_ == 1) phase_ = Phase::tail;
  }
}

void ToolCallReader::push(std::string_view text, std::vector<ToolCallDelta>& out) {
  const size_t from = body_.size();
  body_.append(text);
  const bool was_announced = phase_ != Phase::head;
  std::string args;
  scan(from, args);
  if (!was_announced && phase_ != Phase::head) out.push_back({index_, name_, ""});
  if (!args.empty()) {
    arguments_ += args;
    out.push_back({index_, "", std::move(args)});
  }
}

std::optional<ToolCall> ToolCallReader::finish(std::vector<ToolCallDelta>& out, std::string& rest) {
  if (phase_ != Phase::head) {
    if (object_end_ != std::string::npos) rest = trim(std::string_view(body_).substr(object_end_));
    auto args = parse_or_null(arguments_);
    return ToolCall{name_, args.is_object() ? std::move(args) : nlohmann::json::object(), arguments_};
  }
  ToolCall call;
  if (!parse_tool_call(body_, call)) return std::nullopt;
  call.arguments_text = call.arguments.dump();
  out.push_back({index_, call.name, ""});
  out.push_back({index_, "", call.arguments_text});
  return call;
}

}  // namespace rkchat::chat
