// Internal to src/kernels: the K-quant formats (Q4_K, Q5_K, Q6_K weights; Q8_K activations), reference code, and
// the pieces the per-ISA K-quant files share (scale unpacking, the rows x tokens tile driver).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

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
  const uint32_t mins_lo = u[1] & kLow6;                         // mins 0..3
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);          // scales 4..7
  u[2] = mins_lo;
  u[0] &= kLow6;  // scales 0..3
  std::memcpy(out, u, 16);
}

// The rows x tokens register tile shared by the SIMD K-quant kernels. K describes one weight type on one ISA:
//   K::Block          the weight block type
//   K::Prep           one weight block unpacked for the dot products (nibbles spread, scales widened)
//   K::Acc            a running sum for one (row, token) pair; value-initialized to zero
//   K::prepare(const Block&, Prep&), K::dot(const Prep&, const BlockQ8_K&, Acc&), float K::finish(const Acc&)
// Each weight block is unpacked once per tile and used for NT tokens, so a prefill reads and unpacks the weights
// once per NT tokens; decode (NT = 1) streams NR rows at a time.
template <class K, int NR, int NT>
void kq_tile(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy,
             int64_t nb) {
  using Block = typename K::Block;
  typename K::Acc acc[NR][NT] = {};
  for (int64_t b = 0; b < nb; ++b) {
    typename K::Prep prep[NR];
    for (int i = 0; i < NR; ++i) {
      K::prepare(reinterpret_cast<const Block*>(w + static_cast<size_t>(i) * w_row_bytes)[b], prep[i]);
    }
    for (int j = 0; j < NT; ++j) {
      const BlockQ8_K& q = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * a_row_bytes)[b];
      for (int i = 0; i < NR; ++i) K::dot(prep[i], q, acc[i][j]);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NT; ++j) y[j * ldy + i] = K::finish(acc[i][j]);
  }
}

// Runs tiles of NR rows x kMaxTok tokens over rows [r0, r1) and all tokens; leftover rows and tokens get smaller
// tiles. Rows are the outer loop: a tile's weights stay in L1 while all tokens' activations stream from L2.
// The signature is TypeKernels::gemm.
template <class K, int NR, int kMaxTok>
void kq_gemm(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy,
             int64_t r0, int64_t r1, int n_tok, int64_t cols) {
  static_assert(kMaxTok >= 1 && kMaxTok <= 4, "token tiles of 1..4 are instantiated below");
  using Tile = void (*)(const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t, int64_t);
  constexpr Tile kFull[4] = {kq_tile<K, NR, 1>, kq_tile<K, NR, 2>, kq_tile<K, NR, 3>, kq_tile<K, NR, 4>};
  constexpr Tile kSingle[4] = {kq_tile<K, 1, 1>, kq_tile<K, 1, 2>, kq_tile<K, 1, 3>, kq_tile<K, 1, 4>};
  const int64_t nb = cols / QK_K;
  for (int64_t r = r0; r < r1;) {
    const bool full = r + NR <= r1;
    const uint8_t* wr = w + static_cast<size_t>(r) * w_row_bytes;
    for (int t = 0; t < n_tok; t += kMaxTok) {
      const int nt = n_tok - t < kMaxTok ? n_tok - t : kMaxTok;
      const Tile tile = full ? kFull[nt - 1] : kSingle[nt - 1];
      tile(wr, w_row_bytes, a + static_cast<size_t>(t) * a_row_bytes, a_row_bytes, y + t * ldy + r, ldy, nb);
    }
    r += full ? NR : 1;
  }
}

}  // namespace
}  // namespace rkchat::kernels
