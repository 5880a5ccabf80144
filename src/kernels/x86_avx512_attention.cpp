// The blocked attention kernel (attention_span.h) on AVX-512: 16-wide row conversion (halves and int8), and the
// scores of 16 keys at once: one accumulator per key, the 16 summed across lanes together by a tree of 15 lane
// permutations and adds (a horizontal sum per key costs about as much as its whole product at head size 128).
#include <immintrin.h>

#include <array>

#include "kernels/attention_span.h"
#include "kernels/attention_vector_ops.h"
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

// The vector type of attention_vector_ops.h.
struct Avx512Vec {
  using Vec = __m512;
  static constexpr int kN = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float v) { return _mm512_set1_ps(v); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(Vec v) { return _mm512_reduce_add_ps(v); }
  static float hmax(Vec v) { return _mm512_reduce_max_ps(v); }

  // s[j] = q . k[j * n, (j + 1) * n) for j < 16; a masked load covers the last 1-15 of n.
  static void dots(const float* q, const float* k, int n, float* s) {
    __m512 acc[16];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (n - i)) - 1);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k + j * n + i), acc[j]);
    }
    _mm512_storeu_ps(s, sum16(acc));
  }
};

void attend_span_avx512(const AttendSpan& a) { attention_impl::attend_span<VectorOps<Avx512Vec>, Avx512Rows>(a); }

}  // namespace

void fill_attention_avx512(KernelTable& t) { t.attend_span = attend_span_avx512; }

}  // namespace rkchat::kernels
