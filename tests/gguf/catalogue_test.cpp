// The broken-file catalogue (tests/data/gguf, made by make_corpus.py): every broken file must be rejected with
// one gguf::Error that names the file and the problem; every valid one must parse with the right contents.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace rkchat::gguf {
namespace {

const std::string kDir = std::string(RKCHAT_TEST_DATA_DIR) + "/gguf/";

struct Case {
  std::string file;
  std::string expected;  // "OK" or a substring of the error message
};

std::vector<Case> load_catalogue() {
  std::ifstream in(kDir + "expected.txt");
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos) cases.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return cases;
}

TEST(GgufCatalogue, EveryCaseBehavesAsListed) {
  const auto cases = load_catalogue();
  ASSERT_GE(cases.size(), 40u) << "catalogue missing: run tests/data/gguf/make_corpus.py";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string path = kDir + c.file;
    if (c.expected == "OK") {
      EXPECT_NO_THROW(File::open(path));
      continue;
    }
    try {
      File::open(path);
      ADD_FAILURE() << "accepted a broken file";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
      EXPECT_EQ(msg.rfind(path, 0), 0u) << "message must start with the file name: " << msg;
    }
  }
}

TEST(GgufCatalogue, AllValueTypesDecode) {
  auto f = File::open(kDir + "valid_v3_all_types.gguf");
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_int("t.u8"), 200);
  EXPECT_EQ(f->get_int("t.i8"), -100);
  EXPECT_EQ(f->get_int("t.u16"), 60000);
  EXPECT_EQ(f->get_int("t.i16"), -30000);
  EXPECT_EQ(f->get_int("t.u32"), 4000000000);
  EXPECT_EQ(f->get_int("t.i32"), -2000000000);
  EXPECT_EQ(f->get_int("t.i64"), -(int64_t{1} << 62));
  EXPECT_THROW(f->get_int("t.u64"), Error) << "2^63+5 does not fit in int64";
  EXPECT_EQ(std::get<uint64_t>(f->find("t.u64")->v), (uint64_t{1} << 63) + 5);
  EXPECT_DOUBLE_EQ(f->get_float("t.f32"), 1.5);
  EXPECT_DOUBLE_EQ(f->get_float("t.f64"), 0.1);
  EXPECT_EQ(f->get_bool_opt("t.bool"), true);
  EXPECT_EQ(f->get_string("t.string"), "h\xc3\xa9llo");
  EXPECT_EQ(f->get_string_array("t.arr_str"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f->get_int_array("t.arr_i32"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f->get_float_array("t.arr_f32"), (std::vector<double>{0.5, -1.0}));
  const Value* nested = f->find("t.nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->elem_type, ValueType::ARRAY);
  const auto& outer = *std::get<std::shared_ptr<Array>>(nested->v);
  ASSERT_EQ(outer.size(), 3u);
  EXPECT_EQ(std::get<std::shared_ptr<Array>>(outer[0].v)->size(), 2u);
  EXPECT_EQ(std::get<std::shared_ptr<Array>>(outer[1].v)->size(), 0u);
}

TEST(GgufCatalogue, GetterErrorsNameFileAndKey) {
  auto f = File::open(kDir + "valid_v3_all_types.gguf");
  EXPECT_FALSE(f->get_int_opt("nope").has_value());
  EXPECT_FALSE(f->get_string_opt("nope").has_value());
  try {
    f->get_string("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing required key 'nope'"), std::string::npos) << e.what();
  }
  try {
    f->get_int("t.string");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 't.string' has type string"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f->get_string_array("t.arr_i32"), Error);
  EXPECT_THROW(f->get_int_array("t.arr_str"), Error);
  EXPECT_THROW(f->get_bool_opt("t.u8"), Error);
  EXPECT_THROW(f->get_float("t.nested"), Error);
}

TEST(GgufCatalogue, TensorsOfEveryTypeAndUnsupportedOnLookup) {
  auto f = File::open(kDir + "valid_v3_all_types.gguf");
  ASSERT_EQ(f->tensors().size(), 10u);
  const uint8_t* end = nullptr;
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.nbytes, t.row_bytes() * static_cast<uint64_t>(t.rows())) << t.name;
    EXPECT_GE(t.data, end) << "tensors laid out in order";
    end = t.data + t.nbytes;
  }
  const auto& q8 = f->tensor("q8_0", std::vector<int64_t>{64, 2});
  EXPECT_EQ(q8.type, TensorType::Q8_0);
  EXPECT_EQ(q8.row_bytes(), 68u);
  EXPECT_EQ(q8.rows(), 2);
  EXPECT_EQ(f->tensor("f16", std::vector<int64_t>{8, 1}).n_elements(), 8) << "trailing 1s compare equal";
  EXPECT_EQ(f->tensor("q6_k").type, TensorType::Q6_K);
  EXPECT_EQ(f->tensor("bf16").type, TensorType::BF16);
  // q3_K parses (a model may not use it) but is refused when asked for.
  ASSERT_NE(f->find_tensor("q3_k"), nullptr);
  try {
    f->tensor("q3_k");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported tensor type q3_K for tensor 'q3_k'"), std::string::npos);
  }
  EXPECT_THROW(f->tensor("missing"), Error);
  try {
    f->tensor("f32", std::vector<int64_t>{2, 4});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'f32' has shape [4, 2], expected [2, 4]"), std::string::npos)
        << e.what();
  }
}

TEST(GgufCatalogue, AlignmentAndVersion) {
  EXPECT_EQ(File::open(kDir + "valid_align64.gguf")->alignment(), 64u);
  EXPECT_EQ(File::open(kDir + "valid_v2.gguf")->version(), 2u);
  auto vocab = File::open(kDir + "valid_vocab_only.gguf");
  EXPECT_TRUE(vocab->tensors().empty());
  EXPECT_EQ(vocab->get_string_array("tokenizer.ggml.tokens").size(), 2u);
}

TEST(GgufCatalogue, OpenErrors) {
  EXPECT_THROW(File::open(kDir + "does-not-exist.gguf"), Error);
  EXPECT_THROW(File::open(kDir), Error) << "a directory";
}

TEST(GgufTypes, NamesAndBlocks) {
  EXPECT_STREQ(type_name(TensorType::Q8_0), "q8_0");
  EXPECT_STREQ(type_name(static_cast<TensorType>(11)), "q3_K");
  EXPECT_STREQ(type_name(static_cast<TensorType>(23)), "iq4_xs");
  EXPECT_STREQ(type_name(static_cast<TensorType>(4)), "unknown");
  EXPECT_STREQ(type_name(static_cast<TensorType>(40)), "unknown");
  EXPECT_TRUE(is_supported(TensorType::Q4_K));
  EXPECT_FALSE(is_supported(static_cast<TensorType>(11)));
  EXPECT_EQ(block_elems(TensorType::Q6_K), 256);
  EXPECT_EQ(block_bytes(TensorType::Q6_K), 210);
  EXPECT_EQ(block_bytes(TensorType::BF16), 2);
}

}  // namespace
}  // namespace rkchat::gguf
