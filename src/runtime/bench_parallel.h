// `rkchat bench --parallel 1,2,4,8`: the serving engine under load. For each N, N streams generate at once
// (aggregate and per-stream decode speed while all N decode, the whole run's rate, TTFT when N prompts arrive
// together), then while N streams run a long
// prompt arrives and is computed in chunks between their steps: the longest gap between two tokens of a running
// stream says how well the chunks keep them flowing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/bench.h"

namespace rkchat::runtime {

struct ParallelResult {
  int parallel = 0;
  double aggregate_decode_tok_s = 0;   // tokens / time while all N streams decode (none in its prompt)
  double per_stream_decode_tok_s = 0;  // median over the streams, in that window
  double whole_run_tok_s = 0;          // all tokens / submission to the last token, the N prompts included
  double ttft_ms = 0;                  // median over the streams, from submission (all N submitted at once)
  double max_gap_ms = 0;               // longest gap between two tokens of a running stream while the long
                                       // prompt was computed
  int long_prompt_tokens = 0;
  uint64_t peak_rss_bytes = 0;
};

// Measures options.models.front() with options.threads.front(); prompt_tokens and gen_tokens per stream,
// long_prompt_tokens for the arriving prompt, batch_tokens per step.
std::vector<ParallelResult> run_parallel_bench(const BenchOptions& options, const std::vector<int>& parallel,
                                               int long_prompt_tokens = 2048, int batch_tokens = 256);

std::string parallel_table(const std::vector<ParallelResult>& results);
nlohmann::json parallel_json(const std::vector<ParallelResult>& results);

}  // namespace rkchat::runtime
