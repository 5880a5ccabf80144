// Main idea: the text starts as one symbol per UTF-8 character; a max-heap of adjacent pairs whose concatenation
// is a token, ordered by (token score, leftmost), merges the best pair and offers the merged symbol's new
// neighbours. A pair is stale when either side has changed length since it was offered. Symbols stay contiguous
// in the text, so a pair's text is a view and lookups allocate nothing. When the vocab allows it, words (a run
// of U+2581 and what follows up to the next one) are merged one at a time, which keeps the heap small.
#include "tokenizer/spm.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "tokenizer/utf8.h"

namespace rkchat::tok {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Where a word starts: a U+2581 after another character.
bool word_starts_at(std::string_view s, size_t i) {
  return i >= kSpace.size() && s.substr(i, kSpace.size()) == kSpace &&
         s.substr(i - kSpace.size(), kSpace.size()) != kSpace;
}

std::string escape_spaces(std::string_view text, bool prefix) {
  std::string s;
  s.reserve(text.size() + kSpace.size());
  if (prefix) s += kSpace;
  for (char c : text) {
    if (c == ' ') {
      s += kSpace;
    } else {
      s += c;
    }
  }
  return s;
}

std::string unescape_spaces(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kSpace.size()) == kSpace) {
      s += ' ';
      i += kSpace.size();
    } else {
      s += text[i++];
    }
  }
  return s;
}

// The byte of a "<0xNN>" token, or -1.
int byte_of(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    const int d = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                           : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

struct SpmTokenizer::Workspace {
  struct Symbol {
    uint32_t start, len;  // len 0 once merged into the symbol on its left
    int prev, next;
  };
  struct Bigram {
    float score;
    int left, right;
    uint32_t size;
  };
  // Heap order: highest score first, then leftmost.
  static bool later(const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

SpmTokenizer::SpmTokenizer(Vocab vocab, bool add_space_prefix)
    : VocabTokenizer(std::move(vocab)), add_space_prefix_(add_space_prefix) {
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = this->vocab().find(hex);
    if (id < 0) id = this->vocab().find(std::string(1, static_cast<char>(b)));
    byte_token_[b] = id >= 0 ? id : this->vocab().unk;
  }
  for (const std::string& t : this->vocab().text) {
    for (size_t i = 1; i < t.size() && split_words_; ++i) split_words_ = !word_starts_at(t, i);
  }
}

void SpmTokenizer::encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  const std::string s = escape_spaces(text, add_space_prefix_ && after_special);
  Workspace ws;
  size_t begin = 0;
  for (size_t i = 1; i < s.size() && split_words_; ++i) {
    if (word_starts_at(s, i)) {
      encode_chunk(std::string_view(s).substr(begin, i - begin), ws, out);
      begin = i;
    }
  }
  encode_chunk(std::string_view(s).substr(begin), ws, out);
}

void SpmTokenizer::encode_chunk(std::string_view s, Workspace& ws, std::vector<int32_t>& out) const {
  auto& symbols = ws.symbols;
  auto& heap = ws.heap;
  symbols.clear();
  heap.clear();
  for (uint32_t i = 0; i < s.size();) {
    const utf8::Seq q = utf8::classify(s, i);
    const auto len = static_cast<uint32_t>(q.status == utf8::Status::Valid ? q.len : 1);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({i, len, index - 1, i + len < s.size() ? index + 1 : -1});
    i += len;
  }

  auto offer = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].len + symbols[right].len;
    const int32_t id = vocab().find(s.substr(symbols[left].start, size));
    if (id < 0) return;
    heap.push_back({vocab().score[id], left, right, size});
    std::push_heap(heap.begin(), heap.end(), Workspace::later);
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) offer(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Workspace::later);
    const Workspace::Bigram b = heap.back();
    heap.pop_back();
    auto& left = symbols[b.left];
    auto& right = symbols[b.right];
    if (left.len == 0 || right.len == 0 || left.len + right.len != b.size) continue;  // stale
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    offer(left.prev, b.left);
    offer(b.left, left.next);
  }

  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = s.substr(symbols[i].start, symbols[i].len);
    const int32_t id = vocab().find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t byte = byte_token_[static_cast<uint8_t>(c)];
      if (byte >= 0) out.push_back(byte);
    }
  }
}

std::string SpmTokenizer::token_bytes(int32_t id, bool show_special) const {
  vocab().check(id);
  if (auto s = special_bytes(id, show_special)) return *s;
  const std::string& text = vocab().text[id];
  if (vocab().type[id] == TokenType::Byte) {
    const int b = byte_of(text);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  return unescape_spaces(text);
}

}  // namespace rkchat::tok
