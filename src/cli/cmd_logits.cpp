// `rkchat logits`: raw next-token logits of a token sequence, or a greedy continuation, for checking the engine
// against a reference implementation (the definitions of ../shared/fixtures/README.md).
#include <iostream>

#include "backends/backend.h"
#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/console.h"
#include "cli/files.h"

namespace rkchat::cli {

namespace {

struct LogitsOptions {
  backends::LoadOptions load;
  std::string tokens;
  std::string output;
  int greedy = 0;
  int prefix = 0;
};

int run_greedy(backends::Conversation& conv, const std::vector<int32_t>& ids, const LogitsOptions& o) {
  if (o.prefix <= 0 || o.prefix > static_cast<int>(ids.size()))
    throw backends::Error("--prefix must be between 1 and the number of tokens (" + std::to_string(ids.size()) + ")");
  backends::TurnInput in;
  in.tokens.assign(ids.begin(), ids.begin() + o.prefix);
  backends::GenerateOptions g;
  g.sampling.temperature = 0.0f;
  g.max_tokens = o.greedy;
  g.ignore_eos = true;
  std::vector<int32_t> out;
  conv.generate(in, g, [&](const backends::Piece& p) {
    if (p.token >= 0) out.push_back(p.token);
    return true;
  });
  for (size_t i = 0; i < out.size(); ++i) std::cout << (i ? "," : "") << out[i];
  std::cout << "\n";
  return 0;
}

int run_logits(LogitsOptions& o) {
  const auto ids = parse_id_list(o.tokens, "--tokens");
  auto backend = backends::load(o.load);
  if (!backend->capabilities().logits) throw backends::Error(backend->info().backend + " backend cannot return logits");
  auto conv = backend->start_conversation();
  if (o.greedy > 0) return run_greedy(*conv, ids, o);
  if (o.output.empty()) throw backends::Error("give -o FILE for the logits (or --greedy N --prefix K)");
  const auto logits = conv->evaluate(ids);
  write_output_file(o.output, std::string(reinterpret_cast<const char*>(logits.data()), logits.size() * sizeof(float)),
                    "logits file");
  std::cerr << "wrote " << ids.size() << " x " << backend->info().n_vocab << " logits to " << o.output << "\n";
  return 0;
}

}  // namespace

void add_logits(CLI::App& app, Runner& run) {
  auto o = std::make_shared<LogitsOptions>();
  o->load.kv_type = "f32";  // exact by default: this command is for comparing with reference outputs
  auto* cmd = app.add_subcommand("logits", "Write the logits of every position of a token sequence (or greedy ids)");
  add_load_options(cmd, o->load);
  cmd->add_option("--tokens", o->tokens, "Token ids, comma separated")->required();
  cmd->add_option("-o,--output", o->output, "Output file: raw float32 rows, n_tokens x n_vocab")->check(output_file());
  cmd->add_option("--greedy", o->greedy, "Instead: decode --prefix tokens as one batch, then N greedy steps")
      ->check(in_range(runtime::limits::non_negative));
  cmd->add_option("--prefix", o->prefix, "Tokens decoded as one batch before the greedy steps")
      ->check(in_range(runtime::limits::non_negative));
  cmd->callback([o, &run] { run = [o] { return run_logits(*o); }; });
}

}  // namespace rkchat::cli
