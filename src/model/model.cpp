#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gguf/gguf.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace rkchat::model {

namespace k = rkchat::kernels;

int Batch::n_logits() const {
  int n = 0;
  for (uint8_t w : want_logits) n += w;
  return n;
}

Model::Model(const gguf::File& file, int max_batch)
    : hp_(validate_model(file)), w_(load_weights(file, hp_)), max_batch_(std::max(1, max_batch)) {
  const size_t n = static_cast<size_t>(max_batch_);
  x_.resize(n * hp_.n_embd);
  xn_.resize(n * hp_.n_embd);
  q_.resize(n * hp_.q_dim());
  k_.resize(n * hp_.kv_dim());
  v_.resize(n * hp_.kv_dim());
  att_.resize(n * hp_.q_dim());
  gate_.resize(n * hp_.n_ff);
  up_.resize(n * hp_.n_ff);
  cos_.resize(n * hp_.n_rot / 2);
  sin_.resize(n * hp_.n_rot / 2);
  // theta_i = base^(-2i / n_rot), divided by the optional per-frequency factors (Llama 3.1).
  inv_freq_.resize(static_cast<size_t>(hp_.n_rot / 2));
  for (int i = 0; i < hp_.n_rot / 2; ++i) {
    double f = std::pow(static_cast<double>(hp_.rope_base), -2.0 * i / hp_.n_rot);
    if (w_.rope_freqs) f /= static_cast<double>(w_.rope_freqs[i]);
    inv_freq_[static_cast<size_t>(i)] = f;
  }
  size_t ws = k::matmul_workspace_bytes(w_.output.type, w_.output.cols, max_batch_);
  for (const auto& l : w_.layers) {
    for (const k::Matrix* m : {&l.wo, &l.w_down})
      ws = std::max(ws, k::matmul_workspace_bytes(m->type, m->cols, max_batch_));
    ws = std::max(ws, k::matmul_multi_workspace_bytes(qkv_outs(l), max_batch_));
    ws = std::max(ws, k::matmul_multi_workspace_bytes(gate_up_outs(l), max_batch_));
  }
  ws_.get(ws);
}

uint64_t Model::activation_bytes(const HParams& hp, int max_batch) {
  // x_, xn_, q_, att_, k_, v_, gate_, up_, cos_ + sin_ (floats) and inv_freq_ (doubles), as the constructor sizes them.
  const auto per_row = static_cast<uint64_t>(2 * hp.n_embd) + 2 * static_cast<uint64_t>(hp.q_dim()) +
                       2 * static_cast<uint64_t>(hp.kv_dim()) + 2 * static_cast<uint64_t>(hp.n_ff) +
                       static_cast<uint64_t>(hp.n_rot);
  return static_cast<uint64_t>(std::max(1, max_batch)) * per_row * sizeof(float) +
         static_cast<uint64_t>(hp.n_rot / 2) * sizeof(double);
}

std::array<k::MatmulOut, 3> Model::qkv_outs(const LayerWeights& l) {
  return {{{&l.wq, q_.data(), hp_.q_dim()}, {&l.wk, k_.data(), hp_.kv_dim()}, {&l.wv, v_.data(), hp_.kv_dim()}}};
}

std::array<k::MatmulOut, 2> Model::gate_up_outs(const LayerWeights& l) {
  return {{{&l.w_gate, gate_.data(), hp_.n_ff}, {&l.w_up, up_.data(), hp_.n_ff}}};
}

void Model::validate(const Batch& b, const KvCache& cache) const {
  const size_t n = b.token.size();
  if (b.pos.size() != n || b.seq.size() != n || b.want_logits.size() != n)
    throw std::invalid_argument("batch arrays differ in length");
  std::vector<int> next(static_cast<size_t>(cache.n_seq()));
  for (int s = 0; s < cache.n_seq(); ++s) next[static_cast<size_t>(s)] = cache.length(s);
  for (size_t i = 0; i < n; ++i) {
    if (b.token[i] < 0 || b.token[i] >= hp_.n_vocab)
      throw std::invalid_argument("token id " + std::to_string(b.token[i]) + " is outside the vocabulary (0.." +
                                  std::to_string(hp_.n_vocab - 1) + ")");
    if (b.seq[i] < 0 || b.seq[i] >= cache.n_seq())
      throw std::invalid_argument("sequence " + std::to_string(b.seq[i]) + " has no cache slot");
    int& expect = next[static_cast<size_t>(b.seq[i])];
    if (b.pos[i] != expect)
      throw std::invalid_argument("position " + std::to_string(b.pos[i]) + " does not continue sequence " +
                                  std::to_string(b.seq[i]) + " (expected " + std::to_string(expect) + ")");
    if (++expect > cache.n_ctx())
      throw std::invalid_argument("sequence " + std::to_string(b.seq[i]) + " exceeds the context of " +
                                  std::to_string(cache.n_ctx()) + " tokens");
  }
}

