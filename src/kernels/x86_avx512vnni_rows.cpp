// AVX-512 VNNI prefill kernel for Q8_0 / Q4_0 / Q4_1 weights: the 16 int32 lanes hold 16 weight rows.
//
// Main idea: the tile kernel of x86_avx512vnni.cpp puts 4 blocks x 4 chunks of ONE (row, token) pair in the 16
// lanes, so every pair pays its own convert, scale product and fma per 4 blocks: 3 float ops per 2 vpdpbusd.
// Here lane i is weight row i of a 16-row tile, and a block's 8 chunks (4 quants each) are 8 vpdpbusd whose
// activation operand is one dword of the token broadcast from memory ({1to16}). A whole block of 16 rows x 1
// token then costs 8 vpdpbusd and 5 float ops (two convert + fma, one scale product): about half the vector ops
// per product of the tile kernel.
//
// That needs each 16-row tile's weights rearranged (chunk c of rows 0..15 in one register), done once per tile
// into a per-thread buffer and reused by every token: worth it for prefill-sized batches only. Rows past the
// last full 16, and batches under 24 tokens (decode), go to the tile kernel this table held before (row_tiles.h).
//
// Float order: chunks 0, 2, 4, 6 of each block add up in one int32 and chunks 1, 3, 5, 7 in another, each
// scaled and accumulated in its own float, and the two are added at the end. That is llama.cpp's split (its
// horizontal sum adds the even lanes and the odd lanes of its 8 chunk lanes apart). It matters on the
// tiny-qwen3-q8_0 fixture, where one activation sits so close to an 8-bit rounding boundary that the order
// decides it: an exact sum per block, the two 16-quant halves, even/odd blocks or chunk pairs (c, c + 4) all
// round it to the other value than llama.cpp and land the logits at 5.1-5.2e-3 (bound 5e-3); this split gives 7e-8.
#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/repack.h"
#include "kernels/row_tiles.h"
#include "kernels/x86_avx512_lanes.h"
#include "kernels/x86_rows_act.h"

namespace rkchat::kernels {

namespace {

#define RK_INLINE inline __attribute__((always_inline))

constexpr int kChunks = QK8_0 / 4;  // 4-quant chunks per block: one vpdpbusd each

// 16 fp16 values as floats.
RK_INLINE __m512 halves(const fp16_t* h) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
}

// The fp16 value at p + each lane's offset, stored as 16 halves at dst.
RK_INLINE void store_halves(__m512i offsets, const uint8_t* p, fp16_t* dst) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi32_epi16(_mm512_i32gather_epi32(offsets, p, 1)));
}

// Weight formats: block layout, how a stored block's quant bytes become the tile's (Q8_0: +128 by xor, so
// vpdpbusd reads them unsigned; Q4: nibble pairs as stored, split in the kernel), the unsigned offset the
// activation sums cancel (Q8_0: 128; Q4_0: 8; Q4_1: none, its min is separate) and the activation format.
struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0), kQs = offsetof(BlockQ8_0, qs), kQsBytes = QK8_0;
  static constexpr int kOffset = 128;
  static constexpr bool kHasMin = false;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = offsetof(BlockQ8_0, qs);
  static constexpr uint8_t kXor = 0x80;
  RK_INLINE static void chunks(const uint8_t* qs, __m512i* out) {
    for (int c = 0; c < kChunks; ++c) out[c] = _mm512_loadu_si512(qs + 64 * c);
  }
};

// Q4_0 (Offset 8, with Q8_0 activations) and Q4_1 (no offset: a min per block, with Q8_1 activations).
template <class Block, class Act, int Offset>
struct WQ4 {
  static constexpr size_t kBytes = sizeof(Block), kQs = offsetof(Block, qs), kQsBytes = QK4_0 / 2;
  static constexpr int kOffset = Offset;
  static constexpr bool kHasMin = Offset == 0;
  static constexpr size_t kActBytes = sizeof(Act), kActQs = offsetof(Act, qs);
  static constexpr uint8_t kXor = 0;
  // Chunk c < 4 is the low nibbles of bytes 4c..4c+3, chunk c + 4 their high nibbles.
  RK_INLINE static void chunks(const uint8_t* qs, __m512i* out) {
    const __m512i mask = _mm512_set1_epi8(0x0f);
    for (int c = 0; c < kChunks / 2; ++c) {
      const __m512i v = _mm512_loadu_si512(qs + 64 * c);
      out[c] = _mm512_and_si512(v, mask);
      out[c + kChunks / 2] = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
    }
  }
};
using WQ4_0 = WQ4<BlockQ4_0, BlockQ8_0, 8>;
using WQ4_1 = WQ4<BlockQ4_1, BlockQ8_1, 0>;

