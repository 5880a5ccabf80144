// `rkchat synth`'s generator: the tiny variant must be a valid GGUF with Qwen3's tensor set, the complete
// tokenizer of the vocab file, weights of the intended scale, and bytes that depend on the seed only.
#include "model/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace rkchat::model {
namespace {

namespace fs = std::filesystem;

const std::string kVocab = (fs::path(RKCHAT_TEST_DATA_DIR) / ".." / ".." / "data" / "qwen3-vocab.gguf").string();

std::string temp_path(const std::string& stem) {
  return (fs::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ".gguf")).string();
}

std::string synth(gguf::TensorType type, uint64_t seed, int threads, const std::string& stem) {
  SynthOptions opt;
  opt.size = "tiny";
  opt.type = type;
  opt.seed = seed;
  opt.threads = threads;
  opt.vocab_path = kVocab;
  const std::string path = temp_path(stem);
  write_synth_model(opt, path);
  return path;
}

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// RMS of a tensor's values, dequantized by the kernels (an independent decoder of the blocks).
double rms(const gguf::TensorInfo& t) {
  std::vector<float> row(static_cast<size_t>(t.ne[0]));
  double sum = 0;
  for (int64_t r = 0; r < t.rows(); ++r) {
    kernels::dequantize_row(static_cast<kernels::QType>(t.type), t.data + r * t.row_bytes(), row.data(), t.ne[0]);
    for (float v : row) {
      EXPECT_TRUE(std::isfinite(v));
      sum += static_cast<double>(v) * static_cast<double>(v);
    }
  }
  return std::sqrt(sum / static_cast<double>(t.n_elements()));
}

TEST(Synth, TinyQwen3IsAValidModel) {
  if (!fs::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
  const std::string path = synth(gguf::TensorType::Q8_0, 7, 2, "synth-tiny");
  auto f = gguf::File::open(path);
  const Qwen3Shape s = qwen3_shape("tiny");
  EXPECT_EQ(f->get_string("general.architecture"), "qwen3");
  EXPECT_EQ(f->get_int("general.file_type"), 7);
  EXPECT_EQ(f->get_int("qwen3.block_count"), s.n_layer);
  EXPECT_EQ(f->get_int("qwen3.embedding_length"), s.n_embd);
  EXPECT_EQ(f->get_int("qwen3.feed_forward_length"), s.n_ff);
  EXPECT_EQ(f->get_int("qwen3.attention.head_count"), s.n_head);
  EXPECT_EQ(f->get_int("qwen3.attention.head_count_kv"), s.n_head_kv);
  EXPECT_EQ(f->get_int("qwen3.attention.key_length"), s.head_dim);
  EXPECT_EQ(f->get_int("qwen3.attention.value_length"), s.head_dim);
  EXPECT_EQ(f->get_int("qwen3.context_length"), s.n_ctx);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float("qwen3.rope.freq_base")), 1e6f);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float("qwen3.attention.layer_norm_rms_epsilon")), 1e-6f);

  auto vocab = gguf::File::open(kVocab);
  for (const auto& [key, v] : vocab->metadata()) {
    if (key.starts_with("tokenizer.")) {
      EXPECT_TRUE(f->has(key)) << key;
    }
  }
  // The source tokens first, then unused "[PADn]" tokens up to the embedding's rows (as real conversions do).
  const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  const auto source = vocab->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), s.n_vocab);
  EXPECT_TRUE(std::equal(source.begin(), source.end(), tokens.begin()));
  EXPECT_EQ(tokens.back(), "[PAD" + std::to_string(s.n_vocab - 1) + "]");
  EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type").size(), tokens.size());
  EXPECT_EQ(f->get_string("tokenizer.chat_template"), vocab->get_string("tokenizer.chat_template"));

  const int64_t q = s.n_head * s.head_dim, kv = s.n_head_kv * s.head_dim;
  EXPECT_EQ(f->tensors().size(), static_cast<size_t>(2 + 11 * s.n_layer));
  EXPECT_EQ(f->tensor("token_embd.weight", std::vector<int64_t>{s.n_embd, s.n_vocab}).type, gguf::TensorType::Q8_0);
  EXPECT_EQ(f->tensor("output_norm.weight", std::vector<int64_t>{s.n_embd}).type, gguf::TensorType::F32);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr) << "tied embeddings";
  for (int64_t i = 0; i < s.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    f->tensor(b + "attn_norm.weight", std::vector<int64_t>{s.n_embd});
    f->tensor(b + "ffn_norm.weight", std::vector<int64_t>{s.n_embd});
    f->tensor(b + "attn_q_norm.weight", std::vector<int64_t>{s.head_dim});
    f->tensor(b + "attn_k_norm.weight", std::vector<int64_t>{s.head_dim});
    f->tensor(b + "attn_q.weight", std::vector<int64_t>{s.n_embd, q});
    f->tensor(b + "attn_k.weight", std::vector<int64_t>{s.n_embd, kv});
    f->tensor(b + "attn_v.weight", std::vector<int64_t>{s.n_embd, kv});
    f->tensor(b + "attn_output.weight", std::vector<int64_t>{q, s.n_embd});
    f->tensor(b + "ffn_gate.weight", std::vector<int64_t>{s.n_embd, s.n_ff});
    f->tensor(b + "ffn_up.weight", std::vector<int64_t>{s.n_embd, s.n_ff});
    f->tensor(b + "ffn_down.weight", std::vector<int64_t>{s.n_ff, s.n_embd});
  }
  fs::remove(path);
}

