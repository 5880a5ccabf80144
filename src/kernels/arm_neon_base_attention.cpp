// The blocked attention kernel compiled for NEON (see attention_span.h), with NEON half and int8 -> float conversion.
#include <arm_neon.h>

#include "kernels/attention_span.h"
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

void attend_span_neon(const AttendSpan& a) { attention_impl::attend_span<attention_impl::PlainOps, NeonRows>(a); }

}  // namespace

void fill_attention_neon(KernelTable& t) { t.attend_span = attend_span_neon; }

}  // namespace rkchat::kernels
