// AVX-512 VNNI K-quant kernels: Q4_K, Q5_K, Q6_K weights x Q8_K activations.
//
// Main idea: as the AVX2 file, but 64 weights per register: prepare() lays out each 512-bit vector so that it
// matches 64 consecutive activation bytes (Q4_K/Q5_K nibbles of two sub-blocks are regrouped across 256-bit
// halves), dot() is maddubs (u8 x s8 pairs -> int16) followed by VNNI's dpwssd, which multiplies by the int16
// scales and accumulates into int32 in one instruction. Mins and Q6_K's -32 offset come from the bsums.
#include <immintrin.h>

#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/kquants.h"

namespace rkchat::kernels {

namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// A 512-bit vector of two 256-bit halves.
inline __m512i halves(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline __m512i int16_halves(int lo, int hi) {
  return halves(_mm256_set1_epi16(static_cast<int16_t>(lo)), _mm256_set1_epi16(static_cast<int16_t>(hi)));
}

// Q4_K (kHigh = false) and Q5_K (kHigh = true): q[p] holds sub-blocks 2p and 2p+1 (weights 64p..64p+63).
template <bool kHigh>
struct Q45 {
  using Block = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
  struct Prep {
    __m512i q[4];
    __m512i scale[4];  // int16: [scale 2p x16 | scale 2p+1 x16]
    __m256i mins;      // int16 [m0, m0, m1, m1, ..., m7, m7], one per bsum (16 weights)
    float d, dmin;
  };
  using Acc = __m512;

  static void prepare(const Block& b, Prep& p) {
    alignas(16) uint8_t sm[16];
    unpack_scales_k4(b.scales, sm);
    for (int i = 0; i < 4; ++i) p.scale[i] = int16_halves(sm[2 * i], sm[2 * i + 1]);
    const __m128i mins8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8));
    p.mins =
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(mins8, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
    // qs[64m..64m+63]: low nibbles are sub-blocks 4m | 4m+2, high nibbles 4m+1 | 4m+3; regroup by 128-bit lanes.
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int m = 0; m < 2; ++m) {
      const __m512i bytes = load512(b.qs + 64 * m);
      const __m512i lo = _mm512_and_si512(bytes, low4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
      p.q[2 * m] = _mm512_shuffle_i64x2(lo, hi, 0x44);      // lanes lo.0 lo.1 hi.0 hi.1
      p.q[2 * m + 1] = _mm512_shuffle_i64x2(lo, hi, 0xEE);  // lanes lo.2 lo.3 hi.2 hi.3
    }
    if constexpr (kHigh) {  // bit j of qh[l] adds 16 to weight l of sub-block j
      const __m512i qh = _mm512_broadcast_i64x4(load256(b.qh));
      const __m512i sixteen = _mm512_set1_epi8(16);
      for (int i = 0; i < 4; ++i) {
        const __m512i bits = halves(_mm256_set1_epi8(static_cast<char>(1 << (2 * i))),
                                    _mm256_set1_epi8(static_cast<char>(1 << (2 * i + 1))));
        p.q[i] = _mm512_mask_add_epi8(p.q[i], _mm512_test_epi8_mask(qh, bits), p.q[i], sixteen);
      }
    }
    p.d = _cvtsh_ss(b.d);
    p.dmin = _cvtsh_ss(b.dmin);
  }

  static void dot(const Prep& p, const BlockQ8_K& a, Acc& acc) {
    __m512i sumi = _mm512_setzero_si512();
    for (int i = 0; i < 4; ++i) {
      sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(p.q[i], load512(a.qs + 64 * i)), p.scale[i]);
    }
    const __m256i msum = _mm256_madd_epi16(load256(a.bsums), p.mins);
    acc = _mm512_fmadd_ps(_mm512_set1_ps(p.d * a.d), _mm512_cvtepi32_ps(sumi), acc);
    acc = _mm512_fnmadd_ps(_mm512_set1_ps(p.dmin * a.d), _mm512_cvtepi32_ps(_mm512_zextsi256_si512(msum)), acc);
  }

  static float finish(const Acc& acc) { return _mm512_reduce_add_ps(acc); }
};

// Q6_K: q[p] holds weights 64p..64p+63 as 0..63; sum sc*(q-32)*x = sum sc*q*x - 32 * sum_j sc_j * bsums_j.
struct Q6 {
  using Block = BlockQ6_K;
  struct Prep {
    __m512i q[4];
    __m512i scale[4];  // int16: scales 4p..4p+3, each for 8 lanes (16 weights)
    __m256i sc16;      // the 16 scales as int16, one per bsum
    float d;
  };
  using Acc = __m512;

  // 2 bits of qh at bit `shift` of each byte -> bits 4..5 (16-bit shifts: the mask drops the carry-over).
  static __m512i high2(__m512i qh, __m512i shifts) {
    const __m512i bits = _mm512_and_si512(_mm512_srlv_epi16(qh, shifts), _mm512_set1_epi8(3));
    return _mm512_slli_epi16(bits, 4);
  }

  static void prepare(const Block& b, Prep& p) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i shifts02 = int16_halves(0, 2), shifts46 = int16_halves(4, 6);
    // ql[64n..64n+63]: low nibbles are weights 128n..128n+63, high nibbles 128n+64..128n+127; qh[32n + l] holds
    // the top bits of weights 128n + l + 32k in its bits 2k..2k+1.
    for (int n = 0; n < 2; ++n) {
      const __m512i ql = load512(b.ql + 64 * n);
      const __m512i qh = _mm512_broadcast_i64x4(load256(b.qh + 32 * n));
      p.q[2 * n] = _mm512_or_si512(_mm512_and_si512(ql, low4), high2(qh, shifts02));
      p.q[2 * n + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4), high2(qh, shifts46));
    }
    p.sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    const __m512i sc = _mm512_castsi256_si512(p.sc16);
    for (int i = 0; i < 4; ++i) {  // int16 lane l of scale[i] = scale 4i + l/8
      const __m512i idx =
          _mm512_add_epi16(_mm512_set1_epi16(static_cast<int16_t>(4 * i)), _mm512_srli_epi16(lane_index16(), 3));
      p.scale[i] = _mm512_permutexvar_epi16(idx, sc);
    }
    p.d = _cvtsh_ss(b.d);
  }

  static void dot(const Prep& p, const BlockQ8_K& a, Acc& acc) {
    __m512i sumi = _mm512_setzero_si512();
    for (int i = 0; i < 4; ++i) {
      sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(p.q[i], load512(a.qs + 64 * i)), p.scale[i]);
    }
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(a.bsums), p.sc16), 5);
    sumi = _mm512_sub_epi32(sumi, _mm512_zextsi256_si512(offset));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(p.d * a.d), _mm512_cvtepi32_ps(sumi), acc);
  }

  static float finish(const Acc& acc) { return _mm512_reduce_add_ps(acc); }

  // int16 lanes 0, 1, ..., 31.
  static __m512i lane_index16() {
    alignas(64) static constexpr int16_t kLanes[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                                       16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    return _mm512_load_si512(kLanes);
  }
};

}  // namespace

void fill_kquants_avx512vnni(KernelTable& t) {
  t.q4_k = {QType::Q8_K, kq_gemm<Q45<false>, 2, 4>};
  t.q5_k = {QType::Q8_K, kq_gemm<Q45<true>, 2, 4>};
  t.q6_k = {QType::Q8_K, kq_gemm<Q6, 2, 4>};
}

}  // namespace rkchat::kernels
