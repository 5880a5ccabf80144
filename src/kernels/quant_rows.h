// Internal to src/kernels: rows of Q8_0 / Q8_1 activation blocks from an ISA's one-block quantizer, so every ISA
// file shares the row loop and the Q8_1 sum. Block(x, q, &sum) quantizes 32 floats into q, returns the scale d and
// the sum of the quants. Instantiated with a file-local quantizer, the instantiation stays local to that ISA file.
#pragma once

#include <cstdint>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

namespace rkchat::kernels {

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
