// AVX-512 VNNI kernels (compiled with -mavx512f/bw/vl/vnni, run only when the CPU has them).
//
// Main idea: a "group" is 4 consecutive 32-element blocks held in two zmm registers: 128-bit lane k of `lo` has
// elements 0..15 of block k and lane k of `hi` elements 16..31 (for Q8 one 256-bit load per block and two lane
// shuffles; for Q4 the low and high nibbles of one 16-byte load). vpdpbusd multiplies unsigned bytes by signed
// bytes, so the weight is the unsigned operand: Q4 nibbles are 0..15 as stored, Q8_0 weights get +128 (xor
// 0x80). The offset this adds, K * sum(x) per block (K = 8 for Q4_0, 128 for Q8_0, none for Q4_1, whose min is
// separate), becomes the start value of every product. 4 lanes of a group belong to one block; the per-block
// scale d_w * d_x multiplies all 4 lanes.
//
// The activation groups (shuffled bytes, offset sums, expanded scales) are prepared once per token into a
// per-thread buffer, so a (weight row, token) pair costs two vpdpbusd, one convert and two float ops per 4
// blocks. Register tiles of 4 weight rows x 4 tokens (gemm_tiles.h) keep the weight groups in registers while
// the tokens stream past: prefill reuses each weight load for 4 tokens, decode reads each weight byte once for
// all tokens of the batch.
#include <immintrin.h>

#include <cstring>

#include "kernels/fp16.h"
#include "kernels/gemm_tiles.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_rows.h"

namespace rkchat::kernels {

namespace {

using tiles::GemmArgs;

#define RK_INLINE inline __attribute__((always_inline))

constexpr int kGroup = 4;  // blocks per group

// Scales of up to 4 blocks (fp16 at p, p + stride, ...) as 16 floats, each repeated over its block's 4 lanes.
// Lanes of blocks >= n are 0, which cancels whatever the (duplicated) data loads of those blocks produced.
RK_INLINE __m512 load_scales(const uint8_t* p, size_t stride, int n) {
  uint64_t h = 0;
  for (int k = 0; k < n; ++k) {
    uint16_t v;
    std::memcpy(&v, p + static_cast<size_t>(k) * stride, 2);
    h |= static_cast<uint64_t>(v) << (16 * k);
  }
  const __m128 v = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(h)));
  const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

// Block k of a group, or block 0 again past the end (its scale is 0 then).
RK_INLINE const uint8_t* block_ptr(const uint8_t* p, size_t stride, int k, int n) {
  return p + (k < n ? static_cast<size_t>(k) * stride : 0);
}

// lo/hi of a group of Q8 blocks whose 32 quants start at p (block k at p + k * stride).
RK_INLINE void load_q8_group(const uint8_t* p, size_t stride, int n, __m512i& lo, __m512i& hi) {
  auto ld = [&](int k) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block_ptr(p, stride, k, n))); };
  const __m512i z01 = _mm512_inserti64x4(_mm512_castsi256_si512(ld(0)), ld(1), 1);
  const __m512i z23 = _mm512_inserti64x4(_mm512_castsi256_si512(ld(2)), ld(3), 1);
  lo = _mm512_shuffle_i64x2(z01, z23, _MM_SHUFFLE(2, 0, 2, 0));
  hi = _mm512_shuffle_i64x2(z01, z23, _MM_SHUFFLE(3, 1, 3, 1));
}

// lo/hi of a group of Q4 blocks whose 16 packed bytes start at p: low nibbles are elements 0..15.
RK_INLINE void load_q4_group(const uint8_t* p, size_t stride, int n, __m512i& lo, __m512i& hi) {
  auto ld = [&](int k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(block_ptr(p, stride, k, n))); };
  __m512i z = _mm512_castsi128_si512(ld(0));
  z = _mm512_inserti32x4(z, ld(1), 1);
  z = _mm512_inserti32x4(z, ld(2), 2);
  z = _mm512_inserti32x4(z, ld(3), 3);
  const __m512i mask = _mm512_set1_epi8(0x0f);
  lo = _mm512_and_si512(z, mask);
  hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), mask);
}

