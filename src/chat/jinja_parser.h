// Jinja parser: tokens -> statement tree, with jinja2's operator precedence. Unknown filters and tests are
// rejected here, as jinja2 rejects them when it compiles a template.
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace rkchat::chat::jinja {

// Throws TemplateError("line L, column C: ...") on a syntax error. Nesting deeper than a fixed limit is an
// error too, so that a hostile template cannot exhaust the stack.
Body parse(const std::vector<Token>& tokens, const SourceMap& map);

}  // namespace rkchat::chat::jinja
