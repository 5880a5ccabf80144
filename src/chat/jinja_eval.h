// Jinja evaluator: runs a parsed template over variables and returns the output. Scoping follows jinja2: a
// for-loop body gets a fresh scope per iteration (what it sets does not leak out; namespace() objects carry
// state across iterations), macros see the scope they were defined in, if-blocks share their parent's scope.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace rkchat::chat::jinja {

// Bounds that stop runaway templates (fuzzing, hostile templates): loop iterations plus macro calls, the depth
// of nested macro calls, the nesting of statements and expressions being evaluated (macro calls included: it
// bounds the stack), and how deep a namespace attribute may nest values (ns.x = [ns.x] in a loop).
// Output and strings are capped by kMaxStringBytes, and all the work of a render by kMaxWork (jinja_value.h).
inline constexpr int64_t kMaxSteps = 200'000;
inline constexpr int kMaxCallDepth = 48;
inline constexpr int kMaxEvalDepth = 512;
inline constexpr int kMaxValueDepth = 256;

// `vars` become the template's variables, over jinja2's globals (range, namespace, dict). Throws TemplateError:
// with "line L, column C: message" for evaluation errors, or as raised by a callable (raise_exception).
std::string render(const Body& body, const SourceMap& map, const std::vector<std::pair<std::string, Value>>& vars,
                   uint64_t max_work = kMaxWork);

}  // namespace rkchat::chat::jinja
