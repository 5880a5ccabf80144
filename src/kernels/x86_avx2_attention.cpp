// The blocked attention kernel (attention_span.h) on AVX2 + FMA + F16C: F16C and 8-wide int8 row conversion, and the
// scores of 8 keys at once: one accumulator per key, the 8 summed across lanes together by 6 horizontal adds, 2
// permutations and an add (a horizontal sum per key would cost as much as its product at head size 64).
#include <immintrin.h>

#include "kernels/attention_span.h"
#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/vec_math.h"

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

struct Avx2Ops {
  static float dot(const float* q, const float* k, int n) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32)
      for (int j = 0; j < 4; ++j)
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j), _mm256_loadu_ps(k + i + 8 * j), acc[j]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), acc[0]);
    float r = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; ++i) r += q[i] * k[i];
    return r;
  }

  // The scale and the running max in vectors too: as scalar loops they cost as much as the products.
  static float scores(const float* q, const float* k, int nk, int n, float scale, float* s) {
    __m256 mx = _mm256_set1_ps(-INFINITY);
    const __m256 vs = _mm256_set1_ps(scale);
    int j = 0;
    for (; j + 8 <= nk; j += 8) {
      dots8(q, k + j * n, n, s + j);
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(s + j), vs);
      _mm256_storeu_ps(s + j, v);
      mx = _mm256_max_ps(mx, v);
    }
    float mt = hmax(mx);
    for (; j < nk; ++j) {
      s[j] = dot(q, k + j * n, n) * scale;
      mt = std::max(mt, s[j]);
    }
    return mt;
  }

  static float exp_sum(float* s, int n, float m) {
    for (int j = 0; j < n; ++j) s[j] = exp_approx(s[j] - m);
    __m256 acc = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(s + j));
    float sum = hsum(acc);
    for (; j < n; ++j) sum += s[j];
    return sum;
  }

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
  static void dots8(const float* q, const float* k, int n, float* s) {
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

  // 64 outputs at a time held in registers over all rows, then 8, then single ones.
  static void accumulate(float* y, const float* w, const float* x, int rows, int n) {
    int i0 = 0;
    for (; i0 + 64 <= n; i0 += 64) {
      __m256 acc[8];
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_loadu_ps(y + i0 + 8 * j);
      for (int r = 0; r < rows; ++r) {
        const __m256 a = _mm256_set1_ps(w[r]);
        for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + r * n + i0 + 8 * j), acc[j]);
      }
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(y + i0 + 8 * j, acc[j]);
    }
    for (; i0 + 8 <= n; i0 += 8) {
      __m256 acc = _mm256_loadu_ps(y + i0);
      for (int r = 0; r < rows; ++r) acc = _mm256_fmadd_ps(_mm256_set1_ps(w[r]), _mm256_loadu_ps(x + r * n + i0), acc);
      _mm256_storeu_ps(y + i0, acc);
    }
    for (int r = 0; r < rows; ++r)
      for (int i = i0; i < n; ++i) y[i] = std::fma(w[r], x[r * n + i], y[i]);
  }
};

void attend_span_avx2(const AttendSpan& a) { attention_impl::attend_span<Avx2Ops, Avx2Rows>(a); }

}  // namespace

void fill_attention_avx2(KernelTable& t) { t.attend_span = attend_span_avx2; }

}  // namespace rkchat::kernels
