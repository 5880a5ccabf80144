// AVX2 kernel for Q8_0 / Q4_0 / Q4_1 weights repacked at load into 8-row tiles (Layout::rows8, repack.h): the 8
// int32 lanes of a vector hold 8 weight rows, as the 16 lanes do in x86_avx512vnni_rows.cpp.
//
// Main idea: AVX2 has no vpdpbusd, and the stored layout's tile kernels (x86_avx2.cpp, x86_avx2_gemv.cpp) pay per
// (row, token, block) a vpmaddubsw, a vpmaddwd, a convert, a scale product and an fma, all on the two ports that
// multiply. Here chunk c of a block (4 quants of each of 8 rows) is one register, multiplied by chunk c of a token
// broadcast to every lane, so the convert, scale product and fma are paid once per 8 rows:
// - Q4_0 / Q4_1: the nibbles are vpmaddubsw's unsigned operand as they are; its int16 pair sums (at most
//   2 x 15 x 127) add up over the 4 even (or odd) chunks of a block before one vpmaddwd widens them, so a block of
//   8 rows x 1 token costs 8 vpmaddubsw and 7 float and widening ops. Q4_0's offset 8 comes off as -8 x the
//   token's chunk sums (ActBlock::base).
// - Q8_0: the sign trick of x86_avx2.cpp per chunk (|w| once per chunk for the tile's tokens, the sign onto each
//   token's chunk), and a vpmaddwd per chunk, since two pair sums of 8-bit products can overflow int16.
// The packed tiles are read for every batch, decode included (the 8 x 1 tile is also the cheapest decode tile).
//
// Float order: the even and odd chunks of each block add up apart, as in x86_avx512vnni_rows.cpp and the NEON
// rows kernel, so their results agree exactly.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/repack.h"
#include "kernels/row_tiles.h"
#include "kernels/x86_avx2_lanes.h"
#include "kernels/x86_rows_act.h"

namespace rkchat::kernels {

namespace {

constexpr int kRows = 8;
constexpr int kChunks = QK8_0 / 4;  // 4-quant chunks per block

// The 4 bytes at p in every lane.
RK_INLINE __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

RK_INLINE __m256 halves(const fp16_t* h) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

// The int16 pair sums of the even (first = 0) or odd (first = 1) chunks of 4-bit weights times the token's chunks
// at x: each vpmaddubsw pair sum is at most 2 x 15 x 127, so the 4 of a block add up without overflow.
RK_INLINE __m256i chunk_sums(const __m256i (&w)[kChunks], const uint8_t* x, int first) {
  __m256i s = _mm256_maddubs_epi16(w[first], bcast4(x + 4 * first));
  for (int c = first + 2; c < kChunks; c += 2) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w[c], bcast4(x + 4 * c)));
  return s;
}

// Weight formats: block layout, the offset the activation sums cancel, the activation format, and block<N>: the
// N tokens' int32 sums of one block's even and odd chunks (tokens' quants at x[j]) added to e[j] and o[j].
struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0), kQs = offsetof(BlockQ8_0, qs), kQsBytes = QK8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = false;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = offsetof(BlockQ8_0, qs);
  // Chunk by chunk, so that only one chunk of weights is live beside the N tokens' sums.
  template <int N>
  RK_INLINE static void block(const uint8_t* qs, const uint8_t* const (&x)[N], __m256i (&e)[N], __m256i (&o)[N]) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int c = 0; c < kChunks; ++c) {
      const __m256i w = loadu256(qs + 32 * c), u = _mm256_abs_epi8(w);
      for (int j = 0; j < N; ++j) {
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(bcast4(x[j] + 4 * c), w)), ones);
        __m256i& acc = c % 2 == 0 ? e[j] : o[j];
        acc = _mm256_add_epi32(acc, p);
      }
    }
  }
};

