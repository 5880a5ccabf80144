// Internal to arm_neon_base.cpp and arm_neon_dot.cpp, after arm_neon_gemm.h: the gemm of Q8_0 / Q4_0 / Q4_1
// weights repacked at load into Layout::rows4 (repack.h), written once over a primitive that each file supplies.
//
// Main idea: lane i of a vector is row i of a 4-row group. Dot::rows4 takes the 8 quant vectors of a group's block
// (vector j: chunk j of the 4 rows, chunk = 4 elements) and one token's block, and returns the 4 rows' exact
// int32 sums in one vector (sdot by element: 8 instructions; plain NEON: widening multiplies of each chunk by that
// chunk of x repeated in every lane, 24 instructions). One convert and one fma then serve 4 rows, with the 4 scales
// loaded and converted together. Decode (1 token) runs 2 groups (8 rows) per tile, so a token's block is loaded
// once per 8 rows; batches run 1 group x up to Dot::kTokens tokens, so a block's weights are loaded once for them.
// No pack step at run time (row_tiles.h packs each tile per call): the layout is already what the kernel reads.
//
// Float order: per (row, token), float(exact block sum) * (d_w * d_x) added by fma block after block (Q4_1: then
// m * s), for up to 4 tokens (as arm_neon_gemv.h); larger batches sum the even and odd chunks apart (as
// arm_neon_dot_rows.cpp). Not the 8 lanes of ref_lanes.h: the tests hold it to a rounding tolerance.
#pragma once

#include <algorithm>
#include <array>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/arm_neon_gemm.h"
#include "kernels/repack.h"

namespace rkchat::kernels {
namespace {

// Packed formats: the group block, the activation block, and the 8 quant vectors of a group block (vector j pairs
// with chunk j of the activations: j < 4 in elements 0..15, j >= 4 in 16..31).
struct PQ8_0 {
  using Block = BlockQ8_0x4;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = 2;
  static constexpr float kUnit = 1.0f;  // what the integer sums count in
  RK_INLINE static void quants(const Block& b, int8x16_t (&w)[8]) {
    for (int j = 0; j < 8; ++j) w[j] = vld1q_s8(b.qs + 16 * j);
  }
};

struct PQ4_0 {
  using Block = BlockQ4_0x4;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = 2;
  static constexpr float kUnit = 1.0f / 16;  // 16 (q - 8) from the XOR-ed nibbles
  RK_INLINE static void quants(const Block& b, int8x16_t (&w)[8]) {
    for (int k = 0; k < 4; ++k) {
      const int8x16_t v = vld1q_s8(reinterpret_cast<const int8_t*>(b.qs) + 16 * k);
      w[k] = vshlq_n_s8(v, 4);
      w[k + 4] = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(v), vdupq_n_u8(0xf0)));
    }
  }
};

struct PQ4_1 {
  using Block = BlockQ4_1x4;
  static constexpr size_t kActBytes = sizeof(BlockQ8_1), kActQs = 4;
  static constexpr float kUnit = 1.0f;
  RK_INLINE static void quants(const Block& b, int8x16_t (&w)[8]) {
    for (int k = 0; k < 4; ++k) {
      const uint8x16_t v = vld1q_u8(b.qs + 16 * k);
      w[k] = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f)));
      w[k + 4] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
    }
  }
};

template <class P>
constexpr bool kHasMin = std::is_same_v<P, PQ4_1>;

RK_INLINE float32x4_t halves_to_float(const fp16_t* h) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h))); }

// Dot: struct X (one token's block as the primitive wants it); static X prepare(int8x16_t lo, int8x16_t hi);
// static int32x4_t rows4(const int8x16_t (&w)[8], const X& x): lane i = row i's sum over the block; static void
// halves(w, x, int32x4_t& even, int32x4_t& odd): the same over the even and the odd chunks apart; and static
// constexpr int kTokens, the most tokens a batch tile holds.
template <class Dot, class P>
struct PackedGemm {
  using Block = typename P::Block;

