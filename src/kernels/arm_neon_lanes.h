// Internal to the arm_* kernel files: the 8 float lanes of src/kernels/ref_lanes.h (the float order every ISA
// shares, so NEON agrees bit for bit with the scalar reference, the x86 AVX2 kernels and llama.cpp) as two
// float32x4: `lo` is lanes 0..3, `hi` lanes 4..7. An int8 dot over 16 bytes (sdot, or widening multiplies and
// pairwise adds) gives exactly the int32 lanes of 4 consecutive elements that the order is defined on.
// Everything is in an unnamed namespace: each file keeps its own copy built with its own flags.
#pragma once

#include <arm_neon.h>

namespace rkchat::kernels {
namespace {

struct IntLanes8 {
  int32x4_t lo, hi;
};

struct FloatLanes8x4 {
  float32x4_t lo = vdupq_n_f32(0.0f), hi = vdupq_n_f32(0.0f);

  // lane = fma(float(int lane), scale, lane): vfmaq is fused (vmlaq would round the product first).
  inline __attribute__((always_inline)) void fma(const IntLanes8& v, float scale) {
    lo = vfmaq_n_f32(lo, vcvtq_f32_s32(v.lo), scale);
    hi = vfmaq_n_f32(hi, vcvtq_f32_s32(v.hi), scale);
  }

  // ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), AVX2's horizontal sum.
  inline __attribute__((always_inline)) float sum() const {
    const float32x4_t s4 = vaddq_f32(lo, hi);
    const float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
    return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
  }
};

}  // namespace
}  // namespace rkchat::kernels
