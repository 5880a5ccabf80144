// StreamDecoder and the UTF-8 rules it relies on.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "tokenizer/utf8.h"

namespace rkchat::tok {
namespace {

constexpr const char* kTiny = "tiny-qwen3-f32.gguf";

// The byte-level token that stands for one raw byte: the token whose bytes are exactly that byte.
int32_t byte_token(const Tokenizer& tok, uint8_t b) {
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.token_bytes(id) == std::string(1, static_cast<char>(b))) return id;
  }
  ADD_FAILURE() << "no token for byte " << int(b);
  return 0;
}

TEST(Utf8, ClassifiesWellFormedAndIllFormed) {
  using utf8::Status;
  struct Case {
    std::string bytes;
    Status status;
    size_t len;
  };
  const Case cases[] = {
      {"A", Status::Valid, 1},
      {"\xC3\xA9", Status::Valid, 2},
      {"\xE2\x82\xAC", Status::Valid, 3},
      {"\xF0\x9F\x98\x80", Status::Valid, 4},
      {"\x80", Status::Invalid, 1},
      {"\xC0\x80", Status::Invalid, 1},
      {"\xE0\x80\x80", Status::Invalid, 1},
      {"\xED\xA0\x80", Status::Invalid, 1},  // overlong, surrogate
      {"\xF4\x90\x80\x80", Status::Invalid, 1},
      {"\xF8", Status::Invalid, 1},
      {"\xE2\x82", Status::Incomplete, 2},
      {"\xE2\x82"
       "A",
       Status::Invalid, 2},
      {"\xF0\x9F\x98", Status::Incomplete, 3},
  };
  for (const Case& c : cases) {
    const utf8::Seq q = utf8::classify(c.bytes, 0);
    EXPECT_EQ(q.status, c.status) << testing::PrintToString(c.bytes);
    EXPECT_EQ(q.len, c.len) << testing::PrintToString(c.bytes);
  }
}

TEST(Utf8, AppendDecodeRoundTrip) {
  for (char32_t cp : {0x41u, 0x7FFu, 0x800u, 0xFFFDu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    utf8::append(s, cp);
    EXPECT_TRUE(utf8::is_valid(s));
    EXPECT_EQ(utf8::decode(s), cp);
  }
}

TEST(StreamDecoder, HoldsBackPartialCharacters) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  const std::string euro = "\xE2\x82\xAC";
  StreamDecoder dec(*tok);
  EXPECT_EQ(dec.push(byte_token(*tok, 0xE2)), "");
  EXPECT_EQ(dec.push(byte_token(*tok, 0x82)), "");
  EXPECT_EQ(dec.push(byte_token(*tok, 0xAC)), euro);
  EXPECT_EQ(dec.flush(), "");
}

TEST(StreamDecoder, IllFormedBytesBecomeReplacementCharacters) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  const std::string fffd(utf8::kReplacement);
  StreamDecoder dec(*tok);
  EXPECT_EQ(dec.push(byte_token(*tok, 0xFF)), fffd);  // never valid: out at once
  EXPECT_EQ(dec.push(byte_token(*tok, 0xE2)), "");
  EXPECT_EQ(dec.push(byte_token(*tok, 'A')), fffd + "A");  // the sequence broke off
  EXPECT_EQ(dec.push(byte_token(*tok, 0xF0)), "");
  EXPECT_EQ(dec.push(byte_token(*tok, 0x9F)), "");
  EXPECT_EQ(dec.flush(), fffd);  // an unfinished sequence at the end
  EXPECT_EQ(dec.flush(), "");
}

TEST(StreamDecoder, SpecialTokensHiddenUnlessShown) {
  RK_FIXTURE_TOKENIZER(tok, kTiny);
  const auto ids = tok->encode("<|im_start|>assistant\nOK<|im_end|>", true);
  StreamDecoder hidden(*tok), shown(*tok, /*show_special=*/true);
  std::string h, s;
  for (int32_t id : ids) {
    h += hidden.push(id);
    s += shown.push(id);
  }
  EXPECT_EQ(h + hidden.flush(), "assistant\nOK");
  EXPECT_EQ(s + shown.flush(), "<|im_start|>assistant\nOK<|im_end|>");
}

TEST(StreamDecoder, SentencePieceSpaces) {
  RK_FIXTURE_TOKENIZER(tok, "tokenizer/ggml-vocab-llama-spm.gguf");
  const auto ids = tok->encode("Hello  world", false, true);
  StreamDecoder dec(*tok);
  for (int round = 0; round < 2; ++round) {  // reset() starts a new stream, with its leading space dropped again
    std::string out;
    for (int32_t id : ids) out += dec.push(id);
    EXPECT_EQ(out + dec.flush(), "Hello  world");
    dec.reset();
  }
  EXPECT_EQ(tok->token_bytes(tok->encode("a b", false)[1]), " b");
}

}  // namespace
}  // namespace rkchat::tok
