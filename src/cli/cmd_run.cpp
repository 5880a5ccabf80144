// `rkchat run`: one prompt, one answer. The answer goes to stdout as it is generated, the figures to stderr;
// --json prints one object at the end instead. --raw feeds the prompt as written (special tokens parsed),
// --prompt-ids feeds token ids, and --ids prints the ids of the prompt and the answer.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/console.h"
#include "cli/files.h"
#include "runtime/engine.h"
#include "runtime/figures.h"
#include "runtime/turn.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::cli {
namespace {

struct RunOptions {
  backends::LoadOptions load;
  backends::GenerateOptions generate;
  PromptOptions prompt;
  std::string text;
  std::string prompt_ids;
  bool raw = false;
  bool ids = false;
  bool json = false;
};

// The prompt as tokens, without a template: --prompt-ids as given, or the text with special tokens parsed.
backends::TurnInput raw_input(const RunOptions& o, const backends::Backend& backend) {
  backends::TurnInput in;
  if (!o.prompt_ids.empty()) {
    in.tokens = parse_id_list(o.prompt_ids, "--prompt-ids");
    const int n_vocab = backend.info().n_vocab;
    for (int32_t id : in.tokens) {
      if (n_vocab > 0 && id >= n_vocab)
        throw backends::Error(fmt::format("--prompt-ids: {} >= n_vocab {}", id, n_vocab));
    }
  } else {
    const auto* tok = backend.tokenizer();
    if (!tok) throw backends::Error("--raw needs the model's tokenizer (give --tokenizer VOCAB.gguf)");
    in.tokens = tok->encode(o.text, /*parse_special=*/true, tok->add_bos());
  }
  if (!backend.capabilities().token_input)
    throw backends::Error("--raw and --prompt-ids need a backend that takes tokens");
  return in;
}

std::string read_stdin() {
  std::string text;
  char chunk[4096];
  while (std::cin.read(chunk, sizeof chunk) || std::cin.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(std::cin.gcount()));
    if (text.size() > kMaxTextFileBytes)
      throw backends::Error(fmt::format("the prompt on stdin is longer than {} MB", kMaxTextFileBytes >> 20));
  }
  return text;
}

nlohmann::json json_result(const runtime::TurnResult& r, bool ids) {
  const auto& s = r.stats;
  nlohmann::json j = {{"text", r.content},
                      {"reasoning", r.reasoning},
                      {"prompt_tokens", s.prompt_tokens},
                      {"cached_tokens", s.cached_tokens},
                      {"gen_tokens", s.gen_tokens},
                      {"stop", r.stop_string ? "stop_string" : backends::stop_reason_name(s.stop)},
                      {"timings",
                       {{"prefill_ms", s.prefill_ms},
                        {"ttft_ms", s.ttft_ms},
                        {"decode_ms", s.decode_ms},
                        {"total_ms", s.total_ms},
                        {"prefill_tok_s", runtime::prefill_tok_s(s)},
                        {"decode_tok_s", runtime::decode_tok_s(s)}}}};
  if (ids) {
    j["prompt_ids"] = r.prompt_ids;
    j["answer_ids"] = r.answer_ids;
  }
  return j;
}

int run_once(RunOptions& o) {
  const bool from_ids = !o.prompt_ids.empty();
  if (!from_ids && o.text.empty()) {
    if (isatty(STDIN_FILENO)) throw backends::Error("give the prompt with -p TEXT or on stdin");
    o.text = read_stdin();
  }
  runtime::Engine engine(load_model(o.load, /*announce=*/false), {.parallel = 1, .queue = 0});
  const auto& backend = engine.backend();
  const bool dim = use_colour(STDERR_FILENO);
  runtime::DeltaSink sink;
  if (!o.json) {
    sink = [dim](const chat::OutputDelta& d) {
      if (!d.reasoning.empty())
        std::cerr << (dim ? "\033[2m" : "") << d.reasoning << (dim ? "\033[0m" : "") << std::flush;
      if (!d.content.empty()) std::cout << d.content << std::flush;
    };
  }
  runtime::TurnResult r;
  if (o.raw || from_ids) {
    runtime::RequestOptions ro;
    ro.prompt = raw_input(o, backend).tokens;
    ro.generate = o.generate;
    ro.stop = o.prompt.stop;
    r = runtime::collect(*engine.submit(ro), sink);
    r.prompt_ids = ro.prompt;
  } else {
    runtime::ChatSession session(engine, session_options(o.prompt, o.generate));
    if (!session.template_warning().empty()) std::cerr << "note: " << session.template_warning() << "\n";
    r = session.send(o.text, sink);
  }
  if (o.json) {
    std::cout << json_result(r, o.ids).dump(2) << "\n";
  } else {
    std::cout << "\n";
    if (o.ids)
      std::cout << "prompt ids: " << join_ids(r.prompt_ids) << "\nanswer ids: " << join_ids(r.answer_ids) << "\n";
    std::cerr << runtime::figures_line(r.stats) << " " << runtime::prompt_line(r.stats) << "\n";
  }
  if (r.stats.stop == backends::StopReason::error) throw backends::Error("generation failed: " + r.stats.error);
  return 0;
}

}  // namespace

void add_run(CLI::App& app, Runner& run) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Answer one prompt (-p or stdin) and exit");
  add_load_options(cmd, o->load);
  add_generate_options(cmd, o->generate);
  add_prompt_options(cmd, o->prompt);
  auto* text = cmd->add_option("-p,--prompt", o->text, "The prompt (else read from stdin)");
  cmd->add_option("--prompt-ids", o->prompt_ids, "Feed these token ids (comma separated) as the prompt, no template")
      ->excludes(text);
  cmd->add_flag("--raw", o->raw, "No chat template: the prompt as written, special tokens such as <|im_start|> parsed");
  cmd->add_flag("--ids", o->ids, "Also print the token ids of the prompt and the answer");
  cmd->add_flag("--json", o->json, "Print one JSON object: text, reasoning, token counts and timings");
  cmd->callback([o, &run] { run = [o] { return run_once(*o); }; });
}

}  // namespace rkchat::cli
