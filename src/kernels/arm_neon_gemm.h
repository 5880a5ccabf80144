// Internal to arm_neon_base.cpp and arm_neon_dot.cpp: the quantized gemm tiles for NEON, written once over an
// integer dot-product primitive that each file supplies (vmull + vpadal, or sdot). Include it inside an unnamed
// namespace's reach only: everything here is in an unnamed namespace, so each file keeps its own copy built with
// its own flags.
//
// Main idea: one 32-element block per step as two int8x16 halves (elements 0..15 and 16..31; Q4 nibbles unpacked
// to signed bytes: q - 8 for Q4_0, q for Q4_1). The integer dot of a block lands in 8 int32 lanes (lane k: elements
// 4k..4k+3), which are converted and scaled by d_w * d_x into 8 float lanes per (row, token): the float order of
// ref_lanes.h, shared with the scalar reference and x86 AVX2 (Q4_1's min term joins lane 0 after each block).
// Register tiles of RM rows x 2 tokens (16 float32x4 accumulators) keep the unpacked weight blocks in registers
// while the tokens' blocks stream past.
#pragma once

#include <arm_neon.h>

#include <cstring>

#include "kernels/arm_neon_lanes.h"
#include "kernels/gemm_tiles.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels {
namespace {

#define RK_INLINE inline __attribute__((always_inline))

RK_INLINE float half_at(const uint8_t* p) {
  __fp16 h;
  std::memcpy(&h, p, 2);
  return static_cast<float>(h);  // one fcvt
}

struct NeonBlock {
  int8x16_t lo, hi;
  float d;
  float m;  // Q4_1 min (weights) or s = d * sum(q) (Q8_1 activations); 0 otherwise
};

struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kHasMin = false;
  static constexpr int kRows = 4;
  // The block's quants as signed bytes, elements 0..15 and 16..31 (Q4: the nibbles as they are, 0..15).
  RK_INLINE static void quants(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(reinterpret_cast<const int8_t*>(b + 2));
    hi = vld1q_s8(reinterpret_cast<const int8_t*>(b + 18));
  }
  RK_INLINE static NeonBlock load(const uint8_t* b) {
    int8x16_t lo, hi;
    quants(b, lo, hi);
    return {lo, hi, half_at(b), 0.0f};
  }
};

// Low nibbles (elements 0..15) and high nibbles (16..31) of 16 bytes.
RK_INLINE void nibbles(const uint8_t* q, int8x16_t& lo, int8x16_t& hi) {
  const uint8x16_t v = vld1q_u8(q);
  lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f)));
  hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
}

struct WQ4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kHasMin = false;
  static constexpr int kRows = 4;
  RK_INLINE static void quants(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) { nibbles(b + 2, lo, hi); }
  RK_INLINE static NeonBlock load(const uint8_t* b) {
    int8x16_t lo, hi;
    quants(b, lo, hi);
    return {vsubq_s8(lo, vdupq_n_s8(8)), vsubq_s8(hi, vdupq_n_s8(8)), half_at(b), 0.0f};
  }
};

struct WQ4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr bool kHasMin = true;
  static constexpr int kRows = 3;
  RK_INLINE static void quants(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) { nibbles(b + 4, lo, hi); }
  RK_INLINE static NeonBlock load(const uint8_t* b) {
    int8x16_t lo, hi;
    quants(b, lo, hi);
    return {lo, hi, half_at(b), half_at(b + 2)};
  }
};

// Q8_0 activations for Q8_0/Q4_0 weights, Q8_1 (with s) for Q4_1.
template <class W>
RK_INLINE NeonBlock load_act(const uint8_t* b) {
  constexpr size_t kQs = W::kHasMin ? 4 : 2;
  return {vld1q_s8(reinterpret_cast<const int8_t*>(b + kQs)), vld1q_s8(reinterpret_cast<const int8_t*>(b + kQs + 16)),
          half_at(b), W::kHasMin ? half_at(b + 2) : 0.0f};
}

// Dot: static IntLanes8 dot(const NeonBlock& w, const NeonBlock& x): lane k = products of elements 4k..4k+3.
template <class Dot, class W>
struct NeonQuantKernel {
  static constexpr int RM = W::kRows;
  static constexpr int RN = 2;
  static constexpr size_t kActBytes = W::kHasMin ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);

  template <int M, int N>
  static void tile(const tiles::GemmArgs& g, int64_t r, int t) {
    FloatLanes8x4 acc[M][N];
    for (int64_t b = 0; b < g.cols / QK8_0; ++b) {
      NeonBlock w[M];
      float32x4_t min0[M];  // Q4_1: the min in lane 0, zeros elsewhere
      for (int i = 0; i < M; ++i) {
        const uint8_t* p = g.w + (r + i) * g.w_row_bytes + b * W::kBytes;
        tiles::prefetch_next_tile<M>(p, g.w_row_bytes, W::kBytes);
        w[i] = W::load(p);
        if constexpr (W::kHasMin) min0[i] = vsetq_lane_f32(w[i].m, vdupq_n_f32(0.0f), 0);
      }
      for (int j = 0; j < N; ++j) {
        const NeonBlock x = load_act<W>(g.a + (t + j) * g.a_row_bytes + b * kActBytes);
        for (int i = 0; i < M; ++i) {
          acc[i][j].fma(Dot::dot(w[i], x), w[i].d * x.d);
          if constexpr (W::kHasMin) acc[i][j].lo = vfmaq_n_f32(acc[i][j].lo, min0[i], x.m);
        }
      }
    }
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < M; ++i) g.y[(t + j) * g.ldy + r + i] = acc[i][j].sum();
    }
  }
};

}  // namespace
}  // namespace rkchat::kernels
