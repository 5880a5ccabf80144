#include "chat/jinja_strings.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "chat/jinja_builtins.h"

namespace rkchat::chat::jinja {

namespace {

constexpr std::string_view kPyWhitespace = " \t\n\r\v\f\x1c\x1d\x1e\x1f";

const std::string& need_string(const Value& v, const char* what) {
  if (!v.is_string()) throw EvalError(std::string(what) + " must be str, not " + v.type_name());
  return v.str();
}

bool is_absent(const Value& v) { return v.is_undefined() || v.is_none(); }

// str.startswith / str.endswith with a prefix or a tuple (list) of prefixes.
bool affix_match(const std::string& s, const Value& affix, bool at_start) {
  auto one = [&](const Value& a) {
    const std::string& p = need_string(a, at_start ? "startswith arg" : "endswith arg");
    if (p.size() > s.size()) return false;
    return s.compare(at_start ? 0 : s.size() - p.size(), p.size(), p) == 0;
  };
  if (affix.is_list()) return std::any_of(affix.list().begin(), affix.list().end(), one);
  return one(affix);
}

// A part of a split, bounded as every list is (a 16 MB string of separators would be 16M strings).
void add_part(std::vector<std::string>& parts, std::string part) {
  if (parts.size() >= kMaxListItems) throw EvalError("list grows beyond " + std::to_string(kMaxListItems) + " items");
  parts.push_back(std::move(part));
}

List py_split(const std::string& s, const Value& sep_v, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (is_absent(sep_v)) {  // runs of whitespace, no empty parts
    std::string work = s;
    if (from_right) std::reverse(work.begin(), work.end());
    size_t i = 0;
    while (true) {
      i = work.find_first_not_of(kPyWhitespace, i);
      if (i == std::string::npos) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t end = work.find_last_not_of(kPyWhitespace);
        add_part(parts, work.substr(i, end + 1 - i));
        break;
      }
      size_t j = work.find_first_of(kPyWhitespace, i);
      add_part(parts, work.substr(i, j == std::string::npos ? std::string::npos : j - i));
      if (j == std::string::npos) break;
      i = j;
    }
    if (from_right) {
      std::reverse(parts.begin(), parts.end());
      for (auto& p : parts) std::reverse(p.begin(), p.end());
    }
  } else {
    const std::string& sep = need_string(sep_v, "separator");
    if (sep.empty()) throw EvalError("empty separator");
    if (!from_right) {
      size_t start = 0, at;
      while ((maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) &&
             (at = s.find(sep, start)) != std::string::npos) {
        add_part(parts, s.substr(start, at - start));
        start = at + sep.size();
      }
      add_part(parts, s.substr(start));
    } else {
      size_t end = s.size();
      while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        if (end < sep.size()) break;
        size_t at = s.rfind(sep, end - sep.size());
        if (at == std::string::npos) break;
        add_part(parts, s.substr(at + sep.size(), end - at - sep.size()));
        end = at;
      }
      add_part(parts, s.substr(0, end));
      std::reverse(parts.begin(), parts.end());
    }
  }
  List out;
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

// "{} {0} {name}".format(...): fields without format specs.
std::string py_format(const std::string& fmt, const Args& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw EvalError("single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!") != std::string::npos) throw EvalError("format specs are not supported");
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t idx = field.empty() ? auto_index++ : std::stoul(field);
      if (idx < a.pos.size()) v = &a.pos[idx];
    } else {
      v = a.find_kw(field);
    }
    if (!v) throw EvalError("format: no argument for field '{" + field + "}'");
    out += v->to_str();
    check_size(out);
    i = close;
  }
  return out;
}

template <class Pred>
bool all_chars(const std::string& s, Pred pred) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); });
}

Value method(const Value& self, const std::string& name, std::function<Value(const std::string&, Args&)> fn) {
  return Value::function(name, [self, fn = std::move(fn)](Args& a) {
    charge_size(self);  // every method scans its string at most a few times
    Value out = fn(self.str(), a);
    charge_size(out);
    return out;
  });
}

}  // namespace

