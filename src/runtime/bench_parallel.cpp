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

// Arrival time of every token of one request (when the engine queued it, not when this reader woke: a reader
// starved of CPU would otherwise stamp all its tokens with one time and shrink the window to nothing), read by its
// own consumer thread (as a server's would).
struct Stream {
  std::shared_ptr<Request> request;
  Clock::time_point submitted;
  std::vector<Clock::time_point> arrivals;
  std::atomic<int> n_tokens{0};  // arrivals.size(), for other threads
  std::atomic<bool> finished{false};
  backends::TurnStats stats;
  std::thread reader;

  void start() {
    reader = std::thread([this] {
      for (bool done = false; !done;) {
        for (auto& u : request->wait(1000ms)) {
          for (size_t i = 0; i < u.tokens.size(); ++i) arrivals.push_back(u.queued_at);
          n_tokens.fetch_add(static_cast<int>(u.tokens.size()));
          if (u.done) {
            stats = u.stats;
            done = true;
            finished.store(true);
          }
        }
      }
    });
  }
  void join() {
    if (reader.joinable()) reader.join();
  }
};

using Streams = std::vector<std::unique_ptr<Stream>>;

// n streams of unbounded greedy answers to different prompts, submitted at once; seed numbers their prompts, so
// that no repetition finds the prompts of another in the cache.
Streams start_streams(Engine& engine, const tok::Tokenizer& tok, int prompt_tokens, int n, int seed) {
  Streams streams;
  for (int i = 0; i < n; ++i) {
    streams.push_back(std::make_unique<Stream>());
    streams.back()->submitted = Clock::now();
    streams.back()->request = engine.submit(greedy(stream_prompt(tok, prompt_tokens, seed + i), -1));
    streams.back()->start();
  }
  return streams;
}

void wait_for_first_tokens(const Streams& streams) {
  const auto deadline = Clock::now() + 300s;
  for (auto& s : streams)
    while (s->n_tokens.load() == 0) {
      if (Clock::now() > deadline) throw backends::Error("bench: a stream got no token in 300 s");
      std::this_thread::sleep_for(5ms);
    }
}

void stop_streams(Streams& streams) {
  for (auto& s : streams) s->request->cancel();
  for (auto& s : streams) {
    s->join();
    if (s->stats.stop == backends::StopReason::error) throw backends::Error("bench: " + s->stats.error);
  }
}

// Decode speed with all N streams decoding: the window runs from the moment the last stream got its first token
// to the first moment a stream stopped, after each made gen_tokens more. The other streams' prompts, computed while
// the first ones already decode, fall outside it; the whole run (submission to the last token, prompts included)
// is reported beside it.
void measure_decode(Engine& engine, const tok::Tokenizer& tok, const BenchOptions& o, int n, int seed,
                    ParallelResult& r) {
  auto streams = start_streams(engine, tok, o.prompt_tokens, n, seed);
  wait_for_first_tokens(streams);
  std::vector<int> before;
  for (auto& s : streams) before.push_back(s->n_tokens.load());
  for (size_t i = 0; i < streams.size(); ++i)
    while (streams[i]->n_tokens.load() < before[i] + o.gen_tokens && !streams[i]->finished.load())
      std::this_thread::sleep_for(2ms);
  stop_streams(streams);

  Clock::time_point t0{}, t1 = Clock::time_point::max(), submitted = Clock::time_point::max(), last{};
  for (auto& s : streams) {
    t0 = std::max(t0, s->arrivals.front());
    t1 = std::min(t1, s->arrivals.back());
    submitted = std::min(submitted, s->submitted);
    last = std::max(last, s->arrivals.back());
  }
  const double window_s = ms_between(t0, t1) / 1000;
  std::vector<double> per_stream, ttft;
  int in_window = 0, all = 0;
  for (auto& s : streams) {
    const auto k = std::count_if(s->arrivals.begin(), s->arrivals.end(), [&](auto t) { return t > t0 && t <= t1; });
    in_window += static_cast<int>(k);
    all += static_cast<int>(s->arrivals.size());
    if (window_s > 0) per_stream.push_back(static_cast<double>(k) / window_s);
    ttft.push_back(ms_between(s->submitted, s->arrivals.front()));
  }
  r.aggregate_decode_tok_s = window_s > 0 ? in_window / window_s : 0;
  r.per_stream_decode_tok_s = per_stream.empty() ? 0 : median(per_stream);
  r.whole_run_tok_s = last > submitted ? 1000.0 * all / ms_between(submitted, last) : 0;
  r.ttft_ms = median(ttft);
}

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
  // Phase 1: N streams submitted together, --repetitions times; the figures of the run with the median aggregate
  // (one run's figures, not medians of each from different runs).
  std::vector<ParallelResult> runs(static_cast<size_t>(o.repetitions), r);
  for (int rep = 0; rep < o.repetitions; ++rep)
    measure_decode(engine, *tok, o, n, 10000 * rep, runs[static_cast<size_t>(rep)]);
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a.aggregate_decode_tok_s < b.aggregate_decode_tok_s; });
  r = runs[runs.size() / 2];
  // Phase 2: N streams run; a long prompt arrives; the longest gap of a stream while it is computed.
  {
    auto streams = start_streams(engine, *tok, o.prompt_tokens, n, -100);
    wait_for_first_tokens(streams);
    std::this_thread::sleep_for(500ms);  // let them generate for a while
    const auto t0 = Clock::now();
    auto long_req = engine.submit(greedy(stream_prompt(*tok, long_tokens, -1000), 1));
    const auto r_long = collect(*long_req, nullptr);
    const auto t1 = t0 + std::chrono::microseconds(static_cast<int64_t>(r_long.stats.ttft_ms * 1000));
    stop_streams(streams);
    for (auto& s : streams) {
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
  std::string s = fmt::format("{:>8} {:>14} {:>14} {:>13} {:>10} {:>12}\n", "parallel", "aggregate t/s",
                              "per-stream t/s", "whole run t/s", "TTFT ms", "max gap ms");
  const double one = results.empty() ? 0 : results.front().aggregate_decode_tok_s;
  for (const auto& r : results) {
    s += fmt::format("{:>8} {:>14.2f} {:>14.2f} {:>13.2f} {:>10.1f} {:>12.1f}", r.parallel, r.aggregate_decode_tok_s,
                     r.per_stream_decode_tok_s, r.whole_run_tok_s, r.ttft_ms, r.max_gap_ms);
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
                 {"whole_run_tok_s", r.whole_run_tok_s},
                 {"ttft_ms", r.ttft_ms},
                 {"max_gap_ms", r.max_gap_ms},
                 {"long_prompt_tokens", r.long_prompt_tokens},
                 {"peak_rss_bytes", r.peak_rss_bytes}});
  return a;
}

}  // namespace rkchat::runtime
