#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/quant_rows.h"
#include "kernels/vec_math.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Portable loops, cloned for AVX2/FMA/F16C and AVX-512 on x86 (glibc's ifunc picks the clone at load time). On
// aarch64 NEON and half conversions are baseline.
#if defined(__x86_64__) && !defined(__clang__)
#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer instruments the ifunc resolvers, which run before it is set up (the binary crashes at load).
#define RKCHAT_CLONES
#else
#define RKCHAT_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#endif
using half_t = _Float16;
#elif defined(__aarch64__)
#define RKCHAT_CLONES
using half_t = __fp16;
#else
#define RKCHAT_CLONES
using half_t = _Float16;
#endif

namespace rkchat::kernels {

RKCHAT_CLONES void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + static_cast<double>(eps)));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

RKCHAT_CLONES void silu_mul(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + exp_approx(-g[i])) * u[i];
}

RKCHAT_CLONES void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

RKCHAT_CLONES void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = exp_approx(x[i] - mx);
    sum += static_cast<double>(x[i]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void rope(float* x, int n_pairs, const float* cos, const float* sin, bool neox) {
  for (int i = 0; i < n_pairs; ++i) {
    float* a = neox ? x + i : x + 2 * i;
    float* b = neox ? x + i + n_pairs : x + 2 * i + 1;
    const float x0 = *a, x1 = *b;
    *a = x0 * cos[i] - x1 * sin[i];
    *b = x0 * sin[i] + x1 * cos[i];
  }
}

const char* kv_type_name(KvType t) {
  switch (t) {
    case KvType::f16:
      return "f16";
    case KvType::f32:
      return "f32";
    case KvType::q8_0:
      return "q8_0";
  }
  return "?";
}

size_t kv_row_bytes(KvType t, int64_t head_dim) {
  const auto n = static_cast<size_t>(head_dim);
  switch (t) {
    case KvType::f16:
      return n * sizeof(half_t);
    case KvType::f32:
      return n * sizeof(float);
    case KvType::q8_0:
      return (n + QK8_0 - 1) / QK8_0 * sizeof(fp16_t) + n;
  }
  return 0;
}

RKCHAT_CLONES static void store_f16(half_t* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<half_t>(src[i]);
}

// One head row in the blocks that for_each_kv_block reads.
static void store_q8_0(uint8_t* dst, const float* src, int head_dim) {
  for (int i = 0; i < head_dim; i += QK8_0) {
    const int m = std::min(QK8_0, head_dim - i);
    const fp16_t d = fp32_to_fp16(quantize_block_q8(src + i, reinterpret_cast<int8_t*>(dst + sizeof(fp16_t)), m));
    std::memcpy(dst, &d, sizeof d);
    dst += sizeof d + static_cast<size_t>(m);
  }
}

void kv_store(KvType t, void* dst, const float* src, int n_heads, int head_dim) {
  const int64_t n = static_cast<int64_t>(n_heads) * head_dim;
  switch (t) {
    case KvType::f32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case KvType::f16:
      store_f16(static_cast<half_t*>(dst), src, n);
      return;
    case KvType::q8_0:
      for (int h = 0; h < n_heads; ++h)
        store_q8_0(static_cast<uint8_t*>(dst) + h * kv_row_bytes(t, head_dim), src + h * head_dim, head_dim);
      return;
  }
}

namespace {

// Attention's float order, the same on every CPU and compiler (the build turns off contraction of a * b + c, see
// cmake/warnings.cmake): dot rounds each product, axpy fuses each multiply-add.
// Inlined into each attention clone below, so they are compiled for that clone's ISA.
[[gnu::always_inline]] inline float dot(const float* q, const float* k, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += q[i] * k[i];
  return s;
}

// The F16 cache is rkchat's own default (no reference to match bit for bit), so its dot keeps 16 partial sums that
// the compiler maps onto vector registers; the F32 one above sums in order, as the fixtures were computed.
constexpr int kLanes = 16;

[[gnu::always_inline]] inline float dot(const float* q, const half_t* k, int n) {
  float acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += q[i + j] * static_cast<float>(k[i + j]);
  float s = 0.0f;
  for (; i < n; ++i) s += q[i] * static_cast<float>(k[i]);
  for (float a : acc) s += a;
  return s;
}

template <class T>
[[gnu::always_inline]] inline void attend_typed(const float* q, const T* k, const T* v, int64_t stride, int n_pos,
                                                int head_dim, float scale, float* scores, float* out) {
  for (int p = 0; p < n_pos; ++p) scores[p] = dot(q, k + p * stride, head_dim) * scale;
  softmax(scores, n_pos);
  std::fill(out, out + head_dim, 0.0f);
  for (int p = 0; p < n_pos; ++p) {
    const T* vp = v + p * stride;
    for (int i = 0; i < head_dim; ++i) out[i] = std::fma(scores[p], static_cast<float>(vp[i]), out[i]);
  }
}

RKCHAT_CLONES void attend_f32(const float* q, const float* k, const float* v, int64_t stride, int n_pos, int head_dim,
                              float scale, float* scores, float* out) {
  attend_typed(q, k, v, stride, n_pos, head_dim, scale, scores, out);
}

RKCHAT_CLONES void attend_f16(const float* q, const half_t* k, const half_t* v, int64_t stride, int n_pos, int head_dim,
                              float scale, float* scores, float* out) {
  attend_typed(q, k, v, stride, n_pos, head_dim, scale, scores, out);
}

// Q8_0 rows block by block: a block's products are summed unscaled, then scaled once by its d.
RKCHAT_CLONES void attend_q8_0(const float* q, const uint8_t* k, const uint8_t* v, int64_t stride, int n_pos,
                               int head_dim, float scale, float* scores, float* out) {
  for (int p = 0; p < n_pos; ++p) {
    float s = 0.0f;
    for_each_kv_block(k + p * stride, head_dim, [&](int i, int m, float d, const int8_t* qs) {
      float b = 0.0f;
      for (int j = 0; j < m; ++j) b += q[i + j] * static_cast<float>(qs[j]);
      s += d * b;
    });
    scores[p] = s * scale;
  }
  softmax(scores, n_pos);
  std::fill(out, out + head_dim, 0.0f);
  for (int p = 0; p < n_pos; ++p)
    for_each_kv_block(v + p * stride, head_dim, [&](int i, int m, float d, const int8_t* qs) {
      const float w = scores[p] * d;
      for (int j = 0; j < m; ++j) out[i + j] = std::fma(w, static_cast<float>(qs[j]), out[i + j]);
    });
}

#if defined(__x86_64__)
// GCC 12 does not vectorize half -> float conversions, so the F16 cache gets F16C intrinsics on x86: 8 values per
// conversion instead of one (attention was a fifth of prefill time without them).
__attribute__((target("avx2,fma,f16c"))) float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// acc + q[0..8) * k[0..8)
__attribute__((target("avx2,fma,f16c"))) inline __m256 fma_f16(const float* q, const half_t* k, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_loadu_ps(q), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k))),
                         acc);
}

