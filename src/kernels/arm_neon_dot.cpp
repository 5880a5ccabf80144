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
  // arm_neon_packed.h's batch step with the even and odd chunks apart: the token block at act + Offset (X, as laid
  // out) against the 4 rows' block w, scaled by gd * lane Lane of d, into even and odd. One asm block with fixed
  // scratch registers v0..v3: written with intrinsics, GCC 12 kept the tile of 8 tokens (16 accumulators, 8 weight
  // vectors, the scales) in 32 registers only by spilling and moving, 19.75 instructions per (4 rows, token, block)
  // of Q4_0 against 18.1 here (16 per token: a paired load, 2 zeroings, 8 sdot, a scale product, 2 converts, 2 fma).
  // The bytes read are declared from act on, whose address the tile holds in one register (from act + Offset, each
  // token's address cost an instruction).
  static constexpr bool kFusedHalves = true;
  template <int Offset, int Lane>
  RK_INLINE static void add_halves(const int8x16_t (&w)[8], float32x4_t gd, float32x4_t d, const uint8_t* act,
                                   float32x4_t& even, float32x4_t& odd) {
    asm("ldp q0, q1, [%[p], %[off]]\n\t"
        "movi v2.4s, #0\n\tmovi v3.4s, #0\n\t"
        "sdot v2.4s, %[w0].16b, v0.4b[0]\n\tsdot v3.4s, %[w1].16b, v0.4b[1]\n\t"
        "sdot v2.4s, %[w2].16b, v0.4b[2]\n\tsdot v3.4s, %[w3].16b, v0.4b[3]\n\t"
        "sdot v2.4s, %[w4].16b, v1.4b[0]\n\tsdot v3.4s, %[w5].16b, v1.4b[1]\n\t"
        "sdot v2.4s, %[w6].16b, v1.4b[2]\n\tsdot v3.4s, %[w7].16b, v1.4b[3]\n\t"
        "fmul v0.4s, %[gd].4s, %[d].s[%[lane]]\n\t"
        "scvtf v2.4s, v2.4s\n\tscvtf v3.4s, v3.4s\n\t"
        "fmla %[e].4s, v2.4s, v0.4s\n\tfmla %[o].4s, v3.4s, v0.4s"
        : [e] "+w"(even), [o] "+w"(odd)
        : [p] "r"(act), [off] "i"(Offset), "m"(*reinterpret_cast<const uint8_t(*)[Offset + sizeof(X)]>(act)),
          [w0] "w"(w[0]), [w1] "w"(w[1]), [w2] "w"(w[2]), [w3] "w"(w[3]), [w4] "w"(w[4]), [w5] "w"(w[5]),
          [w6] "w"(w[6]), [w7] "w"(w[7]), [gd] "w"(gd), [d] "w"(d), [lane] "i"(Lane)
        : "v0", "v1", "v2", "v3");
  }
};

}  // namespace

void fill_neon_dot(KernelTable& t) {
  t.isa = "neon-dot";
  fill_neon_quant<SdotDot>(t);
  fill_neon_packed<SdotDot>(t);
}

}  // namespace rkchat::kernels
