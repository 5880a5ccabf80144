// Internal to arm_neon_base.cpp and arm_neon_dot.cpp, after arm_neon_gemm.h: the gemm of Q8_0 / Q4_0 / Q4_1
// weights repacked at load into Layout::rows4 (repack.h), written once over a primitive that each file supplies.
//
// Main idea: lane i of a vector is row i of a 4-row group. Dot::rows4 takes the 8 quant vectors of a group's block
// (vector j: chunk j of the 4 rows, chunk = 4 elements) and one token's block, and returns the 4 rows' exact
// int32 sums in one vector (sdot by element: 8 instructions; plain NEON: widening multiplies of each chunk by that
// chunk of x repeated in every lane, 24 instructions). One convert and one fma then serve 4 rows, with the 4 scales
// loaded and converted together. Decode (1 token) runs 2 groups (8 rows) per tile, so a token's block is loaded
// once per 8 rows; batches run 1 group x up to Dot::kTokens tokens (8 with the dot product), so a group's block is
// loaded (and Q4 nibbles widened) once for them, and the tokens' activations, laid out once per call, come one
// paired load per token and block. The weights are never copied at run time: the layout is what the kernel reads.
// (Before, batches of 8 tokens or more copied each group per call into the rows kernel of arm_neon_dot_rows.cpp,
// whose tile of 8 tokens GCC 12 spilled: 22.6 instructions per (4 rows, token, block) on Q4_0, 19.75 now.)
//
// Float order: per (row, token), float(exact block sum) * (d_w * d_x) added by fma block after block (Q4_1: then
// m * s), for up to 4 tokens (as arm_neon_gemv.h); larger batches sum the even and odd chunks apart (as
// arm_neon_dot_rows.cpp and the x86 prefill kernels). Not the 8 lanes of ref_lanes.h: the tests hold it to a
// rounding tolerance.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/arm_neon_gemm.h"
#include "kernels/repack.h"

namespace rkchat::kernels {
namespace {

// Loads that move p past what they read. GCC 12 issues the 16-byte loads of a group block one by one (ldur, with
// an offset that is not a multiple of 16 once it has moved the pointer), which is as many instructions as the
// sdot they feed: in pairs with post-increment, a Q8_0 block of 4 rows takes 5 loads instead of 9 and no add.
// (volatile: it keeps them in order, so GCC does not hoist the loads of all groups and spill them.)
RK_INLINE void load_pair(const uint8_t*& p, int8x16_t& a, int8x16_t& b) {
  asm volatile("ldp %q0, %q1, [%2], #32" : "=w"(a), "=w"(b), "+r"(p) : "m"(*reinterpret_cast<const uint8_t(*)[32]>(p)));
}
RK_INLINE float32x4_t load_halves(const uint8_t*& p) {  // 4 fp16 as floats
  float16x4_t h;
  asm volatile("ldr %d0, [%1], #8" : "=w"(h), "+r"(p) : "m"(*reinterpret_cast<const uint8_t(*)[8]>(p)));
  return vcvt_f32_f16(h);
}

// Packed formats: the group block, the activation block, and the 8 quant vectors of a group block (vector j pairs
// with chunk j of the activations: j < 4 in elements 0..15, j >= 4 in 16..31), read at p, which moves past them.
struct PQ8_0 {
  using Block = BlockQ8_0x4;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = 2;
  static constexpr float kUnit = 1.0f;  // what the integer sums count in
  RK_INLINE static void quants(const uint8_t*& p, int8x16_t (&w)[8]) {
    for (int j = 0; j < 8; j += 2) {
      int8x16_t a, b;  // (asm outputs straight into w keep w in memory)
      load_pair(p, a, b);
      w[j] = a;
      w[j + 1] = b;
    }
  }
};

struct PQ4_0 {
  using Block = BlockQ4_0x4;
  static constexpr size_t kActBytes = sizeof(BlockQ8_0), kActQs = 2;
  static constexpr float kUnit = 1.0f / 16;  // 16 (q - 8) from the XOR-ed nibbles
  RK_INLINE static void quants(const uint8_t*& p, int8x16_t (&w)[8]) {
    int8x16_t v[4];
    load_pair(p, v[0], v[1]);
    load_pair(p, v[2], v[3]);
    for (int k = 0; k < 4; ++k) {
      w[k] = vshlq_n_s8(v[k], 4);
      w[k + 4] = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(v[k]), vdupq_n_u8(0xf0)));
    }
  }
};

