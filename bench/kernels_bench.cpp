// Kernel speed: matmul() on Qwen3 weight shapes, per ISA, against the machine's memory read bandwidth.
//
//   decode  (n_tok 1, 4 and 8): GB (per second) of weights streamed; compare with BM_MemoryRead (same threads).
//   prefill (n_tok 128):     GOP (per second, 2 ops per multiply-add).
// Each decode iteration walks through enough copies of the matrix (>= 1 GiB in all) that the weights come from
// DRAM, as in a forward pass over all layers, not from the last-level cache.
//
//   rkchat_kernels_bench [--threads=2] --benchmark_filter='Q8_0/.*1024x1024' --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"

namespace rk = rkchat::kernels;

namespace {

constexpr size_t kStreamBytes = size_t{1} << 30;
int g_threads = 2;  // --threads=N

// Weight copies of one shape, kept while consecutive benchmarks use the same shape.
struct WeightSet {
  rk::QType type{};
  int64_t rows = 0, cols = 0;
  size_t row_bytes = 0;
  std::vector<std::unique_ptr<uint8_t[]>> copies;
};

void fill_random(rk::QType type, uint8_t* p, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    std::memcpy(p + i, &s, 8);
  }
  // Sane scales, so no float path meets NaNs or denormals.
  const uint16_t d = rk::fp32_to_fp16(0.01f);
  const size_t block = rk::qtype_block_bytes(type);
  if (type == rk::QType::F32) {
    for (size_t i = 0; i + 4 <= n; i += 4) {
      const float v = 0.01f * static_cast<float>(p[i] & 0x7f);
      std::memcpy(p + i, &v, 4);
    }
  } else if (type == rk::QType::F16 || type == rk::QType::BF16) {
    for (size_t i = 0; i + 2 <= n; i += 2) std::memcpy(p + i, &d, 2);
  } else {
    for (size_t i = 0; i + block <= n; i += block) std::memcpy(p + i, &d, 2);
    if (type == rk::QType::Q4_1) {
      for (size_t i = 0; i + block <= n; i += block) std::memcpy(p + i + 2, &d, 2);
    }
  }
}

const WeightSet& weights(rk::QType type, int64_t rows, int64_t cols, bool stream) {
  static WeightSet set;
  const size_t row_bytes = rk::qtype_row_bytes(type, cols);
  const size_t bytes = row_bytes * static_cast<size_t>(rows);
  const size_t want = stream ? (kStreamBytes + bytes - 1) / bytes : 1;
  if (set.type != type || set.rows != rows || set.cols != cols || set.copies.size() < want) {
    set.copies.clear();
    set.type = type;
    set.rows = rows;
    set.cols = cols;
    set.row_bytes = row_bytes;
    for (size_t i = 0; i < want; ++i) {
      set.copies.emplace_back(new uint8_t[bytes]);
      fill_random(type, set.copies.back().get(), bytes, i);
    }
  }
  return set;
}

rk::ThreadPool& pool() {
  static rk::ThreadPool p(g_threads);
  return p;
}

void bm_matmul(benchmark::State& state, const std::string& isa, rk::QType type, int64_t rows, int64_t cols, int n_tok) {
  rk::select_isa(isa);
  const bool decode = n_tok <= 8;
  const WeightSet& w = weights(type, rows, cols, decode);
  std::vector<float> x(static_cast<size_t>(cols * n_tok));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(rng);
  std::vector<float> y(static_cast<size_t>(rows * n_tok));
  rk::Workspace ws;
  ws.get(rk::matmul_workspace_bytes(type, cols, n_tok));
  const size_t n_used = decode ? w.copies.size() : 1;
  size_t i = 0;
  for (auto _ : state) {
    const rk::Matrix m{type, w.copies[i].get(), rows, cols, w.row_bytes};
    rk::matmul(m, x.data(), cols, y.data(), rows, n_tok, pool(), ws);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % n_used;
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB"] = benchmark::Counter(iters * static_cast<double>(w.row_bytes * static_cast<size_t>(rows)) / 1e9,
                                            benchmark::Counter::kIsRate);
  state.counters["GOP"] =
      benchmark::Counter(iters * 2.0 * static_cast<double>(rows * cols * n_tok) / 1e9, benchmark::Counter::kIsRate);
}

// Read bandwidth with the same pool: each thread sums its half of a 1 GiB buffer.
void bm_memory_read(benchmark::State& state) {
  const size_t n = kStreamBytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  std::vector<uint64_t> sums(static_cast<size_t>(g_threads));
  for (auto _ : state) {
    pool().parallel_for(static_cast<int64_t>(n), 4096, [&](int64_t b, int64_t e, int tid) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t i = b; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sums[static_cast<size_t>(tid)] += s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(kStreamBytes) / 1e9, benchmark::Counter::kIsRate);
}

struct Shape {
  const char* model;
  int64_t rows, cols;
};

const Shape kShapes[] = {
    {"qwen3-0.6b", 1024, 1024}, {"qwen3-0.6b", 2048, 1024},   {"qwen3-0.6b", 3072, 1024},
    {"qwen3-0.6b", 1024, 3072}, {"qwen3-0.6b", 151936, 1024}, {"qwen3-4b", 4096, 2560},
    {"qwen3-4b", 2560, 4096},   {"qwen3-4b", 9728, 2560},     {"qwen3-4b", 2560, 9728},
};

void register_all() {
  const std::string threads = "/threads:" + std::to_string(g_threads);
  benchmark::RegisterBenchmark(("BM_MemoryRead" + threads).c_str(), bm_memory_read)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  const std::vector<std::string> isas = rk::available_isas();
  auto add = [&](rk::QType type, const Shape& s, int n_tok) {
    for (const std::string& isa : isas) {
      // The scalar reference is only there for scale; one small shape is enough.
      if (isa == "scalar" && (s.rows != 1024 || s.cols != 1024)) continue;
      const std::string name = std::string("BM_Matmul/") + isa + "/" + rk::qtype_name(type) + "/" + s.model + "/" +
                               std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                               "/n_tok:" + std::to_string(n_tok) + threads;
      benchmark::RegisterBenchmark(name.c_str(), bm_matmul, isa, type, s.rows, s.cols, n_tok)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  };
  for (const Shape& s : kShapes) {
    for (int n_tok : {1, 4, 8, 128}) {
      if (n_tok == 128 && s.rows > 20000) continue;  // the output head is not run on whole prompts
      add(rk::QType::Q8_0, s, n_tok);
    }
  }
  const Shape ffn = kShapes[2];
  for (rk::QType type : {rk::QType::Q4_0, rk::QType::Q4_1, rk::QType::F16}) {
    for (int n_tok : {1, 128}) add(type, ffn, n_tok);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Our own flag, left in argv by Initialize: the pool size for matmuls and the bandwidth test.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      g_threads = std::max(1, std::atoi(argv[i] + 10));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
