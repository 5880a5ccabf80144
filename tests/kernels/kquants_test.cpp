// K-quant kernels (Q4_K, Q5_K, Q6_K x Q8_K): every ISA this CPU runs against the scalar reference on random
// blocks (random scale and quant bytes, not only quantized floats; bit for bit where the ISA sums floats in the
// reference's order), the reference against a float dot of the dequantized operands, the reference quantizers'
// round trip and the Q8_K quantizer's edge cases.
#include "kernels/kquants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/kernels.h"

namespace rkchat::kernels {
namespace {

struct TypeCase {
  const char* name;
  QType type;
  size_t block_bytes;
  TypeKernels KernelTable::*kernels;
  void (*dequantize)(const void*, float*, int64_t);
  void (*quantize)(const float*, void*, int64_t);
};

const TypeCase kTypes[] = {
    {"Q4_K", QType::Q4_K, sizeof(BlockQ4_K), &KernelTable::q4_k, dequantize_row_q4_k, quantize_row_q4_k_ref},
    {"Q5_K", QType::Q5_K, sizeof(BlockQ5_K), &KernelTable::q5_k, dequantize_row_q5_k, quantize_row_q5_k_ref},
    {"Q6_K", QType::Q6_K, sizeof(BlockQ6_K), &KernelTable::q6_k, dequantize_row_q6_k, quantize_row_q6_k_ref},
};

// A random finite fp16 scale of either sign, magnitude in [1e-3, 1e-1).
fp16_t random_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> mag(1e-3f, 1e-1f);
  const float v = mag(rng);
  return fp32_to_fp16(rng() & 1 ? v : -v);
}

// Weight rows of random bytes with sane fp16 scales (a random bit pattern could be inf or nan).
std::vector<uint8_t> random_weights(const TypeCase& tc, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t nblocks = static_cast<size_t>(rows * cols / QK_K);
  std::vector<uint8_t> w(nblocks * tc.block_bytes);
  for (auto& byte : w) byte = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < nblocks; ++i) {
    uint8_t* block = w.data() + i * tc.block_bytes;
    if (tc.type == QType::Q6_K) {
      reinterpret_cast<BlockQ6_K*>(block)->d = random_scale(rng);
    } else {  // Q4_K and Q5_K start with d, dmin
      const fp16_t d[2] = {random_scale(rng), random_scale(rng)};
      std::memcpy(block, d, sizeof d);
    }
  }
  return w;
}

// Q8_K activation rows of random int8 (-128 included) with matching bsums and a random scale.
std::vector<BlockQ8_K> random_activations(int n_tok, int64_t cols, std::mt19937& rng) {
  std::vector<BlockQ8_K> a(static_cast<size_t>(n_tok * cols / QK_K));
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (BlockQ8_K& b : a) {
    b.d = scale(rng);
    for (auto& q : b.qs) q = static_cast<int8_t>(rng());
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
      b.bsums[j] = static_cast<int16_t>(sum);
    }
  }
  return a;
}

std::vector<float> dequantize_q8_k(const BlockQ8_K* a, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = a[i / QK_K].d * a[i / QK_K].qs[i % QK_K];
  return x;
}

// The weights of one row split into the two parts a kernel sums separately: d*sc*q and dmin*m (Q6_K: no mins).
// Zeroing a block's dmin (or d) leaves one part.
void split_row(const TypeCase& tc, const uint8_t* row, int64_t cols, std::vector<float>& scaled,
               std::vector<float>& mins) {
  std::vector<uint8_t> r(row, row + static_cast<size_t>(cols / QK_K) * tc.block_bytes);
  scaled.resize(static_cast<size_t>(cols));
  mins.assign(static_cast<size_t>(cols), 0.0f);
  if (tc.type == QType::Q6_K) {
    tc.dequantize(r.data(), scaled.data(), cols);
    return;
  }
  const fp16_t zero = 0;
  std::vector<uint8_t> only_scaled = r, only_mins = r;
  for (size_t off = 0; off < r.size(); off += tc.block_bytes) {
    std::memcpy(only_scaled.data() + off + sizeof(fp16_t), &zero, sizeof zero);  // dmin = 0
    std::memcpy(only_mins.data() + off, &zero, sizeof zero);                     // d = 0
  }
  tc.dequantize(only_scaled.data(), scaled.data(), cols);
  tc.dequantize(only_mins.data(), mins.data(), cols);
}

