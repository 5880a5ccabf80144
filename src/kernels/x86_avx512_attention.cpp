// The blocked attention kernel (attention_span.h) on AVX-512: 16-wide row conversion (halves and int8), and the
// scores of 16 keys at once: one accumulator per key, the 16 summed across lanes together by a tree of 15 lane
// permutations and adds (a horizontal sum per key costs about as much as its whole product at head size 128).
#include <immintrin.h>

#include <array>

#include "kernels/attention_span.h"
#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/vec_math.h"

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

// The 32 lanes of (a, b) that hold, for output lane i, the first (hi: the second) half of key i's partial sums
// when a and b hold `group` lanes per key: keys of a fill lanes 0-7, keys of b lanes 8-15.
constexpr std::array<int, 16> halves(int group, bool hi) {
  std::array<int, 16> idx{};
  const int half = group / 2;
  for (int i = 0; i < 16; ++i) {
    const int source = i < 8 ? 0 : 16, in = i % 8;
    idx[static_cast<size_t>(i)] = source + in / half * group + in % half + (hi ? half : 0);
  }
  return idx;
}

// Lane j = the sum of v[j]'s 16 lanes. Level l pairs the 16 >> l vectors left, which hold 16 >> l lanes per key.
inline __m512 sum16(__m512 (&v)[16]) {
  static constexpr std::array<std::array<int, 16>, 4> kLo = {halves(16, false), halves(8, false), halves(4, false),
                                                             halves(2, false)};
  static constexpr std::array<std::array<int, 16>, 4> kHi = {halves(16, true), halves(8, true), halves(4, true),
                                                             halves(2, true)};
  for (size_t l = 0; l < 4; ++l) {
    const __m512i lo = _mm512_loadu_si512(kLo[l].data()), hi = _mm512_loadu_si512(kHi[l].data());
    for (int k = 0; k < (8 >> l); ++k)
      v[k] = _mm512_add_ps(_mm512_permutex2var_ps(v[2 * k], lo, v[2 * k + 1]),
                           _mm512_permutex2var_ps(v[2 * k], hi, v[2 * k + 1]));
  }
  return v[0];
}

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

  // The scale and the running max in vectors too: as scalar loops they cost as much as the products.
  static float scores(const float* q, const float* k, int nk, int n, float scale, float* s) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    const __m512 vs = _mm512_set1_ps(scale);
    int j = 0;
    for (; j + 16 <= nk; j += 16) {
      const __m512 v = _mm512_mul_ps(dots16(q, k + j * n, n), vs);
      _mm512_storeu_ps(s + j, v);
      mx = _mm512_max_ps(mx, v);
    }
    float mt = _mm512_reduce_max_ps(mx);
    for (; j < nk; ++j) {
      s[j] = dot(q, k + j * n, n) * scale;
      mt = std::max(mt, s[j]);
    }
    return mt;
  }

  static float exp_sum(float* s, int n, float m) {
    for (int j = 0; j < n; ++j) s[j] = exp_approx(s[j] - m);
    __m512 acc = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(s + j));
    float sum = _mm512_reduce_add_ps(acc);
    for (; j < n; ++j) sum += s[j];
    return sum;
  }

  // q . k[j * n, (j + 1) * n) for j < 16; a masked load covers the last 1-15 of n.
  static __m512 dots16(const float* q, const float* k, int n) {
    __m512 acc[16];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (n - i)) - 1);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + j * n + i), acc[j]);
    }
    return sum16(acc);
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
