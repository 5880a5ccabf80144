// Internal to the x86 kernels that keep weight rows in the int32 lanes of a vector (x86_avx2_rows.cpp: 8 rows,
// x86_avx512vnni_rows.cpp: 16): what they need of each block of a token's activations, computed once per call.
// Everything is in an unnamed namespace: each file keeps its own copy, built with its own flags (AVX2 at least).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rkchat::kernels {
namespace {

// Per (token, block): the start values that cancel the weights' unsigned offset in the even and odd chunk sums,
// the activation scale and (Q8_1) d * sum(q).
struct ActBlock {
  int32_t base[2];
  float d, s;
};

// The ActBlocks of one token's nb activation blocks at a (ActBytes each, fp16 d then (Q8_1) fp16 s, quants at
// ActQs), for weights stored Offset above their value.
template <size_t ActBytes, size_t ActQs, int Offset, bool HasMin>
void prepare_act(const uint8_t* a, int64_t nb, ActBlock* out) {
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = a + b * ActBytes;
    ActBlock& o = out[b];
    uint16_t h[2];
    std::memcpy(h, blk, sizeof h);
    const __m128 ds = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h[0] | (uint32_t{h[1]} << 16))));
    o.d = _mm_cvtss_f32(ds);
    o.s = HasMin ? _mm_cvtss_f32(_mm_shuffle_ps(ds, ds, 1)) : 0.0f;
    if constexpr (Offset == 0) {
      o.base[0] = o.base[1] = 0;
    } else {
      // Chunk sums (lane c), then lanes 0/1 = even/odd chunks of the low half, added to those of the high half.
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + ActQs));
      const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
      const __m256i p = _mm256_add_epi32(s, _mm256_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
      const __m128i e = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
      o.base[0] = -Offset * _mm_cvtsi128_si32(e);
      o.base[1] = -Offset * _mm_extract_epi32(e, 1);
    }
  }
}

}  // namespace
}  // namespace rkchat::kernels
