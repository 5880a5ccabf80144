// The forward pass: token ids in, next-token logits out. It knows ids and tensors, never text.
//
// A Batch may hold tokens of several sequences (each with its own KV cache slot): all of them share one pass over
// the weights, which is what makes batched decoding of many conversations cheap.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/thread_pool.h"
#include "model/arch.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace rkchat::gguf {
class File;
}

namespace rkchat::model {

// One row per token. For each sequence, its tokens appear in order at consecutive positions starting at the
// sequence's current cache length.
struct Batch {
  std::vector<int32_t> token;
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;
  std::vector<uint8_t> want_logits;  // rows whose logits are returned, in row order

  void add(int32_t tok, int32_t position, int32_t sequence, bool logits) {
    token.push_back(tok);
    pos.push_back(position);
    seq.push_back(sequence);
    want_logits.push_back(logits ? 1 : 0);
  }
  void clear() {
    token.clear();
    pos.clear();
    seq.clear();
    want_logits.clear();
  }
  int size() const { return static_cast<int>(token.size()); }
  int n_logits() const;
};

// What forward() writes for the marked rows of a batch.
enum class Output {
  logits,  // [rows, n_vocab]: the next-token scores
  hidden,  // [rows, n_embd]: the final hidden state (after the output norm, before the LM head), for embeddings
};

class Model {
 public:
  // The file must outlive the model (weights point into its mapping). max_batch: most rows per internal pass
  // (longer batches are split); buffers for it are allocated here, none in forward().
  Model(const gguf::File& file, int max_batch = kDefaultMaxBatch);

  // Bytes of the activation buffers that the constructor allocates for these hyperparameters (the weights stay in
  // the file's mapping; the matmul workspace, a fraction of this, is not counted). Checked against the memory
  // before a Model is made: the sizes come from the file's metadata.
  static uint64_t activation_bytes(const HParams& hp, int max_batch = kDefaultMaxBatch);
  static constexpr int kDefaultMaxBatch = 256;

  const HParams& hparams() const { return hp_; }
  const Weights& weights() const { return w_; }
  // Repacks the weights into the active ISA's load-time layout, where it has one (repack_weights); the bytes
  // repacked. The forward pass reads either layout.
  size_t repack_weights(kernels::ThreadPool& pool) { return model::repack_weights(w_, pool); }

  // Decodes the batch: stores each row's keys/values in its sequence's cache, advances the sequences' lengths and
  // writes the output of the rows marked want_logits to `out` (row order; [n_logits, n_vocab] for logits,
  // [n_logits, n_embd] for hidden states). Throws std::invalid_argument for a malformed batch (token out of range,
  // positions not continuing the cache, overflowing the context) without touching the cache.
  void forward(const Batch& batch, KvCache& cache, kernels::ThreadPool& pool, float* out, Output kind = Output::logits);

 private:
  void validate(const Batch& batch, const KvCache& cache) const;
  void forward_chunk(const Batch& batch, int begin, int end, KvCache& cache, kernels::ThreadPool& pool, float*& out,
                     Output kind);
  void attention_layer(int layer, const Batch& batch, int begin, int n, KvCache& cache, kernels::ThreadPool& pool);
  // att_ = attention of the chunk's rows over their sequences' cached positions.
  void attend_rows(int layer, const Batch& batch, int begin, int n, KvCache& cache, kernels::ThreadPool& pool);
  void attend_rows_unblocked(int layer, const Batch& batch, int begin, int n, KvCache& cache,
                             kernels::ThreadPool& pool);
  void ffn_layer(int layer, int n, kernels::ThreadPool& pool);
  // xn_[t] = rmsnorm(x_[t]) * weight for the first n rows, rows split across the pool.
  void norm_rows(const float* weight, int n, kernels::ThreadPool& pool);
  void rope_tables(const Batch& batch, int begin, int n);
  // The products that share the normed activations xn_: q/k/v into q_/k_/v_, gate/up into gate_/up_.
  std::array<kernels::MatmulOut, 3> qkv_outs(const LayerWeights& l);
  std::array<kernels::MatmulOut, 2> gate_up_outs(const LayerWeights& l);

  HParams hp_;
  Weights w_;
  int max_batch_;
  std::vector<double> inv_freq_;  // [n_rot / 2]
  // Leaves new elements uninitialised. The activations are sized once for the largest batch (15 MB for
  // Qwen3-0.6B); zero-filling them would make every page resident before a batch needs it, and every element is
  // written by the pass before it is read.
  template <class T>
  struct NoInit : std::allocator<T> {
    template <class U>
    struct rebind {
      using other = NoInit<U>;
    };
    template <class U>
    void construct(U* p) noexcept {
      ::new (static_cast<void*>(p)) U;
    }
  };
  using Activations = std::vector<float, NoInit<float>>;

  // Activations for up to max_batch_ rows.
  Activations x_;              // [n, n_embd] residual stream
  Activations xn_;             // [n, n_embd] normed
  Activations q_;              // [n, q_dim]
  Activations k_;              // [n, kv_dim]
  Activations v_;              // [n, kv_dim]
  Activations att_;            // [n, q_dim]
  Activations gate_;           // [n, n_ff]
  Activations up_;             // [n, n_ff]
  std::vector<float> cos_;     // [n, n_rot / 2]
  std::vector<float> sin_;     // [n, n_rot / 2]
  std::vector<float> scores_;  // [threads, n_ctx] attention scratch, sized on first use per cache
  std::vector<float> states_;  // [n, n_head, spans, head_dim + 2] attention states per span, sized on first use
  std::vector<std::pair<int, int>> tiles_;  // attention tiles: [first row, end row) of one sequence
  kernels::Workspace ws_;
};

}  // namespace rkchat::model
