// libFuzzer target for the tokenizers: arbitrary bytes through encode and StreamDecoder must neither crash nor
// hang, release only well-formed UTF-8 and give the text back (ill-formed bytes as U+FFFD). The first input byte
// picks the vocab (byte-level BPE Qwen3 or SentencePiece Llama 2) and whether special tokens are parsed.
// Run: build/fuzz/tests/fuzz/fuzz_tokenizer -max_total_time=60 (needs the fixtures, RKCHAT_FIXTURES_DIR).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "../tokenizer/round_trip.h"
#include "gguf/gguf.h"

namespace {

std::unique_ptr<rkchat::tok::Tokenizer> load(const char* rel) {
  const char* env = std::getenv("RKCHAT_FIXTURES_DIR");
  const std::string path = std::string(env && *env ? env : RKCHAT_FIXTURES_DIR) + "/" + rel;
  try {
    return rkchat::tok::Tokenizer::from_gguf(*rkchat::gguf::File::open(path));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_tokenizer: %s (set RKCHAT_FIXTURES_DIR)\n", e.what());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto bpe = load("qwen3-vocab.gguf");
  static const auto spm = load("tokenizer/ggml-vocab-llama-spm.gguf");
  if (size == 0) return 0;
  const rkchat::tok::Tokenizer& tok = (data[0] & 1) ? *spm : *bpe;
  const bool parse_special = (data[0] & 2) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string error = rkchat::tok::test::round_trip_error(tok, text, parse_special);
  if (!error.empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", error.c_str());
    std::abort();
  }
  return 0;
}
