// NEON dot-product K-quant kernels (Armv8.2 sdot): Q4_K, Q5_K, Q6_K weights x Q8_K activations.
//
// Main idea: prepare() spreads one weight block into 16 int8x16 vectors (16 weights each): Q4_K/Q5_K values 0..31,
// Q6_K values 0..63 (the -32 comes from the bsums, as on x86), so dot() is plain sdot against the activation
// bytes. Each sdot result is scaled by its sub-block's integer scale with one multiply-accumulate (int32, exact);
// the Q4_K/Q5_K mins come from the activation's bsums. The integers land in the 8 lanes of the shared float order
// (arm_neon_lanes.h, ref_lanes.h: lane k = elements 32c+4k..32c+4k+3 of every chunk c of 32, so weights 0..15 of
// a chunk feed `lo`, 16..31 `hi`), which makes these kernels equal the scalar reference and x86 AVX2 bit for bit.
// KqTiles (kquants.h) reuses a prepared block for several tokens and rows.
#include <arm_neon.h>

#include <type_traits>

#include "kernels/arm_neon_lanes.h"
#include "kernels/kernel_table.h"
#include "kernels/kquants.h"
#include "kernels/row_tiles.h"

namespace rkchat::kernels {

namespace {

inline float half_to_float(fp16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

// Q4_K (kHigh = false) and Q5_K (kHigh = true): sub-block j is q[2j] (weights 0..15) and q[2j+1] (16..31).
template <bool kHigh>
struct Q45 {
  using Block = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
  struct Prep {
    int8x16_t q[16];
    int16x8_t mins;
    int32_t scale[8];
    float d, dmin;
  };
  using Acc = FloatLanes8x4;

  static void prepare(const Block& b, Prep& p) {
    uint8_t sm[16];
    unpack_scales_k4(b.scales, sm);
    for (int j = 0; j < 8; ++j) p.scale[j] = sm[j];
    p.mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(sm + 8)));
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    uint8x16_t q[16];
    for (int g = 0; g < 4; ++g) {  // qs[32g..32g+31]: low nibbles are sub-block 2g, high nibbles 2g+1
      const uint8x16_t b0 = vld1q_u8(b.qs + 32 * g), b1 = vld1q_u8(b.qs + 32 * g + 16);
      q[4 * g + 0] = vandq_u8(b0, low4);
      q[4 * g + 1] = vandq_u8(b1, low4);
      q[4 * g + 2] = vshrq_n_u8(b0, 4);
      q[4 * g + 3] = vshrq_n_u8(b1, 4);
    }
    if constexpr (kHigh) {  // bit j of qh[l] adds 16 to weight l of sub-block j
      const uint8x16_t h0 = vld1q_u8(b.qh), h1 = vld1q_u8(b.qh + 16), sixteen = vdupq_n_u8(16);
      for (int j = 0; j < 8; ++j) {
        const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1 << j));
        q[2 * j] = vaddq_u8(q[2 * j], vandq_u8(vtstq_u8(h0, bit), sixteen));
        q[2 * j + 1] = vaddq_u8(q[2 * j + 1], vandq_u8(vtstq_u8(h1, bit), sixteen));
      }
    }
    for (int i = 0; i < 16; ++i) p.q[i] = vreinterpretq_s8_u8(q[i]);
    p.d = half_to_float(b.d);
    p.dmin = half_to_float(b.dmin);
  }

  static void dot(const Prep& p, const BlockQ8_K& a, Acc& acc) {
    const int32x4_t zero = vdupq_n_s32(0);
    IntLanes8 sumi = {zero, zero};
    for (int j = 0; j < 8; ++j) {
      const int32x4_t lo = vdotq_s32(zero, p.q[2 * j], vld1q_s8(a.qs + 32 * j));
      const int32x4_t hi = vdotq_s32(zero, p.q[2 * j + 1], vld1q_s8(a.qs + 32 * j + 16));
      sumi.lo = vmlaq_n_s32(sumi.lo, lo, p.scale[j]);
      sumi.hi = vmlaq_n_s32(sumi.hi, hi, p.scale[j]);
    }
    // Lane j of the mins: min_j * (bsums[2j] + bsums[2j+1]) (|bsum pair| <= 32 * 128, fits int16).
    const int16x8_t bs = vpaddq_s16(vld1q_s16(a.bsums), vld1q_s16(a.bsums + 8));
    const IntLanes8 msum = {vmull_s16(vget_low_s16(bs), vget_low_s16(p.mins)), vmull_high_s16(bs, p.mins)};
    acc.fma(sumi, p.d * a.d);
    acc.fma(msum, -(p.dmin * a.d));
  }

  static float finish(const Acc& acc) { return acc.sum(); }
};

