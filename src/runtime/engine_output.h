// Internal to the engine: the text side of one request's answer. Pieces of text go through the stop strings and
// the output parser and come out as the Updates the consumer receives; both loops (stepped and turn-based) use it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/stop_strings.h"

namespace rkchat::runtime::detail {

class AnswerOutput {
 public:
  AnswerOutput(const std::vector<std::string>& stops, std::optional<chat::OutputParser> parser)
      : stop_(stops), parser_(std::move(parser)) {}

  // A decoded piece and its token (-1: none). Returns the update to send (it may carry no text).
  Update push(const std::string& text, int32_t token);
  // End of the answer: what was held back, and the summary.
  Update finish(const backends::TurnStats& stats);
  // A stop string matched: the answer is over.
  bool stopped() const { return stop_.matched(); }

 private:
  chat::OutputDelta parse(const std::string& text, bool last);

  StopMatcher stop_;
  std::optional<chat::OutputParser> parser_;
};

}  // namespace rkchat::runtime::detail