struct WeightGroup {
  __m512i lo, hi;  // unsigned bytes
  __m512 d;        // block scales
  __m512 m;        // Q4_1 only: block mins, in the first lane of each block (others 0)
};

struct ActGroup {
  __m512i lo, hi;  // signed bytes
  __m512i base;    // -K * sum(x) per lane: the start value that cancels the weight offset
  __m512 d;        // block scales
  __m512 s;        // Q8_1 only: d * sum(q), repeated over the block's lanes
};

// Weight formats: block size, where d and the quants are, how to load a group as unsigned bytes.
struct WQ8_0 {
  static constexpr int kRows = 3, kTokens = 8;  // register tile (see QuantKernel)
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr int kOffset = 128;  // the xor below adds 128 to every weight
  static constexpr bool kHasMin = false;
  RK_INLINE static WeightGroup load(const uint8_t* b, int n) {
    WeightGroup g;
    load_q8_group(b + 2, kBytes, n, g.lo, g.hi);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    g.lo = _mm512_xor_si512(g.lo, flip);
    g.hi = _mm512_xor_si512(g.hi, flip);
    g.d = load_scales(b, kBytes, n);
    return g;
  }
};

struct WQ4_0 {
  static constexpr int kRows = 3, kTokens = 8;
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr int kOffset = 8;  // nibbles are stored as q + 8
  static constexpr bool kHasMin = false;
  RK_INLINE static WeightGroup load(const uint8_t* b, int n) {
    WeightGroup g;
    load_q4_group(b + 2, kBytes, n, g.lo, g.hi);
    g.d = load_scales(b, kBytes, n);
    return g;
  }
};

struct WQ4_1 {
  static constexpr int kRows = 3, kTokens = 6;  // one more register per row: the mins
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr int kOffset = 0;
  static constexpr bool kHasMin = true;
  RK_INLINE static WeightGroup load(const uint8_t* b, int n) {
    WeightGroup g;
    load_q4_group(b + 4, kBytes, n, g.lo, g.hi);
    g.d = load_scales(b, kBytes, n);
    g.m = _mm512_maskz_mov_ps(0x1111, load_scales(b + 2, kBytes, n));
    return g;
  }
};

// Activation group of Q8_0 (34-byte blocks) or Q8_1 (36-byte blocks, with s) for weight format W.
template <class W>
RK_INLINE ActGroup load_act(const uint8_t* b, int n) {
  constexpr size_t kBytes = W::kHasMin ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  ActGroup g;
  load_q8_group(b + (W::kHasMin ? 4 : 2), kBytes, n, g.lo, g.hi);
  g.d = load_scales(b, kBytes, n);
  if constexpr (W::kHasMin) g.s = load_scales(b + 2, kBytes, n);
  if constexpr (W::kOffset != 0) {
    const __m512i k = _mm512_set1_epi8(static_cast<char>(W::kOffset));
    const __m512i ksum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), k, g.lo), k, g.hi);
    g.base = _mm512_sub_epi32(_mm512_setzero_si512(), ksum);
  } else {
    g.base = _mm512_setzero_si512();
  }
  return g;
}

template <class W>
RK_INLINE __m512 madd(const WeightGroup& w, const ActGroup& x, __m512 acc) {
  const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x.base, w.lo, x.lo), w.hi, x.hi);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(w.d, x.d), acc);
  if constexpr (W::kHasMin) acc = _mm512_fmadd_ps(w.m, x.s, acc);
  return acc;
}

