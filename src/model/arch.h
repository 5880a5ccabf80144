// What distinguishes the supported architectures, read from GGUF metadata into plain structs once at load.
// The forward pass branches only on these features, never on the architecture's name.
#pragma once

#include <string>

namespace rkchat::gguf {
class File;
}

namespace rkchat::model {

enum class RopeStyle {
  normal,  // llama: rotate adjacent pairs (x[2i], x[2i+1])
  neox,    // qwen2/qwen3: rotate halves (x[i], x[i + n_rot/2])
};

// How a sequence's hidden states become one embedding, from GGUF `<arch>.pooling_type` (llama.cpp's enum: 0 none,
// 1 mean, 2 cls, 3 last, 4 rank). `none` here means the file declares no embedding use (key absent, or rank, a
// reranker's head rkchat does not run); a declared 0 (per-token output, which no embeddings API returns) is read as
// mean, the default llama.cpp's server pools with.
enum class Pooling { none, mean, cls, last };

struct ArchSpec {
  const char* name;  // general.architecture
  RopeStyle rope;
  bool qkv_bias;  // attn_q/k/v.bias (qwen2)
  bool qk_norm;   // per-head RMSNorm of q and k before RoPE (qwen3)
  float default_rope_base;
};

// The three specs live in arch_<name>.cpp; this finds one by name or returns nullptr.
const ArchSpec* find_arch(const std::string& name);
std::string supported_arch_names();  // "llama, qwen2, qwen3" for messages

struct HParams {
  const ArchSpec* arch = nullptr;
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;  // may differ from n_embd / n_head (Qwen3-4B: 32 x 128 = 4096 != 2560)
  int n_rot = 0;     // rotated dims of each head (usually head_dim)
  int n_ff = 0;
  int n_ctx_train = 0;
  float rms_eps = 1e-6f;
  float rope_base = 10000.0f;
  Pooling pooling = Pooling::none;

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
};

// Reads {arch}.* keys; throws gguf::Error naming the file and key for missing or inconsistent values.
HParams read_hparams(const gguf::File& file);

}  // namespace rkchat::model
