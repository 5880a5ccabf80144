// The vocabulary as GGUF's tokenizer.ggml.* keys describe it, shared by the BPE and SentencePiece encoders,
// and the split of a text around its special tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rkchat::gguf {
class File;
}

namespace rkchat::tok {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
  std::vector<std::string> text;  // [n_vocab]
  std::vector<TokenType> type;    // [n_vocab]
  std::vector<float> score;       // [n_vocab] (0 when the file has none)
  TextIndex ids;                  // text -> id (the last id wins for duplicate texts, as in llama.cpp)
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1;
  bool add_bos = false;
  bool add_eos = false;           // tokenizer.ggml.add_eos_token (embedding models that pool the last token)
  std::vector<int32_t> specials;  // control, user-defined and unknown tokens, longest text first
  std::vector<bool> eog;          // [n_vocab]
  std::string chat_template;

  int32_t n() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const {
    auto it = ids.find(s);
    return it == ids.end() ? -1 : it->second;
  }
  // Throws tok::Error for an id outside [0, n).
  void check(int32_t id) const;
};

// Reads tokens, types, scores and special ids. default_add_bos applies when the file has no add_bos_token key.
// Throws tok::Error when the metadata is missing or inconsistent.
Vocab load_vocab(const gguf::File& file, bool default_add_bos);

// A piece of the input: raw text, or one special token (id >= 0).
struct Fragment {
  size_t offset;
  size_t length;
  int32_t id;
};

// Splits text around special tokens, longest token text first. User-defined tokens always split; control and
// unknown tokens only when parse_special (so that user text cannot forge <|im_end|>).
std::vector<Fragment> partition(const Vocab& vocab, std::string_view text, bool parse_special);

}  // namespace rkchat::tok