// Q4_0 (Offset 8, with Q8_0 activations) and Q4_1 (no offset: a min per block, with Q8_1 activations).
template <class Block, class Act, int Offset>
struct WQ4 {
  static constexpr size_t kBytes = sizeof(Block), kQs = offsetof(Block, qs), kQsBytes = QK4_0 / 2;
  static constexpr int kOffset = Offset;
  static constexpr bool kHasMin = Offset == 0;
  static constexpr size_t kActBytes = sizeof(Act), kActQs = offsetof(Act, qs);
  // The block's 8 chunks unpacked into registers once, then token by token.
  template <int N>
  RK_INLINE static void block(const uint8_t* qs, const uint8_t* const (&x)[N], __m256i (&e)[N], __m256i (&o)[N]) {
    const __m256i mask = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i w[kChunks];
    // Chunk c < 4 is the low nibbles of bytes 4c..4c+3 of each row, chunk c + 4 their high nibbles.
    for (int c = 0; c < kChunks / 2; ++c) {
      const __m256i v = loadu256(qs + 32 * c);
      w[c] = _mm256_and_si256(v, mask);
      w[c + kChunks / 2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    }
    for (int j = 0; j < N; ++j) {
      e[j] = _mm256_add_epi32(e[j], _mm256_madd_epi16(chunk_sums(w, x[j], 0), ones));
      o[j] = _mm256_add_epi32(o[j], _mm256_madd_epi16(chunk_sums(w, x[j], 1), ones));
    }
  }
};
using WQ4_0 = WQ4<BlockQ4_0, BlockQ8_0, 8>;
using WQ4_1 = WQ4<BlockQ4_1, BlockQ8_1, 0>;

// The kernel type of row_tiles.h for weight format W, read through row_tiles::Packed only.
template <class W>
struct Rows {
  // 4 tokens per pass over a tile's block: against 2, prefill of 128 tokens +2% (Q8_0) / +4% (Q4_0) and 4 streams
  // of decode +16% / +12% (Qwen3-0.6B, 2 threads), though the float sums then spill to the stack.
  static constexpr int kLanes = kRows, kTokens = 4, kBlock = QK8_0;
  static constexpr Layout kLayout = Layout::rows8;
  using Packed = TileBlock<kRows, W::kQsBytes, W::kHasMin>;
  using Tile = TileParts<kRows, W::kQsBytes>;
  using Act = ActBlock;

  // Rows w.. of one tile, block by block: 4-byte chunk c of the 8 rows gathered into one register.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m256i rows =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(wrb)));
    const Tile t(out, nb);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = w + b * W::kBytes;
      uint8_t* qs = t.qs + b * kRows * W::kQsBytes;
      for (size_t c = 0; c < W::kQsBytes / 4; ++c) {
        const __m256i v = _mm256_i32gather_epi32(reinterpret_cast<const int*>(blk + W::kQs + 4 * c), rows, 1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * c), v);
      }
      for (int i = 0; i < kRows; ++i) {
        std::memcpy(t.d + kRows * b + i, blk + i * wrb, sizeof(fp16_t));
        if constexpr (W::kHasMin) std::memcpy(t.m + kRows * b + i, blk + i * wrb + sizeof(fp16_t), sizeof(fp16_t));
      }
    }
  }

  static void prepare(const uint8_t* a, int64_t nb, Act* out) {
    prepare_act<W::kActBytes, W::kActQs, W::kOffset, W::kHasMin>(a, nb, out);
  }

  static constexpr int64_t kAhead = 8;  // blocks prefetched ahead, as in x86_avx512vnni_rows.cpp

  // y[t + j][r .. r + 8) for the N tokens t.. over every block: two float accumulators per token (even, odd
  // chunks), the tile's weights of one block in registers while the tokens pass.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* prep, float* y,
                   int64_t ldy) {
    const Tile t(packed, nb);
    __m256 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      t.prefetch(b + kAhead, W::kHasMin);
      const uint8_t* x[N];
      __m256i e[N], o[N];
      for (int j = 0; j < N; ++j) {
        x[j] = a + static_cast<size_t>(j) * arb + b * W::kActBytes + W::kActQs;
        e[j] = _mm256_set1_epi32(prep[j * nb + b].base[0]);
        o[j] = _mm256_set1_epi32(prep[j * nb + b].base[1]);
      }
      W::template block<N>(t.qs + b * kRows * W::kQsBytes, x, e, o);
      const __m256 dw = halves(t.d + kRows * b);
      for (int j = 0; j < N; ++j) {
        const ActBlock& p = prep[j * nb + b];
        const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(p.d));
        even[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e[j]), d, even[j]);
        odd[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(o[j]), d, odd[j]);
        if constexpr (W::kHasMin) even[j] = _mm256_fmadd_ps(halves(t.m + kRows * b), _mm256_set1_ps(p.s), even[j]);
      }
    }
    for (int j = 0; j < N; ++j) _mm256_storeu_ps(y + j * ldy, _mm256_add_ps(even[j], odd[j]));
  }
};

}  // namespace

// On top of fill_avx2 and fill_avx2_gemv, whose kernels keep reading matrices in the stored layout.
void fill_avx2_rows(KernelTable& t) { row_tiles::offer_q8_q4<Rows<WQ8_0>, Rows<WQ4_0>, Rows<WQ4_1>>(t); }

}  // namespace rkchat::kernels
