// Attention over the KV cache, F32, F16 and Q8_0 rows, against a double-precision reference on random data: the
// per-query attend() and the blocked kernel of every ISA, on odd head sizes and lengths. The reference reads the
// stored bytes with its own decoder of the layout in ops.h, so a kernel that misreads a block or its scale differs
// from it by far more than rounding.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace {

using rkchat::kernels::kv_row_bytes;
using rkchat::kernels::kv_type_name;
using rkchat::kernels::KvType;

// Head rows per position in these tests; attention reads the last, so the other's bytes sit in between.
constexpr int kHeads = 2;

// out = softmax(scale * q.K) V in double; k and v hold n_pos rows of dim values.
std::vector<double> reference(const float* q, const std::vector<float>& k, const std::vector<float>& v, int n_pos,
                              int dim, double scale) {
  std::vector<double> w(static_cast<size_t>(n_pos));
  double mx = -INFINITY, sum = 0;
  for (int p = 0; p < n_pos; ++p) {
    double s = 0;
    for (int i = 0; i < dim; ++i)
      s += static_cast<double>(q[i]) * static_cast<double>(k[static_cast<size_t>(p * dim + i)]);
    w[static_cast<size_t>(p)] = s * scale;
    mx = std::max(mx, s * scale);
  }
  for (double& x : w) sum += (x = std::exp(x - mx));
  std::vector<double> out(static_cast<size_t>(dim));
  for (int p = 0; p < n_pos; ++p)
    for (int i = 0; i < dim; ++i)
      out[static_cast<size_t>(i)] +=
          w[static_cast<size_t>(p)] / sum * static_cast<double>(v[static_cast<size_t>(p * dim + i)]);
  return out;
}

// One head row as stored, decoded independently of the kernels: Q8_0 is blocks of an fp16 scale then up to 32 int8.
std::vector<float> decode_row(KvType type, const unsigned char* row, int dim) {
  std::vector<float> out(static_cast<size_t>(dim));
  for (int i = 0; i < dim; ++i) {
    if (type == KvType::f32) {
      std::memcpy(&out[static_cast<size_t>(i)], row + 4 * i, 4);
    } else if (type == KvType::f16) {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      out[static_cast<size_t>(i)] = rkchat::kernels::fp16_to_fp32(h);
    } else {
      const unsigned char* block = row + (i / 32) * 34;
      uint16_t d;
      std::memcpy(&d, block, 2);
      const auto q = static_cast<int8_t>(block[2 + i % 32]);
      out[static_cast<size_t>(i)] = rkchat::kernels::fp16_to_fp32(d) * static_cast<float>(q);
    }
  }
  return out;
}

// n_pos positions of kHeads random head rows stored as the cache stores them.
struct Cache {
  std::vector<float> exact;  // [n_pos][dim]: the last head's values before storing
  std::vector<float> back;   // [n_pos][dim]: the same as stored
  std::vector<unsigned char> bytes;
  int64_t stride = 0;  // bytes per position
  int64_t head = 0;    // offset of the last head's row in a position

  Cache(KvType type, int n_pos, int dim, std::mt19937& rng) {
    std::normal_distribution<float> nd;
    stride = kHeads * static_cast<int64_t>(kv_row_bytes(type, dim));
    head = (kHeads - 1) * static_cast<int64_t>(kv_row_bytes(type, dim));
    bytes.assign(static_cast<size_t>(stride * n_pos), 0);
    std::vector<float> row(static_cast<size_t>(kHeads * dim));
    for (int p = 0; p < n_pos; ++p) {
      for (float& x : row) x = nd(rng);
      rkchat::kernels::kv_store(type, bytes.data() + p * stride, row.data(), kHeads, dim);
      exact.insert(exact.end(), row.end() - dim, row.end());
      const auto b = decode_row(type, bytes.data() + p * stride + head, dim);
      back.insert(back.end(), b.begin(), b.end());
    }
  }
  const unsigned char* at() const { return bytes.data() + head; }
};

std::string type_suffix(KvType t) { return std::string("_") + kv_type_name(t); }

