// Shared helpers of the tokenizer tests: fixture paths (skipped with a message when absent) and tokenizers
// loaded once per process.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::tok::test {

inline std::string fixture_path(const std::string& rel) {
  const char* env = std::getenv("RKCHAT_FIXTURES_DIR");
  return std::string(env && *env ? env : RKCHAT_FIXTURES_DIR) + "/" + rel;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The tokenizer of a fixture GGUF, or nullptr when the fixture is absent.
inline const Tokenizer* fixture_tokenizer(const std::string& rel) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(rel);
  if (it == cache.end()) {
    const std::string path = fixture_path(rel);
    std::unique_ptr<Tokenizer> tok;
    if (std::filesystem::exists(path)) tok = Tokenizer::from_gguf(*gguf::File::open(path));
    it = cache.emplace(rel, std::move(tok)).first;
  }
  return it->second.get();
}

}  // namespace rkchat::tok::test

// Declares `var` for the fixture's tokenizer, or skips the test when the fixture is missing.
#define RK_FIXTURE_TOKENIZER(var, rel)                                               \
  const ::rkchat::tok::Tokenizer* var = ::rkchat::tok::test::fixture_tokenizer(rel); \
  if (!var) GTEST_SKIP() << "fixture " << ::rkchat::tok::test::fixture_path(rel) << " is absent"
