// Vocab loading from hand-made GGUFs: what is required, what is checked, and BPE merges through intermediate
// pieces that are no token (as in the fixture models' trimmed vocab).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace rkchat::tok {
namespace {

// The 256 single-byte tokens in GPT-2's byte-level form (token id = byte), so that every text is encodable.
std::vector<std::string> byte_level_alphabet() {
  std::vector<std::string> tokens;
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    std::string s;
    utf8::append(s, printable ? static_cast<char32_t>(b) : next++);
    tokens.push_back(s);
  }
  return tokens;
}

class VocabFile : public testing::Test {
 protected:
  void SetUp() override {
    tokens_ = byte_level_alphabet();
    tokens_.push_back("abc");
    tokens_.push_back("<|im_end|>");
    w_.set_string("general.architecture", "qwen2");
    w_.set_string("tokenizer.ggml.model", "gpt2");
    w_.set_string("tokenizer.ggml.pre", "qwen2");
    w_.set_string_array("tokenizer.ggml.merges", {"a b", "ab c"});
    std::vector<int32_t> types(tokens_.size(), 1);
    types.back() = 3;
    w_.set_i32_array("tokenizer.ggml.token_type", types);
    w_.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tokens_.size() - 1));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::unique_ptr<Tokenizer> load() {
    w_.set_string_array("tokenizer.ggml.tokens", tokens_);
    w_.write(path_);
    return Tokenizer::from_gguf(*gguf::File::open(path_));
  }
  void expect_error(const std::string& fragment) {
    try {
      load();
      ADD_FAILURE() << "no error; expected one about " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
  }

  // One file per test and process: ctest runs these tests in parallel, and a shared name let one test's
  // TearDown remove the file another was renaming into place.
  std::string path_ = testing::TempDir() + "rkchat_vocab_test-" + std::to_string(::getpid()) + "-" +
                      testing::UnitTest::GetInstance()->current_test_info()->name() + ".gguf";
  std::vector<std::string> tokens_;
  gguf::Writer w_;
};

TEST_F(VocabFile, MergesThroughPiecesThatAreNoToken) {
  const auto tok = load();
  const int32_t abc = 256, a = 'a', b = 'b';  // the alphabet is in byte order
  ASSERT_EQ(tok->token_text(a), "a");
  EXPECT_EQ(tok->encode("abc", false), std::vector<int32_t>{abc});
  EXPECT_EQ(tok->encode("ab", false), (std::vector<int32_t>{a, b}));  // "ab" merges but is no token
  EXPECT_EQ(decode(*tok, tok->encode("xabc abc", false)), "xabc abc");
  EXPECT_TRUE(tok->is_eog(257));
}

TEST_F(VocabFile, AddEosTokenIsReadOnlyWithAnEosId) {
  EXPECT_FALSE(load()->add_eos());
  w_.set_bool("tokenizer.ggml.add_eos_token", true);
  EXPECT_TRUE(load()->add_eos());
}

TEST_F(VocabFile, UnknownPreTokenizerIsRefused) {
  w_.set_string("tokenizer.ggml.pre", "no-such-pre");
  expect_error("no-such-pre");
}

TEST_F(VocabFile, UnsupportedModelIsRefused) {
  w_.set_string("tokenizer.ggml.model", "bert");
  expect_error("bert");
}

TEST_F(VocabFile, TypeCountMustMatch) {
  w_.set_i32_array("tokenizer.ggml.token_type", {1, 1, 1});
  expect_error("token_type");
}

TEST_F(VocabFile, SpecialIdMustBeInTheVocab) {
  w_.set_u32("tokenizer.ggml.eos_token_id", 5000);
  expect_error("eos_token_id");
}

TEST_F(VocabFile, MalformedMerge) {
  w_.set_string_array("tokenizer.ggml.merges", {"a b", "abc"});
  expect_error("merges[1]");
}

TEST_F(VocabFile, MissingTokens) {
  w_.write(path_);
  EXPECT_THROW(Tokenizer::from_gguf(*gguf::File::open(path_)), Error);
}

TEST_F(VocabFile, MissingModel) {
  gguf::Writer bare;
  bare.set_string("general.architecture", "qwen2");
  bare.write(path_);
  EXPECT_THROW(Tokenizer::from_gguf(*gguf::File::open(path_)), Error);
}

}  // namespace
}  // namespace rkchat::tok
