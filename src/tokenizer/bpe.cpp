// Main idea: a word's bytes start as one symbol each (the piece of the byte's byte-level character); a min-heap of
// adjacent pairs ordered by (merge rank, position) merges the best pair, then offers the merged symbol's two new
// neighbours. Stale heap entries are recognised by the pieces they were made from and skipped, so a word of n
// bytes costs O(n log n). Symbols whose piece is no token fall back to one token per byte.
#include "tokenizer/bpe.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace rkchat::tok {

namespace {

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for U+0100 onwards in byte order.
constexpr bool is_printable(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

std::array<char32_t, 256> byte_to_cp() {
  std::array<char32_t, 256> map{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) map[b] = is_printable(b) ? static_cast<char32_t>(b) : next++;
  return map;
}

const std::array<char32_t, 256> kByteToCp = byte_to_cp();

// Inverse of kByteToCp; -1 for characters that stand for no byte. All mapped code points are below 0x144.
std::array<int16_t, 0x144> cp_to_byte() {
  std::array<int16_t, 0x144> map;
  map.fill(-1);
  for (int b = 0; b < 256; ++b) map[kByteToCp[b]] = static_cast<int16_t>(b);
  return map;
}

const std::array<int16_t, 0x144> kCpToByte = cp_to_byte();

std::string byte_level(std::string_view raw) {
  std::string s;
  s.reserve(raw.size() * 2);
  for (char c : raw) utf8::append(s, kByteToCp[static_cast<uint8_t>(c)]);
  return s;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}

}  // namespace

struct BpeTokenizer::Workspace {
  struct Symbol {
    int32_t piece;
    uint32_t start, len;  // bytes of the word; len 0 once merged into the symbol on its left
    int prev, next;       // neighbours, -1 at the ends
  };
  struct Bigram {
    int32_t rank;
    int left, right;
    int32_t left_piece, right_piece, result;
  };
  // Heap order: lowest rank first, then leftmost.
  static bool later(const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  std::vector<std::string_view> words;
};

BpeTokenizer::BpeTokenizer(Vocab vocab, const std::vector<std::string>& merges, PreTokenizer pre)
    : VocabTokenizer(std::move(vocab)), pre_(std::move(pre)) {
  TextIndex extra;  // merge intermediates that are no token
  auto piece_of = [&](std::string_view s) {
    const int32_t id = this->vocab().find(s);
    if (id >= 0) return id;
    return extra.try_emplace(std::string(s), static_cast<int32_t>(this->vocab().n() + extra.size())).first->second;
  };
  for (int b = 0; b < 256; ++b) {
    std::string c;
    utf8::append(c, kByteToCp[b]);
    byte_piece_[b] = piece_of(c);
    const int32_t token = this->vocab().find(c);
    byte_token_[b] = token >= 0 ? token : this->vocab().unk;
  }
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) {
      throw Error("tokenizer.ggml.merges[" + std::to_string(rank) + "] = '" + m + "' is not two pieces");
    }
    const int32_t left = piece_of(std::string_view(m).substr(0, space));
    const int32_t right = piece_of(std::string_view(m).substr(space + 1));
    const int32_t result = piece_of(m.substr(0, space) + m.substr(space + 1));
    merges_.try_emplace(pair_key(left, right), Merge{static_cast<int32_t>(rank), result});  // first rank wins
  }
}

void BpeTokenizer::encode_text(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const {
  Workspace ws;
  pre_.split(text, ws.words);
  for (std::string_view word : ws.words) encode_word(word, ws, out);
}

void BpeTokenizer::add_bigram(Workspace& ws, int left, int right) const {
  if (left < 0 || right < 0) return;
  const int32_t lp = ws.symbols[left].piece;
  const int32_t rp = ws.symbols[right].piece;
  const auto it = merges_.find(pair_key(lp, rp));
  if (it == merges_.end()) return;
  ws.heap.push_back({it->second.rank, left, right, lp, rp, it->second.result});
  std::push_heap(ws.heap.begin(), ws.heap.end(), Workspace::later);
}

void BpeTokenizer::encode_word(std::string_view word, Workspace& ws, std::vector<int32_t>& out) const {
  if (pre_.ignore_merges()) {
    const int32_t id = vocab().find(byte_level(word));
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const int n = static_cast<int>(word.size());
  ws.symbols.clear();
  ws.heap.clear();
  for (int i = 0; i < n; ++i) {
    ws.symbols.push_back(
        {byte_piece_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), 1, i - 1, i + 1 < n ? i + 1 : -1});
  }
  for (int i = 1; i < n; ++i) add_bigram(ws, i - 1, i);

  while (!ws.heap.empty()) {
    std::pop_heap(ws.heap.begin(), ws.heap.end(), Workspace::later);
    const Workspace::Bigram b = ws.heap.back();
    ws.heap.pop_back();
    auto& left = ws.symbols[b.left];
    auto& right = ws.symbols[b.right];
    if (left.len == 0 || right.len == 0 || left.next != b.right || left.piece != b.left_piece ||
        right.piece != b.right_piece) {
      continue;  // stale: one side has merged since this pair was offered
    }
    left.piece = b.result;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) ws.symbols[right.next].prev = b.left;
    add_bigram(ws, left.prev, b.left);
    add_bigram(ws, b.left, left.next);
  }

  for (int i = n > 0 ? 0 : -1; i >= 0; i = ws.symbols[i].next) {
    const auto& s = ws.symbols[i];
    if (s.piece < vocab().n()) {
      out.push_back(s.piece);
    } else {
      emit_bytes(word.substr(s.start, s.len), out);
    }
  }
}

void BpeTokenizer::emit_bytes(std::string_view bytes, std::vector<int32_t>& out) const {
  for (char c : bytes) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id >= 0) out.push_back(id);
  }
}

std::string BpeTokenizer::token_bytes(int32_t id, bool show_special) const {
  vocab().check(id);
  if (auto s = special_bytes(id, show_special)) return *s;
  const std::string_view text = vocab().text[id];
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const utf8::Seq q = utf8::classify(text, i);
    const std::string_view seq = text.substr(i, q.len);
    i += q.len;
    const char32_t cp = q.status == utf8::Status::Valid ? utf8::decode(seq) : 0x110000;
    if (cp < kCpToByte.size() && kCpToByte[cp] >= 0) {
      out += static_cast<char>(kCpToByte[cp]);
    } else {
      out += seq;  // not byte-level text: keep it as it is
    }
  }
  return out;
}

}  // namespace rkchat::tok
