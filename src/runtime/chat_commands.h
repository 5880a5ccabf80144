// The slash commands of `rkchat chat` (/help, /reset, /system, /think, /set, /stats, /quit), kept apart from the
// terminal handling so that they can be tested on a string stream.
#pragma once

#include <ostream>
#include <string>

#include "runtime/chat_session.h"

namespace rkchat::runtime {

enum class CommandResult {
  message,  // not a command: send the line to the model
  handled,
  quit,
};

CommandResult handle_command(const std::string& line, ChatSession& session, const backends::ModelInfo& model,
                             std::ostream& out);

// The text of /help.
const char* chat_help();

}  // namespace rkchat::runtime