void Model::forward(const Batch& batch, KvCache& cache, k::ThreadPool& pool, float* out, Output kind) {
  validate(batch, cache);
  const size_t need = static_cast<size_t>(pool.size()) * static_cast<size_t>(cache.n_ctx());
  if (scores_.size() < need) scores_.resize(need);
  for (int begin = 0; begin < batch.size(); begin += max_batch_)
    forward_chunk(batch, begin, std::min(batch.size(), begin + max_batch_), cache, pool, out, kind);
}

void Model::rope_tables(const Batch& b, int begin, int n) {
  const int half = hp_.n_rot / 2;
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < half; ++i) {
      const double theta = b.pos[static_cast<size_t>(begin + t)] * inv_freq_[static_cast<size_t>(i)];
      cos_[static_cast<size_t>(t * half + i)] = static_cast<float>(std::cos(theta));
      sin_[static_cast<size_t>(t * half + i)] = static_cast<float>(std::sin(theta));
    }
}

void Model::forward_chunk(const Batch& b, int begin, int end, KvCache& cache, k::ThreadPool& pool, float*& out,
                          Output kind) {
  const int n = end - begin;
  const int64_t d = hp_.n_embd;
  // Embeddings: x[t] = token_embd[token[t]]
  for (int t = 0; t < n; ++t)
    k::dequantize_matrix_row(w_.tok_embd, b.token[static_cast<size_t>(begin + t)], &x_[static_cast<size_t>(t * d)]);
  rope_tables(b, begin, n);
  for (int l = 0; l < hp_.n_layer; ++l) {
    attention_layer(l, b, begin, n, cache, pool);
    ffn_layer(l, n, pool);
  }
  // Gather the marked rows, normed, then project them onto the vocabulary (or hand them out as they are: the
  // hidden states that embeddings pool).
  int rows = 0;
  float* normed = kind == Output::hidden ? out : xn_.data();
  for (int t = 0; t < n; ++t) {
    if (!b.want_logits[static_cast<size_t>(begin + t)]) continue;
    k::rmsnorm(&x_[static_cast<size_t>(t * d)], w_.output_norm, normed + static_cast<size_t>(rows * d), d, hp_.rms_eps);
    ++rows;
  }
  if (kind == Output::hidden) {
    out += static_cast<size_t>(rows) * d;
    return;
  }
  if (rows == 0) return;
  k::matmul(w_.output, xn_.data(), d, out, hp_.n_vocab, rows, pool, ws_);
  out += static_cast<size_t>(rows) * hp_.n_vocab;
}

