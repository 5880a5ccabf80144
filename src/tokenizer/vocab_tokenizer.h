// What the BPE and SentencePiece tokenizers share: the vocabulary, special-token splitting and BOS.
// Each one encodes the raw-text fragments between special tokens and turns a token back into bytes.
#pragma once

#include <optional>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace rkchat::tok {

class VocabTokenizer : public Tokenizer {
 public:
  explicit VocabTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

  std::vector<int32_t> encode(std::string_view text, bool parse_special, bool add_bos) const override;
  const std::string& token_text(int32_t id) const override;
  int n_vocab() const override { return vocab_.n(); }
  int32_t bos() const override { return vocab_.bos; }
  int32_t eos() const override { return vocab_.eos; }
  bool add_bos() const override { return vocab_.add_bos; }
  bool add_eos() const override { return vocab_.add_eos; }
  bool is_control(int32_t id) const override;
  bool is_eog(int32_t id) const override;
  std::string chat_template() const override { return vocab_.chat_template; }

 protected:
  // Encodes text that holds no special token. after_special: the fragment starts the text or follows a
  // special token (SentencePiece puts its space prefix there).
  virtual void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  // The bytes of tokens whose text is not encoded: control, unknown and unused ones give their text only when
  // show_special, user-defined ones always. nullopt for the other types, which each encoding decodes its own way.
  std::optional<std::string> special_bytes(int32_t id, bool show_special) const;
  const Vocab& vocab() const { return vocab_; }

 private:
  Vocab vocab_;
};

}  // namespace rkchat::tok
