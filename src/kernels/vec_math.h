// Internal to src/kernels: float functions written as plain arithmetic, so that the loops calling them vectorize
// (a call to libm's expf keeps a loop scalar: GCC uses the vector variants only under -ffast-math). `static inline`
// for the reason fp16.h gives: files compiled with different ISA flags include it.
#pragma once

#include <bit>
#include <cstdint>

namespace rkchat::kernels {

// exp(x) by the Cephes expf recipe: x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact), a degree-5
// polynomial for e^r, and 2^n built in the exponent bits. Relative error within 2e-7 of std::exp on [-87, 88];
// 0 below -87 (and for -inf), exp(88) above (no overflow to inf); NaN stays NaN.
static inline float exp_approx(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer
  const float xc = x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : x);
  const float n = (xc * kLog2e + kRound) - kRound;
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = (p * r * r + r) + 1.0f;
  const float y = e * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return x < -87.0f ? 0.0f : (x != x ? x : y);
}

}  // namespace rkchat::kernels
