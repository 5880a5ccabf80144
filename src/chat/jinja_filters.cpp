// jinja2's built-in filters and tests (those chat templates use), with transformers' tojson.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "chat/jinja_builtins.h"
#include "chat/jinja_strings.h"

namespace rkchat::chat::jinja {

namespace {

using FilterFn = Value (*)(const Value&, Args&);
using TestFn = bool (*)(const Value&, Args&);

const Value kUndef;

// "a.b.0" as jinja2's attribute getter: each part an item lookup, digits as list indices.
Value get_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_undefined()) return cur;
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = digits ? get_item(cur, Value(static_cast<int64_t>(std::stoll(part)))) : get_item(cur, Value(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// Filter and test arguments after the first `skip` positional ones, for select/map chains.
Args rest_args(const Args& a, size_t skip) {
  Args out;
  if (a.pos.size() > skip) out.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(skip), a.pos.end());
  out.kw = a.kw;
  return out;
}

Value f_tojson(const Value& v, Args& a) {
  JsonStyle st;
  st.ensure_ascii = a.get(0, "ensure_ascii", Value(false)).truthy();
  const Value& indent = a.get(1, "indent", kUndef);
  if (indent.is_int()) {
    st.indented = true;
    st.indent.assign(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 64)), ' ');
  } else if (indent.is_string()) {
    st.indented = true;
    st.indent = indent.str();
  }
  st.item_sep = st.indented ? "," : ", ";
  const Value& seps = a.get(2, "separators", kUndef);
  if (seps.is_list() && seps.list().size() == 2 && seps.list()[0].is_string() && seps.list()[1].is_string()) {
    st.item_sep = seps.list()[0].str();
    st.key_sep = seps.list()[1].str();
  }
  st.sort_keys = a.get(3, "sort_keys", Value(false)).truthy();
  std::string out = to_json(v, st);
  check_size(out);
  return Value(std::move(out));
}

Value f_items(const Value& v, Args&) {
  if (v.is_undefined()) return Value(List{});
  if (!v.is_dict()) throw EvalError("can only get item pairs from a mapping");
  List out;
  for (const auto& [k, val] : v.dict().items) out.push_back(Value::tuple(List{Value(k), val}));
  return Value(std::move(out));
}

Value f_first(const Value& v, Args&) {
  List items = v.iterate();
  return items.empty() ? Value::undefined("no first item, sequence was empty") : items.front();
}

Value f_last(const Value& v, Args&) {
  List items = v.iterate();
  return items.empty() ? Value::undefined("no last item, sequence was empty") : items.back();
}

Value f_join(const Value& v, Args& a) {
  const Value& sep = a.get(0, "d", Value(""));
  const Value& attr = a.get(1, "attribute", kUndef);
  std::string out;
  List items = v.iterate();
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep.to_str();
    out += (attr.is_string() ? get_path(items[i], attr.str()) : items[i]).to_str();
    check_size(out);
  }
  return Value(std::move(out));
}

Value f_default(const Value& v, Args& a) {
  bool use_default = v.is_undefined() || (a.get(1, "boolean", Value(false)).truthy() && !v.truthy());
  return use_default ? a.get(0, "default_value", Value("")) : v;
}

Value f_trim(const Value& v, Args& a) {
  return Value(py_strip(v.to_str(), a.get(0, "chars", kUndef), StripSide::Both));
}
Value f_upper(const Value& v, Args&) { return Value(py_upper(v.to_str())); }
Value f_lower(const Value& v, Args&) { return Value(py_lower(v.to_str())); }
Value f_title(const Value& v, Args&) { return Value(py_title(v.to_str())); }
Value f_capitalize(const Value& v, Args&) { return Value(py_capitalize(v.to_str())); }
Value f_string(const Value& v, Args&) { return Value(v.to_str()); }
Value f_safe(const Value& v, Args&) { return v; }
Value f_length(const Value& v, Args&) { return Value(static_cast<int64_t>(v.length())); }
Value f_list(const Value& v, Args&) { return Value(v.iterate()); }

Value f_escape(const Value& v, Args&) {
  std::string out;
  for (char c : v.to_str()) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  check_size(out);
  return Value(std::move(out));
}

Value f_replace(const Value& v, Args& a) {
  const Value& count = a.get(2, "count", kUndef);
  return Value(py_replace(v.to_str(), a.get(0, "old", kUndef).to_str(), a.get(1, "new", kUndef).to_str(),
                          count.is_int() ? count.as_int() : -1));
}

