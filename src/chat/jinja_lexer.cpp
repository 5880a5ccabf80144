#include "chat/jinja_lexer.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "chat/jinja_strings.h"
#include "chat/template.h"

namespace rkchat::chat::jinja {

SourceMap::SourceMap(std::string_view source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i)
    if (source[i] == '\n') line_starts_.push_back(i + 1);
}

std::string SourceMap::where(size_t pos) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
  auto line = static_cast<size_t>(it - line_starts_.begin());
  return "line " + std::to_string(line) + ", column " + std::to_string(pos - *(it - 1) + 1);
}

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

class Lexer {
 public:
  Lexer(const std::string& src, const SourceMap& map) : src_(src), map_(map) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos_), '\0', false);
        break;
      }
      char kind = src_[tag + 1];
      char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : '\0';
      emit_text(src_.substr(pos_, tag - pos_), sign, kind != '{');
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        lex_comment(tag);
      } else if (kind == '%' && try_raw(tag)) {
        continue;
      } else {
        lex_tag(tag, kind == '{');
      }
    }
    tokens_.push_back({Tok::End, "", src_.size()});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t pos, const std::string& msg) const {
    throw TemplateError(map_.where(pos) + ": " + msg, false);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // Text before a tag: "{%-" strips all whitespace before it; lstrip_blocks strips the spaces that start the
  // tag's line for block and comment tags unless the tag is "{%+".
  void emit_text(std::string text, char sign, bool block_like) {
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0 && is_space(text[end - 1])) --end;
      text.resize(end);
    } else if (sign != '+' && block_like) {
      size_t line_pos = text.rfind('\n');
      line_pos = line_pos == std::string::npos ? 0 : line_pos + 1;
      bool rest_blank = line_pos < text.size() &&
                        std::all_of(text.begin() + static_cast<std::ptrdiff_t>(line_pos), text.end(), is_space);
      if ((line_pos > 0 || line_starting_) && rest_blank) text.resize(line_pos);
    }
    if (!text.empty()) tokens_.push_back({Tok::Text, std::move(text), pos_});
  }

  // After a block or comment end: "-%}" eats all following whitespace, "+%}" nothing, "%}" one newline.
  void after_block_end(char sign) {
    if (sign == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
    } else if (sign != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  void lex_comment(size_t tag) {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail(tag, "missing end of comment tag");
    char sign = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    pos_ = end + 2;
    after_block_end(sign);
  }

  // "{% raw %}...{% endraw %}": the body is text, tags inside are not interpreted.
  bool try_raw(size_t tag) {
    size_t p = skip_spaces(pos_);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p = skip_spaces(p + 3);
    char sign = p < src_.size() && src_[p] == '-' ? '-' : '\0';
    if (src_.compare(p + (sign ? 1 : 0), 2, "%}") != 0) return false;
    pos_ = p + (sign ? 1 : 0) + 2;
    if (sign == '-') after_block_end(sign);
    for (size_t at = src_.find("{%", pos_); at != std::string::npos; at = src_.find("{%", at + 2)) {
      char inner = at + 2 < src_.size() && (src_[at + 2] == '-' || src_[at + 2] == '+') ? src_[at + 2] : '\0';
      size_t q = skip_spaces(at + 2 + (inner ? 1 : 0));
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q = skip_spaces(q + 6);
      char end_sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : '\0';
      if (src_.compare(q + (end_sign ? 1 : 0), 2, "%}") != 0) continue;
      emit_text(src_.substr(pos_, at - pos_), inner, true);
      pos_ = q + (end_sign ? 1 : 0) + 2;
      after_block_end(end_sign);
      return true;
    }
    fail(tag, "missing end of raw directive");
  }

  size_t skip_spaces(size_t p) const {
    while (p < src_.size() && is_space(src_[p])) ++p;
    return p;
  }

  // The inside of {{ }} or {% %}: expression tokens until the closing delimiter at bracket depth 0.
  void lex_tag(size_t tag, bool is_var) {
    tokens_.push_back({is_var ? Tok::VarBegin : Tok::BlockBegin, "", tag});
    const char* close = is_var ? "}}" : "%}";
    int depth = 0;
    for (;;) {
      pos_ = skip_spaces(pos_);
      if (pos_ >= src_.size()) fail(tag, std::string("unexpected end of template, expected '") + close + "'");
      if (depth == 0) {
        char sign = (src_[pos_] == '-' || src_[pos_] == '+') ? src_[pos_] : '\0';
        if (src_.compare(pos_ + (sign ? 1 : 0), 2, close) == 0 && !(is_var && sign == '+')) {
          tokens_.push_back({is_var ? Tok::VarEnd : Tok::BlockEnd, "", pos_});
          pos_ += (sign ? 1 : 0) + 2;
          if (is_var) {
            if (sign == '-') pos_ = skip_spaces(pos_);
            line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
          } else {
            after_block_end(sign);
          }
          return;
        }
      }
      lex_expr_token(depth);
    }
  }

  void lex_expr_token(int& depth) {
    char c = src_[pos_];
    size_t start = pos_;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos_ < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) ++pos_;
      tokens_.push_back({Tok::Name, src_.substr(start, pos_ - start), start});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      lex_number();
    } else if (c == '\'' || c == '"') {
      lex_string();
    } else {
      static const std::array<const char*, 26> ops = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                                      "/",  "%",  "~",  "<",  ">",  "=",  ".", ",", ":",
                                                      "|",  "(",  ")",  "[",  "]",  "{",  "}", ";"};
      for (const char* op : ops) {
        if (src_.compare(pos_, std::char_traits<char>::length(op), op) == 0) {
          std::string s = op;
          if (s == "(" || s == "[" || s == "{") ++depth;
          if ((s == ")" || s == "]" || s == "}") && depth > 0) --depth;
          tokens_.push_back({Tok::Op, s, start});
          pos_ += s.size();
          return;
        }
      }
      fail(start, std::string("unexpected character '") + c + "'");
    }
  }

  // Digits with optional '_' separators; a float needs digits after '.' or an exponent (as jinja2's regex).
  void lex_number() {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) ++pos_;
    };
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      ++pos_;
      digits();
      is_float = true;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p]))) {
        pos_ = p;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i)
      if (src_[i] != '_') text += src_[i];
    Token t{is_float ? Tok::Float : Tok::Int, text, start};
    try {
      if (is_float) {
        t.fval = std::stod(text);
      } else {
        t.ival = std::stoll(text);
      }
    } catch (const std::out_of_range&) {
      // Python ints are unbounded; beyond int64 we keep the magnitude as a float.
      t.kind = Tok::Float;
      t.fval = std::strtod(text.c_str(), nullptr);
    }
    tokens_.push_back(std::move(t));
  }

  // Python string escapes (jinja2 decodes literals with "unicode-escape"); unknown escapes stay as written.
  void lex_string() {
    size_t start = pos_;
    char quote = src_[pos_++];
    std::string out;
    while (pos_ < src_.size() && src_[pos_] != quote) {
      char c = src_[pos_++];
      if (c != '\\' || pos_ >= src_.size()) {
        out += c;
        continue;
      }
      char e = src_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'a':
          out += '\a';
          break;
        case '0':
          out += '\0';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;
        case 'x':
          out += hex_escape(2, start);
          break;
        case 'u':
          out += hex_escape(4, start);
          break;
        case 'U':
          out += hex_escape(8, start);
          break;
        default:
          out += '\\';
          out += e;
      }
    }
    if (pos_ >= src_.size()) fail(start, "unterminated string");
    ++pos_;
    tokens_.push_back({Tok::String, std::move(out), start});
  }

  std::string hex_escape(size_t n, size_t start) {
    if (pos_ + n > src_.size()) fail(start, "truncated \\x/\\u escape in string");
    uint32_t cp = 0;
    for (size_t i = 0; i < n; ++i) {
      char h = src_[pos_ + i];
      if (!std::isxdigit(static_cast<unsigned char>(h))) fail(start, "bad \\x/\\u escape in string");
      cp = cp * 16 +
           static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
    }
    if (cp > 0x10FFFF) fail(start, "escape beyond U+10FFFF in string");
    pos_ += n;
    std::string out;
    append_utf8(out, cp);
    return out;
  }

  const std::string& src_;
  const SourceMap& map_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const SourceMap& map) { return Lexer(source, map).run(); }

}  // namespace rkchat::chat::jinja