std::string py_strip(const std::string& s, const Value& chars, StripSide side) {
  std::string set = is_absent(chars) ? std::string(kPyWhitespace) : need_string(chars, "strip arg");
  size_t b = 0, e = s.size();
  if (side != StripSide::Right) {
    b = s.find_first_not_of(set);
    if (b == std::string::npos) return "";
  }
  if (side != StripSide::Left) {
    size_t last = s.find_last_not_of(set);
    if (last == std::string::npos) return "";
    e = last + 1;
  }
  return s.substr(b, e - b);
}

namespace {

// Case pairs beyond ASCII: Latin-1, Latin Extended-A, Greek and Cyrillic, the scripts chat templates and their
// messages are most likely to case. Returns the code point unchanged when it has no mapping.
uint32_t to_upper_cp(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0x131) return 'I';
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c & 1) ? c - 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x3B1 && c <= 0x3C9) return c - 32;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

uint32_t to_lower_cp(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c == 0x130) return 'i';
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c & 1) ? c : c + 1;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool is_cased(uint32_t c) { return to_upper_cp(c) != c || to_lower_cp(c) != c; }

// Applies fn(code point, index among code points, previous was cased) to each code point of UTF-8 text;
// bytes that are not valid UTF-8 pass through unchanged.
template <class Fn>
std::string map_codepoints(const std::string& s, Fn fn) {
  charge_work(s.size() * 4);  // decoding, mapping and encoding each code point costs several copies of a byte
  std::string out;
  out.reserve(s.size());
  bool prev_cased = false;
  size_t index = 0;
  for (size_t i = 0; i < s.size();) {
    auto u = static_cast<unsigned char>(s[i]);
    size_t len = u < 0x80 ? 1 : (u >> 5) == 6 ? 2 : (u >> 4) == 14 ? 3 : (u >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    uint32_t cp = len == 1 ? u : (u & (0x7Fu >> len));
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    if (len == 1 && u >= 0x80) {
      out += s[i];
    } else {
      append_utf8(out, fn(cp, index, prev_cased));
    }
    prev_cased = is_cased(cp);
    i += len;
    ++index;
  }
  return out;
}

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string py_upper(const std::string& s) {
  return map_codepoints(s, [](uint32_t c, size_t, bool) { return to_upper_cp(c); });
}

std::string py_lower(const std::string& s) {
  return map_codepoints(s, [](uint32_t c, size_t, bool) { return to_lower_cp(c); });
}

std::string py_title(const std::string& s) {
  return map_codepoints(
      s, [](uint32_t c, size_t, bool prev_cased) { return prev_cased ? to_lower_cp(c) : to_upper_cp(c); });
}

std::string py_capitalize(const std::string& s) {
  return map_codepoints(s, [](uint32_t c, size_t i, bool) { return i == 0 ? to_upper_cp(c) : to_lower_cp(c); });
}

std::string py_replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  if (from.empty()) {  // Python inserts `to` between characters and at both ends
    auto offs = codepoint_offsets(s);
    for (size_t i = 0; i + 1 < offs.size(); ++i) {
      if (count < 0 || done++ < count) out += to;
      out += s.substr(offs[i], offs[i + 1] - offs[i]);
      check_size(out);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  for (size_t at; (count < 0 || done < count) && (at = s.find(from, start)) != std::string::npos; ++done) {
    out.append(s, start, at - start);
    out += to;
    check_size(out);
    start = at + from.size();
  }
  out.append(s, start);
  return out;
}

std::string percent_format(const std::string& fmt, const Value& args) {
  List values = args.is_list() ? args.list() : List{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw EvalError("incomplete format");
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= values.size()) throw EvalError("not enough arguments for format string");
    const Value& v = values[next++];
    if (conv == 's') {
      out += v.to_str();
    } else if (conv == 'r') {
      out += v.repr();
    } else if ((conv == 'd' || conv == 'i') && v.is_number()) {
      out += std::to_string(v.is_int() ? v.as_int() : static_cast<int64_t>(v.as_float()));
    } else if (conv == 'f' && v.is_number()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%f", v.as_float());
      out += buf;
    } else {
      throw EvalError(std::string("unsupported format character '") + conv + "'");
    }
    check_size(out);
  }
  if (next < values.size()) throw EvalError("not all arguments converted during string formatting");
  return out;
}

Value string_method(const Value& self, const std::string& name) {
  using A = Args;
  if (name == "startswith" || name == "endswith") {
    bool start = name == "startswith";
    return method(self, name,
                  [start](const std::string& s, A& a) { return Value(affix_match(s, a.get(0, "", Value()), start)); });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    StripSide side = name == "strip" ? StripSide::Both : name == "lstrip" ? StripSide::Left : StripSide::Right;
    return method(self, name,
                  [side](const std::string& s, A& a) { return Value(py_strip(s, a.get(0, "chars", Value()), side)); });
  }
  if (name == "split" || name == "rsplit") {
    bool right = name == "rsplit";
    return method(self, name, [right](const std::string& s, A& a) {
      const Value& max = a.get(1, "maxsplit", Value(int64_t{-1}));
      return Value(py_split(s, a.get(0, "sep", Value()), max.is_int() ? max.as_int() : -1, right));
    });
  }
  if (name == "replace") {
    return method(self, name, [](const std::string& s, A& a) {
      const Value& count = a.get(2, "count", Value(int64_t{-1}));
      return Value(py_replace(s, need_string(a.get(0, "old", Value()), "replace arg"),
                              need_string(a.get(1, "new", Value()), "replace arg"),
                              count.is_int() ? count.as_int() : -1));
    });
  }
  if (name == "upper") return method(self, name, [](const std::string& s, A&) { return Value(py_upper(s)); });
  if (name == "lower") return method(self, name, [](const std::string& s, A&) { return Value(py_lower(s)); });
  if (name == "title") return method(self, name, [](const std::string& s, A&) { return Value(py_title(s)); });
  if (name == "capitalize") return method(self, name, [](const std::string& s, A&) { return Value(py_capitalize(s)); });
  if (name == "format") return method(self, name, [](const std::string& s, A& a) { return Value(py_format(s, a)); });
  if (name == "find" || name == "rfind" || name == "count") {
    return method(self, name, [name](const std::string& s, A& a) {
      const std::string sub = need_string(a.get(0, "sub", Value()), "find arg");
      if (name == "count") {
        if (sub.empty()) return Value(static_cast<int64_t>(codepoint_offsets(s).size()));
        int64_t n = 0;
        for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
        return Value(n);
      }
      size_t at = name == "find" ? s.find(sub) : s.rfind(sub);
      if (at == std::string::npos) return Value(int64_t{-1});
      auto offs = codepoint_offsets(s);
      return Value(static_cast<int64_t>(std::lower_bound(offs.begin(), offs.end(), at) - offs.begin()));
    });
  }
  if (name == "join") {
    return method(self, name, [](const std::string& s, A& a) {
      std::string out;
      List items = a.get(0, "iterable", Value()).iterate();
      for (size_t i = 0; i < items.size(); ++i) {
        out += (i ? s : "") + need_string(items[i], "join item");
        check_size(out);
      }
      return Value(std::move(out));
    });
  }
  if (name == "isdigit")
    return method(self, name, [](const std::string& s, A&) { return Value(all_chars(s, ::isdigit)); });
  if (name == "isalpha")
    return method(self, name, [](const std::string& s, A&) { return Value(all_chars(s, ::isalpha)); });
  if (name == "isalnum")
    return method(self, name, [](const std::string& s, A&) { return Value(all_chars(s, ::isalnum)); });
  if (name == "isspace")
    return method(self, name, [](const std::string& s, A&) { return Value(all_chars(s, ::isspace)); });
  if (name == "islower" || name == "isupper") {
    bool lower = name == "islower";
    return method(self, name, [lower](const std::string& s, A&) {
      bool any = std::any_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
      return Value(any && (lower ? py_lower(s) : py_upper(s)) == s);
    });
  }
  if (name == "splitlines") {
    return method(self, name, [](const std::string& s, A&) {
      List out;
      size_t start = 0;
      while (start < s.size()) {
        size_t nl = s.find('\n', start);
        if (nl == std::string::npos) nl = s.size();
        if (out.size() >= kMaxListItems) check_size(List(kMaxListItems + 1));
        out.emplace_back(s.substr(start, nl - start));
        start = nl + 1;
      }
      return Value(std::move(out));
    });
  }
  return Value::undefined();
}

}  // namespace rkchat::chat::jinja