// Python's int(str): optional sign, digits, surrounding whitespace.
bool parse_int(const std::string& s, int64_t& out) {
  std::string t = py_strip(s, kUndef, StripSide::Both);
  size_t i = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  if (i >= t.size() || !std::all_of(t.begin() + static_cast<std::ptrdiff_t>(i), t.end(), ::isdigit)) return false;
  try {
    out = std::stoll(t);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool parse_float(const std::string& s, double& out) {
  std::string t = py_strip(s, kUndef, StripSide::Both);
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size();
}

Value f_int(const Value& v, Args& a) {
  if (v.is_int()) return Value(v.as_int());
  if (v.is_number() && std::isfinite(v.as_float()) && std::fabs(v.as_float()) < 9.2e18) {
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    int64_t i = 0;
    double d = 0;
    if (parse_int(v.str(), i)) return Value(i);
    if (parse_float(v.str(), d) && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
  }
  return a.get(0, "default", Value(int64_t{0}));
}

Value f_float(const Value& v, Args& a) {
  if (v.is_number()) return Value(v.as_float());
  double d = 0;
  if (v.is_string() && parse_float(v.str(), d)) return Value(d);
  return a.get(0, "default", Value(0.0));
}

Value f_abs(const Value& v, Args&) {
  if (v.is_int())
    return v.as_int() == INT64_MIN ? Value(-static_cast<double>(INT64_MIN))
                                   : Value(static_cast<int64_t>(std::llabs(v.as_int())));
  if (v.is_number()) return Value(std::fabs(v.as_float()));
  throw EvalError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(const Value& v, Args& a) {
  if (!v.is_number()) throw EvalError("round needs a number, not " + v.type_name());
  const Value& prec = a.get(0, "precision", Value(int64_t{0}));
  std::string method = a.get(1, "method", Value("common")).to_str();
  double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(prec.is_int() ? prec.as_int() : 0, -300, 300)));
  double x = v.as_float() * scale;
  // Python's round() sends exact halves to the even neighbour, as nearbyint does in the default mode.
  double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  return Value(r / scale);
}

Value f_reverse(const Value& v, Args&) {
  List items = v.iterate();
  std::reverse(items.begin(), items.end());
  if (!v.is_string()) return Value(std::move(items));
  std::string out;
  for (const auto& c : items) out += c.str();
  return Value(std::move(out));
}

// Sort key as jinja2 builds it: the attribute, lowercased when not case sensitive.
Value sort_key(const Value& item, const Args& a, size_t attr_index, size_t case_index) {
  const Value& attr = a.get(attr_index, "attribute", kUndef);
  Value key = attr.is_string() ? get_path(item, attr.str()) : item;
  if (key.is_string() && !a.get(case_index, "case_sensitive", Value(false)).truthy()) return Value(py_lower(key.str()));
  return key;
}

Value f_sort(const Value& v, Args& a) {
  List items = v.iterate();
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : items) keyed.emplace_back(sort_key(item, a, 2, 1), item);
  bool reverse = a.get(0, "reverse", Value(false)).truthy();
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
    return reverse ? less(y.first, x.first) : less(x.first, y.first);
  });
  List out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value(std::move(out));
}

Value f_dictsort(const Value& v, Args& a) {
  if (!v.is_dict()) throw EvalError("dictsort needs a mapping");
  bool by_value = a.get(1, "by", Value("key")).to_str() == "value";
  Args key_args;
  key_args.kw.emplace_back("case_sensitive", a.get(0, "case_sensitive", Value(false)));
  List pairs = f_items(v, a).list();
  bool reverse = a.get(2, "reverse", Value(false)).truthy();
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    Value kx = sort_key(x.list()[by_value ? 1 : 0], key_args, 99, 99);
    Value ky = sort_key(y.list()[by_value ? 1 : 0], key_args, 99, 99);
    return reverse ? less(ky, kx) : less(kx, ky);
  });
  return Value(std::move(pairs));
}

// A hash consistent with equals(): 1, 1.0 and True hash alike; lists and dicts by their contents.
size_t hash_of(const Value& v, int depth = 0) {
  if (depth > Value::kMaxPrintDepth) throw EvalError("unique: value nested too deeply");
  charge_items(1);
  auto mix = [](size_t h, size_t x) { return h ^ (x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)); };
  if (v.is_number()) return std::hash<double>{}(v.as_float());
  switch (v.kind()) {
    case Value::Kind::String:
      charge_work(v.str().size());
      return std::hash<std::string>{}(v.str());
    case Value::Kind::Array: {
      size_t h = 0x51;
      for (const auto& e : v.list()) h = mix(h, hash_of(e, depth + 1));
      return h;
    }
    case Value::Kind::Map: {
      size_t h = 0x52;  // the same entries in any order hash alike, as they compare equal
      for (const auto& [k, e] : v.dict().items) h += mix(std::hash<std::string>{}(k), hash_of(e, depth + 1));
      return h;
    }
    default:
      return static_cast<size_t>(v.kind());
  }
}

