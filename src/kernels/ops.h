// Element-wise and attention helpers of the forward pass. They are memory-light next to the matmuls, so they are
// plain loops compiled for several x86 levels (function clones picked by the loader) rather than hand-written SIMD.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rkchat::kernels {

// y = x / sqrt(mean(x^2) + eps) * w  (sum in double, as ggml does). y may alias x.
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);
// g = silu(g) * u
void silu_mul(float* g, const float* u, int64_t n);
// y += x
void add(float* y, const float* x, int64_t n);
// x = softmax(x) in place (max-subtracted, sum in double).
void softmax(float* x, int64_t n);
// Rotates the first 2*n_pairs dims of one head by angles given as cos/sin [n_pairs]: neox pairs (i, i+n_pairs),
// else adjacent pairs (2i, 2i+1).
void rope(float* x, int n_pairs, const float* cos, const float* sin, bool neox);

// KV cache rows: stored as f16 (half the memory) or f32 (exact).
enum class KvType { f16, f32 };
size_t kv_elem_bytes(KvType t);
void kv_store(KvType t, void* dst, const float* src, int64_t n);
// Attention of one query head over `n_pos` cached positions: out[head_dim] = softmax(scale * q.K) V.
// k and v point at position 0 of this head; consecutive positions are `stride` elements apart. scores is scratch
// of n_pos floats.
void attend(KvType t, const float* q, const void* k, const void* v, int64_t stride, int n_pos, int head_dim,
            float scale, float* scores, float* out);

}  // namespace rkchat::kernels
