#include "runtime/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>

#include "runtime/chat_session.h"
#include "runtime/engine.h"
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

  // Through the engine, as every generation runs: prefill of the prompt and decode after it, with r.depth tokens
  // already in the cache (filled before each repetition, not counted), as llama-bench -d. Each repetition's
  // prompt starts elsewhere in the filler text, so that none reuses the previous one's cache after the fill.
  void measure_speed(Engine& engine, BenchResult& r) const {
    const auto& backend = engine.backend();
    RequestOptions g;
    g.generate.sampling.temperature = 0;
    g.generate.ignore_eos = true;
    // Warm-up: pages the weights in and settles the threads; not counted.
    auto warm = g;
    warm.text_input = synthetic_prompt(backend, std::min(8, opt.prompt_tokens));
    warm.prompt = warm.text_input.tokens;
    warm.generate.max_tokens = 2;
    collect(*engine.submit(warm), nullptr);
    std::vector<int32_t> fill;
    if (r.depth > 0) {
      fill = synthetic_prompt(backend, r.depth).tokens;
      if (fill.empty()) throw backends::Error(r.model + ": --depth needs a backend that takes token ids");
    }
    g.generate.max_tokens = opt.gen_tokens;
    const auto input = synthetic_prompt(backend, opt.prompt_tokens + opt.repetitions);
    std::vector<double> prefill, ttft, decode;
    for (int rep = 1; rep <= opt.repetitions; ++rep) {
      g.text_input = input;
      g.new_conversation = true;
      if (!input.tokens.empty()) {
        g.prompt = fill;
        g.prompt.insert(g.prompt.end(), input.tokens.begin() + rep, input.tokens.begin() + rep + opt.prompt_tokens);
      }
      if (r.depth > 0) {
        auto f = g;
        f.prompt = fill;
        f.generate.max_tokens = 0;
        collect(*engine.submit(f), nullptr);
      }
      const auto s = collect(*engine.submit(g), nullptr).stats;
      prefill.push_back(prefill_tok_s(s));
      ttft.push_back(s.ttft_ms / 1000.0);
      decode.push_back(decode_tok_s(s));
      r.prompt_tokens = s.prompt_tokens - s.cached_tokens;
      r.gen_tokens = s.gen_tokens;
      say(fmt::format("  {} t={} depth {} run {}/{}: prefill {:.1f} tok/s, TTFT {:.3f} s, decode {:.2f} tok/s", r.model,
                      r.threads, r.depth, rep, opt.repetitions, prefill.back(), ttft.back(), decode.back()));
    }
    r.prefill_tok_s = spread_of(prefill);
    r.ttft_s = spread_of(ttft);
    r.decode_tok_s = spread_of(decode);
    r.repetitions = opt.repetitions;
  }

  void run_prompts(Engine& engine, BenchResult& r) const {
    SessionOptions so;
    so.generate = opt.generate;
    ChatSession session(engine, so);
    for (const auto& prompt : opt.prompts) {
      session.reset();
      const auto t = session.send(prompt, {});
      PromptRun p{prompt, t.stats.gen_tokens, t.stats.total_ms / 1000.0, decode_tok_s(t.stats)};
      say(fmt::format("  {} \"{}\": {} tokens in {:.2f} s, {:.2f} tok/s", r.model, prompt, p.tokens, p.seconds,
                      p.tok_s));
      r.prompt_runs.push_back(std::move(p));
    }
  }

  // One row per depth; the model is loaded once for all of them.
  void run(const std::string& path, int threads, std::vector<BenchResult>& out) {
    BenchResult r;
    r.file = path;
    r.threads = threads;
    auto lo = opt.load;
    lo.path = path;
    lo.threads = threads;
    const int deepest = *std::max_element(opt.depths.begin(), opt.depths.end());
    // Without -c, a context that holds the deepest run (the default context may be shorter).
    if (lo.n_ctx <= 0 && deepest > 0) lo.n_ctx = deepest + opt.prompt_tokens + opt.gen_tokens + 16;
    say(fmt::format("loading {} ({} threads)", path, threads));
    reset_peak_rss();
    const auto t0 = std::chrono::steady_clock::now();
    Engine engine(backends::load(lo), {.parallel = 1, .queue = 0});
    r.load_s = seconds_since(t0);
    const auto& info = engine.backend().info();
    r.model = info.name;
    r.backend = info.backend;
    r.size_bytes = info.file_bytes;
    if (info.threads > 0) r.threads = info.threads;  // the CPU backend caps the count at the cores
    // The probe maps the model file a second time: its pages count in VmHWM but are not the model's, so the peak
    // is that of loading and of the runs, the probe left out.
    const uint64_t load_peak = peak_rss_bytes();
    const double bw = bandwidth_for(r.threads, path);
    reset_peak_rss();
    for (int depth : opt.depths) {
      BenchResult d = r;
      d.depth = depth;
      measure_speed(engine, d);
      if (!opt.prompts.empty() && depth == opt.depths.front()) run_prompts(engine, d);
      d.peak_rss_bytes = std::max(load_peak, peak_rss_bytes());
      d.bandwidth_gb_s = bw;
      // A decoded token reads the weights and the cache up to its position (on average the middle of the decode).
      d.kv_bytes_read = static_cast<uint64_t>((depth + d.prompt_tokens + d.gen_tokens / 2.0) *
                                              static_cast<double>(info.kv_bytes_per_token));
      const double bytes = static_cast<double>(d.size_bytes + d.kv_bytes_read);
      const double roofline_tok_s = d.size_bytes ? d.bandwidth_gb_s * 1e9 / bytes : 0;
      d.roofline_pct = roofline_tok_s > 0 ? 100.0 * d.decode_tok_s.median / roofline_tok_s : 0;
      out.push_back(std::move(d));
    }
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
  if (options.depths.empty() || *std::min_element(options.depths.begin(), options.depths.end()) < 0)
    throw backends::Error("bench: --depth takes token counts >= 0");
  Runner runner{options, {}};
  std::vector<BenchResult> results;
  for (const auto& model : options.models) {
    for (int threads : options.threads) runner.run(model, threads, results);
  }
  return results;
}

}  // namespace rkchat::runtime
