// A Backend/Conversation double for the runtime tests: a byte-level tokenizer with a few ChatML control tokens,
// a KV "cache" that is the list of tokens seen (so prefix reuse can be checked), and scripted answers.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::testing {

class FakeTokenizer : public tok::Tokenizer {
 public:
  static constexpr int32_t kImStart = 256, kImEnd = 257, kBos = 258;
  explicit FakeTokenizer(std::string chat_template = "") : template_(std::move(chat_template)) {}

  std::vector<int32_t> encode(std::string_view text, bool parse_special, bool add_bos = false) const override {
    std::vector<int32_t> ids;
    if (add_bos) ids.push_back(kBos);
    for (size_t i = 0; i < text.size();) {
      const int32_t special = parse_special ? special_at(text.substr(i)) : -1;
      if (special >= 0) {
        i += specials()[static_cast<size_t>(special - kImStart)].size();
        ids.push_back(special);
      } else {
        ids.push_back(static_cast<unsigned char>(text[i++]));
      }
    }
    return ids;
  }
  std::string token_bytes(int32_t id, bool show_special) const override {
    if (id < 256) return std::string(1, static_cast<char>(id));
    return show_special ? token_text(id) : "";
  }
  const std::string& token_text(int32_t id) const override {
    static const std::string bytes[1] = {"?"};
    return id >= kImStart ? specials()[static_cast<size_t>(id - kImStart)] : bytes[0];
  }
  int n_vocab() const override { return 259; }
  int32_t bos() const override { return kBos; }
  int32_t eos() const override { return kImEnd; }
  bool add_bos() const override { return false; }
  bool is_control(int32_t id) const override { return id >= kImStart; }
  bool is_eog(int32_t id) const override { return id == kImEnd; }
  std::string chat_template() const override { return template_; }
  std::string model_kind() const override { return "gpt2"; }

  static const std::vector<std::string>& specials() {
    static const std::vector<std::string> s = {"<|im_start|>", "<|im_end|>", "<s>"};
    return s;
  }

 private:
  static int32_t special_at(std::string_view text) {
    for (size_t k = 0; k < specials().size(); ++k) {
      if (text.starts_with(specials()[k])) return kImStart + static_cast<int32_t>(k);
    }
    return -1;
  }
  std::string template_;
};

// Answers with the next scripted reply, one piece per entry; the "cache" is every token it has seen.
class FakeConversation : public backends::Conversation {
 public:
  std::vector<std::vector<std::string>> replies;  // pieces of each turn's answer
  std::vector<backends::TurnInput> inputs;        // what each turn received
  std::vector<int32_t> cache;
  std::atomic<bool> aborted{false};
  int turn = 0;
  int piece_delay_ms = 0;  // a pause before each piece after the first (a consumer can act in between)

  backends::TurnStats generate(const backends::TurnInput& in, const backends::GenerateOptions& opt,
                               const backends::PieceSink& sink) override {
    inputs.push_back(in);
    backends::TurnStats st;
    st.prompt_tokens = static_cast<int>(in.tokens.size());
    const auto mismatch = std::mismatch(cache.begin(), cache.end(), in.tokens.begin(), in.tokens.end());
    st.cached_tokens = static_cast<int>(mismatch.first - cache.begin());
    cache = in.tokens;
    st.prefill_ms = 10;
    st.ttft_ms = 12;
    st.stop = backends::StopReason::eos;
    const auto& pieces = replies.at(static_cast<size_t>(turn++));
    for (const auto& p : pieces) {
      if (opt.max_tokens >= 0 && st.gen_tokens >= opt.max_tokens) {
        st.stop = backends::StopReason::max_tokens;
        break;
      }
      if (piece_delay_ms > 0 && st.gen_tokens > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(piece_delay_ms));
      if (aborted.exchange(false)) {
        st.stop = backends::StopReason::aborted;
        break;
      }
      ++st.gen_tokens;
      const int32_t id = static_cast<int32_t>(static_cast<unsigned char>(p.empty() ? 0 : p[0]));
      cache.push_back(id);
      if (!sink({p, id})) {
        st.stop = backends::StopReason::stopped_by_caller;
        break;
      }
    }
    st.decode_ms = 100.0 * st.gen_tokens;
    st.total_ms = st.ttft_ms + st.decode_ms;
    return st;
  }
  std::vector<float> evaluate(const std::vector<int32_t>&) override { return {}; }
  void clear() override { cache.clear(); }
  void abort() override { aborted = true; }
  int cached_tokens() const override { return static_cast<int>(cache.size()); }
};

class FakeBackend : public backends::Backend {
 public:
  explicit FakeBackend(bool token_input = true, std::string chat_template = "", int n_ctx = 4096)
      : tok_(std::move(chat_template)), token_input_(token_input) {
    info_.name = "fake";
    info_.backend = "cpu";
    info_.n_ctx = n_ctx;
  }
  const backends::ModelInfo& info() const override { return info_; }
  backends::Capabilities capabilities() const override {
    backends::Capabilities c;
    c.token_input = token_input_;
    c.text_input = !token_input_;
    c.kv_reuse = true;
    return c;
  }
  const tok::Tokenizer* tokenizer() const override { return token_input_ ? &tok_ : nullptr; }
  std::unique_ptr<backends::Conversation> start_conversation() override {
    auto c = std::make_unique<FakeConversation>();
    conv = c.get();
    c->replies = replies;
    c->piece_delay_ms = piece_delay_ms;
    return c;
  }

  std::vector<std::vector<std::string>> replies;  // handed to the next conversation
  int piece_delay_ms = 0;
  FakeConversation* conv = nullptr;  // the last one started

 private:
  backends::ModelInfo info_;
  FakeTokenizer tok_;
  bool token_input_;
};

// A FakeBackend owned by an engine (as every generation runs through one); `backend` stays usable to script the
// replies and inspect what the conversation received.
class FakeEngine {
 public:
  template <class... A>
  explicit FakeEngine(A&&... args) {
    auto b = std::make_unique<FakeBackend>(std::forward<A>(args)...);
    backend = b.get();
    engine = std::make_unique<runtime::Engine>(std::move(b), runtime::EngineOptions{.parallel = 1, .queue = 4});
  }
  FakeBackend* backend = nullptr;
  std::unique_ptr<runtime::Engine> engine;
};

}  // namespace rkchat::testing