struct PQ4_1 {
  using Block = BlockQ4_1x4;
  static constexpr size_t kActBytes = sizeof(BlockQ8_1), kActQs = 4;
  static constexpr float kUnit = 1.0f;
  RK_INLINE static void quants(const uint8_t*& p, int8x16_t (&w)[8]) {
    int8x16_t v[4];
    load_pair(p, v[0], v[1]);
    load_pair(p, v[2], v[3]);
    for (int k = 0; k < 4; ++k) {
      const uint8x16_t u = vreinterpretq_u8_s8(v[k]);
      w[k] = vreinterpretq_s8_u8(vandq_u8(u, vdupq_n_u8(0x0f)));
      w[k + 4] = vreinterpretq_s8_u8(vshrq_n_u8(u, 4));
    }
  }
};

template <class P>
constexpr bool kHasMin = std::is_same_v<P, PQ4_1>;

// Dot: struct X (one token's block as the primitive wants it, with static X load(p) and store(p) of its bytes);
// static X prepare(int8x16_t lo, int8x16_t hi); static int32x4_t rows4(const int8x16_t (&w)[8], const X& x): lane
// i = row i's sum over the block; static constexpr int kTokens, the most tokens a batch tile holds; and either
// kFusedHalves = false and static void halves(w, x, int32x4_t& even, int32x4_t& odd), rows4's sums over the even
// and the odd chunks apart, or kFusedHalves = true and add_halves<Offset, Lane>(w, gd, d, act, even, odd), the
// whole batch step of add_token below.
template <class Dot, class P>
struct PackedGemm {
  using Block = typename P::Block;

  // The first n (of 4) rows of v to y. (By lanes: a copy through an array puts the callers' accumulators in memory.)
  RK_INLINE static void store_rows(float32x4_t v, float* y, int n) {
    if (n >= 4) return vst1q_f32(y, v);
    if (n >= 2) vst1_f32(y, vget_low_f32(v));
    if (n == 3) vst1q_lane_f32(y + 2, v, 2);
    if (n == 1) vst1q_lane_f32(y, v, 0);
  }

  // One token's block of activations, as Dot wants it.
  RK_INLINE static typename Dot::X token(const uint8_t* a) {
    const auto* q = reinterpret_cast<const int8_t*>(a + P::kActQs);
    return Dot::prepare(vld1q_s8(q), vld1q_s8(q + 16));
  }

  // One group's block, read at p (which moves on to the next).
  struct GroupBlock {
    int8x16_t w[8];
    float32x4_t d, mins;
    RK_INLINE explicit GroupBlock(const uint8_t*& p) {
      P::quants(p, w);
      d = load_halves(p);
      if constexpr (kHasMin<P>) mins = load_halves(p);
    }
  };
  struct Token {
    typename Dot::X x;
    float d, s;  // s: Q8_1's d * sum(q)
    RK_INLINE explicit Token(const uint8_t* a)
        : x(token(a)), d(half_at(a) * P::kUnit), s(kHasMin<P> ? half_at(a + 2) : 0.0f) {}
  };
  RK_INLINE static void add_one(const GroupBlock& g, const Token& t, float32x4_t& acc) {
    acc = vfmaq_f32(acc, vcvtq_f32_s32(Dot::rows4(g.w, t.x)), vmulq_n_f32(g.d, t.d));
    if constexpr (kHasMin<P>) acc = vfmaq_n_f32(acc, g.mins, t.s);
  }

  // Rows [r, r + 4G) x one token; stores the first m rows. blk: the first group's block 0. A block's sum at once
  // (the float order of decode, arm_neon_gemv.h, so results equal those of the stored layout's kernels).
  template <int G>
  static void tile_one(const Block* blk, int64_t nb, const uint8_t* a, size_t /*arb*/, float* y, int64_t /*ldy*/,
                       int m) {
    float32x4_t acc[G][1];
    const uint8_t* p[G];  // p[k] walks group k's blocks
    for (int k = 0; k < G; ++k) {
      acc[k][0] = vdupq_n_f32(0.0f);
      p[k] = reinterpret_cast<const uint8_t*>(blk + k * nb);
    }
    for (int64_t b = 0; b < nb; ++b, a += P::kActBytes) {
      const Token x(a);
      for (int k = 0; k < G; ++k) add_one(GroupBlock(p[k]), x, acc[k][0]);
    }
    for (int k = 0; k < G; ++k) store_rows(acc[k][0], y + 4 * k, m - 4 * k);
  }

