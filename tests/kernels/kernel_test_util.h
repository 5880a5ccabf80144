// Shared helpers of the kernel tests: random inputs in the GGUF block formats, and the ISA parameter.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels::test {

// The table of one ISA (copied, so two ISAs can be compared in one test).
inline KernelTable table_of(const std::string& isa) {
  select_isa(isa);
  return kernel_table();
}

// Floats with a spread of magnitudes and a few outliers, like real activations.
inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::uniform_int_distribution<int> outlier(0, 63);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng) * (outlier(rng) == 0 ? 20.0f : 1.0f);
  return v;
}

// Random bytes for the quants of a weight matrix of `type`, with plausible fp16 scales (and mins for Q4_1).
inline std::vector<uint8_t> random_weights(std::mt19937& rng, QType type, int64_t rows, int64_t cols) {
  const size_t row_bytes = qtype_row_bytes(type, cols);
  std::vector<uint8_t> w(row_bytes * static_cast<size_t>(rows));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (size_t i = 0; i < w.size(); i += 4) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    std::memcpy(&w[i], &bits, std::min<size_t>(4, w.size() - i));
  }
  auto put_half = [&](size_t off, float v) {
    const uint16_t h = type == QType::BF16 ? fp32_to_bf16(v) : fp32_to_fp16(v);
    std::memcpy(&w[off], &h, 2);
  };
  const size_t n = w.size();
  switch (type) {
    case QType::F32:
      for (size_t i = 0; i < n; i += 4) {
        const float v = scale(rng) * (byte(rng) < 128 ? -20.0f : 20.0f);
        std::memcpy(&w[i], &v, 4);
      }
      break;
    case QType::F16:
    case QType::BF16:
      for (size_t i = 0; i < n; i += 2) put_half(i, scale(rng) * (byte(rng) < 128 ? -20.0f : 20.0f));
      break;
    case QType::Q8_0:
      for (size_t i = 0; i < n; i += sizeof(BlockQ8_0)) put_half(i, scale(rng));
      break;
    case QType::Q4_0:
      for (size_t i = 0; i < n; i += sizeof(BlockQ4_0)) put_half(i, scale(rng));
      break;
    case QType::Q4_1:
      for (size_t i = 0; i < n; i += sizeof(BlockQ4_1)) {
        put_half(i, scale(rng));
        put_half(i + 2, -8.0f * scale(rng));
      }
      break;
    default:
      ADD_FAILURE() << "no random weights for " << qtype_name(type);
  }
  return w;
}

// Whether an ISA's products of `type` weights on a batch of n_tok tokens add up floats in the reference order
// (src/kernels/ref_lanes.h, x86 AVX2's 8 lanes), so they must equal the reference bit for bit. AVX-512 VNNI keeps
// 16 lanes, and AMX and the prefill kernels that keep weight rows in the lanes (neon-dot's from 8 tokens on, AVX2's
// Q4_K/Q6_K ones from 8) sum even and odd chunks apart; both NEON levels' decode kernels for Q8_0/Q4_0/Q4_1 (up to 4
// tokens, arm_neon_gemv.h) convert whole block sums: their own orders, held to a rounding tolerance.
inline bool sums_in_reference_order(const std::string& isa, QType type, int n_tok) {
  const bool neon_gemv =
      isa.starts_with("neon") && n_tok <= 4 && (type == QType::Q8_0 || type == QType::Q4_0 || type == QType::Q4_1);
  const bool avx2_rows = isa == "avx2" && n_tok >= 8 && (type == QType::Q4_K || type == QType::Q6_K);
  return isa != "avx512vnni" && isa != "amx" && !(isa == "neon-dot" && n_tok >= 8) && !neon_gemv && !avx2_rows;
}

inline std::string isa_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

}  // namespace rkchat::kernels::test
