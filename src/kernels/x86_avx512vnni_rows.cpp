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

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/repack.h"
#include "kernels/row_tiles.h"
#include "kernels/x86_avx512_lanes.h"

namespace rkchat::kernels {

namespace {

#define RK_INLINE inline __attribute__((always_inline))

constexpr int kChunks = QK8_0 / 4;  // 4-quant chunks per block: one vpdpbusd each

// Per (token, block): the start values that cancel the weights' unsigned offset in the even and odd chunk sums,
// the activation scale and (Q8_1) d * sum(q).
// 16 fp16 values as floats.
RK_INLINE __m512 halves(const fp16_t* h) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
}

// The fp16 value at p + each lane's offset, stored as 16 halves at dst.
RK_INLINE void store_halves(__m512i offsets, const uint8_t* p, fp16_t* dst) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi32_epi16(_mm512_i32gather_epi32(offsets, p, 1)));
}

struct ActBlock {
  int32_t base[2];
  float d, s;
};

// A 16-row tile in the layout the kernel reads: first the quants of all its nb blocks, block b's chunk c of rows
// 0..15 in the 64 bytes at (b * chunks + c) * 64 (row i's 4 bytes at 4 * i), then the nb blocks' 16 scales, then
// (Q4_1) their 16 mins. Quants apart from scales keep every 64-byte load aligned. It takes the bytes of the 16 x nb
// stored blocks; Block16 is one block's share of them (what row_tiles.h allocates per block).
template <size_t QsBytes, bool HasMin>
struct Block16 {
  uint8_t bytes[16 * QsBytes + (HasMin ? 64 : 32)];
};

