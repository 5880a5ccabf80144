// Jinja syntax tree: expressions and statements as plain structs with a kind tag; the evaluator switches on
// the kind. Every node keeps the byte offset it came from so that errors can name line and column.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace rkchat::chat::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,  // literal
    Name,     // name
    Array,    // list literal, or a tuple when name is "tuple"; args: elements
    Map,      // dict literal; args: key0, value0, key1, value1, ...
    Attr,     // args[0].name
    Item,     // args[0][args[1]]
    Slice,    // args[0][args[1]:args[2]:args[3]], missing parts are null
    Call,     // args[0](args[1..], kwargs)
    Filter,   // args[0] | name(args[1..], kwargs); args[0] is null in a {% filter %} block
    Test,     // args[0] is [not] name(args[1..])
    Unary,    // name ("-", "+", "not") args[0]
    Binary,   // args[0] ops[0] args[1] ops[1] args[2] ...: + - * / // % ** ~, folded from the left
    Compare,  // args[0] ops[0] args[1] ops[1] args[2] ...: == != < <= > >= in notin
    And,      // args[0] and args[1]
    Or,       // args[0] or args[1]
    Cond,     // args[0] if args[1] else args[2] (null: undefined)
  };
  Kind kind;
  size_t pos;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  std::vector<size_t> op_pos;  // Binary: where each operator is, for errors
  bool negated = false;        // Test: "is not"
  int height = 1;              // levels of nodes below and including this one (the parser bounds it)

  Expr(Kind k, size_t p) : kind(k), pos(p) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind {
    Text,      // text
    Output,    // {{ expr }}
    If,        // branches: (cond, body)...; a null cond is the else branch
    For,       // for names in expr [if cond] body [else else_body]
    Set,       // set names = expr (several names unpack a sequence)
    SetAttr,   // set target.text = expr (namespace attribute)
    SetBlock,  // set names[0] body endset
    Macro,     // macro text(names = defaults) body
    Filter,    // filter expr (a Filter chain over a null subject) body
    Break,
    Continue,
  };
  Kind kind;
  size_t pos;
  std::string text;
  ExprPtr expr;
  ExprPtr target;
  ExprPtr cond;
  std::vector<std::string> names;
  std::vector<ExprPtr> defaults;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;

  Stmt(Kind k, size_t p) : kind(k), pos(p) {}
};

}  // namespace rkchat::chat::jinja
