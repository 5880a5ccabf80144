// Scalar reference of the K-quant formats: the spec every SIMD K-quant kernel is tested against.
//
// Main idea: a super-block of 256 weights carries one fp16 scale d (and for Q4_K/Q5_K one fp16 dmin) and small
// integer scales per sub-block (8 of 32 with 6-bit scale and min for Q4_K/Q5_K, 16 of 16 with int8 scales for
// Q6_K). Activations are Q8_K: 256 int8 with one f32 scale and the int16 sums of each 16 (bsums), so the mins
// term of Q4_K/Q5_K is sum_j min_j * bsums_j and needs no per-element work. Dot products are exact integer sums
// per super-block in 8 lanes, added up in float in the order of ref_lanes.h, the x86 AVX2 kernels' order (which
// every ISA shares, so that all agree bit for bit): lane k holds elements 32c+4k..32c+4k+3 of every chunk c of 32.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/kernel_table.h"
#include "kernels/kquants.h"
#include "kernels/ref_lanes.h"

namespace rkchat::kernels {

namespace {

// Round to nearest (ties to even), as ggml's nearest_int; defined for NaN and infinities (no UB).
inline int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &shifted, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// Sub-block j's 6-bit scale and min (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// The inverse of scale_min_k4 for 8 scales and mins in [0, 63].
void pack_scales_k4(const int* sc, const int* m, uint8_t* out) {
  std::memset(out, 0, K_SCALE_SIZE);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] = static_cast<uint8_t>(sc[j]);
      out[j + 4] = static_cast<uint8_t>(m[j]);
    } else {
      out[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
      out[j - 4] = static_cast<uint8_t>(out[j - 4] | ((sc[j] >> 4) << 6));
      out[j] = static_cast<uint8_t>(out[j] | ((m[j] >> 4) << 6));
    }
  }
}

// Element 64*g + l (l < 32) of a Q4_K/Q5_K block is the low nibble of qs[32*g + l], element 64*g + 32 + l the high
// one; for Q5_K bit 2*g (resp. 2*g+1) of qh[l] adds 16. Fills q[256] with values 0..15 (0..31 with qh).
void unpack_q45(const uint8_t* qs, const uint8_t* qh, int* q) {
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      q[64 * g + l] = qs[32 * g + l] & 0xF;
      q[64 * g + 32 + l] = qs[32 * g + l] >> 4;
      if (qh) {
        q[64 * g + l] += ((qh[l] >> (2 * g)) & 1) << 4;
        q[64 * g + 32 + l] += ((qh[l] >> (2 * g + 1)) & 1) << 4;
      }
    }
  }
}

// Q6_K: element 128*n + 32*k + l (k < 4, l < 32) is 4 bits of ql and 2 bits of qh, minus 32. Fills q[256].
void unpack_q6(const BlockQ6_K& b, int* q) {
  for (int n = 0; n < 2; ++n) {
    const uint8_t* ql = b.ql + 64 * n;
    const uint8_t* qh = b.qh + 32 * n;
    for (int l = 0; l < 32; ++l) {
      q[128 * n + l] = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      q[128 * n + 32 + l] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      q[128 * n + 64 + l] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      q[128 * n + 96 + l] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
    }
  }
}

// x ~= (d * sc_j) * q - (dmin * m_j) for the Q4_K and Q5_K block types (qh == nullptr for Q4_K).
template <class Block>
void dequantize_q45(const Block& b, const uint8_t* qh, float* y) {
  int q[QK_K];
  unpack_q45(b.qs, qh, q);
  const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    scale_min_k4(j, b.scales, sc, m);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) y[32 * j + l] = dl * static_cast<float>(q[32 * j + l]) - ml;
  }
}

// One super-block's dot product added to acc. Lane k: sum_j sc_j * (products of elements 32j+4k..32j+4k+3), and
// the mins term min_k * (bsums[2k] + bsums[2k+1]), subtracted with its own fused multiply-add.
template <class Block>
void dot_q45(const Block& b, const uint8_t* qh, const BlockQ8_K& a, FloatLanes8& acc) {
  int q[QK_K];
  unpack_q45(b.qs, qh, q);
  int32_t lanes[8] = {}, mins[8];
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    scale_min_k4(j, b.scales, sc, m);
    for (int l = 0; l < 32; ++l) lanes[l / 4] += sc * q[32 * j + l] * a.qs[32 * j + l];
    mins[j] = m * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
  }
  acc.fma(lanes, fp16_to_fp32(b.d) * a.d);
  acc.fma(mins, -(fp16_to_fp32(b.dmin) * a.d));
}

// Lane k: sum over chunks c of sc * (q + 32) * x for elements 32c+4k..32c+4k+3, minus the offset 32 * (sc[2k] *
// bsums[2k] + sc[2k+1] * bsums[2k+1]): the same exact integers as the SIMD kernels, which multiply the unsigned
// 6-bit values and take the -32 from the bsums.
void dot_q6(const BlockQ6_K& b, const BlockQ8_K& a, FloatLanes8& acc) {
  int q[QK_K];
  unpack_q6(b, q);
  int32_t lanes[8] = {};
  for (int e = 0; e < QK_K; ++e) lanes[(e % 32) / 4] += b.scales[e / 16] * (q[e] + 32) * a.qs[e];
  for (int k = 0; k < 8; ++k)
    lanes[k] -= 32 * (b.scales[2 * k] * a.bsums[2 * k] + b.scales[2 * k + 1] * a.bsums[2 * k + 1]);
  acc.fma(lanes, fp16_to_fp32(b.d) * a.d);
}

