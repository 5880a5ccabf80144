// Internal to src/kernels: rows of Q8_0 / Q8_1 activation blocks from an ISA's one-block quantizer, so every ISA
// file shares the row loop and the Q8_1 sum; and the walk over a Q8_0 KV cache row. Block(x, q, &sum) quantizes 32
// floats into q, returns the scale d and the sum of the quants. Instantiated with a file-local quantizer, the
// instantiation stays local to that ISA file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels {

// The reference Q8 quantizer of one block of n <= 32 floats (ref.cpp): d = max|x| / 127, q = round(x / d), half
// away from zero, as llama.cpp's. Returns d; fills q[n].
float quantize_block_q8(const float* x, int8_t* q, int n);

// Visits the blocks of one Q8_0 KV head row (ops.h): fn(i, m, d, q) for its elements [i, i + m) = d * q[0, m).
template <class Fn>
void for_each_kv_block(const uint8_t* row, int head_dim, Fn fn) {
  for (int i = 0; i < head_dim; i += QK8_0) {
    const int m = std::min(QK8_0, head_dim - i);
    fp16_t d;
    std::memcpy(&d, row, sizeof d);
    fn(i, m, fp16_to_fp32(d), reinterpret_cast<const int8_t*>(row + sizeof d));
    row += sizeof d + static_cast<size_t>(m);
  }
}

template <float (*Block)(const float*, int8_t*, int*)>
void quantize_rows_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  int sum;
  for (int64_t i = 0; i < n / QK8_0; ++i) y[i].d = fp32_to_fp16(Block(x + i * QK8_0, y[i].qs, &sum));
}

template <float (*Block)(const float*, int8_t*, int*)>
void quantize_rows_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    int sum;
    const float d = Block(x + i * QK8_0, y[i].qs, &sum);
    y[i].d = fp32_to_fp16(d);
    y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

}  // namespace rkchat::kernels