// Q6_K: q[k] holds weights 16k..16k+15 as stored, u = value + 32 in 0..63, with scale k;
// sum sc * (u - 32) * x = sum sc * u * x - 32 * sum_k sc_k * bsums_k.
struct Q6 {
  using Block = BlockQ6_K;
  struct Prep {
    int8x16_t q[16];
    int32_t scale[16];
    int16x8_t sc16[2];  // the 16 scales as int16, one per bsum
    float d;
  };
  using Acc = FloatLanes8x4;

  // 4 bits of ql (low or high nibble) joined with 2 bits of qh at bit kShift: the stored value 0..63.
  template <bool kHighNibble, int kShift>
  static int8x16_t join(uint8x16_t ql, uint8x16_t qh) {
    const uint8x16_t lo = kHighNibble ? vshrq_n_u8(ql, 4) : vandq_u8(ql, vdupq_n_u8(0x0F));
    uint8x16_t hi2 = qh;
    if constexpr (kShift > 0) hi2 = vshrq_n_u8(qh, kShift);  // an immediate shift must be 1..8
    hi2 = vandq_u8(hi2, vdupq_n_u8(3));
    return vreinterpretq_s8_u8(vorrq_u8(lo, vshlq_n_u8(hi2, 4)));
  }

  static void prepare(const Block& b, Prep& p) {
    // Weight 128n + 32k + l (l < 32): ql[64n + l (+32 for odd k)] low nibble for k < 2, high for k >= 2, and bits
    // 2k..2k+1 of qh[32n + l].
    for (int n = 0; n < 2; ++n) {
      const uint8_t* ql = b.ql + 64 * n;
      const uint8_t* qh = b.qh + 32 * n;
      for (int half = 0; half < 2; ++half) {  // l in [16 * half, 16 * half + 16)
        const uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
        const uint8x16_t h = vld1q_u8(qh + 16 * half);
        int8x16_t* q = p.q + 8 * n + half;
        q[0] = join<false, 0>(l0, h);
        q[2] = join<false, 2>(l1, h);
        q[4] = join<true, 4>(l0, h);
        q[6] = join<true, 6>(l1, h);
      }
    }
    for (int k = 0; k < 16; ++k) p.scale[k] = b.scales[k];
    const int8x16_t sc = vld1q_s8(b.scales);
    p.sc16[0] = vmovl_s8(vget_low_s8(sc));
    p.sc16[1] = vmovl_high_s8(sc);
    p.d = half_to_float(b.d);
  }

  // Lane k: the chunks' elements 32c+4k..32c+4k+3 (even q[] feed lo, odd q[] hi), minus the offset of lane k,
  // 32 * (sc[2k] * bsums[2k] + sc[2k+1] * bsums[2k+1]): the x86 kernels' exact lane integers.
  static void dot(const Prep& p, const BlockQ8_K& a, Acc& acc) {
    const int32x4_t zero = vdupq_n_s32(0);
    IntLanes8 sumi = {zero, zero};
    for (int c = 0; c < 8; ++c) {
      const int32x4_t lo = vdotq_s32(zero, p.q[2 * c], vld1q_s8(a.qs + 32 * c));
      const int32x4_t hi = vdotq_s32(zero, p.q[2 * c + 1], vld1q_s8(a.qs + 32 * c + 16));
      sumi.lo = vmlaq_n_s32(sumi.lo, lo, p.scale[2 * c]);
      sumi.hi = vmlaq_n_s32(sumi.hi, hi, p.scale[2 * c + 1]);
    }
    sumi.lo = vsubq_s32(sumi.lo, vshlq_n_s32(offset_lanes(p.sc16[0], vld1q_s16(a.bsums)), 5));
    sumi.hi = vsubq_s32(sumi.hi, vshlq_n_s32(offset_lanes(p.sc16[1], vld1q_s16(a.bsums + 8)), 5));
    acc.fma(sumi, p.d * a.d);
  }