// Q8_0 rows: each value within half a step of its block's scale of the original (the step is the fp16 scale
// d = max|x| / 127, itself rounded by 2^-11, which moves a quant of up to 127 by 127 * 2^-11 d more); the rows take
// exactly 2 * ceil(dim / 32) + dim bytes; the scale of a block is max|x| / 127.
TEST(KvStore, Q8_0RowsRoundToHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (int dim : {1, 7, 31, 32, 33, 64, 80, 128, 131, 256}) {
    const size_t row_bytes = kv_row_bytes(KvType::q8_0, dim);
    ASSERT_EQ(row_bytes, static_cast<size_t>((dim + 31) / 32 * 2 + dim)) << dim;
    std::vector<float> x(static_cast<size_t>(3 * dim));
    for (size_t i = 0; i < x.size(); ++i) x[i] = nd(rng) * (i % 97 == 0 ? 20.0f : 1.0f);  // a few outliers
    std::vector<unsigned char> bytes(3 * row_bytes + 1, 0xAB);
    rkchat::kernels::kv_store(KvType::q8_0, bytes.data(), x.data(), 3, dim);
    EXPECT_EQ(bytes.back(), 0xAB) << "wrote past the rows, dim " << dim;
    for (int h = 0; h < 3; ++h) {
      const auto back = decode_row(KvType::q8_0, bytes.data() + h * row_bytes, dim);
      for (int b = 0; b * 32 < dim; ++b) {
        const int m = std::min(32, dim - b * 32);
        float amax = 0;
        for (int j = 0; j < m; ++j) amax = std::max(amax, std::fabs(x[static_cast<size_t>(h * dim + b * 32 + j)]));
        uint16_t d;
        std::memcpy(&d, bytes.data() + h * row_bytes + b * 34, 2);
        EXPECT_EQ(d, rkchat::kernels::fp32_to_fp16(amax / 127.0f)) << "dim " << dim << " head " << h << " block " << b;
        const float step = amax / 127.0f;
        for (int j = 0; j < m; ++j) {
          const size_t i = static_cast<size_t>(b * 32 + j);
          ASSERT_LE(std::fabs(back[i] - x[static_cast<size_t>(h * dim) + i]), step * (0.5f + 127.0f / 2048.0f))
              << "dim " << dim << " head " << h << " element " << i;
        }
      }
    }
  }
}

class AttentionTest : public ::testing::TestWithParam<KvType> {};

