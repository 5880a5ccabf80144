// Internal to the attention files of the ISAs: the Ops of attention_span.h written once over a vector type, for
// AVX2 (8 lanes), AVX-512 (16) and NEON (4). V gives the lane count kN, the vector operations, and dots(q, k, n,
// s): the scores of kN keys at once, one accumulator per key, summed across lanes together. That sum is the one
// part that differs per ISA (a horizontal sum per key would cost as much as its product at head size 64), so it
// stays in the ISA file. Everything is in an unnamed namespace: each file keeps its own copy, built with its own
// target flags.
#pragma once

#include <algorithm>
#include <cmath>

#include "kernels/attention_span.h"
#include "kernels/vec_math.h"

namespace rkchat::kernels {
namespace {

template <class V>
struct VectorOps {
  using Vec = typename V::Vec;
  static constexpr int kN = V::kN;
  static constexpr int kChains = attention_impl::kLanes / kN;  // independent partial sums of a dot product
  static constexpr int kWide = 8;                              // output registers held over all rows (accumulate)

  static float dot(const float* q, const float* k, int n) {
    Vec acc[kChains];
    for (auto& a : acc) a = V::zero();
    int i = 0;
    for (; i + kChains * kN <= n; i += kChains * kN)
      for (int j = 0; j < kChains; ++j) acc[j] = V::fmadd(V::load(q + i + kN * j), V::load(k + i + kN * j), acc[j]);
    for (; i + kN <= n; i += kN) acc[0] = V::fmadd(V::load(q + i), V::load(k + i), acc[0]);
    for (int j = 1; j < kChains; ++j) acc[0] = V::add(acc[0], acc[j]);
    float r = V::hsum(acc[0]);
    for (; i < n; ++i) r += q[i] * k[i];
    return r;
  }

  // The scale and the running max in vectors too: as scalar loops they cost as much as the products.
  static float scores(const float* q, const float* k, int nk, int n, float scale, float* s) {
    Vec mx = V::set1(-INFINITY);
    const Vec vs = V::set1(scale);
    int j = 0;
    for (; j + kN <= nk; j += kN) {
      V::dots(q, k + j * n, n, s + j);
      const Vec v = V::mul(V::load(s + j), vs);
      V::store(s + j, v);
      mx = V::max(mx, v);
    }
    float mt = V::hmax(mx);
    for (; j < nk; ++j) {
      s[j] = dot(q, k + j * n, n) * scale;
      mt = std::max(mt, s[j]);
    }
    return mt;
  }

  static float exp_sum(float* s, int n, float m) {
    for (int j = 0; j < n; ++j) s[j] = exp_approx(s[j] - m);
    Vec acc = V::zero();
    int j = 0;
    for (; j + kN <= n; j += kN) acc = V::add(acc, V::load(s + j));
    float sum = V::hsum(acc);
    for (; j < n; ++j) sum += s[j];
    return sum;
  }

  // kWide vectors of outputs at a time held in registers over all rows, then one, then single outputs.
  static void accumulate(float* y, const float* w, const float* x, int rows, int n) {
    int i0 = 0;
    for (; i0 + kWide * kN <= n; i0 += kWide * kN) {
      Vec acc[kWide];
      for (int j = 0; j < kWide; ++j) acc[j] = V::load(y + i0 + kN * j);
      for (int r = 0; r < rows; ++r) {
        const Vec a = V::set1(w[r]);
        for (int j = 0; j < kWide; ++j) acc[j] = V::fmadd(a, V::load(x + r * n + i0 + kN * j), acc[j]);
      }
      for (int j = 0; j < kWide; ++j) V::store(y + i0 + kN * j, acc[j]);
    }
    for (; i0 + kN <= n; i0 += kN) {
      Vec acc = V::load(y + i0);
      for (int r = 0; r < rows; ++r) acc = V::fmadd(V::set1(w[r]), V::load(x + r * n + i0), acc);
      V::store(y + i0, acc);
    }
    for (int r = 0; r < rows; ++r)
      for (int i = i0; i < n; ++i) y[i] = std::fma(w[r], x[r * n + i], y[i]);
  }
};

}  // namespace
}  // namespace rkchat::kernels
