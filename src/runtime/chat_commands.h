// The slash commands of `rkchat chat` (/help, /reset, /system, /think, /set, /stats, /quit), kept apart from the
// terminal handling so that they can be tested on a string stream.
#pragma once

#include <functional>
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

// What the commands act on, for a chat whose model is elsewhere (`rkchat chat --server`): the options sent
// with each turn, how to start over, and what /stats prints.
struct ChatControls {
  SessionOptions& options;
  std::function<void()> reset;
  std::function<void(std::ostream&)> stats;
};
CommandResult handle_command(const std::string& line, const ChatControls& chat, std::ostream& out);

// The turn and token counts of /stats.
void print_totals(const SessionTotals& totals, std::ostream& out);

// The text of /help.
const char* chat_help();

}  // namespace rkchat::runtime
