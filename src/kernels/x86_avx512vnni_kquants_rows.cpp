// AVX-512 VNNI prefill kernels for Q4_K / Q5_K / Q6_K weights: the 16 int32 lanes hold 16 weight rows, as in
// x86_avx512vnni_rows.cpp (whose comment explains the layout), driven by row_tiles.h.
//
// A Q4_K/Q5_K super-block of 256 weights has 8 sub-blocks of 32 with a 6-bit scale and min each (Q6_K: an int8
// scale per 16 weights and no mins; see RowsQ6). Per (16 rows, token,
// sub-block) 8 vpdpbusd multiply the unsigned quants of the rows (nibbles, plus 16 for Q5_K's high bit) by the
// token's signed Q8_K bytes broadcast from memory; the even and odd chunk sums are then multiplied by the rows'
// sub-block scales and added up over the super-block, exactly in int32. The mins term needs no per-element work:
// sum_j min_j * (the token's sums of sub-block j), from the Q8_K block sums. Only then do floats come in: per
// super-block, two fma for the sums and two for the mins, one pair per accumulator.
//
// Float order: like the reference (kquants_ref.cpp) each super-block's integer sums are exact; the 8 chunk lanes
// the reference keeps are added up in two halves here, the even chunks and the odd ones (as the Q8_0 prefill
// kernels do), each scaled and accumulated apart, and the two added at the end.
#include <immintrin.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/kquants.h"
#include "kernels/row_tiles.h"
#include "kernels/x86_avx512_lanes.h"

namespace rkchat::kernels {

namespace {

#define RK_INLINE inline __attribute__((always_inline))

constexpr int kSub = kSubBlocks;  // sub-blocks of 32 per super-block
constexpr int kChunks = 8;        // 4-quant chunks per sub-block: one vpdpbusd each

// One super-block of a repacked 16-row tile.
struct PackedK {
  __m512i q[kSub][kChunks];  // sub-block s, chunk c: 4 unsigned quants of each row
  __m512i sc[kSub];          // sub-block scales, one int32 per row
  __m512i mins[4];           // the rows' mins as int16 pairs: (0, 2), (4, 6), (1, 3), (5, 7)
  __m512 d, dmin;
};

// Q4_K (kHigh false) or Q5_K (kHigh true).
template <bool kHigh>
struct RowsQ45 {
  using Block = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
  static constexpr int kLanes = 16, kTokens = 8, kBlock = QK_K;
  static constexpr int kMinTokens = 24;  // as the Q8_0 prefill kernel
  using Packed = PackedK;
  using Act = ActK;

  // Sum (int32 lanes) += chunk sums x sub-block scales. Q4_K chunk sums fit in int16 (16 x 15 x 128), so one
  // vpdpwssd against the scale (high half 0) does it; Q5_K's (16 x 31 x 128) need a 32-bit multiply.
  RK_INLINE static __m512i add_scaled(__m512i sum, __m512i chunks, __m512i scale) {
    if constexpr (kHigh) return _mm512_add_epi32(sum, _mm512_mullo_epi32(chunks, scale));
    return _mm512_dpwssd_epi32(sum, chunks, scale);
  }

