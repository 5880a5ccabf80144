// Internal to src/kernels: the load-time repacks of Q8_0 / Q4_0 / Q4_1: the blocks of Layout::rows4 that the NEON
// kernels read (arm_neon_packed.h) and its scalar packer, and the size of the tiles of Layout::rows16 and rows8,
// which the AVX-512 VNNI and AVX2 kernels read (x86_avx512vnni_rows.cpp and x86_avx2_rows.cpp explain them).
//
// Main idea: decode reads every weight once, so the cost per weight block is what counts. In the stored layout a
// kernel gathers each row's scale and folds each row's sums apart. Here 4 rows share a block: their 4 scales lie
// together (one load, one convert) and their quants are interleaved in 4-byte chunks, chunk c of rows 0..3 in 16
// bytes: a by-element sdot of those 16 bytes with chunk c of the activations adds row i's products into lane i,
// so the 4 rows' sums come out in one vector without a horizontal add. A group's block has the size of the 4
// stored blocks, so the repacked matrix takes the bytes of the stored one (plus the last group's missing rows,
// zeros: scale 0, so they add nothing).
//
// Q4_0's nibbles are stored XOR 0x88, i.e. as 4-bit two's complement of q - 8: shifting a byte left by 4 (low
// nibble) or masking it with 0xf0 (high nibble) gives 16 (q - 8) as a signed byte, with no subtraction; the
// kernels take the 16 out of the activation scale (exactly: a power of two).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels {

constexpr int kGroupRows = 4;  // rows of a Layout::rows4 group

// Element e of row i lies in chunk e / 4 (Q4: of its nibble half, e % 16 / 4), at byte (chunk * 4 + i) * 4 + e % 4.
// The quants come first: the kernels' 16-byte loads then sit at multiples of 16 from the block (so they pair up).
struct BlockQ8_0x4 {
  int8_t qs[kGroupRows * QK8_0];
  fp16_t d[kGroupRows];
};
struct BlockQ4_0x4 {
  uint8_t qs[kGroupRows * QK4_0 / 2];  // stored byte ^ 0x88
  fp16_t d[kGroupRows];
};
struct BlockQ4_1x4 {
  uint8_t qs[kGroupRows * QK4_1 / 2];
  fp16_t d[kGroupRows];
  fp16_t m[kGroupRows];
};
static_assert(sizeof(BlockQ8_0x4) == kGroupRows * sizeof(BlockQ8_0));
static_assert(sizeof(BlockQ4_0x4) == kGroupRows * sizeof(BlockQ4_0));
static_assert(sizeof(BlockQ4_1x4) == kGroupRows * sizeof(BlockQ4_1));

// Layout::rows16 and rows8: 16 or 8 rows per tile, each tile starting a multiple of 64 bytes from the matrix (the
// kernels' loads then do not cross cache lines); the last tile's missing rows are zeros.
inline size_t tile_bytes(int tile_rows, size_t row_bytes) { return (tile_rows * row_bytes + 63) / 64 * 64; }
// A tile of L rows and nb blocks: first the quants of all blocks, block b's 4-byte chunk c of rows 0..L-1 in the
// 4L bytes at (b * chunks + c) * 4L (row i's 4 bytes at 4i), then the nb x L scales, then (Q4_1) the nb x L mins.
// Quants apart from scales keep every vector load aligned. It takes the bytes of the L x nb stored blocks;
// TileBlock is one block's share of them (what the kernels' per-call pack allocates per block).
template <int L, size_t QsBytes, bool HasMin>
struct TileBlock {
  uint8_t bytes[L * QsBytes + L * sizeof(fp16_t) * (HasMin ? 2 : 1)];
};

// Where the parts of a tile of nb blocks start (QsBytes: the quant bytes of one row's block).
template <int L, size_t QsBytes>
struct TileParts {
  uint8_t* qs;
  fp16_t* d;
  fp16_t* m;
  TileParts(const void* base, int64_t nb)
      : qs(static_cast<uint8_t*>(const_cast<void*>(base))),
        d(reinterpret_cast<fp16_t*>(qs + nb * L * QsBytes)),
        m(d + nb * L) {}

  // Block b's quants and scales (and mins when has_min) into L1 (past the tile's end: harmless, a prefetch never
  // faults): the row kernels run this some blocks ahead of the one they read.
  void prefetch(int64_t b, bool has_min) const {
    const uint8_t* q = qs + b * L * QsBytes;
    for (size_t o = 0; o < L * QsBytes; o += 64) __builtin_prefetch(q + o, 0, 3);
    __builtin_prefetch(d + L * b, 0, 3);
    if (has_min) __builtin_prefetch(m + L * b, 0, 3);
  }
};

// The rows of a layout's group or tile (1 for Layout::rows).
int layout_rows(Layout layout);

// The groups (rows4) or tiles (rows8, rows16) of a packed matrix of `rows` rows, and its bytes.
int64_t packed_groups(Layout layout, int64_t rows);
size_t packed_bytes(Layout layout, size_t row_bytes, int64_t rows);

// TypeKernels::pack for Layout::rows4 (scalar: a copy of 4-byte chunks, memory-bound anyway).
void pack_rows4_q8_0(const uint8_t* w, size_t w_row_bytes, int64_t rows, int64_t cols, int64_t g0, int64_t g1,
                     uint8_t* dst);
void pack_rows4_q4_0(const uint8_t* w, size_t w_row_bytes, int64_t rows, int64_t cols, int64_t g0, int64_t g1,
                     uint8_t* dst);
void pack_rows4_q4_1(const uint8_t* w, size_t w_row_bytes, int64_t rows, int64_t cols, int64_t g0, int64_t g1,
                     uint8_t* dst);

}  // namespace rkchat::kernels
