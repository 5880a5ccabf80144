// Jinja parser: tokens -> statement tree, with jinja2's operator precedence. Unknown filters and tests are
// rejected here, as jinja2 rejects them when it compiles a template.
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace rkchat::chat::jinja {

// Bounds that keep a hostile template from exhausting the stack of the parser, the evaluator and the tree's
// destructor (all recursive): nested blocks and brackets, and the height of an expression's tree (chains such as
// a.b.c or x|f|g add one level per link; a + b + c is one node).
inline constexpr int kMaxNesting = 96;
inline constexpr int kMaxExprHeight = 256;

// Throws TemplateError("line L, column C: ...") on a syntax error or beyond the bounds above.
Body parse(const std::vector<Token>& tokens, const SourceMap& map);

}  // namespace rkchat::chat::jinja
