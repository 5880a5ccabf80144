#include "cli/console.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "cli/terminal_input.h"
#include "runtime/figures.h"

namespace rkchat::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

std::unique_ptr<backends::Backend> load_model(backends::LoadOptions options, bool announce) {
  const auto t0 = Clock::now();
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto shown = std::make_shared<std::atomic<bool>>(false);
  if (tty) {
    const std::string name = options.path.substr(options.path.find_last_of('/') + 1);
    options.progress = [t0, shown, name](float f) {
      if (seconds_since(t0) < 0.3) return;  // quick loads need no progress line
      shown->store(true);
      std::fprintf(stderr, "\rloading %s ... %3d%%", name.c_str(), static_cast<int>(f * 100.0f + 0.5f));
      std::fflush(stderr);
    };
  }
  auto backend = backends::load(options);
  if (shown->load()) std::fprintf(stderr, "\r\033[K");
  if (announce) {
    const auto& i = backend->info();
    std::fprintf(stderr, "%s\n",
                 fmt::format("loaded {} ({}, {}{}, {}, context {}) in {:.2f} s", i.name, i.backend,
                             i.arch.empty() ? "" : i.arch + " ", i.quantization, runtime::human_bytes(i.file_bytes),
                             i.n_ctx, seconds_since(t0))
                     .c_str());
  }
  return backend;
}

runtime::SessionOptions session_options(const PromptOptions& prompt, const backends::GenerateOptions& generate) {
  runtime::SessionOptions s;
  s.system = prompt.system;
  s.stop = prompt.stop;
  s.enable_thinking = !prompt.no_think;
  s.generate = generate;
  return s;
}

std::vector<int32_t> parse_id_list(const std::string& text, const std::string& option) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.find_first_not_of(" \t\n") == std::string::npos) continue;
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t\n", used) != std::string::npos || v < 0 || v > INT32_MAX) {
      throw backends::Error(option + ": '" + item + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw backends::Error(option + ": no token ids given");
  return ids;
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out;
}

bool use_colour(int fd) {
  const char* no = std::getenv("NO_COLOR");
  return isatty(fd) != 0 && !(no && *no);
}

ChatStyle chat_style(bool colour) { return colour ? ChatStyle{"\033[2m", "\033[1m", "\033[0m"} : ChatStyle{}; }

void chat_loop(TerminalInput& input, bool interactive, const ChatStyle& st,
               const std::function<runtime::CommandResult(const std::string&)>& command,
               const std::function<void(const std::string&)>& answer) {
  if (interactive) std::cout << "Type /help for commands, /quit to leave. Ctrl-C stops an answer.\n";
  int interrupts = 0;  // consecutive Ctrl-C at the prompt
  for (;;) {
    std::string line;
    const auto r = input.read_line(interactive ? fmt::format("{}>>> {}", st.bold, st.reset) : "", line);
    if (r == TerminalInput::Result::end) break;
    if (r == TerminalInput::Result::interrupted) {
      if (++interrupts >= 2 || !interactive) break;
      std::cout << "\n(Ctrl-C again or /quit to leave)\n";
      continue;
    }
    interrupts = 0;
    const auto what = command(line);
    if (what == runtime::CommandResult::quit) break;
    if (what == runtime::CommandResult::message && line.find_first_not_of(" \t") != std::string::npos) answer(line);
  }
  if (interactive) std::cout << "\n";
}

}  // namespace rkchat::cli
