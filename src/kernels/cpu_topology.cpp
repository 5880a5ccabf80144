#include "kernels/cpu_topology.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#if defined(__linux__)
#include <sched.h>
#endif

namespace rkchat::kernels {

namespace {

const std::string kCpuDir = "/sys/devices/system/cpu";
// Cores within 15% of the fastest belong to its class: the two A76 clusters of an RK3588 may be binned to
// different clocks (and capacities), while LITTLE cores sit at half (A55: 414-530 of 1024) and E-cores at ~3/4.
constexpr double kSameClass = 0.85;

std::string cpu_file(int cpu, const std::string& rel) { return kCpuDir + "/cpu" + std::to_string(cpu) + "/" + rel; }

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// A whole number in a sysfs file; 0 when absent or not a number.
double number_in(const Sysroot& root, const std::string& abs) {
  const std::string s = root.read(abs);
  return all_digits(s) && s.size() < 16 ? std::stod(s) : 0;
}

struct ArmPart {
  const char* part;
  const char* name;
  int tier;  // 1 LITTLE (in-order), 2 older big, 3 big, 4 Cortex-X: tells classes apart when sysfs cannot
};
constexpr ArmPart kArmParts[] = {
    {"0xd04", "Cortex-A35", 1},  {"0xd03", "Cortex-A53", 1},  {"0xd05", "Cortex-A55", 1},  {"0xd46", "Cortex-A510", 1},
    {"0xd80", "Cortex-A520", 1}, {"0xd07", "Cortex-A57", 2},  {"0xd08", "Cortex-A72", 2},  {"0xd09", "Cortex-A73", 2},
    {"0xd0a", "Cortex-A75", 3},  {"0xd0b", "Cortex-A76", 3},  {"0xd0d", "Cortex-A77", 3},  {"0xd41", "Cortex-A78", 3},
    {"0xd47", "Cortex-A710", 3}, {"0xd4d", "Cortex-A715", 3}, {"0xd81", "Cortex-A720", 3}, {"0xd0c", "Neoverse-N1", 3},
    {"0xd44", "Cortex-X1", 4},   {"0xd48", "Cortex-X2", 4},   {"0xd4e", "Cortex-X3", 4},   {"0xd82", "Cortex-X4", 4},
};

const ArmPart* find_part(const std::string& part) {
  for (const auto& p : kArmParts) {
    if (part == p.part) return &p;
  }
  return nullptr;
}

// /proc/cpuinfo: the processors it lists, and on Arm the MIDR part of each (only parts from Arm itself, implementer
// 0x41: other implementers number their own cores).
struct CpuInfo {
  std::vector<int> processors;
  std::map<int, std::string> parts;
};

CpuInfo read_cpuinfo(const Sysroot& root) {
  CpuInfo info;
  std::istringstream in(root.read("/proc/cpuinfo"));
  int cpu = -1;
  std::string implementer;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon), value = line.substr(colon + 1);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    value.erase(0, value.find_first_not_of(" \t"));
    if (key == "processor" && all_digits(value)) {
      cpu = std::stoi(value);
      info.processors.push_back(cpu);
      implementer.clear();
    } else if (key == "CPU implementer") {
      implementer = value;
    } else if (key == "CPU part" && cpu >= 0 && (implementer.empty() || implementer == "0x41")) {
      info.parts[cpu] = value;
    }
  }
  return info;
}

// Online CPUs: the kernel's list, else the cpuN folders, else /proc/cpuinfo's processors, else `fallback`.
std::vector<int> online_cpus(const Sysroot& root, const CpuInfo& info, const std::vector<int>& fallback) {
  auto online = parse_cpu_list(root.read(kCpuDir + "/online"));
  if (!online.empty()) return online;
  for (const auto& name : root.list(kCpuDir)) {
    if (name.rfind("cpu", 0) == 0 && all_digits(name.substr(3)) && name.size() < 8)
      online.push_back(std::stoi(name.substr(3)));
  }
  std::sort(online.begin(), online.end());
  if (online.empty()) online = info.processors;
  if (online.empty()) online = fallback;
  if (online.empty()) online = {0};
  return online;
}

