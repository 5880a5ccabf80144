// Plain Armv8-A NEON kernels (no dot-product instructions: Cortex-A53/A55 class cores).
//
// Main idea: the quantized tiles of arm_neon_gemm.h with an integer dot made of widening multiplies: vmull_s8
// gives the int16 products, two rounds of pairwise adds (widening to int32 first, so no sum can overflow) give
// the int32 lanes of 4 consecutive elements that the shared float order wants (sdot's lanes). The decode kernels
// of arm_neon_gemv.h need only a row's sum: a widening multiply and a widening multiply-add per 16 elements (two
// products of int8 stay below 2^15 in int16), then one pairwise add into the row's running int32 sums; the kernels
// of weights repacked at load (arm_neon_packed.h) pair each 4-byte chunk of 4 rows with that chunk of x repeated in
// every lane, so the same multiplies land each row's sums in its own lanes. Float weights
// (F32, F16, BF16) use 4-wide FMAs over register tiles of 4 rows x 2 tokens.
#include "kernels/arm_neon_gemv.h"
#include "kernels/arm_neon_packed.h"
#include "kernels/fp16.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {

namespace {

struct MullDot {
  // Lane k of 16 bytes: the products of elements 4k..4k+3.
  RK_INLINE static int32x4_t group4(int8x16_t w, int8x16_t x) {
    const int32x4_t p0 = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    const int32x4_t p1 = vpaddlq_s16(vmull_high_s8(w, x));
    return vpaddq_s32(p0, p1);
  }
  RK_INLINE static IntLanes8 dot(const NeonBlock& w, const NeonBlock& x) {
    return {group4(w.lo, x.lo), group4(w.hi, x.hi)};
  }
  // |w x| <= 128 * 127 (activations stop at -127): a sum of two fits int16.
  RK_INLINE static int16x8_t pairs(int8x16_t w, int8x16_t x) {
    return vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x);
  }
  RK_INLINE static int32x4_t acc(int32x4_t r, int8x16_t wlo, int8x16_t whi, int8x16_t xlo, int8x16_t xhi) {
    return vpadalq_s16(vpadalq_s16(r, pairs(wlo, xlo)), pairs(whi, xhi));
  }

  // arm_neon_packed.h: chunk j of x in every 32-bit lane, so a widening multiply of 8 bytes pairs it with chunk j
  // of 2 rows.
  struct X {
    int8x16_t c[8];
    RK_INLINE static X load(const uint8_t* p) {
      X x;
      for (int j = 0; j < 8; ++j) x.c[j] = vld1q_s8(reinterpret_cast<const int8_t*>(p + 16 * j));
      return x;
    }
    RK_INLINE void store(uint8_t* p) const {
      for (int j = 0; j < 8; ++j) vst1q_s8(reinterpret_cast<int8_t*>(p + 16 * j), c[j]);
    }
  };
  static constexpr int kTokens = 4;
  static constexpr bool kFusedHalves = false;
  template <int J>
  RK_INLINE static int8x16_t repeat(int8x16_t v) {
    return vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(v), J));
  }
  RK_INLINE static X prepare(int8x16_t lo, int8x16_t hi) {
    return {{repeat<0>(lo), repeat<1>(lo), repeat<2>(lo), repeat<3>(lo), repeat<0>(hi), repeat<1>(hi), repeat<2>(hi),
             repeat<3>(hi)}};
  }
  // Chunks j and k of rows 0, 1 (lo) and 2, 3 (hi) added up in int16 (two products each, as in pairs).
  RK_INLINE static void chunk_pair(const int8x16_t (&w)[8], const X& x, int j, int k, int16x8_t& lo, int16x8_t& hi) {
    lo = vmlal_s8(vmull_s8(vget_low_s8(w[j]), vget_low_s8(x.c[j])), vget_low_s8(w[k]), vget_low_s8(x.c[k]));
    hi = vmlal_high_s8(vmull_high_s8(w[j], x.c[j]), w[k], x.c[k]);
  }
  // Chunk pairs (j, k) then (j + 4, k + 4), pairwise into int32: lanes 0..3 of the int32 sums hold rows 0, 0, 1, 1
  // and 2, 2, 3, 3; one last pairwise add gives rows 0..3.
  RK_INLINE static int32x4_t sum4(const int8x16_t (&w)[8], const X& x, int j, int k) {
    int16x8_t lo, hi;
    chunk_pair(w, x, j, k, lo, hi);
    int32x4_t r01 = vpaddlq_s16(lo), r23 = vpaddlq_s16(hi);
    chunk_pair(w, x, j + 4, k + 4, lo, hi);
    return vpaddq_s32(vpadalq_s16(r01, lo), vpadalq_s16(r23, hi));
  }
  RK_INLINE static int32x4_t rows4(const int8x16_t (&w)[8], const X& x) {
    int16x8_t lo, hi;
    chunk_pair(w, x, 0, 1, lo, hi);
    int32x4_t r01 = vpaddlq_s16(lo), r23 = vpaddlq_s16(hi);
    for (int j = 2; j < 8; j += 2) {
      chunk_pair(w, x, j, j + 1, lo, hi);
      r01 = vpadalq_s16(r01, lo);
      r23 = vpadalq_s16(r23, hi);
    }
    return vpaddq_s32(r01, r23);
  }
  RK_INLINE static void halves(const int8x16_t (&w)[8], const X& x, int32x4_t& even, int32x4_t& odd) {
    even = sum4(w, x, 0, 2);
    odd = sum4(w, x, 1, 3);
  }
};

