// `rkchat bench`: per model and thread count, load time, prefill and decode speed, TTFT, peak memory and the
// share of the memory-bandwidth roofline that decode reaches; each figure the median of several repetitions.
// The optional realistic mode runs chat prompts through the template until EOS, like the reference system's
// performance report.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "runtime/machine.h"

namespace rkchat::runtime {

struct BenchOptions {
  std::vector<std::string> models;
  backends::LoadOptions load;      // path and threads are set per run
  std::vector<int> threads = {0};  // thread counts to measure (0: the backend's default)
  int prompt_tokens = 128;
  int gen_tokens = 64;
  std::vector<int> depths = {0};  // tokens already in the cache before the prompt (as llama-bench -d)
  int repetitions = 3;
  std::vector<std::string> prompts;                  // realistic mode when not empty
  backends::GenerateOptions generate;                // realistic mode: sampling and the token limit
  std::function<void(const std::string&)> progress;  // one line at a time, may be empty
};

// Median and range of one figure over the repetitions.
struct Spread {
  double median = 0, min = 0, max = 0;
};
Spread spread_of(std::vector<double> values);

struct PromptRun {
  std::string prompt;
  int tokens = 0;
  double seconds = 0;
  double tok_s = 0;
};

struct BenchResult {
  std::string model;  // name
  std::string file;
  std::string backend;
  uint64_t size_bytes = 0;
  int threads = 0;
  int depth = 0;  // tokens in the cache before the prompt
  double load_s = 0;
  int prompt_tokens = 0;
  Spread prefill_tok_s;
  Spread ttft_s;
  int gen_tokens = 0;
  Spread decode_tok_s;
  uint64_t peak_rss_bytes = 0;
  double bandwidth_gb_s = 0;
  uint64_t kv_bytes_read = 0;  // KV cache bytes a decoded token reads, on average over the decode
  double roofline_pct = 0;     // decode / (bandwidth / (weight + KV bytes read per token))
  int repetitions = 0;
  std::vector<PromptRun> prompt_runs;  // realistic mode
};

// Runs everything; a model that fails to load throws backends::Error naming it.
std::vector<BenchResult> run_bench(const BenchOptions& options);

// Reads a prompts file: one prompt per non-empty line. Throws backends::Error when unreadable.
std::vector<std::string> read_prompts(const std::string& path);

}  // namespace rkchat::runtime
