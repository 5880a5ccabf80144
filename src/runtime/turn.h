// One streamed turn over a Conversation, shared by the chat session and `run --raw`: stop strings are held back
// across pieces, and the answer is split into reasoning and content by chat::OutputParser when one is given.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "chat/output_parser.h"

namespace rkchat::runtime {

// Called with each piece of the answer as it becomes safe to show.
using DeltaSink = std::function<void(const chat::OutputDelta&)>;

struct TurnResult {
  std::string content;
  std::string reasoning;
  std::vector<int32_t> prompt_ids;  // the prompt sent as tokens (empty when the backend took text)
  std::vector<int32_t> answer_ids;  // as the backend reported them (-1 entries dropped)
  backends::TurnStats stats;
  bool stop_string = false;  // a --stop string ended the answer
  int dropped_turns = 0;     // oldest turns dropped so that the conversation fits the context
};

// Runs conv.generate and streams deltas to sink. parser: nullopt for raw text (everything is content).
TurnResult stream_turn(backends::Conversation& conv, const backends::TurnInput& input,
                       const backends::GenerateOptions& options, const std::vector<std::string>& stops,
                       std::optional<chat::OutputParser> parser, const DeltaSink& sink);

}  // namespace rkchat::runtime
