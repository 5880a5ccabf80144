// Internal to the ISA files: the loop that covers rows [r0, r1) x tokens [0, n_tok) with register tiles of up to
// K::RM weight rows x K::RN tokens. Each tile reads its weight rows once for RN tokens and its activation rows
// once for RM weight rows; edge tiles use smaller instantiations (all M x N combinations are compiled).
//
// A kernel type K provides: static constexpr int RM, RN; template <int M, int N> static void tile(const
// GemmArgs&, int64_t row, int tok). Every ISA file defines its kernel types in an unnamed namespace, so these
// templates get internal linkage there and code built with one ISA's flags is never shared with another file.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace rkchat::kernels::tiles {

struct GemmArgs {
  const uint8_t* w;  // weight row 0; row r at w + r * w_row_bytes
  size_t w_row_bytes;
  // Activation row 0 (quantized blocks, f32, or an ISA's prepared form); token t at a + t * a_row_bytes.
  const uint8_t* a;
  size_t a_row_bytes;
  float* y;  // y[t * ldy + r]
  int64_t ldy;
  int64_t cols;  // a multiple of the weight block size
};

using TileFn = void (*)(const GemmArgs&, int64_t, int);

// Decode reads every weight byte once, from DRAM, and the hardware prefetchers stop at each 4 KiB page: while a
// tile of M rows computes, ask for the same bytes of the next tile (M rows on), one tile ahead whatever the row
// length (Qwen3-0.6B Q8_0 decode, 2 threads: 24.3 -> 30.6 tok/s). A prefetch past the matrix is harmless.
template <int M>
inline void prefetch_next_tile(const uint8_t* p, size_t row_bytes, size_t bytes) {
  const uint8_t* q = p + M * row_bytes;
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(q + off);
}

template <class K, size_t... I>
constexpr std::array<TileFn, sizeof...(I)> make_tile_table(std::index_sequence<I...>) {
  return {&K::template tile<static_cast<int>(I) / K::RN + 1, static_cast<int>(I) % K::RN + 1>...};
}

// Tokens [0, n_tok) of the m-row tile at row r, RN tokens at a time.
template <class K>
void row_tile(const GemmArgs& g, int64_t r, int m, int n_tok) {
  static constexpr std::array<TileFn, K::RM* K::RN> kTiles =
      make_tile_table<K>(std::make_index_sequence<K::RM * K::RN>{});
  for (int t = 0; t < n_tok; t += K::RN) {
    const int n = n_tok - t < K::RN ? n_tok - t : K::RN;
    kTiles[static_cast<size_t>((m - 1) * K::RN + (n - 1))](g, r, t);
  }
}

// The TypeKernels::gemm entry for kernel K.
template <class K>
void gemm(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy, int64_t r0,
          int64_t r1, int n_tok, int64_t cols) {
  const GemmArgs g{w, w_row_bytes, a, a_row_bytes, y, ldy, cols};
  for (int64_t r = r0; r < r1; r += K::RM) row_tile<K>(g, r, r1 - r < K::RM ? static_cast<int>(r1 - r) : K::RM, n_tok);
}

}  // namespace rkchat::kernels::tiles
