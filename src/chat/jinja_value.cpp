#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace rkchat::chat::jinja {

namespace {

thread_local bool work_counted = false;
thread_local uint64_t work_done = 0;
thread_local uint64_t work_limit = 0;

}  // namespace

void charge_work(uint64_t units) {
  if (!work_counted) return;
  work_done += units;
  if (work_done > work_limit) {
    work_counted = false;  // the error unwinds through code that charges too
    throw EvalError("template does too much work (over " + std::to_string(work_limit / 1'000'000) +
                    "M units: bytes processed, " + std::to_string(kItemWork) + " per item)");
  }
}

WorkBudget::WorkBudget(uint64_t limit) {
  work_counted = true;
  work_done = 0;
  work_limit = limit;
}

WorkBudget::~WorkBudget() { work_counted = false; }

const std::string Value::kEmpty;

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.s_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value::Value(bool b) : kind_(Kind::Bool), b_(b), i_(b ? 1 : 0) {}
Value::Value(int64_t i) : kind_(Kind::Int), i_(i) {}
Value::Value(double d) : kind_(Kind::Float), f_(d) {}
Value::Value(std::string s) : kind_(Kind::String), s_(std::make_shared<const std::string>(std::move(s))) {}
Value::Value(List l) : kind_(Kind::Array), list_(std::make_shared<List>(std::move(l))) {}
Value::Value(std::shared_ptr<List> l) : kind_(Kind::Array), list_(std::move(l)) {}
Value::Value(std::shared_ptr<Dict> d) : kind_(Kind::Map), dict_(std::move(d)) {}

Value Value::tuple(List l) {
  Value v(std::move(l));
  v.tuple_ = true;
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::Callable;
  v.s_ = std::make_shared<const std::string>(std::move(name));
  v.fn_ = std::make_shared<Function>(std::move(fn));
  return v;
}

Value Value::new_dict(bool is_namespace) {
  auto d = std::make_shared<Dict>();
  d->is_namespace = is_namespace;
  return Value(std::move(d));
}

int64_t Value::as_int() const { return i_; }

double Value::as_float() const { return kind_ == Kind::Float ? f_ : static_cast<double>(i_); }

