// GGUF v3 writer. Metadata and tensor infos are serialized into memory; tensor data is then produced one tensor
// at a time by its fill callback into a reused buffer and appended, so a multi-GB model is never held whole.
// The file is written under a temporary name and renamed at the end, so a failed write leaves no half file.
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"
#include "gguf/internal.h"

namespace rkchat::gguf {
namespace {

constexpr size_t kMaxTensorName = 63;  // GGML_MAX_NAME - 1: longer names do not load in ggml

Value scalar(ValueType t, decltype(Value::v) v) {
  Value out;
  out.type = t;
  out.v = std::move(v);
  return out;
}

template <typename T, typename F>
Value array_value(ValueType elem, const std::vector<T>& items, F make) {
  auto arr = std::make_shared<Array>();
  arr->reserve(items.size());
  for (const T& x : items) arr->push_back(make(x));
  Value out;
  out.type = ValueType::ARRAY;
  out.elem_type = elem;
  out.v = std::move(arr);
  return out;
}

class Buffer {
 public:
  template <typename T>
  void put(T v) {
    append(&v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    append(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) { bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, 0); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void append(const void* p, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n) std::memcpy(bytes_.data() + at, p, n);
  }
  std::vector<uint8_t> bytes_;
};

[[noreturn]] void bad_value(const std::string& key, const char* why) {
  throw Error("gguf writer: key '" + key + "': " + why);
}

template <typename Alt>
const Alt& get_alt(const std::string& key, const Value& v) {
  const auto* a = std::get_if<Alt>(&v.v);
  if (!a) bad_value(key, "value does not hold the representation its type requires");
  return *a;
}

// Serializes one value of type `type` (the element type for array items); the caller writes the type tag.
void put_value(Buffer& b, const std::string& key, ValueType type, const Value& v) {
  if (v.type != type) bad_value(key, "array element type differs from the array's element type");
  switch (type) {
    case ValueType::U8:
      b.put(static_cast<uint8_t>(get_alt<uint64_t>(key, v)));
      break;
    case ValueType::I8:
      b.put(static_cast<int8_t>(get_alt<int64_t>(key, v)));
      break;
    case ValueType::U16:
      b.put(static_cast<uint16_t>(get_alt<uint64_t>(key, v)));
      break;
    case ValueType::I16:
      b.put(static_cast<int16_t>(get_alt<int64_t>(key, v)));
      break;
    case ValueType::U32:
      b.put(static_cast<uint32_t>(get_alt<uint64_t>(key, v)));
      break;
    case ValueType::I32:
      b.put(static_cast<int32_t>(get_alt<int64_t>(key, v)));
      break;
    case ValueType::U64:
      b.put(get_alt<uint64_t>(key, v));
      break;
    case ValueType::I64:
      b.put(get_alt<int64_t>(key, v));
      break;
    case ValueType::F32:
      b.put(static_cast<float>(get_alt<double>(key, v)));
      break;
    case ValueType::F64:
      b.put(get_alt<double>(key, v));
      break;
    case ValueType::BOOL:
      b.put(static_cast<uint8_t>(get_alt<bool>(key, v)));
      break;
    case ValueType::STRING:
      b.put_string(get_alt<std::string>(key, v));
      break;
    case ValueType::ARRAY: {
      const auto& arr = get_alt<std::shared_ptr<Array>>(key, v);
      if (!arr) bad_value(key, "null array");
      b.put(static_cast<uint32_t>(v.elem_type));
      b.put<uint64_t>(arr->size());
      for (const Value& e : *arr) put_value(b, key, v.elem_type, e);
      break;
    }
    default:
      bad_value(key, "invalid value type");
  }
}

// Bytes of a tensor of `type` and shape `ne`, validating what ggml would refuse to load.
uint64_t tensor_bytes(const std::string& name, TensorType type, const std::vector<int64_t>& ne) {
  auto fail = [&](const std::string& why) -> uint64_t { throw Error("gguf writer: tensor '" + name + "': " + why); };
  if (name.empty() || name.size() > kMaxTensorName)
    return fail("name must have 1.." + std::to_string(kMaxTensorName) + " characters");
  if (!internal::is_known(type)) return fail("unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
  if (ne.empty() || ne.size() > internal::kMaxDims) return fail("needs 1..4 dimensions");
  uint64_t n = 1;
  for (int64_t d : ne) {
    if (d < 0 ||
        (d != 0 && n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / static_cast<uint64_t>(d))) {
      return fail("invalid shape");
    }
    n *= static_cast<uint64_t>(d);
  }
  if (ne[0] % block_elems(type) != 0) {
    return fail(std::string("row length is not a multiple of the block size of ") + type_name(type));
  }
  return n / static_cast<uint64_t>(block_elems(type)) * static_cast<uint64_t>(block_bytes(type));
}

class OutFile {
 public:
  explicit OutFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".part") {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create");
  }
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;

  void write(std::span<const uint8_t> data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("write failed");
      data = data.subspan(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
  }
  void pad_to(uint64_t alignment) {
    static constexpr uint8_t zeros[256] = {};
    const uint64_t n = (alignment - written_ % alignment) % alignment;
    for (uint64_t left = n; left > 0; left -= std::min<uint64_t>(left, sizeof(zeros))) {
      write({zeros, static_cast<size_t>(std::min<uint64_t>(left, sizeof(zeros)))});
    }
  }
  void commit() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close failed");
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("rename failed");
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const char* what) const { throw Error(path_ + ": " + what + ": " + std::strerror(errno)); }
  std::string path_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace

void Writer::set_value(const std::string& key, const Value& v) {
  if (key.empty()) throw Error("gguf writer: empty key");
  for (auto& [k, old] : kv_) {
    if (k == key) {
      old = v;
      return;
    }
  }
  kv_.emplace_back(key, v);
}

void Writer::set_string(const std::string& key, const std::string& v) { set_value(key, scalar(ValueType::STRING, v)); }
void Writer::set_u32(const std::string& key, uint32_t v) { set_value(key, scalar(ValueType::U32, uint64_t{v})); }
void Writer::set_i32(const std::string& key, int32_t v) { set_value(key, scalar(ValueType::I32, int64_t{v})); }
void Writer::set_f32(const std::string& key, float v) {
  set_value(key, scalar(ValueType::F32, static_cast<double>(v)));
}
void Writer::set_bool(const std::string& key, bool v) { set_value(key, scalar(ValueType::BOOL, v)); }

void Writer::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  set_value(key, array_value(ValueType::STRING, v, [](const std::string& s) { return scalar(ValueType::STRING, s); }));
}
void Writer::set_f32_array(const std::string& key, const std::vector<float>& v) {
  set_value(key,
            array_value(ValueType::F32, v, [](float x) { return scalar(ValueType::F32, static_cast<double>(x)); }));
}
void Writer::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  set_value(key, array_value(ValueType::I32, v, [](int32_t x) { return scalar(ValueType::I32, int64_t{x}); }));
}

void Writer::add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
  const uint64_t n = tensor_bytes(name, type, ne);
  if (data.size() != n) {
    throw Error("gguf writer: tensor '" + name + "' needs " + std::to_string(n) + " bytes, got " +
                std::to_string(data.size()));
  }
  auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(data));
  add_tensor(name, type, std::move(ne),
             [shared](std::span<uint8_t> dst) { std::memcpy(dst.data(), shared->data(), dst.size()); });
}