  // Rows w.. of one tile, super-block by super-block: quants gathered 4 at a time, scales unpacked per row.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m512i rows = lane_offsets(wrb);
    const __m512i low4 = _mm512_set1_epi8(0x0f), bit = _mm512_set1_epi8(1);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = w + b * sizeof(Block);
      Packed& p = out[b];
      for (int g = 0; g < kSub / 2; ++g) {
        for (int c = 0; c < kChunks; ++c) {
          const __m512i v = _mm512_i32gather_epi32(rows, blk + offsetof(Block, qs) + 32 * g + 4 * c, 1);
          __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
          if constexpr (kHigh) {
            const __m512i h = _mm512_i32gather_epi32(rows, blk + offsetof(BlockQ5_K, qh) + 4 * c, 1);
            lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 2 * g), bit), 4));
            hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 2 * g + 1), bit), 4));
          }
          p.q[2 * g][c] = lo;
          p.q[2 * g + 1][c] = hi;
        }
      }
      alignas(64) int32_t sc[kSub][kLanes], mins[4][kLanes];
      tile_scales_k4<Block, kLanes>(blk, wrb, 1, sc, mins);
      for (int s = 0; s < kSub; ++s) p.sc[s] = _mm512_load_si512(sc[s]);
      for (int k = 0; k < 4; ++k) p.mins[k] = _mm512_load_si512(mins[k]);
      p.d = gather_half(rows, blk + offsetof(Block, d));
      p.dmin = gather_half(rows, blk + offsetof(Block, dmin));
    }
  }

  // Scale and sub-block sums of every super-block of one token's activation row.
  static void prepare(const uint8_t* a, int64_t nb, Act* out) { prepare_act_k(a, nb, out); }

  // y[t + j][r .. r + 16) for the N tokens t.. over every super-block. A sub-block's quants stay in registers
  // while the tokens pass; the float accumulators are touched once per super-block.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* act, float* y,
                   int64_t ldy) {
    __m512 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const Packed& p = packed[b];
      __m512i e_sum[N], o_sum[N];
      for (int j = 0; j < N; ++j) e_sum[j] = o_sum[j] = _mm512_setzero_si512();
      for (int s = 0; s < kSub; ++s) {
        __m512i w[kChunks];
        for (int c = 0; c < kChunks; ++c) w[c] = _mm512_load_si512(&p.q[s][c]);
        for (int j = 0; j < N; ++j) {
          const int8_t* x = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * arb)[b].qs + 32 * s;
          __m512i e = _mm512_setzero_si512(), o = _mm512_setzero_si512();
          for (int c = 0; c < kChunks; c += 2) {
            e = _mm512_dpbusd_epi32(e, w[c], bcast4(x + 4 * c));
            o = _mm512_dpbusd_epi32(o, w[c + 1], bcast4(x + 4 * c + 4));
          }
          e_sum[j] = add_scaled(e_sum[j], e, p.sc[s]);
          o_sum[j] = add_scaled(o_sum[j], o, p.sc[s]);
        }
      }
      for (int j = 0; j < N; ++j) {
        const Act& t = act[j * nb + b];
        const __m512i zero = _mm512_setzero_si512();
        const __m512i e_min = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(zero, p.mins[0], bcast4(&t.sums[0])), p.mins[1],
                                                  bcast4(&t.sums[1]));
        const __m512i o_min = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(zero, p.mins[2], bcast4(&t.sums[2])), p.mins[3],
                                                  bcast4(&t.sums[3]));
        const __m512 d = _mm512_mul_ps(p.d, _mm512_set1_ps(t.d)), dmin = _mm512_mul_ps(p.dmin, _mm512_set1_ps(t.d));
        even[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(e_min), dmin,
                                   _mm512_fmadd_ps(_mm512_cvtepi32_ps(e_sum[j]), d, even[j]));
        odd[j] =
            _mm512_fnmadd_ps(_mm512_cvtepi32_ps(o_min), dmin, _mm512_fmadd_ps(_mm512_cvtepi32_ps(o_sum[j]), d, odd[j]));
      }
    }
    for (int j = 0; j < N; ++j) _mm512_storeu_ps(y + j * ldy, _mm512_add_ps(even[j], odd[j]));
  }
};

// One super-block of a repacked 16-row Q6_K tile.
struct PackedQ6 {
  __m512i q[kSub][kChunks];  // sub-block s, chunk c: 4 quants + 32 (0..63) of each row
  __m512i sc[2 * kSub];      // the int8 scale of each 16 quants, one int32 per row
  __m512i offset[kSub];      // scales 2k and 2k + 1 of each row as an int16 pair, for the -32 offset
  __m512 d;
};

struct RowsQ6 {
  static constexpr int kLanes = 16, kTokens = 8, kBlock = QK_K;
  static constexpr int kMinTokens = 24;
  using Packed = PackedQ6;
  using Act = ActQ6;

