// GGUF v2/v3 parsing and validation. Every read checks the bytes left, every count is capped and every size
// is computed with overflow checks, so a hostile file ends in one gguf::Error naming the file, the problem,
// the key or tensor concerned and the byte offset -- never in a crash or a huge allocation.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"
#include "gguf/internal.h"

namespace rkchat::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

// Caps well above anything a real model holds (Qwen's vocab: 151 669 tokens; chat templates: tens of KB).
constexpr uint64_t kMaxStringLen = uint64_t{64} << 20;
constexpr uint64_t kMaxKeyLen = 1024;
constexpr uint64_t kMaxArrayLen = uint64_t{1} << 26;
constexpr uint64_t kMaxKv = uint64_t{1} << 20;
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
constexpr int kMaxArrayDepth = 8;

// Smallest encoding of one element of each value type: bounds a count by the bytes that remain.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
    case ValueType::STRING:  // the u64 length
      return 8;
    case ValueType::ARRAY:  // element type + count
      return 12;
  }
  return 0;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

std::string hex32(uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xf];
  return s;
}

// A key or tensor name as it appears in a message: quoted, non-printable bytes escaped, long names cut.
std::string quoted(std::string_view name) {
  constexpr size_t kShown = 96;
  std::string out = "'";
  for (char c : name.substr(0, kShown)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else {
      out += "\\x" + hex32(u).substr(8);
    }
  }
  return out + (name.size() > kShown ? "...'" : "'");
}

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& path) : b_(bytes), path_(path) {}

  [[noreturn]] void fail(const std::string& problem) const { fail_at(problem, pos_); }
  [[noreturn]] void fail_at(const std::string& problem, uint64_t offset) const {
    std::string msg = path_ + ": " + problem;
    if (!context_.empty()) msg += " in " + context_;
    throw Error(msg + " (at offset " + std::to_string(offset) + ")");
  }

  void set_context(std::string c) { context_ = std::move(c); }
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return b_.size() - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > left()) {
      fail("truncated file: " + std::string(what) + " needs " + std::to_string(n) + " bytes, " +
           std::to_string(left()) + " left");
    }
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what, uint64_t cap) {
    const uint64_t at = pos_;
    const auto n = read<uint64_t>(what);
    if (n > cap)
      fail_at(std::string(what) + " length " + std::to_string(n) + " exceeds the limit " + std::to_string(cap), at);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  ValueType read_value_type(const char* what) {
    const uint64_t at = pos_;
    const auto t = read<uint32_t>(what);
    if (!valid_value_type(t)) fail_at("invalid " + std::string(what) + " " + std::to_string(t), at);
    return static_cast<ValueType>(t);
  }

  Value read_value(ValueType type, int depth) {
    Value v;
    v.type = type;
    switch (type) {
      case ValueType::U8:
        v.v = uint64_t{read<uint8_t>("u8 value")};
        break;
      case ValueType::I8:
        v.v = int64_t{read<int8_t>("i8 value")};
        break;
      case ValueType::U16:
        v.v = uint64_t{read<uint16_t>("u16 value")};
        break;
      case ValueType::I16:
        v.v = int64_t{read<int16_t>("i16 value")};
        break;
      case ValueType::U32:
        v.v = uint64_t{read<uint32_t>("u32 value")};
        break;
      case ValueType::I32:
        v.v = int64_t{read<int32_t>("i32 value")};
        break;
      case ValueType::U64:
        v.v = read<uint64_t>("u64 value");
        break;
      case ValueType::I64:
        v.v = read<int64_t>("i64 value");
        break;
      case ValueType::F32:
        v.v = static_cast<double>(read<float>("f32 value"));
        break;
      case ValueType::F64:
        v.v = read<double>("f64 value");
        break;
      case ValueType::BOOL:
        v.v = read_bool();
        break;
      case ValueType::STRING:
        v.v = read_string("string value", kMaxStringLen);
        break;
      case ValueType::ARRAY:
        read_array(v, depth);
        break;
    }
    return v;
  }

 private:
  bool read_bool() {
    const uint64_t at = pos_;
    const auto b = read<uint8_t>("bool value");
    if (b > 1) fail_at("invalid bool value " + std::to_string(b), at);
    return b != 0;
  }

  void read_array(Value& v, int depth) {
    if (depth >= kMaxArrayDepth) fail("arrays nested deeper than " + std::to_string(kMaxArrayDepth));
    v.elem_type = read_value_type("array element type");
    const uint64_t at = pos_;
    const auto n = read<uint64_t>("array length");
    if (n > kMaxArrayLen)
      fail_at("array length " + std::to_string(n) + " exceeds the limit " + std::to_string(kMaxArrayLen), at);
    if (n > left() / min_encoded_size(v.elem_type)) {
      fail_at("truncated file: array of " + std::to_string(n) + " " + internal::value_type_name(v.elem_type) +
                  " does not fit in the " + std::to_string(left()) + " bytes left",
              at);
    }
    auto arr = std::make_shared<Array>();
    arr->reserve(n);
    for (uint64_t i = 0; i < n; ++i) arr->push_back(read_value(v.elem_type, depth + 1));
    v.v = std::move(arr);
  }

  std::span<const uint8_t> b_;
  const std::string& path_;
  std::string context_;
  uint64_t pos_ = 0;
};

