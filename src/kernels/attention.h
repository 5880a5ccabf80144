// Blocked attention over the KV cache with an online softmax (flash attention), for prefill and decode alike.
// A call handles the queries that share one KV head (a GQA group, times several tokens of one sequence in prefill)
// over one span of cached positions, so each key and value row is read from memory once for all of them; long
// contexts are split into spans on several threads and merged by attend_merge (split-K / flash-decoding).
#pragma once

#include <cstdint>

#include "kernels/ops.h"

namespace rkchat::kernels {

constexpr int kMaxHeadDim = 256;  // larger heads use attend() from ops.h

// The running state of one query over a span: `head_dim + 2` floats,
//   [0, head_dim)  acc = sum_p exp(s_p - m) * v_p
//   head_dim       m   = max_p s_p (-inf when the span held no position of this query)
//   head_dim + 1   l   = sum_p exp(s_p - m)
// with s_p = scale * q . k_p over the positions p of the span that the query sees.
inline int64_t attend_state_floats(int head_dim) { return head_dim + 2; }

struct AttendSpan {
  KvType type = KvType::f16;
  int nq = 0;                       // queries
  const float* const* q = nullptr;  // [nq] query vectors of head_dim floats
  const int* limit = nullptr;       // [nq] query i sees positions < limit[i] (its own position + 1)
  float* const* state = nullptr;    // [nq] output states, see above
  const void* k = nullptr;          // position 0 of this KV head's rows (ops.h), `stride_bytes` apart
  const void* v = nullptr;
  int64_t stride_bytes = 0;
  int p0 = 0, p1 = 0;  // the span of positions [p0, p1)
  int head_dim = 0;    // <= kMaxHeadDim
  float scale = 1.0f;
};

// Fills a.state for the span, on the active ISA (kernels::select_isa / RKCHAT_ISA).
void attend_span(const AttendSpan& a);

// out[head_dim] = the attention output from the states of n spans (`state_stride` floats apart) that together
// cover every position the query sees; the first span must hold at least one of them.
void attend_merge(const float* states, int64_t state_stride, int n, int head_dim, float* out);

}  // namespace rkchat::kernels
