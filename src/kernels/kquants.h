// Internal to src/kernels: the K-quant formats (Q4_K, Q5_K, Q6_K weights; Q8_K activations), reference code.
#pragma once

#include <cstdint>

namespace rkchat::kernels {

// Reference dequantizers (n a multiple of 256), as ggml defines the formats.
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
// Reference quantizers, for tests and for writing K-quant files (synth/convert).
void quantize_row_q8_k_ref(const float* x, void* dst, int64_t n);
void quantize_row_q4_k_ref(const float* x, void* dst, int64_t n);
void quantize_row_q5_k_ref(const float* x, void* dst, int64_t n);
void quantize_row_q6_k_ref(const float* x, void* dst, int64_t n);

}  // namespace rkchat::kernels