  // Batches: the activations of each kTokens tokens are laid out once per call, block by block, as the tiles read
  // them with one pointer: each token's X (Dot::prepare of its quants), then the tokens' scales (d * kUnit), then
  // (Q4_1) their s. A tile then loads a group's block once for all its tokens, and a token's block with one paired
  // load, its scale as a lane of a vector loaded for 4 tokens.
  static constexpr int kTokens = Dot::kTokens;
  static constexpr int kSlots = (kTokens + 3) / 4 * 4;  // scales per block, in whole vectors
  static constexpr size_t kXBytes = sizeof(typename Dot::X);
  static constexpr size_t kActBlockBytes = kTokens * kXBytes + (kHasMin<P> ? 2 : 1) * kSlots * sizeof(float);

  // Tokens [0, n) of a (n <= kTokens, rows arb bytes apart) into out, the tile's nb blocks; unused scales 0.
  static void lay_out_tokens(const uint8_t* a, size_t arb, int n, int64_t nb, uint8_t* out) {
    for (int64_t b = 0; b < nb; ++b, out += kActBlockBytes) {
      float scales[2 * kSlots] = {};
      for (int j = 0; j < n; ++j) {
        const uint8_t* blk = a + j * arb + b * P::kActBytes;
        token(blk).store(out + j * kXBytes);
        scales[j] = half_at(blk) * P::kUnit;
        if constexpr (kHasMin<P>) scales[kSlots + j] = half_at(blk + 2);
      }
      std::memcpy(out + kTokens * kXBytes, scales, (kHasMin<P> ? 2 : 1) * kSlots * sizeof(float));
    }
  }

  // Token J of a tile against the group's block: its scale is lane J % 4 of d, its s lane J % 4 of s. Halves: the
  // even and odd chunks add up apart (into even and odd), else all into even.
  template <int J, bool Halves>
  RK_INLINE static void add_token(const GroupBlock& g, float32x4_t d, float32x4_t s, const uint8_t* act,
                                  float32x4_t& even, float32x4_t& odd) {
    if constexpr (Halves && Dot::kFusedHalves) {
      Dot::template add_halves<J * kXBytes, J % 4>(g.w, g.d, d, act, even, odd);
    } else if constexpr (Halves) {
      const auto x = Dot::X::load(act + J * kXBytes);
      const float32x4_t dd = vmulq_laneq_f32(g.d, d, J % 4);
      int32x4_t e, o;
      Dot::halves(g.w, x, e, o);
      even = vfmaq_f32(even, vcvtq_f32_s32(e), dd);
      odd = vfmaq_f32(odd, vcvtq_f32_s32(o), dd);
    } else {
      const auto x = Dot::X::load(act + J * kXBytes);
      even = vfmaq_f32(even, vcvtq_f32_s32(Dot::rows4(g.w, x)), vmulq_laneq_f32(g.d, d, J % 4));
    }
    if constexpr (kHasMin<P>) even = vfmaq_laneq_f32(even, g.mins, s, J % 4);
  }

  // Rows [r, r + 4) x the first N tokens of a laid-out tile (act); stores the first m rows. (Written over an index
  // pack, not loops or lambdas: GCC 12 keeps an array of accumulators that a lambda captures in memory.)
  template <int N, bool Halves, int... J>
  RK_INLINE static void tile_impl(std::integer_sequence<int, J...>, const Block* blk, int64_t nb, const uint8_t* act,
                                  float* y, int64_t ldy, int m) {
    constexpr int kVecs = (N + 3) / 4;  // scale vectors the tile's tokens use
    float32x4_t even[N] = {}, odd[N] = {};
    const auto* p = reinterpret_cast<const uint8_t*>(blk);
    for (int64_t b = 0; b < nb; ++b, act += kActBlockBytes) {
      const GroupBlock g(p);
      const auto* scales = reinterpret_cast<const float*>(act + kTokens * kXBytes);
      float32x4_t d[kVecs], s[kVecs];
      for (int k = 0; k < kVecs; ++k) {
        d[k] = vld1q_f32(scales + 4 * k);
        s[k] = kHasMin<P> ? vld1q_f32(scales + kSlots + 4 * k) : d[k];
      }
      (add_token<J, Halves>(g, d[J / 4], s[J / 4], act, even[J], odd[J]), ...);
    }
    (store_rows(Halves ? vaddq_f32(even[J], odd[J]) : even[J], y + J * ldy, m), ...);
  }
  template <int N, bool Halves>
  static void tile(const Block* blk, int64_t nb, const uint8_t* act, float* y, int64_t ldy, int m) {
    tile_impl<N, Halves>(std::make_integer_sequence<int, N>{}, blk, nb, act, y, ldy, m);
  }