// How fast each usable CPU is, in some unit, from the first source that knows every one of them.
struct Speeds {
  std::vector<double> of;  // parallel to `usable`
  std::string evidence;
  bool hybrid = false;  // Intel P/E cores
};

Speeds speeds(const Sysroot& root, const std::vector<int>& usable, const CpuInfo& info) {
  Speeds s;
  // Intel hybrid CPUs: one perf PMU per core type, listing its CPUs.
  const auto p_cores = parse_cpu_list(root.read("/sys/devices/cpu_core/cpus"));
  if (!p_cores.empty() && !parse_cpu_list(root.read("/sys/devices/cpu_atom/cpus")).empty()) {
    for (int cpu : usable) s.of.push_back(std::binary_search(p_cores.begin(), p_cores.end(), cpu) ? 1 : 0);
    s.evidence = "/sys/devices/cpu_core/cpus";
    s.hybrid = true;
    return s;
  }
  auto from = [&](auto&& speed_of) {
    s.of.clear();
    for (int cpu : usable) {
      const double v = speed_of(cpu);
      if (v <= 0) return false;
      s.of.push_back(v);
    }
    return true;
  };
  if (from([&](int cpu) { return number_in(root, cpu_file(cpu, "cpu_capacity")); })) {
    s.evidence = "cpu_capacity " + std::to_string(static_cast<int>(*std::max_element(s.of.begin(), s.of.end())));
  } else if (from([&](int cpu) { return number_in(root, cpu_file(cpu, "cpufreq/cpuinfo_max_freq")); })) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "cpuinfo_max_freq %.2f GHz", *std::max_element(s.of.begin(), s.of.end()) / 1e6);
    s.evidence = buf;
  } else if (from([&](int cpu) {
               const auto it = info.parts.find(cpu);
               const ArmPart* p = it == info.parts.end() ? nullptr : find_part(it->second);
               return p ? static_cast<double>(p->tier) : 0.0;
             })) {
    s.evidence = "MIDR part numbers";
  } else {
    s.of.assign(usable.size(), 1);  // nothing tells them apart: take them as alike
  }
  return s;
}

// Identifies the physical core of a CPU. thread_siblings_list first: core_id alone repeats across the clusters of
// an Arm package, and across packages.
std::string core_key(const Sysroot& root, int cpu) {
  const auto siblings = parse_cpu_list(root.read(cpu_file(cpu, "topology/thread_siblings_list")));
  if (!siblings.empty()) return std::to_string(siblings.front()) + " and its siblings";
  const std::string core = root.read(cpu_file(cpu, "topology/core_id"));
  if (core.empty()) return std::to_string(cpu) + " alone";
  return root.read(cpu_file(cpu, "topology/physical_package_id")) + "/" +
         root.read(cpu_file(cpu, "topology/cluster_id")) + "/" + core;
}

// The name shared by the Arm cores of `cpus`, "" when they differ or are unknown.
std::string shared_part_name(const std::vector<int>& cpus, const CpuInfo& info) {
  std::string name;
  for (int cpu : cpus) {
    const auto it = info.parts.find(cpu);
    const ArmPart* p = it == info.parts.end() ? nullptr : find_part(it->second);
    if (!p || (!name.empty() && name != p->name)) return "";
    name = p->name;
  }
  return name;
}