  // sc[2k] * bsums[2k] + sc[2k+1] * bsums[2k+1] for the 8 (scale, bsum) pairs given: 4 int32 lanes.
  static int32x4_t offset_lanes(int16x8_t sc, int16x8_t bsums) {
    return vpaddq_s32(vmull_s16(vget_low_s16(sc), vget_low_s16(bsums)), vmull_high_s16(sc, bsums));
  }

  static float finish(const Acc& acc) { return acc.sum(); }
};

// Prefill over 4-row tiles (row_tiles.h; the idea of arm_neon_dot_rows.cpp): each weight block is prepared as
// above, then its 16-quant halves are transposed so that lane i of a vector is row i of the tile, and one
// by-element sdot multiplies a chunk of the 4 rows by a chunk of the token. The integer sums of a super-block are
// exact, split into even and odd chunks (the x86 prefill kernels' order: they give identical results).
template <class K>
struct Rows {
  static constexpr bool kQ6 = std::is_same_v<K, Q6>;
  static constexpr int kLanes = 4, kTokens = 4, kBlock = QK_K;
  static constexpr int kMinTokens = 8;  // as arm_neon_dot_rows.cpp (an estimate: no board here to time it)
  struct Packed {
    int8x16_t q[8][8];    // sub-block s, chunk c: 4 quants of each row
    int32x4_t sc[8][2];   // scale of each half (chunks 0-3, 4-7) of sub-block s, per row
    int32x4_t mins[8];    // Q4_K/Q5_K: min of sub-block s, per row
    float32x4_t d, dmin;  // dmin: Q4_K/Q5_K
  };
  struct Act {
    float d;
  };

  // The 4 rows' values of one per-row quantity, as lanes.
  template <class F>
  static int32x4_t lanes(F&& of_row) {
    const int32_t v[4] = {of_row(0), of_row(1), of_row(2), of_row(3)};
    return vld1q_s32(v);
  }

  static void pack(const uint8_t* w, size_t wrb, int64_t nb, Packed* out) {
    for (int64_t b = 0; b < nb; ++b) {
      typename K::Prep p[4];
      for (int i = 0; i < 4; ++i) K::prepare(reinterpret_cast<const typename K::Block*>(w + i * wrb)[b], p[i]);
      Packed& o = out[b];
      for (int s = 0; s < 8; ++s) {
        for (int h = 0; h < 2; ++h) {
          const int8x16_t half[4] = {p[0].q[2 * s + h], p[1].q[2 * s + h], p[2].q[2 * s + h], p[3].q[2 * s + h]};
          transpose_chunks(half, o.q[s] + 4 * h);
          const int k = kQ6 ? 2 * s + h : s;
          o.sc[s][h] = lanes([&](int i) { return p[i].scale[k]; });
        }
      }
      const float d[4] = {p[0].d, p[1].d, p[2].d, p[3].d};
      o.d = vld1q_f32(d);
      if constexpr (!kQ6) {
        int16_t m[4][8];
        for (int i = 0; i < 4; ++i) vst1q_s16(m[i], p[i].mins);
        for (int s = 0; s < 8; ++s) o.mins[s] = lanes([&](int i) { return m[i][s]; });
        const float dmin[4] = {p[0].dmin, p[1].dmin, p[2].dmin, p[3].dmin};
        o.dmin = vld1q_f32(dmin);
      }
    }
  }

  static void prepare(const uint8_t* a, int64_t nb, Act* out) {
    for (int64_t b = 0; b < nb; ++b) out[b].d = reinterpret_cast<const BlockQ8_K*>(a)[b].d;
  }

  // Q4_K/Q5_K: the mins term of the even (odd) sub-blocks; Q6_K: the -32 offset of the even (odd) sub-blocks.
  static int32x4_t correction(const Packed& p, const BlockQ8_K& x, int parity) {
    int32x4_t r = vdupq_n_s32(0);
    for (int s = parity; s < 8; s += 2) {
      if constexpr (kQ6) {
        r = vmlaq_n_s32(vmlaq_n_s32(r, p.sc[s][0], x.bsums[2 * s]), p.sc[s][1], x.bsums[2 * s + 1]);
      } else {
        r = vmlaq_n_s32(r, p.mins[s], x.bsums[2 * s] + x.bsums[2 * s + 1]);
      }
    }
    return r;
  }

