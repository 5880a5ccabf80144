// Python's str methods and string helpers shared by the methods and the filters. Case mapping covers ASCII,
// Latin-1, Latin Extended-A, Greek and Cyrillic (Python maps all of Unicode).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chat/jinja_value.h"

namespace rkchat::chat::jinja {

// str.<name> bound to `self` (a string value), or undefined when str has no such method.
Value string_method(const Value& self, const std::string& name);

enum class StripSide { Left, Right, Both };
// str.strip(chars); chars undefined/None: whitespace.
std::string py_strip(const std::string& s, const Value& chars, StripSide side);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
std::string py_replace(const std::string& s, const std::string& from, const std::string& to, int64_t count);
void append_utf8(std::string& out, uint32_t cp);
// "fmt" % args with %s %r %d %i %f %%; args is one value or a list (tuple).
std::string percent_format(const std::string& fmt, const Value& args);

}  // namespace rkchat::chat::jinja
