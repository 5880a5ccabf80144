#include "chat/output_parser.h"

#include <algorithm>
#include <array>

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

}  // namespace

bool OutputDelta::empty() const {
  return reasoning.empty() && content.empty() && tool_calls.empty() && calls_done.empty();
}

void OutputDelta::append(OutputDelta&& more) {
  reasoning += more.reasoning;
  content += more.content;
  for (auto& f : more.tool_calls) {
    if (!tool_calls.empty() && tool_calls.back().index == f.index && tool_calls.back().name.empty() && f.name.empty()) {
      tool_calls.back().arguments += f.arguments;
    } else {
      tool_calls.push_back(std::move(f));
    }
  }
  for (auto& c : more.calls_done) calls_done.push_back(std::move(c));
}

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
    if (call_) {
      size_t at = rest.find(kToolClose);
      if (at == std::string_view::npos) {
        size_t keep = partial_tag_len(rest, {kToolClose});
        call_->push(rest.substr(0, rest.size() - keep), d.tool_calls);
        held_ = rest.substr(rest.size() - keep);
        return d;
      }
      call_->push(rest.substr(0, at), d.tool_calls);
      rest.remove_prefix(at + kToolClose.size());
      end_call(d, true);
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
      call_.emplace(tool_calls_.size());
    } else {
      in_reasoning_ = !in_reasoning_;
      skip_ws_ = true;
    }
  }
  return d;
}

OutputDelta OutputParser::finish() {
  OutputDelta d;
  if (call_) {
    call_->push(held_, d.tool_calls);
    end_call(d, false);
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

// A block that is not a call goes to the content as written, its closing tag too if it had one.
void OutputParser::end_call(OutputDelta& d, bool closed) {
  std::string after;
  if (auto call = call_->finish(d.tool_calls, after)) {
    d.content += after;
    tool_calls_.push_back(*call);
    d.calls_done.push_back(std::move(*call));
  } else {
    d.content += std::string(kToolOpen) + call_->body() + (closed ? std::string(kToolClose) : "");
  }
  call_.reset();
}

}  // namespace rkchat::chat
