// Text <-> token ids, from a GGUF's tokenizer.ggml.* metadata: byte-level BPE (gpt2 family, with the
// pre-tokenizer named by tokenizer.ggml.pre) and SentencePiece (llama). Immutable after construction and safe to
// share between threads; streaming decode state lives in StreamDecoder.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rkchat::gguf {
class File;
}

namespace rkchat::tok {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Throws tok::Error when the metadata is missing or inconsistent.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);

  // parse_special: text such as "<|im_start|>" becomes its control token (on for rendered chat templates,
  // off for user text so that a user cannot end the turn); user-defined tokens (<think>) always do.
  // add_bos: prepend BOS when the model asks for one (add_bos()), as llama.cpp's add_special does.
  virtual std::vector<int32_t> encode(std::string_view text, bool parse_special, bool add_bos = false) const = 0;
  // The bytes a token stands for (byte-level decoded; SentencePiece's U+2581 as space; <0xNN> as the byte).
  // Control tokens give their text only when show_special.
  virtual std::string token_bytes(int32_t id, bool show_special = false) const = 0;
  // The token's text as stored in the vocabulary (for --pieces).
  virtual const std::string& token_text(int32_t id) const = 0;

  virtual int n_vocab() const = 0;
  virtual int32_t bos() const = 0;  // -1 when none
  virtual int32_t eos() const = 0;
  virtual bool add_bos() const = 0;
  // The model asks for EOS after a text encoded with its special tokens (llama.cpp's add_special), as Qwen3-Embedding
  // does so that its last token, the one pooled, is always the same kind. Used for embeddings, never for chat.
  virtual bool add_eos() const { return false; }
  virtual bool is_control(int32_t id) const = 0;
  // End of generation: EOS, EOT, <|im_end|>, <|eot_id|>, <|endoftext|> ... as the vocab marks them.
  virtual bool is_eog(int32_t id) const = 0;
  virtual std::string chat_template() const = 0;  // "" when the model has none
  virtual std::string model_kind() const = 0;     // "gpt2" | "llama"
  // SentencePiece puts a space before the text; decoding drops it again at the start of a stream.
  virtual bool add_space_prefix() const { return false; }
};

// Whole-sequence decode (through StreamDecoder, so invalid UTF-8 comes out as U+FFFD).
std::string decode(const Tokenizer& tok, std::span<const int32_t> ids, bool show_special = false);

// Streaming detokenizer: push ids, get text made of complete UTF-8 characters only.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool show_special = false);
  std::string push(int32_t id);
  // End of stream: whatever is held back; an incomplete sequence becomes U+FFFD.
  std::string flush();
  void reset();

 private:
  const Tokenizer* tok_;
  bool show_special_;
  bool at_start_ = true;  // SentencePiece drops the leading space of the first piece
  std::string pending_;
};

}  // namespace rkchat::tok
