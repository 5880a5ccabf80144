// Writer -> reader round trips of every value type and every supported tensor type, and the writer's refusals.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "gguf/gguf.h"

namespace rkchat::gguf {
namespace {

class TempPath {
 public:
  explicit TempPath(const std::string& stem)
      : path_((std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ".gguf")).string()) {
  }
  ~TempPath() { std::filesystem::remove(path_); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

Value scalar(ValueType t, decltype(Value::v) v) {
  Value out;
  out.type = t;
  out.v = std::move(v);
  return out;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(GgufRoundTrip, EveryValueType) {
  Writer w;
  w.set_string("s", "plain text");
  w.set_u32("u32", 4000000000u);
  w.set_i32("i32", -7);
  w.set_f32("f32", 0.25f);
  w.set_bool("b", true);
  w.set_string_array("sa", {"x", "", "zz"});
  w.set_f32_array("fa", {1.5f, -2.0f});
  w.set_i32_array("ia", {3, -4});
  w.set_value("u8", scalar(ValueType::U8, uint64_t{255}));
  w.set_value("i8", scalar(ValueType::I8, int64_t{-128}));
  w.set_value("u16", scalar(ValueType::U16, uint64_t{65535}));
  w.set_value("i16", scalar(ValueType::I16, int64_t{-32768}));
  w.set_value("u64", scalar(ValueType::U64, uint64_t{1} << 40));
  w.set_value("i64", scalar(ValueType::I64, int64_t{-1} << 40));
  w.set_value("f64", scalar(ValueType::F64, 1e300));
  Value inner;
  inner.type = ValueType::ARRAY;
  inner.elem_type = ValueType::U16;
  inner.v = std::make_shared<Array>(Array{scalar(ValueType::U16, uint64_t{1}), scalar(ValueType::U16, uint64_t{2})});
  Value outer;
  outer.type = ValueType::ARRAY;
  outer.elem_type = ValueType::ARRAY;
  outer.v = std::make_shared<Array>(Array{inner, inner});
  w.set_value("nested", outer);
  w.set_i32("i32", -8);  // replaces, keeps one entry
  TempPath tmp("rt-values");
  w.write(tmp.str());

  auto f = File::open(tmp.str());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 16u);
  EXPECT_EQ(f->get_string("s"), "plain text");
  EXPECT_EQ(f->get_int("u32"), 4000000000);
  EXPECT_EQ(f->get_int("i32"), -8);
  EXPECT_EQ(f->get_float("f32"), 0.25);
  EXPECT_EQ(f->get_bool_opt("b"), true);
  EXPECT_EQ(f->get_string_array("sa"), (std::vector<std::string>{"x", "", "zz"}));
  EXPECT_EQ(f->get_float_array("fa"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(f->get_int_array("ia"), (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(f->get_int("u8"), 255);
  EXPECT_EQ(f->get_int("i8"), -128);
  EXPECT_EQ(f->get_int("u16"), 65535);
  EXPECT_EQ(f->get_int("i16"), -32768);
  EXPECT_EQ(f->get_int("u64"), int64_t{1} << 40);
  EXPECT_EQ(f->get_int("i64"), int64_t{-1} << 40);
  EXPECT_EQ(f->get_float("f64"), 1e300);
  EXPECT_EQ(f->find("u8")->type, ValueType::U8);
  EXPECT_EQ(f->find("i16")->type, ValueType::I16);
  const Value* nested = f->find("nested");
  ASSERT_NE(nested, nullptr);
  const auto& arr = *std::get<std::shared_ptr<Array>>(nested->v);
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[1].elem_type, ValueType::U16);
  EXPECT_EQ(std::get<uint64_t>(std::get<std::shared_ptr<Array>>(arr[1].v)->at(1).v), 2u);
}

TEST(GgufRoundTrip, EverySupportedTensorTypeAndAlignment) {
  const std::vector<TensorType> types = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                         TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1,
                                         TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  for (uint32_t alignment : {32u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    Writer w;
    std::vector<std::vector<uint8_t>> payloads;
    for (size_t i = 0; i < types.size(); ++i) {
      const std::vector<int64_t> ne = {block_elems(types[i]) * 3, static_cast<int64_t>(i) + 1};
      const auto bytes = static_cast<size_t>(ne[0] / block_elems(types[i]) * block_bytes(types[i]) * ne[1]);
      payloads.push_back(random_bytes(bytes, static_cast<uint32_t>(i)));
      const std::string name = std::string("t.") + type_name(types[i]);
      if (i % 2) {
        w.add_tensor(name, types[i], ne, payloads.back());
      } else {  // streamed
        w.add_tensor(name, types[i], ne, [p = payloads.back()](std::span<uint8_t> dst) {
          ASSERT_EQ(dst.size(), p.size());
          std::copy(p.begin(), p.end(), dst.begin());
        });
      }
    }
    TempPath tmp("rt-tensors");
    w.write(tmp.str(), alignment);
    auto f = File::open(tmp.str());
    EXPECT_EQ(f->alignment(), alignment);
    ASSERT_EQ(f->tensors().size(), types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      const auto& t = f->tensors()[i];
      EXPECT_EQ(t.type, types[i]);
      EXPECT_EQ(t.ne[1], static_cast<int64_t>(i) + 1);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % std::min<uint32_t>(alignment, 4096), 0u)
          << "mmap is page aligned";
      ASSERT_EQ(t.nbytes, payloads[i].size());
      EXPECT_TRUE(std::equal(payloads[i].begin(), payloads[i].end(), t.data)) << t.name;
    }
  }
}

TEST(GgufRoundTrip, WriterRefusesInvalidInput) {
  Writer w;
  EXPECT_THROW(w.add_tensor("a", TensorType::F32, {4}, std::vector<uint8_t>(15)), Error) << "wrong size";
  EXPECT_THROW(w.add_tensor("a", TensorType::Q8_0, {33}, std::vector<uint8_t>(34)), Error) << "partial block";
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), TensorType::F32, {1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.add_tensor("a", static_cast<TensorType>(40), {1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.add_tensor("a", TensorType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)), Error);
  w.add_tensor("a", TensorType::F32, {1}, std::vector<uint8_t>(4));
  EXPECT_THROW(w.add_tensor("a", TensorType::F32, {1}, std::vector<uint8_t>(4)), Error) << "duplicate";
  EXPECT_THROW(w.write("/nonexistent-dir/x.gguf"), Error);
  EXPECT_THROW(w.write("/tmp/x.gguf", 48), Error) << "alignment not a power of two";
  Writer bad;
  bad.set_value("k", scalar(ValueType::U32, std::string("not a number")));
  TempPath tmp("rt-bad");
  EXPECT_THROW(bad.write(tmp.str()), Error);
  EXPECT_FALSE(std::filesystem::exists(tmp.str())) << "no half-written file";
  EXPECT_FALSE(std::filesystem::exists(tmp.str() + ".part"));
}

}  // namespace

TEST(GgufRoundTrip, DroppedMetadataLeavesTheTensors) {
  Writer w;
  w.set_string("general.name", "m");
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "c"});
  const auto payload = random_bytes(static_cast<size_t>(block_bytes(TensorType::Q8_0)) * 2, 7);
  w.add_tensor("t", TensorType::Q8_0, {block_elems(TensorType::Q8_0) * 2, 1}, payload);
  TempPath tmp("rt-drop");
  w.write(tmp.str(), 32);
  auto f = File::open(tmp.str());
  ASSERT_TRUE(f->has("tokenizer.ggml.tokens"));
  f->drop_metadata();
  EXPECT_FALSE(f->has("tokenizer.ggml.tokens"));
  EXPECT_FALSE(f->get_string_opt("general.name"));
  EXPECT_TRUE(f->metadata().empty());
  const auto& t = f->tensor("t");
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), t.data));
}

}  // namespace rkchat::gguf
