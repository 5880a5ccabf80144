// Block layouts of the quantized types, exactly as ggml/GGUF store them. Sizes pinned by static_assert.
#pragma once

#include <cstdint>

namespace rkchat::kernels {

constexpr int QK8_0 = 32;
constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;

using fp16_t = uint16_t;  // IEEE half, stored as bits

struct BlockQ8_0 {
  fp16_t d;
  int8_t qs[QK8_0];
};
struct BlockQ8_1 {
  fp16_t d;
  fp16_t s;  // d * sum(qs)
  int8_t qs[QK8_0];
};
struct BlockQ4_0 {
  fp16_t d;
  uint8_t qs[QK4_0 / 2];  // low nibbles: elements 0..15, high nibbles: 16..31
};
struct BlockQ4_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qs[QK4_1 / 2];
};
struct BlockQ4_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];  // 8 sub-block scales and mins, 6 bits each
  uint8_t qs[QK_K / 2];
};
struct BlockQ5_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  fp16_t d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace rkchat::kernels
