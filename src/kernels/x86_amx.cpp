// AMX-INT8 kernel for Q8_0 weights x Q8_0 activations (compiled with -mamx-tile/-mamx-int8 on top of the AVX-512
// flags, run only when the CPU has AMX and the kernel granted this process the tile state).
//
// Main idea: one tdpbssd multiplies a tile of 16 weight rows x 32 quants (one Q8_0 block of each row, loaded in
// place from the mmap'd GGUF rows with the row stride: no repack) by a tile of the same block of 16 tokens, giving
// the 16 x 16 exact int32 block sums at once. Each block has its own scales, so every block's sums are scaled and
// added into float accumulators (16 zmm: one weight row x 16 tokens each) before the next block. The activations
// are rearranged once per call into the layout tdpbssd wants for its second operand (for each block: 8 rows of 16
// tokens x 4 consecutive quants), together with the tokens' block scales as floats; the weight scales of a row tile
// are read once per row tile.
//
// Only full tiles run here: prefill-sized work. Rows past the last full 16 and tokens past the last full 16 (and
// any call with fewer than 16 tokens: decode) go to the AVX-512 VNNI gemm this table held before.
//
// Float order: each (row, token) adds its blocks one by one, where VNNI adds 16 lanes of partial sums; results
// agree with the reference within rounding (tests/kernels/gemm_test.cpp), not bit for bit.
#include <immintrin.h>

#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels {

namespace {

constexpr int kTile = 16;                    // weight rows and tokens per tile
constexpr int kQuants = QK8_0;               // quants per block: the K of one tdpbssd
constexpr size_t kBBytes = kTile * kQuants;  // one block of 16 tokens in tdpbssd's B layout (512 bytes)
constexpr size_t kPreparedBlock = kBBytes + kTile * sizeof(float);  // B tile + token scales
// Tokens rearranged per pass: keeps the prepared activations (blocks x (B tile + scales)) within ~1 MiB of L2.
constexpr size_t kPreparedBudget = size_t{1} << 20;

using GemmFn = decltype(TypeKernels::gemm);
GemmFn g_fallback = nullptr;  // the VNNI gemm; set by fill_amx before the table is published

// Tile registers, two sets so that one block's products run while the previous block's sums are scaled (tiles
// are not renamed: reusing one set would serialize the blocks): 0/3 weights (16 rows x 32 bytes), 1/4 activations
// (8 rows x 64 bytes), 2/5 sums (16 x 16 int32).
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
    c.rows[3 * set] = kTile;
    c.colsb[3 * set] = kQuants;
    c.rows[3 * set + 1] = kQuants / 4;
    c.colsb[3 * set + 1] = kTile * 4;
    c.rows[3 * set + 2] = kTile;
    c.colsb[3 * set + 2] = kTile * 4;
  }
  _tile_loadconfig(&c);
}

// i * stride in lane i: the byte offsets of 16 rows, for gathers.
inline __m512i lane_offsets(int64_t stride) {
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(static_cast<int>(stride)));
}

// The fp16 scale at p + i * stride for 16 values of i, as floats.
inline __m512 gather_scales(const uint8_t* p, int64_t stride) {
  const __m512i raw = _mm512_i32gather_epi32(lane_offsets(stride), p, 1);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw));
}

// Activations of 16 tokens (Q8_0 rows at a, stride arb) for every block: B tile (row k4 = the 4 quants 4*k4.. of
// each token) then the 16 token scales as floats.
void prepare_tokens(const uint8_t* a, size_t arb, int64_t nb, uint8_t* dst) {
  const __m512i rows = lane_offsets(static_cast<int64_t>(arb));
  for (int64_t b = 0; b < nb; ++b, dst += kPreparedBlock) {
    const uint8_t* blk = a + b * sizeof(BlockQ8_0);
    for (int k4 = 0; k4 < kQuants / 4; ++k4)
      _mm512_store_si512(dst + k4 * 64, _mm512_i32gather_epi32(rows, blk + 2 + 4 * k4, 1));
    _mm512_store_ps(dst + kBBytes, gather_scales(blk, static_cast<int64_t>(arb)));
  }
}