  // Rows [r, r + 4G) x tokens [t, t + N); stores the first m rows. blk: the first group's block 0. Halves: the
  // even and odd chunks add up apart (the float order of the prefill kernels, arm_neon_dot_rows.cpp), else a
  // block's sum at once (that of decode, arm_neon_gemv.h): results equal those of the stored layout's kernels.
  template <int G, int N, bool Halves>
  static void tile(const Block* blk, int64_t nb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int m) {
    float32x4_t acc[G][N], odd[G][N];
    for (int k = 0; k < G; ++k) {
      for (int j = 0; j < N; ++j) acc[k][j] = odd[k][j] = vdupq_n_f32(0.0f);
    }
    for (int64_t b = 0; b < nb; ++b, a += P::kActBytes) {
      int8x16_t w[G][8];
      float32x4_t d[G], mins[G];
      for (int k = 0; k < G; ++k) {
        const Block& gb = blk[k * nb + b];
        P::quants(gb, w[k]);
        d[k] = halves_to_float(gb.d);
        if constexpr (kHasMin<P>) mins[k] = halves_to_float(gb.m);
      }
      for (int j = 0; j < N; ++j) {
        const uint8_t* x = a + j * arb;
        const auto* q = reinterpret_cast<const int8_t*>(x + P::kActQs);
        const typename Dot::X xp = Dot::prepare(vld1q_s8(q), vld1q_s8(q + 16));
        const float dx = half_at(x) * P::kUnit;
        for (int k = 0; k < G; ++k) {
          const float32x4_t dd = vmulq_n_f32(d[k], dx);
          if constexpr (Halves) {
            int32x4_t e, o;
            Dot::halves(w[k], xp, e, o);
            acc[k][j] = vfmaq_f32(acc[k][j], vcvtq_f32_s32(e), dd);
            odd[k][j] = vfmaq_f32(odd[k][j], vcvtq_f32_s32(o), dd);
          } else {
            acc[k][j] = vfmaq_f32(acc[k][j], vcvtq_f32_s32(Dot::rows4(w[k], xp)), dd);
          }
          if constexpr (kHasMin<P>) acc[k][j] = vfmaq_n_f32(acc[k][j], mins[k], half_at(x + 2));
        }
      }
    }
    for (int j = 0; j < N; ++j) {
      float out[4 * G];
      for (int k = 0; k < G; ++k) vst1q_f32(out + 4 * k, Halves ? vaddq_f32(acc[k][j], odd[k][j]) : acc[k][j]);
      for (int i = 0; i < m; ++i) y[j * ldy + i] = out[i];
    }
  }

  template <bool Halves, size_t... I>
  static constexpr auto batch_tiles(std::index_sequence<I...>) {
    return std::array{&tile<1, static_cast<int>(I) + 1, Halves>...};
  }

  // Batches: tiles of one group x up to kTokens tokens (kDecodeTokens at most in decode's float order).
  static constexpr int kDecodeTokens = 4;
  template <size_t T>
  using Tiles = std::array<void (*)(const Block*, int64_t, const uint8_t*, size_t, float*, int64_t, int), T>;
  template <size_t T>
  static void batch(const Tiles<T>& tiles, const Block* groups, int64_t nb, const uint8_t* a, size_t arb, float* y,
                    int64_t ldy, int64_t r0, int64_t r1, int n_tok) {
    for (int64_t r = r0; r < r1; r += kGroupRows) {
      const Block* blk = groups + r / kGroupRows * nb;
      const int m = static_cast<int>(std::min<int64_t>(r1 - r, kGroupRows));
      for (int t = 0; t < n_tok; t += static_cast<int>(T)) {
        const int n = std::min(n_tok - t, static_cast<int>(T));
        tiles[static_cast<size_t>(n - 1)](blk, nb, a + t * arb, arb, y + t * ldy + r, ldy, m);
      }
    }
  }

  // TypeKernels::gemm_packed: w is the packed matrix, r0 a multiple of 4. One token: tiles of 2 groups (8 rows).
  static void gemm(const uint8_t* w, size_t /*w_row_bytes: the groups' stride follows from nb*/, const uint8_t* a,
                   size_t arb, float* y, int64_t ldy, int64_t r0, int64_t r1, int n_tok, int64_t cols) {
    const int64_t nb = cols / QK8_0;
    const auto* groups = reinterpret_cast<const Block*>(w);
    static constexpr auto kDecode = batch_tiles<false>(std::make_index_sequence<kDecodeTokens>{});
    static constexpr auto kPrefill = batch_tiles<true>(std::make_index_sequence<Dot::kTokens>{});
    if (n_tok > kDecodeTokens) return batch(kPrefill, groups, nb, a, arb, y, ldy, r0, r1, n_tok);
    if (n_tok > 1) return batch(kDecode, groups, nb, a, arb, y, ldy, r0, r1, n_tok);
    for (int64_t r = r0; r < r1; r += 2 * kGroupRows) {
      const Block* blk = groups + r / kGroupRows * nb;
      const int m = static_cast<int>(std::min<int64_t>(r1 - r, 2 * kGroupRows));
      if (m > kGroupRows) {
        tile<2, 1, false>(blk, nb, a, arb, y + r, ldy, m);
      } else {
        tile<1, 1, false>(blk, nb, a, arb, y + r, ldy, m);
      }
    }
  }
};

// The repack of Layout::rows4 for the three formats, with the kernels that read it.
template <class Dot>
void fill_neon_packed(KernelTable& t) {
  const std::array<std::tuple<TypeKernels*, decltype(TypeKernels::pack), decltype(TypeKernels::gemm)>, 3> entries{{
      {&t.q8_0, pack_rows4_q8_0, PackedGemm<Dot, PQ8_0>::gemm},
      {&t.q4_0, pack_rows4_q4_0, PackedGemm<Dot, PQ4_0>::gemm},
      {&t.q4_1, pack_rows4_q4_1, PackedGemm<Dot, PQ4_1>::gemm},
  }};
  for (const auto& [k, pack, gemm] : entries) {
    k->packed = Layout::rows4;
    k->pack = pack;
    k->gemm_packed = gemm;
  }
}

}  // namespace
}  // namespace rkchat::kernels
