// What the evaluator calls for operators, attribute and item access, filters and tests: Python's and
// jinja2's semantics over Value. Everything throws EvalError on misuse (the evaluator adds the position).
#pragma once

#include <string>
#include <string_view>

#include "chat/jinja_value.h"

namespace rkchat::chat::jinja {

// Caps that keep a hostile template from exhausting memory: no string or list grows beyond these.
inline constexpr size_t kMaxStringBytes = 16u << 20;
inline constexpr size_t kMaxListItems = 1u << 18;
void check_size(const std::string& s);
void check_size(const List& l);
// Charges the work of producing `v`: its bytes, or its items.
void charge_size(const Value& v);

// jinja2's getattr: a method of the object (str.startswith, dict.items ...) as a bound callable, else the
// dict item, else undefined. Attribute access on undefined throws.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: list/str index (negative from the end), dict key, a string key falls back to get_attr.
Value get_item(const Value& obj, const Value& key);
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// + - * / // % ** ~
Value binary_op(const std::string& op, const Value& a, const Value& b);
// `item in container`: substring, list member or dict key; false for undefined.
bool contains(const Value& container, const Value& item);

bool has_filter(std::string_view name);
bool has_test(std::string_view name);
Value apply_filter(const std::string& name, const Value& subject, Args& args);
bool apply_test(const std::string& name, const Value& subject, Args& args);

}  // namespace rkchat::chat::jinja
