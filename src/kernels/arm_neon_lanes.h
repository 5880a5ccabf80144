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

// For the prefill kernels that keep 4 weight rows in the lanes (arm_neon_dot_rows.cpp, arm_neon_dot_kquants.cpp):
// Chunks 0..3 of rows 0..3 (one half of each row, v[i]) transposed so that out[c] holds chunk c of every row.
inline __attribute__((always_inline)) void transpose_chunks(const int8x16_t (&v)[4], int8x16_t* out) {
  const int32x4_t r0 = vreinterpretq_s32_s8(v[0]), r1 = vreinterpretq_s32_s8(v[1]);
  const int32x4_t r2 = vreinterpretq_s32_s8(v[2]), r3 = vreinterpretq_s32_s8(v[3]);
  const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(r0, r1)), t1 = vreinterpretq_s64_s32(vtrn2q_s32(r0, r1));
  const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(r2, r3)), t3 = vreinterpretq_s64_s32(vtrn2q_s32(r2, r3));
  out[0] = vreinterpretq_s8_s64(vtrn1q_s64(t0, t2));
  out[1] = vreinterpretq_s8_s64(vtrn1q_s64(t1, t3));
  out[2] = vreinterpretq_s8_s64(vtrn2q_s64(t0, t2));
  out[3] = vreinterpretq_s8_s64(vtrn2q_s64(t1, t3));
}

}  // namespace
}  // namespace rkchat::kernels