  template <int N>
  static void tile(const Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const Act* act, float* y,
                   int64_t ldy) {
    float32x4_t even[N], odd[N];
    for (int j = 0; j < N; ++j) even[j] = odd[j] = vdupq_n_f32(0.0f);
    const int32x4_t zero = vdupq_n_s32(0);
    for (int64_t b = 0; b < nb; ++b) {
      const Packed& p = packed[b];
      int32x4_t e_sum[N], o_sum[N];
      for (int j = 0; j < N; ++j) e_sum[j] = o_sum[j] = zero;
      for (int s = 0; s < 8; ++s) {
        int8x16_t w[8];
        for (int c = 0; c < 8; ++c) w[c] = p.q[s][c];
        for (int j = 0; j < N; ++j) {
          const int8_t* x = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * arb)[b].qs + 32 * s;
          const int8x16_t xlo = vld1q_s8(x), xhi = vld1q_s8(x + 16);
          const int32x4_t e0 = vdotq_laneq_s32(vdotq_laneq_s32(zero, w[0], xlo, 0), w[2], xlo, 2);
          const int32x4_t o0 = vdotq_laneq_s32(vdotq_laneq_s32(zero, w[1], xlo, 1), w[3], xlo, 3);
          const int32x4_t e1 = vdotq_laneq_s32(vdotq_laneq_s32(zero, w[4], xhi, 0), w[6], xhi, 2);
          const int32x4_t o1 = vdotq_laneq_s32(vdotq_laneq_s32(zero, w[5], xhi, 1), w[7], xhi, 3);
          e_sum[j] = vmlaq_s32(vmlaq_s32(e_sum[j], e0, p.sc[s][0]), e1, p.sc[s][1]);
          o_sum[j] = vmlaq_s32(vmlaq_s32(o_sum[j], o0, p.sc[s][0]), o1, p.sc[s][1]);
        }
      }
      for (int j = 0; j < N; ++j) {
        const BlockQ8_K& x = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(j) * arb)[b];
        const float32x4_t d = vmulq_n_f32(p.d, act[j * nb + b].d);
        int32x4_t e = e_sum[j], o = o_sum[j];
        if constexpr (kQ6) {
          e = vsubq_s32(e, vshlq_n_s32(correction(p, x, 0), 5));
          o = vsubq_s32(o, vshlq_n_s32(correction(p, x, 1), 5));
        }
        even[j] = vfmaq_f32(even[j], vcvtq_f32_s32(e), d);
        odd[j] = vfmaq_f32(odd[j], vcvtq_f32_s32(o), d);
        if constexpr (!kQ6) {
          const float32x4_t dmin = vmulq_n_f32(p.dmin, act[j * nb + b].d);
          even[j] = vfmsq_f32(even[j], vcvtq_f32_s32(correction(p, x, 0)), dmin);
          odd[j] = vfmsq_f32(odd[j], vcvtq_f32_s32(correction(p, x, 1)), dmin);
        }
      }
    }
    for (int j = 0; j < N; ++j) vst1q_f32(y + j * ldy, vaddq_f32(even[j], odd[j]));
  }
};

}  // namespace

void fill_kquants_neon_dot(KernelTable& t) {
  t.q4_k = {QType::Q8_K, kq_gemm<Q45<false>, 2, 4>};
  t.q5_k = {QType::Q8_K, kq_gemm<Q45<true>, 2, 4>};
  t.q6_k = {QType::Q8_K, kq_gemm<Q6, 2, 4>};
  // Prefill: the row-lane kernels in front, with the tiles above as their fallback.
  row_tiles::wrap<Rows<Q45<false>>>(t.q4_k);
  row_tiles::wrap<Rows<Q45<true>>>(t.q5_k);
  row_tiles::wrap<Rows<Q6>>(t.q6_k);
}

}  // namespace rkchat::kernels
