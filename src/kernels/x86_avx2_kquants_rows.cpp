// AVX2 prefill kernels for Q4_K and Q6_K weights: the 8 int32 lanes hold 8 weight rows, as the 16 lanes do in
// x86_avx512vnni_kquants_rows.cpp (whose comment explains the method), driven by row_tiles.h (each 8-row tile
// packed once per call, reused by every token).
//
// Without vpdpbusd, a chunk's products come from vpmaddubsw as int16 pair sums, which add up in int16 before one
// vpmaddwd multiplies them by the rows' scales (kept in both int16 halves of each lane):
// - Q4_K: the 4 even (or odd) chunks of a sub-block, at most 8 x 15 x 128 per int16, then the sub-block scale;
// - Q6_K: 2 chunks (8 x 63 x 128 would not fit), then the scale of their 16 quants.
// The integer sums equal those of the AVX-512 kernels, and the float steps are the same, so both give the same
// results. The stored-layout kernels of x86_avx2_kquants.cpp stay for decode and the rows past the last tile.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/kquants.h"
#include "kernels/row_tiles.h"
#include "kernels/x86_avx2_lanes.h"

namespace rkchat::kernels {

namespace {

constexpr int kRows = 8;
constexpr int kChunks = 8;           // 4-quant chunks per sub-block of 32
constexpr uint32_t kPair = 0x10001;  // a scale in both int16 halves of its lane

RK_INLINE __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i row_offsets(size_t wrb) {
  return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(wrb)));
}

// The 4 bytes at p + each row's offset.
RK_INLINE __m256i gather4(__m256i rows, const uint8_t* p) {
  return _mm256_i32gather_epi32(reinterpret_cast<const int*>(p), rows, 1);
}

// The fp16 value at p of each of the 8 rows (wrb apart), as floats.
inline __m256 gather_half(const uint8_t* p, size_t wrb) {
  alignas(16) uint16_t h[kRows];
  for (int i = 0; i < kRows; ++i) std::memcpy(&h[i], p + i * wrb, 2);
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
}

template <size_t N>
RK_INLINE void load_all(__m256i (&dst)[N], const int32_t (&src)[N][kRows]) {
  for (size_t k = 0; k < N; ++k) dst[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(src[k]));
}

// The int16 pair sums of chunks first, first + 2, ... (count of them) of w times the token's chunks at x.
RK_INLINE __m256i pair_sums(const __m256i* w, const int8_t* x, int first, int count) {
  __m256i s = _mm256_maddubs_epi16(w[first], bcast4(x + 4 * first));
  for (int k = 1; k < count; ++k) {
    const int c = first + 2 * k;
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w[c], bcast4(x + 4 * c)));
  }
  return s;
}

// One super-block of a packed 8-row Q4_K tile.
struct PackedQ4 {
  __m256i q[kSubBlocks][kChunks];  // sub-block s, chunk c: 4 nibbles of each row
  __m256i sc[kSubBlocks];          // sub-block scales, an int16 pair per row
  __m256i mins[4];                 // the rows' mins as int16 pairs (kMinPairs)
  __m256 d, dmin;
};

struct RowsQ4 {
  static constexpr int kLanes = kRows, kTokens = 2, kBlock = QK_K;
  static constexpr int kMinTokens = 8;
  using Packed = PackedQ4;
  using Act = ActK;

  // Rows w.. of one tile, super-block by super-block: quants gathered 4 at a time, scales unpacked per row.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m256i rows = row_offsets(wrb), low4 = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = w + b * sizeof(BlockQ4_K);
      Packed& p = out[b];
      for (int g = 0; g < kSubBlocks / 2; ++g) {
        for (int c = 0; c < kChunks; ++c) {
          const __m256i v = gather4(rows, blk + offsetof(BlockQ4_K, qs) + 32 * g + 4 * c);
          p.q[2 * g][c] = _mm256_and_si256(v, low4);
          p.q[2 * g + 1][c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
      }
      alignas(32) int32_t sc[kSubBlocks][kRows], mins[4][kRows];
      tile_scales_k4<BlockQ4_K, kRows>(blk, wrb, kPair, sc, mins);
      load_all(p.sc, sc);
      load_all(p.mins, mins);
      p.d = gather_half(blk + offsetof(BlockQ4_K, d), wrb);
      p.dmin = gather_half(blk + offsetof(BlockQ4_K, dmin), wrb);
    }
  }

