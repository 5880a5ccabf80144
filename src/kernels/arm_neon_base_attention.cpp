// The blocked attention kernel compiled for NEON (see attention_span.h), with NEON half -> float conversion.
#include <arm_neon.h>

#include "kernels/attention_span.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {
namespace {

void half_to_float(const uint16_t* src, float* dst, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
  for (; i < n; ++i) {
    __fp16 h;
    std::memcpy(&h, src + i, sizeof h);
    dst[i] = static_cast<float>(h);
  }
}

void attend_span_neon(const AttendSpan& a) { attention_impl::attend_span<attention_impl::PlainOps>(a, half_to_float); }

}  // namespace

void fill_attention_neon(KernelTable& t) { t.attend_span = attend_span_neon; }

}  // namespace rkchat::kernels
