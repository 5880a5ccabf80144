// A fake machine for tests: a temporary folder to use as a sysroot, with /proc and /sys files put in it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace rkchat::testing {

class FakeRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::filesystem::temp_directory_path() /
            ("fakeroot_" + std::to_string(::getpid()) + "_" + test->test_suite_name() + "_" + test->name());
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Writes `text` to the file at `abs` under the root, making its folders.
  void put(const std::string& abs, const std::string& text) {
    const std::filesystem::path p = root_ / abs.substr(1);
    std::filesystem::create_directories(p.parent_path());
    std::FILE* f = std::fopen(p.c_str(), "wb");
    ASSERT_NE(f, nullptr) << p;
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }

  std::filesystem::path root_;
};

}  // namespace rkchat::testing