// Block b's int32 sums of row m as floats times the block's scales: dx (16 tokens) * dw[m].
inline __m512 scaled(const int32_t* sums, __m512 dx, const float* dw, int m) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums + m * kTile)),
                       _mm512_mul_ps(dx, _mm512_set1_ps(dw[m])));
}

// acc[m] += scaled block b + scaled block b + 1 (when `two`): the pair is summed first, which halves the rounding
// error of a long sequential sum at the cost of one add.
inline void scale_into(const int32_t (*sums)[kTile * kTile], const uint8_t* prepared, const float* dw, bool two,
                       __m512 (&acc)[kTile]) {
  const __m512 dx0 = _mm512_load_ps(prepared + kBBytes);
  if (!two) {
    for (int m = 0; m < kTile; ++m) acc[m] = _mm512_add_ps(acc[m], scaled(sums[0], dx0, dw, m));
    return;
  }
  const __m512 dx1 = _mm512_load_ps(prepared + kPreparedBlock + kBBytes);
  for (int m = 0; m < kTile; ++m) {
    const __m512 pair = _mm512_add_ps(scaled(sums[0], dx0, dw, m), scaled(sums[1], dx1, dw + kTile, m));
    acc[m] = _mm512_add_ps(acc[m], pair);
  }
}

// Products of block b (and b + 1 when `two`) into sums[0] (and sums[1]), one tile set per block.
inline void block_products(const uint8_t* w, long stride, const uint8_t* prepared, int64_t b, bool two,
                           int32_t (*sums)[kTile * kTile]) {
  const uint8_t* p = prepared + b * kPreparedBlock;
  _tile_loadd(0, w + b * sizeof(BlockQ8_0) + 2, stride);
  _tile_loadd(1, p, kTile * 4);
  _tile_zero(2);
  _tile_dpbssd(2, 0, 1);
  if (two) {
    _tile_loadd(3, w + (b + 1) * sizeof(BlockQ8_0) + 2, stride);
    _tile_loadd(4, p + kPreparedBlock, kTile * 4);
    _tile_zero(5);
    _tile_dpbssd(5, 3, 4);
  }
  _tile_stored(2, sums[0], kTile * 4);
  if (two) _tile_stored(5, sums[1], kTile * 4);
}

// y for weight rows [r, r + 16) x tokens [t, t + 16): prepared holds the tokens' blocks, dw the rows' scales
// ([nb][16] floats). Software-pipelined: the tile products of the next two blocks are issued before the sums of
// the last two are scaled, so the scaling never waits for a tile store that was just issued.
void tile_16x16(const uint8_t* w, size_t wrb, const uint8_t* prepared, const float* dw, int64_t nb, float* y,
                int64_t ldy) {
  alignas(64) int32_t sums[4][kTile * kTile];
  __m512 acc[kTile];
  for (__m512& v : acc) v = _mm512_setzero_ps();
  const long stride = static_cast<long>(wrb);
  block_products(w, stride, prepared, 0, nb > 1, sums);
  for (int64_t b = 0, cur = 0; b < nb; b += 2, cur ^= 2) {
    if (b + 2 < nb) block_products(w, stride, prepared, b + 2, b + 3 < nb, sums + (cur ^ 2));
    scale_into(sums + cur, prepared + b * kPreparedBlock, dw + b * kTile, b + 1 < nb, acc);
  }
  alignas(64) float out[kTile * kTile];
  for (int m = 0; m < kTile; ++m) _mm512_store_ps(out + m * kTile, acc[m]);
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
        _mm512_store_ps(dw + b * kTile, gather_scales(wr + b * sizeof(BlockQ8_0), static_cast<int64_t>(wrb)));
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
}

}  // namespace rkchat::kernels
