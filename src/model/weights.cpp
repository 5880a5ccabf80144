#include "model/weights.h"

#include <memory>
#include <string>
#include <variant>

#include "gguf/gguf.h"

namespace rkchat::model {

namespace {

static_assert(static_cast<uint32_t>(gguf::TensorType::Q8_0) == static_cast<uint32_t>(kernels::QType::Q8_0));
static_assert(static_cast<uint32_t>(gguf::TensorType::Q4_K) == static_cast<uint32_t>(kernels::QType::Q4_K));
static_assert(static_cast<uint32_t>(gguf::TensorType::BF16) == static_cast<uint32_t>(kernels::QType::BF16));

class Resolver {
 public:
  // read: convert small vectors that are not stored as aligned F32 (else they stay null: only checked).
  Resolver(const gguf::File& f, Weights& w, bool read) : f_(f), w_(w), read_(read) {}

  const gguf::TensorInfo* find(const std::string& name) { return f_.find_tensor(name); }

  kernels::Matrix matrix(const std::string& name, int64_t rows, int64_t cols) {
    const std::array<int64_t, 2> ne = {cols, rows};
    return to_matrix(f_.tensor(name, ne));
  }

  kernels::Matrix to_matrix(const gguf::TensorInfo& t) {
    if (!gguf::is_supported(t.type))
      throw gguf::Error(f_.path() + ": unsupported tensor type " + gguf::type_name(t.type) + " for tensor '" + t.name +
                        "'");
    count(t);
    return {static_cast<kernels::QType>(t.type), t.data, t.rows(), t.ne[0], static_cast<size_t>(t.row_bytes())};
  }

  Vec vec(const std::string& name, int64_t n) {
    const std::array<int64_t, 1> ne = {n};
    return to_vec(f_.tensor(name, ne));
  }

  Vec optional_vec(const std::string& name, int64_t n) { return find(name) ? vec(name, n) : nullptr; }

 private:
  Vec to_vec(const gguf::TensorInfo& t) {
    if (!gguf::is_supported(t.type))
      throw gguf::Error(f_.path() + ": unsupported tensor type " + gguf::type_name(t.type) + " for tensor '" + t.name +
                        "'");
    count(t);
    if (!read_) return nullptr;
    auto buf = std::make_unique<float[]>(static_cast<size_t>(t.ne[0]));
    kernels::dequantize_row(static_cast<kernels::QType>(t.type), t.data, buf.get(), t.ne[0]);
    w_.owned.push_back(std::move(buf));
    return w_.owned.back().get();
  }

  void count(const gguf::TensorInfo& t) {
    w_.n_params += static_cast<uint64_t>(t.n_elements());
    w_.bytes += t.nbytes;
  }

  const gguf::File& f_;
  Weights& w_;
  bool read_;
};

// Resolves every tensor; with read false nothing of the tensors' data is read (the checks only).
Weights resolve(const gguf::File& f, const HParams& hp, bool read) {
  Weights w;
  Resolver r(f, w, read);
  w.tok_embd = r.matrix("token_embd.weight", hp.n_vocab, hp.n_embd);
  w.output_norm = r.vec("output_norm.weight", hp.n_embd);
  w.output = r.find("output.weight") ? r.matrix("output.weight", hp.n_vocab, hp.n_embd) : w.tok_embd;
  w.rope_freqs = r.optional_vec("rope_freqs.weight", hp.n_rot / 2);
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int i = 0; i < hp.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    l.attn_norm = r.vec(p + "attn_norm.weight", hp.n_embd);
    l.wq = r.matrix(p + "attn_q.weight", hp.q_dim(), hp.n_embd);
    l.wk = r.matrix(p + "attn_k.weight", hp.kv_dim(), hp.n_embd);
    l.wv = r.matrix(p + "attn_v.weight", hp.kv_dim(), hp.n_embd);
    l.wo = r.matrix(p + "attn_output.weight", hp.n_embd, hp.q_dim());
    if (hp.arch->qkv_bias) {
      l.bq = r.vec(p + "attn_q.bias", hp.q_dim());
      l.bk = r.vec(p + "attn_k.bias", hp.kv_dim());
      l.bv = r.vec(p + "attn_v.bias", hp.kv_dim());
    }
    if (hp.arch->qk_norm) {
      l.q_norm = r.vec(p + "attn_q_norm.weight", hp.head_dim);
      l.k_norm = r.vec(p + "attn_k_norm.weight", hp.head_dim);
    }
    l.ffn_norm = r.vec(p + "ffn_norm.weight", hp.n_embd);
    l.w_gate = r.matrix(p + "ffn_gate.weight", hp.n_ff, hp.n_embd);
    l.w_up = r.matrix(p + "ffn_up.weight", hp.n_ff, hp.n_embd);
    l.w_down = r.matrix(p + "ffn_down.weight", hp.n_embd, hp.n_ff);
  }
  return w;
}

// The tokenizer must name exactly the embedding's rows: ids beyond either would fail only mid-answer.
void check_vocab(const gguf::File& f, const HParams& hp) {
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  const auto* array = tokens ? std::get_if<std::shared_ptr<gguf::Array>>(&tokens->v) : nullptr;
  if (!array) return;
  const size_t n = *array ? (*array)->size() : 0;
  if (n != static_cast<size_t>(hp.n_vocab))
    throw gguf::Error(f.path() + ": the tokenizer has " + std::to_string(n) +
                      " tokens (tokenizer.ggml.tokens) but token_embd.weight has " + std::to_string(hp.n_vocab) +
                      " rows; they must be equal");
}

}  // namespace

Weights load_weights(const gguf::File& f, const HParams& hp) { return resolve(f, hp, true); }

HParams validate_model(const gguf::File& f) {
  HParams hp = read_hparams(f);
  resolve(f, hp, false);
  check_vocab(f, hp);
  return hp;
}

}  // namespace rkchat::model
