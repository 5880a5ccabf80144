// llama.cpp's tokenizer test vectors (tests/test-tokenizer-0): every text of an .inp file must give the ids of the
// same line of the .out file, with special-token parsing off and no BOS.
#include <gtest/gtest.h>

#include <sstream>

#include "fixtures.h"

namespace rkchat::tok {
namespace {

// Texts are separated by "\n__ggml_vocab_test__\n"; the file ends with one.
std::vector<std::string> split_texts(const std::string& content) {
  static const std::string kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t hit; (hit = content.find(kSep, pos)) != std::string::npos; pos = hit + kSep.size()) {
    texts.push_back(content.substr(pos, hit - pos));
  }
  EXPECT_EQ(pos, content.size()) << "text after the last separator";
  return texts;
}

std::vector<std::vector<int32_t>> parse_ids(const std::string& content) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(content);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

struct VectorSet {
  const char* name;
  const char* vocab;
  const char* inp;
  const char* out;
};

void PrintTo(const VectorSet& v, std::ostream* os) { *os << v.vocab; }

class Vectors : public testing::TestWithParam<VectorSet> {};

TEST_P(Vectors, MatchLlamaCpp) {
  const VectorSet& v = GetParam();
  RK_FIXTURE_TOKENIZER(tok, v.vocab);
  const auto texts = split_texts(test::read_file(test::fixture_path(v.inp)));
  const auto expected = parse_ids(test::read_file(test::fixture_path(v.out)));
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GT(texts.size(), 40u);
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("text " + std::to_string(i) + ": '" + texts[i] + "'");
    const std::vector<int32_t> ids = tok->encode(texts[i], /*parse_special=*/false, /*add_bos=*/false);
    EXPECT_EQ(ids, expected[i]);
    EXPECT_EQ(decode(*tok, ids), texts[i]);
  }
}

const VectorSet kSets[] = {
    {"Qwen3", "qwen3-vocab.gguf", "tokenizer/qwen2.inp", "tokenizer/qwen2.out"},
    {"LlamaSpm", "tokenizer/ggml-vocab-llama-spm.gguf", "tokenizer/ggml-vocab-llama-spm.gguf.inp",
     "tokenizer/ggml-vocab-llama-spm.gguf.out"},
    {"Gpt2", "tokenizer/ggml-vocab-gpt-2.gguf", "tokenizer/ggml-vocab-gpt-2.gguf.inp",
     "tokenizer/ggml-vocab-gpt-2.gguf.out"},
};

std::string set_name(const testing::TestParamInfo<VectorSet>& p) { return p.param.name; }

INSTANTIATE_TEST_SUITE_P(Fixtures, Vectors, testing::ValuesIn(kSets), set_name);

}  // namespace
}  // namespace rkchat::tok
