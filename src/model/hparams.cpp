#include <array>
#include <cstdint>
#include <limits>

#include "gguf/gguf.h"
#include "model/arch.h"

namespace rkchat::model {

extern const ArchSpec kArchLlama;
extern const ArchSpec kArchQwen2;
extern const ArchSpec kArchQwen3;

namespace {
const std::array<const ArchSpec*, 3> kArchs = {&kArchLlama, &kArchQwen2, &kArchQwen3};

int positive(const gguf::File& f, const std::string& key, int64_t v) {
  if (v <= 0 || v > (1 << 24))
    throw gguf::Error(f.path() + ": metadata '" + key + "' has invalid value " + std::to_string(v));
  return static_cast<int>(v);
}

// A block holds at least these tensors (attention norm, q, k, v, output; ffn norm, gate, up, down).
constexpr int64_t kTensorsPerBlock = 9;
// Widths that the forward pass multiplies in int: q_dim and kv_dim must stay far from overflowing.
constexpr int64_t kMaxWidth = 1 << 24;

void check_shape(const gguf::File& f, const HParams& hp) {
  const std::string& path = f.path();
  // Before anything is sized by block_count: the file must have room for that many blocks' tensors.
  const auto n_tensors = static_cast<int64_t>(f.tensors().size());
  if (hp.n_layer > n_tensors / kTensorsPerBlock)
    throw gguf::Error(path + ": block_count " + std::to_string(hp.n_layer) + " needs at least " +
                      std::to_string(hp.n_layer * kTensorsPerBlock) + " tensors, but the file holds " +
                      std::to_string(n_tensors));
  if (hp.n_head % hp.n_head_kv != 0)
    throw gguf::Error(path + ": attention.head_count " + std::to_string(hp.n_head) +
                      " is not a multiple of attention.head_count_kv " + std::to_string(hp.n_head_kv));
  if (static_cast<int64_t>(hp.n_head) * hp.head_dim > kMaxWidth)
    throw gguf::Error(path + ": attention.head_count " + std::to_string(hp.n_head) + " x head size " +
                      std::to_string(hp.head_dim) + " is wider than rkchat supports (" + std::to_string(kMaxWidth) +
                      ")");
  if (hp.n_rot % 2 != 0)
    throw gguf::Error(path + ": rope.dimension_count " + std::to_string(hp.n_rot) +
                      " is odd (RoPE rotates pairs of dimensions)");
  if (hp.n_rot > hp.head_dim)
    throw gguf::Error(path + ": rope.dimension_count " + std::to_string(hp.n_rot) + " exceeds the head size " +
                      std::to_string(hp.head_dim));
  const std::string p = std::string(hp.arch->name) + ".";
  if (auto v = f.get_int_opt(p + "attention.value_length"); v && *v != hp.head_dim)
    throw gguf::Error(path + ": attention.value_length " + std::to_string(*v) + " differs from the key length " +
                      std::to_string(hp.head_dim) + " (not supported)");
}

// The vocabulary size is the row count of the token embedding.
int vocab_rows(const gguf::File& f) {
  const auto* emb = f.find_tensor("token_embd.weight");
  if (!emb) throw gguf::Error(f.path() + ": missing tensor 'token_embd.weight'");
  if (emb->ne.size() != 2) {
    std::string shape;
    for (int64_t d : emb->ne) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw gguf::Error(f.path() + ": tensor 'token_embd.weight' has shape [" + shape +
                      "], expected 2 dimensions [embedding_length, vocabulary size]");
  }
  if (emb->ne[1] > std::numeric_limits<int32_t>::max())
    throw gguf::Error(f.path() + ": tensor 'token_embd.weight' has " + std::to_string(emb->ne[1]) +
                      " rows, more tokens than rkchat supports");
  return static_cast<int>(emb->ne[1]);
}
Pooling read_pooling(const gguf::File& f, const std::string& key) {
  const auto v = f.get_int_opt(key);
  if (!v) return Pooling::none;
  switch (*v) {
    case 0:
    case 1:
      return Pooling::mean;
    case 2:
      return Pooling::cls;
    case 3:
      return Pooling::last;
    default:
      return Pooling::none;  // 4 (rank) or a type llama.cpp added later: not an embedding rkchat computes
  }
}
}  // namespace

const ArchSpec* find_arch(const std::string& name) {
  for (const ArchSpec* a : kArchs)
    if (name == a->name) return a;
  return nullptr;
}

std::string supported_arch_names() {
  std::string s;
  for (const ArchSpec* a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

HParams read_hparams(const gguf::File& f) {
  if (f.tensors().empty())
    throw gguf::Error(f.path() + ": the file holds no tensors, so it is not a model" +
                      (f.has("tokenizer.ggml.model") ? " (a vocab-only GGUF: give it with --tokenizer)" : ""));
  HParams hp;
  const std::string arch = f.get_string("general.architecture");
  hp.arch = find_arch(arch);
  if (!hp.arch)
    throw gguf::Error(f.path() + ": unsupported architecture '" + arch + "' (rkchat runs " + supported_arch_names() +
                      ")");
  const std::string p = arch + ".";
  auto req = [&](const std::string& k) { return positive(f, p + k, f.get_int(p + k)); };
  auto opt = [&](const std::string& k, int def) {
    auto v = f.get_int_opt(p + k);
    return v ? positive(f, p + k, *v) : def;
  };
  hp.n_embd = req("embedding_length");
  hp.n_layer = req("block_count");
  hp.n_head = req("attention.head_count");
  hp.n_head_kv = opt("attention.head_count_kv", hp.n_head);
  hp.n_ff = req("feed_forward_length");
  hp.n_ctx_train = opt("context_length", 4096);
  const auto key_length = f.get_int_opt(p + "attention.key_length");
  if (!key_length && hp.n_embd % hp.n_head != 0)
    throw gguf::Error(f.path() + ": embedding_length " + std::to_string(hp.n_embd) +
                      " is not divisible by attention.head_count " + std::to_string(hp.n_head) +
                      " (and attention.key_length, the head size, is not given)");
  hp.head_dim = opt("attention.key_length", hp.n_embd / hp.n_head);
  hp.n_rot = opt("rope.dimension_count", hp.head_dim);
  hp.rms_eps = static_cast<float>(f.get_float_opt(p + "attention.layer_norm_rms_epsilon").value_or(1e-6));
  hp.rope_base = static_cast<float>(f.get_float_opt(p + "rope.freq_base").value_or(hp.arch->default_rope_base));
  hp.pooling = read_pooling(f, p + "pooling_type");
  check_shape(f, hp);
  hp.n_vocab = vocab_rows(f);
  return hp;
}

}  // namespace rkchat::model
