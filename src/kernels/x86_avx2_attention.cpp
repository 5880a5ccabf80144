// The blocked attention kernel (attention_span.h) on AVX2 + FMA + F16C: F16C and 8-wide int8 row conversion, and the
// scores of 8 keys at once: one accumulator per key, the 8 summed across lanes together by 6 horizontal adds, 2
// permutations and an add (a horizontal sum per key would cost as much as its product at head size 64).
#include <immintrin.h>

#include "kernels/attention_span.h"
#include "kernels/attention_vector_ops.h"
#include "kernels/fp16.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {
namespace {

struct Avx2Rows {
  static void half(const uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
  }
  static void q8(const int8_t* q, float d, float* dst, int m) {
    const __m256 vd = _mm256_set1_ps(d);
    int i = 0;
    for (; i + 8 <= m; i += 8) {
      const __m256i w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
      _mm256_storeu_ps(dst + i, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(w)));
    }
    for (; i < m; ++i) dst[i] = d * static_cast<float>(q[i]);
  }
};

// The vector type of attention_vector_ops.h.
struct Avx2Vec {
  using Vec = __m256;
  static constexpr int kN = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float v) { return _mm256_set1_ps(v); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }

  static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }

  static float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
  }

  // s[j] = q . k[j * n, (j + 1) * n) for j < 8; the last n % 8 products are added one by one.
  static void dots(const float* q, const float* k, int n, float* s) {
    __m256 acc[8];
    for (auto& a : acc) a = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + j * n + i), acc[j]);
    }
    // hadd pairs lanes of two keys; after two levels the low and high 128-bit halves hold 4 keys' half sums each.
    const __m256 t0 = _mm256_hadd_ps(acc[0], acc[1]), t1 = _mm256_hadd_ps(acc[2], acc[3]);
    const __m256 t2 = _mm256_hadd_ps(acc[4], acc[5]), t3 = _mm256_hadd_ps(acc[6], acc[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    _mm256_storeu_ps(s, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
    for (; i < n; ++i)
      for (int j = 0; j < 8; ++j) s[j] += q[i] * k[j * n + i];
  }
};

void attend_span_avx2(const AttendSpan& a) { attention_impl::attend_span<VectorOps<Avx2Vec>, Avx2Rows>(a); }

}  // namespace

void fill_attention_avx2(KernelTable& t) { t.attend_span = attend_span_avx2; }

}  // namespace rkchat::kernels
