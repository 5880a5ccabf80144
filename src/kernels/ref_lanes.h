// Internal to the portable reference files (ref.cpp, kquants_ref.cpp): the float summation order that every ISA's
// quantized dot products share, so that all ISAs agree bit for bit with each other and with llama.cpp, whose x86
// AVX2 vec_dot kernels sum this way (x86_avx2*.cpp reproduce them; the NEON kernels keep the same lanes).
//
// The integer products are exact; only the float part has an order, and it is this one:
//   - 8 float lanes v[0..7], all 0 at the start of a row;
//   - each block (32 or 256 elements) gives 8 exact int32 lane sums. Q8_0/Q4_0/Q4_1: lane k is the sum of the
//     products of elements 4k..4k+3 of the 32-block (what AVX2's maddubs + madd, or sdot on 16 bytes, give);
//     the K-quants give theirs per chunk of 32 (see kquants_ref.cpp);
//   - per block, in block order: v[k] = fma(float(lane k), scale, v[k]), scale rounded to float first (d_w * d_x);
//   - at the end of the row: ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), AVX2's horizontal sum
//     (high 128 bits + low 128 bits, then movehl, then movehdup).
// Any other order differs from llama.cpp in the last bits, and on the quantized fixture models that is enough to
// flip one 8-bit activation rounding in a later layer (a visible jump in the logits, or a near-tie greedy pick).
#pragma once

#include <cmath>
#include <cstdint>

namespace rkchat::kernels {

struct FloatLanes8 {
  float v[8] = {};

  // v[k] = fma(float(lanes[k]), scale, v[k]): one fused multiply-add per lane, as the SIMD kernels do.
  void fma(const int32_t (&lanes)[8], float scale) {
    for (int k = 0; k < 8; ++k) v[k] = std::fma(static_cast<float>(lanes[k]), scale, v[k]);
  }

  float sum() const {
    float s4[4];
    for (int k = 0; k < 4; ++k) s4[k] = v[k] + v[k + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
  }
};

}  // namespace rkchat::kernels