// Reads the magic and version; distinct messages for "not GGUF", "byte-swapped GGUF" and "other version".
uint32_t read_header(Parser& p) {
  p.need(sizeof(internal::kMagic), "the GGUF magic");
  uint8_t magic[4];
  for (uint8_t& m : magic) m = p.read<uint8_t>("magic");
  if (std::memcmp(magic, internal::kMagic, sizeof(magic)) != 0) {
    uint32_t m;
    std::memcpy(&m, magic, sizeof(m));
    p.fail_at("bad magic " + hex32(m) + ", not a GGUF file", 0);
  }
  const auto version = p.read<uint32_t>("version");
  if ((version & 0xffffu) == 0 && version != 0) {
    p.fail_at("foreign byte order: version field reads " + hex32(version) +
                  "; this is a big-endian GGUF file, only little-endian files are supported",
              4);
  }
  if (version == 1) p.fail_at("GGUF v1 is an obsolete format; convert the model again with a current tool", 4);
  if (version != 2 && version != 3) {
    p.fail_at("unsupported GGUF version " + std::to_string(version) + " (supported: 2, 3)", 4);
  }
  return version;
}

// Shape, type and offset of one tensor; nbytes checked against overflow (extents are checked later).
void read_tensor_info(Parser& p, TensorInfo& t, uint32_t alignment) {
  uint64_t at = p.pos();
  const auto n_dims = p.read<uint32_t>("dimension count");
  if (n_dims == 0 || n_dims > internal::kMaxDims) {
    p.fail_at("dimension count " + std::to_string(n_dims) + " outside 1.." + std::to_string(internal::kMaxDims), at);
  }
  t.ne.resize(n_dims);
  int64_t n = 1;
  for (int64_t& d : t.ne) {
    at = p.pos();
    d = p.read<int64_t>("dimension");
    if (d < 0) p.fail_at("negative dimension " + std::to_string(d), at);
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) p.fail_at("element count overflows int64", at);
    n *= d;
  }
  at = p.pos();
  const auto type_id = p.read<uint32_t>("tensor type");
  t.type = static_cast<TensorType>(type_id);
  if (!internal::is_known(t.type)) p.fail_at("unknown tensor type id " + std::to_string(type_id), at);
  const int64_t blck = block_elems(t.type);
  if (t.ne[0] % blck != 0) {
    p.fail_at("row length ne[0]=" + std::to_string(t.ne[0]) + " is not a multiple of the block size " +
                  std::to_string(blck) + " of type " + type_name(t.type),
              at);
  }
  const auto blocks = static_cast<uint64_t>(n / blck);
  const auto bytes = static_cast<uint64_t>(block_bytes(t.type));
  if (blocks > std::numeric_limits<uint64_t>::max() / bytes) p.fail_at("tensor size overflows", at);
  t.nbytes = blocks * bytes;
  at = p.pos();
  t.offset = p.read<uint64_t>("tensor data offset");
  if (t.offset % alignment != 0) {
    p.fail_at(
        "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment),
        at);
  }
}