// Bound on the float rounding of any way of summing a row x token product: each kernel sums exact integers per
// block, so the error is a few float roundings per block of the magnitudes summed, S = sum |w part| * |x|.
double tolerance(const std::vector<float>& scaled, const std::vector<float>& mins, const std::vector<float>& x,
                 int64_t nb) {
  double s = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    s += static_cast<double>(std::fabs(scaled[i]) + std::fabs(mins[i])) * static_cast<double>(std::fabs(x[i]));
  }
  return 4.0 * static_cast<double>(nb + 4) * static_cast<double>(FLT_EPSILON) * s + 1e-30;
}

// Runs gemm over rows [r0, r1) into y[t * ldy + r]; rows outside stay NaN so stray writes show.
std::vector<float> run_gemm(const TypeKernels& k, const TypeCase& tc, const std::vector<uint8_t>& w,
                            const std::vector<BlockQ8_K>& a, int64_t rows, int64_t cols, int n_tok, int64_t r0,
                            int64_t r1) {
  const int64_t ldy = rows + 3;
  std::vector<float> y(static_cast<size_t>(ldy * n_tok), NAN);
  const size_t w_row = static_cast<size_t>(cols / QK_K) * tc.block_bytes;
  const size_t a_row = static_cast<size_t>(cols / QK_K) * sizeof(BlockQ8_K);
  k.gemm(w.data(), w_row, reinterpret_cast<const uint8_t*>(a.data()), a_row, y.data(), ldy, r0, r1, n_tok, cols);
  return y;
}

KernelTable reference_table() {
  KernelTable t;
  fill_kquants_ref(t);
  return t;
}

// Restores the process's ISA after a test that switches between them.
class IsaRestorer {
 public:
  IsaRestorer() : saved_(active_isa()) {}
  ~IsaRestorer() { select_isa(saved_); }
  IsaRestorer(const IsaRestorer&) = delete;
  IsaRestorer& operator=(const IsaRestorer&) = delete;

 private:
  std::string saved_;
};

TEST(KQuants, ReportsIsa) {
  std::string all;
  for (const std::string& isa : available_isas()) all += " " + isa;
  std::cout << "kquants: active ISA " << active_isa() << "; available:" << all << "\n";
  EXPECT_NE(kernel_table().q4_k.gemm, nullptr);
  EXPECT_EQ(kernel_table().q4_k.act, QType::Q8_K);
  EXPECT_EQ(kernel_table().q5_k.act, QType::Q8_K);
  EXPECT_EQ(kernel_table().q6_k.act, QType::Q8_K);
}

