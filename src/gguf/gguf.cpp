// Type table, tensor helpers and the typed metadata getters of gguf::File. Parsing lives in reader.cpp,
// writing in writer.cpp.
#include "gguf/gguf.h"

#include <array>
#include <limits>

#include "gguf/internal.h"

namespace rkchat::gguf {
namespace {

struct TypeTraits {
  const char* name;  // nullptr: an id ggml has removed (no block layout)
  int64_t blck;
  int64_t bytes;
  bool supported;
};

// Indexed by ggml type id (ggml.h, GGML_TYPE_COUNT == 40).
constexpr std::array<TypeTraits, internal::kTypeCount> kTypes = {{
    {"f32", 1, 4, true},         {"f16", 1, 2, true},        {"q4_0", 32, 18, true},      {"q4_1", 32, 20, true},
    {nullptr, 0, 0, false},      {nullptr, 0, 0, false},     {"q5_0", 32, 22, false},     {"q5_1", 32, 24, false},
    {"q8_0", 32, 34, true},      {"q8_1", 32, 36, false},    {"q2_K", 256, 84, false},    {"q3_K", 256, 110, false},
    {"q4_K", 256, 144, true},    {"q5_K", 256, 176, true},   {"q6_K", 256, 210, true},    {"q8_K", 256, 292, false},
    {"iq2_xxs", 256, 66, false}, {"iq2_xs", 256, 74, false}, {"iq3_xxs", 256, 98, false}, {"iq1_s", 256, 50, false},
    {"iq4_nl", 32, 18, false},   {"iq3_s", 256, 110, false}, {"iq2_s", 256, 82, false},   {"iq4_xs", 256, 136, false},
    {"i8", 1, 1, false},         {"i16", 1, 2, false},       {"i32", 1, 4, false},        {"i64", 1, 8, false},
    {"f64", 1, 8, false},        {"iq1_m", 256, 56, false},  {"bf16", 1, 2, true},        {nullptr, 0, 0, false},
    {nullptr, 0, 0, false},      {nullptr, 0, 0, false},     {"tq1_0", 256, 54, false},   {"tq2_0", 256, 66, false},
    {nullptr, 0, 0, false},      {nullptr, 0, 0, false},     {nullptr, 0, 0, false},      {"mxfp4", 32, 17, false},
}};

const TypeTraits* traits(TensorType t) {
  auto id = static_cast<uint32_t>(t);
  return id < kTypes.size() && kTypes[id].name ? &kTypes[id] : nullptr;
}

const char* value_type_name(ValueType t) {
  static constexpr std::array<const char*, 13> names = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                        "bool", "string", "array", "u64", "i64", "f64"};
  auto id = static_cast<uint32_t>(t);
  return id < names.size() ? names[id] : "invalid";
}

std::string describe(const Value& v) {
  if (v.type == ValueType::ARRAY) return std::string("array of ") + value_type_name(v.elem_type);
  return value_type_name(v.type);
}

[[noreturn]] void type_mismatch(const std::string& path, std::string_view key, const Value& v, const char* expected) {
  throw Error(path + ": key '" + std::string(key) + "' has type " + describe(v) + ", expected " + expected);
}

// Integers of any width as int64, or nullopt when `v` is not an integer (or does not fit).
std::optional<int64_t> as_int(const Value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v.v)) return *i;
  return std::nullopt;
}

std::optional<double> as_float(const Value& v) {
  if (const auto* d = std::get_if<double>(&v.v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v.v)) return static_cast<double>(*i);
  return std::nullopt;
}

const Array& array_of(const std::string& path, std::string_view key, const Value* v, const char* expected) {
  if (!v) throw Error(path + ": missing required key '" + std::string(key) + "'");
  const auto* a = std::get_if<std::shared_ptr<Array>>(&v->v);
  if (v->type != ValueType::ARRAY || !a || !*a) type_mismatch(path, key, *v, expected);
  return **a;
}

std::string shape_str(std::span<const int64_t> ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Shapes compare equal when they agree after padding the shorter with trailing 1s (ggml drops them).
bool same_shape(std::span<const int64_t> a, std::span<const int64_t> b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if ((i < a.size() ? a[i] : 1) != (i < b.size() ? b[i] : 1)) return false;
  }
  return true;
}

}  // namespace

