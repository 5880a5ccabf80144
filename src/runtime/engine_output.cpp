#include "runtime/engine_output.h"

namespace rkchat::runtime::detail {

chat::OutputDelta AnswerOutput::parse(const std::string& text, bool last) {
  chat::OutputDelta d;
  if (!parser_) {
    d.content = text;
    return d;
  }
  d = parser_->push(text);
  if (last) d.append(parser_->finish());
  return d;
}

Update AnswerOutput::push(const std::string& text, int32_t token) {
  Update u;
  if (token >= 0) u.tokens.push_back(token);
  u.delta = parse(stop_.push(text), false);
  return u;
}

Update AnswerOutput::finish(const backends::TurnStats& stats) {
  Update u;
  u.delta = parse(stop_.flush(), true);
  u.done = true;
  u.stats = stats;
  u.stop_string = stop_.matched();
  if (parser_) u.tool_calls = parser_->tool_calls();
  return u;
}

}  // namespace rkchat::runtime::detail
