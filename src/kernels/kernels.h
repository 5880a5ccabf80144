// Compute kernels: quantized matrix multiplication with integer dot products, chosen at run time per ISA.
//
// Main idea: weights stay in their GGUF block layout (mmap), unless the active ISA offers a load-time repack
// into a row-interleaved layout (pack_matrix: NEON's 4-row groups, AVX2's 8-row and AVX-512 VNNI's 16-row tiles,
// so one load feeds 4, 8 or 16 rows). Activations are
// quantized on the fly, once per matmul, to the 8-bit block format that pairs with the weight type (as llama.cpp
// does, so results agree with it):
//   Q8_0, Q4_0 weights  x  Q8_0 activations (blocks of 32, fp16 scale = max|x|/127, round to nearest)
//   Q4_1 weights        x  Q8_1 activations (Q8_0 plus the block sum d*sum(q))
//   Q4_K, Q5_K, Q6_K    x  Q8_K activations (blocks of 256, f32 scale, int16 sums of each 16)
//   F32, F16, BF16      x  F32 activations (float dot products)
// A matmul of n_tok activation rows reads each weight block once for all rows (register tiles over rows x
// tokens), so a batch of tokens -- one prompt, or the decode steps of several sequences -- shares one pass
// over the weights.
//
// This layer knows blocks and arrays only: no GGUF, no model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"

namespace rkchat::kernels {

class ThreadPool;

// Same numeric values as ggml/GGUF type ids (checked by static_assert where the model maps them).
enum class QType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 8,
  Q8_1 = 9,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

// How a matrix's blocks lie in memory.
enum class Layout : uint8_t {
  rows,    // as GGUF stores them: row r starts at data + r * row_bytes
  rows4,   // Q8_0/Q4_0/Q4_1 repacked in groups of 4 rows (repack.h): group g starts at data + g * 4 * row_bytes,
           // and its block b holds the 4 rows' scales, then their quants interleaved in 4-byte chunks
  rows16,  // Q8_0/Q4_0/Q4_1 repacked in tiles of 16 rows (repack.h), each tile_bytes(16, row_bytes) long: the quants
           // of all blocks in 64-byte chunks (4 bytes of each of the 16 rows), then the scales, then the mins
  rows8,   // the same in tiles of 8 rows, 32-byte chunks (AVX2)
};

// A weight matrix [rows, cols]. row_bytes is the bytes of one row as stored, whatever the layout.
struct Matrix {
  QType type = QType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  Layout layout = Layout::rows;
};

// Scratch memory owned by the caller and reused across calls, so that no kernel allocates in the hot path.
class Workspace {
 public:
  // Returns at least n bytes, 64-byte aligned. Grows (allocates) only when n exceeds what it holds.
  void* get(size_t n);
  size_t capacity() const { return buf_.size() * sizeof(Chunk); }

 private:
  struct alignas(64) Chunk {
    unsigned char b[64];
  };
  std::vector<Chunk> buf_;
};

// y[t * ldy + r] = sum_c W[r, c] * x[t * ldx + c]   for t < n_tok, r < w.rows.
// Threads split the rows of W; every thread uses the activations quantized once.
void matmul(const Matrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_tok, ThreadPool& pool,
            Workspace& ws);

// Bytes of scratch a matmul of n_tok rows of `cols` needs (so callers can reserve up front).
size_t matmul_workspace_bytes(QType weight_type, int64_t cols, int n_tok);

// One product of matmul_multi: y[t * ldy + r] = sum_c (*w)[r, c] * x[t * ldx + c].
struct MatmulOut {
  const Matrix* w = nullptr;
  float* y = nullptr;
  int64_t ldy = 0;
};

// Several matrices that multiply the same activations x (q/k/v, gate/up): x is quantized once per activation
// format the weight types need (Q4_K and Q6_K share Q8_K; Q8_0 and Q4_0 share Q8_0), and one parallel pass covers
// the rows of all matrices, so decode pays one sync instead of one per matrix. Results equal separate matmul calls
// bit for bit. All matrices must have the same cols; throws std::invalid_argument otherwise or for an empty list.
void matmul_multi(std::span<const MatmulOut> outs, const float* x, int64_t ldx, int n_tok, ThreadPool& pool,
                  Workspace& ws);

// Bytes of scratch matmul_multi(outs, ..., n_tok) needs (the y pointers are not read).
size_t matmul_multi_workspace_bytes(std::span<const MatmulOut> outs, int n_tok);

// Dequantize one row of n elements (any supported weight type) to float: used for embeddings lookups and tests.
void dequantize_row(QType type, const void* src, float* dst, int64_t n);
// Row r of w, in any layout, dequantized to dst[w.cols] (the token embedding lookup of a repacked matrix).
void dequantize_matrix_row(const Matrix& w, int64_t r, float* dst);

// Load-time repack for the active ISA. packed_bytes: the bytes w takes in the layout the ISA's kernels read best,
// or 0 when the ISA reads w (its type, as stored) directly. pack_matrix writes that form into dst (packed_bytes(w)
// bytes, 16-byte aligned), its row groups split across the pool, and returns the Matrix that describes it; the
// result reads rows as w did (matmul, dequantize_matrix_row), on the ISA that packed it and on the scalar one.
size_t packed_bytes(const Matrix& w);
Matrix pack_matrix(const Matrix& w, void* dst, ThreadPool& pool);

// The ISA chosen for this process: the best the CPU supports, or RKCHAT_ISA (scalar|avx2|avx512vnni|amx|neon|neon-dot)
// when set. Throws std::runtime_error when RKCHAT_ISA names an ISA this CPU (or build) lacks.
const char* active_isa();
// ISAs this build has and this CPU can run, best last.
std::vector<std::string> available_isas();
// Force an ISA (tests, benchmarks). Throws std::runtime_error if unavailable.
void select_isa(const std::string& name);

const char* qtype_name(QType t);
int64_t qtype_block_elems(QType t);
size_t qtype_block_bytes(QType t);
size_t qtype_row_bytes(QType t, int64_t n);  // n must be a multiple of the block size

}  // namespace rkchat::kernels
