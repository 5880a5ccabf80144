// The values a Jinja template computes with, modelled on the Python objects jinja2 sees when Hugging Face
// transformers renders a chat template: undefined, None, bool, int, float, str, list, dict (insertion-ordered,
// string keys) and callables (macros, globals, bound methods). Lists and dicts are shared by reference, as in
// Python, so that a namespace() updated inside a loop is seen outside it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkchat::chat::jinja {

// An error while evaluating; the evaluator adds the line:column of the expression that failed.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The work of one render is bounded, in units of about one byte scanned, copied or produced; an item touched (a
// list element or dict entry visited, a syntax node evaluated) costs kItemWork. Every value a template builds is
// paid for, so the budget bounds memory as well as time. Outside a WorkBudget nothing is counted.
inline constexpr int64_t kMaxWork = 128'000'000;
inline constexpr int64_t kItemWork = 32;
// Throws EvalError naming the limit when the current render's budget is spent.
void charge_work(uint64_t units);
inline void charge_items(uint64_t n) { charge_work(n * kItemWork); }
// A fresh budget of `limit` units for one render on this thread (renders do not nest).
class WorkBudget {
 public:
  explicit WorkBudget(uint64_t limit);
  ~WorkBudget();
  WorkBudget(const WorkBudget&) = delete;
  WorkBudget& operator=(const WorkBudget&) = delete;
};

class Value;
using List = std::vector<Value>;
struct Dict;
struct Args;
using Function = std::function<Value(Args&)>;

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Map, Callable };

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  Value(bool b);                                    // NOLINT(google-explicit-constructor): literals read naturally
  Value(int64_t i);                                 // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d);                                  // NOLINT
  Value(std::string s);                             // NOLINT
  Value(const char* s) : Value(std::string(s)) {}   // NOLINT
  Value(List l);                                    // NOLINT
  Value(std::shared_ptr<List> l);
  Value(std::shared_ptr<Dict> d);
  static Value tuple(List l);  // a list that prints as Python prints a tuple: (1, 'a')
  static Value function(std::string name, Function fn);
  static Value new_dict(bool is_namespace = false);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python: bool is an int
  bool is_number() const { return is_int() || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::Array; }
  bool is_dict() const { return kind_ == Kind::Map; }
  bool is_callable() const { return kind_ == Kind::Callable; }
  bool is_tuple() const { return tuple_; }
  const void* identity() const { return fn_.get(); }  // callables: equal when the same function object

  bool as_bool() const { return b_; }
  int64_t as_int() const;                                       // Int or Bool
  double as_float() const;                                      // any number
  const std::string& str() const { return s_ ? *s_ : kEmpty; }  // String; for Undefined the hint ("'x' is undefined")
  List& list() const { return *list_; }
  Dict& dict() const { return *dict_; }
  const std::shared_ptr<List>& list_ptr() const { return list_; }
  const std::shared_ptr<Dict>& dict_ptr() const { return dict_; }
  Value call(Args& args) const;
  const std::string& callable_name() const { return str(); }

  bool truthy() const;
  // str(x) as Python prints it ("None", "True", "1.0", "['a', 1]"); undefined prints as "".
  std::string to_str() const;
  // repr(x): strings quoted.
  std::string repr() const;
  // Both throw EvalError beyond kMaxPrintDepth levels of nesting (a namespace can be made to nest deeply).
  static constexpr int kMaxPrintDepth = 256;
  std::string type_name() const;  // Python's type name for messages: "int", "str", "dict" ...

  // Items to iterate over: list elements, dict keys, string characters; undefined iterates as empty.
  List iterate() const;
  size_t length() const;  // len(x); throws for values without a length

 private:
  std::string print(bool quoted, int depth) const;

  Kind kind_ = Kind::Undefined;
  bool b_ = false;
  bool tuple_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  // String, undefined hint, callable name: shared, so that copying a value (a variable read, a list item) never
  // copies its text.
  std::shared_ptr<const std::string> s_;
  static const std::string kEmpty;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Python's == (1 == 1.0 == True; lists and dicts compared deeply).
bool equals(const Value& a, const Value& b);
// Python's <, for numbers, strings and lists; throws EvalError for other pairs.
bool less(const Value& a, const Value& b);

struct Dict {
  std::vector<std::pair<std::string, Value>> items;  // insertion order, as Python dicts keep it
  bool is_namespace = false;
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

// Call arguments: positional, then keyword.
struct Args {
  List pos;
  std::vector<std::pair<std::string, Value>> kw;
  // The argument at `index` or named `name`, else `fallback`.
  Value get(size_t index, std::string_view name, const Value& fallback) const;  // a copy: fallback may be a temporary
  const Value* find_kw(std::string_view name) const;
};

// Python's float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string format_float(double d);
// Unicode code points of a UTF-8 string, as byte offsets (plus the end), for indexing and slicing; their count.
std::vector<size_t> codepoint_offsets(const std::string& s);
size_t codepoint_count(const std::string& s);
// A string iterates as one value per character, up to this many (the list cap, kMaxListItems).
inline constexpr size_t kMaxIterChars = 1u << 18;

// JSON interchange; object keys keep the order the json type iterates in (ordered_json: insertion order).
// from_json throws EvalError for JSON nested deeper than kMaxJsonDepth (the conversion recurses).
inline constexpr int kMaxJsonDepth = 256;
Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as Python writes it.
struct JsonStyle {
  bool ensure_ascii = false;
  bool indented = false;  // indent=None writes one line
  std::string indent;     // one level of indentation
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);

}  // namespace rkchat::chat::jinja
