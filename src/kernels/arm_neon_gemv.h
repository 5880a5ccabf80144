// Internal to arm_neon_base.cpp and arm_neon_dot.cpp, after arm_neon_gemm.h: the decode kernels (1 to 4 tokens)
// for Q8_0 / Q4_0 / Q4_1 weights, written once over an integer primitive that each file supplies (sdot, or
// vmull + vmlal + vpadal).
//
// Main idea: decode reads every weight once, so what counts is the work per weight block. The tile kernel of
// arm_neon_gemm.h converts and scales the 8 int32 lanes of every (row, block) apart, for the float order of
// ref_lanes.h: its compiled 4 x 1 loop costs 87 / 4 instructions per row and block (Q8_0, sdot). Here each row
// keeps ONE running int32x4 that the primitive adds the block's products into; three pairwise adds fold 4 rows
// into one vector of 4 running row sums, and the block's sums are that vector minus the previous block's (modulo
// 2^32, exact: a block sum is below 2^19). So one convert and one fma serve 4 rows; the 8 rows' scales are gathered
// by zips and converted together. Q4_0's offset comes off once per block for all rows: sum (q - 8) x = sum q x -
// 8 sum x. Q8_0's loop is 73 / 8 instructions per row and block, Q4_0's 91 / 8 (Cortex-A76 build; docs/
// performance.md has the counts per token). Tiles are 8 rows x 1 token; a batch of 2 to 4 tokens runs them one
// after the other over each tile, whose weights stay in L1. No software prefetch (the tile kernel's
// prefetch_next_tile): it would cost one instruction per row and block, and whether an A76's prefetchers need it
// can only be timed on a board.
//
// Float order: per (row, token), float(exact block sum) * (d_w * d_x) added by fma block after block (Q4_1: then
// m * s): not the 8 lanes of ref_lanes.h (the tests hold it to a rounding tolerance), and one rounding per block
// instead of eight.
#pragma once

#include <type_traits>

#include "kernels/arm_neon_gemm.h"

namespace rkchat::kernels {
namespace {

// Dot: static int32x4_t acc(int32x4_t r, int8x16_t wlo, int8x16_t whi, int8x16_t xlo, int8x16_t xhi): r plus the
// 32 products wlo * xlo, whi * xhi, in any lanes.
template <class Dot, class W>
struct NeonGemv {
  static constexpr int RM = 8;
  static constexpr int RN = 1;
  static constexpr size_t kActBytes = W::kHasMin ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  static constexpr size_t kActQs = W::kHasMin ? 4 : 2;
  static constexpr bool kOffset8 = std::is_same_v<W, WQ4_0>;

  // a - b modulo 2^32 (in unsigned lanes, where wrapping is defined): the running sums may wrap, the block sums
  // never do.
  RK_INLINE static int32x4_t sub_wrap(int32x4_t a, int32x4_t b) {
    return vreinterpretq_s32_u32(vsubq_u32(vreinterpretq_u32_s32(a), vreinterpretq_u32_s32(b)));
  }

