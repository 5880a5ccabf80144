// The runtime's raw pieces -> what a PieceSink may see: text cut at the end of the answer (the end-of-answer
// guard for runtimes that generate past the end-of-turn token) and complete UTF-8 characters only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkchat::backends::rkllm {

// Holds back the bytes of an incomplete UTF-8 character until the rest arrives.
class Utf8Joiner {
 public:
  std::string push(std::string_view bytes);
  // End of stream: an incomplete character becomes U+FFFD.
  std::string flush();

 private:
  std::string pending_;
};

// Watches token ids and text for the model's end-of-turn tokens. Text that could be the start of a marker
// ("<|im_") is held back until the next piece decides.
class EndGuard {
 public:
  EndGuard(std::vector<int32_t> end_ids, std::vector<std::string> end_markers);
  // The usual ones when the model's tokenizer is not at hand: Qwen <|im_end|> 151645 and <|endoftext|> 151643,
  // Llama 3 <|eot_id|>, and </s>.
  static EndGuard defaults();
  static std::pair<std::vector<int32_t>, std::vector<std::string>> default_ends();

  struct Step {
    std::string text;    // to pass on
    bool ended = false;  // this piece is (or contains) the end of the answer
  };
  Step push(std::string_view text, int32_t token);
  std::string flush();  // end of stream: the held-back text (it was not a marker after all)

 private:
  std::vector<int32_t> ids_;
  std::vector<std::string> markers_;
  std::string held_;
};

}  // namespace rkchat::backends::rkllm
