// Operators, attribute/item access and the Python methods of str and dict that templates call.
#include <algorithm>
#include <cmath>
#include <optional>

#include "chat/jinja_builtins.h"
#include "chat/jinja_strings.h"

namespace rkchat::chat::jinja {

void check_size(const std::string& s) {
  if (s.size() > kMaxStringBytes) throw EvalError("string grows beyond " + std::to_string(kMaxStringBytes) + " bytes");
}

void check_size(const List& l) {
  if (l.size() > kMaxListItems) throw EvalError("list grows beyond " + std::to_string(kMaxListItems) + " items");
}

void charge_size(const Value& v) {
  if (v.is_string()) {
    charge_work(v.str().size());
  } else if (v.is_list()) {
    charge_items(v.list().size());
  } else if (v.is_dict()) {
    charge_items(v.dict().items.size());
  }
}

namespace {

Value bind_method(const Value& self, const std::string& name, std::function<Value(const Value&, Args&)> method) {
  return Value::function(name, [self, method = std::move(method)](Args& args) {
    charge_size(self);
    Value out = method(self, args);
    charge_size(out);
    return out;
  });
}

Value dict_method(const Value& self, const std::string& name) {
  if (name == "get") {
    return bind_method(self, name, [](const Value& d, Args& a) {
      const Value& key = a.get(0, "key", Value());
      const Value* v = key.is_string() ? d.dict().find(key.str()) : nullptr;
      return v ? *v : a.get(1, "default", Value::none());
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    return bind_method(self, name, [name](const Value& d, Args&) {
      List out;
      for (const auto& [k, v] : d.dict().items) {
        if (name == "items") out.push_back(Value::tuple(List{Value(k), v}));
        if (name == "keys") out.emplace_back(k);
        if (name == "values") out.push_back(v);
      }
      return Value(std::move(out));
    });
  }
  return Value::undefined();
}

// "'dict object' " + rest, appended piece by piece: GCC 12 warns falsely (-Wrestrict, bug 105329) on
// "'" + std::string.
std::string object_says(const Value& obj, const std::string& rest) {
  std::string msg(1, '\'');
  msg += obj.type_name();
  msg += " object' ";
  msg += rest;
  return msg;
}

std::string where_undefined(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return obj.str().empty() ? "value is undefined" : obj.str();
  return object_says(obj, "has no attribute '" + name + "'");
}

int64_t normalize_index(int64_t i, size_t len) { return i < 0 ? i + static_cast<int64_t>(len) : i; }

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) throw EvalError(where_undefined(obj, name));
  if (obj.is_dict()) {
    if (!obj.dict().is_namespace) {
      Value m = dict_method(obj, name);
      if (!m.is_undefined()) return m;
    }
    if (const Value* v = obj.dict().find(name)) return *v;
  } else if (obj.is_string()) {
    Value m = string_method(obj, name);
    if (!m.is_undefined()) return m;
  }
  return Value::undefined(where_undefined(obj, name));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) throw EvalError(where_undefined(obj, key.to_str()));
  if (key.is_string() && !obj.is_dict()) return get_attr(obj, key.str());
  if (obj.is_dict()) {
    const Value* v = key.is_string() ? obj.dict().find(key.str()) : nullptr;
    return v ? *v : Value::undefined(where_undefined(obj, key.to_str()));
  }
  if ((obj.is_list() || obj.is_string()) && key.is_int()) {
    if (obj.is_list()) {
      int64_t i = normalize_index(key.as_int(), obj.list().size());
      if (i >= 0 && static_cast<size_t>(i) < obj.list().size()) return obj.list()[static_cast<size_t>(i)];
    } else {
      auto offs = codepoint_offsets(obj.str());
      int64_t i = normalize_index(key.as_int(), offs.size() - 1);
      if (i >= 0 && static_cast<size_t>(i) + 1 < offs.size()) {
        auto u = static_cast<size_t>(i);
        return Value(obj.str().substr(offs[u], offs[u + 1] - offs[u]));
      }
    }
  }
  return Value::undefined(object_says(obj, "has no element " + key.repr()));
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  auto opt_int = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_int()) throw EvalError(std::string("slice ") + what + " must be an integer");
    return v.as_int();
  };
  int64_t st = opt_int(step, "step").value_or(1);
  if (st == 0) throw EvalError("slice step cannot be zero");
  if (!obj.is_list() && !obj.is_string()) throw EvalError("'" + obj.type_name() + "' object is not subscriptable");
  // A string is sliced by code points, through their byte offsets (no list of one-character strings).
  std::vector<size_t> offs = obj.is_string() ? codepoint_offsets(obj.str()) : std::vector<size_t>{};
  auto n = static_cast<int64_t>(obj.is_list() ? obj.list().size() : offs.size() - 1);
  // Python's slice.indices(): clamp to [0, n] going forward, [-1, n-1] going backward.
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t i = *v < 0 ? *v + n : *v;
    return st > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t b = clamp(opt_int(start, "start"), st > 0 ? 0 : n - 1);
  int64_t e = clamp(opt_int(stop, "stop"), st > 0 ? n : -1);
  if (obj.is_list()) {
    List out;
    for (int64_t i = b; st > 0 ? i < e : i > e; i += st) out.push_back(obj.list()[static_cast<size_t>(i)]);
    charge_items(out.size());
    return Value(std::move(out));
  }
  std::string s;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    auto u = static_cast<size_t>(i);
    s.append(obj.str(), offs[u], offs[u + 1] - offs[u]);
  }
  charge_work(s.size());
  return Value(std::move(s));
}