__attribute__((target("avx2,fma,f16c"))) void attend_f16_avx2(const float* q, const half_t* k, const half_t* v,
                                                              int64_t stride, int n_pos, int head_dim, float scale,
                                                              float* scores, float* out) {
  const int vec = head_dim & ~7;
  for (int p = 0; p < n_pos; ++p) {
    const half_t* kp = k + p * stride;
    // Four independent sums: one chain of dependent multiply-adds would wait on each add's latency.
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 32 <= vec; i += 32)
      for (int j = 0; j < 4; ++j) acc[j] = fma_f16(q + i + 8 * j, kp + i + 8 * j, acc[j]);
    for (; i < vec; i += 8) acc[0] = fma_f16(q + i, kp + i, acc[0]);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < head_dim; ++i) s += q[i] * static_cast<float>(kp[i]);
    scores[p] = s * scale;
  }
  softmax(scores, n_pos);
  // out = sum_p scores[p] * v[p], 64 dimensions at a time held in registers over all positions, then the rest
  // through memory; every element adds the positions in order either way.
  int i0 = 0;
  for (; i0 + 64 <= vec; i0 += 64) {
    __m256 acc[8];
    for (__m256& a : acc) a = _mm256_setzero_ps();
    for (int p = 0; p < n_pos; ++p) {
      const half_t* vp = v + p * stride + i0;
      const __m256 a = _mm256_set1_ps(scores[p]);
      for (int j = 0; j < 8; ++j)
        acc[j] =
            _mm256_fmadd_ps(a, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vp + 8 * j))), acc[j]);
    }
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + i0 + 8 * j, acc[j]);
  }
  std::fill(out + i0, out + head_dim, 0.0f);
  for (int p = 0; p < n_pos; ++p) {
    const half_t* vp = v + p * stride;
    const __m256 a = _mm256_set1_ps(scores[p]);
    for (int i = i0; i < vec; i += 8) {
      const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vp + i)));
      _mm256_storeu_ps(out + i, _mm256_fmadd_ps(a, vv, _mm256_loadu_ps(out + i)));
    }
    for (int i = vec; i < head_dim; ++i) out[i] = std::fma(scores[p], static_cast<float>(vp[i]), out[i]);
  }
}

bool has_f16c() {
  static const bool yes = cpu_features().avx2 && cpu_features().fma && cpu_features().f16c;
  return yes;
}
#endif

}  // namespace

void attend(KvType t, const float* q, const void* k, const void* v, int64_t stride_bytes, int n_pos, int head_dim,
            float scale, float* scores, float* out) {
  switch (t) {
    case KvType::f32:
      return attend_f32(q, static_cast<const float*>(k), static_cast<const float*>(v),
                        stride_bytes / static_cast<int64_t>(sizeof(float)), n_pos, head_dim, scale, scores, out);
    case KvType::f16: {
      const int64_t stride = stride_bytes / static_cast<int64_t>(sizeof(half_t));
#if defined(__x86_64__)
      if (has_f16c())
        return attend_f16_avx2(q, static_cast<const half_t*>(k), static_cast<const half_t*>(v), stride, n_pos, head_dim,
                               scale, scores, out);
#endif
      return attend_f16(q, static_cast<const half_t*>(k), static_cast<const half_t*>(v), stride, n_pos, head_dim, scale,
                        scores, out);
    }
    case KvType::q8_0:
      return attend_q8_0(q, static_cast<const uint8_t*>(k), static_cast<const uint8_t*>(v), stride_bytes, n_pos,
                         head_dim, scale, scores, out);
  }
}

}  // namespace rkchat::kernels
