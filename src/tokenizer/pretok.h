// Byte-level BPE pre-tokenizers: the split regexes named by tokenizer.ggml.pre, run with PCRE2 (UTF + UCP, JIT).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rkchat::tok {

class PreTokenizer {
 public:
  // Throws tok::Error for a name rkchat does not know (guessing would silently give wrong ids).
  static PreTokenizer from_name(const std::string& name);

  // Splits text into words: each regex in turn splits the pieces the previous one left, keeping the text
  // between matches as pieces of its own, so the words always cover text exactly. Invalid UTF-8 never
  // matches and ends up in pieces of its own.
  void split(std::string_view text, std::vector<std::string_view>& words) const;

  // Llama 3: a word that is itself a token is not merged (its tokenizer.json sets ignore_merges).
  bool ignore_merges() const { return ignore_merges_; }
  bool default_add_bos() const { return default_add_bos_; }

  class Regex;

 private:
  std::vector<std::shared_ptr<const Regex>> regexes_;
  bool ignore_merges_ = false;
  bool default_add_bos_ = false;
};

}  // namespace rkchat::tok
