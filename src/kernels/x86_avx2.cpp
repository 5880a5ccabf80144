// AVX2 + FMA + F16C kernels (no VNNI).
//
// Main idea: one 32-element block per ymm register. vpmaddubsw multiplies unsigned by signed bytes into int16
// pairs, so signed weights (Q8_0, Q4_0 after -8) use the sign trick: |w| times x with w's sign moved onto x
// (|w| <= 128 and |x| <= 127 keep the pair sums below 2^15); Q4_1 nibbles are unsigned already. vpmaddwd with
// ones widens to 8 int32 lanes per block, which are converted and scaled by d_w * d_x in float.
// Register tiles of 2 weight rows x 2 tokens (16 ymm registers) over gemm_tiles.h; float weights use 4 x 2.
#include <immintrin.h>

#include <cstring>

#include "kernels/fp16.h"
#include "kernels/gemm_tiles.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_rows.h"
#include "kernels/x86_avx2_lanes.h"

namespace rkchat::kernels {

namespace {

using tiles::GemmArgs;

// 16 packed bytes -> 32 nibbles: low nibbles (elements 0..15) in the low lane, high nibbles in the high lane.
RK_INLINE __m256i unpack_nibbles(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i z = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
  return _mm256_and_si256(z, _mm256_set1_epi8(0x0f));
}

struct WeightBlock {
  __m256i q;  // signed weights (sign-trick formats) or unsigned nibbles (Q4_1)
  __m256i u;  // the unsigned operand: |q|, or q itself
  __m256 d;
  __m256 m;  // Q4_1 only: the min in lane 0, zeros elsewhere
};

struct WQ8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kHasMin = false;
  RK_INLINE static WeightBlock load(const uint8_t* b) {
    WeightBlock w;
    w.q = loadu256(b + 2);
    w.u = _mm256_abs_epi8(w.q);
    w.d = _mm256_set1_ps(load_fp16(b));
    w.m = _mm256_setzero_ps();
    return w;
  }
};

struct WQ4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kHasMin = false;
  RK_INLINE static WeightBlock load(const uint8_t* b) {
    WeightBlock w;
    w.q = _mm256_sub_epi8(unpack_nibbles(b + 2), _mm256_set1_epi8(8));
    w.u = _mm256_abs_epi8(w.q);
    w.d = _mm256_set1_ps(load_fp16(b));
    w.m = _mm256_setzero_ps();
    return w;
  }
};

struct WQ4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr bool kHasMin = true;
  RK_INLINE static WeightBlock load(const uint8_t* b) {
    WeightBlock w;
    w.q = unpack_nibbles(b + 4);
    w.u = w.q;
    w.d = _mm256_set1_ps(load_fp16(b));
    w.m = _mm256_setr_ps(load_fp16(b + 2), 0, 0, 0, 0, 0, 0, 0);
    return w;
  }
};

template <class W, int M, int N>
RK_INLINE void quant_step(const GemmArgs& g, int64_t r, int t, int64_t blk, __m256 (&acc)[M][N]) {
  constexpr size_t kActBytes = W::kHasMin ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  const __m256i ones = _mm256_set1_epi16(1);
  WeightBlock w[M];
  for (int i = 0; i < M; ++i) {
    const uint8_t* p = g.w + (r + i) * g.w_row_bytes + blk * W::kBytes;
    tiles::prefetch_next_tile<M>(p, g.w_row_bytes, W::kBytes);
    w[i] = W::load(p);
  }
  for (int j = 0; j < N; ++j) {
    const uint8_t* a = g.a + (t + j) * g.a_row_bytes + blk * kActBytes;
    const __m256i x = loadu256(a + (W::kHasMin ? 4 : 2));
    const __m256 dx = _mm256_set1_ps(load_fp16(a));
    for (int i = 0; i < M; ++i) {
      const __m256i xs = W::kHasMin ? x : _mm256_sign_epi8(x, w[i].q);
      const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(w[i].u, xs), ones);
      acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(w[i].d, dx), acc[i][j]);
      if constexpr (W::kHasMin) acc[i][j] = _mm256_fmadd_ps(w[i].m, _mm256_set1_ps(load_fp16(a + 2)), acc[i][j]);
    }
  }
}

template <int M, int N>
RK_INLINE void zero(__m256 (&acc)[M][N]) {
  for (auto& row : acc) {
    for (auto& v : row) v = _mm256_setzero_ps();
  }
}

