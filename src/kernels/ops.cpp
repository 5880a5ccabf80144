#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// Portable loops, cloned for AVX2/FMA/F16C and AVX-512 on x86 (glibc's ifunc picks the clone at load time). On
// aarch64 NEON and half conversions are baseline.
#if defined(__x86_64__) && !defined(__clang__)
#define RKCHAT_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
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
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

RKCHAT_CLONES void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

RKCHAT_CLONES void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
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

size_t kv_elem_bytes(KvType t) { return t == KvType::f16 ? sizeof(half_t) : sizeof(float); }

RKCHAT_CLONES static void store_f16(half_t* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<half_t>(src[i]);
}

void kv_store(KvType t, void* dst, const float* src, int64_t n) {
  if (t == KvType::f32)
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  else
    store_f16(static_cast<half_t*>(dst), src, n);
}

namespace {

// Attention's float order, the same on every CPU and compiler (the build turns off contraction of a * b + c, see
// cmake/warnings.cmake): dot rounds each product, axpy fuses each multiply-add.
template <class T>
RKCHAT_CLONES float dot(const float* q, const T* k, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += q[i] * static_cast<float>(k[i]);
  return s;
}

template <class T>
RKCHAT_CLONES void axpy(float a, const T* v, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] = std::fma(a, static_cast<float>(v[i]), y[i]);
}

template <class T>
void attend_typed(const float* q, const T* k, const T* v, int64_t stride, int n_pos, int head_dim, float scale,
                  float* scores, float* out) {
  for (int p = 0; p < n_pos; ++p) scores[p] = dot(q, k + p * stride, head_dim) * scale;
  softmax(scores, n_pos);
  std::fill(out, out + head_dim, 0.0f);
  for (int p = 0; p < n_pos; ++p) axpy(scores[p], v + p * stride, out, head_dim);
}

}  // namespace

void attend(KvType t, const float* q, const void* k, const void* v, int64_t stride, int n_pos, int head_dim,
            float scale, float* scores, float* out) {
  if (t == KvType::f32)
    attend_typed(q, static_cast<const float*>(k), static_cast<const float*>(v), stride, n_pos, head_dim, scale, scores,
                 out);
  else
    attend_typed(q, static_cast<const half_t*>(k), static_cast<const half_t*>(v), stride, n_pos, head_dim, scale,
                 scores, out);
}

}  // namespace rkchat::kernels
