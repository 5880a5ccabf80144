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

// KV cache rows, one per KV head: f16 (the default), f32 (exact) or q8_0 (about half of f16). A q8_0 head row is
// GGUF's Q8_0 blocks along the row, each an fp16 scale d then its int8 quants q (value d * q, d = max|x| / 127),
// ceil(head_dim / 32) of them; when head_dim is not a multiple of 32 the last block is shorter (80 = 32 + 32 + 16).
// Blocks stay inside one head rather than run along the whole KV row: attention reads one head's row, which then
// never starts inside a block nor shares a scale with the neighbouring head (whose outliers would coarsen it), and
// nothing is padded: a row takes exactly 2 * ceil(head_dim / 32) + head_dim bytes.
enum class KvType { f16, f32, q8_0 };
const char* kv_type_name(KvType t);  // "f16", "f32", "q8_0": the --kv-type spelling
// Bytes of one head's row of keys (or values).
size_t kv_row_bytes(KvType t, int64_t head_dim);
// Stores n_heads rows of head_dim floats (src[n_heads * head_dim]) at dst, kv_row_bytes(t, head_dim) apart: the
// one place where the cache's values are rounded or quantized.
void kv_store(KvType t, void* dst, const float* src, int n_heads, int head_dim);
// Attention of one query head over `n_pos` cached positions: out[head_dim] = softmax(scale * q.K) V.
// k and v point at position 0 of this head's rows; consecutive positions are `stride_bytes` apart. scores is
// scratch of n_pos floats.
void attend(KvType t, const float* q, const void* k, const void* v, int64_t stride_bytes, int n_pos, int head_dim,
            float scale, float* scores, float* out);

}  // namespace rkchat::kernels
