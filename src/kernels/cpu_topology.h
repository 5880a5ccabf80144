// Which cores the compute threads run on by default. A forward pass is cut into equal shares, so it ends when the
// slowest core ends: on big.LITTLE boards (RK3588: 4 Cortex-A76 + 4 Cortex-A55) and Intel hybrid CPUs (P + E
// cores) the default is the fast cores only, and with SMT one thread per physical core (two threads on one core
// share its execution units, which the matmul kernels already keep busy). Only online CPUs in this process's
// affinity count. Everything is read under a Sysroot, so that tests present fake machines.
#pragma once

#include <string>
#include <vector>

#include "kernels/sysroot.h"

namespace rkchat::kernels {

// "0-3,6,8-9" -> {0, 1, 2, 3, 6, 8, 9}, ascending without duplicates; {} for text that is not a CPU list.
std::vector<int> parse_cpu_list(const std::string& text);
// The reverse: {4, 5, 6, 7} -> "4-7".
std::string cpu_list_text(const std::vector<int>& cpus);

// The Arm core of a MIDR part number ("0xd0b" -> "Cortex-A76"); "Arm core 0xNNN" for one not in the table.
std::string arm_core_name(const std::string& part);

struct CoreChoice {
  std::vector<int> online;    // online CPUs, ascending
  std::vector<int> usable;    // those this process may run on
  std::vector<int> cores;     // the default: one CPU per physical core of the fastest class, ascending
  std::vector<int> siblings;  // SMT siblings of those, left out
  std::vector<int> slower;    // CPUs of slower classes, left out
  std::vector<int> order;     // every usable CPU, best first: `cores`, then `siblings`, then `slower` by speed
  std::string fast_name;      // "Cortex-A76 big cores", "P-cores", "fast cores"; "" when all cores are alike
  std::string slow_name;      // "Cortex-A55 LITTLE cores", "E-cores", "slower cores"
  std::string evidence;       // what told them apart: "cpu_capacity 1024", "/sys/devices/cpu_core/cpus", ...

  // Where n threads go: the first n CPUs of `order` (all of them when n is larger), ascending.
  std::vector<int> first(int n) const;
  // For rkchat doctor: "4 (cpu4-7, Cortex-A76 big cores by cpu_capacity 1024; cpu0-3 Cortex-A55 LITTLE cores
  // left out)".
  std::string describe() const;
};

// The choice among the online CPUs under `root` that are also in `allowed` (every online CPU when it is empty).
CoreChoice choose_cores(const Sysroot& root, const std::vector<int>& allowed);

// The CPUs this process may run on (sched_getaffinity); {} when unknown.
std::vector<int> affinity_cpus();
// This machine's choice under this process's affinity, read on first use.
const CoreChoice& host_cores();

// Restricts the calling thread to `cpus`, so that the kernel does not move it to a slower core. Nothing happens for
// an empty list or where Linux's affinity calls are missing; a refusal (a CPU since taken away by a cgroup) leaves
// the thread where it was.
void restrict_current_thread(const std::vector<int>& cpus);

}  // namespace rkchat::kernels