void dot_block(const BlockQ4_K& b, const BlockQ8_K& a, FloatLanes8& acc) { dot_q45(b, nullptr, a, acc); }
void dot_block(const BlockQ5_K& b, const BlockQ8_K& a, FloatLanes8& acc) { dot_q45(b, b.qh, a, acc); }
void dot_block(const BlockQ6_K& b, const BlockQ8_K& a, FloatLanes8& acc) { dot_q6(b, a, acc); }

template <class Block>
void gemm_ref(const uint8_t* w, size_t w_row_bytes, const uint8_t* a, size_t a_row_bytes, float* y, int64_t ldy,
              int64_t r0, int64_t r1, int n_tok, int64_t cols) {
  const int64_t nb = cols / QK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const auto* wr = reinterpret_cast<const Block*>(w + static_cast<size_t>(r) * w_row_bytes);
    for (int t = 0; t < n_tok; ++t) {
      const auto* at = reinterpret_cast<const BlockQ8_K*>(a + static_cast<size_t>(t) * a_row_bytes);
      FloatLanes8 acc;
      for (int64_t b = 0; b < nb; ++b) dot_block(wr[b], at[b], acc);
      y[t * ldy + r] = acc.sum();
    }
  }
}

// Simple reference quantizer of Q4_K/Q5_K (not llama.cpp's error search): per sub-block of 32, an affine map of
// [min(x, 0), max(x)] onto 0..nmax; the sub-block scales and mins are then quantized to 6 bits against d, dmin.
template <class Block>
void quantize_q45(const float* x, Block& b, uint8_t* qh, int nmax) {
  float scale[8], minv[8], max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    const float lo = std::min(0.0f, *std::min_element(xs, xs + 32));
    const float hi = std::max(0.0f, *std::max_element(xs, xs + 32));
    scale[j] = (hi - lo) / static_cast<float>(nmax);
    minv[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, minv[j]);
  }
  b.d = fp32_to_fp16(max_scale / 63.0f);
  b.dmin = fp32_to_fp16(max_min / 63.0f);
  const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
  int ls[8], lm[8], q[QK_K];
  for (int j = 0; j < 8; ++j) {
    ls[j] = d > 0.0f ? std::clamp(nearest_int(scale[j] / d), 0, 63) : 0;
    lm[j] = dmin > 0.0f ? std::clamp(nearest_int(minv[j] / dmin), 0, 63) : 0;
    const float step = d * static_cast<float>(ls[j]), offset = dmin * static_cast<float>(lm[j]);
    for (int l = 0; l < 32; ++l) {
      q[32 * j + l] = step > 0.0f ? std::clamp(nearest_int((x[32 * j + l] + offset) / step), 0, nmax) : 0;
    }
  }
  pack_scales_k4(ls, lm, b.scales);
  if (qh) std::memset(qh, 0, QK_K / 8);
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
      b.qs[32 * g + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      if (qh) qh[l] = static_cast<uint8_t>(qh[l] | ((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
    }
  }
}

}  // namespace

void quantize_row_q8_k_ref(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    float max = 0.0f, amax = 0.0f;  // the element of largest magnitude, with its sign
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) dequantize_q45(b[i], nullptr, dst + i * QK_K);
}

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) dequantize_q45(b[i], b[i].qh, dst + i * QK_K);
}

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int q[QK_K];
    unpack_q6(b[i], q);
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < QK_K; ++j)
      dst[i * QK_K + j] = d * static_cast<float>(b[i].scales[j / 16]) * static_cast<float>(q[j]);
  }
}

void quantize_row_q4_k_ref(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_q45(x + i * QK_K, b[i], nullptr, 15);
}

void quantize_row_q5_k_ref(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_q45(x + i * QK_K, b[i], b[i].qh, 31);
}

// Q6_K: symmetric, per sub-block of 16 a scale max|x| / 31 (q in -31..31, stored + 32), quantized to int8 against
// d = max scale / 127.
void quantize_row_q6_k_ref(const float* x, void* dst, int64_t n) {
  auto* out = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    BlockQ6_K& b = out[i];
    float scale[16], max_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      float amax = 0.0f;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
      scale[j] = amax / 31.0f;
      max_scale = std::max(max_scale, scale[j]);
    }
    b.d = fp32_to_fp16(max_scale / 127.0f);
    const float d = fp16_to_fp32(b.d);
    int q[QK_K];
    for (int j = 0; j < 16; ++j) {
      const int ls = d > 0.0f ? std::clamp(nearest_int(scale[j] / d), 0, 127) : 0;
      b.scales[j] = static_cast<int8_t>(ls);
      const float step = d * static_cast<float>(ls);
      for (int l = 0; l < 16; ++l) {
        q[16 * j + l] = (step > 0.0f ? std::clamp(nearest_int(x[16 * j + l] / step), -32, 31) : 0) + 32;
      }
    }
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        const int* qq = q + 128 * h;
        const int q1 = qq[l], q2 = qq[l + 32], q3 = qq[l + 64], q4 = qq[l + 96];
        b.ql[64 * h + l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        b.ql[64 * h + l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        b.qh[32 * h + l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

void fill_kquants_ref(KernelTable& t) {
  t.quantize_row_q8_k = quantize_row_q8_k_ref;
  t.q4_k = {QType::Q8_K, gemm_ref<BlockQ4_K>};
  t.q5_k = {QType::Q8_K, gemm_ref<BlockQ5_K>};
  t.q6_k = {QType::Q8_K, gemm_ref<BlockQ6_K>};
}

}  // namespace rkchat::kernels
