// Pieces shared by the console commands (chat, run, bench): loading with a progress line, the session options
// from the command line, token id lists, and whether to use colours.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "cli/common_options.h"
#include "runtime/chat_commands.h"
#include "runtime/chat_session.h"

namespace rkchat::cli {

// Loads the model; when stderr is a terminal and loading takes more than a moment, shows its progress there.
// announce: one line saying what was loaded and how long it took.
std::unique_ptr<backends::Backend> load_model(backends::LoadOptions options, bool announce);

runtime::SessionOptions session_options(const PromptOptions& prompt, const backends::GenerateOptions& generate);

// "1,2, 3" -> {1, 2, 3}; throws backends::Error naming the option for anything else.
std::vector<int32_t> parse_id_list(const std::string& text, const std::string& option);
std::string join_ids(const std::vector<int32_t>& ids);

// Colours only on a terminal, and not when NO_COLOR is set.
bool use_colour(int fd);

class TerminalInput;

// Colour codes of the chat, empty when colours are off.
struct ChatStyle {
  const char* dim = "";
  const char* bold = "";
  const char* reset = "";
};
ChatStyle chat_style(bool colour);

// The prompt loop of `rkchat chat`, with the model here or on a server: reads lines until /quit, the end of input
// or Ctrl-C twice at the prompt; `command` handles the slash commands, `answer` gets the other non-blank lines.
void chat_loop(TerminalInput& input, bool interactive, const ChatStyle& st,
               const std::function<runtime::CommandResult(const std::string&)>& command,
               const std::function<void(const std::string&)>& answer);

}  // namespace rkchat::cli