  // Rows w.. of one tile: 4 low bits from ql and 2 high bits from qh (as ggml lays them out; see unpack_q6 in
  // kquants_ref.cpp), gathered 4 quants at a time.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    const __m512i rows = lane_offsets(wrb);
    const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(0x03);
    auto join = [&](__m512i lo4, __m512i h, int shift) {
      return _mm512_or_si512(_mm512_and_si512(lo4, low4),
                             _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, shift), low2), 4));
    };
    for (int64_t b = 0; b < nb; ++b) {
      const auto* blk = reinterpret_cast<const BlockQ6_K*>(w + b * sizeof(BlockQ6_K));
      Packed& p = out[b];
      for (int n = 0; n < 2; ++n) {
        for (int c = 0; c < kChunks; ++c) {
          const __m512i l0 = _mm512_i32gather_epi32(rows, blk->ql + 64 * n + 4 * c, 1);
          const __m512i l1 = _mm512_i32gather_epi32(rows, blk->ql + 64 * n + 32 + 4 * c, 1);
          const __m512i h = _mm512_i32gather_epi32(rows, blk->qh + 32 * n + 4 * c, 1);
          p.q[4 * n][c] = join(l0, h, 0);
          p.q[4 * n + 1][c] = join(l1, h, 2);
          p.q[4 * n + 2][c] = join(_mm512_srli_epi16(l0, 4), h, 4);
          p.q[4 * n + 3][c] = join(_mm512_srli_epi16(l1, 4), h, 6);
        }
      }
      alignas(64) int32_t sc[2 * kSub][kLanes], offset[kSub][kLanes];
      // The scale in the low int16 of the lane and 0 above: vpdpwssd multiplies both halves.
      tile_scales_q6<kLanes>(reinterpret_cast<const uint8_t*>(blk), wrb, 1, sc, offset);
      for (int k = 0; k < 2 * kSub; ++k) p.sc[k] = _mm512_load_si512(sc[k]);
      for (int k = 0; k < kSub; ++k) p.offset[k] = _mm512_load_si512(offset[k]);
      p.d = gather_half(rows, reinterpret_cast<const uint8_t*>(&blk->d));
    }
  }

  static void prepare(const uint8_t* a, int64_t nb, Act* out) { prepare_act_q6(a, nb, out); }

  // As RowsQ45::tile. A chunk's 4 products (at most 4 x 63 x 128) fit in int16, so one vpdpwssd scales each; the
  // -32 of every quant comes off at the end of the super-block, 32 x the scales times the token's sums.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* act, float* y,
                   int64_t ldy) {
    __m512 even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = _mm512_setzero_ps();
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t b = 0; b < nb; ++b) {
      const Packed& p = packed[b];
      __m512i e_sum[N], o_sum[N];
      for (int j = 0; j < N; ++j) e_sum[j] = o_sum[j] = zero;
      for (int s = 0; s < kSub; ++s) {
        __m512i w[kChunks];
        for (int c = 0; c < kChunks; ++c) w[c] = _mm512_load_si512(&p.q[s][c]);
        for (int j = 0; j < N; ++j) {
          const int8_t* x = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * arb)[b].qs + 32 * s;
          for (int c = 0; c < kChunks; c += 2) {
            const __m512i sc = p.sc[2 * s + c / 4];
            e_sum[j] = _mm512_dpwssd_epi32(e_sum[j], _mm512_dpbusd_epi32(zero, w[c], bcast4(x + 4 * c)), sc);
            o_sum[j] = _mm512_dpwssd_epi32(o_sum[j], _mm512_dpbusd_epi32(zero, w[c + 1], bcast4(x + 4 * c + 4)), sc);
          }
        }
      }
      for (int j = 0; j < N; ++j) {
        const Act& t = act[j * nb + b];
        __m512i e_off = zero, o_off = zero;
        for (int k = 0; k < kSub; k += 2) {
          e_off = _mm512_dpwssd_epi32(e_off, p.offset[k], bcast4(&t.sums[k]));
          o_off = _mm512_dpwssd_epi32(o_off, p.offset[k + 1], bcast4(&t.sums[k + 1]));
        }
        const __m512i e = _mm512_sub_epi32(e_sum[j], _mm512_slli_epi32(e_off, 5));
        const __m512i o = _mm512_sub_epi32(o_sum[j], _mm512_slli_epi32(o_off, 5));
        const __m512 d = _mm512_mul_ps(p.d, _mm512_set1_ps(t.d));
        even[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(e), d, even[j]);
        odd[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(o), d, odd[j]);
      }
    }
    for (int j = 0; j < N; ++j) _mm512_storeu_ps(y + j * ldy, _mm512_add_ps(even[j], odd[j]));
  }
};

}  // namespace

// On top of fill_kquants_avx512vnni: its tiles stay the fallback for decode and edge rows.
void fill_kquants_avx512vnni_rows(KernelTable& t) {
  row_tiles::wrap<RowsQ45<false>>(t.q4_k);
  row_tiles::wrap<RowsQ45<true>>(t.q5_k);
  row_tiles::wrap<RowsQ6>(t.q6_k);
}

}  // namespace rkchat::kernels