// The data section starts at the first aligned offset after the tensor infos; every tensor must lie inside it.
void locate_tensor_data(Parser& p, std::vector<TensorInfo>& tensors, std::span<const uint8_t> bytes,
                        uint32_t alignment) {
  if (tensors.empty()) return;  // vocab-only files may end right after the metadata
  const uint64_t data_start = (p.pos() + alignment - 1) / alignment * alignment;
  if (data_start > bytes.size()) {
    p.fail("truncated file: data section would start at " + std::to_string(data_start) + " but the file has " +
           std::to_string(bytes.size()) + " bytes");
  }
  const uint64_t avail = bytes.size() - data_start;
  for (TensorInfo& t : tensors) {
    if (t.offset > avail || t.nbytes > avail - t.offset) {
      p.set_context("tensor " + quoted(t.name));
      p.fail_at("data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                    ") lies outside the file: the data section holds " + std::to_string(avail) + " bytes",
                data_start + std::min(t.offset, avail));
    }
    t.data = bytes.data() + data_start + t.offset;
  }
}

uint32_t checked_alignment(Parser& p, const Value* v) {
  if (!v) return internal::kDefaultAlignment;
  p.set_context(std::string("key '") + internal::kAlignmentKey + "'");
  const auto* u = std::get_if<uint64_t>(&v->v);
  if (v->type != ValueType::U32 || !u)
    p.fail(std::string("alignment must be u32, not ") + internal::value_type_name(v->type));
  if (*u == 0 || !std::has_single_bit(*u)) p.fail("alignment " + std::to_string(*u) + " is not a power of two");
  return static_cast<uint32_t>(*u);
}

// What a path that is not a regular file is, for the message.
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::unique_ptr<File> File::open(const std::string& path) {
  // O_NONBLOCK: opening a named pipe would otherwise wait for a writer forever; regular files ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(path + ": cannot read its status: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + " is " + file_kind(st.st_mode) + ", not a GGUF file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* map = nullptr;
  if (size > 0) {
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(path + ": mmap failed: " + std::strerror(err));
    }
  }
  ::close(fd);  // the mapping keeps the file alive
  std::unique_ptr<File> f(new File());
  f->path_ = path;
  f->map_ = map;
  f->map_size_ = size;
  f->bytes_ = {static_cast<const uint8_t*>(map), size};
  f->parse_all();
  return f;
}

std::unique_ptr<File> File::parse(std::span<const uint8_t> bytes, const std::string& name) {
  std::unique_ptr<File> f(new File());
  f->path_ = name;
  f->bytes_ = bytes;
  f->parse_all();
  return f;
}

File::~File() {
  if (map_) ::munmap(map_, map_size_);
}

void File::parse_all() {
  Parser p(bytes_, path_);
  version_ = read_header(p);
  const auto n_tensors = p.read<uint64_t>("tensor count");
  const auto n_kv = p.read<uint64_t>("metadata count");
  if (n_tensors > kMaxTensors || n_tensors > p.left() / 24) {
    p.fail_at("tensor count " + std::to_string(n_tensors) + " is impossible for a file of " +
                  std::to_string(bytes_.size()) + " bytes",
              8);
  }
  if (n_kv > kMaxKv || n_kv > p.left() / 13) {
    p.fail_at("metadata count " + std::to_string(n_kv) + " is impossible for a file of " +
                  std::to_string(bytes_.size()) + " bytes",
              16);
  }

  kv_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    p.set_context("metadata entry " + std::to_string(i));
    const uint64_t at = p.pos();
    std::string key = p.read_string("key", kMaxKeyLen);
    if (key.empty()) p.fail_at("empty key", at);
    p.set_context("key " + quoted(key));
    if (has(key)) p.fail_at("duplicate key", at);
    const ValueType type = p.read_value_type("value type");
    Value v = p.read_value(type, 0);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }
  alignment_ = checked_alignment(p, find(internal::kAlignmentKey));

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    p.set_context("tensor info " + std::to_string(i));
    const uint64_t at = p.pos();
    TensorInfo t;
    t.name = p.read_string("tensor name", kMaxKeyLen);
    if (t.name.empty()) p.fail_at("empty tensor name", at);
    p.set_context("tensor " + quoted(t.name));
    if (find_tensor(t.name)) p.fail_at("duplicate tensor name", at);
    read_tensor_info(p, t, alignment_);
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  p.set_context("");
  locate_tensor_data(p, tensors_, bytes_, alignment_);
}

}  // namespace rkchat::gguf
