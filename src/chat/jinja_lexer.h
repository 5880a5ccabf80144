// Jinja lexer: template source -> tokens, with the whitespace rules Hugging Face sets (trim_blocks,
// lstrip_blocks, {%- -%} and {%+ +%}) applied to the text between tags, exactly as jinja2's lexer does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rkchat::chat::jinja {

enum class Tok {
  Text,        // literal template text (already whitespace-controlled)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,        // identifier or keyword (if, for, in, not, and, or, is, true, none ...)
  String,      // string literal, escapes resolved
  Int,         // integer literal
  Float,       // float literal
  Op,          // operator or punctuation: + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
  End,         // end of the template
};

struct Token {
  Tok kind;
  std::string text;  // Text/Name/String/Op value
  size_t pos;        // byte offset in the normalized source, for line:column
  int64_t ival = 0;
  double fval = 0;
};

// Line and column (1-based) of byte offsets, for error messages: "line 3, column 7".
class SourceMap {
 public:
  explicit SourceMap(std::string_view source);
  std::string where(size_t pos) const;

 private:
  std::vector<size_t> line_starts_;
};

// jinja2 reads "\r\n" and "\r" as "\n" and drops one trailing newline (keep_trailing_newline is off).
std::string normalize_source(std::string_view source);

// Throws TemplateError("line L, column C: ...") on an unterminated tag, string or an unexpected character.
std::vector<Token> tokenize(const std::string& source, const SourceMap& map);

}  // namespace rkchat::chat::jinja
