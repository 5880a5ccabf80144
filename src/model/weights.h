// Views of a model's tensors inside the mapped GGUF file, resolved once at load: optional and tied tensors are
// decided here so that the forward pass never looks anything up.
#pragma once

#include <memory>
#include <vector>

#include "kernels/kernels.h"
#include "model/arch.h"

namespace rkchat::gguf {
class File;
}

namespace rkchat::model {

// A small vector (norm weights, biases) as f32, copied out of the file into Weights::owned. A pointer into the
// mapping would map its neighbours back after repack_weights released them: Linux maps a whole large folio of the
// page cache on a fault (Qwen3-0.6B Q4_0 on AVX-512: 101 MB of released weights resident again).
using Vec = const float*;

struct LayerWeights {
  Vec attn_norm = nullptr;                       // [n_embd]
  kernels::Matrix wq, wk, wv, wo;                // [q_dim, n_embd], [kv_dim, n_embd] x2, [n_embd, q_dim]
  Vec bq = nullptr, bk = nullptr, bv = nullptr;  // qwen2 biases: [q_dim], [kv_dim], [kv_dim]
  Vec q_norm = nullptr, k_norm = nullptr;        // qwen3: [head_dim]
  Vec ffn_norm = nullptr;                        // [n_embd]
  kernels::Matrix w_gate, w_up, w_down;          // [n_ff, n_embd] x2, [n_embd, n_ff]
};

struct Weights {
  kernels::Matrix tok_embd;   // [n_vocab, n_embd]
  Vec output_norm = nullptr;  // [n_embd]
  kernels::Matrix output;     // [n_vocab, n_embd]; the token embedding when tied
  Vec rope_freqs = nullptr;   // optional [n_rot / 2] frequency divisors (Llama 3.1 long-context RoPE)
  std::vector<LayerWeights> layers;
  uint64_t n_params = 0;
  uint64_t bytes = 0;                           // bytes of all weight tensors
  std::vector<std::unique_ptr<float[]>> owned;  // converted small vectors
  std::shared_ptr<void> packed;                 // anonymous memory of the repacked matrices (repack_weights)
};

// Resolves and checks every tensor's presence, type and shape; throws gguf::Error naming the tensor.
Weights load_weights(const gguf::File& file, const HParams& hp);

// Rewrites every matrix that the active ISA reads faster in another layout (kernels::pack_matrix) into one anonymous
// mapping held by w.packed, and releases the file pages each one was read from, so the process keeps one copy of
// the weights. A tied output is packed once, with the embedding (whose lookup reads either layout). Returns the bytes
// repacked (0 when the ISA repacks nothing). Throws std::bad_alloc when the memory cannot be had.
size_t repack_weights(Weights& w, kernels::ThreadPool& pool);

// Every check that loading the model makes, without reading any weight (cheap: `doctor -m` runs it): the
// hyperparameters, every tensor's presence, type and shape, and the tokenizer's size against token_embd's rows.
// Throws gguf::Error naming the file and the problem.
HParams validate_model(const gguf::File& file);

}  // namespace rkchat::model
