// Property tests (fixed seed): decode(encode(text)) == text for valid UTF-8 built from emoji, CJK, combining
// marks, runs of white space and random code points, whole and one id at a time; random bytes never break it.
#include "round_trip.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "fixtures.h"

namespace rkchat::tok {
namespace {

const char* const kVocabs[] = {"qwen3-vocab.gguf", "tokenizer/ggml-vocab-gpt-2.gguf",
                               "tokenizer/ggml-vocab-llama-spm.gguf", "tiny-qwen3-f32.gguf"};

class RandomText {
 public:
  explicit RandomText(uint32_t seed) : rng_(seed) {}

  std::string next() {
    std::string s;
    const int parts = pick(1, 40);
    for (int i = 0; i < parts; ++i) append_part(s);
    return s;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void append_part(std::string& s) {
    static const char* const kPieces[] = {
        "Hello",
        " world",
        "I've",
        " 'RE",
        "don't",
        "3.14159",
        "1234567",
        ",",
        "!!",
        "...",
        "```cpp",
        "\t",
        "\r\n",
        "\xF0\x9F\x98\x80",                                                          // 😀
        "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",                                          // 👍🏽 (skin tone)
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",  // family (ZWJ)
        "\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F",                  // 😶‍🌫️
        "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C",                          // 你好世界
        "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF",              // こんにちは
        "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",                                      // 한국어
        "e\xCC\x81",
        "a\xCC\x8A\xCC\xB1",
        "\xCC\x81",                                          // combining marks, a lone one first
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",  // Привет
        "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7",          // مرحبا
        "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87",  // नमस्ते
        "\xE2\x96\x81",
        "\xC2\xA0",
        "\xE3\x80\x80",
        "<|im_end|>",
        "<s>",
        "</s>",
        "<think>",
    };
    switch (pick(0, 5)) {
      case 0:
        s.append(pick(1, 300), ' ');
        break;
      case 1:
        s.append(pick(1, 50), pick(0, 1) ? '\n' : ' ');
        break;
      case 2:
        utf8::append(s, random_scalar());
        break;
      default:
        s += kPieces[pick(0, std::size(kPieces) - 1)];
    }
  }

  // Any Unicode scalar value, biased towards the BMP.
  char32_t random_scalar() {
    for (;;) {
      const auto cp = static_cast<char32_t>(pick(0, pick(0, 3) ? 0xFFFF : 0x10FFFF));
      if (cp != 0 && (cp < 0xD800 || cp > 0xDFFF)) return cp;
    }
  }

  std::mt19937 rng_;
};

class RoundTrip : public testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, ValidUtf8ComesBack) {
  RK_FIXTURE_TOKENIZER(tok, GetParam());
  RandomText gen(20240601);
  for (int i = 0; i < 400; ++i) {
    const std::string text = gen.next();
    ASSERT_TRUE(utf8::is_valid(text));
    const auto ids = tok->encode(text, false);
    ASSERT_EQ(decode(*tok, ids), test::expected_text(*tok, text)) << "case " << i;
    ASSERT_EQ(test::round_trip_error(*tok, text, false), "") << "case " << i;
  }
}

// The normal-build stand-in for the fuzzer: random bytes, special parsing on and off.
TEST_P(RoundTrip, RandomBytesSmoke) {
  RK_FIXTURE_TOKENIZER(tok, GetParam());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> len(0, 64), byte(0, 255), coin(0, 1);
  const std::string alphabet = " \n<|>/sabi\xE2\x96\x81\xC3\xF0";  // bytes that make specials and partial UTF-8
  for (int i = 0; i < 3000; ++i) {
    std::string text(len(rng), '\0');
    for (char& c : text) c = coin(rng) ? static_cast<char>(byte(rng)) : alphabet[byte(rng) % alphabet.size()];
    const bool parse_special = coin(rng);
    ASSERT_EQ(test::round_trip_error(*tok, text, parse_special), "") << "case " << i;
  }
}

// One tokenizer, used from several threads at once (the server shares it), gives what it gives alone.
TEST_P(RoundTrip, ConcurrentEncodeMatchesSerial) {
  RK_FIXTURE_TOKENIZER(tok, GetParam());
  RandomText gen(99);
  std::vector<std::string> texts(64);
  for (auto& t : texts) t = gen.next();
  std::vector<std::vector<int32_t>> serial;
  for (const auto& t : texts) serial.push_back(tok->encode(t, true));
  std::vector<std::vector<std::vector<int32_t>>> got(3, std::vector<std::vector<int32_t>>(texts.size()));
  std::vector<std::thread> threads;
  for (size_t k = 0; k < got.size(); ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i) got[k][i] = tok->encode(texts[i], true);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, serial);
}

std::string vocab_name(const testing::TestParamInfo<const char*>& p) {
  std::string name = p.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RoundTrip, testing::ValuesIn(kVocabs), vocab_name);

}  // namespace
}  // namespace rkchat::tok
