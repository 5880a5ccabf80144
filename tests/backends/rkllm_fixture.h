// Shared set-up of the RKLLM contract tests: a fake .rkllm model with a chosen trailer, a script for the
// runtime double (tests/rkllm_double), and the double's call record read back as JSON lines.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/rkllm/rkllm_backend.h"

namespace rkchat::backends::testing {

inline std::string double_dir() { return std::string(RKCHAT_BINARY_DIR) + "/tests/rkllm_double"; }
inline std::string double_lib(const std::string& version) { return double_dir() + "/" + version + "/librkllmrt.so"; }

class RkllmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // A parameterized test's name holds a '/' ("MaxTokens/v12"): flatten it, or the parent folder stays behind.
    std::string name = info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = std::filesystem::temp_directory_path() / ("rkllm_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = (dir_ / "calls.jsonl").string();
    ::setenv("RKLLM_DOUBLE_LOG", log_.c_str(), 1);
    ::unsetenv("RKLLM_DOUBLE_SCRIPT");
    ::unsetenv("RKCHAT_RKLLM_LIB");
    ::unsetenv("RKCHAT_RKLLM_LIB_DIR");
  }
  void TearDown() override {
    ::unsetenv("RKLLM_DOUBLE_LOG");
    ::unsetenv("RKLLM_DOUBLE_SCRIPT");
    std::filesystem::remove_all(dir_);
  }

  // A model file whose last bytes state the toolkit version ("" for none).
  std::string model(const std::string& toolkit, const std::string& name = "model.rkllm") {
    const auto path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    out << std::string(256, '\x5a');
    if (!toolkit.empty()) out << "rkllm-toolkit version: " << toolkit;
    return path;
  }
  void script(const nlohmann::json& s) {
    const auto path = (dir_ / "script.json").string();
    std::ofstream(path) << s.dump();
    ::setenv("RKLLM_DOUBLE_SCRIPT", path.c_str(), 1);
  }
  std::vector<nlohmann::json> calls(const std::string& name = "") const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (name.empty() || j.value("call", "") == name) out.push_back(j);
    }
    return out;
  }
  // Calls whose arguments the double refused.
  std::vector<nlohmann::json> failed_checks() const {
    std::vector<nlohmann::json> out;
    for (auto& c : calls()) {
      if (c.contains("check_failed")) out.push_back(c);
    }
    return out;
  }
  LoadOptions options(const std::string& version, const std::string& toolkit) {
    LoadOptions o;
    o.path = model(toolkit);
    o.rkllm_lib = double_lib(version);
    return o;
  }

  std::filesystem::path dir_;
  std::string log_;
};

// Runs a turn and collects the pieces.
struct Answer {
  std::string text;
  std::vector<Piece> pieces;
  TurnStats stats;
};
inline Answer ask(Conversation& c, const TurnInput& in, const GenerateOptions& g = {}) {
  Answer a;
  a.stats = c.generate(in, g, [&](const Piece& p) {
    a.text += p.text;
    a.pieces.push_back(p);
    return true;
  });
  return a;
}
inline TurnInput text(const std::string& t) {
  TurnInput in;
  in.text = t;
  return in;
}

}  // namespace rkchat::backends::testing
