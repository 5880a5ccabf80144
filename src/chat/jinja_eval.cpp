#include "chat/jinja_eval.h"

#include <map>
#include <memory>

#include "chat/jinja_builtins.h"
#include "chat/template.h"

namespace rkchat::chat::jinja {

namespace {

struct Frame {
  explicit Frame(std::shared_ptr<Frame> p) : parent(std::move(p)) {}
  std::map<std::string, Value, std::less<>> vars;
  std::shared_ptr<Frame> parent;

  const Value* lookup(std::string_view name) const {
    for (const Frame* f = this; f; f = f->parent.get()) {
      auto it = f->vars.find(name);
      if (it != f->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using FramePtr = std::shared_ptr<Frame>;

// Does `v` contain the dict `target`? Assigning such a value into `target` would make a cycle.
bool reaches(const Value& v, const Dict* target, int depth = 0) {
  if (depth > kMaxValueDepth)
    throw EvalError("a namespace value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  charge_items(1);
  if (v.is_dict()) {
    if (v.dict_ptr().get() == target) return true;
    for (const auto& kv : v.dict().items)
      if (reaches(kv.second, target, depth + 1)) return true;
  } else if (v.is_list()) {
    for (const auto& e : v.list())
      if (reaches(e, target, depth + 1)) return true;
  }
  return false;
}

Value make_range(Args& a) {
  auto arg = [&](size_t i) {
    if (!a.pos[i].is_int()) throw EvalError("range() arguments must be integers");
    return a.pos[i].as_int();
  };
  if (a.pos.empty() || a.pos.size() > 3) throw EvalError("range expects 1 to 3 arguments");
  int64_t start = a.pos.size() > 1 ? arg(0) : 0;
  int64_t stop = a.pos.size() > 1 ? arg(1) : arg(0);
  int64_t step = a.pos.size() > 2 ? arg(2) : 1;
  if (step == 0) throw EvalError("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    out.emplace_back(i);
    if (out.size() > kMaxListItems) check_size(out);
  }
  charge_items(out.size());
  return Value(std::move(out));
}

Value make_dict(Args& a, bool is_namespace) {
  Value d = Value::new_dict(is_namespace);
  if (!a.pos.empty() && a.pos[0].is_dict()) {
    charge_items(a.pos[0].dict().items.size());
    d.dict().items = a.pos[0].dict().items;
  }
  for (const auto& [k, v] : a.kw) d.dict().set(k, v);
  return d;
}

class Evaluator {
 public:
  explicit Evaluator(const SourceMap& map) : map_(map) {}

  std::string run(const Body& body, const std::vector<std::pair<std::string, Value>>& vars) {
    auto globals = std::make_shared<Frame>(nullptr);
    globals->vars["range"] = Value::function("range", make_range);
    globals->vars["namespace"] = Value::function("namespace", [](Args& a) { return make_dict(a, true); });
    globals->vars["dict"] = Value::function("dict", [](Args& a) { return make_dict(a, false); });
    globals_ = globals;
    auto top = std::make_shared<Frame>(globals);
    for (const auto& [k, v] : vars) top->vars[k] = v;
    std::string out;
    exec_body(body, top, out);
    return out;
  }

 private:
  enum class Flow { Normal, Break, Continue };

  [[noreturn]] void fail_at(size_t pos, const std::string& msg) const {
    throw TemplateError(map_.where(pos) + ": " + msg, false);
  }

  void step() {
    if (++steps_ > kMaxSteps)
      throw EvalError("template runs too long (more than " + std::to_string(kMaxSteps) + " steps)");
  }

  static void append(std::string& out, const std::string& s) {
    charge_work(s.size());
    out += s;
    check_size(out);
  }

  Flow exec_body(const Body& body, const FramePtr& frame, std::string& out) {
    for (const auto& s : body) {
      Flow f = exec(*s, frame, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  // Counts the nesting of exec and eval, which recurse into each other through macro calls.
  class Nested {
   public:
    explicit Nested(int& depth) : depth_(depth) {
      if (++depth_ > kMaxEvalDepth)
        throw EvalError("template evaluation nested deeper than " + std::to_string(kMaxEvalDepth) + " levels");
    }
    ~Nested() { --depth_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    int& depth_;
  };

  Flow exec(const Stmt& s, const FramePtr& frame, std::string& out) {
    try {
      Nested nested(depth_);
      charge_items(1);
      return exec_impl(s, frame, out);
    } catch (const EvalError& e) {
      fail_at(s.pos, e.what());
    }
  }

  Flow exec_impl(const Stmt& s, const FramePtr& frame, std::string& out) {
    using SK = Stmt::Kind;
    switch (s.kind) {
      case SK::Text:
        append(out, s.text);
        return Flow::Normal;
      case SK::Output:
        append(out, eval(*s.expr, frame).to_str());
        return Flow::Normal;
      case SK::If:
        for (const auto& [cond, body] : s.branches)
          if (!cond || eval(*cond, frame).truthy()) return exec_body(body, frame, out);
        return Flow::Normal;
      case SK::For:
        exec_for(s, frame, out);
        return Flow::Normal;
      case SK::Set:
        assign(s.names, eval(*s.expr, frame), *frame);
        return Flow::Normal;
      case SK::SetAttr:
        set_attr(s, frame);
        return Flow::Normal;
      case SK::SetBlock: {
        std::string text;
        exec_body(s.body, frame, text);
        frame->vars[s.names[0]] = s.expr ? eval_filter(*s.expr, frame, Value(std::move(text))) : Value(std::move(text));
        return Flow::Normal;
      }
      case SK::Macro:
        frame->vars[s.text] = make_macro(s, frame);
        return Flow::Normal;
      case SK::Filter: {
        std::string text;
        exec_body(s.body, frame, text);
        append(out, eval_filter(*s.expr, frame, Value(std::move(text))).to_str());
        return Flow::Normal;
      }
      case SK::Break:
        return Flow::Break;
      case SK::Continue:
        return Flow::Continue;
    }
    return Flow::Normal;
  }

  static void assign(const std::vector<std::string>& names, const Value& v, Frame& frame) {
    if (names.size() == 1) {
      frame.vars[names[0]] = v;
      return;
    }
    List items = v.iterate();
    if (items.size() != names.size()) {
      throw EvalError("cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(names.size()) +
                      " names");
    }
    for (size_t i = 0; i < names.size(); ++i) frame.vars[names[i]] = items[i];
  }

  void set_attr(const Stmt& s, const FramePtr& frame) {
    Value target = eval(*s.target, frame);
    if (!target.is_dict() || !target.dict().is_namespace) {
      throw EvalError("can only set attributes of a namespace, not of " + target.type_name());
    }
    Value v = eval(*s.expr, frame);
    if (reaches(v, target.dict_ptr().get())) throw EvalError("a namespace cannot contain itself");
    target.dict().set(s.text, std::move(v));
  }

  static Value loop_info(const List& items, size_t i) {
    Value loop = Value::new_dict();
    auto n = static_cast<int64_t>(items.size());
    auto idx = static_cast<int64_t>(i);
    auto& d = loop.dict().items;
    charge_items(12);
    d.reserve(12);
    d.emplace_back("index0", Value(idx));
    d.emplace_back("index", Value(idx + 1));
    d.emplace_back("revindex0", Value(n - idx - 1));
    d.emplace_back("revindex", Value(n - idx));
    d.emplace_back("first", Value(i == 0));
    d.emplace_back("last", Value(i + 1 == items.size()));
    d.emplace_back("length", Value(n));
    d.emplace_back("depth", Value(int64_t{1}));
    d.emplace_back("depth0", Value(int64_t{0}));
    d.emplace_back("previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
    d.emplace_back("nextitem", i + 1 < items.size() ? items[i + 1] : Value::undefined("there is no next item"));
    d.emplace_back("cycle", Value::function("cycle", [idx](Args& a) {
                     if (a.pos.empty()) throw EvalError("no items for cycling given");
                     return a.pos[static_cast<size_t>(idx) % a.pos.size()];
                   }));
    return loop;
  }

  void exec_for(const Stmt& s, const FramePtr& frame, std::string& out) {
    List all = eval(*s.expr, frame).iterate();
    List items;
    for (auto& item : all) {  // "for x in xs if cond": filtered before the loop, so loop.length counts kept items
      if (s.cond) {
        step();
        auto probe = std::make_shared<Frame>(frame);
        assign(s.names, item, *probe);
        if (!eval(*s.cond, probe).truthy()) continue;
      }
      items.push_back(std::move(item));
    }
    for (size_t i = 0; i < items.size(); ++i) {
      step();
      auto iter = std::make_shared<Frame>(frame);
      assign(s.names, items[i], *iter);
      iter->vars["loop"] = loop_info(items, i);
      if (exec_body(s.body, iter, out) == Flow::Break) break;
    }
    if (items.empty() && !s.else_body.empty()) exec_body(s.else_body, std::make_shared<Frame>(frame), out);
  }

  Value make_macro(const Stmt& s, const FramePtr& frame) {
    std::weak_ptr<Frame> closure = frame;  // weak: the frame holds this value, a strong pointer would be a cycle
    return Value::function(s.text, [this, &s, closure](Args& a) { return call_macro(s, closure.lock(), a); });
  }

  Value call_macro(const Stmt& m, FramePtr closure, Args& a) {
    step();
    if (call_depth_ >= kMaxCallDepth) throw EvalError("macro calls nested too deeply (recursion?)");
    auto frame = std::make_shared<Frame>(closure ? closure : globals_.lock());
    List varargs;
    for (size_t i = 0; i < a.pos.size(); ++i) {
      if (i < m.names.size()) {
        frame->vars[m.names[i]] = a.pos[i];
      } else {
        varargs.push_back(a.pos[i]);
      }
    }
    Value kwargs = Value::new_dict();
    for (const auto& [k, v] : a.kw) {
      auto it = std::find(m.names.begin(), m.names.end(), k);
      if (it == m.names.end()) {
        kwargs.dict().set(k, v);
      } else {
        frame->vars[k] = v;
      }
    }
    for (size_t i = 0; i < m.names.size(); ++i) {
      if (frame->vars.count(m.names[i])) continue;
      frame->vars[m.names[i]] = m.defaults[i] ? eval(*m.defaults[i], frame)
                                              : Value::undefined("parameter '" + m.names[i] + "' was not provided");
    }
    frame->vars["varargs"] = Value::tuple(std::move(varargs));
    frame->vars["kwargs"] = kwargs;
    std::string out;
    ++call_depth_;
    struct Unwind {
      int& d;
      ~Unwind() { --d; }
    } unwind{call_depth_};
    exec_body(m.body, frame, out);
    return Value(std::move(out));
  }

  Value eval(const Expr& e, const FramePtr& frame) {
    try {
      Nested nested(depth_);
      charge_items(1);
      return eval_impl(e, frame);
    } catch (const EvalError& err) {
      fail_at(e.pos, err.what());
    }
  }

  Args eval_args(const Expr& e, size_t first, const FramePtr& frame) {
    Args a;
    for (size_t i = first; i < e.args.size(); ++i) a.pos.push_back(eval(*e.args[i], frame));
    for (const auto& [k, v] : e.kwargs) a.kw.emplace_back(k, eval(*v, frame));
    return a;
  }

  // A filter chain whose innermost subject is null (a {% filter %} or {% set x | f %} block) gets `text`.
  Value eval_filter(const Expr& e, const FramePtr& frame, const Value& text) {
    if (e.kind != Expr::Kind::Filter) return eval(e, frame);
    Value subject = e.args[0] ? eval_filter(*e.args[0], frame, text) : text;
    Args a = eval_args(e, 1, frame);
    try {
      return apply_filter(e.name, subject, a);
    } catch (const EvalError& err) {
      fail_at(e.pos, err.what());
    }
  }

  Value eval_impl(const Expr& e, const FramePtr& frame) {
    using K = Expr::Kind;
    switch (e.kind) {
      case K::Literal:
        return e.literal;
      case K::Name: {
        const Value* v = frame->lookup(e.name);
        return v ? *v : Value::undefined("'" + e.name + "' is undefined");
      }
      case K::Array: {
        List l;
        for (const auto& x : e.args) l.push_back(eval(*x, frame));
        return e.name == "tuple" ? Value::tuple(std::move(l)) : Value(std::move(l));
      }
      case K::Map: {
        Value d = Value::new_dict();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2)
          d.dict().set(eval(*e.args[i], frame).to_str(), eval(*e.args[i + 1], frame));
        return d;
      }
      case K::Attr:
        return get_attr(eval(*e.args[0], frame), e.name);
      case K::Item:
        return get_item(eval(*e.args[0], frame), eval(*e.args[1], frame));
      case K::Slice: {
        auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i], frame) : Value::none(); };
        return get_slice(eval(*e.args[0], frame), part(1), part(2), part(3));
      }
      case K::Call: {
        Value callee = eval(*e.args[0], frame);
        if (callee.is_undefined()) throw EvalError(callee.str().empty() ? "called an undefined value" : callee.str());
        Args a = eval_args(e, 1, frame);
        return callee.call(a);
      }
      case K::Filter:
        return eval_filter(e, frame, Value());
      case K::Test: {
        Value subject = eval(*e.args[0], frame);
        Args a = eval_args(e, 1, frame);
        return Value(apply_test(e.name, subject, a) != e.negated);
      }
      case K::Unary:
        return eval_unary(e.name, eval(*e.args[0], frame));
      case K::Binary:
        return eval_binary(e, frame);
      case K::Compare:
        return eval_compare(e, frame);
      case K::And: {
        Value l = eval(*e.args[0], frame);
        return l.truthy() ? eval(*e.args[1], frame) : l;
      }
      case K::Or: {
        Value l = eval(*e.args[0], frame);
        return l.truthy() ? l : eval(*e.args[1], frame);
      }
      case K::Cond:
        if (eval(*e.args[1], frame).truthy()) return eval(*e.args[0], frame);
        return e.args[2] ? eval(*e.args[2], frame) : Value::undefined("the condition was false and there is no else");
    }
    return Value();
  }

  static Value eval_unary(const std::string& op, const Value& v) {
    if (op == "not") return Value(!v.truthy());
    if (!v.is_number()) throw EvalError("bad operand type for unary " + op + ": '" + v.type_name() + "'");
    if (op == "+") return v.is_int() ? Value(v.as_int()) : v;
    if (v.is_int()) return v.as_int() == INT64_MIN ? Value(-static_cast<double>(INT64_MIN)) : Value(-v.as_int());
    return Value(-v.as_float());
  }

  // a op0 b op1 c ... folded from the left as Python does; a ~ chain appends to one string.
  Value eval_binary(const Expr& e, const FramePtr& frame) {
    Value acc = eval(*e.args[0], frame);
    std::string text;
    bool concat = e.ops[0] == "~";
    if (concat) text = acc.to_str();
    for (size_t i = 0; i < e.ops.size(); ++i) {
      Value right = eval(*e.args[i + 1], frame);
      try {
        if (concat) {
          append(text, right.to_str());
        } else {
          acc = binary_op(e.ops[i], acc, right);
        }
      } catch (const EvalError& err) {
        fail_at(e.op_pos[i], err.what());
      }
    }
    return concat ? Value(std::move(text)) : acc;
  }

  Value eval_compare(const Expr& e, const FramePtr& frame) {
    Value left = eval(*e.args[0], frame);
    for (size_t i = 0; i < e.ops.size(); ++i) {
      Value right = eval(*e.args[i + 1], frame);
      const std::string& op = e.ops[i];
      bool ok = op == "=="   ? equals(left, right)
                : op == "!=" ? !equals(left, right)
                : op == "<"  ? less(left, right)
                : op == ">"  ? less(right, left)
                : op == "<=" ? !less(right, left)
                : op == ">=" ? !less(left, right)
                : op == "in" ? contains(right, left)
                             : !contains(right, left);
      if (!ok) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  const SourceMap& map_;
  std::weak_ptr<Frame> globals_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string render(const Body& body, const SourceMap& map, const std::vector<std::pair<std::string, Value>>& vars,
                   uint64_t max_work) {
  WorkBudget budget(max_work);
  return Evaluator(map).run(body, vars);
}

}  // namespace rkchat::chat::jinja