// Float weights: 4 columns per step, the last cols % 4 in scalar code.
struct WF32 {
  static constexpr size_t kBytes = 4;
  RK_INLINE static float32x4_t load(const uint8_t* p) { return vld1q_f32(reinterpret_cast<const float*>(p)); }
  RK_INLINE static float load1(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
};
struct WF16 {
  static constexpr size_t kBytes = 2;
  RK_INLINE static float32x4_t load(const uint8_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
  }
  RK_INLINE static float load1(const uint8_t* p) { return half_at(p); }
};
struct WBF16 {
  static constexpr size_t kBytes = 2;
  RK_INLINE static float32x4_t load(const uint8_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
  }
  RK_INLINE static float load1(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return bf16_to_fp32(h);
  }
};

template <class W>
struct FloatKernel {
  static constexpr int RM = 4;
  static constexpr int RN = 2;
  template <int M, int N>
  static void tile(const tiles::GemmArgs& g, int64_t r, int t) {
    float32x4_t acc[M][N];
    for (auto& row : acc) {
      for (auto& v : row) v = vdupq_n_f32(0.0f);
    }
    const uint8_t* wr[M];
    const float* xr[N];
    for (int i = 0; i < M; ++i) wr[i] = g.w + (r + i) * g.w_row_bytes;
    for (int j = 0; j < N; ++j) xr[j] = reinterpret_cast<const float*>(g.a + (t + j) * g.a_row_bytes);
    int64_t c = 0;
    for (; c + 4 <= g.cols; c += 4) {
      float32x4_t w[M];
      for (int i = 0; i < M; ++i) w[i] = W::load(wr[i] + c * W::kBytes);
      for (int j = 0; j < N; ++j) {
        const float32x4_t x = vld1q_f32(xr[j] + c);
        for (int i = 0; i < M; ++i) acc[i][j] = vfmaq_f32(acc[i][j], w[i], x);
      }
    }
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < M; ++i) {
        float sum = vaddvq_f32(acc[i][j]);
        for (int64_t k = c; k < g.cols; ++k) sum += W::load1(wr[i] + k * W::kBytes) * xr[j][k];
        g.y[(t + j) * g.ldy + r + i] = sum;
      }
    }
  }
};

}  // namespace

void fill_neon_base(KernelTable& t) {
  t.isa = "neon";
  t.f32.gemm = tiles::gemm<FloatKernel<WF32>>;
  t.f16.gemm = tiles::gemm<FloatKernel<WF16>>;
  t.bf16.gemm = tiles::gemm<FloatKernel<WBF16>>;
  fill_neon_quant<MullDot>(t);
  fill_neon_packed<MullDot>(t);
}

}  // namespace rkchat::kernels
