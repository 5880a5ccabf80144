#include <array>

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
  hp.head_dim = opt("attention.key_length", hp.n_embd / hp.n_head);
  hp.n_rot = opt("rope.dimension_count", hp.head_dim);
  hp.rms_eps = static_cast<float>(f.get_float_opt(p + "attention.layer_norm_rms_epsilon").value_or(1e-6));
  hp.rope_base = static_cast<float>(f.get_float_opt(p + "rope.freq_base").value_or(hp.arch->default_rope_base));
  if (hp.n_head % hp.n_head_kv != 0)
    throw gguf::Error(f.path() + ": head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
                      std::to_string(hp.n_head_kv));
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
    throw gguf::Error(f.path() + ": rope.dimension_count " + std::to_string(hp.n_rot) + " does not fit head size " +
                      std::to_string(hp.head_dim));
  if (auto v = f.get_int_opt(p + "attention.value_length"); v && *v != hp.head_dim)
    throw gguf::Error(f.path() + ": attention.value_length != key_length is not supported");
  if (const auto* emb = f.find_tensor("token_embd.weight"); emb && emb->ne.size() == 2)
    hp.n_vocab = static_cast<int>(emb->ne[1]);
  else
    throw gguf::Error(f.path() + ": missing tensor 'token_embd.weight'");
  return hp;
}

}  // namespace rkchat::model