  template <bool Halves, size_t... I>
  static constexpr auto batch_tiles(std::index_sequence<I...>) {
    return std::array{&tile<static_cast<int>(I) + 1, Halves>...};
  }

  // Rows [r0, r1) x n_tok tokens: each token tile laid out into per-thread scratch, then group by group (a group's
  // blocks stay in cache while the token tiles pass). Up to kDecodeTokens tokens sum as tile_one does, so a token
  // of batched decode gets the floats it would get alone; larger batches sum the even and odd chunks apart, the
  // float order of the prefill kernels (arm_neon_dot_rows.cpp, x86_avx512vnni_rows.cpp, x86_amx.cpp), which the
  // fixtures' quantized batch logits need (one sum per block moves tiny-qwen3-q8_0's past their bound).
  static constexpr int kDecodeTokens = 4;
  static_assert(kTokens >= kDecodeTokens);
  static void batch(const Block* groups, int64_t nb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                    int64_t r1, int n_tok) {
    static constexpr auto kDecode = batch_tiles<false>(std::make_index_sequence<kDecodeTokens>{});
    static constexpr auto kPrefill = batch_tiles<true>(std::make_index_sequence<kTokens>{});
    const auto& tiles = n_tok > kDecodeTokens ? kPrefill.data() : kDecode.data();
    const int n_tiles = (n_tok + kTokens - 1) / kTokens;
    const size_t tile_bytes = static_cast<size_t>(nb) * kActBlockBytes;
    thread_local Workspace scratch;
    auto* acts = static_cast<uint8_t*>(scratch.get(tile_bytes * static_cast<size_t>(n_tiles)));
    for (int t = 0; t < n_tok; t += kTokens)
      lay_out_tokens(a + t * arb, arb, std::min(n_tok - t, kTokens), nb, acts + t / kTokens * tile_bytes);
    for (int64_t r = r0; r < r1; r += kGroupRows) {
      const Block* blk = groups + r / kGroupRows * nb;
      const int m = static_cast<int>(std::min<int64_t>(r1 - r, kGroupRows));
      for (int t = 0; t < n_tok; t += kTokens) {
        const int n = std::min(n_tok - t, kTokens);
        tiles[n - 1](blk, nb, acts + t / kTokens * tile_bytes, y + t * ldy + r, ldy, m);
      }
    }
  }

  // TypeKernels::gemm_packed: w is the packed matrix, r0 a multiple of 4. One token: tiles of 2 groups, so the
  // token's block is loaded once per 8 rows (4 groups spill on GCC 12 and cost more per row).
  static void gemm(const uint8_t* w, size_t /*w_row_bytes: the groups' stride follows from nb*/, const uint8_t* a,
                   size_t arb, float* y, int64_t ldy, int64_t r0, int64_t r1, int n_tok, int64_t cols) {
    const int64_t nb = cols / QK8_0;
    const auto* groups = reinterpret_cast<const Block*>(w);
    if (n_tok > 1) return batch(groups, nb, a, arb, y, ldy, r0, r1, n_tok);
    for (int64_t r = r0; r < r1; r += 2 * kGroupRows) {
      const int m = static_cast<int>(std::min<int64_t>(r1 - r, 2 * kGroupRows));
      const Block* blk = groups + r / kGroupRows * nb;
      if (m > kGroupRows) {
        tile_one<2>(blk, nb, a, arb, y + r, ldy, m);
      } else {
        tile_one<1>(blk, nb, a, arb, y + r, ldy, m);
      }
    }
  }
};

// The repack of Layout::rows4 for the three formats, with the kernels that read it.
template <class Dot>
void fill_neon_packed(KernelTable& t) {
  const std::array<std::tuple<TypeKernels*, decltype(TypeKernels::pack), decltype(TypeKernels::gemm)>, 3> entries{{
      {&t.q8_0, pack_rows4_q8_0, PackedGemm<Dot, PQ8_0>::gemm},
      {&t.q4_0, pack_rows4_q4_0, PackedGemm<Dot, PQ4_0>::gemm},
      {&t.q4_1, pack_rows4_q4_1, PackedGemm<Dot, PQ4_1>::gemm},
  }};
  for (const auto& [k, pack, gemm] : entries) {
    k->packed = Layout::rows4;
    k->pack = pack;
    k->gemm_packed = gemm;
  }
}

}  // namespace
}  // namespace rkchat::kernels
