// The scalar reference: the specification every ISA is tested against, and the fallback for anything an ISA
// file does not implement. Activation quantizers follow llama.cpp's reference code exactly (bit for bit); the
// quantized products sum exact integers per block and add them up in float in the order of ref_lanes.h (that of
// llama.cpp's x86 AVX2 kernels, which every ISA shares, so that all agree bit for bit).
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_rows.h"
#include "kernels/ref_lanes.h"

namespace rkchat::kernels {

float quantize_block_q8(const float* x, int8_t* q, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < n; ++j) q[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  return d;
}

namespace {

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / QK8_0; ++i) y[i].d = fp32_to_fp16(quantize_block_q8(x + i * QK8_0, y[i].qs, QK8_0));
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    const float d = quantize_block_q8(x + i * QK8_0, y[i].qs, QK8_0);
    int sum = 0;
    for (int j = 0; j < QK8_0; ++j) sum += y[i].qs[j];
    y[i].d = fp32_to_fp16(d);
    y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

// Dot products of one weight row with one activation row, per weight format.
float dot_f32(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const float*>(a);
  float sum = 0.0f;
  for (int64_t c = 0; c < cols; ++c) {
    float v;
    std::memcpy(&v, w + c * 4, 4);
    sum += v * x[c];
  }
  return sum;
}

template <float (*ToF32)(uint16_t)>
float dot_half(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const float*>(a);
  float sum = 0.0f;
  for (int64_t c = 0; c < cols; ++c) {
    uint16_t h;
    std::memcpy(&h, w + c * 2, 2);
    sum += ToF32(h) * x[c];
  }
  return sum;
}

// Element j of a Q4 block's 32 nibbles: the low nibbles are elements 0..15, the high ones 16..31.
int nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4; }

// Q8_0, Q4_0, Q4_1: per 32-block, lane k = products of elements 4k..4k+3, scaled by d_w * d_x (ref_lanes.h).
float dot_q8_0(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* wb = reinterpret_cast<const BlockQ8_0*>(w);
  const auto* ab = reinterpret_cast<const BlockQ8_0*>(a);
  FloatLanes8 acc;
  for (int64_t i = 0; i < cols / QK8_0; ++i) {
    int32_t lanes[8] = {};
    for (int j = 0; j < QK8_0; ++j) lanes[j / 4] += wb[i].qs[j] * ab[i].qs[j];
    acc.fma(lanes, fp16_to_fp32(wb[i].d) * fp16_to_fp32(ab[i].d));
  }
  return acc.sum();
}

float dot_q4_0(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* wb = reinterpret_cast<const BlockQ4_0*>(w);
  const auto* ab = reinterpret_cast<const BlockQ8_0*>(a);
  FloatLanes8 acc;
  for (int64_t i = 0; i < cols / QK4_0; ++i) {
    int32_t lanes[8] = {};
    for (int j = 0; j < QK4_0; ++j) lanes[j / 4] += (nibble(wb[i].qs, j) - 8) * ab[i].qs[j];
    acc.fma(lanes, fp16_to_fp32(wb[i].d) * fp16_to_fp32(ab[i].d));
  }
  return acc.sum();
}

// The min term m_w * s_x of each block goes into lane 0 right after the block's products, as the x86 kernels add it.
float dot_q4_1(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* wb = reinterpret_cast<const BlockQ4_1*>(w);
  const auto* ab = reinterpret_cast<const BlockQ8_1*>(a);
  FloatLanes8 acc;
  for (int64_t i = 0; i < cols / QK4_1; ++i) {
    int32_t lanes[8] = {};
    for (int j = 0; j < QK4_1; ++j) lanes[j / 4] += nibble(wb[i].qs, j) * ab[i].qs[j];
    acc.fma(lanes, fp16_to_fp32(wb[i].d) * fp16_to_fp32(ab[i].d));
    acc.v[0] = std::fma(fp16_to_fp32(wb[i].m), fp16_to_fp32(ab[i].s), acc.v[0]);
  }
  return acc.sum();
}

template <float (*Dot)(const uint8_t*, const uint8_t*, int64_t)>
void gemm(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy, int64_t r0,
          int64_t r1, int n_tok, int64_t cols) {
  for (int64_t r = r0; r < r1; ++r) {
    for (int t = 0; t < n_tok; ++t) y[t * ldy + r] = Dot(w + r * w_row_bytes, a + t * a_row_bytes, cols);
  }
}

}  // namespace

void fill_ref(KernelTable& t) {
  t.isa = "scalar";
  t.quantize_row_q8_0 = quantize_row_q8_0;
  t.quantize_row_q8_1 = quantize_row_q8_1;
  t.f32 = {QType::F32, gemm<dot_f32>};
  t.f16 = {QType::F32, gemm<dot_half<fp16_to_fp32>>};
  t.bf16 = {QType::F32, gemm<dot_half<bf16_to_fp32>>};
  t.q8_0 = {QType::Q8_0, gemm<dot_q8_0>};
  t.q4_0 = {QType::Q8_0, gemm<dot_q4_0>};
  t.q4_1 = {QType::Q8_1, gemm<dot_q4_1>};
}

}  // namespace rkchat::kernels
