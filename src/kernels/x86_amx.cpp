// AMX-INT8 kernel for Q8_0 weights x Q8_0 activations (compiled with -mamx-tile/-mamx-int8 on top of the AVX-512
// flags, run only when the CPU has AMX and the kernel granted this process the tile state).
//
// Main idea: tdpbssd multiplies a tile of 16 weight rows x 32 quants (one Q8_0 block of each row, loaded in place
// from the mmap'd GGUF rows with the row stride: no repack) by a tile of the same block of 16 tokens, giving 16 x
// 16 exact int32 sums at once. It runs twice per block, against the tokens' even chunks (quants 0-3, 8-11, ...)
// with the odd ones zeroed and then the other way round, so that every (row, token) gets the same two sums as
// the AVX-512 VNNI prefill kernel (x86_avx512vnni_rows.cpp) and adds them up in the same float order: on whole
// tiles both give identical results. The activations are rearranged once per call into the layout tdpbssd wants
// for its second operand (for each block: 8 rows of 16 tokens x 4 consecutive quants, twice), together with the
// tokens' block scales as floats; the weight scales of a row tile are read once per row tile.
//
// Only full tiles run here: prefill-sized work. Rows past the last full 16 and tokens past the last full 16 (and
// any call with fewer than 16 tokens: decode) go to the AVX-512 VNNI gemm this table held before.
#include <immintrin.h>

#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/x86_avx512_lanes.h"

namespace rkchat::kernels {

namespace {

constexpr int kTile = 16;                    // weight rows and tokens per tile
constexpr int kQuants = QK8_0;               // quants per block: the K of one tdpbssd
constexpr size_t kBBytes = kTile * kQuants;  // one block of 16 tokens in tdpbssd's B layout (512 bytes)
constexpr size_t kPreparedBlock = 2 * kBBytes + kTile * sizeof(float);  // even and odd B tiles + token scales
// Tokens rearranged per pass: keeps the prepared activations (blocks x (B tile + scales)) within ~1 MiB of L2.
constexpr size_t kPreparedBudget = size_t{1} << 20;

using GemmFn = decltype(TypeKernels::gemm);
GemmFn g_fallback = nullptr;  // the VNNI gemm; set by fill_amx before the table is published

// Tile registers, two sets so that one block's products run while the previous block's sums are scaled (tiles
// are not renamed: reusing one set would serialize the blocks): 0/4 weights (16 rows x 32 bytes), 1/5 activations
// (8 rows x 64 bytes: the even chunks, then the odd ones), 2/6 and 3/7 even and odd sums (16 x 16 int32).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void configure_tiles() {
  TileConfig c;
  for (int set = 0; set < 2; ++set) {
    c.rows[4 * set] = kTile;
    c.colsb[4 * set] = kQuants;
    c.rows[4 * set + 1] = kQuants / 4;
    c.colsb[4 * set + 1] = kTile * 4;
    for (int sums = 2; sums < 4; ++sums) {
      c.rows[4 * set + sums] = kTile;
      c.colsb[4 * set + sums] = kTile * 4;
    }
  }
  _tile_loadconfig(&c);
}

// Activations of 16 tokens (Q8_0 rows at a, stride arb) for every block: two B tiles (row k4 = the 4 quants
// 4*k4.. of each token; the first keeps the even k4 and zeroes the odd ones, the second the other way round), then
// the 16 token scales as floats.
void prepare_tokens(const uint8_t* a, size_t arb, int64_t nb, uint8_t* dst) {
  const __m512i rows = lane_offsets(arb);
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < nb; ++b, dst += kPreparedBlock) {
    const uint8_t* blk = a + b * sizeof(BlockQ8_0);
    for (int k4 = 0; k4 < kQuants / 4; ++k4) {
      const __m512i q = _mm512_i32gather_epi32(rows, blk + 2 + 4 * k4, 1);
      _mm512_store_si512(dst + k4 * 64, k4 % 2 == 0 ? q : zero);
      _mm512_store_si512(dst + kBBytes + k4 * 64, k4 % 2 == 0 ? zero : q);
    }
    _mm512_store_ps(dst + 2 * kBBytes, gather_half(lane_offsets(arb), blk));
  }
}

// Even and odd sums of one block, 16 x 16 int32 each (row m at [m * 16]).
struct alignas(64) BlockSums {
  int32_t even[kTile * kTile];
  int32_t odd[kTile * kTile];
};

// Float accumulators of a 16 x 16 tile: row m x 16 tokens, even and odd chunks apart.
struct Accumulators {
  __m512 even[kTile], odd[kTile];
};

// acc += block's sums x (token scales dx * row scale dw[m]), in the VNNI prefill kernel's order.
inline void scale_into(const BlockSums& sums, const uint8_t* prepared, const float* dw, Accumulators& acc) {
  const __m512 dx = _mm512_load_ps(prepared + 2 * kBBytes);
  for (int m = 0; m < kTile; ++m) {
    const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(dw[m]));
    acc.even[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums.even + m * kTile)), d, acc.even[m]);
    acc.odd[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums.odd + m * kTile)), d, acc.odd[m]);
  }
}

