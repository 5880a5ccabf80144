#include "runtime/bench_parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/engine.h"
#include "runtime/machine.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) { return spread_of(std::move(v)).median; }

// n tokens of ordinary text, different for each stream from the first token on (so no stream reuses another's
// cached prompt).
std::vector<int32_t> stream_prompt(const tok::Tokenizer& tok, int n, int stream) {
  const auto base = tok.encode(
      "Stream " + std::to_string(stream) +
          ": the history of computing is a story of people who wanted to calculate faster than they could by hand. "
          "Early machines used gears and levers, later ones relays and vacuum tubes, and modern processors pack "
          "billions of transistors onto a chip smaller than a fingernail. ",
      false);
  if (base.empty()) throw backends::Error("bench: the tokenizer encodes the filler text to nothing");
  std::vector<int32_t> ids;
  while (static_cast<int>(ids.size()) < n) ids.insert(ids.end(), base.begin(), base.end());
  ids.resize(static_cast<size_t>(n));
  return ids;
}

RequestOptions greedy(std::vector<int32_t> prompt, int max_tokens) {
  RequestOptions r;
  r.prompt = std::move(prompt);
  r.generate.sampling.temperature = 0;
  r.generate.max_tokens = max_tokens;
  r.generate.ignore_eos = true;
  return r;
}

// Arrival time of every token of one request, read by its own consumer thread (as a server's would).
struct Stream {
  std::shared_ptr<Request> request;
  std::vector<Clock::time_point> arrivals;
  std::atomic<int> n_tokens{0};  // arrivals.size(), for other threads
  backends::TurnStats stats;
  std::thread reader;

  void start() {
    reader = std::thread([this] {
      for (bool done = false; !done;) {
        for (auto& u : request->wait(1000ms)) {
          const auto now = Clock::now();
          for (size_t i = 0; i < u.tokens.size(); ++i) arrivals.push_back(now);
          n_tokens.fetch_add(static_cast<int>(u.tokens.size()));
          if (u.done) {
            stats = u.stats;
            done = true;
          }
        }
      }
    });
  }
  void join() {
    if (reader.joinable()) reader.join();
  }
};

