// The result of one streamed turn (runtime::collect over an engine request), shared by the chat session, `run`
// and the benchmarks.
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

}  // namespace rkchat::runtime
