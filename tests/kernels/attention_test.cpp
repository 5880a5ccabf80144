// Attention over the KV cache, F32 and F16 rows, against a double-precision reference on random data (the F16 path
// has its own SIMD code on x86, so both are checked on odd head sizes and lengths).
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace {

using rkchat::kernels::KvType;

// out = softmax(scale * q.K) V in double, from the values as stored (F16 rows rounded through kv_store).
std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                              int stride, int n_pos, int dim, double scale) {
  std::vector<double> w(static_cast<size_t>(n_pos));
  double mx = -INFINITY, sum = 0;
  for (int p = 0; p < n_pos; ++p) {
    double s = 0;
    for (int i = 0; i < dim; ++i)
      s += static_cast<double>(q[static_cast<size_t>(i)]) * static_cast<double>(k[static_cast<size_t>(p * stride + i)]);
    w[static_cast<size_t>(p)] = s * scale;
    mx = std::max(mx, s * scale);
  }
  for (double& x : w) sum += (x = std::exp(x - mx));
  std::vector<double> out(static_cast<size_t>(dim));
  for (int p = 0; p < n_pos; ++p)
    for (int i = 0; i < dim; ++i)
      out[static_cast<size_t>(i)] +=
          w[static_cast<size_t>(p)] / sum * static_cast<double>(v[static_cast<size_t>(p * stride + i)]);
  return out;
}

// Stores rows as the cache would and returns the values as stored (F16 rounds them).
std::vector<float> store(KvType type, const std::vector<float>& x, std::vector<unsigned char>& bytes) {
  bytes.assign(x.size() * 4, 0);
  rkchat::kernels::kv_store(type, bytes.data(), x.data(), static_cast<int64_t>(x.size()));
  std::vector<float> back = x;
  if (type == KvType::f16)
    for (size_t i = 0; i < x.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      back[i] = rkchat::kernels::fp16_to_fp32(h);
    }
  return back;
}

class AttentionTest : public ::testing::TestWithParam<KvType> {};

TEST_P(AttentionTest, MatchesDoublePrecision) {
  const KvType type = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (int dim : {1, 7, 8, 64, 72, 128, 131}) {
    for (int n_pos : {1, 2, 17, 100}) {
      const int stride = dim + 5;  // rows of other heads sit in between
      std::vector<float> q(static_cast<size_t>(dim)), k(static_cast<size_t>(stride * n_pos)), v(k.size());
      for (float& x : q) x = nd(rng);
      for (float& x : k) x = nd(rng);
      for (float& x : v) x = nd(rng);
      // Store as the cache would, then read back what was stored for the reference.
      std::vector<unsigned char> ks(k.size() * 4), vs(v.size() * 4);
      rkchat::kernels::kv_store(type, ks.data(), k.data(), static_cast<int64_t>(k.size()));
      rkchat::kernels::kv_store(type, vs.data(), v.data(), static_cast<int64_t>(v.size()));
      std::vector<float> k_back = k, v_back = v;
      if (type == KvType::f16) {
        for (size_t i = 0; i < k.size(); ++i) {
          uint16_t kh, vh;
          std::memcpy(&kh, ks.data() + 2 * i, 2);
          std::memcpy(&vh, vs.data() + 2 * i, 2);
          k_back[i] = rkchat::kernels::fp16_to_fp32(kh);
          v_back[i] = rkchat::kernels::fp16_to_fp32(vh);
        }
      }
      const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
      std::vector<float> scores(static_cast<size_t>(n_pos)), out(static_cast<size_t>(dim));
      rkchat::kernels::attend(type, q.data(), ks.data(), vs.data(), stride, n_pos, dim, scale, scores.data(),
                              out.data());
      const auto want = reference(q, k_back, v_back, stride, n_pos, dim, scale);
      for (int i = 0; i < dim; ++i)
        ASSERT_NEAR(out[static_cast<size_t>(i)], want[static_cast<size_t>(i)], 1e-4)
            << "dim " << dim << " n_pos " << n_pos << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KvTypes, AttentionTest, ::testing::Values(KvType::f32, KvType::f16),
                         [](const auto& param_info) { return param_info.param == KvType::f32 ? "f32" : "f16"; });

// The blocked kernel of every ISA this CPU runs: several queries with causal limits over one KV head, the
// positions split into spans (as decode splits them over threads) and merged, against the double reference.
class BlockedAttentionTest : public ::testing::TestWithParam<std::tuple<std::string, KvType>> {
 protected:
  void SetUp() override { rkchat::kernels::select_isa(std::get<0>(GetParam())); }
  void TearDown() override { rkchat::kernels::select_isa(rkchat::kernels::available_isas().back()); }
};

TEST_P(BlockedAttentionTest, SpansMatchDoublePrecision) {
  const KvType type = std::get<1>(GetParam());
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  constexpr int kQueries = 5;
  for (int dim : {1, 7, 64, 80, 128, 131, 256}) {
    for (int n_pos : {1, 31, 33, 100, 517}) {
      const int stride = dim + 3;
      std::vector<float> q(static_cast<size_t>(dim * kQueries)), k(static_cast<size_t>(stride * n_pos)), v(k.size());
      for (float& x : q) x = nd(rng) * 2.0f;  // peaked softmax too
      for (float& x : k) x = nd(rng);
      for (float& x : v) x = nd(rng);
      std::vector<unsigned char> ks, vs;
      const auto k_back = store(type, k, ks), v_back = store(type, v, vs);
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
          a.k = ks.data();
          a.v = vs.data();
          a.stride = stride;
          a.p0 = sp * span;
          a.p1 = std::min(n_pos, a.p0 + span);
          a.head_dim = dim;
          a.scale = scale;
          rkchat::kernels::attend_span(a);
        }
        for (int i = 0; i < kQueries; ++i) {
          std::vector<float> out(static_cast<size_t>(dim));
          rkchat::kernels::attend_merge(&states[static_cast<size_t>(i * spans * sf)], sf, spans, dim, out.data());
          const std::vector<float> qi(q.begin() + i * dim, q.begin() + (i + 1) * dim);
          const auto want = reference(qi, k_back, v_back, stride, limit[i], dim, scale);
          for (int e = 0; e < dim; ++e)
            ASSERT_NEAR(out[static_cast<size_t>(e)], want[static_cast<size_t>(e)], 2e-5 * std::sqrt(dim) + 1e-5)
                << "dim " << dim << " n_pos " << n_pos << " span " << span << " query " << i << " element " << e;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(IsasAndKvTypes, BlockedAttentionTest,
                         ::testing::Combine(::testing::ValuesIn(rkchat::kernels::available_isas()),
                                            ::testing::Values(KvType::f32, KvType::f16)),
                         [](const auto& param_info) {
                           std::string name = std::get<0>(param_info.param) +
                                              (std::get<1>(param_info.param) == KvType::f32 ? "_f32" : "_f16");
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
