// What benchmark reports say about the machine, and the process's own figures: peak resident memory and a
// memory bandwidth probe (decode speed is bound by how fast the weights stream from memory).
#pragma once

#include <cstdint>
#include <string>

namespace rkchat::runtime {

struct MachineInfo {
  std::string cpu_model;  // "AMD EPYC 7B13", "Rockchip RK3588 (Cortex-A76 x4 + A55 x4)", ...
  std::string board;      // device-tree model on Arm boards, else ""
  std::string features;   // ISA features the kernels care about
  int cores = 0;          // logical CPUs online
  uint64_t memory_bytes = 0;
  std::string os;    // kernel name and release
  std::string arch;  // x86_64, aarch64
};

MachineInfo machine_info();

// The CPU engine's thread count without -t: one per physical core of the fastest class (big cores, P-cores).
int default_threads();

// Peak resident set size of this process (VmHWM), 0 when unknown.
uint64_t peak_rss_bytes();
// Restarts the peak from the current size (Linux clear_refs); false when the kernel does not allow it.
bool reset_peak_rss();

// Read bandwidth in GB/s (1e9 bytes/s) of `threads` threads streaming `file` (a model: the same bytes decode reads
// per token, so the same share of them stays in a large last-level cache between passes), or without a file (or
// one under 64 MiB) a buffer of twice the last-level cache; the best of 5 passes.
double measure_bandwidth_gb_s(int threads, const std::string& file = {});

}  // namespace rkchat::runtime
