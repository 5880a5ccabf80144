#include "runtime/turn.h"

#include "runtime/stop_strings.h"

namespace rkchat::runtime {

TurnResult stream_turn(backends::Conversation& conv, const backends::TurnInput& input,
                       const backends::GenerateOptions& options, const std::vector<std::string>& stops,
                       std::optional<chat::OutputParser> parser, const DeltaSink& sink) {
  TurnResult r;
  StopMatcher stop(stops);
  auto emit = [&](const std::string& text, bool last) {
    chat::OutputDelta d;
    if (parser) {
      d = parser->push(text);
      if (last) {
        auto tail = parser->finish();
        d.reasoning += tail.reasoning;
        d.content += tail.content;
      }
    } else {
      d.content = text;
    }
    r.reasoning += d.reasoning;
    r.content += d.content;
    if (sink && (!d.reasoning.empty() || !d.content.empty())) sink(d);
  };
  r.stats = conv.generate(input, options, [&](const backends::Piece& piece) {
    if (piece.token >= 0) r.answer_ids.push_back(piece.token);
    emit(stop.push(piece.text), false);
    return !stop.matched();
  });
  emit(stop.flush(), true);
  r.stop_string = stop.matched();
  r.prompt_ids = input.tokens;
  return r;
}

}  // namespace rkchat::runtime
