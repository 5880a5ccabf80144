// Reads every GGUF fixture of the shared folder (models made by llama.cpp's tools) and checks that the tensor
// set is exactly what the architecture prescribes, with the types the file name promises.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "gguf/gguf.h"

namespace rkchat::gguf {
namespace {

namespace fs = std::filesystem;

fs::path fixtures_dir() {
  const char* env = std::getenv("RKCHAT_FIXTURES_DIR");
  return env ? env : RKCHAT_FIXTURES_DIR;
}

std::set<std::string> expected_tensor_names(const File& f) {
  const std::string arch = f.get_string("general.architecture");
  const int64_t layers = f.get_int(arch + ".block_count");
  std::set<std::string> names = {"token_embd.weight", "output_norm.weight"};
  if (arch == "llama") names.insert("output.weight");  // the tiny llama has an untied output
  for (int64_t i = 0; i < layers; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    for (const char* t :
         {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"}) {
      names.insert(blk + t + ".weight");
    }
    if (arch == "qwen3") names.insert({blk + "attn_q_norm.weight", blk + "attn_k_norm.weight"});
    if (arch == "qwen2") names.insert({blk + "attn_q.bias", blk + "attn_k.bias", blk + "attn_v.bias"});
  }
  return names;
}

// The matrix types a fixture may hold, from its name (tiny-<arch>-<type>.gguf); norms and biases stay F32.
std::set<TensorType> matrix_types(const std::string& file) {
  if (file.ends_with("-f32.gguf")) return {TensorType::F32};
  if (file.ends_with("-q8_0.gguf")) return {TensorType::Q8_0};
  if (file.ends_with("-q4_0.gguf")) return {TensorType::Q4_0};
  if (file.ends_with("-q4_1.gguf")) return {TensorType::Q4_1};
  if (file.ends_with("-q4_k_m.gguf")) return {TensorType::Q4_K, TensorType::Q6_K};
  if (file.ends_with("-q5_k_m.gguf")) return {TensorType::Q5_K, TensorType::Q6_K};
  if (file.ends_with("-q6_k.gguf")) return {TensorType::Q6_K};
  return {};
}

bool is_vector(const TensorInfo& t) { return t.ne.size() == 1; }

TEST(GgufFixtures, EveryModelHasItsArchitecturesTensors) {
  const fs::path dir = fixtures_dir();
  if (!fs::exists(dir / "tiny-qwen3-f32.gguf")) GTEST_SKIP() << "no fixtures in " << dir;
  int models = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("tiny-") || entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(name);
    ++models;
    auto f = File::open(entry.path().string());
    std::set<std::string> names;
    for (const auto& t : f->tensors()) {
      names.insert(t.name);
      EXPECT_TRUE(is_supported(t.type)) << t.name;
      const auto allowed = is_vector(t) ? std::set<TensorType>{TensorType::F32} : matrix_types(name);
      EXPECT_TRUE(allowed.contains(t.type)) << t.name << " has type " << type_name(t.type);
      EXPECT_EQ(t.nbytes, t.row_bytes() * static_cast<uint64_t>(t.rows())) << t.name;
      EXPECT_NE(t.data, nullptr) << t.name;
    }
    EXPECT_EQ(names, expected_tensor_names(*f));
    const std::string arch = f->get_string("general.architecture");
    const int64_t n_embd = f->get_int(arch + ".embedding_length");
    const int64_t n_vocab = static_cast<int64_t>(f->get_string_array("tokenizer.ggml.tokens").size());
    EXPECT_EQ(f->tensor("token_embd.weight", std::vector<int64_t>{n_embd, n_vocab}).rows(), n_vocab);
    EXPECT_EQ(f->tensor("output_norm.weight", std::vector<int64_t>{n_embd}).type, TensorType::F32);
  }
  EXPECT_GE(models, 10);
}

TEST(GgufFixtures, Qwen3VocabIsComplete) {
  const fs::path path = fixtures_dir() / "qwen3-vocab.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "no " << path;
  auto f = File::open(path.string());
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 151669u);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges").size(), 151387u);
  EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type").size(), 151669u);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_FALSE(f->get_string("tokenizer.chat_template").empty());
}

}  // namespace
}  // namespace rkchat::gguf
