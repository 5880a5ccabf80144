// Armv8.2-A kernels with the dot-product extension (sdot: Cortex-A76, A55 with dotprod, ...), compiled with
// +dotprod and chosen only when HWCAP says the CPU has it. Float weights stay with the plain NEON kernels.
//
// Main idea: the quantized tiles of arm_neon_gemm.h with vdotq_s32, which adds four int8 products into each
// int32 lane: exactly the 8 lanes of 4 consecutive elements that the shared float order wants, in two
// instructions per 32-element block and (row, token) pair; and the decode kernels of arm_neon_gemv.h, where one
// block of one row costs 2 sdot into the row's running sums; and the kernels of weights repacked at load
// (arm_neon_packed.h), where 8 by-element sdot give a block's sums of 4 rows in the 4 lanes.
#include "kernels/arm_neon_gemv.h"
#include "kernels/arm_neon_packed.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {

namespace {

struct SdotDot {
  RK_INLINE static IntLanes8 dot(const NeonBlock& w, const NeonBlock& x) {
    return {vdotq_s32(vdupq_n_s32(0), w.lo, x.lo), vdotq_s32(vdupq_n_s32(0), w.hi, x.hi)};
  }
  RK_INLINE static int32x4_t acc(int32x4_t r, int8x16_t wlo, int8x16_t whi, int8x16_t xlo, int8x16_t xhi) {
    return vdotq_s32(vdotq_s32(r, wlo, xlo), whi, xhi);
  }

  // arm_neon_packed.h: sdot by element, chunk j of x (lane j % 4 of its half) against chunk j of the 4 rows.
  struct X {
    int8x16_t lo, hi;
    RK_INLINE static X load(const uint8_t* p) {
      return {vld1q_s8(reinterpret_cast<const int8_t*>(p)), vld1q_s8(reinterpret_cast<const int8_t*>(p + 16))};
    }
    RK_INLINE void store(uint8_t* p) const {
      vst1q_s8(reinterpret_cast<int8_t*>(p), lo);
      vst1q_s8(reinterpret_cast<int8_t*>(p + 16), hi);
    }
  };
  static constexpr int kTokens = 8;  // 8 accumulators + 8 weight vectors + the token's 2 + its scales
  RK_INLINE static X prepare(int8x16_t lo, int8x16_t hi) { return {lo, hi}; }
  RK_INLINE static int32x4_t rows4(const int8x16_t (&w)[8], const X& x) {
    int32x4_t s = vdotq_laneq_s32(vdupq_n_s32(0), w[0], x.lo, 0);
    s = vdotq_laneq_s32(s, w[1], x.lo, 1);
    s = vdotq_laneq_s32(s, w[2], x.lo, 2);
    s = vdotq_laneq_s32(s, w[3], x.lo, 3);
    s = vdotq_laneq_s32(s, w[4], x.hi, 0);
    s = vdotq_laneq_s32(s, w[5], x.hi, 1);
    s = vdotq_laneq_s32(s, w[6], x.hi, 2);
    return vdotq_laneq_s32(s, w[7], x.hi, 3);
  }
  RK_INLINE static void halves(const int8x16_t (&w)[8], const X& x, int32x4_t& even, int32x4_t& odd) {
    even = vdotq_laneq_s32(vdupq_n_s32(0), w[0], x.lo, 0);
    odd = vdotq_laneq_s32(vdupq_n_s32(0), w[1], x.lo, 1);
    even = vdotq_laneq_s32(even, w[2], x.lo, 2);
    odd = vdotq_laneq_s32(odd, w[3], x.lo, 3);
    even = vdotq_laneq_s32(even, w[4], x.hi, 0);
    odd = vdotq_laneq_s32(odd, w[5], x.hi, 1);
    even = vdotq_laneq_s32(even, w[6], x.hi, 2);
    odd = vdotq_laneq_s32(odd, w[7], x.hi, 3);
  }
};

}  // namespace

void fill_neon_dot(KernelTable& t) {
  t.isa = "neon-dot";
  fill_neon_quant<SdotDot>(t);
  fill_neon_packed<SdotDot>(t);
}

}  // namespace rkchat::kernels
