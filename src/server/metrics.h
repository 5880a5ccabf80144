// Server figures in the Prometheus text format (/metrics): requests by route and status, tokens in and out,
// time to first token, errors by type, and each loaded model's engine (queue, active sequences, prompt cache).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/engine.h"
#include "server/http.h"

namespace rkchat::server {

class Metrics {
 public:
  // One finished request (the HTTP layer's on_done).
  void record(const std::string& route, int status, const RequestLog& log);
  // The text of /metrics; engines: (model name, its engine's stats).
  std::string render(const std::vector<std::pair<std::string, runtime::EngineStats>>& engines) const;

  static constexpr std::array<double, 10> kTtftBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};  // seconds

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status)
  std::map<std::string, uint64_t> errors_;                    // by type
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, gen_tokens_ = 0;
  std::array<uint64_t, kTtftBuckets.size()> ttft_counts_{};
  uint64_t ttft_n_ = 0;
  double ttft_sum_s_ = 0;
};

}  // namespace rkchat::server