namespace internal {
bool is_known(TensorType t) { return traits(t) != nullptr; }
const char* value_type_name(ValueType t) { return gguf::value_type_name(t); }
}  // namespace internal

bool is_supported(TensorType t) {
  const auto* tt = traits(t);
  return tt && tt->supported;
}
const char* type_name(TensorType t) {
  const auto* tt = traits(t);
  return tt ? tt->name : "unknown";
}
int64_t block_elems(TensorType t) {
  const auto* tt = traits(t);
  return tt ? tt->blck : 0;
}
int64_t block_bytes(TensorType t) {
  const auto* tt = traits(t);
  return tt ? tt->bytes : 0;
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}
int64_t TensorInfo::rows() const { return ne.empty() ? 0 : n_elements() / std::max<int64_t>(ne[0], 1); }
uint64_t TensorInfo::row_bytes() const {
  return ne.empty() ? 0 : static_cast<uint64_t>(ne[0] / block_elems(type) * block_bytes(type));
}

bool File::has(std::string_view key) const { return kv_index_.find(key) != kv_index_.end(); }

void File::drop_metadata() {
  std::vector<std::pair<std::string, Value>>().swap(kv_);
  kv_index_.clear();
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<std::string> File::get_string_opt(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  const auto* s = std::get_if<std::string>(&v->v);
  if (v->type != ValueType::STRING || !s) type_mismatch(path_, key, *v, "string");
  return *s;
}

std::optional<int64_t> File::get_int_opt(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto i = as_int(*v);
  if (!i) type_mismatch(path_, key, *v, "an integer that fits in int64");
  return i;
}

std::optional<double> File::get_float_opt(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto d = as_float(*v);
  if (!d) type_mismatch(path_, key, *v, "a number");
  return d;
}

std::optional<bool> File::get_bool_opt(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  const auto* b = std::get_if<bool>(&v->v);
  if (!b) type_mismatch(path_, key, *v, "bool");
  return *b;
}

namespace {
template <typename T>
T required(const std::string& path, std::string_view key, std::optional<T> v) {
  if (!v) throw Error(path + ": missing required key '" + std::string(key) + "'");
  return std::move(*v);
}
}  // namespace

std::string File::get_string(std::string_view key) const { return required(path_, key, get_string_opt(key)); }
int64_t File::get_int(std::string_view key) const { return required(path_, key, get_int_opt(key)); }
double File::get_float(std::string_view key) const { return required(path_, key, get_float_opt(key)); }

std::vector<std::string> File::get_string_array(std::string_view key) const {
  const Array& a = array_of(path_, key, find(key), "array of string");
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const Value& e : a) {
    const auto* s = std::get_if<std::string>(&e.v);
    if (!s) type_mismatch(path_, key, *find(key), "array of string");
    out.push_back(*s);
  }
  return out;
}

std::vector<double> File::get_float_array(std::string_view key) const {
  const Array& a = array_of(path_, key, find(key), "array of numbers");
  std::vector<double> out;
  out.reserve(a.size());
  for (const Value& e : a) {
    auto d = as_float(e);
    if (!d) type_mismatch(path_, key, *find(key), "array of numbers");
    out.push_back(*d);
  }
  return out;
}

std::vector<int64_t> File::get_int_array(std::string_view key) const {
  const Array& a = array_of(path_, key, find(key), "array of integers");
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (const Value& e : a) {
    auto i = as_int(e);
    if (!i) type_mismatch(path_, key, *find(key), "array of integers that fit in int64");
    out.push_back(*i);
  }
  return out;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::tensor(std::string_view name, std::span<const int64_t> expected_ne) const {
  const TensorInfo* t = find_tensor(name);
  if (!t) throw Error(path_ + ": missing tensor '" + std::string(name) + "'");
  if (!is_supported(t->type)) {
    throw Error(path_ + ": unsupported tensor type " + type_name(t->type) + " for tensor '" + t->name + "'");
  }
  if (!expected_ne.empty() && !same_shape(t->ne, expected_ne)) {
    throw Error(path_ + ": tensor '" + t->name + "' has shape " + shape_str(t->ne) + ", expected " +
                shape_str(expected_ne));
  }
  return *t;
}

}  // namespace rkchat::gguf
