// `rkchat perplexity`: how well a model predicts a text, as llama.cpp's llama-perplexity measures it
// (non-overlapping windows of the context size; the second half of each window is scored), so that users can
// judge what a quantization costs.
#include <cmath>
#include <cstdio>

#include "backends/backend.h"
#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/files.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::cli {

namespace {

// Each window scores its positions from n_ctx/2 to n_ctx-2: 3 tokens is the least that scores one.
constexpr int kMinWindow = 3;

struct PerplexityOptions {
  backends::LoadOptions load;
  std::string text_file;
};

// -log p(next) at every scored position of one window.
double window_nll(const std::vector<float>& logits, const std::vector<int32_t>& window, int n_vocab, int first,
                  int& count) {
  double nll = 0.0;
  for (size_t i = static_cast<size_t>(first); i + 1 < window.size(); ++i) {
    const float* row = &logits[i * static_cast<size_t>(n_vocab)];
    float mx = row[0];
    for (int v = 1; v < n_vocab; ++v) mx = std::max(mx, row[v]);
    double sum = 0.0;
    for (int v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v] - mx));
    nll += std::log(sum) - static_cast<double>(row[window[i + 1]] - mx);
    ++count;
  }
  return nll;
}

int run_perplexity(PerplexityOptions& o) {
  const std::string text = read_text_file(o.text_file, "text file");
  if (o.load.n_ctx <= 0) o.load.n_ctx = 512;
  if (o.load.n_ctx < kMinWindow)
    throw backends::Error("-c " + std::to_string(o.load.n_ctx) +
                          " is too small to score anything: each window scores " + "its second half, give -c " +
                          std::to_string(kMinWindow) + " or more");
  auto backend = backends::load(o.load);
  const tok::Tokenizer* tk = backend->tokenizer();
  if (!tk) throw backends::Error(o.load.path + ": the model has no tokenizer");
  if (!backend->capabilities().logits) throw backends::Error(backend->info().backend + " backend cannot return logits");
  const auto tokens = tk->encode(text, false, false);
  const int n_ctx = o.load.n_ctx, n_vocab = backend->info().n_vocab;
  const size_t n_chunks = tokens.size() / static_cast<size_t>(n_ctx);
  if (n_chunks == 0)
    throw backends::Error(o.text_file + ": " + std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                          std::to_string(n_ctx) + " (use a longer text or a smaller -c)");
  auto conv = backend->start_conversation();
  double nll = 0.0;
  int count = 0;
  std::fprintf(stderr, "perplexity: %zu tokens, %zu windows of %d\n", tokens.size(), n_chunks, n_ctx);
  for (size_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> window(tokens.begin() + static_cast<std::ptrdiff_t>(c * n_ctx),
                                tokens.begin() + static_cast<std::ptrdiff_t>((c + 1) * n_ctx));
    if (tk->add_bos() && tk->bos() >= 0) window[0] = tk->bos();  // each window starts like a document
    const auto logits = conv->evaluate(window);
    nll += window_nll(logits, window, n_vocab, n_ctx / 2, count);
    std::fprintf(stderr, "[%zu]%.4f%s", c + 1, std::exp(nll / count), c + 1 == n_chunks ? "\n" : ",");
  }
  std::printf("PPL = %.4f (%d tokens scored)\n", std::exp(nll / count), count);
  return 0;
}

}  // namespace

void add_perplexity(CLI::App& app, Runner& run) {
  auto o = std::make_shared<PerplexityOptions>();
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a text file (lower is better)");
  add_load_options(cmd, o->load);
  cmd->add_option("-f,--file", o->text_file, "Text file to score")->required()->check(text_file());
  cmd->callback([o, &run] { run = [o] { return run_perplexity(*o); }; });
}

}  // namespace rkchat::cli
