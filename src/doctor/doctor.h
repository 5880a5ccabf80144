// `rkchat doctor`: one line per thing that matters for running models here, each with a verdict and, when it
// is not ok, the fix. Everything is read under a sysroot so that tests can present a fake board.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/sysroot.h"

namespace rkchat::doctor {

enum class Verdict { ok, info, warn, fail };
const char* verdict_name(Verdict v);

struct Check {
  std::string name;   // "cpu", "governor", "npu-driver", ...
  std::string value;  // what was found
  Verdict verdict = Verdict::ok;
  std::string fix;  // what to do when not ok
};

struct Options {
  std::string sysroot = "/";
  std::string model;            // -m: also check this model against the machine
  std::string kv_type = "f16";  // --kv-type: the KV cache that the model's context fit counts
  std::string rkllm_lib_dir;    // a folder of runtimes (real path, not under the sysroot)
};

struct Report {
  std::string sysroot;
  std::vector<Check> checks;
  Verdict worst() const;
};

Report diagnose(const Options& options);
std::string to_text(const Report& report);
nlohmann::json to_json(const Report& report);

// Every check reads under the sysroot.
using kernels::Sysroot;

// The checks, by subject (system.cpp, npu.cpp, model.cpp).
void check_cpu(const Sysroot& root, std::vector<Check>& out);
void check_memory(const Sysroot& root, std::vector<Check>& out);
// Returns the SoC ("RK3588") or "" when the machine is not a Rockchip board.
std::string check_soc(const Sysroot& root, std::vector<Check>& out);
void check_npu(const Sysroot& root, std::vector<Check>& out);
void check_governors(const Sysroot& root, bool rockchip, std::vector<Check>& out);
void check_runtimes_and_model(const Sysroot& root, const Options& options, bool rockchip, std::vector<Check>& out);

// "MemAvailable" etc. from /proc/meminfo, in bytes; 0 when absent.
uint64_t meminfo_bytes(const Sysroot& root, const std::string& key);

}  // namespace rkchat::doctor
