// Internal to src/kernels: the K-quant formats (Q4_K, Q5_K, Q6_K weights; Q8_K activations), reference code, and
// the pieces the per-ISA K-quant files share (scale unpacking, the rows x tokens tiles).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/gemm_tiles.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels {

// Reference dequantizers (n a multiple of 256), as ggml defines the formats.
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
// Reference quantizers, for tests and for writing K-quant files (synth/convert).
void quantize_row_q8_k_ref(const float* x, void* dst, int64_t n);
void quantize_row_q4_k_ref(const float* x, void* dst, int64_t n);
void quantize_row_q5_k_ref(const float* x, void* dst, int64_t n);
void quantize_row_q6_k_ref(const float* x, void* dst, int64_t n);

// Everything below has internal linkage on purpose: each ISA file includes it and is compiled with its own flags,
// so an inline function shared by name could be merged by the linker into the copy built for a wider ISA.
namespace {

// The 12 scale bytes of a Q4_K/Q5_K block hold 8 sub-block scales and 8 mins of 6 bits each. Returns them as 16
// bytes: out[0..7] the scales, out[8..15] the mins (same values as ggml's get_scale_min_k4, all at once).
inline void unpack_scales_k4(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, packed, K_SCALE_SIZE);
  u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);  // mins 4..7
  const uint32_t mins_lo = u[1] & kLow6;                        // mins 0..3
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);         // scales 4..7
  u[2] = mins_lo;
  u[0] &= kLow6;  // scales 0..3
  std::memcpy(out, u, 16);
}

// Adapts a K-quant kernel K to the register tiles of gemm_tiles.h. K describes one weight type on one ISA:
//   K::Block          the weight block type
//   K::Prep           one weight block unpacked for the dot products (nibbles spread, scales widened)
//   K::Acc            a running sum for one (row, token) pair; value-initialized to zero
//   K::prepare(const Block&, Prep&), K::dot(const Prep&, const BlockQ8_K&, Acc&), float K::finish(const Acc&)
// kq_gemm<K, RM, RN> is the TypeKernels::gemm entry. Decode (few tokens): a tile unpacks each weight block of its
// M rows in registers and uses it for its N tokens, streaming M rows at a time. Prefill: unpacking costs more
// than the dot products, so each row tile's blocks are unpacked once into scratch and every token tile reads them.

// Where a tile's unpacked blocks come from (blocks() returns the M rows' block b): unpacked in place from the GGUF
// rows into `scratch`...
template <class K>
struct KqInPlace {
  template <int M>
  static const typename K::Prep* blocks(const tiles::GemmArgs& g, int64_t row, int64_t b,
                                        typename K::Prep (&scratch)[M]) {
    using Block = typename K::Block;
    for (int i = 0; i < M; ++i) {
      const Block& blk = reinterpret_cast<const Block*>(g.w + static_cast<size_t>(row + i) * g.w_row_bytes)[b];
      tiles::prefetch_next_tile<M>(reinterpret_cast<const uint8_t*>(&blk), g.w_row_bytes, sizeof(Block));
      K::prepare(blk, scratch[i]);
    }
    return scratch;
  }
};

// ... or read in place from a row tile's prepared blocks, [block][row of the tile] with RM rows per block (g.w).
template <class K, int RM>
struct KqPrepared {
  template <int M>
  static const typename K::Prep* blocks(const tiles::GemmArgs& g, int64_t, int64_t b, typename K::Prep (&)[M]) {
    return reinterpret_cast<const typename K::Prep*>(g.w) + b * RM;
  }
};

template <class K, class Src, int kRows, int kTokens>
struct KqTiles {
  static constexpr int RM = kRows, RN = kTokens;

  template <int M, int N>
  static void tile(const tiles::GemmArgs& g, int64_t row, int tok) {
    const uint8_t* a = g.a + static_cast<size_t>(tok) * g.a_row_bytes;
    typename K::Acc acc[M][N] = {};
    for (int64_t b = 0; b < g.cols / QK_K; ++b) {
      typename K::Prep scratch[M];
      const typename K::Prep* prep = Src::blocks(g, row, b, scratch);
      for (int j = 0; j < N; ++j) {
        const BlockQ8_K& q = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * g.a_row_bytes)[b];
        for (int i = 0; i < M; ++i) K::dot(prep[i], q, acc[i][j]);
      }
    }
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < M; ++i) g.y[(tok + j) * g.ldy + row + i] = K::finish(acc[i][j]);
    }
  }
};

