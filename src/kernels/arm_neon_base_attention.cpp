// The blocked attention kernel compiled for NEON (see attention_span.h), with NEON half and int8 -> float conversion,
// and the vector products of attention_vector_ops.h over 4 lanes: the scores of 4 keys at once, summed across lanes
// together by 3 pairwise adds. (The portable loops of attention_span.h left the products and exp scalar on GCC 12:
// 8.2 M instructions per prefill token of Qwen3-0.6B at 32 positions, counted on the Cortex-A76 model.)
#include <arm_neon.h>

#include "kernels/attention_span.h"
#include "kernels/attention_vector_ops.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {
namespace {

struct NeonRows {
  static void half(const uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
    for (; i < n; ++i) {
      __fp16 h;
      std::memcpy(&h, src + i, sizeof h);
      dst[i] = static_cast<float>(h);
    }
  }
  // 8 quants at a time, widened to int16 then to two int32 halves.
  static void q8(const int8_t* q, float d, float* dst, int m) {
    int i = 0;
    for (; i + 8 <= m; i += 8) {
      const int16x8_t w = vmovl_s8(vld1_s8(q + i));
      vst1q_f32(dst + i, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))), d));
      vst1q_f32(dst + i + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(w)), d));
    }
    for (; i < m; ++i) dst[i] = d * static_cast<float>(q[i]);
  }
};

// The vector type of attention_vector_ops.h.
struct NeonVec {
  using Vec = float32x4_t;
  static constexpr int kN = 4;
  static Vec zero() { return vdupq_n_f32(0.0f); }
  static Vec set1(float v) { return vdupq_n_f32(v); }
  static Vec load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, Vec v) { vst1q_f32(p, v); }
  static Vec add(Vec a, Vec b) { return vaddq_f32(a, b); }
  static Vec mul(Vec a, Vec b) { return vmulq_f32(a, b); }
  static Vec max(Vec a, Vec b) { return vmaxq_f32(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return vfmaq_f32(c, a, b); }
  static float hsum(Vec v) { return vaddvq_f32(v); }
  static float hmax(Vec v) { return vmaxvq_f32(v); }

  // s[j] = q . k[j * n, (j + 1) * n) for j < 4; the last n % 4 products are added one by one.
  static void dots(const float* q, const float* k, int n, float* s) {
    float32x4_t acc[4];
    for (auto& a : acc) a = vdupq_n_f32(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      const float32x4_t qv = vld1q_f32(q + i);
      for (int j = 0; j < 4; ++j) acc[j] = vfmaq_f32(acc[j], qv, vld1q_f32(k + j * n + i));
    }
    // Pairwise adds: keys 0, 1 then 2, 3 in halves, then the 4 sums.
    vst1q_f32(s, vpaddq_f32(vpaddq_f32(acc[0], acc[1]), vpaddq_f32(acc[2], acc[3])));
    for (; i < n; ++i)
      for (int j = 0; j < 4; ++j) s[j] += q[i] * k[j * n + i];
  }
};

void attend_span_neon(const AttendSpan& a) { attention_impl::attend_span<VectorOps<NeonVec>, NeonRows>(a); }

}  // namespace

void fill_attention_neon(KernelTable& t) { t.attend_span = attend_span_neon; }

}  // namespace rkchat::kernels
