// NEON dot-product prefill kernel for Q8_0 / Q4_0 / Q4_1 weights: the 4 int32 lanes of a vector hold 4 weight
// rows (compiled with +dotprod, chosen with the rest of neon-dot).
//
// Main idea, as in x86_avx512vnni_rows.cpp: the tile kernel of arm_neon_gemm.h keeps the 8 chunk lanes of ONE
// (row, token) pair in two vectors, so every pair pays 2 sdot, 2 converts, 2 fma and a scale product per block.
// Here lane i is weight row i of a 4-row tile, and the by-element sdot (vdotq_laneq_s32) multiplies chunk c of
// the 4 rows by chunk c of the token: a block of 4 rows x 1 token costs 8 sdot and 5 float ops, about half the
// vector ops per product (an estimate from instruction counts: there is no board here to time it on).
//
// Each 4-row tile's weights are rearranged once (a 4 x 4 transpose of 32-bit chunks, Q4 nibbles widened to
// signed bytes) into a per-thread buffer and reused by every token (row_tiles.h). Rows past the last full 4 and
// batches under kMinTokens go to the tile kernel.
//
// Float order: the even and odd chunks of each block add up apart, exactly as in the x86 prefill kernels, so
// NEON, AVX-512 VNNI and AMX give identical results on whole tiles.
#include <arm_neon.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/arm_neon_lanes.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/row_tiles.h"

namespace rkchat::kernels {

namespace {

#define RK_INLINE inline __attribute__((always_inline))

constexpr int kChunks = QK8_0 / 4;  // 4-quant chunks per block: one sdot each

RK_INLINE float half_to_float(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

// Weight formats: where a block's quants are, and its 32 quants of one row as two signed halves (elements
// 0..15, 16..31). sdot is signed x signed, so no offset is needed: Q4_0 nibbles become q - 8, Q4_1 stay q.
struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0), kActBytes = sizeof(BlockQ8_0), kActQs = 2;
  static constexpr bool kHasMin = false;
  RK_INLINE static void halves(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(reinterpret_cast<const int8_t*>(b + 2));
    hi = vld1q_s8(reinterpret_cast<const int8_t*>(b + 18));
  }
};

template <class Block, class Act, int Offset>
struct WQ4 {
  static constexpr size_t kBytes = sizeof(Block), kActBytes = sizeof(Act), kActQs = offsetof(Act, qs);
  static constexpr bool kHasMin = Offset == 0;
  RK_INLINE static void halves(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t q = vld1q_u8(b + offsetof(Block, qs));
    const int8x16_t off = vdupq_n_s8(Offset);
    lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), off);
    hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), off);
  }
};
using WQ4_0 = WQ4<BlockQ4_0, BlockQ8_0, 8>;
using WQ4_1 = WQ4<BlockQ4_1, BlockQ8_1, 0>;

struct NoMin {};
struct Mins {
  float32x4_t v;
};

// One block of a repacked 4-row tile: chunk c of rows 0..3 (4 bytes each), the row scales, (Q4_1) the row mins.
template <class W>
struct PackedBlock {
  int8x16_t chunk[kChunks];
  float32x4_t d;
  [[no_unique_address]] std::conditional_t<W::kHasMin, Mins, NoMin> m;
};

// One token's block: scale and (Q8_1) d * sum(q).
struct ActBlock {
  float d, s;
};

// The kernel type of row_tiles.h for weight format W.
template <class W>
struct Rows {
  static constexpr int kLanes = 4, kTokens = 8;
  // Packing a block of 4 rows costs about 24 vector ops, which the tokens repay at about 4 ops each (estimated
  // from instruction counts, not timed): from 8 tokens on the packing is under a fifth of the work.
  static constexpr int kMinTokens = 8;
  static constexpr int kBlock = QK8_0;
  using Packed = PackedBlock<W>;
  using Act = ActBlock;

  // Rows w.. of one tile, block by block: the two halves of each row transposed into chunks.
  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    for (int64_t b = 0; b < nb; ++b) {
      int8x16_t lo[4], hi[4];
      float d[4], m[4];
      for (int i = 0; i < 4; ++i) {
        const uint8_t* blk = w + i * wrb + b * W::kBytes;
        W::halves(blk, lo[i], hi[i]);
        d[i] = half_to_float(blk);
        m[i] = W::kHasMin ? half_to_float(blk + 2) : 0.0f;
      }
      transpose_chunks(lo, out[b].chunk);
      transpose_chunks(hi, out[b].chunk + 4);
      out[b].d = vld1q_f32(d);
      if constexpr (W::kHasMin) out[b].m.v = vld1q_f32(m);
    }
  }

  // Scale and (Q8_1) d * sum(q) of every block of one token's activation row.
  static void prepare(const uint8_t* a, int64_t nb, Act* out) {
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = a + b * W::kActBytes;
      out[b] = {half_to_float(blk), W::kHasMin ? half_to_float(blk + 2) : 0.0f};
    }
  }

  // y[t + j][r .. r + 4) for the N tokens t.. over every block: two float accumulators per token (even, odd
  // chunks), the tile's weights of one block in registers while the tokens pass.
  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* act, float* y,
                   int64_t ldy) {
    float32x4_t even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; ++b) {
      const PackedBlock<W>& pb = packed[b];
      int8x16_t w[kChunks];
      for (int c = 0; c < kChunks; ++c) w[c] = pb.chunk[c];
      for (int j = 0; j < N; ++j) {
        const int8_t* x =
            reinterpret_cast<const int8_t*>(a + static_cast<size_t>(j) * arb + b * W::kActBytes + W::kActQs);
        const int8x16_t xlo = vld1q_s8(x), xhi = vld1q_s8(x + 16);
        const ActBlock& p = act[j * nb + b];
        int32x4_t e = vdotq_laneq_s32(vdupq_n_s32(0), w[0], xlo, 0);
        int32x4_t o = vdotq_laneq_s32(vdupq_n_s32(0), w[1], xlo, 1);
        e = vdotq_laneq_s32(e, w[2], xlo, 2);
        o = vdotq_laneq_s32(o, w[3], xlo, 3);
        e = vdotq_laneq_s32(e, w[4], xhi, 0);
        o = vdotq_laneq_s32(o, w[5], xhi, 1);
        e = vdotq_laneq_s32(e, w[6], xhi, 2);
        o = vdotq_laneq_s32(o, w[7], xhi, 3);
        const float32x4_t d = vmulq_n_f32(pb.d, p.d);
        even[j] = vfmaq_f32(even[j], vcvtq_f32_s32(e), d);
        odd[j] = vfmaq_f32(odd[j], vcvtq_f32_s32(o), d);
        if constexpr (W::kHasMin) even[j] = vfmaq_n_f32(even[j], pb.m.v, p.s);
      }
    }
    for (int j = 0; j < N; ++j) vst1q_f32(y + j * ldy, vaddq_f32(even[j], odd[j]));
  }
};

}  // namespace

// On top of fill_neon_dot, for the stored layout only: its tile kernels stay the fallback for decode and edge rows
// (weights repacked at load run arm_neon_packed.h's kernels at every batch size).
void fill_neon_dot_rows(KernelTable& t) { row_tiles::wrap_q8_q4<Rows<WQ8_0>, Rows<WQ4_0>, Rows<WQ4_1>>(t); }

}  // namespace rkchat::kernels