TEST_P(AttentionTest, MatchesDoublePrecision) {
  const KvType type = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (int dim : {1, 7, 8, 64, 72, 80, 128, 131}) {
    for (int n_pos : {1, 2, 17, 100}) {
      std::vector<float> q(static_cast<size_t>(dim));
      for (float& x : q) x = nd(rng);
      const Cache k(type, n_pos, dim, rng), v(type, n_pos, dim, rng);
      const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
      std::vector<float> scores(static_cast<size_t>(n_pos)), out(static_cast<size_t>(dim));
      rkchat::kernels::attend(type, q.data(), k.at(), v.at(), k.stride, n_pos, dim, scale, scores.data(), out.data());
      const auto want = reference(q.data(), k.back, v.back, n_pos, dim, scale);
      for (int i = 0; i < dim; ++i)
        ASSERT_NEAR(out[static_cast<size_t>(i)], want[static_cast<size_t>(i)], 1e-4)
            << "dim " << dim << " n_pos " << n_pos << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KvTypes, AttentionTest, ::testing::Values(KvType::f32, KvType::f16, KvType::q8_0),
                         [](const auto& param_info) { return std::string(kv_type_name(param_info.param)); });

// The blocked kernel of every ISA this CPU runs: a GQA group of queries with causal limits over one KV head, the
// positions split into spans (as decode splits them over threads) and merged, against the double reference.
class BlockedAttentionTest : public ::testing::TestWithParam<std::tuple<std::string, KvType>> {
 protected:
  void SetUp() override { rkchat::kernels::select_isa(std::get<0>(GetParam())); }
  void TearDown() override { rkchat::kernels::select_isa(rkchat::kernels::available_isas().back()); }
};

// Relative L2 distance of out from want.
double relative_error(const std::vector<float>& out, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double d = static_cast<double>(out[i]) - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

TEST_P(BlockedAttentionTest, SpansMatchDoublePrecision) {
  const KvType type = std::get<1>(GetParam());
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  constexpr int kQueries = 5;
  double worst_quantized = 0;
  for (int dim : {1, 7, 64, 80, 128, 131, 256}) {
    for (int n_pos : {1, 31, 33, 100, 257, 1000}) {
      std::vector<float> q(static_cast<size_t>(dim * kQueries));
      for (float& x : q) x = nd(rng) * 2.0f;  // peaked softmax too
      const Cache k(type, n_pos, dim, rng), v(type, n_pos, dim, rng);
      const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
      // Query i sees the first n_pos - 7 i positions (at least one), as the rows of one prefill tile do.
      const float* qp[kQueries];
      int limit[kQueries];
      for (int i = 0; i < kQueries; ++i) {
        qp[i] = &q[static_cast<size_t>(i * dim)];
        limit[i] = std::max(1, n_pos - 7 * i);
      }
      for (int span : {n_pos, 32, 100}) {
        const int spans = (n_pos + span - 1) / span;
        const int64_t sf = rkchat::kernels::attend_state_floats(dim);
        std::vector<float> states(static_cast<size_t>(kQueries * spans * sf), NAN);
        for (int sp = 0; sp < spans; ++sp) {
          float* st[kQueries];
          for (int i = 0; i < kQueries; ++i) st[i] = &states[static_cast<size_t>((i * spans + sp) * sf)];
          rkchat::kernels::AttendSpan a;
          a.type = type;
          a.nq = kQueries;
          a.q = qp;
          a.limit = limit;
          a.state = st;
          a.k = k.at();
          a.v = v.at();
          a.stride_bytes = k.stride;
          a.p0 = sp * span;
          a.p1 = std::min(n_pos, a.p0 + span);
          a.head_dim = dim;
          a.scale = scale;
          rkchat::kernels::attend_span(a);
        }
        for (int i = 0; i < kQueries; ++i) {
          std::vector<float> out(static_cast<size_t>(dim));
          rkchat::kernels::attend_merge(&states[static_cast<size_t>(i * spans * sf)], sf, spans, dim, out.data());
          // Against the values as stored: only float rounding differs (the F16 bound; Q8_0 dequantizes exactly).
          const auto want = reference(qp[i], k.back, v.back, limit[i], dim, scale);
          for (int e = 0; e < dim; ++e)
            ASSERT_NEAR(out[static_cast<size_t>(e)], want[static_cast<size_t>(e)], 2e-5 * std::sqrt(dim) + 1e-5)
                << "dim " << dim << " n_pos " << n_pos << " span " << span << " query " << i << " element " << e;
          if (type != KvType::q8_0 || dim < 32) continue;
          // Against the values before quantization: Q8_0 rounds each value by up to half a step of max|x| / 127 of
          // its block, about 0.5% of a Gaussian row's spread (RMS), through both q.K (the weights) and V; the
          // outputs move by about 1% of their size (at most 1.7% on these cases). 3% leaves margin for that; a
          // lost scale or a shifted block moves them by far more.
          const double err = relative_error(out, reference(qp[i], k.exact, v.exact, limit[i], dim, scale));
          worst_quantized = std::max(worst_quantized, err);
          ASSERT_LT(err, 3e-2) << "dim " << dim << " n_pos " << n_pos << " span " << span << " query " << i;
        }
      }
    }
  }
  if (type == KvType::q8_0) std::printf("worst relative error against the unquantized rows: %.4f\n", worst_quantized);
}

INSTANTIATE_TEST_SUITE_P(IsasAndKvTypes, BlockedAttentionTest,
                         ::testing::Combine(::testing::ValuesIn(rkchat::kernels::available_isas()),
                                            ::testing::Values(KvType::f32, KvType::f16, KvType::q8_0)),
                         [](const auto& param_info) {
                           std::string name =
                               std::get<0>(param_info.param) + type_suffix(std::get<1>(param_info.param));
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