TEST(KQuants, EveryIsaMatchesReference) {
  IsaRestorer restore;
  const KernelTable ref = reference_table();
  std::mt19937 rng(1234);
  struct Shape {
    int64_t rows, cols;
  };
  // Rows of 16 and more (35: two whole 16-row tiles and an edge) with 27 or 32 tokens run the prefill kernels.
  const Shape shapes[] = {{1, 256}, {3, 512}, {5, 768}, {11, 256}, {7, 4096}, {2, 2560}, {35, 512}, {16, 768}};
  const int tokens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 27, 32};
  for (const std::string& isa : available_isas()) {
    select_isa(isa);
    for (const TypeCase& tc : kTypes) {
      const TypeKernels& k = kernel_table().*tc.kernels;
      ASSERT_NE(k.gemm, nullptr) << isa << " " << tc.name;
      for (const Shape& s : shapes) {
        const auto w = random_weights(tc, s.rows, s.cols, rng);
        const int64_t nb = s.cols / QK_K;
        std::vector<std::vector<float>> scaled(static_cast<size_t>(s.rows)), mins(scaled.size());
        for (int64_t r = 0; r < s.rows; ++r) {
          split_row(tc, w.data() + static_cast<size_t>(r * nb) * tc.block_bytes, s.cols, scaled[r], mins[r]);
        }
        for (int n_tok : tokens) {
          if (s.cols == 4096 && n_tok > 9) continue;  // enough coverage, keeps the scalar reference quick
          const auto a = random_activations(n_tok, s.cols, rng);
          // Whole range, and a sub-range starting at row 1 (threads get such ranges).
          const int64_t r0 = s.rows > 2 ? 1 : 0;
          for (const int64_t begin : {int64_t{0}, r0}) {
            const auto want = run_gemm(ref.*tc.kernels, tc, w, a, s.rows, s.cols, n_tok, begin, s.rows);
            const auto got = run_gemm(k, tc, w, a, s.rows, s.cols, n_tok, begin, s.rows);
            for (int t = 0; t < n_tok; ++t) {
              const auto x = dequantize_q8_k(a.data() + t * nb, s.cols);
              for (int64_t r = 0; r < s.rows + 3; ++r) {
                const size_t i = static_cast<size_t>(t * (s.rows + 3) + r);
                if (r < begin || r >= s.rows) {
                  ASSERT_TRUE(std::isnan(got[i])) << isa << " " << tc.name << " wrote outside its rows: r=" << r;
                  continue;
                }
                const bool exact = test::sums_in_reference_order(isa, tc.type, n_tok);
                const double tol = exact ? 0.0 : tolerance(scaled[r], mins[r], x, nb);
                ASSERT_NEAR(got[i], want[i], tol) << isa << " " << tc.name << " rows=" << s.rows << " cols=" << s.cols
                                                  << " n_tok=" << n_tok << " r=" << r << " t=" << t;
              }
            }
          }
        }
      }
    }
  }
}

// Scales of 1 and activations in [-3, 3]: every partial sum of every order is an integer below 2^24, so each ISA
// must equal the reference exactly and any wrong integer (an off-by-one in a sum) fails. 35 rows and 27 tokens
// run the prefill kernels too.
// The prefill kernels that keep weight rows in the lanes (AVX2: 8, AVX-512 VNNI: 16) add the same integer sums in
// the same float steps, so on whole tiles they agree bit for bit.
TEST(KQuants, Avx2PrefillEqualsTheAvx512One) {
  IsaRestorer restore;
  const auto isas = available_isas();
  if (std::find(isas.begin(), isas.end(), "avx512vnni") == isas.end()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  std::mt19937 rng(11);
  for (const TypeCase& tc : {kTypes[0], kTypes[2]}) {
    for (const auto& [rows, cols, n_tok] : {std::tuple<int64_t, int64_t, int>{32, 256, 24}, {48, 768, 29}}) {
      const auto w = random_weights(tc, rows, cols, rng);
      const auto a = random_activations(n_tok, cols, rng);
      select_isa("avx2");
      const auto got = run_gemm(kernel_table().*tc.kernels, tc, w, a, rows, cols, n_tok, 0, rows);
      select_isa("avx512vnni");
      const auto want = run_gemm(kernel_table().*tc.kernels, tc, w, a, rows, cols, n_tok, 0, rows);
      for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(want[i])) continue;  // the padding past each token's rows
        ASSERT_EQ(got[i], want[i]) << tc.name << " " << rows << " x " << cols << ", " << n_tok << " tokens, at " << i;
      }
    }
  }
}

