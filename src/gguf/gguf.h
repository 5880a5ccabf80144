// GGUF v2/v3 reader over mmap: parse and validate once, then hand out views.
// Nothing here knows about model architectures; it only knows the container.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rkchat::gguf {

// Thrown for any malformed or unusable file; the message names the file and the problem.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ggml tensor type ids as stored in GGUF (only the ones rkchat supports get names; others are kept as numbers
// so that the loader can say "unsupported tensor type 12 (q3_K)").
enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};
bool is_supported(TensorType t);
const char* type_name(TensorType t);  // "q8_0", ..., or the ggml name of a known-but-unsupported type, or "unknown"
int64_t block_elems(TensorType t);    // elements per block (1 for float types)
int64_t block_bytes(TensorType t);    // bytes per block

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// A metadata value. Arrays of strings and numbers are decoded eagerly (they are small, except token lists,
// which are still only a few MB).
struct Value;
using Array = std::vector<Value>;
struct Value {
  ValueType type = ValueType::U8;
  ValueType elem_type = ValueType::U8;  // for arrays
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<Array>> v;
};

struct TensorInfo {
  std::string name;
  TensorType type;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the row length (contiguous)
  uint64_t offset = 0;      // from the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
  int64_t n_elements() const;
  int64_t rows() const;        // product of ne[1..]
  uint64_t row_bytes() const;  // bytes of one row of ne[0] elements
};

class File {
 public:
  // Maps and validates the whole file. Throws gguf::Error on any problem.
  static std::unique_ptr<File> open(const std::string& path);
  // Parses a buffer in memory (used by the fuzzer and tests). The buffer must outlive the File.
  static std::unique_ptr<File> parse(std::span<const uint8_t> bytes, const std::string& name = "<memory>");
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint32_t alignment() const { return alignment_; }

  // Metadata.
  bool has(std::string_view key) const;
  const Value* find(std::string_view key) const;
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  // Frees the metadata once the loader has read what it needs (hyperparameters, tokenizer): the decoded arrays of
  // a 151k-token vocabulary take ~22 MB, a third of what a served model costs beyond its weights and KV cache.
  // Tensors and the mapping stay.
  void drop_metadata();
  // Typed getters: the required form throws "FILE: missing required key 'KEY'" or a type mismatch error;
  // integers of any width convert to the requested type when the value fits.
  std::string get_string(std::string_view key) const;
  std::optional<std::string> get_string_opt(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  std::optional<int64_t> get_int_opt(std::string_view key) const;
  double get_float(std::string_view key) const;
  std::optional<double> get_float_opt(std::string_view key) const;
  std::optional<bool> get_bool_opt(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;  // throws when missing
  std::vector<double> get_float_array(std::string_view key) const;        // any numeric array
  std::vector<int64_t> get_int_array(std::string_view key) const;

  // Tensors.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // Throws "FILE: missing tensor 'NAME'" / "FILE: tensor 'NAME' has shape [a, b], expected [c, d]".
  const TensorInfo& tensor(std::string_view name, std::span<const int64_t> expected_ne = {}) const;

 private:
  File() = default;
  void parse_all();
  std::string path_;
  std::span<const uint8_t> bytes_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writer: collects metadata and tensors, then writes a GGUF v3 file (used by `synth` and the converter).
class Writer {
 public:
  void set_string(const std::string& key, const std::string& v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_value(const std::string& key, const Value& v);  // copy a value from another file
  // data must hold exactly the bytes for (type, ne); it is copied.
  void add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne, std::vector<uint8_t> data);
  // Large tensors: fill(dst) is called during write() with a buffer of exactly the tensor's size, so a
  // multi-GB model never has to sit in memory twice.
  void add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne,
                  std::function<void(std::span<uint8_t>)> fill);
  void write(const std::string& path, uint32_t alignment = 32) const;  // throws gguf::Error on I/O failure
 private:
  std::vector<std::pair<std::string, Value>> kv_;
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    std::function<void(std::span<uint8_t>)> fill;
  };
  std::vector<PendingTensor> tensors_;
};

}  // namespace rkchat::gguf