TEST(Synth, WeightScaleForEveryType) {
  if (!fs::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
  for (auto type : {gguf::TensorType::Q8_0, gguf::TensorType::Q4_0, gguf::TensorType::F16}) {
    SCOPED_TRACE(gguf::type_name(type));
    const std::string path = synth(type, 1, 2, "synth-scale");
    auto f = gguf::File::open(path);
    for (const char* name : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight"}) {
      const auto& t = f->tensor(name);
      EXPECT_EQ(t.type, type);
      // ~N(0, 1/fan_in); Q4_0's 4-bit rounding adds noise of about 10% of the signal.
      EXPECT_NEAR(rms(t) * std::sqrt(static_cast<double>(t.ne[0])), 1.0, 0.12) << name;
    }
    const double norm = rms(f->tensor("blk.0.attn_norm.weight"));
    EXPECT_NEAR(norm, 1.0, 0.05);
    fs::remove(path);
  }
}

TEST(Synth, BytesDependOnSeedOnly) {
  if (!fs::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
  const std::string a = synth(gguf::TensorType::Q4_0, 5, 1, "synth-a");
  const std::string b = synth(gguf::TensorType::Q4_0, 5, 3, "synth-b");
  const std::string c = synth(gguf::TensorType::Q4_0, 6, 2, "synth-c");
  EXPECT_EQ(bytes_of(a), bytes_of(b)) << "thread count must not change the output";
  EXPECT_NE(bytes_of(a), bytes_of(c));
  for (const auto& p : {a, b, c}) fs::remove(p);
}

TEST(Synth, RejectsBadOptions) {
  EXPECT_THROW(qwen3_shape("7b"), std::invalid_argument);
  SynthOptions opt;
  opt.arch = "llama";
  opt.vocab_path = kVocab;
  EXPECT_THROW(write_synth_model(opt, temp_path("synth-bad")), std::invalid_argument);
  opt.arch = "qwen3";
  opt.size = "tiny";
  opt.type = gguf::TensorType::Q6_K;
  EXPECT_THROW(write_synth_model(opt, temp_path("synth-bad")), std::invalid_argument);
  opt.type = gguf::TensorType::Q8_0;
  opt.vocab_path = std::string(RKCHAT_TEST_DATA_DIR) + "/gguf/valid_v2.gguf";
  EXPECT_THROW(write_synth_model(opt, temp_path("synth-bad")), gguf::Error) << "no tokenizer there";
  EXPECT_FALSE(fs::exists(temp_path("synth-bad")));
}

}  // namespace
}  // namespace rkchat::model