// Activation groups in the form the products read them (lo, hi, base, d, and s for Q8_1), prepared once per
// token for all weight rows: the shuffles, offset sums and scale expansion then cost nothing per weight row.
template <class W>
struct Prepared {
  static constexpr size_t kGroupBytes = (W::kHasMin ? 5 : 4) * sizeof(__m512i);
  static constexpr size_t kActBytes = W::kHasMin ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);

  static void row(const uint8_t* a, int64_t nb, uint8_t* dst) {
    for (int64_t b = 0; b < nb; b += kGroup, dst += kGroupBytes) {
      const int n = nb - b < kGroup ? static_cast<int>(nb - b) : kGroup;
      const ActGroup x = load_act<W>(a + b * kActBytes, n);
      auto* v = reinterpret_cast<__m512i*>(dst);
      _mm512_store_si512(v, x.lo);
      _mm512_store_si512(v + 1, x.hi);
      _mm512_store_si512(v + 2, x.base);
      _mm512_store_ps(v + 3, x.d);
      if constexpr (W::kHasMin) _mm512_store_ps(v + 4, x.s);
    }
  }

  RK_INLINE static ActGroup load(const uint8_t* p) {
    const auto* v = reinterpret_cast<const __m512i*>(p);
    ActGroup x;
    x.lo = _mm512_load_si512(v);
    x.hi = _mm512_load_si512(v + 1);
    x.base = _mm512_load_si512(v + 2);
    x.d = _mm512_load_ps(v + 3);
    x.s = W::kHasMin ? _mm512_load_ps(v + 4) : _mm512_setzero_ps();
    return x;
  }
};

template <class W, int M, int N>
RK_INLINE void quant_step(const GemmArgs& g, int64_t r, int t, int64_t blk, int n, __m512 (&acc)[M][N]) {
  WeightGroup w[M];
  for (int i = 0; i < M; ++i) {
    const uint8_t* p = g.w + (r + i) * g.w_row_bytes + blk * W::kBytes;
    tiles::prefetch_next_tile<M>(p, g.w_row_bytes, kGroup * W::kBytes);
    w[i] = W::load(p, n);
  }
  const uint8_t* a = g.a + (blk / kGroup) * Prepared<W>::kGroupBytes;
  for (int j = 0; j < N; ++j) {
    const ActGroup x = Prepared<W>::load(a + (t + j) * g.a_row_bytes);
    for (int i = 0; i < M; ++i) acc[i][j] = madd<W>(w[i], x, acc[i][j]);
  }
}

template <int M, int N>
RK_INLINE void store_tile(const GemmArgs& g, int64_t r, int t, __m512 (&acc)[M][N]) {
  for (int j = 0; j < N; ++j) {
    for (int i = 0; i < M; ++i) g.y[(t + j) * g.ldy + r + i] = _mm512_reduce_add_ps(acc[i][j]);
  }
}

// The quantized tile over prepared activations: 3 rows x 8 tokens, 24 accumulators and 9 weight registers (one
// more than the 32 zmm registers, still the fastest: Qwen3 prefill 0.6B +10%, 4B +13% over 4 x 4; 2 x 8, 2 x 10,
// 3 x 6 and 3 x 7 were slower); activation groups are memory operands. Q4_1 has mins too: 3 x 6 (2 x 8 lost 7%
// of SmolLM2 decode).
template <class W>
struct QuantKernel {
  static constexpr int RM = W::kRows;
  static constexpr int RN = W::kTokens;
  template <int M, int N>
  static void tile(const GemmArgs& g, int64_t r, int t) {
    __m512 acc[M][N];
    for (auto& row : acc) {
      for (auto& v : row) v = _mm512_setzero_ps();
    }
    const int64_t nb = g.cols / QK8_0;
    int64_t b = 0;
    for (; b + kGroup <= nb; b += kGroup) quant_step<W>(g, r, t, b, kGroup, acc);
    if (b < nb) quant_step<W>(g, r, t, b, static_cast<int>(nb - b), acc);
    store_tile(g, r, t, acc);
  }
};

