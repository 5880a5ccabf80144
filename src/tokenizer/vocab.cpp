#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::tok {

namespace {

// End-of-turn texts that chat models use; a vocab that marks one of them control or user-defined ends
// generation on it even when its metadata names only one EOS (Qwen's <|endoftext|> next to <|im_end|>).
constexpr std::array<std::string_view, 13> kEndOfTurnTexts = {
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|end|>",
    "</s>",
    "<end_of_turn>",
    "<EOT>",
    "_<EOT>",
    "<end_of_utterance>",
    "<|return|>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};

std::vector<TokenType> read_types(const gguf::File& f, size_t n) {
  std::vector<TokenType> types(n, TokenType::Normal);
  if (!f.has("tokenizer.ggml.token_type")) return types;
  const std::vector<int64_t> raw = f.get_int_array("tokenizer.ggml.token_type");
  if (raw.size() != n) {
    throw Error("tokenizer.ggml.token_type has " + std::to_string(raw.size()) + " entries for " + std::to_string(n) +
                " tokens");
  }
  for (size_t i = 0; i < n; ++i) {
    if (raw[i] < 0 || raw[i] > static_cast<int64_t>(TokenType::Byte)) {
      throw Error("token " + std::to_string(i) + " has unknown token type " + std::to_string(raw[i]));
    }
    types[i] = static_cast<TokenType>(raw[i]);
  }
  return types;
}

std::vector<float> read_scores(const gguf::File& f, size_t n) {
  if (!f.has("tokenizer.ggml.scores")) return std::vector<float>(n, 0.0f);
  const std::vector<double> raw = f.get_float_array("tokenizer.ggml.scores");
  if (raw.size() != n) {
    throw Error("tokenizer.ggml.scores has " + std::to_string(raw.size()) + " entries for " + std::to_string(n) +
                " tokens");
  }
  return std::vector<float>(raw.begin(), raw.end());
}

int32_t read_id(const gguf::File& f, const char* key, int32_t n) {
  const std::optional<int64_t> id = f.get_int_opt(key);
  if (!id) return -1;
  if (*id < 0 || *id >= n) {
    throw Error(std::string(key) + " = " + std::to_string(*id) + " is outside the vocabulary of " + std::to_string(n) +
                " tokens");
  }
  return static_cast<int32_t>(*id);
}

bool is_special_type(TokenType t) {
  return t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown;
}

void mark_end_of_generation(Vocab& v) {
  v.eog.assign(v.text.size(), false);
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0) v.eog[id] = true;
  }
  for (std::string_view s : kEndOfTurnTexts) {
    const int32_t id = v.find(s);
    if (id < 0 || !is_special_type(v.type[id])) continue;
    v.eog[id] = true;
    v.type[id] = TokenType::Control;  // a user must not be able to type the end of a turn
  }
}

}  // namespace

void Vocab::check(int32_t id) const {
  if (id < 0 || id >= n()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n()) + " tokens");
  }
}

Vocab load_vocab(const gguf::File& f, bool default_add_bos) {
  Vocab v;
  v.text = f.get_string_array("tokenizer.ggml.tokens");
  if (v.text.empty()) throw Error("tokenizer.ggml.tokens is empty");
  if (v.text.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error("too many tokens");
  }
  const size_t n = v.text.size();
  v.type = read_types(f, n);
  v.score = read_scores(f, n);
  v.ids.reserve(n);
  for (size_t i = 0; i < n; ++i) v.ids.insert_or_assign(v.text[i], static_cast<int32_t>(i));

  v.bos = read_id(f, "tokenizer.ggml.bos_token_id", v.n());
  v.eos = read_id(f, "tokenizer.ggml.eos_token_id", v.n());
  v.eot = read_id(f, "tokenizer.ggml.eot_token_id", v.n());
  v.eom = read_id(f, "tokenizer.ggml.eom_token_id", v.n());
  v.unk = read_id(f, "tokenizer.ggml.unknown_token_id", v.n());
  v.add_bos = f.get_bool_opt("tokenizer.ggml.add_bos_token").value_or(default_add_bos) && v.bos >= 0;
  v.add_eos = f.get_bool_opt("tokenizer.ggml.add_eos_token").value_or(false) && v.eos >= 0;
  v.chat_template = f.get_string_opt("tokenizer.chat_template").value_or("");
  mark_end_of_generation(v);

  for (int32_t id = 0; id < v.n(); ++id) {
    if (is_special_type(v.type[id]) && !v.text[id].empty()) v.specials.push_back(id);
  }
  std::stable_sort(v.specials.begin(), v.specials.end(),
                   [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });
  return v;
}

std::vector<Fragment> partition(const Vocab& vocab, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({0, text.size(), -1});
  std::vector<Fragment> next;
  for (int32_t id : vocab.specials) {
    if (!parse_special && vocab.type[id] != TokenType::UserDefined) continue;
    const std::string& needle = vocab.text[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      const size_t end = f.offset + f.length;
      const std::string_view span = text.substr(0, end);
      size_t pos = f.offset;
      for (size_t hit; (hit = span.find(needle, pos)) != std::string_view::npos; pos = hit + needle.size()) {
        if (hit > pos) next.push_back({pos, hit - pos, -1});
        next.push_back({hit, needle.size(), id});
      }
      if (pos < end) next.push_back({pos, end - pos, -1});
    }
    frags.swap(next);
  }
  return frags;
}

}  // namespace rkchat::tok
