// Byte-level BPE (tokenizer.ggml.model = gpt2): pre-tokenizer regexes, then merges by rank within each word.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretok.h"
#include "tokenizer/vocab_tokenizer.h"

namespace rkchat::tok {

class BpeTokenizer final : public VocabTokenizer {
 public:
  // merges: tokenizer.ggml.merges ("left right" in byte-level text, best first). Throws tok::Error when malformed.
  BpeTokenizer(Vocab vocab, const std::vector<std::string>& merges, PreTokenizer pre);

  std::string token_bytes(int32_t id, bool show_special) const override;
  std::string model_kind() const override { return "gpt2"; }

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // piece id of left+right
  };
  struct Workspace;
  void encode_word(std::string_view word, Workspace& ws, std::vector<int32_t>& out) const;
  void add_bigram(Workspace& ws, int left, int right) const;
  void emit_bytes(std::string_view bytes, std::vector<int32_t>& out) const;

  PreTokenizer pre_;
  // Merges work on piece ids: token ids, then ids past n_vocab for the merge intermediates that are no token
  // (a trimmed vocabulary keeps merges whose result it lacks). Key: left << 32 | right.
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_piece_{};  // the piece of each byte's byte-level character
  std::array<int32_t, 256> byte_token_{};  // the token of each byte's byte-level character, or unk/-1
};

}  // namespace rkchat::tok