void name_classes(CoreChoice& c, const Speeds& s, const std::vector<int>& fast, const CpuInfo& info) {
  if (c.slower.empty()) return;
  if (s.hybrid) {
    c.fast_name = "P-cores";
    c.slow_name = "E-cores";
  } else if (!info.parts.empty()) {
    const std::string big = shared_part_name(fast, info), little = shared_part_name(c.slower, info);
    c.fast_name = (big.empty() ? "" : big + " ") + "big cores";
    c.slow_name = (little.empty() ? "" : little + " ") + "LITTLE cores";
  } else {
    c.fast_name = "fast cores";
    c.slow_name = "slower cores";
  }
}

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  constexpr int kMaxCpu = 1 << 14;  // a bound, so that a broken list cannot make a huge vector
  std::vector<int> cpus;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto dash = item.find('-');
    const std::string lo = item.substr(0, dash), hi = dash == std::string::npos ? lo : item.substr(dash + 1);
    if (!all_digits(lo) || !all_digits(hi) || lo.size() > 5 || hi.size() > 5) return {};
    const int a = std::stoi(lo), b = std::stoi(hi);
    if (a > b || b >= kMaxCpu) return {};
    for (int cpu = a; cpu <= b; ++cpu) cpus.push_back(cpu);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string cpu_list_text(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::string arm_core_name(const std::string& part) {
  const ArmPart* p = find_part(part);
  return p ? p->name : "Arm core " + part;
}

std::vector<int> CoreChoice::first(int n) const {
  std::vector<int> cpus(order.begin(), order.begin() + std::clamp<std::ptrdiff_t>(n, 0, std::ssize(order)));
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

std::string CoreChoice::describe() const {
  std::string out = std::to_string(cores.size()) + " (cpu" + cpu_list_text(cores);
  if (!fast_name.empty()) out += ", " + fast_name + " by " + evidence;
  if (!siblings.empty()) out += ", one per physical core";
  if (fast_name.empty() && siblings.empty()) out += ", all cores alike";
  if (!slower.empty()) out += "; cpu" + cpu_list_text(slower) + " " + slow_name + " left out";
  if (!siblings.empty()) out += "; SMT siblings cpu" + cpu_list_text(siblings) + " left out";
  if (usable != online) out += "; this process may run on cpu" + cpu_list_text(usable) + " of " + cpu_list_text(online);
  return out + ")";
}

CoreChoice choose_cores(const Sysroot& root, const std::vector<int>& allowed) {
  CoreChoice c;
  const CpuInfo info = read_cpuinfo(root);
  c.online = online_cpus(root, info, allowed);
  for (int cpu : c.online) {
    if (allowed.empty() || std::binary_search(allowed.begin(), allowed.end(), cpu)) c.usable.push_back(cpu);
  }
  if (c.usable.empty()) c.usable = c.online;  // an affinity outside the online list: trust the online list

  const Speeds s = speeds(root, c.usable, info);
  const double top = *std::max_element(s.of.begin(), s.of.end());
  std::vector<int> fast;
  std::vector<std::pair<double, int>> slow;  // (speed, cpu)
  for (size_t i = 0; i < c.usable.size(); ++i) {
    if (s.of[i] >= kSameClass * top)
      fast.push_back(c.usable[i]);
    else
      slow.emplace_back(s.of[i], c.usable[i]);
  }
  std::vector<std::string> seen;
  for (int cpu : fast) {
    const std::string key = core_key(root, cpu);
    const bool first = std::find(seen.begin(), seen.end(), key) == seen.end();
    (first ? c.cores : c.siblings).push_back(cpu);
    if (first) seen.push_back(key);
  }
  for (const auto& entry : slow) c.slower.push_back(entry.second);
  c.evidence = s.evidence;
  name_classes(c, s, fast, info);

  // Faster slow cores before slower ones, for thread counts past the default.
  std::stable_sort(slow.begin(), slow.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  c.order = c.cores;
  c.order.insert(c.order.end(), c.siblings.begin(), c.siblings.end());
  for (const auto& entry : slow) c.order.push_back(entry.second);
  return c;
}

std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
#endif
  return cpus;
}

const CoreChoice& host_cores() {
  static const CoreChoice choice = choose_cores(Sysroot("/"), affinity_cpus());
  return choice;
}

void restrict_current_thread(const std::vector<int>& cpus) {
#if defined(__linux__)
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) {
    if (cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
  }
  sched_setaffinity(0, sizeof set, &set);
#else
  (void)cpus;
#endif
}

}  // namespace rkchat::kernels