ParallelResult measure(const BenchOptions& o, int n, int long_tokens, int batch_tokens) {
  auto lo = o.load;
  lo.path = o.models.front();
  lo.threads = o.threads.front();
  lo.max_sequences = n + 1;  // the N streams and the long prompt
  lo.n_ctx = std::max(lo.n_ctx, long_tokens + 16);
  Engine engine(backends::load(lo), {.parallel = n + 1, .queue = 0, .batch_tokens = batch_tokens});
  const auto* tok = engine.backend().tokenizer();
  if (!tok || !engine.backend().capabilities().batching)
    throw backends::Error("bench --parallel needs a GGUF model with a tokenizer (the CPU backend)");
  collect(*engine.submit(greedy(stream_prompt(*tok, 8, 99), 2)), nullptr);  // warm-up: pages the weights in

  ParallelResult r;
  r.parallel = n;
  r.long_prompt_tokens = long_tokens;
  // Phase 1: N streams submitted together.
  {
    std::vector<std::unique_ptr<Stream>> streams;
    for (int i = 0; i < n; ++i) {
      streams.push_back(std::make_unique<Stream>());
      streams.back()->request = engine.submit(greedy(stream_prompt(*tok, o.prompt_tokens, i), o.gen_tokens));
      streams.back()->start();
    }
    std::vector<double> per_stream, ttft;
    Clock::time_point first = Clock::time_point::max(), last{};
    int tokens = 0;
    for (auto& s : streams) {
      s->join();
      if (s->stats.stop == backends::StopReason::error) throw backends::Error("bench: " + s->stats.error);
      if (s->arrivals.size() < 2) continue;
      per_stream.push_back(1000.0 * static_cast<double>(s->arrivals.size() - 1) /
                           ms_between(s->arrivals.front(), s->arrivals.back()));
      ttft.push_back(s->stats.ttft_ms);
      first = std::min(first, s->arrivals.front());
      last = std::max(last, s->arrivals.back());
      tokens += static_cast<int>(s->arrivals.size()) - 1;
    }
    r.per_stream_decode_tok_s = median(per_stream);
    r.ttft_ms = median(ttft);
    r.aggregate_decode_tok_s = last > first ? 1000.0 * tokens / ms_between(first, last) : 0;
  }
  // Phase 2: N streams run; a long prompt arrives; the longest gap of a stream while it is computed.
  {
    std::vector<std::unique_ptr<Stream>> streams;
    for (int i = 0; i < n; ++i) {
      streams.push_back(std::make_unique<Stream>());
      streams.back()->request = engine.submit(greedy(stream_prompt(*tok, o.prompt_tokens, 100 + i), -1));
      streams.back()->start();
    }
    // Let every stream get past its prompt and generate for a while.
    const auto deadline = Clock::now() + 60s;
    for (auto& s : streams)
      while (s->n_tokens.load() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(500ms);
    const auto t0 = Clock::now();
    auto long_req = engine.submit(greedy(stream_prompt(*tok, long_tokens, 1000), 1));
    const auto r_long = collect(*long_req, nullptr);
    const auto t1 = t0 + std::chrono::microseconds(static_cast<int64_t>(r_long.stats.ttft_ms * 1000));
    for (auto& s : streams) s->request->cancel();
    for (auto& s : streams) {
      s->join();
      // Gaps that overlap [t0, t1]: between the last token before t0 and the first after t1 at the widest.
      for (size_t i = 1; i < s->arrivals.size(); ++i)
        if (s->arrivals[i] >= t0 && s->arrivals[i - 1] <= t1)
          r.max_gap_ms = std::max(r.max_gap_ms, ms_between(s->arrivals[i - 1], s->arrivals[i]));
    }
  }
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace

std::vector<ParallelResult> run_parallel_bench(const BenchOptions& o, const std::vector<int>& parallel,
                                               int long_prompt_tokens, int batch_tokens) {
  if (o.models.empty() || o.threads.empty()) throw backends::Error("bench --parallel: no model or thread count");
  for (int n : parallel)
    if (n < 1 || n > 64) throw backends::Error("bench --parallel: each N must be between 1 and 64");
  std::vector<ParallelResult> out;
  for (int n : parallel) {
    if (o.progress)
      o.progress(fmt::format("parallel {}: {} streams of {} + {} tokens, then a {}-token prompt", n, n, o.prompt_tokens,
                             o.gen_tokens, long_prompt_tokens));
    out.push_back(measure(o, n, long_prompt_tokens, batch_tokens));
  }
  return out;
}

std::string parallel_table(const std::vector<ParallelResult>& results) {
  std::string s = fmt::format("{:>8} {:>14} {:>14} {:>10} {:>12}\n", "parallel", "aggregate t/s", "per-stream t/s",
                              "TTFT ms", "max gap ms");
  const double one = results.empty() ? 0 : results.front().aggregate_decode_tok_s;
  for (const auto& r : results) {
    s += fmt::format("{:>8} {:>14.2f} {:>14.2f} {:>10.1f} {:>12.1f}", r.parallel, r.aggregate_decode_tok_s,
                     r.per_stream_decode_tok_s, r.ttft_ms, r.max_gap_ms);
    if (one > 0 && results.front().parallel == 1) s += fmt::format("  ({:.2f}x)", r.aggregate_decode_tok_s / one);
    s += "\n";
  }
  return s;
}

nlohmann::json parallel_json(const std::vector<ParallelResult>& results) {
  auto a = nlohmann::json::array();
  for (const auto& r : results)
    a.push_back({{"parallel", r.parallel},
                 {"aggregate_decode_tok_s", r.aggregate_decode_tok_s},
                 {"per_stream_decode_tok_s", r.per_stream_decode_tok_s},
                 {"ttft_ms", r.ttft_ms},
                 {"max_gap_ms", r.max_gap_ms},
                 {"long_prompt_tokens", r.long_prompt_tokens},
                 {"peak_rss_bytes", r.peak_rss_bytes}});
  return a;
}

}  // namespace rkchat::runtime