void Writer::add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne,
                        std::function<void(std::span<uint8_t>)> fill) {
  tensor_bytes(name, type, ne);
  for (const auto& t : tensors_) {
    if (t.name == name) throw Error("gguf writer: duplicate tensor '" + name + "'");
  }
  tensors_.push_back({name, type, std::move(ne), std::move(fill)});
}

void Writer::write(const std::string& path, uint32_t alignment) const {
  if (alignment == 0 || !std::has_single_bit(alignment)) {
    throw Error(path + ": alignment " + std::to_string(alignment) + " is not a power of two");
  }
  Buffer head;
  for (uint8_t m : internal::kMagic) head.put(m);
  head.put<uint32_t>(3);
  head.put<uint64_t>(tensors_.size());
  const bool add_alignment_key = alignment != internal::kDefaultAlignment;
  head.put<uint64_t>(kv_.size() + (add_alignment_key ? 1 : 0));
  for (const auto& [key, v] : kv_) {
    if (key == internal::kAlignmentKey) throw Error("gguf writer: set the alignment through write(), not as a key");
    head.put_string(key);
    head.put(static_cast<uint32_t>(v.type));
    put_value(head, key, v.type, v);
  }
  if (add_alignment_key) {
    head.put_string(internal::kAlignmentKey);
    head.put(static_cast<uint32_t>(ValueType::U32));
    head.put<uint32_t>(alignment);
  }
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    head.put_string(t.name);
    head.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) head.put(d);
    head.put(static_cast<uint32_t>(t.type));
    head.put(offset);
    sizes.push_back(tensor_bytes(t.name, t.type, t.ne));
    offset += (sizes.back() + alignment - 1) / alignment * alignment;
  }
  head.pad_to(alignment);

  OutFile out(path);
  out.write(head.bytes());
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    buf.assign(sizes[i], 0);  // zeroed, so a fill that forgets bytes stays deterministic
    tensors_[i].fill(buf);
    out.write(buf);
    out.pad_to(alignment);
  }
  out.commit();
}

}  // namespace rkchat::gguf