namespace {

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b) {
  throw EvalError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

Value repeat(const Value& seq, int64_t n) {
  const size_t size = seq.is_string() ? seq.str().size() : seq.list().size();
  if (n <= 0 || size == 0) return seq.is_string() ? Value(std::string()) : Value(List{});
  size_t total = 0;
  const bool too_big = __builtin_mul_overflow(size, static_cast<uint64_t>(n), &total);
  if (seq.is_string()) {
    if (too_big || total > kMaxStringBytes)
      throw EvalError("string grows beyond " + std::to_string(kMaxStringBytes) + " bytes");
    // By doubling: 'x' * 16000000 is 24 appends, not 16 million.
    std::string out;
    out.reserve(total);
    out = seq.str();
    while (out.size() * 2 <= total) out.append(out);
    out.append(out, 0, total - out.size());
    return Value(std::move(out));
  }
  if (too_big || total > kMaxListItems)
    throw EvalError("list grows beyond " + std::to_string(kMaxListItems) + " items");
  List out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return Value(std::move(out));
}

// Python's floor division and modulo: the result takes the sign of the divisor.
Value int_divmod(const std::string& op, int64_t a, int64_t b) {
  if (b == 0) throw EvalError("integer division or modulo by zero");
  if (a == INT64_MIN && b == -1) return op == "//" ? Value(-static_cast<double>(INT64_MIN)) : Value(int64_t{0});
  int64_t q = a / b, r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) {
    --q;
    r += b;
  }
  return op == "//" ? Value(q) : Value(r);
}

Value float_op(const std::string& op, double a, double b) {
  if (op == "+") return Value(a + b);
  if (op == "-") return Value(a - b);
  if (op == "*") return Value(a * b);
  if (op == "**") return Value(std::pow(a, b));
  if (b == 0) throw EvalError("float division by zero");
  if (op == "/") return Value(a / b);
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  if (op == "%") return Value(m);
  return Value(std::floor((a - m) / b));  // "//"
}

Value int_op(const std::string& op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (op == "+" && !__builtin_add_overflow(a, b, &r)) return Value(r);
  if (op == "-" && !__builtin_sub_overflow(a, b, &r)) return Value(r);
  if (op == "*" && !__builtin_mul_overflow(a, b, &r)) return Value(r);
  if (op == "//" || op == "%") return int_divmod(op, a, b);
  if (op == "**" && b >= 0) {
    r = 1;
    for (int64_t i = 0; i < b; ++i)
      if (__builtin_mul_overflow(r, a, &r)) return float_op(op, static_cast<double>(a), static_cast<double>(b));
    return Value(r);
  }
  // Overflow (Python would grow the int), true division, negative powers: floats.
  return float_op(op, static_cast<double>(a), static_cast<double>(b));
}

Value binary_op_impl(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.to_str() + b.to_str();
    check_size(s);
    return Value(std::move(s));
  }
  if (a.is_undefined() || b.is_undefined()) {
    throw EvalError(a.is_undefined() && !a.str().empty() ? a.str() : b.str().empty() ? "value is undefined" : b.str());
  }
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return int_op(op, a.as_int(), b.as_int());
    return float_op(op, a.as_float(), b.as_float());
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      std::string s = a.str() + b.str();
      check_size(s);
      return Value(std::move(s));
    }
    if (a.is_list() && b.is_list()) {
      List l = a.list();
      l.insert(l.end(), b.list().begin(), b.list().end());
      check_size(l);
      return Value(std::move(l));
    }
    if (a.is_string()) throw EvalError("can only concatenate str (not \"" + b.type_name() + "\") to str");
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && b.is_int()) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && a.is_int()) return repeat(b, a.as_int());
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.str(), b));
  bad_operands(op, a, b);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  Value out = binary_op_impl(op, a, b);
  charge_size(out);
  return out;
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::String:
      if (!item.is_string()) throw EvalError("'in <string>' requires string as left operand, not " + item.type_name());
      charge_work(container.str().size());
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::Array:
      return std::any_of(container.list().begin(), container.list().end(),
                         [&](const Value& v) { return equals(v, item); });
    case Value::Kind::Map:
      return item.is_string() && container.dict().find(item.str()) != nullptr;
    default:
      throw EvalError("argument of type '" + container.type_name() + "' is not iterable");
  }
}

}  // namespace rkchat::chat::jinja