void Model::attention_layer(int il, const Batch& b, int begin, int n, KvCache& cache, k::ThreadPool& pool) {
  const LayerWeights& l = w_.layers[static_cast<size_t>(il)];
  const int64_t d = hp_.n_embd, qd = hp_.q_dim(), kvd = hp_.kv_dim(), hd = hp_.head_dim;
  norm_rows(l.attn_norm, n, pool);
  k::matmul_multi(qkv_outs(l), xn_.data(), d, n, pool, ws_);
  const int half = hp_.n_rot / 2;
  const bool neox = hp_.arch->rope == RopeStyle::neox;
  // Per row: biases (qwen2), per-head q/k norm (qwen3), RoPE, then store k and v in the cache.
  pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      float* q = &q_[static_cast<size_t>(t * qd)];
      float* kk = &k_[static_cast<size_t>(t * kvd)];
      float* vv = &v_[static_cast<size_t>(t * kvd)];
      if (l.bq) {
        k::add(q, l.bq, qd);
        k::add(kk, l.bk, kvd);
        k::add(vv, l.bv, kvd);
      }
      const float* c = &cos_[static_cast<size_t>(t * half)];
      const float* s = &sin_[static_cast<size_t>(t * half)];
      for (int h = 0; h < hp_.n_head; ++h) {
        if (l.q_norm) k::rmsnorm(q + h * hd, l.q_norm, q + h * hd, hd, hp_.rms_eps);
        k::rope(q + h * hd, half, c, s, neox);
      }
      for (int h = 0; h < hp_.n_head_kv; ++h) {
        if (l.k_norm) k::rmsnorm(kk + h * hd, l.k_norm, kk + h * hd, hd, hp_.rms_eps);
        k::rope(kk + h * hd, half, c, s, neox);
      }
      const int seq = b.seq[static_cast<size_t>(begin + t)], pos = b.pos[static_cast<size_t>(begin + t)];
      for (int h = 0; h < hp_.n_head_kv; ++h) {
        k::kv_store(cache.type(), cache.k(il, seq, h, pos), kk + h * hd, 1, hd);
        k::kv_store(cache.type(), cache.v(il, seq, h, pos), vv + h * hd, 1, hd);
      }
    }
  });
  attend_rows(il, b, begin, n, cache, pool);
  for (int t = 0; t < n; ++t) {
    const int seq = b.seq[static_cast<size_t>(begin + t)];
    cache.set_length(seq, std::max(cache.length(seq), b.pos[static_cast<size_t>(begin + t)] + 1));
  }
  // Output projection, added to the residual stream (xn_ holds the product).
  k::matmul(l.wo, att_.data(), qd, xn_.data(), d, n, pool, ws_);
  for (int t = 0; t < n; ++t) k::add(&x_[static_cast<size_t>(t * d)], &xn_[static_cast<size_t>(t * d)], d);
}

namespace {

// Queries per blocked attention call: a tile of tokens times the heads of one KV group.
constexpr int kMaxQueries = 32;
// Decode splits a context into spans of at least this many positions when the heads alone leave threads idle.
constexpr int kMinSpan = 256;

}  // namespace

void Model::attend_rows(int il, const Batch& b, int begin, int n, KvCache& cache, k::ThreadPool& pool) {
  const int hd = hp_.head_dim, n_head = hp_.n_head, n_kv = hp_.n_head_kv, group = n_head / n_kv;
  // The F32 cache keeps the sequential float order in which the reference logits were computed (near-ties in the
  // fixtures' greedy ids flip under the blocked kernel's order); F16, rkchat's default, and Q8_0 take the blocked
  // kernel.
  if (cache.type() == k::KvType::f32 || hd > k::kMaxHeadDim || group > kMaxQueries)
    return attend_rows_unblocked(il, b, begin, n, cache, pool);
  const int64_t qd = hp_.q_dim();
  // Tiles: runs of consecutive rows of one sequence, so that their queries share the cached rows they read.
  const int per_tile = kMaxQueries / group;
  tiles_.clear();
  int longest = 0;
  for (int t = 0; t < n; ++t) {
    const size_t r = static_cast<size_t>(begin + t);
    longest = std::max(longest, b.pos[r] + 1);
    if (tiles_.empty() || b.seq[r] != b.seq[r - 1] || t - tiles_.back().first == per_tile)
      tiles_.emplace_back(t, t + 1);
    else
      tiles_.back().second = t + 1;
  }
  // Spans: split the positions when tiles x heads alone leave threads idle (decode), flash-decoding style.
  const int items = static_cast<int>(tiles_.size()) * n_kv;
  int spans = std::clamp((4 * pool.size() + items - 1) / items, 1, std::max(1, longest / kMinSpan));
  const int span_len = ((longest + spans - 1) / spans + 31) / 32 * 32;
  spans = (longest + span_len - 1) / span_len;
  const int64_t sf = k::attend_state_floats(hd);
  const size_t need = static_cast<size_t>(n) * n_head * spans * sf;
  if (states_.size() < need) states_.resize(need);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto state_of = [&](int t, int h, int sp) {
    return &states_[static_cast<size_t>(((t * n_head + h) * spans + sp) * sf)];
  };
  pool.parallel_for(static_cast<int64_t>(items) * spans, [&](int64_t i0, int64_t i1, int) {
    const float* q[kMaxQueries];
    int limit[kMaxQueries];
    float* state[kMaxQueries];
    for (int64_t i = i0; i < i1; ++i) {
      const auto [t0, t1] = tiles_[static_cast<size_t>(i / (n_kv * spans))];
      const int kvh = static_cast<int>(i / spans % n_kv), sp = static_cast<int>(i % spans);
      int nq = 0;
      for (int t = t0; t < t1; ++t)
        for (int h = kvh * group; h < (kvh + 1) * group; ++h, ++nq) {
          q[nq] = &q_[static_cast<size_t>(t * qd + h * hd)];
          limit[nq] = b.pos[static_cast<size_t>(begin + t)] + 1;
          state[nq] = state_of(t, h, sp);
        }
      const int seq = b.seq[static_cast<size_t>(begin + t0)];
      k::AttendSpan a;
      a.type = cache.type();
      a.nq = nq;
      a.q = q;
      a.limit = limit;
      a.state = state;
      a.k = cache.k(il, seq, kvh, 0);
      a.v = cache.v(il, seq, kvh, 0);
      a.stride_bytes = cache.head_row_bytes();
      a.p0 = sp * span_len;
      a.p1 = std::min(longest, a.p0 + span_len);
      a.head_dim = hd;
      a.scale = scale;
      k::attend_span(a);
    }
  });
  pool.parallel_for(static_cast<int64_t>(n) * n_head, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const int t = static_cast<int>(i / n_head), h = static_cast<int>(i % n_head);
      k::attend_merge(state_of(t, h, 0), sf, spans, hd, &att_[static_cast<size_t>(t * qd + h * hd)]);
    }
  });
}

