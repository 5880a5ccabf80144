// Internal to src/kernels: the blocked attention kernel of attention.h, written once as plain loops that each ISA
// file compiles with its own flags (the fixed-width inner loops vectorize). Only the conversion of a cache row to
// floats differs per ISA (GCC 12 vectorizes neither half -> float nor int8 -> float), so the ISA's Rows class is a
// template parameter: Rows::half(src, dst, n) converts n halves, Rows::q8(q, d, dst, m) writes d * q[0, m).
// A Q8_0 cache is dequantized tile by tile into the same float tiles as F16, so the products, the online softmax
// and the split-K merge are shared by all types; what Q8_0 saves is the bytes read from memory, which is what
// bounds decode at long context.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/fp16.h"
#include "kernels/quant_rows.h"
#include "kernels/vec_math.h"

namespace rkchat::kernels::attention_impl {

// Positions per tile: the tile's keys and values (converted to float) and the scores of all queries stay in L1.
constexpr int kTile = 32;
// Partial sums of a dot product: 32 lanes fill two AVX-512 / four AVX2 / eight NEON registers, independent chains.
constexpr int kLanes = 32;

// The portable products (reference and NEON); the x86 files replace them with intrinsics. The build turns off
// contraction of a * b + c (cmake/warnings.cmake).
struct PlainOps {
  static float dot(const float* q, const float* k, int n) {
    float acc[kLanes] = {};
    int i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += q[i + j] * k[i + j];
    float s = 0.0f;
    for (; i < n; ++i) s += q[i] * k[i];
    for (float a : acc) s += a;
    return s;
  }

  // s[j] = scale * q . k[j * n, (j + 1) * n) for j < nk; returns the largest.
  static float scores(const float* q, const float* k, int nk, int n, float scale, float* s) {
    float mt = -INFINITY;
    for (int j = 0; j < nk; ++j) {
      s[j] = dot(q, k + j * n, n) * scale;
      mt = std::max(mt, s[j]);
    }
    return mt;
  }

  // s[j] = exp(s[j] - m) for j < n; returns their sum.
  static float exp_sum(float* s, int n, float m) {
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) {
      s[j] = exp_approx(s[j] - m);
      sum += s[j];
    }
    return sum;
  }

  // y[0, n) += sum_j w[j] * x[j * n + i] for j < rows
  static void accumulate(float* y, const float* w, const float* x, int rows, int n) {
    for (int j = 0; j < rows; ++j)
      for (int i = 0; i < n; ++i) y[i] += w[j] * x[j * n + i];
  }
};

inline void scale(float* y, float a, int n) {
  for (int i = 0; i < n; ++i) y[i] *= a;
}

// The portable converters, for the reference only: the ISA files write their own tails, since a call from a file
// compiled with -mavx512f could leave the linker that file's copy of these inline functions (see fp16.h).
struct PlainRows {
  static void half(const uint16_t* src, float* dst, int n) {
    for (int i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
  }
  static void q8(const int8_t* q, float d, float* dst, int m) {
    for (int i = 0; i < m; ++i) dst[i] = d * static_cast<float>(q[i]);
  }
};

// Cache rows -> float rows of n: F32 rows are copied, F16 and Q8_0 ones converted by the ISA's Rows. The product
// d * q of a half and an int8 is exact in float, so every ISA dequantizes Q8_0 to the same values.
template <class Rows>
void load_rows(KvType t, const uint8_t* base, int64_t stride_bytes, int rows, int n, float* dst) {
  for (int r = 0; r < rows; ++r) {
    const uint8_t* src = base + r * stride_bytes;
    float* row = dst + r * n;
    switch (t) {
      case KvType::f32:
        std::memcpy(row, src, static_cast<size_t>(n) * sizeof(float));
        break;
      case KvType::f16:
        Rows::half(reinterpret_cast<const uint16_t*>(src), row, n);
        break;
      case KvType::q8_0:
        for_each_kv_block(src, n, [row](int i, int m, float d, const int8_t* q) { Rows::q8(q, d, row + i, m); });
        break;
    }
  }
}

template <class Ops, class Rows>
void attend_span(const AttendSpan& a) {
  const int hd = a.head_dim;
  alignas(64) float kt[kTile * kMaxHeadDim];
  alignas(64) float vt[kTile * kMaxHeadDim];
  alignas(64) float s[kTile];
  int end = a.p0;  // positions past every query's limit are not read
  for (int i = 0; i < a.nq; ++i) {
    float* st = a.state[i];
    std::fill(st, st + hd, 0.0f);
    st[hd] = -INFINITY;  // running max of the scores
    st[hd + 1] = 0.0f;   // running sum of exp(score - max)
    end = std::max(end, std::min(a.p1, a.limit[i]));
  }
  const auto* kb = static_cast<const uint8_t*>(a.k);
  const auto* vb = static_cast<const uint8_t*>(a.v);
  for (int j0 = a.p0; j0 < end; j0 += kTile) {
    const int nk = std::min(kTile, end - j0);
    load_rows<Rows>(a.type, kb + j0 * a.stride_bytes, a.stride_bytes, nk, hd, kt);
    load_rows<Rows>(a.type, vb + j0 * a.stride_bytes, a.stride_bytes, nk, hd, vt);
    for (int i = 0; i < a.nq; ++i) {
      const int ni = std::min(nk, std::min(a.p1, a.limit[i]) - j0);
      if (ni <= 0) continue;
      float* st = a.state[i];
      const float mt = Ops::scores(a.q[i], kt, ni, hd, a.scale, s);
      // Online softmax: rescale what was summed under the old max when this tile raises it.
      const float m = std::max(st[hd], mt);
      if (m > st[hd]) {
        const float c = std::exp(st[hd] - m);
        scale(st, c, hd);
        st[hd + 1] *= c;
        st[hd] = m;
      }
      st[hd + 1] += Ops::exp_sum(s, ni, m);
      Ops::accumulate(st, s, vt, ni, hd);
    }
  }
}

}  // namespace rkchat::kernels::attention_impl