TEST(KQuants, EveryIsaIsExactOnSmallIntegers) {
  IsaRestorer restore;
  const KernelTable ref = reference_table();
  std::mt19937 rng(77);
  const int64_t rows = 35, cols = 512;
  const fp16_t one = fp32_to_fp16(1.0f);
  for (const TypeCase& tc : kTypes) {
    auto w = random_weights(tc, rows, cols, rng);
    for (size_t off = 0; off < w.size(); off += tc.block_bytes) {
      if (tc.type == QType::Q6_K) {
        reinterpret_cast<BlockQ6_K*>(w.data() + off)->d = one;
      } else {
        const fp16_t d[2] = {one, one};
        std::memcpy(w.data() + off, d, sizeof d);
      }
    }
    for (int n_tok : {3, 27}) {
      auto a = random_activations(n_tok, cols, rng);
      std::uniform_int_distribution<int> small(-3, 3);
      for (BlockQ8_K& b : a) {
        b.d = 1.0f;
        for (auto& q : b.qs) q = static_cast<int8_t>(small(rng));
        for (int j = 0; j < QK_K / 16; ++j) {
          b.bsums[j] = 0;
          for (int l = 0; l < 16; ++l) b.bsums[j] = static_cast<int16_t>(b.bsums[j] + b.qs[16 * j + l]);
        }
      }
      const auto want = run_gemm(ref.*tc.kernels, tc, w, a, rows, cols, n_tok, 0, rows);
      for (const std::string& isa : available_isas()) {
        select_isa(isa);
        const auto got = run_gemm(kernel_table().*tc.kernels, tc, w, a, rows, cols, n_tok, 0, rows);
        for (size_t i = 0; i < got.size(); ++i) {
          if (std::isnan(want[i])) continue;  // the unused column of each token
          ASSERT_EQ(got[i], want[i]) << isa << " " << tc.name << " n_tok=" << n_tok << " at " << i;
        }
      }
    }
  }
}

// The reference gemm equals the float dot of the dequantized weights and the dequantized activations.
TEST(KQuants, ReferenceMatchesDequantizedDot) {
  const KernelTable ref = reference_table();
  std::mt19937 rng(99);
  const int64_t rows = 5, cols = 1024, nb = cols / QK_K;
  const int n_tok = 3;
  for (const TypeCase& tc : kTypes) {
    const auto w = random_weights(tc, rows, cols, rng);
    const auto a = random_activations(n_tok, cols, rng);
    const auto y = run_gemm(ref.*tc.kernels, tc, w, a, rows, cols, n_tok, 0, rows);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = w.data() + static_cast<size_t>(r * nb) * tc.block_bytes;
      std::vector<float> wf(static_cast<size_t>(cols)), scaled, mins;
      tc.dequantize(row, wf.data(), cols);
      split_row(tc, row, cols, scaled, mins);
      for (int t = 0; t < n_tok; ++t) {
        const auto x = dequantize_q8_k(a.data() + t * nb, cols);
        double dot = 0.0;
        for (int64_t i = 0; i < cols; ++i) dot += static_cast<double>(wf[i]) * static_cast<double>(x[i]);
        EXPECT_NEAR(y[static_cast<size_t>(t * (rows + 3) + r)], dot, tolerance(scaled, mins, x, nb))
            << tc.name << " r=" << r << " t=" << t;
      }
    }
  }
}

// The reference quantizers round-trip within the format's error: relative RMS error over Gaussian rows (plus an
// outlier per block), bounds a little above what these simple quantizers reach (measured on 64 blocks: Q4_K 0.083,
// Q5_K 0.040, Q6_K 0.021).
TEST(KQuants, ReferenceQuantizersRoundTrip) {
  const struct {
    const TypeCase& tc;
    double max_rel_rms;
  } cases[] = {{kTypes[0], 0.10}, {kTypes[1], 0.05}, {kTypes[2], 0.03}};
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 16 * QK_K;
  for (const auto& c : cases) {
    for (const float scale : {1e-3f, 1.0f, 30.0f}) {
      std::vector<float> x(static_cast<size_t>(n)), back(x.size());
      for (auto& v : x) v = scale * normal(rng);
      for (int64_t b = 0; b < n / QK_K; ++b) x[static_cast<size_t>(b * QK_K + b % 7)] *= 4.0f;
      std::vector<uint8_t> q(static_cast<size_t>(n / QK_K) * c.tc.block_bytes);
      c.tc.quantize(x.data(), q.data(), n);
      c.tc.dequantize(q.data(), back.data(), n);
      double err = 0.0, ref = 0.0;
      for (size_t i = 0; i < x.size(); ++i) {
        const auto e = static_cast<double>(back[i] - x[i]), v = static_cast<double>(x[i]);
        err += e * e;
        ref += v * v;
      }
      EXPECT_LT(std::sqrt(err / ref), c.max_rel_rms) << c.tc.name << " scale " << scale;
    }
    // All zeros stay zeros.
    std::vector<float> zeros(QK_K, 0.0f), back(QK_K, 1.0f);
    std::vector<uint8_t> q(c.tc.block_bytes);
    c.tc.quantize(zeros.data(), q.data(), QK_K);
    c.tc.dequantize(q.data(), back.data(), QK_K);
    for (float v : back) ASSERT_EQ(v, 0.0f) << c.tc.name;
  }
}

