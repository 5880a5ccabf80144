// Attention over the KV cache, F32 and F16 rows, against a double-precision reference on random data (the F16 path
// has its own SIMD code on x86, so both are checked on odd head sizes and lengths).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp16.h"
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

}  // namespace
