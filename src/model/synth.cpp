// Synthetic Qwen3 models. Tensors are produced row by row straight into the writer's buffer by the thread pool;
// every row has its own random stream (seeded by seed, tensor and row), so the file is the same for any thread
// count. Weights are ~N(0, 1/fan_in), which keeps activations of order 1 through any number of layers (each
// matmul preserves the RMS of its normalized input); norm weights are ~1.
//
// Q8_0/Q4_0 encoding follows ggml's reference quantizers (quantize_row_q8_0_ref / quantize_row_q4_0_ref). They
// are kept here because src/kernels exposes only its activation quantizers, internally.
#include "model/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/thread_pool.h"

namespace rkchat::model {
namespace {

using gguf::TensorType;

// SplitMix64: tiny, fast, and good enough for weights nobody will read.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), centred and scaled to unit
  // variance. One generator call per value; bounded at +-3.46, so no outliers blow up a quantization block.
  float normal() {
    const uint64_t r = next();
    const auto sum = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(3) / 2^16
    return (sum - 131070.0f) * kScale;
  }
};

uint64_t mix(uint64_t a, uint64_t b) { return Rng{a ^ (b * 0xd1342543de82ef95ull)}.next(); }

void encode_q8_0(const float* x, uint8_t* dst, int64_t n) {
  auto* blocks = reinterpret_cast<kernels::BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kernels::QK8_0; ++b, x += kernels::QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kernels::QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = kernels::fp32_to_fp16(d);
    for (int j = 0; j < kernels::QK8_0; ++j) blocks[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void encode_q4_0(const float* x, uint8_t* dst, int64_t n) {
  constexpr int kHalf = kernels::QK4_0 / 2;
  auto* blocks = reinterpret_cast<kernels::BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / kernels::QK4_0; ++b, x += kernels::QK4_0) {
    float amax = 0.0f, max = 0.0f;  // the value of largest magnitude, with its sign
    for (int j = 0; j < kernels::QK4_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = kernels::fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const auto lo = std::min<uint8_t>(15, static_cast<uint8_t>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const auto hi = std::min<uint8_t>(15, static_cast<uint8_t>(static_cast<int8_t>(x[kHalf + j] * id + 8.5f)));
      blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void encode_row(TensorType type, const float* x, uint8_t* dst, int64_t n) {
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
      break;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = kernels::fp32_to_fp16(x[i]);
        std::memcpy(dst + 2 * i, &h, sizeof h);
      }
      break;
    case TensorType::Q8_0:
      encode_q8_0(x, dst, n);
      break;
    case TensorType::Q4_0:
      encode_q4_0(x, dst, n);
      break;
    default:
      throw std::invalid_argument(std::string("synth cannot encode ") + gguf::type_name(type));
  }
}

struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] = fan-in
  bool norm = false;
};

std::vector<TensorSpec> qwen3_tensors(const Qwen3Shape& s) {
  const int64_t q_dim = s.n_head * s.head_dim, kv_dim = s.n_head_kv * s.head_dim;
  std::vector<TensorSpec> t = {{"token_embd.weight", {s.n_embd, s.n_vocab}}};
  for (int64_t i = 0; i < s.n_layer; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    t.push_back({blk + "attn_norm.weight", {s.n_embd}, true});
    t.push_back({blk + "attn_q.weight", {s.n_embd, q_dim}});
    t.push_back({blk + "attn_k.weight", {s.n_embd, kv_dim}});
    t.push_back({blk + "attn_v.weight", {s.n_embd, kv_dim}});
    t.push_back({blk + "attn_output.weight", {q_dim, s.n_embd}});
    t.push_back({blk + "attn_q_norm.weight", {s.head_dim}, true});
    t.push_back({blk + "attn_k_norm.weight", {s.head_dim}, true});
    t.push_back({blk + "ffn_norm.weight", {s.n_embd}, true});
    t.push_back({blk + "ffn_gate.weight", {s.n_embd, s.n_ff}});
    t.push_back({blk + "ffn_up.weight", {s.n_embd, s.n_ff}});
    t.push_back({blk + "ffn_down.weight", {s.n_ff, s.n_embd}});
  }
  t.push_back({"output_norm.weight", {s.n_embd}, true});
  return t;
}

uint32_t file_type(TensorType t) {  // llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q8_0 = 7
  switch (t) {
    case TensorType::F32:
      return 0;
    case TensorType::F16:
      return 1;
    case TensorType::Q4_0:
      return 2;
    case TensorType::Q8_0:
      return 7;
    default:
      throw std::invalid_argument(std::string("synth: unsupported --type ") + gguf::type_name(t));
  }
}

// Real conversions pad the token list to the embedding's rows with unused "[PADn]" tokens; GGUF loaders such as
// llama.cpp require token_embd to have exactly one row per token.
void pad_vocab(gguf::Writer& w, const gguf::File& vocab, int64_t rows) {
  constexpr int32_t kUnusedToken = 5;  // llama.cpp's token type UNUSED
  auto tokens = vocab.get_string_array("tokenizer.ggml.tokens");
  if (static_cast<int64_t>(tokens.size()) >= rows) return;
  std::vector<int32_t> types;
  if (vocab.has("tokenizer.ggml.token_type"))
    for (int64_t t : vocab.get_int_array("tokenizer.ggml.token_type")) types.push_back(static_cast<int32_t>(t));
  types.resize(tokens.size(), 1);  // NORMAL where the source had no types
  for (int64_t i = static_cast<int64_t>(tokens.size()); i < rows; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    types.push_back(kUnusedToken);
  }
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
}

void set_metadata(gguf::Writer& w, const Qwen3Shape& s, const SynthOptions& opt) {
  w.set_string("general.architecture", "qwen3");
  w.set_string("general.type", "model");
  w.set_string("general.name", "Qwen3 " + s.label + " (synthetic, random weights)");
  w.set_string("general.size_label", s.label);
  w.set_u32("general.file_type", file_type(opt.type));
  if (opt.type != TensorType::F16 && opt.type != TensorType::F32) w.set_u32("general.quantization_version", 2);
  w.set_u32("qwen3.context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32("qwen3.embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32("qwen3.block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32("qwen3.feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32("qwen3.attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32("qwen3.attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_u32("qwen3.attention.key_length", static_cast<uint32_t>(s.head_dim));
  w.set_u32("qwen3.attention.value_length", static_cast<uint32_t>(s.head_dim));
  w.set_f32("qwen3.rope.freq_base", 1e6f);
  w.set_f32("qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
  if (opt.pooling_type >= 0) w.set_u32("qwen3.pooling_type", static_cast<uint32_t>(opt.pooling_type));
  const auto vocab = gguf::File::open(opt.vocab_path);
  int copied = 0;
  for (const auto& [key, value] : vocab->metadata()) {
    if (key.starts_with("tokenizer.")) {
      w.set_value(key, value);
      ++copied;
    }
  }
  if (copied == 0 || !vocab->has("tokenizer.ggml.tokens")) {
    throw gguf::Error(opt.vocab_path + ": no tokenizer in this file (need tokenizer.ggml.tokens)");
  }
  pad_vocab(w, *vocab, s.n_vocab);
}

// Produces tensors row by row on the pool, in chunks so that progress can be reported between them.
class Filler {
 public:
  Filler(const SynthOptions& opt, uint64_t total_bytes)
      : opt_(opt),
        // The bytes do not depend on the thread count; more threads than cores would only take turns.
        pool_(opt.threads > 0 ? std::min(opt.threads, kernels::online_cores()) : kernels::online_cores()),
        scratch_(static_cast<size_t>(pool_.size())),
        total_(total_bytes) {}

  void fill(const TensorSpec& spec, TensorType type, uint64_t tensor_seed, std::span<uint8_t> dst) {
    const int64_t n = spec.ne[0];
    const size_t rb = row_bytes(type, n);
    const auto rows = static_cast<int64_t>(dst.size() / rb);
    const float scale = 1.0f / std::sqrt(static_cast<float>(n));
    const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((size_t{16} << 20) / rb));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t r1 = std::min(rows, r0 + chunk);
      pool_.parallel_for(r1 - r0, [&](int64_t b, int64_t e, int tid) {
        std::vector<float>& x = scratch_[static_cast<size_t>(tid)];
        x.resize(static_cast<size_t>(n));
        for (int64_t r = r0 + b; r < r0 + e; ++r) {
          Rng rng{mix(tensor_seed, static_cast<uint64_t>(r))};
          for (float& v : x) v = spec.norm ? 1.0f + 0.05f * rng.normal() : scale * rng.normal();
          encode_row(type, x.data(), dst.data() + static_cast<size_t>(r) * rb, n);
        }
      });
      done_ += static_cast<uint64_t>(r1 - r0) * rb;
      if (opt_.progress) opt_.progress(done_, total_);
    }
  }

  static size_t row_bytes(TensorType type, int64_t n) {
    return static_cast<size_t>(n / gguf::block_elems(type) * gguf::block_bytes(type));
  }

 private:
  const SynthOptions& opt_;
  kernels::ThreadPool pool_;
  std::vector<std::vector<float>> scratch_;  // one row of floats per thread
  uint64_t total_;
  uint64_t done_ = 0;
};

}  // namespace

Qwen3Shape qwen3_shape(const std::string& size) {
  constexpr int64_t kVocabRows = 151936;
  if (size == "0.6b") return {"0.6B", 1024, 28, 16, 8, 128, 3072, kVocabRows, 40960};
  if (size == "1.7b") return {"1.7B", 2048, 28, 16, 8, 128, 6144, kVocabRows, 40960};
  if (size == "4b") return {"4B", 2560, 36, 32, 8, 128, 9728, kVocabRows, 40960};
  if (size == "tiny") return {"tiny", 64, 2, 4, 2, 32, 128, kVocabRows, 4096};
  throw std::invalid_argument("synth: unknown size '" + size + "' (0.6b, 1.7b, 4b)");
}

void write_synth_model(const SynthOptions& opt, const std::string& path) {
  if (opt.arch != "qwen3") throw std::invalid_argument("synth: unsupported --arch '" + opt.arch + "' (qwen3)");
  const Qwen3Shape shape = qwen3_shape(opt.size);
  gguf::Writer w;
  set_metadata(w, shape, opt);

  const auto specs = qwen3_tensors(shape);
  uint64_t total = 0;
  for (const auto& s : specs) {
    const TensorType type = s.norm ? TensorType::F32 : opt.type;
    int64_t rows = 1;
    for (size_t i = 1; i < s.ne.size(); ++i) rows *= s.ne[i];
    total += Filler::row_bytes(type, s.ne[0]) * static_cast<uint64_t>(rows);
  }
  Filler filler(opt, total);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const TensorType type = s.norm ? TensorType::F32 : opt.type;
    const uint64_t tensor_seed = mix(opt.seed, i + 1);
    w.add_tensor(s.name, type, s.ne,
                 [&filler, &s, type, tensor_seed](std::span<uint8_t> dst) { filler.fill(s, type, tensor_seed, dst); });
  }
  w.write(path);
}

}  // namespace rkchat::model
