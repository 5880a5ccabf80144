#include "runtime/chat_commands.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "runtime/figures.h"
#include "runtime/option_limits.h"
#include "sampling/sampler.h"

namespace rkchat::runtime {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The number in `text`, within `limit` (the same ranges as the command line's options).
template <typename T>
T parse_number(const std::string& text, const Limit& limit) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) throw std::invalid_argument("not a number: " + text);
  if (const auto bad = check_limit(limit, static_cast<double>(v)); !bad.empty()) throw std::invalid_argument(bad);
  return v;
}

// One settable value: how to show it and how to set it from text.
struct Setting {
  std::function<std::string(const backends::GenerateOptions&)> show;
  std::function<void(backends::GenerateOptions&, const std::string&)> set;
};

template <typename T>
Setting field(T sampling::Params::*member, const Limit& limit) {
  return {[member](const backends::GenerateOptions& g) { return fmt::format("{}", g.sampling.*member); },
          [member, limit](backends::GenerateOptions& g, const std::string& v) {
            g.sampling.*member = parse_number<T>(v, limit);
          }};
}

const std::map<std::string, Setting>& settings() {
  using namespace limits;
  static const std::map<std::string, Setting> table = {
      {"temp", field(&sampling::Params::temperature, temperature)},
      {"top-k", field(&sampling::Params::top_k, top_k)},
      {"top-p", field(&sampling::Params::top_p, top_p)},
      {"min-p", field(&sampling::Params::min_p, min_p)},
      {"repeat-penalty", field(&sampling::Params::repeat_penalty, repeat_penalty)},
      {"repeat-last-n", field(&sampling::Params::repeat_last_n, repeat_last_n)},
      {"presence-penalty", field(&sampling::Params::presence_penalty, penalty)},
      {"frequency-penalty", field(&sampling::Params::frequency_penalty, penalty)},
      {"seed", field(&sampling::Params::seed, seed)},
      {"max-tokens",
       {[](const backends::GenerateOptions& g) { return std::to_string(g.max_tokens); },
        [](backends::GenerateOptions& g, const std::string& v) { g.max_tokens = parse_number<int>(v, max_tokens); }}},
  };
  return table;
}

void set_option(const std::string& args, SessionOptions& options, std::ostream& out) {
  std::istringstream in(args);
  std::string name, value, extra;
  in >> name >> value >> extra;
  auto& gen = options.generate;
  if (name.empty()) {
    for (const auto& [key, s] : settings()) out << "  " << key << " = " << s.show(gen) << "\n";
    return;
  }
  const auto it = settings().find(name == "temperature" ? "temp" : name);
  if (it == settings().end() || value.empty() || !extra.empty()) {
    out << "usage: /set NAME VALUE, NAME one of:";
    for (const auto& [key, s] : settings()) out << " " << key;
    out << "\n";
    return;
  }
  auto changed = gen;
  try {
    it->second.set(changed, value);
    sampling::Sampler check(changed.sampling);  // rejects values the sampler cannot use
  } catch (const std::exception& e) {
    out << "cannot set " << it->first << ": " << e.what() << "\n";
    return;
  }
  gen = changed;
  out << it->first << " = " << it->second.show(gen) << "\n";
}

void show_stats(const ChatSession& session, const backends::ModelInfo& model, std::ostream& out) {
  out << fmt::format("model: {} ({}, {}, {})\n", model.name, model.backend, model.quantization,
                     human_bytes(model.file_bytes));
  out << fmt::format("context: {} of {} tokens in the cache\n", session.cached_tokens(), model.n_ctx);
  print_totals(session.totals(), out);
}

}  // namespace

void print_totals(const SessionTotals& t, std::ostream& out) {
  out << fmt::format("turns: {}, dropped to fit the context: {}\n", t.turns, t.dropped_turns);
  out << fmt::format("prompt tokens: {} processed, {} reused from the cache\n", t.prompt_new, t.prompt_cached);
  const double decode_s = t.decode_ms / 1000.0, prefill_s = t.prefill_ms / 1000.0;
  out << fmt::format("generated: {} tokens, decode {:.2f} tok/s, prefill {:.2f} tok/s\n", t.generated,
                     decode_s > 0 ? static_cast<double>(t.generated - t.turns) / decode_s : 0.0,
                     prefill_s > 0 ? static_cast<double>(t.prompt_new) / prefill_s : 0.0);
}

const char* chat_help() {
  return "Commands:\n"
         "  /help               this text\n"
         "  /reset              start a new conversation (keeps the system prompt)\n"
         "  /system TEXT        set the system prompt and start a new conversation (/system alone shows it)\n"
         "  /think on|off       Qwen3 thinking (reasoning is shown dimmed)\n"
         "  /set NAME VALUE     sampling: temp, top-k, top-p, min-p, repeat-penalty, seed, max-tokens, ...\n"
         "  /set                show the sampling settings\n"
         "  /stats              figures of this session\n"
         "  /quit               leave (also quit, exit, q, Ctrl-D)\n"
         "Ctrl-C stops an answer; Ctrl-C at the prompt leaves.\n";
}

CommandResult handle_command(const std::string& line, ChatSession& session, const backends::ModelInfo& model,
                             std::ostream& out) {
  const ChatControls chat{session.options(), [&session] { session.reset(); },
                          [&session, &model](std::ostream& o) { show_stats(session, model, o); }};
  return handle_command(line, chat, out);
}

CommandResult handle_command(const std::string& raw, const ChatControls& chat, std::ostream& out) {
  const std::string line = trim(raw);
  if (line == "quit" || line == "exit" || line == "q") return CommandResult::quit;
  if (line.empty() || line[0] != '/') return CommandResult::message;
  const auto space = line.find(' ');
  const std::string cmd = line.substr(0, space);
  const std::string args = space == std::string::npos ? "" : trim(line.substr(space));

  if (cmd == "/quit" || cmd == "/exit" || cmd == "/q" || cmd == "/bye") return CommandResult::quit;
  if (cmd == "/help" || cmd == "/?") {
    out << chat_help();
  } else if (cmd == "/reset" || cmd == "/clear") {
    chat.reset();
    out << "(new conversation)\n";
  } else if (cmd == "/system") {
    if (args.empty()) {
      out << "system prompt: " << (chat.options.system.empty() ? "(none)" : chat.options.system) << "\n";
    } else {
      chat.options.system = args;
      chat.reset();
      out << "(system prompt set; new conversation)\n";
    }
  } else if (cmd == "/think") {
    if (args != "on" && args != "off") {
      out << "usage: /think on|off (now " << (chat.options.enable_thinking ? "on" : "off") << ")\n";
    } else {
      chat.options.enable_thinking = args == "on";
      out << "(thinking " << args << ")\n";
    }
  } else if (cmd == "/set") {
    set_option(args, chat.options, out);
  } else if (cmd == "/stats") {
    chat.stats(out);
  } else {
    out << "unknown command " << cmd << " (/help lists them)\n";
  }
  return CommandResult::handled;
}

}  // namespace rkchat::runtime
