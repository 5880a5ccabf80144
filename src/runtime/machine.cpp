#include "runtime/machine.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/cpu_topology.h"

namespace rkchat::runtime {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Also drops NULs: device-tree strings end with one.
std::string trim(std::string s) {
  std::erase(s, '\0');
  s.erase(0, s.find_first_not_of(" \t\n\r"));
  s.erase(s.find_last_not_of(" \t\n\r") + 1);
  return s;
}

// "key : value" lines of a /proc file, first occurrence of each key.
std::map<std::string, std::string> proc_fields(const std::string& path) {
  std::map<std::string, std::string> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    out.try_emplace(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return out;
}

// "1234 kB" -> bytes.
uint64_t kib_field(const std::map<std::string, std::string>& f, const std::string& key) {
  const auto it = f.find(key);
  if (it == f.end()) return 0;
  try {
    return std::stoull(it->second) * 1024;
  } catch (const std::exception&) {
    return 0;
  }
}

// Arm /proc/cpuinfo names no model: count cores by their part number.
std::string arm_cores() {
  std::map<std::string, int> count;
  std::istringstream in(read_file("/proc/cpuinfo"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CPU part", 0) != 0) continue;
    ++count[kernels::arm_core_name(trim(line.substr(line.find(':') + 1)))];
  }
  std::string out;
  for (const auto& [name, n] : count) out += (out.empty() ? "" : " + ") + name + " x" + std::to_string(n);
  return out;
}

}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  const auto cpu = proc_fields("/proc/cpuinfo");
  if (auto it = cpu.find("model name"); it != cpu.end()) m.cpu_model = it->second;
  if (m.cpu_model.empty()) m.cpu_model = arm_cores();
  m.board = trim(read_file("/sys/firmware/devicetree/base/model"));
  m.features = kernels::cpu_features().summary();
  m.cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  m.memory_bytes = kib_field(proc_fields("/proc/meminfo"), "MemTotal");
  utsname u{};
  if (uname(&u) == 0) {
    m.os = std::string(u.sysname) + " " + u.release;
    m.arch = u.machine;
  }
  return m;
}

int default_threads() { return static_cast<int>(kernels::host_cores().cores.size()); }

uint64_t peak_rss_bytes() { return kib_field(proc_fields("/proc/self/status"), "VmHWM"); }

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

namespace {

// Probe size without a file: twice the last-level cache (480 MiB on some x86 servers), at least 256 MiB, at most
// 1 GiB or a quarter of the memory.
size_t probe_bytes() {
  size_t bytes = size_t{256} << 20;
#if defined(_SC_LEVEL3_CACHE_SIZE)
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0) bytes = std::max(bytes, 2 * static_cast<size_t>(l3));
#endif
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t cap = size_t{1} << 30;
  if (pages > 0 && page > 0) cap = std::min(cap, static_cast<size_t>(pages) * static_cast<size_t>(page) / 4);
  return std::min(bytes, std::max(cap, size_t{64} << 20)) & ~size_t{4095};
}

// Sum of n bytes (n a multiple of 64) read as 8 independent streams of words, prefetching 2 KiB ahead: the hardware
// prefetchers stop at each 4 KiB page, the kernels prefetch too.
uint64_t stream_sum(const unsigned char* p, size_t n) {
  uint64_t s[8] = {};
  for (size_t i = 0; i < n; i += 64) {
    __builtin_prefetch(p + i + 2048);
    for (int k = 0; k < 8; ++k) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * static_cast<size_t>(k), 8);
      s[k] += v;
    }
  }
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

// Best read rate over 5 passes of `threads` threads over [p, p + bytes); each thread times its own slice, all start
// together, so thread creation is outside the measurement.
double stream_gb_s(const unsigned char* p, size_t bytes, int threads) {
  std::vector<double> seconds(static_cast<size_t>(threads));
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    std::barrier start(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t chunks = bytes / 64;
        const size_t begin = chunks * static_cast<size_t>(t) / static_cast<size_t>(threads) * 64;
        const size_t end = chunks * static_cast<size_t>(t + 1) / static_cast<size_t>(threads) * 64;
        start.arrive_and_wait();
        const auto t0 = std::chrono::steady_clock::now();
        sums[static_cast<size_t>(t)] += stream_sum(p + begin, end - begin);
        seconds[static_cast<size_t>(t)] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
    }
    for (auto& th : pool) th.join();
    const double slowest = *std::max_element(seconds.begin(), seconds.end());
    if (slowest > 0) best = std::max(best, static_cast<double>(bytes / 64 * 64) / slowest / 1e9);
  }
  volatile uint64_t sink = 0;  // keeps the sums (and so the reads) alive
  for (uint64_t v : sums) sink = sink + v;
  return best;
}

}  // namespace

double measure_bandwidth_gb_s(int threads, const std::string& file) {
  threads = std::max(1, threads);
  if (!file.empty()) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size >= (int64_t{64} << 20)) {
      const auto bytes = static_cast<size_t>(st.st_size);
      void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
      ::close(fd);
      if (map != MAP_FAILED) {
        const double gb_s = stream_gb_s(static_cast<const unsigned char*>(map), bytes, threads);
        ::munmap(map, bytes);
        return gb_s;
      }
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
  std::vector<unsigned char> buf(probe_bytes(), 1);  // every page touched before timing
  return stream_gb_s(buf.data(), buf.size(), threads);
}

}  // namespace rkchat::runtime
