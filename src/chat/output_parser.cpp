#include "chat/output_parser.h"

#include <algorithm>
#include <array>

#include "chat/json_input.h"

namespace rkchat::chat {

namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kToolOpen = "<tool_call>";
constexpr std::string_view kToolClose = "</tool_call>";

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest suffix of `text` that is a proper prefix of one of `tags`: it may become a tag.
size_t partial_tag_len(std::string_view text, std::initializer_list<std::string_view> tags) {
  size_t best = 0;
  for (auto tag : tags) {
    for (size_t n = std::min(text.size(), tag.size() - 1); n > best; --n) {
      if (text.substr(text.size() - n) == tag.substr(0, n)) {
        best = n;
        break;
      }
    }
  }
  return best;
}

size_t trailing_ws_len(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && is_ws(text[text.size() - 1 - n])) ++n;
  return n;
}

// JSON the model wrote, or null when it is not JSON or nests too deeply to handle safely (a model can be made to
// write 10^5 brackets).
nlohmann::json parse_or_null(const std::string& text) {
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

OutputParser::OutputParser(bool in_reasoning) : in_reasoning_(in_reasoning), skip_ws_(in_reasoning) {}

OutputDelta OutputParser::push(std::string_view text) {
  std::string buf = held_;
  buf.append(text);
  held_.clear();
  OutputDelta d;
  // Text of the current channel; `closed`: a tag follows, so trailing whitespace is dropped.
  auto emit = [&](std::string_view piece, bool closed) {
    if (skip_ws_) {
      size_t lead = 0;
      while (lead < piece.size() && is_ws(piece[lead])) ++lead;
      piece.remove_prefix(lead);
      if (!piece.empty()) skip_ws_ = false;
    }
    if (closed) piece.remove_suffix(trailing_ws_len(piece));
    (in_reasoning_ ? d.reasoning : d.content).append(piece);
  };
  std::string_view rest = buf;
  while (!rest.empty()) {
    if (in_tool_call_) {
      size_t at = rest.find(kToolClose);
      if (at == std::string_view::npos) {
        size_t keep = partial_tag_len(rest, {kToolClose});
        tool_buf_.append(rest.substr(0, rest.size() - keep));
        held_ = rest.substr(rest.size() - keep);
        return d;
      }
      tool_buf_.append(rest.substr(0, at));
      rest.remove_prefix(at + kToolClose.size());
      ToolCall call;
      if (parse_tool_call(tool_buf_, call)) {
        tool_calls_.push_back(std::move(call));
      } else {
        d.content += std::string(kToolOpen) + tool_buf_ + std::string(kToolClose);
      }
      tool_buf_.clear();
      in_tool_call_ = false;
      skip_ws_ = true;
      continue;
    }
    // The tags that can start here: only the closing tag inside reasoning.
    std::array<std::string_view, 2> tags = {in_reasoning_ ? kThinkClose : kThinkOpen, kToolOpen};
    size_t n_tags = in_reasoning_ ? 1 : 2;
    size_t at = std::string_view::npos, which = 0;
    for (size_t t = 0; t < n_tags; ++t) {
      size_t p = rest.find(tags[t]);
      if (p < at) at = p, which = t;
    }
    if (at == std::string_view::npos) {
      size_t keep =
          in_reasoning_ ? partial_tag_len(rest, {kThinkClose}) : partial_tag_len(rest, {kThinkOpen, kToolOpen});
      keep += trailing_ws_len(rest.substr(0, rest.size() - keep));
      emit(rest.substr(0, rest.size() - keep), false);
      held_ = rest.substr(rest.size() - keep);
      return d;
    }
    emit(rest.substr(0, at), true);
    rest.remove_prefix(at + tags[which].size());
    if (which == 1) {
      in_tool_call_ = true;
    } else {
      in_reasoning_ = !in_reasoning_;
      skip_ws_ = true;
    }
  }
  return d;
}

OutputDelta OutputParser::finish() {
  OutputDelta d;
  if (in_tool_call_) {
    std::string body = tool_buf_ + held_;
    ToolCall call;
    if (parse_tool_call(body, call)) {
      tool_calls_.push_back(std::move(call));
    } else {
      d.content = std::string(kToolOpen) + body;
    }
    tool_buf_.clear();
    in_tool_call_ = false;
  } else {
    std::string_view rest = held_;
    if (skip_ws_) {
      while (!rest.empty() && is_ws(rest.front())) rest.remove_prefix(1);
    }
    rest.remove_suffix(trailing_ws_len(rest));
    (in_reasoning_ ? d.reasoning : d.content) = std::string(rest);
  }
  held_.clear();
  return d;
}

}  // namespace rkchat::chat
