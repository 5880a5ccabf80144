// K-quant matmul speed (Q4_K, Q5_K, Q6_K weights x Q8_K activations) per ISA, through matmul() with 2 threads:
//
//   gemv    (n_tok 1):   GB/s of weights streamed (compare with BM_MemoryRead in kernels_bench.cpp). Each
//                        iteration uses the next of enough weight copies (>= 512 MiB in all) that they come from
//                        DRAM, as in a forward pass over all layers, not from the last-level cache.
//   prefill (n_tok 128): GOPS (2 ops per multiply-add), one weight copy.
//
//   rkchat_kernels_bench --benchmark_filter='BM_KQuant/.*/Q4_K/2560x2560'
// The main() of kernels_bench.cpp runs these: they register themselves at start-up.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "kernels/thread_pool.h"

namespace rk = rkchat::kernels;

namespace {

constexpr size_t kStreamBytes = size_t{512} << 20;
constexpr int kThreads = 2;

// Random bytes with a sane fp16 d (and dmin) at the block's scale offset, so no float path meets inf or NaN.
void fill_blocks(rk::QType type, uint8_t* p, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(p + i, &v, 8);
  }
  const uint16_t d = rk::fp32_to_fp16(0.01f);
  const size_t block = rk::qtype_block_bytes(type);
  const size_t d_offset = type == rk::QType::Q6_K ? offsetof(rk::BlockQ6_K, d) : 0;
  for (size_t i = 0; i + block <= n; i += block) {
    std::memcpy(p + i + d_offset, &d, 2);
    if (type != rk::QType::Q6_K) std::memcpy(p + i + 2, &d, 2);  // dmin
  }
}

rk::ThreadPool& pool() {
  static rk::ThreadPool p(kThreads);
  return p;
}

// Weight copies of one shape, kept while consecutive benchmarks (and Google Benchmark's repeated calls of one)
// use the same shape.
const std::vector<std::unique_ptr<uint8_t[]>>& weights(rk::QType type, size_t bytes, size_t n_copies) {
  static rk::QType cached_type{};
  static size_t cached_bytes = 0;
  static std::vector<std::unique_ptr<uint8_t[]>> copies;
  if (cached_type != type || cached_bytes != bytes || copies.size() < n_copies) {
    copies.clear();
    for (size_t i = 0; i < n_copies; ++i) {
      copies.emplace_back(new uint8_t[bytes]);
      fill_blocks(type, copies.back().get(), bytes, i);
    }
    cached_type = type;
    cached_bytes = bytes;
  }
  return copies;
}

void bm_kquant(benchmark::State& state, const std::string& isa, rk::QType type, int64_t rows, int64_t cols, int n_tok) {
  rk::select_isa(isa);
  const size_t row_bytes = rk::qtype_row_bytes(type, cols);
  const size_t bytes = row_bytes * static_cast<size_t>(rows);
  const size_t n_copies = n_tok == 1 ? (kStreamBytes + bytes - 1) / bytes : 1;
  const auto& copies = weights(type, bytes, n_copies);
  std::vector<float> x(static_cast<size_t>(cols * n_tok));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (float& v : x) v = dist(rng);
  std::vector<float> y(static_cast<size_t>(rows * n_tok));
  rk::Workspace ws;
  ws.get(rk::matmul_workspace_bytes(type, cols, n_tok));
  size_t i = 0;
  for (auto _ : state) {
    const rk::Matrix m{type, copies[i].get(), rows, cols, row_bytes};
    rk::matmul(m, x.data(), cols, y.data(), rows, n_tok, pool(), ws);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % n_copies;
  }
  const double iters = static_cast<double>(state.iterations());
  if (n_tok == 1) {
    state.counters["GB/s"] = benchmark::Counter(iters * static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsRate);
  } else {
    state.counters["GOPS"] =
        benchmark::Counter(iters * 2.0 * static_cast<double>(rows * cols * n_tok) / 1e9, benchmark::Counter::kIsRate);
  }
}

bool register_kquant_benchmarks() {
  struct Shape {
    int64_t rows, cols;
  };
  const Shape shapes[] = {{2560, 2560}, {9728, 2560}};
  for (const std::string& isa : rk::available_isas()) {
    for (rk::QType type : {rk::QType::Q4_K, rk::QType::Q5_K, rk::QType::Q6_K}) {
      for (const Shape& s : shapes) {
        for (int n_tok : {1, 128}) {
          // The scalar reference is there for scale: the small shape's gemv only.
          if (isa == "scalar" && (n_tok != 1 || s.rows != 2560)) continue;
          const std::string name = "BM_KQuant/" + isa + "/" + rk::qtype_name(type) + "/" + std::to_string(s.rows) +
                                   "x" + std::to_string(s.cols) + "/n_tok:" + std::to_string(n_tok);
          benchmark::RegisterBenchmark(name.c_str(), bm_kquant, isa, type, s.rows, s.cols, n_tok)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  return true;
}

[[maybe_unused]] const bool kRegistered = register_kquant_benchmarks();

}  // namespace