// Linear in the items (a hash of each key), not quadratic: keys are compared only within a hash bucket.
Value f_unique(const Value& v, Args& a) {
  List out, keys;
  std::unordered_multimap<size_t, size_t> seen;  // hash -> index in keys
  for (const auto& item : v.iterate()) {
    Value key = sort_key(item, a, 1, 0);
    size_t h = hash_of(key);
    auto [first, last] = seen.equal_range(h);
    if (std::none_of(first, last, [&](const auto& kv) { return equals(keys[kv.second], key); })) {
      seen.emplace(h, keys.size());
      keys.push_back(std::move(key));
      out.push_back(item);
    }
  }
  return Value(std::move(out));
}

Value min_max(const Value& v, Args& a, bool want_max) {
  List items = v.iterate();
  if (items.empty()) return Value::undefined("no aggregated item, sequence was empty");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    Value ki = sort_key(items[i], a, 1, 0), kb = sort_key(items[best], a, 1, 0);
    if (want_max ? less(kb, ki) : less(ki, kb)) best = i;
  }
  return items[best];
}
Value f_min(const Value& v, Args& a) { return min_max(v, a, false); }
Value f_max(const Value& v, Args& a) { return min_max(v, a, true); }

Value f_sum(const Value& v, Args& a) {
  const Value& attr = a.get(0, "attribute", kUndef);
  Value total = a.get(1, "start", Value(int64_t{0}));
  for (const auto& item : v.iterate())
    total = binary_op("+", total, attr.is_string() ? get_path(item, attr.str()) : item);
  return total;
}

// Python attributes only: a dict's items are not attributes (its methods are).
Value f_attr(const Value& v, Args& a) {
  Value r = get_attr(v, a.get(0, "name", kUndef).to_str());
  if (v.is_dict() && !v.dict().is_namespace && !r.is_callable()) return Value::undefined("no such attribute");
  return r;
}

Value f_map(const Value& v, Args& a) {
  List out;
  if (const Value* attr = a.find_kw("attribute")) {
    const Value* dflt = a.find_kw("default");
    for (const auto& item : v.iterate()) {
      Value x = get_path(item, attr->to_str());
      out.push_back(x.is_undefined() && dflt ? *dflt : x);
    }
    return Value(std::move(out));
  }
  if (a.pos.empty() || !a.pos[0].is_string()) throw EvalError("map needs a filter name or attribute=");
  const std::string name = a.pos[0].str();
  if (!has_filter(name)) throw EvalError("no filter named '" + name + "'");
  for (const auto& item : v.iterate()) {
    Args sub = rest_args(a, 1);
    out.push_back(apply_filter(name, item, sub));
  }
  return Value(std::move(out));
}

// select/reject/selectattr/rejectattr: keep the items whose (attribute's) test result equals `keep`.
Value select_items(const Value& v, Args& a, bool keep, bool by_attr) {
  size_t test_at = by_attr ? 1 : 0;
  std::string attr = by_attr ? a.get(0, "attribute", kUndef).to_str() : "";
  std::string test = a.pos.size() > test_at ? a.pos[test_at].to_str() : "";
  if (!test.empty() && !has_test(test)) throw EvalError("no test named '" + test + "'");
  List out;
  for (const auto& item : v.iterate()) {
    Value subject = by_attr ? get_path(item, attr) : item;
    Args sub = rest_args(a, test_at + 1);
    bool ok = test.empty() ? subject.truthy() : apply_test(test, subject, sub);
    if (ok == keep) out.push_back(item);
  }
  return Value(std::move(out));
}
Value f_select(const Value& v, Args& a) { return select_items(v, a, true, false); }
Value f_reject(const Value& v, Args& a) { return select_items(v, a, false, false); }
Value f_selectattr(const Value& v, Args& a) { return select_items(v, a, true, true); }
Value f_rejectattr(const Value& v, Args& a) { return select_items(v, a, false, true); }

Value f_indent(const Value& v, Args& a) {
  const Value& width = a.get(0, "width", Value(int64_t{4}));
  std::string pad =
      width.is_string()
          ? width.str()
          : std::string(static_cast<size_t>(std::clamp<int64_t>(width.is_int() ? width.as_int() : 4, 0, 256)), ' ');
  bool first = a.get(1, "first", Value(false)).truthy();
  bool blank = a.get(2, "blank", Value(false)).truthy();
  std::string s = v.to_str();
  std::string out;
  size_t start = 0;
  for (bool first_line = true; start < s.size() || first_line; first_line = false) {
    size_t nl = s.find('\n', start);
    std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!first_line) out += '\n';
    if ((first_line ? first : (blank || !line.empty()))) out += pad;
    out += line;
    check_size(out);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return Value(std::move(out));
}

