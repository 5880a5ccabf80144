// AVX2 K-quant kernels: Q4_K, Q5_K, Q6_K weights x Q8_K activations (compiled with -mavx2 -mfma -mf16c).
//
// Main idea: prepare() spreads one weight block into 8 vectors of 32 unsigned bytes (one per 32 weights: Q4_K/Q5_K
// values 0..31, Q6_K values 0..63 without the -32 offset) plus int16 scale vectors; dot() then needs only
// maddubs (u8 x s8 pairs -> int16, no overflow: 63*128*2 < 2^15) and madd with the scales -> int32. The terms
// that do not depend on each weight (Q4_K/Q5_K mins, Q6_K's -32) come from the activation's bsums. Integer sums
// are exact per block; one float multiply-add per block and token. KqTiles (kquants.h) reuses each prepared
// block for up to 4 tokens and 2 rows.
#include <immintrin.h>

#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/kquants.h"
#include "kernels/x86_avx2_lanes.h"

namespace rkchat::kernels {

namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Scales of 8 and of 16 weights in int16 lanes: [lo x8 | hi x8] per 128-bit half, lanes matching maddubs output.
inline __m256i scale_pair16(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(hi)), _mm_set1_epi16(static_cast<int16_t>(lo)));
}

// Q4_K (kHigh = false) and Q5_K (kHigh = true): sub-block j (32 weights) in q[j], its 6-bit scale in scale[j].
template <bool kHigh>
struct Q45 {
  using Block = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
  struct Prep {
    __m256i q[8];
    __m256i scale[8];
    __m256i mins;  // int16 [m0, m0, m1, m1, ..., m7, m7], one per bsum (16 weights)
    float d, dmin;
  };
  using Acc = __m256;

  static void prepare(const Block& b, Prep& p) {
    alignas(16) uint8_t sm[16];
    unpack_scales_k4(b.scales, sm);
    for (int j = 0; j < 8; ++j) p.scale[j] = _mm256_set1_epi16(sm[j]);
    const __m128i mins8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8));
    p.mins =
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(mins8, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int g = 0; g < 4; ++g) {
      const __m256i bytes = load256(b.qs + 32 * g);
      p.q[2 * g] = _mm256_and_si256(bytes, low4);
      p.q[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
    }
    if constexpr (kHigh) {  // bit j of qh[l] adds 16 to weight l of sub-block j
      const __m256i qh = load256(b.qh);
      const __m256i one = _mm256_set1_epi8(1);
      for (int j = 0; j < 8; ++j) {
        const __m256i bit = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(j)), one);
        p.q[j] = _mm256_or_si256(p.q[j], _mm256_slli_epi16(bit, 4));
      }
    }
    p.d = _cvtsh_ss(b.d);
    p.dmin = _cvtsh_ss(b.dmin);
  }

  static void dot(const Prep& p, const BlockQ8_K& a, Acc& acc) {
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i prod = _mm256_maddubs_epi16(p.q[j], load256(a.qs + 32 * j));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, p.scale[j]));
    }
    const __m256i msum = _mm256_madd_epi16(load256(a.bsums), p.mins);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(p.d * a.d), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_set1_ps(p.dmin * a.d), _mm256_cvtepi32_ps(msum), acc);
  }

  static float finish(const Acc& acc) { return hsum(acc); }
};

// Q6_K: weights 32c..32c+31 in q[c] as 0..63; sum sc*(q-32)*x = sum sc*q*x - 32 * sum_j sc_j * bsums_j.
struct Q6 {
  using Block = BlockQ6_K;
  struct Prep {
    __m256i q[8];
    __m256i scale[8];  // [sc[2c] x8 | sc[2c+1] x8]
    __m256i sc16;      // the 16 scales as int16, one per bsum
    float d;
  };
  using Acc = __m256;

  // 2 bits of qh at bit `shift`, moved to bits 4..5 of each byte (16-bit shifts: the mask drops the carry-over).
  static __m256i high2(__m256i qh, int shift) {
    const __m256i bits = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(3));
    return _mm256_slli_epi16(bits, 4);
  }

  static void prepare(const Block& b, Prep& p) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int n = 0; n < 2; ++n) {
      const __m256i ql0 = load256(b.ql + 64 * n), ql1 = load256(b.ql + 64 * n + 32), qh = load256(b.qh + 32 * n);
      p.q[4 * n + 0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), high2(qh, 0));
      p.q[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), high2(qh, 2));
      p.q[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), high2(qh, 4));
      p.q[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), high2(qh, 6));
    }
    for (int c = 0; c < 8; ++c) p.scale[c] = scale_pair16(b.scales[2 * c], b.scales[2 * c + 1]);
    p.sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    p.d = _cvtsh_ss(b.d);
  }

  static void dot(const Prep& p, const BlockQ8_K& a, Acc& acc) {
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      const __m256i prod = _mm256_maddubs_epi16(p.q[c], load256(a.qs + 32 * c));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, p.scale[c]));
    }
    const __m256i offset = _mm256_madd_epi16(load256(a.bsums), p.sc16);
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(p.d * a.d), _mm256_cvtepi32_ps(sumi), acc);
  }

  static float finish(const Acc& acc) { return hsum(acc); }
};

}  // namespace

void fill_kquants_avx2(KernelTable& t) {
  t.q4_k = {QType::Q8_K, kq_gemm<Q45<false>, 2, 4>};
  t.q5_k = {QType::Q8_K, kq_gemm<Q45<true>, 2, 4>};
  t.q6_k = {QType::Q8_K, kq_gemm<Q6, 2, 4>};
}

}  // namespace rkchat::kernels
