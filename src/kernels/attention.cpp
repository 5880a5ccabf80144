#include "kernels/attention.h"

#include <cmath>

#include "kernels/attention_span.h"
#include "kernels/kernel_table.h"

namespace rkchat::kernels {
namespace {

// The reference: the blocked kernel compiled for the baseline ISA with the portable row conversions.
void attend_span_ref(const AttendSpan& a) {
  attention_impl::attend_span<attention_impl::PlainOps, attention_impl::PlainRows>(a);
}

}  // namespace

void fill_attention_ref(KernelTable& t) { t.attend_span = attend_span_ref; }

void attend_span(const AttendSpan& a) { kernel_table().attend_span(a); }

void attend_merge(const float* states, int64_t state_stride, int n, int head_dim, float* out) {
  float m = -INFINITY;
  for (int c = 0; c < n; ++c) m = std::max(m, states[c * state_stride + head_dim]);
  float l = 0.0f;
  for (int i = 0; i < head_dim; ++i) out[i] = 0.0f;
  for (int c = 0; c < n; ++c) {
    const float* st = states + c * state_stride;
    if (st[head_dim + 1] == 0.0f) continue;  // a span past this query's position
    const float w = std::exp(st[head_dim] - m);
    l += w * st[head_dim + 1];
    for (int i = 0; i < head_dim; ++i) out[i] += w * st[i];
  }
  const float inv = 1.0f / l;
  for (int i = 0; i < head_dim; ++i) out[i] *= inv;
}

}  // namespace rkchat::kernels