Value f_format(const Value& v, Args& a) { return Value(percent_format(v.to_str(), Value(a.pos))); }

Value f_wordcount(const Value& v, Args&) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : v.to_str()) {
    bool w = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

const std::map<std::string, FilterFn, std::less<>>& filters() {
  static const std::map<std::string, FilterFn, std::less<>> table = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"capitalize", f_capitalize},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"forceescape", f_escape},
      {"format", f_format},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"sort", f_sort},
      {"string", f_string},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"unique", f_unique},
      {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return table;
}

int64_t need_int(const Value& v, const char* test) {
  if (!v.is_int()) throw EvalError(std::string("test '") + test + "' needs an integer, not " + v.type_name());
  return v.as_int();
}

bool t_defined(const Value& v, Args&) { return !v.is_undefined(); }
bool t_undefined(const Value& v, Args&) { return v.is_undefined(); }
bool t_none(const Value& v, Args&) { return v.is_none(); }
bool t_boolean(const Value& v, Args&) { return v.is_bool(); }
bool t_true(const Value& v, Args&) { return v.is_bool() && v.as_bool(); }
bool t_false(const Value& v, Args&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(const Value& v, Args&) { return v.kind() == Value::Kind::Int; }
bool t_float(const Value& v, Args&) { return v.kind() == Value::Kind::Float; }
bool t_number(const Value& v, Args&) { return v.is_number(); }
bool t_string(const Value& v, Args&) { return v.is_string(); }
bool t_mapping(const Value& v, Args&) { return v.is_dict() && !v.dict().is_namespace; }
bool t_iterable(const Value& v, Args&) { return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict(); }
bool t_callable(const Value& v, Args&) { return v.is_callable(); }
bool t_escaped(const Value&, Args&) { return false; }
bool t_odd(const Value& v, Args&) { return need_int(v, "odd") % 2 != 0; }
bool t_even(const Value& v, Args&) { return need_int(v, "even") % 2 == 0; }
bool t_divisibleby(const Value& v, Args& a) {
  int64_t d = need_int(a.get(0, "num", kUndef), "divisibleby");
  if (d == 0) throw EvalError("integer division or modulo by zero");
  return d == -1 || need_int(v, "divisibleby") % d == 0;
}
bool t_eq(const Value& v, Args& a) { return equals(v, a.get(0, "other", kUndef)); }
bool t_ne(const Value& v, Args& a) { return !equals(v, a.get(0, "other", kUndef)); }
bool t_lt(const Value& v, Args& a) { return less(v, a.get(0, "other", kUndef)); }
bool t_gt(const Value& v, Args& a) { return less(a.get(0, "other", kUndef), v); }
bool t_le(const Value& v, Args& a) { return !less(a.get(0, "other", kUndef), v); }
bool t_ge(const Value& v, Args& a) { return !less(v, a.get(0, "other", kUndef)); }
bool t_in(const Value& v, Args& a) { return contains(a.get(0, "seq", kUndef), v); }
bool t_lower(const Value& v, Args&) { return v.is_string() && py_lower(v.str()) == v.str(); }
bool t_upper(const Value& v, Args&) { return v.is_string() && py_upper(v.str()) == v.str(); }
bool t_filter(const Value& v, Args&) { return v.is_string() && has_filter(v.str()); }
bool t_test(const Value& v, Args&) { return v.is_string() && has_test(v.str()); }
bool t_sameas(const Value& v, Args& a) {
  const Value& o = a.get(0, "other", kUndef);
  if (v.is_list() && o.is_list()) return v.list_ptr() == o.list_ptr();
  if (v.is_dict() && o.is_dict()) return v.dict_ptr() == o.dict_ptr();
  return v.kind() == o.kind() && equals(v, o);
}

const std::map<std::string, TestFn, std::less<>>& tests() {
  static const std::map<std::string, TestFn, std::less<>> table = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_iterable},
      {"callable", t_callable},
      {"escaped", t_escaped},
      {"odd", t_odd},
      {"even", t_even},
      {"divisibleby", t_divisibleby},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"in", t_in},
      {"lower", t_lower},
      {"upper", t_upper},
      {"filter", t_filter},
      {"test", t_test},
      {"sameas", t_sameas},
  };
  return table;
}

}  // namespace

bool has_filter(std::string_view name) { return filters().count(name) != 0; }
bool has_test(std::string_view name) { return tests().count(name) != 0; }

Value apply_filter(const std::string& name, const Value& subject, Args& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw EvalError("no filter named '" + name + "'");
  Value out = it->second(subject, args);
  charge_size(out);
  return out;
}

bool apply_test(const std::string& name, const Value& subject, Args& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw EvalError("no test named '" + name + "'");
  return it->second(subject, args);
}

}  // namespace rkchat::chat::jinja
