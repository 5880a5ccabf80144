#include "chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

#include "chat/jinja_builtins.h"
#include "chat/template.h"

namespace rkchat::chat::jinja {

namespace {

using K = Expr::Kind;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const SourceMap& map) : t_(tokens), map_(map) {}

  Body parse_template() {
    Body body;
    std::string end = parse_body(body, {});
    (void)end;
    return body;
  }

 private:
  // Keeps the recursion of nested expressions and blocks bounded.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting)
        p_.fail(p_.peek().pos, "template nested deeper than " + std::to_string(kMaxNesting) + " levels");
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& p_;
  };

  [[noreturn]] void fail(size_t pos, const std::string& msg) const {
    throw TemplateError(map_.where(pos) + ": " + msg, false);
  }
  // A finished node: its height from its children's, bounded so that evaluating and freeing the tree (both
  // recursive) stay within the stack. Chains (a.b.c, x|f|g, a and b and c) grow the height without nesting.
  ExprPtr seal(ExprPtr e) const {
    int below = 0;
    for (const auto& a : e->args)
      if (a) below = std::max(below, a->height);
    for (const auto& kv : e->kwargs) below = std::max(below, kv.second->height);
    e->height = below + 1;
    if (e->height > kMaxExprHeight)
      fail(e->pos, "expression nested deeper than " + std::to_string(kMaxExprHeight) + " levels");
    return e;
  }
  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() {
    const Token& tok = peek();
    if (i_ < t_.size() - 1) ++i_;
    return tok;
  }
  bool is_op(const char* op, size_t ahead = 0) const { return peek(ahead).kind == Tok::Op && peek(ahead).text == op; }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Name && peek(ahead).text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& tok) {
    switch (tok.kind) {
      case Tok::End:
        return "end of template";
      case Tok::BlockEnd:
        return "'%}'";
      case Tok::VarEnd:
        return "'}}'";
      case Tok::Text:
        return "template text";
      default:
        return "'" + tok.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(peek().pos, std::string("expected '") + op + "', got " + describe(peek()));
  }
  void expect(Tok kind, const char* what) {
    if (peek().kind != kind) fail(peek().pos, std::string("expected ") + what + ", got " + describe(peek()));
    next();
  }
  std::string expect_identifier() {
    if (peek().kind != Tok::Name) fail(peek().pos, "expected a name, got " + describe(peek()));
    return next().text;
  }

  // Statements until one of `ends` ({% endfor %}, {% else %} ...); returns which one (its name is consumed).
  std::string parse_body(Body& body, std::initializer_list<const char*> ends) {
    DepthGuard guard(*this);
    for (;;) {
      const Token& tok = peek();
      switch (tok.kind) {
        case Tok::Text:
          body.push_back(std::make_unique<Stmt>(Stmt::Kind::Text, tok.pos));
          body.back()->text = next().text;
          break;
        case Tok::VarBegin: {
          next();
          auto s = std::make_unique<Stmt>(Stmt::Kind::Output, tok.pos);
          s->expr = parse_tuple();
          expect(Tok::VarEnd, "'}}'");
          body.push_back(std::move(s));
          break;
        }
        case Tok::BlockBegin: {
          const Token& name = peek(1);
          bool is_end = name.kind == Tok::Name &&
                        std::any_of(ends.begin(), ends.end(), [&](const char* e) { return name.text == e; });
          if (is_end) {
            next();
            return next().text;
          }
          next();
          body.push_back(parse_statement());
          break;
        }
        case Tok::End:
          if (ends.size() != 0)
            fail(tok.pos, "unexpected end of template, expected '" + std::string(*ends.begin()) + "'");
          return "";
        default:
          fail(tok.pos, "unexpected " + describe(tok));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& kw = peek();
    if (kw.kind != Tok::Name) fail(kw.pos, "expected a statement name, got " + describe(kw));
    std::string name = next().text;
    if (name == "if") return parse_if(kw.pos);
    if (name == "for") return parse_for(kw.pos);
    if (name == "set") return parse_set(kw.pos);
    if (name == "macro") return parse_macro(kw.pos);
    if (name == "filter") return parse_filter_block(kw.pos);
    if (name == "break" || name == "continue") {
      expect(Tok::BlockEnd, "'%}'");
      return std::make_unique<Stmt>(name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, kw.pos);
    }
    if (name == "generation") {  // transformers' marker for assistant tokens: renders its body unchanged
      expect(Tok::BlockEnd, "'%}'");
      auto s = std::make_unique<Stmt>(Stmt::Kind::If, kw.pos);
      s->branches.emplace_back(nullptr, Body{});
      parse_body(s->branches.back().second, {"endgeneration"});
      expect(Tok::BlockEnd, "'%}'");
      return s;
    }
    fail(kw.pos, "unknown or unsupported statement '" + name + "'");
  }

  StmtPtr parse_if(size_t pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::If, pos);
    ExprPtr cond = parse_expression();
    for (;;) {
      expect(Tok::BlockEnd, "'%}'");
      Body body;
      std::string end = parse_body(body, {"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "endif") break;
      if (end == "else") {
        expect(Tok::BlockEnd, "'%}'");
        Body else_body;
        parse_body(else_body, {"endif"});
        s->branches.emplace_back(nullptr, std::move(else_body));
        break;
      }
      cond = parse_expression();
    }
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = accept_op("(");
    do {
      names.push_back(expect_identifier());
    } while (accept_op(","));
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for(size_t pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::For, pos);
    s->names = parse_targets();
    if (!accept_name("in")) fail(peek().pos, "expected 'in', got " + describe(peek()));
    s->expr = parse_tuple(/*with_cond=*/false);
    if (accept_name("if")) s->cond = parse_expression();
    if (is_name("recursive")) fail(peek().pos, "recursive loops are not supported");
    expect(Tok::BlockEnd, "'%}'");
    if (parse_body(s->body, {"else", "endfor"}) == "else") {
      expect(Tok::BlockEnd, "'%}'");
      parse_body(s->else_body, {"endfor"});
    }
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  StmtPtr parse_set(size_t pos) {
    if (peek().kind == Tok::Name && is_op(".", 1)) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::SetAttr, pos);
      s->target = std::make_unique<Expr>(K::Name, peek().pos);
      s->target->name = next().text;
      next();
      s->text = expect_identifier();
      expect_op("=");
      s->expr = parse_tuple();
      expect(Tok::BlockEnd, "'%}'");
      return s;
    }
    auto names = parse_targets();
    if (accept_op("=")) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::Set, pos);
      s->names = std::move(names);
      s->expr = parse_tuple();
      expect(Tok::BlockEnd, "'%}'");
      return s;
    }
    if (names.size() != 1) fail(pos, "a block set takes one name");
    auto s = std::make_unique<Stmt>(Stmt::Kind::SetBlock, pos);
    s->names = std::move(names);
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect(Tok::BlockEnd, "'%}'");
    parse_body(s->body, {"endset"});
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  StmtPtr parse_macro(size_t pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::Macro, pos);
    s->text = expect_identifier();
    expect_op("(");
    while (!is_op(")")) {
      s->names.push_back(expect_identifier());
      s->defaults.push_back(accept_op("=") ? parse_expression() : nullptr);
      if (!accept_op(",")) break;
    }
    expect_op(")");
    expect(Tok::BlockEnd, "'%}'");
    parse_body(s->body, {"endmacro"});
    if (peek().kind == Tok::Name) next();  // {% endmacro name %}
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  StmtPtr parse_filter_block(size_t pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::Filter, pos);
    s->expr = parse_filter_chain(nullptr, /*leading_pipe=*/false);
    expect(Tok::BlockEnd, "'%}'");
    parse_body(s->body, {"endfilter"});
    expect(Tok::BlockEnd, "'%}'");
    return s;
  }

  // An expression, or several separated by commas (a tuple, kept as a list).
  ExprPtr parse_tuple(bool with_cond = true) {
    size_t pos = peek().pos;
    ExprPtr first = with_cond ? parse_expression() : parse_or();
    if (!is_op(",")) return first;
    auto list = std::make_unique<Expr>(K::Array, pos);
    list->name = "tuple";
    list->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (peek().kind == Tok::BlockEnd || peek().kind == Tok::VarEnd || is_name("if")) break;
      list->args.push_back(with_cond ? parse_expression() : parse_or());
    }
    return seal(std::move(list));
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    size_t pos = peek().pos;
    ExprPtr value = parse_or();
    if (!is_name("if")) return value;
    next();
    auto e = std::make_unique<Expr>(K::Cond, pos);
    e->args.push_back(std::move(value));
    e->args.push_back(parse_or());
    e->args.push_back(accept_name("else") ? parse_expression() : nullptr);
    return seal(std::move(e));
  }

  template <class Next>
  ExprPtr parse_logical(K kind, const char* word, Next next_level) {
    ExprPtr left = (this->*next_level)();
    while (is_name(word)) {
      auto e = std::make_unique<Expr>(kind, next().pos);
      e->args.push_back(std::move(left));
      e->args.push_back((this->*next_level)());
      left = seal(std::move(e));
    }
    return left;
  }
  ExprPtr parse_or() { return parse_logical(K::Or, "or", &Parser::parse_and); }
  ExprPtr parse_and() { return parse_logical(K::And, "and", &Parser::parse_not); }

  ExprPtr parse_not() {
    if (!is_name("not")) return parse_compare();
    DepthGuard guard(*this);
    auto e = std::make_unique<Expr>(K::Unary, next().pos);
    e->name = "not";
    e->args.push_back(parse_not());
    return seal(std::move(e));
  }

  ExprPtr parse_compare() {
    size_t pos = peek().pos;
    ExprPtr first = parse_math1();
    std::unique_ptr<Expr> cmp;
    for (;;) {
      std::string op;
      if (peek().kind == Tok::Op && (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                                     peek().text == "<=" || peek().text == ">" || peek().text == ">=")) {
        op = next().text;
      } else if (accept_name("in")) {
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = std::make_unique<Expr>(K::Compare, pos);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? seal(std::move(cmp)) : std::move(first);
  }

  // One level of left-associative operators; a chain a + b - c is one node folded left when evaluated, so that
  // long chains (a ~ b ~ ... built by templates) cost neither stack nor height.
  ExprPtr parse_binary_level(std::initializer_list<const char*> ops, ExprPtr (Parser::*next_level)()) {
    ExprPtr first = (this->*next_level)();
    ExprPtr chain;
    for (;;) {
      auto it = std::find_if(ops.begin(), ops.end(), [&](const char* op) { return is_op(op); });
      if (it == ops.end()) break;
      if (!chain) {
        chain = std::make_unique<Expr>(K::Binary, first->pos);
        chain->args.push_back(std::move(first));
      }
      chain->ops.emplace_back(*it);
      chain->op_pos.push_back(next().pos);
      chain->args.push_back((this->*next_level)());
    }
    return chain ? seal(std::move(chain)) : std::move(first);
  }
  // jinja2's precedence, loosest first: + -, then ~, then * / // %, then **, then unary - +.
  ExprPtr parse_math1() { return parse_binary_level({"+", "-"}, &Parser::parse_concat); }
  ExprPtr parse_concat() { return parse_binary_level({"~"}, &Parser::parse_math2); }
  ExprPtr parse_math2() { return parse_binary_level({"*", "/", "//", "%"}, &Parser::parse_pow); }
  ExprPtr parse_pow() { return parse_binary_level({"**"}, &Parser::parse_unary_filtered); }
  ExprPtr parse_unary_filtered() { return parse_unary(true); }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = std::make_unique<Expr>(K::Unary, peek().pos);
      node->name = next().text;
      node->args.push_back(parse_unary(false));
      node = seal(std::move(node));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    return with_filter ? parse_filter_chain(std::move(node)) : std::move(node);
  }

  ExprPtr parse_primary() {
    const Token& tok = peek();
    auto lit = [&](Value v) {
      auto e = std::make_unique<Expr>(K::Literal, tok.pos);
      e->literal = std::move(v);
      return e;
    };
    switch (tok.kind) {
      case Tok::Name: {
        std::string n = next().text;
        if (n == "true" || n == "True") return lit(Value(true));
        if (n == "false" || n == "False") return lit(Value(false));
        if (n == "none" || n == "None") return lit(Value::none());
        auto e = std::make_unique<Expr>(K::Name, tok.pos);
        e->name = n;
        return e;
      }
      case Tok::String: {
        std::string s = next().text;
        while (peek().kind == Tok::String) s += next().text;  // adjacent literals concatenate
        return lit(Value(std::move(s)));
      }
      case Tok::Int:
        return lit(Value(next().ival));
      case Tok::Float:
        return lit(Value(next().fval));
      case Tok::Op:
        if (tok.text == "(") return parse_parenthesized();
        if (tok.text == "[") return parse_list();
        if (tok.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail(tok.pos, "unexpected " + describe(tok));
  }

  ExprPtr parse_parenthesized() {
    size_t pos = next().pos;
    if (accept_op(")")) {
      auto empty = std::make_unique<Expr>(K::Array, pos);
      empty->name = "tuple";
      return empty;
    }
    ExprPtr e = parse_tuple();
    expect_op(")");
    return e;
  }

  ExprPtr parse_list() {
    auto e = std::make_unique<Expr>(K::Array, next().pos);
    while (!is_op("]")) {
      e->args.push_back(parse_expression());
      if (!accept_op(",")) break;
    }
    expect_op("]");
    return seal(std::move(e));
  }

  ExprPtr parse_dict() {
    auto e = std::make_unique<Expr>(K::Map, next().pos);
    while (!is_op("}")) {
      e->args.push_back(parse_expression());
      expect_op(":");
      e->args.push_back(parse_expression());
      if (!accept_op(",")) break;
    }
    expect_op("}");
    return seal(std::move(e));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".")) {
        size_t pos = next().pos;
        if (peek().kind == Tok::Int) {  // x.0 is x[0]
          auto e = std::make_unique<Expr>(K::Item, pos);
          e->args.push_back(std::move(node));
          auto idx = std::make_unique<Expr>(K::Literal, peek().pos);
          idx->literal = Value(next().ival);
          e->args.push_back(std::move(idx));
          node = seal(std::move(e));
          continue;
        }
        auto e = std::make_unique<Expr>(K::Attr, pos);
        e->name = expect_identifier();
        e->args.push_back(std::move(node));
        node = seal(std::move(e));
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard guard(*this);
    size_t pos = next().pos;
    ExprPtr parts[3];
    if (!is_op(":")) parts[0] = parse_expression();
    if (!accept_op(":")) {
      expect_op("]");
      auto e = std::make_unique<Expr>(K::Item, pos);
      e->args.push_back(std::move(node));
      e->args.push_back(std::move(parts[0]));
      return seal(std::move(e));
    }
    if (!is_op("]") && !is_op(":")) parts[1] = parse_expression();
    if (accept_op(":") && !is_op("]")) parts[2] = parse_expression();
    expect_op("]");
    auto e = std::make_unique<Expr>(K::Slice, pos);
    e->args.push_back(std::move(node));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return seal(std::move(e));
  }

  // "(a, b, name=c)" appended to `e`'s args and kwargs.
  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == Tok::Name && is_op("=", 1)) {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(key, parse_expression());
      } else {
        if (!e.kwargs.empty()) fail(peek().pos, "positional argument after a keyword argument");
        e.args.push_back(parse_expression());
      }
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    DepthGuard guard(*this);
    auto e = std::make_unique<Expr>(K::Call, peek().pos);
    e->args.push_back(std::move(callee));
    parse_call_args(*e);
    return seal(std::move(e));
  }

  // "| f(args) | g" and "is [not] test arg" after an operand (null operand: a {% filter %} block).
  ExprPtr parse_filter_chain(ExprPtr node, bool leading_pipe = true) {
    bool first = true;
    for (;;) {
      if ((first && !leading_pipe) || is_op("|")) {
        if (!(first && !leading_pipe)) next();
        node = parse_filter(std::move(node));
      } else if (node && is_name("is")) {
        node = parse_test(std::move(node));
      } else if (node && is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
      first = false;
    }
  }

  ExprPtr parse_filter(ExprPtr subject) {
    DepthGuard guard(*this);
    auto e = std::make_unique<Expr>(K::Filter, peek().pos);
    e->name = expect_identifier();
    if (!has_filter(e->name)) fail(e->pos, "no filter named '" + e->name + "'");
    e->args.push_back(std::move(subject));
    if (is_op("(")) parse_call_args(*e);
    return seal(std::move(e));
  }

  ExprPtr parse_test(ExprPtr subject) {
    DepthGuard guard(*this);
    auto e = std::make_unique<Expr>(K::Test, next().pos);
    e->negated = accept_name("not");
    e->name = expect_identifier();
    if (!has_test(e->name)) fail(e->pos, "no test named '" + e->name + "'");
    e->args.push_back(std::move(subject));
    if (is_op("(")) {
      parse_call_args(*e);
    } else if (takes_bare_test_argument()) {
      e->args.push_back(parse_postfix(parse_primary()));
    }
    return seal(std::move(e));
  }

  // jinja2 reads "x is divisibleby 3" / "x is equalto 'a'": a single argument without parentheses.
  bool takes_bare_test_argument() const {
    const Token& tok = peek();
    if (tok.kind == Tok::Name) return tok.text != "else" && tok.text != "or" && tok.text != "and";
    return tok.kind == Tok::String || tok.kind == Tok::Int || tok.kind == Tok::Float || is_op("[") || is_op("{");
  }

  const std::vector<Token>& t_;
  const SourceMap& map_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const SourceMap& map) { return Parser(tokens, map).parse_template(); }

}  // namespace rkchat::chat::jinja
