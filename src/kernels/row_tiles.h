// Internal to the ISA files: the driver of the prefill kernels that keep weight rows in the int32 lanes of a
// vector (x86_avx512vnni_rows.cpp: 16 rows; arm_neon_dot_rows.cpp: 4 rows). Each tile's weights are rearranged
// once into a per-thread buffer (chunk c of every row of the tile in one register) and reused by every token;
// batches under the kernel's minimum, and rows past the last full tile, go to the gemm the table held before
// (the register tiles of gemm_tiles.h).
//
// A kernel type K provides: static constexpr int kLanes (rows per tile), kTokens (tokens per register tile),
// kMinTokens, kBlock (elements per weight block), Layout kLayout (the load-time layout of its tiles, Packed below);
// types Packed (one block of a row tile) and Act (one block of a token); and
//   static void pack(const uint8_t* w, size_t w_row_bytes, int64_t nb, Packed* out);  // rows w.. of one tile
//   static void prepare(const uint8_t* a, int64_t nb, Act* out);                        // one token's row
//   template <int N> static void tile(const Packed*, int64_t nb, const uint8_t* a, size_t a_row_bytes,
//                                     const Act*, float* y, int64_t ldy);             // N tokens of one tile
// Every ISA file defines its kernel types in an unnamed namespace, so these templates get internal linkage there.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/repack.h"

namespace rkchat::kernels::row_tiles {

template <class K, size_t... I>
constexpr auto make_tiles(std::index_sequence<I...>) {
  using Fn =
      void (*)(const typename K::Packed*, int64_t, const uint8_t*, size_t, const typename K::Act*, float*, int64_t);
  return std::array<Fn, sizeof...(I)>{&K::template tile<static_cast<int>(I) + 1>...};
}

// All n_tok tokens of one packed row tile, kTokens at a time: y[t * ldy + i] for row i of the tile.
template <class K>
void tokens(const typename K::Packed* packed, int64_t nb, const uint8_t* a, size_t arb, const typename K::Act* act,
            float* y, int64_t ldy, int n_tok) {
  static constexpr auto kTiles = make_tiles<K>(std::make_index_sequence<K::kTokens>{});
  for (int t = 0; t < n_tok; t += K::kTokens) {
    const int n = n_tok - t < K::kTokens ? n_tok - t : K::kTokens;
    kTiles[static_cast<size_t>(n - 1)](packed, nb, a + t * arb, arb, act + t * nb, y + t * ldy, ldy);
  }
}

// K::prepare of all n_tok tokens' activation rows, into per-thread scratch reused across calls.
template <class K>
const typename K::Act* prepared(const uint8_t* a, size_t arb, int64_t nb, int n_tok) {
  thread_local Workspace scratch;
  auto* act = static_cast<typename K::Act*>(scratch.get(static_cast<size_t>(nb) * n_tok * sizeof(typename K::Act)));
  for (int t = 0; t < n_tok; ++t) K::prepare(a + t * arb, nb, act + t * nb);
  return act;
}

template <class K>
struct Gemm {
  static inline decltype(TypeKernels::gemm) fallback = nullptr;  // set by wrap

  // Full row tiles of rows [r0, r1) for all n_tok tokens.
  static void full_tiles(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                         int64_t r1, int n_tok, int64_t nb) {
    thread_local Workspace pack_scratch;
    auto* packed =
        static_cast<typename K::Packed*>(pack_scratch.get(static_cast<size_t>(nb) * sizeof(typename K::Packed)));
    const auto* act = prepared<K>(a, arb, nb, n_tok);
    for (int64_t r = r0; r < r1; r += K::kLanes) {
      K::pack(w + r * wrb, wrb, nb, packed);
      tokens<K>(packed, nb, a, arb, act, y + r, ldy, n_tok);
    }
  }

