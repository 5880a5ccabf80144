// Internals of the RKLLM backend shared by its loading (rkllm_backend.cpp) and its turns (conversation.cpp).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "backends/backend.h"
#include "backends/rkllm/library.h"
#include "backends/rkllm/runtime_select.h"
#include "backends/rkllm/session.h"
#include "backends/rkllm/stream.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::backends::rkllm {

void warn(const std::string& message);

class RkllmBackend final : public Backend {
 public:
  explicit RkllmBackend(const LoadOptions& options);
  ~RkllmBackend() override;

  const ModelInfo& info() const override { return info_; }
  Capabilities capabilities() const override;
  const tok::Tokenizer* tokenizer() const override { return tokenizer_.get(); }
  std::unique_ptr<Conversation> start_conversation() override;

  Session& session() { return *session_; }
  EndGuard make_guard() const { return EndGuard(end_ids_, end_markers_); }
  // Once per backend: the runtime went on past the end-of-turn token.
  void warn_runaway(const std::string& marker);
  // The message for an answer that came back empty, naming the versions involved.
  std::string empty_answer_message() const;
  void release_conversation() { conversation_live_ = false; }
  const std::string& runtime_version() const { return runtime_version_; }

 private:
  void load_tokenizer(const LoadOptions& options);
  void init_runtime(const LoadOptions& options, int family);

  ModelInfo info_;
  std::unique_ptr<gguf::File> vocab_;
  std::unique_ptr<tok::Tokenizer> tokenizer_;
  std::vector<int32_t> end_ids_;
  std::vector<std::string> end_markers_;
  std::unique_ptr<Library> library_;
  std::unique_ptr<Session> session_;
  std::string runtime_version_;  // "" when unknown
  std::atomic<bool> conversation_live_{false};
  std::atomic<bool> warned_runaway_{false};
};

std::unique_ptr<Conversation> make_conversation(RkllmBackend& backend);

}  // namespace rkchat::backends::rkllm