// PM x PN: the prepared path's tile. Prepared blocks are read from L1 (no registers held for them), so it takes
// more rows than the in-place tile: 4 x 4 was the fastest of 2x8, 4x4, 6x4 and 8x2 (Q4_K_M prefill).
template <class K, int RM, int RN, int PM = 4, int PN = 4>
void kq_gemm(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy,
             int64_t r0, int64_t r1, int n_tok, int64_t cols) {
  if (n_tok < 2 * RN)
    return tiles::gemm<KqTiles<K, KqInPlace<K>, RM, RN>>(w, w_row_bytes, a, a_row_bytes, y, ldy, r0, r1, n_tok, cols);
  using Block = typename K::Block;
  using Tiles = KqTiles<K, KqPrepared<K, PM>, PM, PN>;
  thread_local std::vector<typename K::Prep> prepared;
  const int64_t nb = cols / QK_K;
  prepared.resize(static_cast<size_t>(nb * PM));
  const tiles::GemmArgs g{reinterpret_cast<const uint8_t*>(prepared.data()), 0, a, a_row_bytes, y, ldy, cols};
  for (int64_t r = r0; r < r1; r += PM) {
    const int m = r1 - r < PM ? static_cast<int>(r1 - r) : PM;
    for (int i = 0; i < m; ++i) {
      const auto* row = reinterpret_cast<const Block*>(w + static_cast<size_t>(r + i) * w_row_bytes);
      for (int64_t b = 0; b < nb; ++b) K::prepare(row[b], prepared[static_cast<size_t>(b * PM + i)]);
    }
    tiles::row_tile<Tiles>(g, r, m, n_tok);
  }
}

// What the kernels that keep weight rows in the int32 lanes of a vector share (x86_avx2_kquants_rows.cpp: 8 rows,
// x86_avx512vnni_kquants_rows.cpp: 16): the per-token activation sums they need, and the rows' scales of one
// super-block as int32 lanes. `pair` is 1 for a scale in the low int16 of its lane (vpdpwssd against an int32 sum)
// or 0x10001 for it in both halves (vpmaddwd against two int16 sums).
constexpr int kSubBlocks = QK_K / 32;

// The Q4_K/Q5_K sub-blocks whose mins and token sums pair up as int16 in one lane: even ones first.
constexpr int kMinPairs[4][2] = {{0, 2}, {4, 6}, {1, 3}, {5, 7}};

// One token's super-block for Q4_K/Q5_K: its scale, and the sums of each sub-block's quants as int16 pairs.
struct ActK {
  float d;
  int32_t sums[4];
};

inline void prepare_act_k(const uint8_t* a, int64_t nb, ActK* out) {
  for (int64_t b = 0; b < nb; ++b) {
    const auto& blk = reinterpret_cast<const BlockQ8_K*>(a)[b];
    out[b].d = blk.d;
    for (int k = 0; k < 4; ++k) {
      auto sum = [&](int s) { return static_cast<uint16_t>(blk.bsums[2 * s] + blk.bsums[2 * s + 1]); };
      out[b].sums[k] = static_cast<int32_t>(sum(kMinPairs[k][0]) | (uint32_t{sum(kMinPairs[k][1])} << 16));
    }
  }
}

// The scales and the mins (int16 pairs as kMinPairs) of L rows' Q4_K/Q5_K super-block at blk, rows wrb apart.
template <class Block, int L>
void tile_scales_k4(const uint8_t* blk, size_t wrb, uint32_t pair, int32_t (&sc)[kSubBlocks][L],
                    int32_t (&mins)[4][L]) {
  for (int i = 0; i < L; ++i) {
    uint8_t u[16];
    unpack_scales_k4(reinterpret_cast<const Block*>(blk + i * wrb)->scales, u);
    for (int s = 0; s < kSubBlocks; ++s) sc[s][i] = static_cast<int32_t>(u[s] * pair);
    for (int k = 0; k < 4; ++k) mins[k][i] = u[8 + kMinPairs[k][0]] | (u[8 + kMinPairs[k][1]] << 16);
  }
}

// One token's super-block for Q6_K: its scale, and its sums of each 16 quants as int16 pairs.
struct ActQ6 {
  float d;
  int32_t sums[kSubBlocks];
};

inline void prepare_act_q6(const uint8_t* a, int64_t nb, ActQ6* out) {
  for (int64_t b = 0; b < nb; ++b) {
    const auto& blk = reinterpret_cast<const BlockQ8_K*>(a)[b];
    out[b].d = blk.d;
    for (int k = 0; k < kSubBlocks; ++k) {
      out[b].sums[k] = static_cast<int32_t>(static_cast<uint16_t>(blk.bsums[2 * k]) |
                                            (uint32_t{static_cast<uint16_t>(blk.bsums[2 * k + 1])} << 16));
    }
  }
}

// The int8 scales of each 16 quants (sc) and the pairs of scales 2k, 2k + 1 (offset, for the -32 of every quant)
// of L rows' Q6_K super-block at blk, rows wrb apart.
template <int L>
void tile_scales_q6(const uint8_t* blk, size_t wrb, uint32_t pair, int32_t (&sc)[2 * kSubBlocks][L],
                    int32_t (&offset)[kSubBlocks][L]) {
  for (int i = 0; i < L; ++i) {
    const int8_t* s = reinterpret_cast<const BlockQ6_K*>(blk + i * wrb)->scales;
    for (int k = 0; k < 2 * kSubBlocks; ++k) sc[k][i] = static_cast<int32_t>(static_cast<uint16_t>(s[k]) * pair);
    for (int k = 0; k < kSubBlocks; ++k)
      offset[k][i] =
          static_cast<int32_t>(static_cast<uint16_t>(s[2 * k]) | (uint32_t{static_cast<uint16_t>(s[2 * k + 1])} << 16));
  }
}

}  // namespace
}  // namespace rkchat::kernels