template <class W>
struct QuantKernel {
  static constexpr int RM = 2;
  static constexpr int RN = 2;
  template <int M, int N>
  static void tile(const GemmArgs& g, int64_t r, int t) {
    __m256 acc[M][N];
    zero(acc);
    for (int64_t b = 0; b < g.cols / QK8_0; ++b) quant_step<W>(g, r, t, b, acc);
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < M; ++i) g.y[(t + j) * g.ldy + r + i] = hsum(acc[i][j]);
    }
  }
};

// Float weights: 8 columns per step, the last cols % 8 in scalar code.
struct WF32 {
  RK_INLINE static __m256 load(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  RK_INLINE static float load1(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  static constexpr size_t kBytes = 4;
};
struct WF16 {
  RK_INLINE static __m256 load(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  RK_INLINE static float load1(const uint8_t* p) { return load_fp16(p); }
  static constexpr size_t kBytes = 2;
};
struct WBF16 {
  RK_INLINE static __m256 load(const uint8_t* p) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  }
  RK_INLINE static float load1(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return bf16_to_fp32(h);
  }
  static constexpr size_t kBytes = 2;
};

template <class W>
struct FloatKernel {
  static constexpr int RM = 4;
  static constexpr int RN = 2;
  template <int M, int N>
  static void tile(const GemmArgs& g, int64_t r, int t) {
    __m256 acc[M][N];
    zero(acc);
    const uint8_t* wr[M];
    const float* xr[N];
    for (int i = 0; i < M; ++i) wr[i] = g.w + (r + i) * g.w_row_bytes;
    for (int j = 0; j < N; ++j) xr[j] = reinterpret_cast<const float*>(g.a + (t + j) * g.a_row_bytes);
    int64_t c = 0;
    for (; c + 8 <= g.cols; c += 8) {
      __m256 w[M];
      for (int i = 0; i < M; ++i) w[i] = W::load(wr[i] + c * W::kBytes);
      for (int j = 0; j < N; ++j) {
        const __m256 x = _mm256_loadu_ps(xr[j] + c);
        for (int i = 0; i < M; ++i) acc[i][j] = _mm256_fmadd_ps(w[i], x, acc[i][j]);
      }
    }
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < M; ++i) {
        float sum = hsum(acc[i][j]);
        for (int64_t k = c; k < g.cols; ++k) sum += W::load1(wr[i] + k * W::kBytes) * xr[j][k];
        g.y[(t + j) * g.ldy + r + i] = sum;
      }
    }
  }
};

// round(v) with halves away from zero, exactly like roundf: truncate, then step by the fraction's sign.
RK_INLINE __m256 round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(v, t);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 up = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one);
  const __m256 down = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(-0.5f), _CMP_LE_OQ), one);
  return _mm256_sub_ps(_mm256_add_ps(t, up), down);
}

// One Q8 block as the reference quantizer computes it; returns d and the sum of the quants.
RK_INLINE float quantize_block(const float* x, int8_t* q, int* sum) {
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax = _mm256_max_ps(amax, _mm256_and_ps(v[k], abs_mask));
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float d = _mm_cvtss_f32(m) / 127.0f;
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  __m256i qi[4];
  for (int k = 0; k < 4; ++k) qi[k] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[k], id)));
  const __m256i s = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
  *sum = _mm_cvtsi128_si32(s4);
  // The packs interleave 128-bit lanes; the final permute restores element order.
  const __m256i p16 = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
  const __m256i p = _mm256_permutevar8x32_epi32(p16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), p);
  return d;
}

}  // namespace

void fill_avx2(KernelTable& t) {
  t.isa = "avx2";
  t.quantize_row_q8_0 = quantize_rows_q8_0<quantize_block>;
  t.quantize_row_q8_1 = quantize_rows_q8_1<quantize_block>;
  t.f32.gemm = tiles::gemm<FloatKernel<WF32>>;
  t.f16.gemm = tiles::gemm<FloatKernel<WF16>>;
  t.bf16.gemm = tiles::gemm<FloatKernel<WBF16>>;
  t.q8_0.gemm = tiles::gemm<QuantKernel<WQ8_0>>;
  t.q4_0.gemm = tiles::gemm<QuantKernel<WQ4_0>>;
  t.q4_1.gemm = tiles::gemm<QuantKernel<WQ4_1>>;
}

}  // namespace rkchat::kernels
