// A GGUF without tokenizer metadata on the CPU backend: a chat cannot turn text into tokens, and the message must
// say that the file has no tokenizer (it said "pass a vocab GGUF with --tokenizer", which the CPU backend ignores).
#include <gtest/gtest.h>

#include <filesystem>

#include "../gguf/gguf_edit.h"
#include "backends/backend.h"
#include "runtime/chat_session.h"

namespace rkchat::runtime {
namespace {

TEST(NoTokenizer, ChatSaysTheFileHasNoTokenizer) {
  const std::string src = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-qwen3-f32.gguf";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "fixtures not found";
  const std::string path = rkchat::testing::rewrite_gguf(
      src, rkchat::testing::GgufEdit().without("tokenizer.ggml.model"), rkchat::testing::temp_gguf("no-tokenizer"));
  backends::LoadOptions o;
  o.path = path;
  o.threads = 1;
  auto backend = backends::load(o);
  std::string message;
  try {
    ChatSession session(*backend, {});
  } catch (const backends::Error& e) {
    message = e.what();
  }
  std::filesystem::remove(path);
  EXPECT_NE(message.find(path + ": the model carries no tokenizer (no tokenizer.ggml.model metadata)"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace rkchat::runtime