  static void prepare(const uint8_t* a, int64_t nb, Act* out) { prepare_act_k(a, nb, out); }

  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* act, float* y,
                   int64_t ldy) {
    __m256 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const Packed& p = packed[b];
      __m256i e_sum[N], o_sum[N];
      for (int j = 0; j < N; ++j) e_sum[j] = o_sum[j] = _mm256_setzero_si256();
      for (int s = 0; s < kSubBlocks; ++s) {
        __m256i w[kChunks];
        for (int c = 0; c < kChunks; ++c) w[c] = _mm256_load_si256(&p.q[s][c]);
        for (int j = 0; j < N; ++j) {
          const int8_t* x = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * arb)[b].qs + 32 * s;
          e_sum[j] = _mm256_add_epi32(e_sum[j], _mm256_madd_epi16(pair_sums(w, x, 0, 4), p.sc[s]));
          o_sum[j] = _mm256_add_epi32(o_sum[j], _mm256_madd_epi16(pair_sums(w, x, 1, 4), p.sc[s]));
        }
      }
      for (int j = 0; j < N; ++j) {
        const Act& t = act[j * nb + b];
        const __m256i e_min = _mm256_add_epi32(_mm256_madd_epi16(p.mins[0], bcast4(&t.sums[0])),
                                               _mm256_madd_epi16(p.mins[1], bcast4(&t.sums[1])));
        const __m256i o_min = _mm256_add_epi32(_mm256_madd_epi16(p.mins[2], bcast4(&t.sums[2])),
                                               _mm256_madd_epi16(p.mins[3], bcast4(&t.sums[3])));
        const __m256 d = _mm256_mul_ps(p.d, _mm256_set1_ps(t.d)), dmin = _mm256_mul_ps(p.dmin, _mm256_set1_ps(t.d));
        even[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(e_min), dmin,
                                   _mm256_fmadd_ps(_mm256_cvtepi32_ps(e_sum[j]), d, even[j]));
        odd[j] =
            _mm256_fnmadd_ps(_mm256_cvtepi32_ps(o_min), dmin, _mm256_fmadd_ps(_mm256_cvtepi32_ps(o_sum[j]), d, odd[j]));
      }
    }
    for (int j = 0; j < N; ++j) _mm256_storeu_ps(y + j * ldy, _mm256_add_ps(even[j], odd[j]));
  }
};

// One super-block of a packed 8-row Q6_K tile.
struct PackedQ6 {
  __m256i q[kSubBlocks][kChunks];  // sub-block s, chunk c: 4 quants + 32 (0..63) of each row
  __m256i sc[2 * kSubBlocks];      // the int8 scale of each 16 quants, an int16 pair per row
  __m256i offset[kSubBlocks];      // scales 2k and 2k + 1 of each row as an int16 pair, for the -32 offset
  __m256 d;
};

struct RowsQ6 {
  static constexpr int kLanes = kRows, kTokens = 2, kBlock = QK_K;
  static constexpr int kMinTokens = 8;
  using Packed = PackedQ6;
  using Act = ActQ6;

