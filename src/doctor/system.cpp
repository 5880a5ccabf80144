// CPU, memory and clocks.
#include <map>
#include <sstream>

#include "doctor/doctor.h"
#include "kernels/cpu_features.h"
#include "kernels/cpu_topology.h"

namespace rkchat::doctor {

namespace {

// "key : value" lines of /proc/cpuinfo: the first value of each key, and how many "processor" entries.
std::map<std::string, std::string> cpuinfo(const Sysroot& root, int& processors) {
  std::map<std::string, std::string> kv;
  processors = 0;
  std::istringstream in(root.read("/proc/cpuinfo"));
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = colon + 1 < line.size() ? line.substr(colon + 2 <= line.size() ? colon + 2 : colon + 1) : "";
    if (key == "processor") ++processors;
    kv.emplace(key, value);
  }
  return kv;
}

bool has_word(const std::string& words, const std::string& w) {
  return (" " + words + " ").find(" " + w + " ") != std::string::npos;
}

std::string ghz(const std::string& khz) {
  if (khz.empty() || khz.find_first_not_of("0123456789") != std::string::npos) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GHz", std::stod(khz) / 1e6);
  return buf;
}

const std::string kCpufreq = "/sys/devices/system/cpu/cpufreq";

// ISA features of the host from the engine's own detection; of a sysroot from its cpuinfo flags.
Check isa_check(const Sysroot& root, const std::map<std::string, std::string>& kv) {
  Check c{"isa", "", Verdict::ok, ""};
  const bool arm = kv.count("Features") || kv.count("CPU part");
  if (root.is_host()) {
    const auto& f = kernels::cpu_features();
    c.value = f.summary();
    const bool fast = f.avx2 || f.neon_dotprod;
    if (!fast) {
      c.verdict = Verdict::warn;
      c.fix = "this CPU lacks AVX2 / NEON dot product: the engine uses slower kernels";
    }
    return c;
  }
  if (arm) {
    const std::string feats = kv.count("Features") ? kv.at("Features") : "";
    for (const auto& [flag, name] : {std::pair{"asimd", "neon"}, {"asimddp", "neon_dotprod"}, {"i8mm", "neon_i8mm"}}) {
      if (has_word(feats, flag)) c.value += std::string(c.value.empty() ? "" : " ") + name;
    }
    if (!has_word(feats, "asimddp")) {
      c.verdict = Verdict::warn;
      c.fix = "no NEON dot product (armv8.2 dotprod): the engine uses slower kernels";
    }
  } else {
    const std::string flags = kv.count("flags") ? kv.at("flags") : "";
    for (const char* flag : {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni"}) {
      if (has_word(flags, flag)) c.value += std::string(c.value.empty() ? "" : " ") + flag;
    }
    if (!has_word(flags, "avx2")) {
      c.verdict = Verdict::warn;
      c.fix = "no AVX2: the engine uses slower kernels";
    }
  }
  if (c.value.empty()) c.value = "none detected";
  return c;
}

}  // namespace

void check_cpu(const Sysroot& root, std::vector<Check>& out) {
  int processors = 0;
  const auto kv = cpuinfo(root, processors);
  std::string model = kv.count("model name") ? kv.at("model name") : "";
  if (model.empty() && kv.count("CPU part")) model = kernels::arm_core_name(kv.at("CPU part"));
  if (model.empty()) model = "unknown CPU";
  out.push_back({"cpu", model + ", " + std::to_string(processors) + " cores", Verdict::ok, ""});
  // Clusters: one cpufreq policy per cluster on big.LITTLE boards.
  std::string clusters;
  int n = 0;
  for (const auto& policy : root.list(kCpufreq)) {
    if (policy.rfind("policy", 0) != 0) continue;
    const std::string dir = kCpufreq + "/" + policy;
    clusters += (n++ ? ", " : "") + std::string("cpus ") + root.read(dir + "/related_cpus") + " up to " +
                ghz(root.read(dir + "/cpuinfo_max_freq"));
  }
  if (n > 0) out.push_back({"clusters", std::to_string(n) + ": " + clusters, Verdict::info, ""});
  // What the CPU engine uses without -t; only the host has an affinity mask to honour.
  const auto cores = kernels::choose_cores(root, root.is_host() ? kernels::affinity_cpus() : std::vector<int>{});
  out.push_back({"threads", cores.describe(), Verdict::info, ""});
  out.push_back(isa_check(root, kv));
}

uint64_t meminfo_bytes(const Sysroot& root, const std::string& key) {
  std::istringstream in(root.read("/proc/meminfo"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream rest(line.substr(key.size() + 1));
      uint64_t kb = 0;
      rest >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

void check_memory(const Sysroot& root, std::vector<Check>& out) {
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const uint64_t total = meminfo_bytes(root, "MemTotal");
  const uint64_t avail = meminfo_bytes(root, "MemAvailable");
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f GiB total, %.1f GiB available", static_cast<double>(total) / gib,
                static_cast<double>(avail) / gib);
  Check c{"memory", buf, Verdict::ok, ""};
  if (total == 0) {
    c = {"memory", "unknown (no /proc/meminfo)", Verdict::warn, "cannot check whether models fit"};
  } else if (static_cast<double>(avail) < gib) {
    c.verdict = Verdict::warn;
    c.fix = "less than 1 GiB free: close other programs or use a smaller model";
  }
  out.push_back(c);
}

void check_governors(const Sysroot& root, bool rockchip, std::vector<Check>& out) {
  // Below the published speed by far, usually: clocks left to a power-saving governor.
  const Verdict slow = rockchip ? Verdict::warn : Verdict::info;
  for (const auto& policy : root.list(kCpufreq)) {
    if (policy.rfind("policy", 0) != 0) continue;
    const std::string file = kCpufreq + "/" + policy + "/scaling_governor";
    const std::string gov = root.read(file);
    if (gov.empty()) continue;
    Check c{"governor", "cpus " + root.read(kCpufreq + "/" + policy + "/related_cpus") + ": " + gov, Verdict::ok, ""};
    if (gov != "performance") {
      c.verdict = slow;
      c.fix = "clocks scale down under load (far below published speed); pin them: echo performance | sudo tee " + file;
    }
    out.push_back(c);
  }
  for (const auto& dev : root.list("/sys/class/devfreq")) {
    const bool npu = dev.find("npu") != std::string::npos;
    const bool dmc = dev.find("dmc") != std::string::npos;
    if (!npu && !dmc) continue;
    const std::string file = "/sys/class/devfreq/" + dev + "/governor";
    const std::string gov = root.read(file);
    if (gov.empty()) continue;
    Check c{npu ? "npu-governor" : "dmc-governor", dev + ": " + gov, Verdict::ok, ""};
    if (gov != "performance") {
      c.verdict = slow;
      c.fix = std::string(npu ? "the NPU" : "the memory controller") +
              " clock scales down; pin it: echo performance | sudo tee " + file;
    }
    out.push_back(c);
  }
}

}  // namespace rkchat::doctor
