// The small AVX2 helpers the AVX2 kernel files share (half loads, unaligned loads, horizontal sums). Everything is
// in an unnamed namespace: each file keeps its own copy, built with its own target flags.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#define RK_INLINE inline __attribute__((always_inline))

namespace rkchat::kernels {
namespace {

RK_INLINE float load_fp16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

RK_INLINE __m256i loadu256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

RK_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace rkchat::kernels
