#include "runtime/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>

#include "runtime/chat_session.h"
#include "runtime/figures.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {
namespace {

// Ordinary prose, so that the prompt's tokens are typical ones.
constexpr const char* kFiller =
    "The history of computing is a story of people who wanted to calculate faster than they could by hand. "
    "Early machines used gears and levers, later ones used relays and vacuum tubes, and modern processors pack "
    "billions of transistors onto a chip smaller than a fingernail. ";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A prompt of exactly n tokens (token backends) or about n words (text backends).
backends::TurnInput synthetic_prompt(const backends::Backend& backend, int n) {
  backends::TurnInput in;
  if (const auto* tok = backend.tokenizer(); tok && backend.capabilities().token_input) {
    const auto chunk = tok->encode(kFiller, false);
    if (chunk.empty()) throw backends::Error("bench: the tokenizer encodes the filler text to nothing");
    while (static_cast<int>(in.tokens.size()) < n) in.tokens.insert(in.tokens.end(), chunk.begin(), chunk.end());
    in.tokens.resize(static_cast<size_t>(n));
  } else {
    while (static_cast<int>(in.text.size()) < n * 5) in.text += kFiller;  // ~5 characters a word
  }
  return in;
}

struct Runner {
  const BenchOptions& opt;
  std::map<std::pair<int, std::string>, double> bandwidth;  // per thread count and model file, measured once

  void say(const std::string& line) const {
    if (opt.progress) opt.progress(line);
  }

  double bandwidth_for(int threads, const std::string& model) {
    const auto key = std::make_pair(threads, model);
    auto it = bandwidth.find(key);
    if (it == bandwidth.end()) {
      say(fmt::format("measuring memory bandwidth with {} threads (streaming the model file, as decode does)",
                      threads));
      it = bandwidth.emplace(key, measure_bandwidth_gb_s(threads, model)).first;
    }
    return it->second;
  }

  void measure_speed(backends::Conversation& conv, const backends::Backend& backend, BenchResult& r) const {
    backends::GenerateOptions g;
    g.sampling.temperature = 0;
    g.ignore_eos = true;
    const auto noop = [](const backends::Piece&) { return true; };
    // Warm-up: pages the weights in and settles the threads; not counted.
    auto warm = synthetic_prompt(backend, std::min(8, opt.prompt_tokens));
    g.max_tokens = 2;
    conv.generate(warm, g, noop);
    g.max_tokens = opt.gen_tokens;
    const auto input = synthetic_prompt(backend, opt.prompt_tokens);
    std::vector<double> prefill, ttft, decode;
    for (int rep = 1; rep <= opt.repetitions; ++rep) {
      conv.clear();
      const auto s = conv.generate(input, g, noop);
      if (s.stop == backends::StopReason::error) throw backends::Error(r.model + ": " + s.error);
      prefill.push_back(prefill_tok_s(s));
      ttft.push_back(s.ttft_ms / 1000.0);
      decode.push_back(decode_tok_s(s));
      r.prompt_tokens = s.prompt_tokens;
      r.gen_tokens = s.gen_tokens;
      say(fmt::format("  {} t={} run {}/{}: prefill {:.1f} tok/s, TTFT {:.3f} s, decode {:.2f} tok/s", r.model,
                      r.threads, rep, opt.repetitions, prefill.back(), ttft.back(), decode.back()));
    }
    r.prefill_tok_s = spread_of(prefill);
    r.ttft_s = spread_of(ttft);
    r.decode_tok_s = spread_of(decode);
    r.repetitions = opt.repetitions;
  }

  void run_prompts(backends::Backend& backend, BenchResult& r) const {
    SessionOptions so;
    so.generate = opt.generate;
    ChatSession session(backend, so);
    for (const auto& prompt : opt.prompts) {
      session.reset();
      const auto t = session.send(prompt, {});
      PromptRun p{prompt, t.stats.gen_tokens, t.stats.total_ms / 1000.0, decode_tok_s(t.stats)};
      say(fmt::format("  {} \"{}\": {} tokens in {:.2f} s, {:.2f} tok/s", r.model, prompt, p.tokens, p.seconds,
                      p.tok_s));
      r.prompt_runs.push_back(std::move(p));
    }
  }

  BenchResult run(const std::string& path, int threads) {
    BenchResult r;
    r.file = path;
    r.threads = threads;
    auto lo = opt.load;
    lo.path = path;
    lo.threads = threads;
    say(fmt::format("loading {} ({} threads)", path, threads));
    reset_peak_rss();
    const auto t0 = std::chrono::steady_clock::now();
    auto backend = backends::load(lo);
    r.load_s = seconds_since(t0);
    const auto& info = backend->info();
    r.model = info.name;
    r.backend = info.backend;
    r.size_bytes = info.file_bytes;
    if (info.threads > 0) r.threads = info.threads;  // the CPU backend caps the count at the cores
    {
      auto conv = backend->start_conversation();
      measure_speed(*conv, *backend, r);
    }
    if (!opt.prompts.empty()) run_prompts(*backend, r);
    r.peak_rss_bytes = peak_rss_bytes();
    r.bandwidth_gb_s = bandwidth_for(r.threads, path);
    const double roofline_tok_s = r.size_bytes ? r.bandwidth_gb_s * 1e9 / static_cast<double>(r.size_bytes) : 0;
    r.roofline_pct = roofline_tok_s > 0 ? 100.0 * r.decode_tok_s.median / roofline_tok_s : 0;
    return r;
  }
};

}  // namespace

Spread spread_of(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  const double median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  return {median, v.front(), v.back()};
}

std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw backends::Error("cannot read the prompts file " + path);
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) prompts.push_back(line);
  }
  if (prompts.empty()) throw backends::Error("the prompts file " + path + " holds no prompt (one per line)");
  return prompts;
}

std::vector<BenchResult> run_bench(const BenchOptions& options) {
  if (options.repetitions < 1) throw backends::Error("bench: repetitions must be at least 1");
  if (options.prompt_tokens < 1 || options.gen_tokens < 2) {
    throw backends::Error("bench: --prompt-tokens must be >= 1 and --gen-tokens >= 2");
  }
  Runner runner{options, {}};
  std::vector<BenchResult> results;
  for (const auto& model : options.models) {
    for (int threads : options.threads) results.push_back(runner.run(model, threads));
  }
  return results;
}

}  // namespace rkchat::runtime
