// Internal to the AVX-512 files that keep 16 weight rows (or tokens) in the 16 lanes of a vector: the gathers
// and broadcasts they share. Everything is in an unnamed namespace: each file keeps its own copy, built with its
// own flags.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rkchat::kernels {
namespace {

// i * stride in lane i: the byte offsets of 16 rows, for gathers.
inline __m512i lane_offsets(size_t stride) {
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(static_cast<int>(stride)));
}

// The fp16 value at p + the lane's offset, for each lane, as floats.
inline __m512 gather_half(__m512i offsets, const uint8_t* p) {
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(offsets, p, 1)));
}

// The 4 bytes at p in every lane (a vpdpbusd operand the compiler folds into a {1to16} broadcast).
inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// acc + the products of w's unsigned bytes with the 4 signed bytes at p, in every lane: vpdpbusd with a {1to16}
// memory operand. Written out because GCC 12 issues a separate vpbroadcastd for dpbusd(acc, w, bcast4(p)): one
// more uop per 4 x 16 products, a third of the rows kernels' work per token.
inline __m512i dpbusd_bcast(__m512i acc, __m512i w, const void* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

}  // namespace
}  // namespace rkchat::kernels