  // Rows w.. of one tile: 4 low bits from ql and 2 high bits from qh (as ggml lays them out; see unpack_q6 in
  // kquants_ref.cpp), gathered 4 quants at a time.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m256i rows = row_offsets(wrb);
    const __m256i low4 = _mm256_set1_epi8(0x0f), low2 = _mm256_set1_epi8(0x03);
    auto join = [&](__m256i lo4, __m256i h, int shift) {
      return _mm256_or_si256(_mm256_and_si256(lo4, low4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), low2), 4));
    };
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = w + b * sizeof(BlockQ6_K);
      Packed& p = out[b];
      for (int n = 0; n < 2; ++n) {
        for (int c = 0; c < kChunks; ++c) {
          const __m256i l0 = gather4(rows, blk + offsetof(BlockQ6_K, ql) + 64 * n + 4 * c);
          const __m256i l1 = gather4(rows, blk + offsetof(BlockQ6_K, ql) + 64 * n + 32 + 4 * c);
          const __m256i h = gather4(rows, blk + offsetof(BlockQ6_K, qh) + 32 * n + 4 * c);
          p.q[4 * n][c] = join(l0, h, 0);
          p.q[4 * n + 1][c] = join(l1, h, 2);
          p.q[4 * n + 2][c] = join(_mm256_srli_epi16(l0, 4), h, 4);
          p.q[4 * n + 3][c] = join(_mm256_srli_epi16(l1, 4), h, 6);
        }
      }
      alignas(32) int32_t sc[2 * kSubBlocks][kRows], offset[kSubBlocks][kRows];
      tile_scales_q6<kRows>(blk, wrb, kPair, sc, offset);
      load_all(p.sc, sc);
      load_all(p.offset, offset);
      p.d = gather_half(blk + offsetof(BlockQ6_K, d), wrb);
    }
  }

  static void prepare(const uint8_t* a, int64_t nb, Act* out) { prepare_act_q6(a, nb, out); }

  // As RowsQ4::tile, with a scale per 16 quants (chunks 0..3 and 4..7 of a sub-block); the -32 of every quant
  // comes off at the end of the super-block, 32 x the scales times the token's sums.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* act, float* y,
                   int64_t ldy) {
    __m256 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const Packed& p = packed[b];
      __m256i e_sum[N], o_sum[N];
      for (int j = 0; j < N; ++j) e_sum[j] = o_sum[j] = _mm256_setzero_si256();
      for (int s = 0; s < kSubBlocks; ++s) {
        __m256i w[kChunks];
        for (int c = 0; c < kChunks; ++c) w[c] = _mm256_load_si256(&p.q[s][c]);
        for (int j = 0; j < N; ++j) {
          const int8_t* x = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * arb)[b].qs + 32 * s;
          for (int h = 0; h < 2; ++h) {
            const __m256i sc = p.sc[2 * s + h];
            e_sum[j] = _mm256_add_epi32(e_sum[j], _mm256_madd_epi16(pair_sums(w, x, 4 * h, 2), sc));
            o_sum[j] = _mm256_add_epi32(o_sum[j], _mm256_madd_epi16(pair_sums(w, x, 4 * h + 1, 2), sc));
          }
        }
      }
      for (int j = 0; j < N; ++j) {
        const Act& t = act[j * nb + b];
        __m256i e_off = _mm256_setzero_si256(), o_off = _mm256_setzero_si256();
        for (int k = 0; k < kSubBlocks; k += 2) {
          e_off = _mm256_add_epi32(e_off, _mm256_madd_epi16(p.offset[k], bcast4(&t.sums[k])));
          o_off = _mm256_add_epi32(o_off, _mm256_madd_epi16(p.offset[k + 1], bcast4(&t.sums[k + 1])));
        }
        const __m256i e = _mm256_sub_epi32(e_sum[j], _mm256_slli_epi32(e_off, 5));
        const __m256i o = _mm256_sub_epi32(o_sum[j], _mm256_slli_epi32(o_off, 5));
        const __m256 d = _mm256_mul_ps(p.d, _mm256_set1_ps(t.d));
        even[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e), d, even[j]);
        odd[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(o), d, odd[j]);
      }
    }
    for (int j = 0; j < N; ++j) _mm256_storeu_ps(y + j * ldy, _mm256_add_ps(even[j], odd[j]));
  }
};

}  // namespace

// On top of fill_kquants_avx2 (AVX2 only): its tiles stay the fallback for decode and edge rows.
void fill_kquants_avx2_rows(KernelTable& t) {
  row_tiles::wrap<RowsQ4>(t.q4_k);
  row_tiles::wrap<RowsQ6>(t.q6_k);
}

}  // namespace rkchat::kernels