// Where the parts of a tile of nb blocks start.
template <size_t QsBytes>
struct Tile16 {
  uint8_t* qs;
  fp16_t* d;
  fp16_t* m;
  Tile16(const void* base, int64_t nb)
      : qs(static_cast<uint8_t*>(const_cast<void*>(base))),
        d(reinterpret_cast<fp16_t*>(qs + nb * 16 * QsBytes)),
        m(d + nb * 16) {}
};

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
  // Smaller batches go to the tile kernel: packing a tile costs about as much as 20 tokens save (Qwen3-0.6B
  // prefill, 2 threads, against the tile kernel: 8 tokens 0.71x, 16 0.91x, 24 1.04x, 128 1.29x).
  static constexpr int kMinTokens = 24;
  static constexpr int kBlock = QK8_0;
  using Packed = Block16<W::kQsBytes, W::kHasMin>;
  using Tile = Tile16<W::kQsBytes>;
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
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = a + b * W::kActBytes;
      ActBlock& o = out[b];
      uint16_t h[2];
      std::memcpy(h, blk, sizeof h);
      const __m128 ds = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h[0] | (uint32_t{h[1]} << 16))));
      o.d = _mm_cvtss_f32(ds);
      o.s = W::kHasMin ? _mm_cvtss_f32(_mm_shuffle_ps(ds, ds, 1)) : 0.0f;
      if constexpr (W::kOffset == 0) {
        o.base[0] = o.base[1] = 0;
      } else {
        // Chunk sums (lane c), then lanes 0/1 = even/odd chunks of the low half, added to those of the high half.
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + W::kActQs));
        const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
        const __m256i p = _mm256_add_epi32(s, _mm256_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        const __m128i e = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        o.base[0] = -W::kOffset * _mm_cvtsi128_si32(e);
        o.base[1] = -W::kOffset * _mm_extract_epi32(e, 1);
      }
    }
  }

  // The quants of block b and its scales (past the tile's end: harmless, a prefetch never faults). The hardware
  // prefetcher alone left the tile kernel waiting on its loads when a block's tokens take long (8 tokens of
  // Qwen3-0.6B: the weights streamed at 9 GB/s of the 22 the machine gives).
  static constexpr int64_t kAhead = 8;
  RK_INLINE static void prefetch_block(const Tile& t, int64_t b) {
    const uint8_t* q = t.qs + b * 16 * W::kQsBytes;
    for (size_t o = 0; o < 16 * W::kQsBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(q + o), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(t.d + 16 * b), _MM_HINT_T0);
    if constexpr (W::kHasMin) _mm_prefetch(reinterpret_cast<const char*>(t.m + 16 * b), _MM_HINT_T0);
  }

  // y[t + j][r .. r + 16) for the N tokens t.. over every block: two float accumulators per token (even, odd
  // chunks), the tile's weights of one block in registers while the tokens pass.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* prep, float* y,
                   int64_t ldy) {
    const Tile t(packed, nb);
    __m512 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      prefetch_block(t, b + kAhead);
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

// Layout::rows16 (repack.h): the matrix packed once at load into the tiles above, each tile_bytes apart, so every
// batch runs the tile kernel without a pack per call, decode included: a block of 16 rows costs 8 vpdpbusd with
// broadcast activations and a handful of float ops, against the tile kernel's convert, scale and fma per row.
template <class K>
struct Packed16 {
  // Tiles [g0, g1) of the stored matrix w; the last tile's missing rows are zeros (scale 0).
  static void pack(const uint8_t* w, size_t wrb, int64_t rows, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
    const int64_t nb = cols / K::kBlock;
    for (int64_t g = g0; g < g1; ++g) {
      auto* out = reinterpret_cast<typename K::Packed*>(dst + static_cast<size_t>(g) * tile16_bytes(wrb));
      const int64_t r = g * kTileRows, n = std::min<int64_t>(kTileRows, rows - r);
      if (n == kTileRows) {
        K::pack(w + r * wrb, wrb, nb, out);
        continue;
      }
      std::vector<uint8_t> edge(kTileRows * wrb, 0);
      std::memcpy(edge.data(), w + r * wrb, static_cast<size_t>(n) * wrb);
      K::pack(edge.data(), wrb, nb, out);
    }
  }

  // gemm over rows [r0, r1) of a packed matrix (r0 a multiple of 16): whole tiles straight into y, the last
  // partial tile through a scratch block.
  static void gemm(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                   int64_t r1, int n_tok, int64_t cols) {
    const int64_t nb = cols / K::kBlock;
    thread_local Workspace edge_scratch;
    const auto* act = row_tiles::prepared<K>(a, arb, nb, n_tok);
    for (int64_t r = r0; r < r1; r += kTileRows) {
      const auto* tile =
          reinterpret_cast<const typename K::Packed*>(w + static_cast<size_t>(r / kTileRows) * tile16_bytes(wrb));
      if (r + kTileRows <= r1) {
        row_tiles::tokens<K>(tile, nb, a, arb, act, y + r, ldy, n_tok);
        continue;
      }
      auto* edge = static_cast<float*>(edge_scratch.get(static_cast<size_t>(kTileRows * n_tok) * sizeof(float)));
      row_tiles::tokens<K>(tile, nb, a, arb, act, edge, kTileRows, n_tok);
      for (int t = 0; t < n_tok; ++t)
        std::memcpy(y + t * ldy + r, edge + t * kTileRows, static_cast<size_t>(r1 - r) * sizeof(float));
    }
  }

  static void offer(TypeKernels& k) {
    k.packed = Layout::rows16;
    k.pack = pack;
    k.gemm_packed = gemm;
  }
};

}  // namespace

// On top of fill_avx512vnni: its tile kernels stay the fallback for decode and edge rows of stored matrices; the
// same kernels read matrices repacked at load.
void fill_avx512vnni_rows(KernelTable& t) {
  row_tiles::wrap_q8_q4<Rows<WQ8_0>, Rows<WQ4_0>, Rows<WQ4_1>>(t);
  Packed16<Rows<WQ8_0>>::offer(t.q8_0);
  Packed16<Rows<WQ4_0>>::offer(t.q4_0);
  Packed16<Rows<WQ4_1>>::offer(t.q4_1);
}

}  // namespace rkchat::kernels