  static void gemm(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                   int64_t r1, int n_tok, int64_t cols) {
    const int64_t r_full = r0 + (r1 - r0) / K::kLanes * K::kLanes;
    if (n_tok < K::kMinTokens || r_full == r0) return fallback(w, wrb, a, arb, y, ldy, r0, r1, n_tok, cols);
    full_tiles(w, wrb, a, arb, y, ldy, r0, r_full, n_tok, cols / K::kBlock);
    if (r_full < r1) fallback(w, wrb, a, arb, y, ldy, r_full, r1, n_tok, cols);
  }
};

// Puts K's gemm in front of the one the slot holds (TypeKernels::gemm, or gemm_packed when K packs from a
// repacked layout), which stays the fallback.
template <class K>
void wrap(decltype(TypeKernels::gemm)& slot) {
  Gemm<K>::fallback = slot;
  slot = Gemm<K>::gemm;
}
template <class K>
void wrap(TypeKernels& k) {
  wrap<K>(k.gemm);
}

// The same for the three formats these kernels cover.
template <class KQ8_0, class KQ4_0, class KQ4_1>
void wrap_q8_q4(KernelTable& t) {
  wrap<KQ8_0>(t.q8_0);
  wrap<KQ4_0>(t.q4_0);
  wrap<KQ4_1>(t.q4_1);
}

// The matrix packed once at load into K's tiles (K::kLayout, each tile_bytes(K::kLanes, ...) long), so every batch
// runs K's tile kernel without a pack per call, decode included.
template <class K>
struct Packed {
  static constexpr int kRows = K::kLanes;

  // Tiles [g0, g1) of the stored matrix w; the last tile's missing rows are zeros (scale 0).
  static void pack(const uint8_t* w, size_t wrb, int64_t rows, int64_t cols, int64_t g0, int64_t g1, uint8_t* dst) {
    const int64_t nb = cols / K::kBlock;
    for (int64_t g = g0; g < g1; ++g) {
      auto* out = reinterpret_cast<typename K::Packed*>(dst + static_cast<size_t>(g) * tile_bytes(kRows, wrb));
      const int64_t r = g * kRows, n = std::min<int64_t>(kRows, rows - r);
      if (n == kRows) {
        K::pack(w + r * wrb, wrb, nb, out);
        continue;
      }
      std::vector<uint8_t> edge(kRows * wrb, 0);
      std::memcpy(edge.data(), w + r * wrb, static_cast<size_t>(n) * wrb);
      K::pack(edge.data(), wrb, nb, out);
    }
  }

  // gemm over rows [r0, r1) of a packed matrix (r0 a multiple of kRows): whole tiles straight into y, the last
  // partial tile through a scratch block.
  static void gemm(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                   int64_t r1, int n_tok, int64_t cols) {
    const int64_t nb = cols / K::kBlock;
    thread_local Workspace edge_scratch;
    const auto* act = prepared<K>(a, arb, nb, n_tok);
    for (int64_t r = r0; r < r1; r += kRows) {
      const auto* tile =
          reinterpret_cast<const typename K::Packed*>(w + static_cast<size_t>(r / kRows) * tile_bytes(kRows, wrb));
      if (r + kRows <= r1) {
        tokens<K>(tile, nb, a, arb, act, y + r, ldy, n_tok);
        continue;
      }
      auto* edge = static_cast<float*>(edge_scratch.get(static_cast<size_t>(kRows * n_tok) * sizeof(float)));
      tokens<K>(tile, nb, a, arb, act, edge, kRows, n_tok);
      for (int t = 0; t < n_tok; ++t)
        std::memcpy(y + t * ldy + r, edge + t * kRows, static_cast<size_t>(r1 - r) * sizeof(float));
    }
  }

  static void offer(TypeKernels& k) {
    k.packed = K::kLayout;
    k.pack = pack;
    k.gemm_packed = gemm;
  }
};

template <class KQ8_0, class KQ4_0, class KQ4_1>
void offer_q8_q4(KernelTable& t) {
  Packed<KQ8_0>::offer(t.q8_0);
  Packed<KQ4_0>::offer(t.q4_0);
  Packed<KQ4_1>::offer(t.q4_1);
}

}  // namespace rkchat::kernels::row_tiles
