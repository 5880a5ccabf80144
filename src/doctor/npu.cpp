// The SoC and its NPU driver.
#include <algorithm>
#include <cctype>

#include "backends/rkllm/runtime_select.h"
#include "doctor/doctor.h"

namespace rkchat::doctor {

namespace {

constexpr const char* kNpuDir = "/sys/kernel/debug/rknpu";

}  // namespace

std::string check_soc(const Sysroot& root, std::vector<Check>& out) {
  // NUL-separated strings, most specific first: "radxa,rock-5b\0rockchip,rk3588\0".
  std::string compat = root.read("/proc/device-tree/compatible");
  std::replace(compat.begin(), compat.end(), '\0', ' ');
  const auto pos = compat.find("rockchip,rk");
  if (pos == std::string::npos) {
    out.push_back({"soc",
                   compat.empty() ? "not a Rockchip board (no device tree)" : "not a Rockchip board (" + compat + ")",
                   Verdict::info, "no NPU: .rkllm models need a Rockchip board; GGUF models run on the CPU engine"});
    return "";
  }
  std::string soc = compat.substr(pos + 9, compat.find(' ', pos) - pos - 9);
  std::transform(soc.begin(), soc.end(), soc.begin(), [](unsigned char c) { return std::toupper(c); });
  const bool npu_soc = soc == "RK3588" || soc == "RK3588S" || soc == "RK3576" || soc == "RK3562" || soc == "RV1126B";
  out.push_back({"soc", soc, npu_soc ? Verdict::ok : Verdict::warn,
                 npu_soc ? "" : "the RKLLM runtime supports RK3588, RK3576, RK3562 and RV1126B"});
  return soc;
}

void check_npu(const Sysroot& root, std::vector<Check>& out) {
  const std::string version_file = std::string(kNpuDir) + "/version";
  const std::string text = root.read(version_file);  // "RKNPU driver: v0.9.8"
  if (text.empty()) {
    const bool debugfs = root.exists("/sys/kernel/debug/rknpu");
    out.push_back({"npu-driver", debugfs ? "present but unreadable" : "not found (no " + version_file + ")",
                   debugfs ? Verdict::warn : Verdict::fail,
                   debugfs ? "run rkchat doctor as root (debugfs needs it)"
                           : "boot the board's vendor kernel with the rknpu driver (0.9.7 or later), and mount "
                             "debugfs: sudo mount -t debugfs none /sys/kernel/debug"});
    return;
  }
  const auto colon = text.find(':');
  const auto v = backends::rkllm::parse_version(colon == std::string::npos ? text : text.substr(colon + 2));
  Check c{"npu-driver", text, Verdict::ok, ""};
  if (!v) {
    c.verdict = Verdict::warn;
    c.fix = "cannot read the driver version";
  } else if (std::tuple(v->major, v->minor, v->patch) < std::tuple(0, 9, 7)) {
    c.verdict = Verdict::warn;
    c.fix = "RKLLM runtimes 1.2+ want RKNPU driver 0.9.7 or later: update the board's kernel image";
  }
  out.push_back(c);
  const std::string load = root.read(std::string(kNpuDir) + "/load");
  if (!load.empty()) out.push_back({"npu-load", load, Verdict::info, ""});
}

}  // namespace rkchat::doctor
