// `rkchat chat`: an interactive conversation in the terminal. The model runs in this process; each turn sends
// the whole conversation and the backend reuses its cached prefix. Piped input works too (no prompts, no colours).
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/console.h"
#include "cli/files.h"
#include "cli/remote_chat.h"
#include "cli/terminal_input.h"
#include "runtime/chat_commands.h"
#include "runtime/engine.h"
#include "runtime/figures.h"
#include "runtime/model_list.h"

namespace rkchat::cli {
namespace {

struct ChatOptions {
  backends::LoadOptions load;
  backends::GenerateOptions generate;
  PromptOptions prompt;
  std::string models_dir;
  std::string server, api_key;  // --server: chat with a running `rkchat serve` instead
};

using Style = ChatStyle;

std::string pick_model(const std::string& dir, TerminalInput& input, bool interactive) {
  const auto models = runtime::list_models(dir);
  if (models.empty()) throw backends::Error("no model files (.gguf, .rkllm) in " + dir);
  std::cout << "Models in " << dir << ":\n";
  for (size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    std::cout << fmt::format("  {:>2}) {:<40} {:>10}  {}\n", i + 1, m.name, runtime::human_bytes(m.size_bytes), m.type);
  }
  for (const auto& m : models) check_input_file(m.path, "model file");  // a FIFO named x.gguf would block
  if (models.size() == 1) return models[0].path;
  for (;;) {
    std::string line;
    const auto r = input.read_line(fmt::format("Pick a model [1-{}]: ", models.size()), line);
    if (r != TerminalInput::Result::line) throw backends::Error("no model picked");
    try {
      const size_t n = std::stoul(line);
      if (n >= 1 && n <= models.size()) return models[n - 1].path;
    } catch (const std::exception&) {
    }
    if (!interactive) throw backends::Error("not a model number: " + line);
    std::cout << "Type a number from 1 to " << models.size() << ".\n";
  }
}

// What the user should know about how an answer ended.
void report_turn(const runtime::TurnResult& r, const Style& st) {
  if (r.dropped_turns > 0) {
    std::cerr << st.dim << "(context full: dropped the " << r.dropped_turns << " oldest turn(s) to make room)"
              << st.reset << "\n";
  }
  switch (r.stats.stop) {
    case backends::StopReason::aborted:
      std::cerr << "[stopped]\n";
      break;
    case backends::StopReason::context_full:
      std::cerr << "(the context is full: the answer was cut; the next turn drops the oldest turns)\n";
      break;
    case backends::StopReason::max_tokens:
      std::cerr << st.dim << "(max tokens reached)" << st.reset << "\n";
      break;
    case backends::StopReason::error:
      std::cerr << "error: " << r.stats.error << "\n";
      break;
    default:
      break;
  }
  std::cerr << st.dim << runtime::figures_line(r.stats) << "  " << runtime::prompt_line(r.stats) << st.reset << "\n";
}

void answer(runtime::ChatSession& session, const std::string& text, TerminalInput& input, const Style& st,
            bool interactive) {
  bool in_reasoning = false;
  auto sink = [&](const chat::OutputDelta& d) {
    if (!d.reasoning.empty()) {
      // Reasoning: dimmed on a terminal; on a pipe it goes to stderr so stdout holds the answers only.
      (interactive ? std::cout : std::cerr) << st.dim << d.reasoning << st.reset << std::flush;
      in_reasoning = true;
    }
    if (!d.content.empty()) {
      if (in_reasoning) std::cout << "\n";
      in_reasoning = false;
      std::cout << d.content << std::flush;
    }
  };
  input.set_generating([&session] { session.abort(); });
  try {
    const auto r = session.send(text, sink);
    input.clear_generating();
    std::cout << "\n";
    report_turn(r, st);
  } catch (const std::exception& e) {
    input.clear_generating();
    std::cerr << "error: " << e.what() << "\n";
  }
}

int chat(ChatOptions& o) {
  if (!o.server.empty()) return remote_chat({o.server, o.api_key, o.load.path, o.generate, o.prompt});
  if (!o.load.path.empty()) check_input_file(o.load.path, "model file");  // -m names a file here
  const bool interactive = isatty(STDIN_FILENO) != 0;
  const bool colour = interactive && use_colour(STDOUT_FILENO);
  const Style st = chat_style(colour);
  TerminalInput input(interactive);
  if (o.load.path.empty()) {
    o.load.path = pick_model(o.models_dir.empty() ? runtime::default_models_dir() : o.models_dir, input, interactive);
  }
  runtime::Engine engine(load_model(o.load, /*announce=*/true), {.parallel = 1, .queue = 0});
  const auto* backend = &engine.backend();
  runtime::ChatSession session(engine, session_options(o.prompt, o.generate));
  if (!session.template_warning().empty()) std::cerr << "note: " << session.template_warning() << "\n";
  chat_loop(
      input, interactive, st,
      [&](const std::string& line) { return runtime::handle_command(line, session, backend->info(), std::cout); },
      [&](const std::string& line) { answer(session, line, input, st, interactive); });
  return 0;
}

}  // namespace

void add_chat(CLI::App& app, Runner& run) {
  auto o = std::make_shared<ChatOptions>();
  auto* cmd = app.add_subcommand("chat", "Chat with a model in the terminal");
  add_load_options(cmd, o->load, /*model_required=*/false);
  add_generate_options(cmd, o->generate);
  add_prompt_options(cmd, o->prompt);
  cmd->add_option("--models", o->models_dir,
                  "Pick the model from the files in this folder (default: " + runtime::default_models_dir() + ")")
      ->check(input_dir());
  // With --server, -m names one of the server's models: the file check moves to chat() for local models.
  cmd->remove_option(cmd->get_option("--model"));
  cmd->add_option("-m,--model", o->load.path, "Model file (.gguf or .rkllm), or with --server a model's name");
  cmd->add_option("--server", o->server, "Chat with a running `rkchat serve` at this URL (-m: its model name)");
  cmd->add_option("--api-key", o->api_key, "API key for --server")->envname("RKCHAT_API_KEY");
  cmd->callback([o, &run] { run = [o] { return chat(*o); }; });
}

}  // namespace rkchat::cli
