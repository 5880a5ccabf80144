// Runtime selection, version parsing, the stream guard and the cores option: no runtime is loaded here.
#include <gtest/gtest.h>

#include "backends/rkllm/runtime_select.h"
#include "backends/rkllm/session.h"
#include "backends/rkllm/stream.h"
#include "rkllm_fixture.h"

namespace rkchat::backends::rkllm {
namespace {

using testing::double_dir;
using testing::double_lib;

TEST(RkllmVersion, ParsesReleasesAndSuffixes) {
  auto v = parse_version("1.2.1b1");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 2);
  EXPECT_EQ(v->patch, 1);
  EXPECT_EQ(v->text, "1.2.1b1");
  EXPECT_EQ(parse_version("v1.3.0")->text, "1.3.0");
  EXPECT_FALSE(parse_version("1.2"));
  EXPECT_FALSE(parse_version("librkllmrt"));
  EXPECT_TRUE(parse_version("1.2.1b1")->same_release(*parse_version("1.2.1")));
  EXPECT_FALSE(parse_version("1.2.2")->same_release(*parse_version("1.2.1")));
}

TEST(RkllmVersion, AbiFamilyFromFlagOrVersion) {
  EXPECT_EQ(abi_family("1.3", parse_version("1.2.1"), "x"), 13);  // the flag wins
  EXPECT_EQ(abi_family("", parse_version("1.2.3"), "x"), 12);
  EXPECT_EQ(abi_family("", parse_version("1.3.0"), "x"), 13);
  EXPECT_THROW(abi_family("", std::nullopt, "x"), Error);
  EXPECT_THROW(abi_family("", parse_version("1.1.4"), "x"), Error);
  EXPECT_THROW(abi_family("2.0", std::nullopt, "x"), Error);
}

class RkllmSelect : public testing::RkllmTest {};

TEST_F(RkllmSelect, ReadsTheToolkitTrailer) {
  EXPECT_EQ(read_toolkit_version(model("1.2.1b1"))->text, "1.2.1b1");
  EXPECT_FALSE(read_toolkit_version(model("", "bare.rkllm")));
  EXPECT_THROW(read_toolkit_version((dir_ / "missing.rkllm").string()), Error);
}

TEST_F(RkllmSelect, VersionFromFileFolderOrLibraryText) {
  const auto folder = describe_runtime(double_lib("1.2.3"));
  EXPECT_EQ(folder.source, "folder name");
  EXPECT_EQ(folder.version->text, "1.2.3");
  const auto renamed = dir_ / "librkllmrt-1.3.0.so";
  std::filesystem::copy_file(double_lib("1.3.0"), renamed);
  EXPECT_EQ(describe_runtime(renamed.string()).source, "file name");
  const auto plain = dir_ / "librkllmrt.so";
  std::filesystem::copy_file(double_lib("1.3.0"), plain);
  const auto text = describe_runtime(plain.string());
  EXPECT_EQ(text.source, "library text");
  EXPECT_EQ(text.version->text, "1.3.0");
}

TEST_F(RkllmSelect, PicksTheRuntimeMatchingTheModel) {
  SearchOptions s;
  s.lib_dir = double_dir();
  auto exact = select_runtime(s, parse_version("1.2.3"));
  EXPECT_EQ(exact.runtime.path, double_lib("1.2.3"));
  EXPECT_TRUE(exact.warnings.empty());
  auto near = select_runtime(s, parse_version("1.2.2"));
  EXPECT_EQ(near.runtime.version->text, "1.2.3");  // same major.minor, newest patch
  ASSERT_EQ(near.warnings.size(), 1u);
  EXPECT_NE(near.warnings[0].find("1.2.2"), std::string::npos);
  try {
    select_runtime(s, parse_version("1.4.0"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1.4.0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1.2.1"), std::string::npos) << msg;  // lists what is there
    EXPECT_NE(msg.find("1.3.0"), std::string::npos) << msg;
  }
}

TEST_F(RkllmSelect, SearchOrderAndMissingRuntime) {
  SearchOptions s;
  s.lib = double_lib("1.3.0");
  s.lib_dir = double_dir();  // the explicit library wins over the folder
  EXPECT_EQ(select_runtime(s, parse_version("1.2.1")).runtime.path, double_lib("1.3.0"));
  SearchOptions none;
  none.usual_dirs = {dir_.string()};
  try {
    select_runtime(none, parse_version("1.2.1"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rknn-llm"), std::string::npos) << msg;  // says what to install
  }
  ::setenv("RKCHAT_RKLLM_LIB_DIR", double_dir().c_str(), 1);
  EXPECT_EQ(search_options("", "").lib_dir, double_dir());
  EXPECT_EQ(search_options("", "/x").lib_dir, "/x");
}

TEST(RkllmStream, Utf8JoinerHoldsSplitCharacters) {
  Utf8Joiner j;
  EXPECT_EQ(j.push("a\xE4"), "a");
  EXPECT_EQ(j.push("\xBD"), "");
  EXPECT_EQ(j.push("\xA0!"), "\xE4\xBD\xA0!");
  EXPECT_EQ(j.push("\xF0\x9F"), "");
  EXPECT_EQ(j.flush(), "\xEF\xBF\xBD");
}

TEST(RkllmStream, EndGuardCutsAtMarkerOrId) {
  auto g = EndGuard::defaults();
  auto s1 = g.push("Hi <|im", -1);
  EXPECT_EQ(s1.text, "Hi ");
  EXPECT_FALSE(s1.ended);
  auto s2 = g.push("_end|>more", -1);
  EXPECT_EQ(s2.text, "");
  EXPECT_TRUE(s2.ended);

  auto h = EndGuard::defaults();
  EXPECT_EQ(h.push("a <", -1).text, "a ");
  EXPECT_EQ(h.push("b", -1).text, "<b");  // not a marker after all
  EXPECT_TRUE(h.push("", 151645).ended);

  EndGuard custom({1000}, {"<|im_end|>"});
  EXPECT_EQ(custom.push("x<", -1).text, "x");
  EXPECT_EQ(custom.flush(), "<");
}

TEST(RkllmCpus, ParsesMasks) {
  EXPECT_EQ(parse_cpu_mask("4-7"), 0xF0u);
  EXPECT_EQ(parse_cpu_mask("0,2,4-5"), 0x35u);
  EXPECT_THROW(parse_cpu_mask("7-4"), Error);
  EXPECT_THROW(parse_cpu_mask("a"), Error);
  EXPECT_THROW(parse_cpu_mask("4-"), Error);
  EXPECT_THROW(parse_cpu_mask("40"), Error);
}

}  // namespace
}  // namespace rkchat::backends::rkllm