// Prepared activations per chunk of tokens: about 64 KiB (L1/L2-resident while every weight row streams past),
// but never fewer than 8 tokens, so a decode batch reads the weights once.
template <class W>
void quant_gemm(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy,
                int64_t r0, int64_t r1, int n_tok, int64_t cols) {
  thread_local Workspace scratch;
  const int64_t nb = cols / QK8_0;
  const size_t per_token = static_cast<size_t>((nb + kGroup - 1) / kGroup) * Prepared<W>::kGroupBytes;
  size_t chunk = (size_t{64} << 10) / per_token;
  chunk = chunk < 8 ? 8 : chunk;
  chunk = chunk > static_cast<size_t>(n_tok) ? static_cast<size_t>(n_tok) : chunk;
  auto* buf = static_cast<uint8_t*>(scratch.get(chunk * per_token));
  for (int t0 = 0; t0 < n_tok; t0 += static_cast<int>(chunk)) {
    const int n = n_tok - t0 < static_cast<int>(chunk) ? n_tok - t0 : static_cast<int>(chunk);
    for (int t = 0; t < n; ++t) Prepared<W>::row(a + (t0 + t) * a_row_bytes, nb, buf + t * per_token);
    tiles::gemm<QuantKernel<W>>(w, w_row_bytes, buf, per_token, y + t0 * ldy, ldy, r0, r1, n, cols);
  }
}

// Float weights: 16 columns per step, the tail with masked loads.
struct WF32 {
  RK_INLINE static __m512 load(const uint8_t* row, int64_t c, __mmask16 k) {
    return _mm512_maskz_loadu_ps(k, row + c * 4);
  }
};
struct WF16 {
  RK_INLINE static __m512 load(const uint8_t* row, int64_t c, __mmask16 k) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, row + c * 2));
  }
};
struct WBF16 {
  RK_INLINE static __m512 load(const uint8_t* row, int64_t c, __mmask16 k) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, row + c * 2));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  }
};

template <class W, int M, int N>
RK_INLINE void float_step(const GemmArgs& g, int64_t r, int t, int64_t c, __mmask16 k, __m512 (&acc)[M][N]) {
  __m512 w[M];
  for (int i = 0; i < M; ++i) w[i] = W::load(g.w + (r + i) * g.w_row_bytes, c, k);
  for (int j = 0; j < N; ++j) {
    const __m512 x = _mm512_maskz_loadu_ps(k, g.a + (t + j) * g.a_row_bytes + c * 4);
    for (int i = 0; i < M; ++i) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);
  }
}

template <class W>
struct FloatKernel {
  static constexpr int RM = 4;
  static constexpr int RN = 4;
  template <int M, int N>
  static void tile(const GemmArgs& g, int64_t r, int t) {
    __m512 acc[M][N];
    for (auto& row : acc) {
      for (auto& v : row) v = _mm512_setzero_ps();
    }
    int64_t c = 0;
    for (; c + 16 <= g.cols; c += 16) float_step<W>(g, r, t, c, static_cast<__mmask16>(0xffff), acc);
    if (c < g.cols) float_step<W>(g, r, t, c, static_cast<__mmask16>((1u << (g.cols - c)) - 1u), acc);
    store_tile(g, r, t, acc);
  }
};

// round(v) with halves away from zero, exactly like roundf: truncate, then step by the fraction's sign.
RK_INLINE __m512 round_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(v, t);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 up = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(f, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t, one);
  return _mm512_mask_sub_ps(up, _mm512_cmp_ps_mask(f, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), up, one);
}

// One Q8 block as the reference quantizer computes it; returns d and the sum of the quants.
RK_INLINE float quantize_block(const float* x, int8_t* q, int* sum) {
  const __m512 v0 = _mm512_loadu_ps(x);
  const __m512 v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float d = amax / 127.0f;
  const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m512i q0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, id)));
  const __m512i q1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, id)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
  *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  return d;
}

}  // namespace

void fill_avx512vnni(KernelTable& t) {
  t.isa = "avx512vnni";
  t.quantize_row_q8_0 = quantize_rows_q8_0<quantize_block>;
  t.quantize_row_q8_1 = quantize_rows_q8_1<quantize_block>;
  t.f32.gemm = tiles::gemm<FloatKernel<WF32>>;
  t.f16.gemm = tiles::gemm<FloatKernel<WF16>>;
  t.bf16.gemm = tiles::gemm<FloatKernel<WBF16>>;
  t.q8_0.gemm = quant_gemm<WQ8_0>;
  t.q4_0.gemm = quant_gemm<WQ4_0>;
  t.q4_1.gemm = quant_gemm<WQ4_1>;
}

}  // namespace rkchat::kernels