Value Value::call(Args& args) const {
  if (kind_ != Kind::Callable) throw EvalError("'" + type_name() + "' object is not callable");
  return (*fn_)(args);
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return b_;
    case Kind::Int:
      return i_ != 0;
    case Kind::Float:
      return f_ != 0;
    case Kind::String:
      return !str().empty();
    case Kind::Array:
      return !list_->empty();
    case Kind::Map:
      return dict_->is_namespace || !dict_->items.empty();
    case Kind::Callable:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Array:
      return "list";
    case Kind::Map:
      return dict_->is_namespace ? "Namespace" : "dict";
    case Kind::Callable:
      return "function";
  }
  return "?";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+17": shortest digits that read back as d
  bool neg = sci[0] == '-';
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = neg ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exp10 = std::stoi(sci.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp10 >= -4 && exp10 < 16) {  // Python's repr switches to exponent form outside this range
    if (exp10 < 0) {
      out += "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
    } else {
      auto int_len = static_cast<size_t>(exp10) + 1;
      if (digits.size() <= int_len) {
        out += digits + std::string(int_len - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, int_len) + "." + digits.substr(int_len);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out + ebuf;
}

size_t codepoint_count(const std::string& s) {
  charge_work(s.size());
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::vector<size_t> codepoint_offsets(const std::string& s) {
  charge_work(s.size() * sizeof(size_t));
  std::vector<size_t> offs;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offs.push_back(i);
  offs.push_back(s.size());
  return offs;
}

namespace {

std::string py_string_repr(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + quote;
}

}  // namespace

std::string Value::repr() const {
  std::string out = print(true, 0);
  charge_work(out.size());
  return out;
}

std::string Value::to_str() const {
  if (kind_ == Kind::String) {
    charge_work(str().size());  // a copy
    return str();
  }
  std::string out = print(false, 0);
  charge_work(out.size());
  return out;
}

std::string Value::print(bool quoted, int depth) const {
  if (depth > kMaxPrintDepth)
    throw EvalError("value nested deeper than " + std::to_string(kMaxPrintDepth) + " levels to print");
  auto grow = [](std::string& out, const std::string& more) {
    out += more;
    if (out.size() > (64u << 20)) throw EvalError("printed value too large");
  };
  switch (kind_) {
    case Kind::Undefined:
      return "";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return b_ ? "True" : "False";
    case Kind::Int:
      return std::to_string(i_);
    case Kind::Float:
      return format_float(f_);
    case Kind::String:
      return quoted ? py_string_repr(str()) : str();
    case Kind::Array: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) grow(out, (i ? ", " : "") + (*list_)[i].print(true, depth + 1));
      if (tuple_ && list_->size() == 1) out += ",";
      return out + (tuple_ ? ")" : "]");
    }
    case Kind::Map: {
      std::string out = "{";
      for (size_t i = 0; i < dict_->items.size(); ++i) {
        grow(out, (i ? ", " : "") + py_string_repr(dict_->items[i].first) + ": " +
                      dict_->items[i].second.print(true, depth + 1));
      }
      out += "}";
      return dict_->is_namespace ? "<Namespace " + out + ">" : out;
    }
    case Kind::Callable:
      return "<function " + str() + ">";
  }
  return "";
}

List Value::iterate() const {
  switch (kind_) {
    case Kind::Undefined:
      return {};
    case Kind::Array:
      charge_items(list_->size());
      return *list_;
    case Kind::Map: {
      charge_items(dict_->items.size());
      List keys;
      for (const auto& [k, v] : dict_->items) keys.emplace_back(k);
      return keys;
    }
    case Kind::String: {
      const std::string& s = str();
      auto offs = codepoint_offsets(s);
      if (offs.size() - 1 > kMaxIterChars) {
        throw EvalError("cannot iterate over a string of more than " + std::to_string(kMaxIterChars) + " characters");
      }
      charge_items(offs.size());
      List chars;
      for (size_t i = 0; i + 1 < offs.size(); ++i) chars.emplace_back(s.substr(offs[i], offs[i + 1] - offs[i]));
      return chars;
    }
    default:
      throw EvalError("'" + type_name() + "' object is not iterable");
  }
}

size_t Value::length() const {
  switch (kind_) {
    case Kind::Undefined:
      return 0;
    case Kind::String:
      return codepoint_count(str());
    case Kind::Array:
      return list_->size();
    case Kind::Map:
      return dict_->items.size();
    default:
      throw EvalError("object of type '" + type_name() + "' has no len()");
  }
}

bool equals(const Value& a, const Value& b) {
  charge_items(1);
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_float() == b.as_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      charge_work(std::min(a.str().size(), b.str().size()));
      return a.str() == b.str();
    case Value::Kind::Array:
      if (a.list_ptr() == b.list_ptr()) return true;
      return std::equal(a.list().begin(), a.list().end(), b.list().begin(), b.list().end(), equals);
    case Value::Kind::Map: {
      if (a.dict().items.size() != b.dict().items.size()) return false;
      for (const auto& [k, v] : a.dict().items) {
        const Value* other = b.dict().find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Callable:
      return a.identity() == b.identity();
    default:
      return false;
  }
}

bool less(const Value& a, const Value& b) {
  charge_work(kItemWork / 4);  // sorting calls this n log n times; a comparison costs less than a copy
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int();
    return a.as_float() < b.as_float();
  }
  if (a.is_string() && b.is_string()) {
    charge_work(std::min(a.str().size(), b.str().size()));
    return a.str() < b.str();  // UTF-8 byte order is code point order
  }
  if (a.is_list() && b.is_list()) {
    return std::lexicographical_compare(a.list().begin(), a.list().end(), b.list().begin(), b.list().end(), less);
  }
  throw EvalError("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

const Value* Dict::find(std::string_view key) const {
  charge_items(items.size());
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  charge_items(items.size() + 1);
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(key, std::move(v));
}

const Value* Args::find_kw(std::string_view name) const {
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

Value Args::get(size_t index, std::string_view name, const Value& fallback) const {
  if (index < pos.size()) return pos[index];
  const Value* v = find_kw(name);
  return v ? *v : fallback;
}

namespace {

template <class Json>
Value from_json_impl(const Json& j, int depth) {
  if (depth > kMaxJsonDepth) throw EvalError("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& e : j) l.push_back(from_json_impl(e, depth + 1));
      return Value(std::move(l));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it)
        d.dict().items.emplace_back(it.key(), from_json_impl(it.value(), depth + 1));
      return d;
    }
    default:
      return Value::none();  // binary / discarded: not produced by a JSON parser
  }
}

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    switch (s[i]) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    char buf[16];
    if (u < 0x20 || (ensure_ascii && u == 0x7F)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else if (ensure_ascii && u >= 0x80) {
      // Decode one UTF-8 sequence; invalid bytes are written as their Latin-1 code point.
      int len = u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : u >= 0xC0 ? 2 : 1;
      uint32_t cp = len == 1 ? u : (u & (0x3F >> (len - 1)));
      if (i + static_cast<size_t>(len) > s.size()) len = 1, cp = u;
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
      i += static_cast<size_t>(len - 1);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
    } else {
      out += s[i];
    }
  }
  out += '"';
}

void to_json_impl(std::string& out, const Value& v, const JsonStyle& st, int depth) {
  if (depth > Value::kMaxPrintDepth)
    throw EvalError("tojson: value nested deeper than " + std::to_string(Value::kMaxPrintDepth) + " levels");
  auto newline = [&](int level) {
    if (!st.indented) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += st.indent;
  };
  switch (v.kind()) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float: {
      double d = v.as_float();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : format_float(d);
      return;
    }
    case Value::Kind::String:
      json_string(out, v.str(), st.ensure_ascii);
      return;
    case Value::Kind::Array: {
      if (v.list().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i) out += st.item_sep;
        newline(depth + 1);
        to_json_impl(out, v.list()[i], st, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::Map: {
      if (v.dict().items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict().items) items.push_back(&kv);
      if (st.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += st.item_sep;
        newline(depth + 1);
        json_string(out, items[i]->first, st.ensure_ascii);
        out += st.key_sep;
        to_json_impl(out, items[i]->second, st, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      throw EvalError("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

Value from_json(const nlohmann::json& j) { return from_json_impl(j, 0); }
Value from_json(const nlohmann::ordered_json& j) { return from_json_impl(j, 0); }

std::string to_json(const Value& v, const JsonStyle& style) {
  std::string out;
  to_json_impl(out, v, style, 0);
  return out;
}

}  // namespace rkchat::chat::jinja
