// Test helper: writes a copy of a GGUF file with some metadata replaced or removed and some tensors removed or
// reshaped, through rkchat's writer. Load checks are tested on fixtures changed in exactly one place.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace rkchat::testing {

struct GgufEdit {
  std::map<std::string, gguf::Value> set;          // metadata added or replaced
  std::set<std::string> drop;                      // metadata keys and tensor names left out
  std::map<std::string, std::vector<int64_t>> ne;  // tensors given a new shape (same element count)

  GgufEdit& with(const std::string& key, gguf::Value v) {
    set[key] = std::move(v);
    return *this;
  }
  GgufEdit& without(const std::string& name) {
    drop.insert(name);
    return *this;
  }
  GgufEdit& reshape(const std::string& tensor, std::vector<int64_t> shape) {
    ne[tensor] = std::move(shape);
    return *this;
  }
};

inline gguf::Value u32_value(uint32_t v) { return {gguf::ValueType::U32, gguf::ValueType::U8, uint64_t{v}}; }
inline gguf::Value string_value(const std::string& v) { return {gguf::ValueType::STRING, gguf::ValueType::U8, v}; }

// The first n values of an array value.
inline gguf::Value truncated_array(const gguf::Value& v, size_t n) {
  const auto& items = *std::get<std::shared_ptr<gguf::Array>>(v.v);
  auto head = std::make_shared<gguf::Array>(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(n));
  return {gguf::ValueType::ARRAY, v.elem_type, head};
}

// A path in the temp folder unique to this process and test.
inline std::string temp_gguf(const std::string& stem) {
  return (std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ".gguf")).string();
}

// Writes `src` with `edit` applied to `out`; returns out.
inline std::string rewrite_gguf(const std::string& src, const GgufEdit& edit, const std::string& out) {
  const auto f = gguf::File::open(src);
  gguf::Writer w;
  for (const auto& [key, value] : f->metadata()) {
    if (edit.drop.count(key)) continue;
    auto it = edit.set.find(key);
    w.set_value(key, it == edit.set.end() ? value : it->second);
  }
  for (const auto& [key, value] : edit.set)
    if (!f->has(key)) w.set_value(key, value);
  for (const auto& t : f->tensors()) {
    if (edit.drop.count(t.name)) continue;
    auto it = edit.ne.find(t.name);
    w.add_tensor(t.name, t.type, it == edit.ne.end() ? t.ne : it->second,
                 std::vector<uint8_t>(t.data, t.data + t.nbytes));
  }
  w.write(out);
  return out;
}

}  // namespace rkchat::testing
