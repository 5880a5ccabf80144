// The blocked attention kernel (attention_span.h) on AVX-512: 16-wide row conversion (halves and int8) and products
// with independent accumulators.
#include <immintrin.h>

#include "kernels/attention_span.h"
#include "kernels/fp16.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {
namespace {

struct Avx512Rows {
  static void half(const uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
    for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
  }
  static void q8(const int8_t* q, float d, float* dst, int m) {
    const __m512 vd = _mm512_set1_ps(d);
    int i = 0;
    for (; i + 16 <= m; i += 16) {
      const __m512i w = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
      _mm512_storeu_ps(dst + i, _mm512_mul_ps(vd, _mm512_cvtepi32_ps(w)));
    }
    for (; i < m; ++i) dst[i] = d * static_cast<float>(q[i]);
  }
};

struct Avx512Ops {
  static float dot(const float* q, const float* k, int n) {
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32)
      for (int j = 0; j < 2; ++j)
        acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16 * j), _mm512_loadu_ps(k + i + 16 * j), acc[j]);
    for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(k + i), acc[0]);
    float r = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
    for (; i < n; ++i) r += q[i] * k[i];
    return r;
  }

  // 128 outputs at a time held in registers over all rows, then 16, then single ones.
  static void accumulate(float* y, const float* w, const float* x, int rows, int n) {
    int i0 = 0;
    for (; i0 + 128 <= n; i0 += 128) {
      __m512 acc[8];
      for (int j = 0; j < 8; ++j) acc[j] = _mm512_loadu_ps(y + i0 + 16 * j);
      for (int r = 0; r < rows; ++r) {
        const __m512 a = _mm512_set1_ps(w[r]);
        for (int j = 0; j < 8; ++j) acc[j] = _mm512_fmadd_ps(a, _mm512_loadu_ps(x + r * n + i0 + 16 * j), acc[j]);
      }
      for (int j = 0; j < 8; ++j) _mm512_storeu_ps(y + i0 + 16 * j, acc[j]);
    }
    for (; i0 + 16 <= n; i0 += 16) {
      __m512 acc = _mm512_loadu_ps(y + i0);
      for (int r = 0; r < rows; ++r) acc = _mm512_fmadd_ps(_mm512_set1_ps(w[r]), _mm512_loadu_ps(x + r * n + i0), acc);
      _mm512_storeu_ps(y + i0, acc);
    }
    for (int r = 0; r < rows; ++r)
      for (int i = i0; i < n; ++i) y[i] = std::fma(w[r], x[r * n + i], y[i]);
  }
};

void attend_span_avx512(const AttendSpan& a) { attention_impl::attend_span<Avx512Ops, Avx512Rows>(a); }

}  // namespace

void fill_attention_avx512(KernelTable& t) { t.attend_span = attend_span_avx512; }

}  // namespace rkchat::kernels
