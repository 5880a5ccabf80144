// Internal to src/kernels: the K-quant formats (Q4_K, Q5_K, Q6_K weights; Q8_K activations), reference code, and
// the pieces the per-ISA K-quant files share (scale unpacking, the rows x tokens tiles).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

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

// Adapts a K-quant kernel K to the register tiles of gemm_tiles.h (tiles::gemm<KqTiles<K, RM, RN>> is the
// TypeKernels::gemm entry). K describes one weight type on one ISA:
//   K::Block          the weight block type
//   K::Prep           one weight block unpacked for the dot products (nibbles spread, scales widened)
//   K::Acc            a running sum for one (row, token) pair; value-initialized to zero
//   K::prepare(const Block&, Prep&), K::dot(const Prep&, const BlockQ8_K&, Acc&), float K::finish(const Acc&)
// A tile unpacks each weight block of its M rows once and uses it for its N tokens, so a prefill unpacks the
// weights once per N tokens and decode (N = 1) streams M rows at a time.
template <class K, int kRows, int kTokens>
struct KqTiles {
  static constexpr int RM = kRows, RN = kTokens;

  template <int M, int N>
  static void tile(const tiles::GemmArgs& g, int64_t row, int tok) {
    using Block = typename K::Block;
    const uint8_t* w = g.w + static_cast<size_t>(row) * g.w_row_bytes;
    const uint8_t* a = g.a + static_cast<size_t>(tok) * g.a_row_bytes;
    typename K::Acc acc[M][N] = {};
    for (int64_t b = 0; b < g.cols / QK_K; ++b) {
      typename K::Prep prep[M];
      for (int i = 0; i < M; ++i) {
        const Block& blk = reinterpret_cast<const Block*>(w + static_cast<size_t>(i) * g.w_row_bytes)[b];
        tiles::prefetch_next_tile<M>(reinterpret_cast<const uint8_t*>(&blk), g.w_row_bytes, sizeof(Block));
        K::prepare(blk, prep[i]);
      }
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

}  // namespace
}  // namespace rkchat::kernels
