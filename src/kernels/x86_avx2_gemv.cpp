// AVX2 decode kernels (a few tokens) for Q4_0 and Q8_0 weights: 4 weight rows x 1 token per register tile.
//
// Main idea: decode on AVX2 is bound by vector ops, not by memory (Qwen3-0.6B Q4_0 decoded no faster than Q8_0),
// and the tile kernel of x86_avx2.cpp spends 2 of its ~12 ops per (row, block) on vpmaddubsw's sign trick and 4
// on unpacking nibbles. Here Q4_0 keeps its nibbles unsigned -- they are vpmaddubsw's unsigned operand as they
// are -- and the offset 8 comes off in int16: maddubs(q, x) - maddubs(8, x) is sum (q - 8) x per pair, exact
// (|.| <= 2048), and the second term is shared by the tile's rows. The nibbles unpack by one 128-bit broadcast
// load and one variable shift (low lane by 0, high lane by 4). Q8_0 keeps the sign trick; both read 4 rows per
// activation load and convert the tile's 4 row scales at once.
//
// Float order: that of ref_lanes.h exactly (lane k of a block is the exact int32 sum of elements 4k..4k+3, one
// fma per lane and block, AVX2's horizontal sum at the end), so these agree bit for bit with the reference.
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm_tiles.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/x86_avx2_lanes.h"

namespace rkchat::kernels {

namespace {

using tiles::GemmArgs;

// One token's activation block as the weight format wants it.
struct Act {
  __m256i x;    // the 32 quants
  __m256i off;  // Q4_0: maddubs(8, x), the offset's int16 pair products; unused for Q8_0
  float d;
};

struct WQ4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  RK_INLINE static Act act(const uint8_t* a) {
    const __m256i x = loadu256(a + offsetof(BlockQ8_0, qs));
    return {x, _mm256_maddubs_epi16(_mm256_set1_epi8(8), x), load_fp16(a)};
  }
  // int16 pair sums of (q - 8) * x over one block: low nibbles are elements 0..15, high nibbles 16..31.
  RK_INLINE static __m256i pairs(const uint8_t* b, const Act& a) {
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)));
    const __m256i q = _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
    return _mm256_sub_epi16(_mm256_maddubs_epi16(q, a.x), a.off);
  }
};

struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  RK_INLINE static Act act(const uint8_t* a) {
    return {loadu256(a + offsetof(BlockQ8_0, qs)), _mm256_setzero_si256(), load_fp16(a)};
  }
  // |w| times x with w's sign moved onto x (|w| <= 128, |x| <= 127: pair sums below 2^15).
  RK_INLINE static __m256i pairs(const uint8_t* b, const Act& a) {
    const __m256i w = loadu256(b + offsetof(BlockQ8_0, qs));
    return _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a.x, w));
  }
};

template <class W>
struct Gemv {
  static constexpr int RM = 4;
  static constexpr int RN = 1;
  template <int M, int N>
  static void tile(const GemmArgs& g, int64_t r, int t) {
    static_assert(N == 1);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[M];
    for (auto& v : acc) v = _mm256_setzero_ps();
    const uint8_t* w0 = g.w + r * g.w_row_bytes;
    const uint8_t* a0 = g.a + t * g.a_row_bytes;
    for (int64_t blk = 0; blk < g.cols / QK8_0; ++blk) {
      const Act a = W::act(a0 + blk * sizeof(BlockQ8_0));
      const uint8_t* p0 = w0 + blk * W::kBytes;
      // The M row scales converted and multiplied by d_x together (each product rounded to float, as the reference).
      // (Gathered through memory: _mm_insert_epi16 needs a constant lane, which -O2 builds do not unroll into.)
      uint16_t halves[8] = {};
      for (int i = 0; i < M; ++i) std::memcpy(&halves[i], p0 + i * g.w_row_bytes, 2);
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(halves));
      const __m256 scales = _mm256_castps128_ps256(_mm_mul_ps(_mm_cvtph_ps(h), _mm_set1_ps(a.d)));
      for (int i = 0; i < M; ++i) {
        const uint8_t* p = p0 + i * g.w_row_bytes;
        tiles::prefetch_next_tile<M>(p, g.w_row_bytes, W::kBytes);
        const __m256i sum = _mm256_madd_epi16(W::pairs(p, a), ones);
        const __m256 scale = _mm256_permutevar8x32_ps(scales, _mm256_set1_epi32(i));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[i]);
      }
    }
    for (int i = 0; i < M; ++i) g.y[t * g.ldy + r + i] = hsum(acc[i]);
  }
};

// Batches up to kMaxTokens go to the 4 x 1 tiles (a tile's weights stay in L1 while its tokens pass); larger
// ones to the gemm the table held before.
constexpr int kMaxTokens = 4;

template <class W>
struct Wrap {
  static inline decltype(TypeKernels::gemm) fallback = nullptr;
  static void gemm(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                   int64_t r1, int n_tok, int64_t cols) {
    if (n_tok > kMaxTokens) return fallback(w, wrb, a, arb, y, ldy, r0, r1, n_tok, cols);
    tiles::gemm<Gemv<W>>(w, wrb, a, arb, y, ldy, r0, r1, n_tok, cols);
  }
};

template <class W>
void wrap(TypeKernels& k) {
  Wrap<W>::fallback = k.gemm;
  k.gemm = Wrap<W>::gemm;
}

}  // namespace

// On top of fill_avx2: its tile kernels stay for larger batches.
void fill_avx2_gemv(KernelTable& t) {
  wrap<WQ4_0>(t.q4_0);
  wrap<WQ8_0>(t.q8_0);
}

}  // namespace rkchat::kernels
