// Special tokens, BOS/EOS/EOG and the fixture models' own vocab (1024 tokens, added tokens at 998-1023).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "fixtures.h"

namespace rkchat::tok {
namespace {

constexpr const char* kTiny = "tiny-qwen3-f32.gguf";

std::vector<int32_t> parse_csv(const std::string& s) {
  std::vector<int32_t> ids;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');) ids.push_back(std::stoi(item));
  return ids;
}

// e2e-greedy.txt: blocks of "model: F", "text: T", "prompt: ids"; T tokenized with special tokens parsed, no BOS.
TEST(TinyModels, PromptIdsOfE2eGreedy) {
  const std::string path = test::fixture_path("e2e-greedy.txt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  std::istringstream in(test::read_file(path));
  std::string model, text;
  int checked = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model: ", 0) == 0) model = line.substr(7);
    if (line.rfind("text: ", 0) == 0) text = line.substr(6);
    if (line.rfind("prompt:", 0) != 0) continue;
    SCOPED_TRACE(model);
    const Tokenizer* tok = test::fixture_tokenizer(model);
    ASSERT_NE(tok, nullptr) << model << " is absent";
    EXPECT_EQ(tok->encode(text, /*parse_special=*/true, /*add_bos=*/false), parse_csv(line.substr(7)));
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(TinyModels, VocabMetadata) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  EXPECT_EQ(tok->n_vocab(), 1024);
  EXPECT_EQ(tok->model_kind(), "gpt2");
  EXPECT_EQ(tok->token_text(998), "<|endoftext|>");
  EXPECT_EQ(tok->token_text(999), "<|im_start|>");
  EXPECT_EQ(tok->token_text(1000), "<|im_end|>");
  EXPECT_EQ(tok->eos(), 1000);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_TRUE(tok->is_control(999));
  EXPECT_FALSE(tok->is_control(50));
  EXPECT_NE(tok->chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_THROW(tok->token_text(1024), Error);
  EXPECT_THROW(tok->token_bytes(-1), Error);
}

TEST(TinyModels, EndOfGeneration) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  EXPECT_TRUE(tok->is_eog(1000));  // <|im_end|>: EOS
  EXPECT_TRUE(tok->is_eog(998));   // <|endoftext|>: an end-of-turn text marked control
  EXPECT_FALSE(tok->is_eog(999));  // <|im_start|>
  EXPECT_FALSE(tok->is_eog(5));
  EXPECT_FALSE(tok->is_eog(-1));
  EXPECT_FALSE(tok->is_eog(4096));
}

TEST(TinyModels, SpecialParsingOnlyWhenAsked) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  const std::string text = "<|im_start|>user\nHi there<|im_end|>\n";
  const auto on = tok->encode(text, true);
  ASSERT_GE(on.size(), 4u);
  EXPECT_EQ(on.front(), 999);
  EXPECT_NE(std::find(on.begin(), on.end(), 1000), on.end());
  const auto off = tok->encode(text, false);
  EXPECT_TRUE(std::all_of(off.begin(), off.end(), [&](int32_t id) { return !tok->is_control(id); }));
  // Either way the text comes back, the control tokens only when shown.
  EXPECT_EQ(decode(*tok, off), text);
  EXPECT_EQ(decode(*tok, on, /*show_special=*/true), text);
  EXPECT_EQ(decode(*tok, on), "user\nHi there\n");
}

TEST(TinyModels, UserDefinedTokensAlwaysSplit) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  int32_t think = -1;
  for (int32_t id = 998; id < tok->n_vocab(); ++id) {
    if (tok->token_text(id) == "<think>") think = id;
  }
  ASSERT_GE(think, 0);
  ASSERT_FALSE(tok->is_control(think));
  for (bool parse : {false, true}) {
    const auto ids = tok->encode("a<think>b", parse);
    EXPECT_NE(std::find(ids.begin(), ids.end(), think), ids.end());
    EXPECT_EQ(decode(*tok, ids), "a<think>b");
  }
}

TEST(Bos, AddedOnlyWhenTheModelAsks) {
  RK_FIXTURE_TOKENIZER(spm, "tokenizer/ggml-vocab-llama-spm.gguf");
  EXPECT_TRUE(spm->add_bos());
  EXPECT_EQ(spm->bos(), 1);
  const auto ids = spm->encode("Hello", false, /*add_bos=*/true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(spm->encode("Hello", false).front(), ids[1]);
  EXPECT_EQ(decode(*spm, ids), "Hello");  // BOS hidden, the space prefix dropped
  EXPECT_EQ(decode(*spm, ids, true), "<s> Hello");

  RK_FIXTURE_TOKENIZER(qwen, kTiny);
  EXPECT_EQ(qwen->encode("Hello", false, true), qwen->encode("Hello", false, false));
}

TEST(Spm, SpacePrefixAfterSpecialTokens) {
  RK_FIXTURE_TOKENIZER(spm, "tokenizer/ggml-vocab-llama-spm.gguf");
  // "</s>" parsed as EOS (2); the text after it starts with the space prefix again, as at the start.
  const auto ids = spm->encode("Hi</s>Hi", true);
  const auto hi = spm->encode("Hi", true);
  std::vector<int32_t> expected = hi;
  expected.push_back(2);
  expected.insert(expected.end(), hi.begin(), hi.end());
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE(spm->is_eog(2));
}

TEST(Spm, ByteFallback) {
  RK_FIXTURE_TOKENIZER(spm, "tokenizer/ggml-vocab-llama-spm.gguf");
  const std::string text = "\xF0\x9F\xA6\x99";  // U+1F999, not a piece of the Llama 2 vocab
  const auto ids = spm->encode(text, false);
  // "▁" then the four bytes as <0xNN>.
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(spm->token_text(ids[1]), "<0xF0>");
  EXPECT_EQ(spm->token_bytes(ids[1]), "\xF0");
  EXPECT_EQ(decode(*spm, ids), text);
}

}  // namespace
}  // namespace rkchat::tok