void expect_consistent_bsums(const BlockQ8_K& b) {
  for (int j = 0; j < QK_K / 16; ++j) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
    EXPECT_EQ(b.bsums[j], sum) << "bsum " << j;
  }
}

TEST(KQuants, Q8KAllZeros) {
  std::vector<float> x(2 * QK_K, 0.0f);
  BlockQ8_K b[2];
  std::memset(b, 0x55, sizeof b);
  quantize_row_q8_k_ref(x.data(), b, 2 * QK_K);
  for (const BlockQ8_K& blk : b) {
    EXPECT_EQ(blk.d, 0.0f);
    for (int8_t q : blk.qs) ASSERT_EQ(q, 0);
    for (int16_t s : blk.bsums) ASSERT_EQ(s, 0);
  }
}

// The element of largest magnitude maps to -127 (so d takes its sign), a huge one flattens the rest to 0.
TEST(KQuants, Q8KOneHugeValue) {
  std::vector<float> x(QK_K, 0.25f);
  x[17] = 1e30f;
  BlockQ8_K b;
  quantize_row_q8_k_ref(x.data(), &b, QK_K);
  EXPECT_EQ(b.qs[17], -127);
  EXPECT_FLOAT_EQ(b.d * static_cast<float>(b.qs[17]), 1e30f);
  for (int j = 0; j < QK_K; ++j) {
    if (j != 17) {
      ASSERT_EQ(b.qs[j], 0) << j;
    }
  }
  expect_consistent_bsums(b);
}

// Negative max: iscale = -127 / max is positive; hand-computed values, ties round to even (63.5 -> 64).
TEST(KQuants, Q8KNegativeMaxAndRounding) {
  std::vector<float> x(QK_K, 0.0f);
  x[0] = 1.0f;   // 63.5 -> 64
  x[1] = -2.0f;  // the max by magnitude -> -127
  x[2] = 0.5f;   // 31.75 -> 32
  x[3] = -1.0f;  // -63.5 -> -64
  x[4] = 1.98f;  // 125.73 -> 126
  BlockQ8_K b;
  quantize_row_q8_k_ref(x.data(), &b, QK_K);
  EXPECT_FLOAT_EQ(b.d, 2.0f / 127.0f);
  EXPECT_EQ(b.qs[0], 64);
  EXPECT_EQ(b.qs[1], -127);
  EXPECT_EQ(b.qs[2], 32);
  EXPECT_EQ(b.qs[3], -64);
  EXPECT_EQ(b.qs[4], 126);
  EXPECT_EQ(b.bsums[0], 64 - 127 + 32 - 64 + 126);
  expect_consistent_bsums(b);
}

TEST(KQuants, Q8KRoundTripsRandomRows) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> x(8 * QK_K);
  for (auto& v : x) v = u(rng);
  std::vector<BlockQ8_K> b(8);
  quantize_row_q8_k_ref(x.data(), b.data(), static_cast<int64_t>(x.size()));
  const auto back = dequantize_q8_k(b.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(std::fabs(back[i] - x[i]), 0.5f * std::fabs(b[i / QK_K].d) * 1.0001f) << i;
  }
  for (const BlockQ8_K& blk : b) expect_consistent_bsums(blk);
}

}  // namespace
}  // namespace rkchat::kernels
