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
// - Q8_0: the sign trick of x86_avx2.cpp per chunk (|w| once per block for all tokens, the sign onto the
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

// Weight formats: block layout, the offset the activation sums cancel, the activation format, and per block the
// weights in registers (load) and one token's int32 sums of the even and odd chunks added to e and o (sums).
struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0), kQs = offsetof(BlockQ8_0, qs), kQsBytes = QK8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = false;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = offsetof(BlockQ8_0, qs);
  struct Weights {
    __m256i u[kChunks];  // |w|
    const uint8_t* q;    // w, for its signs
  };
  RK_INLINE static Weights load(const uint8_t* qs) {
    Weights w{};
    w.q = qs;
    for (int c = 0; c < kChunks; ++c) w.u[c] = _mm256_abs_epi8(loadu256(qs + 32 * c));
    return w;
  }
  RK_INLINE static __m256i chunk(const Weights& w, int c, const uint8_t* x) {
    const __m256i xs = _mm256_sign_epi8(bcast4(x + 4 * c), loadu256(w.q + 32 * c));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w.u[c], xs), _mm256_set1_epi16(1));
  }
  RK_INLINE static void sums(const Weights& w, const uint8_t* x, __m256i& e, __m256i& o) {
    for (int c = 0; c < kChunks; c += 2) {
      e = _mm256_add_epi32(e, chunk(w, c, x));
      o = _mm256_add_epi32(o, chunk(w, c + 1, x));
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
  struct Weights {
    __m256i q[kChunks];
  };
  // Chunk c < 4 is the low nibbles of bytes 4c..4c+3 of each row, chunk c + 4 their high nibbles.
  RK_INLINE static Weights load(const uint8_t* qs) {
    const __m256i mask = _mm256_set1_epi8(0x0f);
    Weights w;
    for (int c = 0; c < kChunks / 2; ++c) {
      const __m256i v = loadu256(qs + 32 * c);
      w.q[c] = _mm256_and_si256(v, mask);
      w.q[c + kChunks / 2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    }
    return w;
  }
  RK_INLINE static void sums(const Weights& w, const uint8_t* x, __m256i& e, __m256i& o) {
    __m256i e16 = _mm256_maddubs_epi16(w.q[0], bcast4(x));
    __m256i o16 = _mm256_maddubs_epi16(w.q[1], bcast4(x + 4));
    for (int c = 2; c < kChunks; c += 2) {
      e16 = _mm256_add_epi16(e16, _mm256_maddubs_epi16(w.q[c], bcast4(x + 4 * c)));
      o16 = _mm256_add_epi16(o16, _mm256_maddubs_epi16(w.q[c + 1], bcast4(x + 4 * c + 4)));
    }
    const __m256i ones = _mm256_set1_epi16(1);
    e = _mm256_add_epi32(e, _mm256_madd_epi16(e16, ones));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(o16, ones));
  }
};
using WQ4_0 = WQ4<BlockQ4_0, BlockQ8_0, 8>;
using WQ4_1 = WQ4<BlockQ4_1, BlockQ8_1, 0>;

// The kernel type of row_tiles.h for weight format W, read through row_tiles::Packed only.
template <class W>
struct Rows {
  static constexpr int kLanes = kRows, kTokens = 2, kBlock = QK8_0;
  static constexpr Layout kLayout = Layout::rows8;
  using Packed = TileBlock<kRows, W::kQsBytes, W::kHasMin>;
  using Tile = TileParts<kRows, W::kQsBytes>;
  using Act = ActBlock;

  // Rows w.. of one tile, block by block: 4-byte chunk c of the 8 rows gathered into one register.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm256_set1_epi32(static_cast<int>(wrb)));
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

  // Block b's quants and scales (past the tile's end: harmless, a prefetch never faults).
  static constexpr int64_t kAhead = 8;
  RK_INLINE static void prefetch_block(const Tile& t, int64_t b) {
    const uint8_t* q = t.qs + b * kRows * W::kQsBytes;
    for (size_t o = 0; o < kRows * W::kQsBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(q + o), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(t.d + kRows * b), _MM_HINT_T0);
    if constexpr (W::kHasMin) _mm_prefetch(reinterpret_cast<const char*>(t.m + kRows * b), _MM_HINT_T0);
  }

  // y[t + j][r .. r + 8) for the N tokens t.. over every block: two float accumulators per token (even, odd
  // chunks), the tile's weights of one block in registers while the tokens pass.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* prep, float* y,
                   int64_t ldy) {
    const Tile t(packed, nb);
    __m256 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      prefetch_block(t, b + kAhead);
      const typename W::Weights w = W::load(t.qs + b * kRows * W::kQsBytes);
      const __m256 dw = halves(t.d + kRows * b);
      for (int j = 0; j < N; ++j) {
        const uint8_t* x = a + static_cast<size_t>(j) * arb + b * W::kActBytes + W::kActQs;
        const ActBlock& p = prep[j * nb + b];
        __m256i e = _mm256_set1_epi32(p.base[0]), o = _mm256_set1_epi32(p.base[1]);
        W::sums(w, x, e, o);
        const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(p.d));
        even[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e), d, even[j]);
        odd[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(o), d, odd[j]);
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