// The F32 cache and heads larger than the blocked kernel's tiles: one (row, head) pair per work item.
void Model::attend_rows_unblocked(int il, const Batch& b, int begin, int n, KvCache& cache, k::ThreadPool& pool) {
  const int64_t qd = hp_.q_dim(), hd = hp_.head_dim;
  const int group = hp_.n_head / hp_.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int n_ctx = cache.n_ctx();
  pool.parallel_for(static_cast<int64_t>(n) * hp_.n_head, [&](int64_t i0, int64_t i1, int tid) {
    float* scores = &scores_[static_cast<size_t>(tid) * n_ctx];
    for (int64_t i = i0; i < i1; ++i) {
      const int t = static_cast<int>(i / hp_.n_head), h = static_cast<int>(i % hp_.n_head);
      const int seq = b.seq[static_cast<size_t>(begin + t)], pos = b.pos[static_cast<size_t>(begin + t)];
      const int kvh = h / group;
      k::attend(cache.type(), &q_[static_cast<size_t>(t * qd + h * hd)],
                static_cast<const uint8_t*>(cache.k(il, seq, kvh, 0)),
                static_cast<const uint8_t*>(cache.v(il, seq, kvh, 0)), cache.head_row_bytes(), pos + 1,
                static_cast<int>(hd), scale, scores, &att_[static_cast<size_t>(t * qd + h * hd)]);
    }
  });
}

void Model::norm_rows(const float* weight, int n, k::ThreadPool& pool) {
  const int64_t d = hp_.n_embd;
  pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t)
      k::rmsnorm(&x_[static_cast<size_t>(t * d)], weight, &xn_[static_cast<size_t>(t * d)], d, hp_.rms_eps);
  });
}

void Model::ffn_layer(int il, int n, k::ThreadPool& pool) {
  const LayerWeights& l = w_.layers[static_cast<size_t>(il)];
  const int64_t d = hp_.n_embd, ff = hp_.n_ff;
  norm_rows(l.ffn_norm, n, pool);
  k::matmul_multi(gate_up_outs(l), xn_.data(), d, n, pool, ws_);
  pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
    k::silu_mul(&gate_[static_cast<size_t>(t0 * ff)], &up_[static_cast<size_t>(t0 * ff)], (t1 - t0) * ff);
  });
  k::matmul(l.w_down, gate_.data(), ff, xn_.data(), d, n, pool, ws_);
  for (int t = 0; t < n; ++t) k::add(&x_[static_cast<size_t>(t * d)], &xn_[static_cast<size_t>(t * d)], d);
}

}  // namespace rkchat::model
