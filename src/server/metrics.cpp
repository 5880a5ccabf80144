#include "server/metrics.h"

#include <fmt/format.h>

namespace rkchat::server {
namespace {

// Label values are route paths and model names; quote what the format requires.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Metrics::record(const std::string& route, int status, const RequestLog& log) {
  std::lock_guard lock(mu_);
  requests_[{route.empty() ? "other" : route, status}]++;
  if (!log.error.empty()) errors_[log.error]++;
  prompt_tokens_ += static_cast<uint64_t>(log.prompt_tokens);
  cached_tokens_ += static_cast<uint64_t>(log.cached_tokens);
  gen_tokens_ += static_cast<uint64_t>(log.gen_tokens);
  if (log.ttft_ms >= 0) {
    const double s = log.ttft_ms / 1000.0;
    for (size_t i = 0; i < kTtftBuckets.size(); ++i)
      if (s <= kTtftBuckets[i]) ttft_counts_[i]++;
    ttft_n_++;
    ttft_sum_s_ += s;
  }
}

std::string Metrics::render(const std::vector<std::pair<std::string, runtime::EngineStats>>& engines) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    header(out, "rkchat_requests_total", "counter", "HTTP requests by route and status");
    for (const auto& [key, n] : requests_)
      out += fmt::format("rkchat_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", label(key.first), key.second, n);
    header(out, "rkchat_errors_total", "counter", "Requests answered with an error, by type");
    for (const auto& [type, n] : errors_) out += fmt::format("rkchat_errors_total{{type=\"{}\"}} {}\n", label(type), n);
    header(out, "rkchat_prompt_tokens_total", "counter", "Prompt tokens of answered requests (cached included)");
    out += fmt::format("rkchat_prompt_tokens_total {}\n", prompt_tokens_);
    header(out, "rkchat_cached_prompt_tokens_total", "counter", "Prompt tokens reused from the prompt cache");
    out += fmt::format("rkchat_cached_prompt_tokens_total {}\n", cached_tokens_);
    header(out, "rkchat_generated_tokens_total", "counter", "Tokens generated");
    out += fmt::format("rkchat_generated_tokens_total {}\n", gen_tokens_);
    header(out, "rkchat_ttft_seconds", "histogram", "Time to first token");
    for (size_t i = 0; i < kTtftBuckets.size(); ++i)
      out += fmt::format("rkchat_ttft_seconds_bucket{{le=\"{}\"}} {}\n", kTtftBuckets[i], ttft_counts_[i]);
    out += fmt::format("rkchat_ttft_seconds_bucket{{le=\"+Inf\"}} {}\n", ttft_n_);
    out += fmt::format("rkchat_ttft_seconds_sum {}\nrkchat_ttft_seconds_count {}\n", ttft_sum_s_, ttft_n_);
  }
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*get)(const runtime::EngineStats&);
  };
  static const Gauge gauges[] = {
      {"rkchat_slots", "gauge", "Sequences a model can run at once",
       [](const runtime::EngineStats& s) { return uint64_t(s.parallel); }},
      {"rkchat_active_sequences", "gauge", "Requests holding a slot",
       [](const runtime::EngineStats& s) { return uint64_t(s.active); }},
      {"rkchat_queue_length", "gauge", "Requests waiting for a slot",
       [](const runtime::EngineStats& s) { return uint64_t(s.queued); }},
      {"rkchat_engine_requests_total", "counter", "Requests accepted by the engine",
       [](const runtime::EngineStats& s) { return s.requests; }},
      {"rkchat_engine_refused_total", "counter", "Requests refused: queue full",
       [](const runtime::EngineStats& s) { return s.refused; }},
      {"rkchat_engine_failed_total", "counter", "Requests that failed in the engine",
       [](const runtime::EngineStats& s) { return s.failed; }},
      {"rkchat_prompt_cache_hits_total", "counter", "Requests that reused cached prompt tokens",
       [](const runtime::EngineStats& s) { return s.prompt_cache_hits; }},
      {"rkchat_prompt_cache_tokens_total", "counter", "Prompt tokens reused from the cache",
       [](const runtime::EngineStats& s) { return s.cached_tokens; }},
      {"rkchat_engine_steps_total", "counter", "Passes over the weights",
       [](const runtime::EngineStats& s) { return s.steps; }},
  };
  for (const auto& g : gauges) {
    header(out, g.name, g.type, g.help);
    for (const auto& [model, s] : engines)
      out += fmt::format("{}{{model=\"{}\"}} {}\n", g.name, label(model), g.get(s));
  }
  header(out, "rkchat_models_loaded", "gauge", "Models held in memory");
  out += fmt::format("rkchat_models_loaded {}\n", engines.size());
  return out;
}

}  // namespace rkchat::server