// The kernel type of row_tiles.h for weight format W.
template <class W>
struct Rows {
  static constexpr int kLanes = 16, kTokens = 8;
  static constexpr Layout kLayout = Layout::rows16;
  // Smaller batches go to the tile kernel: packing a tile costs about as much as 20 tokens save (Qwen3-0.6B
  // prefill, 2 threads, against the tile kernel: 8 tokens 0.71x, 16 0.91x, 24 1.04x, 128 1.29x).
  static constexpr int kMinTokens = 24;
  static constexpr int kBlock = QK8_0;
  using Packed = TileBlock<16, W::kQsBytes, W::kHasMin>;
  using Tile = TileParts<16, W::kQsBytes>;
  using Act = ActBlock;

  // Rows w.. of one tile, block by block: 4-byte chunk c of the 16 rows gathered into one register.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m512i rows = lane_offsets(wrb);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(W::kXor));
    const Tile t(out, nb);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = w + b * W::kBytes;
      uint8_t* qs = t.qs + b * 16 * W::kQsBytes;
      for (size_t c = 0; c < W::kQsBytes / 4; ++c)
        _mm512_storeu_si512(qs + 64 * c, _mm512_xor_si512(_mm512_i32gather_epi32(rows, blk + W::kQs + 4 * c, 1), flip));
      store_halves(rows, blk, t.d + 16 * b);
      if constexpr (W::kHasMin) store_halves(rows, blk + 2, t.m + 16 * b);
    }
  }

  // Scale, offset sums and (Q8_1) block sum of every block of one token's activation row.
  static void prepare(const uint8_t* a, int64_t nb, Act* out) {
    prepare_act<W::kActBytes, W::kActQs, W::kOffset, W::kHasMin>(a, nb, out);
  }

  // Blocks prefetched ahead of the one read (TileParts::prefetch). The hardware prefetcher alone left the tile kernel
  // waiting on its loads when a block's tokens take long (8 tokens of Qwen3-0.6B: the weights streamed at 9 GB/s of the
  // 22 the machine gives).
  static constexpr int64_t kAhead = 8;

  // y[t + j][r .. r + 16) for the N tokens t.. over every block: two float accumulators per token (even, odd
  // chunks), the tile's weights of one block in registers while the tokens pass.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* prep, float* y,
                   int64_t ldy) {
    const Tile t(packed, nb);
    __m512 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      t.prefetch(b + kAhead, W::kHasMin);
      __m512i w[kChunks];
      W::chunks(t.qs + b * 16 * W::kQsBytes, w);
      const __m512 dw = halves(t.d + 16 * b);
      for (int j = 0; j < N; ++j) {
        const uint8_t* x = a + static_cast<size_t>(j) * arb + b * W::kActBytes + W::kActQs;
        const ActBlock& p = prep[j * nb + b];
        __m512i e = _mm512_set1_epi32(p.base[0]), o = _mm512_set1_epi32(p.base[1]);
        for (int c = 0; c < kChunks; c += 2) {
          e = dpbusd_bcast(e, w[c], x + 4 * c);
          o = dpbusd_bcast(o, w[c + 1], x + 4 * c + 4);
        }
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(p.d));
        even[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(e), d, even[j]);
        odd[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(o), d, odd[j]);
        if constexpr (W::kHasMin) even[j] = _mm512_fmadd_ps(halves(t.m + 16 * b), _mm512_set1_ps(p.s), even[j]);
      }
    }
    for (int j = 0; j < N; ++j) _mm512_storeu_ps(y + j * ldy, _mm512_add_ps(even[j], odd[j]));
  }
};

}  // namespace

// On top of fill_avx512vnni: its tile kernels stay the fallback for decode and edge rows of stored matrices; the
// same kernels read matrices repacked at load.
void fill_avx512vnni_rows(KernelTable& t) {
  row_tiles::wrap_q8_q4<Rows<WQ8_0>, Rows<WQ4_0>, Rows<WQ4_1>>(t);
  row_tiles::offer_q8_q4<Rows<WQ8_0>, Rows<WQ4_0>, Rows<WQ4_1>>(t);
}

}  // namespace rkchat::kernels