  // fp16 lanes 0..3 and 4..7 as floats.
  RK_INLINE static float32x4_t to_float_lo(uint16x8_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h))); }
  RK_INLINE static float32x4_t to_float_hi(uint16x8_t h) { return vcvt_high_f32_f16(vreinterpretq_f16_u16(h)); }

  // The running sums of 4 rows in one vector.
  RK_INLINE static int32x4_t fold4(int32x4_t r0, int32x4_t r1, int32x4_t r2, int32x4_t r3) {
    return vpaddq_s32(vpaddq_s32(r0, r1), vpaddq_s32(r2, r3));
  }

  // Rows r.. r + M of token t. An edge tile (M < 8) reads its last row again in place of the missing ones, and
  // leaves their sums unstored.
  template <int M, int N>
  static void tile(const tiles::GemmArgs& g, int64_t r, int t) {
    static_assert(N == 1);
    const uint8_t* p[RM];  // each row's next block
    for (int i = 0; i < RM; ++i) p[i] = g.w + (r + (i < M ? i : M - 1)) * g.w_row_bytes;
    const uint8_t* a = g.a + t * g.a_row_bytes;
    int32x4_t run[RM] = {}, prev[2] = {}, off = {};  // off: Q4_0's 8 * the running sum of x, in any lanes
    float32x4_t acc[2] = {};
    const int64_t nb = g.cols / QK8_0;
    for (int64_t b = 0; b < nb; ++b, a += kActBytes) {
      const int8x16_t xlo = vld1q_s8(reinterpret_cast<const int8_t*>(a + kActQs));
      const int8x16_t xhi = vld1q_s8(reinterpret_cast<const int8_t*>(a + kActQs + 16));
      uint32x2_t head[RM];  // per row: its fp16 scale (and Q4_1's min) in 32-bit lane 0
#pragma GCC unroll 8
      for (int i = 0; i < RM; ++i) {
        int8x16_t lo, hi;
        W::quants(p[i], lo, hi);
        run[i] = Dot::acc(run[i], lo, hi, xlo, xhi);
        uint32_t bits;
        std::memcpy(&bits, p[i], 4);
        head[i] = vcreate_u32(bits);
        p[i] += W::kBytes;
      }
      // Row k of each group of 4 in lane k (zips: a load into a lane would need each row's address computed).
      uint16x8_t dm[2];
      for (int k = 0; k < 2; ++k) {
        dm[k] = vreinterpretq_u16_u32(
            vcombine_u32(vzip1_u32(head[4 * k], head[4 * k + 1]), vzip1_u32(head[4 * k + 2], head[4 * k + 3])));
      }
      // The low halves of the lanes are the 8 rows' scales, the high ones Q4_1's mins.
      const float32x4_t d[2] = {to_float_lo(vuzp1q_u16(dm[0], dm[1])), to_float_hi(vuzp1q_u16(dm[0], dm[1]))};
      int32x4_t off_all = vdupq_n_s32(0);  // Q4_0: 8 * the running sum of x in every lane
      if constexpr (kOffset8) {
        off = Dot::acc(off, vdupq_n_s8(8), vdupq_n_s8(8), xlo, xhi);
        off_all = vpaddq_s32(off, off);
        off_all = vpaddq_s32(off_all, off_all);
      }
      const float dx = half_at(a);
#pragma GCC unroll 2
      for (int k = 0; k < 2; ++k) {
        const int32x4_t now = sub_wrap(fold4(run[4 * k], run[4 * k + 1], run[4 * k + 2], run[4 * k + 3]), off_all);
        const int32x4_t sums = sub_wrap(now, prev[k]);
        prev[k] = now;
        acc[k] = vfmaq_f32(acc[k], vcvtq_f32_s32(sums), vmulq_n_f32(d[k], dx));
        if constexpr (W::kHasMin) {
          const uint16x8_t m = vuzp2q_u16(dm[0], dm[1]);
          acc[k] = vfmaq_n_f32(acc[k], k == 0 ? to_float_lo(m) : to_float_hi(m), half_at(a + 2));
        }
      }
    }
    float out[RM];
    vst1q_f32(out, acc[0]);
    vst1q_f32(out + 4, acc[1]);
    for (int i = 0; i < M; ++i) g.y[t * g.ldy + r + i] = out[i];
  }
};

// Batches of up to 4 tokens run on NeonGemv, larger ones on the tile kernel NeonQuantKernel (2 tokens per tile).
template <class Dot, class W>
void gemm_q(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0, int64_t r1,
            int n_tok, int64_t cols) {
  constexpr int kMaxTokens = 4;
  if (n_tok <= kMaxTokens) return tiles::gemm<NeonGemv<Dot, W>>(w, wrb, a, arb, y, ldy, r0, r1, n_tok, cols);
  tiles::gemm<NeonQuantKernel<Dot, W>>(w, wrb, a, arb, y, ldy, r0, r1, n_tok, cols);
}

// Dot also provides static IntLanes8 dot(const NeonBlock& w, const NeonBlock& x) for NeonQuantKernel.
template <class Dot>
void fill_neon_quant(KernelTable& t) {
  t.q8_0.gemm = gemm_q<Dot, WQ8_0>;
  t.q4_0.gemm = gemm_q<Dot, WQ4_0>;
  t.q4_1.gemm = gemm_q<Dot, WQ4_1>;
}

}  // namespace
}  // namespace rkchat::kernels