// Products of block b into sums, on tile set S (tiles 4S..4S+3: weights, activations, even sums, odd sums). The
// odd activations reuse the activation tile once the even product has read it. GCC's tile intrinsics paste the
// tile number into the instruction text, so it must be a literal: one macro body, two sets.
#define RK_BLOCK_PRODUCTS(W, X, EVEN, ODD)               \
  const uint8_t* p = prepared + b * kPreparedBlock;      \
  _tile_loadd(W, w + b * sizeof(BlockQ8_0) + 2, stride); \
  _tile_loadd(X, p, kTile * 4);                          \
  _tile_zero(EVEN);                                      \
  _tile_dpbssd(EVEN, W, X);                              \
  _tile_loadd(X, p + kBBytes, kTile * 4);                \
  _tile_zero(ODD);                                       \
  _tile_dpbssd(ODD, W, X);                               \
  _tile_stored(EVEN, sums.even, kTile * 4);              \
  _tile_stored(ODD, sums.odd, kTile * 4)

inline void block_products_set0(const uint8_t* w, long stride, const uint8_t* prepared, int64_t b, BlockSums& sums) {
  RK_BLOCK_PRODUCTS(0, 1, 2, 3);
}
inline void block_products_set1(const uint8_t* w, long stride, const uint8_t* prepared, int64_t b, BlockSums& sums) {
  RK_BLOCK_PRODUCTS(4, 5, 6, 7);
}
#undef RK_BLOCK_PRODUCTS

// y for weight rows [r, r + 16) x tokens [t, t + 16): prepared holds the tokens' blocks, dw the rows' scales
// ([nb][16] floats). Software-pipelined over the two tile sets: the products of the next block are issued before
// the sums of this one are scaled, so the scaling never waits for a tile store that was just issued.
void tile_16x16(const uint8_t* w, size_t wrb, const uint8_t* prepared, const float* dw, int64_t nb, float* y,
                int64_t ldy) {
  BlockSums sums[2];
  Accumulators acc;
  for (int m = 0; m < kTile; ++m) acc.even[m] = acc.odd[m] = _mm512_setzero_ps();
  const long stride = static_cast<long>(wrb);
  block_products_set0(w, stride, prepared, 0, sums[0]);
  for (int64_t b = 0; b < nb; ++b) {
    if (b + 1 < nb && b % 2 == 1) block_products_set0(w, stride, prepared, b + 1, sums[0]);
    if (b + 1 < nb && b % 2 == 0) block_products_set1(w, stride, prepared, b + 1, sums[1]);
    scale_into(sums[b % 2], prepared + b * kPreparedBlock, dw + b * kTile, acc);
  }
  alignas(64) float out[kTile * kTile];
  for (int m = 0; m < kTile; ++m) _mm512_store_ps(out + m * kTile, _mm512_add_ps(acc.even[m], acc.odd[m]));
  for (int n = 0; n < kTile; ++n)
    for (int m = 0; m < kTile; ++m) y[n * ldy + m] = out[m * kTile + n];
}

// Full tiles of rows [r0, r1) x tokens [0, n_tok) (both multiples of 16).
void full_tiles(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
                int64_t r1, int n_tok, int64_t nb) {
  thread_local Workspace prep_scratch, scale_scratch;
  const size_t per_tile = static_cast<size_t>(nb) * kPreparedBlock;
  const int tiles_per_pass = static_cast<int>(per_tile >= kPreparedBudget ? 1 : kPreparedBudget / per_tile);
  auto* prepared = static_cast<uint8_t*>(prep_scratch.get(per_tile * static_cast<size_t>(tiles_per_pass)));
  auto* dw = static_cast<float*>(scale_scratch.get(static_cast<size_t>(nb) * kTile * sizeof(float)));
  configure_tiles();
  for (int t0 = 0; t0 < n_tok; t0 += tiles_per_pass * kTile) {
    const int tiles = (n_tok - t0) / kTile < tiles_per_pass ? (n_tok - t0) / kTile : tiles_per_pass;
    for (int i = 0; i < tiles; ++i)
      prepare_tokens(a + static_cast<size_t>(t0 + i * kTile) * arb, arb, nb, prepared + i * per_tile);
    for (int64_t r = r0; r < r1; r += kTile) {
      const uint8_t* wr = w + r * wrb;
      for (int64_t b = 0; b < nb; ++b)
        _mm512_store_ps(dw + b * kTile, gather_half(lane_offsets(wrb), wr + b * sizeof(BlockQ8_0)));
      for (int i = 0; i < tiles; ++i)
        tile_16x16(wr, wrb, prepared + i * per_tile, dw, nb, y + (t0 + i * kTile) * ldy + r, ldy);
    }
  }
}

void gemm_q8_0(const uint8_t* w, size_t wrb, const uint8_t* a, size_t arb, float* y, int64_t ldy, int64_t r0,
               int64_t r1, int n_tok, int64_t cols) {
  const int64_t r_full = r0 + (r1 - r0) / kTile * kTile;
  const int t_full = n_tok / kTile * kTile;
  if (r_full == r0 || t_full == 0) return g_fallback(w, wrb, a, arb, y, ldy, r0, r1, n_tok, cols);
  full_tiles(w, wrb, a, arb, y, ldy, r0, r_full, t_full, cols / QK8_0);
  if (t_full < n_tok)
    g_fallback(w, wrb, a + static_cast<size_t>(t_full) * arb, arb, y + t_full * ldy, ldy, r0, r_full, n_tok - t_full,
               cols);
  if (r_full < r1) g_fallback(w, wrb, a, arb, y, ldy, r_full, r1, n_tok, cols);
}

}  // namespace

void fill_amx(KernelTable& t) {
  g_fallback = t.q8_0.gemm;
  t.q8_0.gemm = gemm_q8_0;
  t.q8_0.pack = nullptr;  // the AMX tiles read Q8_0 as stored, so it is not repacked at load
}

}  // namespace rkchat::kernels
