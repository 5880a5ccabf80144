// The checks a model passes before anything is sized by its metadata (validate_model, which Model and doctor
// share): each case is a fixture changed in one place, and the message must name the real problem.
#include <gtest/gtest.h>

#include <filesystem>

#include "../gguf/gguf_edit.h"
#include "gguf/gguf.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/weights.h"

namespace rkchat::model {
namespace {

namespace fs = std::filesystem;
using rkchat::testing::GgufEdit;
using rkchat::testing::u32_value;

const std::string kLlama = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-llama-f32.gguf";

class LoadChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kLlama)) GTEST_SKIP() << "fixtures not found at " << kLlama;
  }
  void TearDown() override {
    if (!path_.empty()) fs::remove(path_);
  }
  // The error that validating (and, the same, constructing a Model of) the edited fixture gives.
  std::string error_of(const GgufEdit& edit) {
    path_ = rkchat::testing::rewrite_gguf(
        kLlama, edit, rkchat::testing::temp_gguf(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    const auto f = gguf::File::open(path_);
    std::string validated, loaded;
    try {
      validate_model(*f);
    } catch (const gguf::Error& e) {
      validated = e.what();
    }
    try {
      Model m(*f);
    } catch (const gguf::Error& e) {
      loaded = e.what();
    }
    EXPECT_EQ(validated, loaded) << "doctor and run must see the same problem";
    if (!validated.empty()) {
      EXPECT_NE(validated.find(path_), std::string::npos) << validated;
    }
    return validated;
  }
  std::string path_;
};

TEST_F(LoadChecks, TheFixturePasses) { EXPECT_EQ(error_of(GgufEdit()), ""); }

TEST_F(LoadChecks, HugeBlockCountIsRefusedBeforeAnythingIsSized) {
  // Sizing the layers by this count first took 5.5 GB before a tensor was found missing.
  const auto e = error_of(GgufEdit().with("llama.block_count", u32_value(16777216)));
  EXPECT_NE(e.find("block_count 16777216 needs at least 150994944 tensors, but the file holds 21"), std::string::npos)
      << e;
}

TEST_F(LoadChecks, BlockCountBeyondTheTensorsNamesTheMissingTensor) {
  const auto e = error_of(GgufEdit().with("llama.block_count", u32_value(3)).without("blk.1.ffn_down.weight"));
  EXPECT_NE(e.find("block_count 3 needs at least 27 tensors, but the file holds 20"), std::string::npos) << e;
  const auto e2 = error_of(GgufEdit().without("blk.1.ffn_down.weight"));
  EXPECT_NE(e2.find("missing tensor 'blk.1.ffn_down.weight'"), std::string::npos) << e2;
}

TEST_F(LoadChecks, OddRopeDimensionSaysOdd) {
  const auto e = error_of(GgufEdit().with("llama.rope.dimension_count", u32_value(7)));
  EXPECT_NE(e.find("rope.dimension_count 7 is odd"), std::string::npos) << e;
}

TEST_F(LoadChecks, RopeDimensionBeyondTheHead) {
  const auto e = error_of(GgufEdit().with("llama.rope.dimension_count", u32_value(18)));
  EXPECT_NE(e.find("rope.dimension_count 18 exceeds the head size 16"), std::string::npos) << e;
}

TEST_F(LoadChecks, HeadsThatDoNotDivideTheWidth) {
  // 64 / 3 heads: this was reported as "rope.dimension_count 21 does not fit head size 21".
  const auto e = error_of(GgufEdit()
                              .with("llama.attention.head_count", u32_value(3))
                              .with("llama.attention.head_count_kv", u32_value(3))
                              .without("llama.attention.key_length")
                              .without("llama.attention.value_length"));
  EXPECT_NE(e.find("embedding_length 64 is not divisible by attention.head_count 3"), std::string::npos) << e;
}

TEST_F(LoadChecks, ZeroHeads) {
  const auto e = error_of(GgufEdit().with("llama.attention.head_count", u32_value(0)));
  EXPECT_NE(e.find("'llama.attention.head_count' has invalid value 0"), std::string::npos) << e;
}

TEST_F(LoadChecks, HeadsTimesHeadSizeTooWide) {
  const auto e = error_of(GgufEdit()
                              .with("llama.attention.head_count", u32_value(1 << 16))
                              .with("llama.attention.head_count_kv", u32_value(1 << 16))
                              .with("llama.attention.key_length", u32_value(1 << 16))
                              .with("llama.attention.value_length", u32_value(1 << 16)));
  EXPECT_NE(e.find("is wider than rkchat supports"), std::string::npos) << e;
}

TEST_F(LoadChecks, UnsupportedArchitecture) {
  const auto e = error_of(GgufEdit().with("general.architecture", rkchat::testing::string_value("gptj")));
  EXPECT_NE(e.find("unsupported architecture 'gptj'"), std::string::npos) << e;
}

TEST_F(LoadChecks, MissingTokenEmbedding) {
  const auto e = error_of(GgufEdit().without("token_embd.weight"));
  EXPECT_NE(e.find("missing tensor 'token_embd.weight'"), std::string::npos) << e;
}

TEST_F(LoadChecks, OneDimensionalTokenEmbeddingGivesItsShape) {
  const auto e = error_of(GgufEdit().reshape("token_embd.weight", {64 * 1024}));
  EXPECT_NE(e.find("tensor 'token_embd.weight' has shape [65536], expected 2 dimensions"), std::string::npos) << e;
}

TEST_F(LoadChecks, TokenizerSmallerThanTheEmbedding) {
  // A 500-token vocab on 1024 rows failed only mid-answer ("token id 620 is outside the vocabulary").
  const auto f = gguf::File::open(kLlama);
  const auto e = error_of(GgufEdit().with("tokenizer.ggml.tokens",
                                          rkchat::testing::truncated_array(*f->find("tokenizer.ggml.tokens"), 500)));
  EXPECT_NE(e.find("the tokenizer has 500 tokens (tokenizer.ggml.tokens) but token_embd.weight has 1024 rows"),
            std::string::npos)
      << e;
}

TEST(LoadChecksVocab, AVocabOnlyFileIsNotAModel) {
  const std::string vocab = std::string(RKCHAT_FIXTURES_DIR) + "/qwen3-vocab.gguf";
  if (!fs::exists(vocab)) GTEST_SKIP() << "fixtures not found";
  try {
    validate_model(*gguf::File::open(vocab));
    ADD_FAILURE() << "a vocab-only file validated as a model";
  } catch (const gguf::Error& e) {
    // It said "missing required key 'qwen3.embedding_length'".
    EXPECT_NE(std::string(e.what()).find("the file holds no tensors, so it is not a model (a vocab-only GGUF"),
              std::string::npos)
        << e.what();
  }
}

TEST(KvBytes, PerTokenIsWhatTheCacheTakesPerToken) {
  if (!fs::exists(kLlama)) GTEST_SKIP() << "fixtures not found";
  const auto f = gguf::File::open(kLlama);
  const HParams hp = validate_model(*f);
  for (auto type : {kernels::KvType::f16, kernels::KvType::f32, kernels::KvType::q8_0}) {
    KvCache cache(hp, 7, 3, type);
    EXPECT_EQ(cache.bytes(), kv_bytes_per_token(hp, type) * 7 * 3);
    // A head's row of one position ends where the next position's begins (2 layers, 2 heads), and its last
    // position where the next head's first begins.
    const auto at = [&](int layer, int seq, int head, int pos) {
      return static_cast<uint8_t*>(cache.k(layer, seq, head, pos));
    };
    EXPECT_EQ(at(0, 0, 0, 1) - at(0, 0, 0, 0), kv_bytes_per_token(hp, type) / 2 / 2 / 2);
    EXPECT_EQ(at(0, 0, 1, 0) - at(0, 0, 0, 6), at(0, 0, 0, 1) - at(0, 0, 0, 0));
    EXPECT_EQ(at(1, 0, 0, 0) - at(0, 2, 1, 6), at(0, 0, 0, 1) - at(0, 0, 0, 0));
  }
  EXPECT_EQ(kv_bytes_per_token(hp, kernels::KvType::f16), 2u * 2 * 32 * 2);  // k+v, 2 layers, 2x16 wide, f16
  // Q8_0: a head of 16 is one short block of 16 quants and its fp16 scale.
  EXPECT_EQ(kv_bytes_per_token(hp, kernels::KvType::q8_0), 2u * 2 * 2 * (16 + 2));
}

TEST(KvBytes, Q8_0CountsTheScalesOfShortBlocks) {
  HParams hp;
  hp.n_layer = 3;
  hp.n_head_kv = 4;
  for (auto [head_dim, row] : {std::pair{64, 68}, {80, 86}, {128, 136}}) {
    hp.head_dim = head_dim;
    EXPECT_EQ(kv_bytes_per_token(hp, kernels::KvType::q8_0), 2u * 3 * 4 * row) << head_dim;
  }
}

TEST(KvCacheSize, NonPositiveCountsAreRefusedBeforeAnythingIsSized) {
  // A negative sequence count sized the length table (as 2^64 - 1 entries) before it was checked.
  HParams hp;
  hp.n_layer = 1;
  hp.n_head_kv = 1;
  hp.head_dim = 8;
  for (auto [n_ctx, n_seq] : {std::pair{0, 1}, {1, 0}, {-1, 1}, {1, -1}})
    EXPECT_THROW(KvCache(hp, n_ctx, n_seq, kernels::KvType::f16), std::invalid_argument) << n_ctx << " " << n_seq;
}

}  // namespace
}  // namespace rkchat::model
