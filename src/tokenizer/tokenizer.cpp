// Tokenizer::from_gguf and what the two encodings share.
#include "tokenizer/tokenizer.h"

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/spm.h"

namespace rkchat::tok {

namespace {

std::unique_ptr<Tokenizer> make(const gguf::File& file) {
  const std::optional<std::string> model = file.get_string_opt("tokenizer.ggml.model");
  if (!model) throw Error("no tokenizer (tokenizer.ggml.model is missing)");
  if (*model == "gpt2") {
    // llama.cpp's converter writes "default" when it does not recognise the pre-tokenizer.
    PreTokenizer pre = PreTokenizer::from_name(file.get_string_opt("tokenizer.ggml.pre").value_or("default"));
    Vocab vocab = load_vocab(file, pre.default_add_bos());
    return std::make_unique<BpeTokenizer>(std::move(vocab), file.get_string_array("tokenizer.ggml.merges"),
                                          std::move(pre));
  }
  if (*model == "llama") {
    Vocab vocab = load_vocab(file, true);
    return std::make_unique<SpmTokenizer>(std::move(vocab),
                                          file.get_bool_opt("tokenizer.ggml.add_space_prefix").value_or(true));
  }
  throw Error("unsupported tokenizer model '" + *model + "' (tokenizer.ggml.model; rkchat knows gpt2 and llama)");
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  try {
    return make(file);
  } catch (const gguf::Error& e) {
    throw Error(e.what());  // already names the file
  } catch (const Error& e) {
    throw Error(file.path() + ": " + e.what());
  }
}

std::vector<int32_t> VocabTokenizer::encode(std::string_view text, bool parse_special, bool add_bos) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && vocab_.add_bos) out.push_back(vocab_.bos);
  bool after_special = true;
  for (const Fragment& f : partition(vocab_, text, parse_special)) {
    if (f.id >= 0) {
      out.push_back(f.id);
      after_special = true;
    } else {
      encode_text(text.substr(f.offset, f.length), after_special, out);
      after_special = false;
    }
  }
  return out;
}

const std::string& VocabTokenizer::token_text(int32_t id) const {
  vocab_.check(id);
  return vocab_.text[id];
}

bool VocabTokenizer::is_control(int32_t id) const {
  return id >= 0 && id < vocab_.n() && vocab_.type[id] == TokenType::Control;
}

bool VocabTokenizer::is_eog(int32_t id) const { return id >= 0 && id < vocab_.n() && vocab_.eog[id]; }

std::optional<std::string> VocabTokenizer::special_bytes(int32_t id, bool show_special) const {
  switch (vocab_.type[id]) {
    case TokenType::Control:
    case TokenType::Unknown:
    case TokenType::Unused:
      return show_special ? vocab_.text[id] : std::string();
    case TokenType::UserDefined:
      return vocab_.text[id];
    default:
      return std::nullopt;
  }
}

}  // namespace rkchat::tok
