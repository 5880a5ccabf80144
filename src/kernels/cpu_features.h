// What the CPU can run, read once (cpuid + XCR0 on x86: a feature counts only if the OS saves its registers;
// HWCAP on Arm). Reading it asks Linux for the AMX tile state on CPUs that have AMX (a one-time, per-process
// permission: without it the first tile instruction is a SIGILL).
#pragma once

#include <string>

namespace rkchat::kernels {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  bool amx_int8 = false;  // AMX-TILE + AMX-INT8, and Linux granted this process the tile data state
  bool neon = false;
  bool neon_dotprod = false;
  bool neon_i8mm = false;
  std::string summary() const;  // "avx2 fma f16c avx512f ..." for doctor / bench reports
};

const CpuFeatures& cpu_features();

}  // namespace rkchat::kernels
