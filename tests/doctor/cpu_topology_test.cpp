// The default cores of the CPU engine on fake sysfs trees: big.LITTLE boards told apart by cpu_capacity, by
// cpufreq and by MIDR part numbers; Intel hybrid and plain SMT x86; offline cores and a narrowed affinity.
#include "kernels/cpu_topology.h"

#include <gtest/gtest.h>

#include "fake_root.h"

namespace rkchat::kernels {
namespace {

using Cpus = std::vector<int>;

class Topology : public rkchat::testing::FakeRootTest {
 protected:
  void cpu(int n, const std::string& rel, const std::string& text) {
    put("/sys/devices/system/cpu/cpu" + std::to_string(n) + "/" + rel, text + "\n");
  }
  // One thread per core: each CPU its own sibling list.
  void no_smt(int n) {
    for (int i = 0; i < n; ++i) cpu(i, "topology/thread_siblings_list", std::to_string(i));
  }
  // cpu_capacity of CPUs 0.. in order.
  void capacities(const std::vector<int>& caps) {
    put("/sys/devices/system/cpu/online", "0-" + std::to_string(caps.size() - 1) + "\n");
    for (size_t i = 0; i < caps.size(); ++i) cpu(static_cast<int>(i), "cpu_capacity", std::to_string(caps[i]));
    no_smt(static_cast<int>(caps.size()));
  }
  void arm_cpuinfo(const std::vector<std::string>& parts) {
    std::string text;
    for (size_t i = 0; i < parts.size(); ++i) {
      text += "processor\t: " + std::to_string(i) + "\nCPU implementer\t: 0x41\nCPU part\t: " + parts[i] + "\n\n";
    }
    put("/proc/cpuinfo", text);
  }
  void rk3588_cpuinfo() { arm_cpuinfo({"0xd05", "0xd05", "0xd05", "0xd05", "0xd0b", "0xd0b", "0xd0b", "0xd0b"}); }
  CoreChoice choose(const Cpus& allowed = {}) { return choose_cores(Sysroot(root_.string()), allowed); }
};

TEST(CpuList, ParsesAndPrintsKernelLists) {
  EXPECT_EQ(parse_cpu_list("0-3,6,8-9"), (Cpus{0, 1, 2, 3, 6, 8, 9}));
  EXPECT_EQ(parse_cpu_list("4"), (Cpus{4}));
  EXPECT_EQ(parse_cpu_list("5,1-2,2"), (Cpus{1, 2, 5}));
  EXPECT_EQ(parse_cpu_list(""), Cpus{});
  EXPECT_EQ(parse_cpu_list("3-1"), Cpus{});
  EXPECT_EQ(parse_cpu_list("0-x"), Cpus{});
  EXPECT_EQ(parse_cpu_list("0-99999999"), Cpus{});
  EXPECT_EQ(cpu_list_text({4, 5, 6, 7}), "4-7");
  EXPECT_EQ(cpu_list_text({0, 2, 4, 5}), "0,2,4-5");
  EXPECT_EQ(cpu_list_text({}), "");
}

TEST_F(Topology, Rk3588BigCoresByCapacity) {
  capacities({414, 414, 530, 530, 1024, 1024, 1024, 1024});
  rk3588_cpuinfo();
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{4, 5, 6, 7}));
  EXPECT_EQ(c.slower, (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(c.siblings, Cpus{});
  EXPECT_EQ(c.describe(),
            "4 (cpu4-7, Cortex-A76 big cores by cpu_capacity 1024; cpu0-3 Cortex-A55 LITTLE cores left out)");
  // -t past the big cores adds LITTLE ones, the faster first.
  EXPECT_EQ(c.order, (Cpus{4, 5, 6, 7, 2, 3, 0, 1}));
  EXPECT_EQ(c.first(6), (Cpus{2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(c.first(2), (Cpus{4, 5}));
  EXPECT_EQ(c.first(100), (Cpus{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(Topology, BinnedBigClustersStayOneClass) {
  // A76 clusters clocked 2.4 and 2.256 GHz: capacities 1024 and 963.
  capacities({414, 414, 414, 414, 1024, 1024, 963, 963});
  EXPECT_EQ(choose().cores, (Cpus{4, 5, 6, 7}));
}

TEST_F(Topology, Rk3399FourLittleTwoBig) {
  capacities({485, 485, 485, 485, 1024, 1024});
  arm_cpuinfo({"0xd03", "0xd03", "0xd03", "0xd03", "0xd08", "0xd08"});
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{4, 5}));
  EXPECT_EQ(c.slower, (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(c.describe(),
            "2 (cpu4-5, Cortex-A72 big cores by cpu_capacity 1024; cpu0-3 Cortex-A53 LITTLE cores left out)");
}

TEST_F(Topology, AllCoresAlike) {
  capacities({1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024});
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(c.slower, Cpus{});
  EXPECT_EQ(c.describe(), "8 (cpu0-7, all cores alike)");
}

TEST_F(Topology, IntelHybridPCoresOnePerPhysicalCore) {
  // 6 P-cores with two threads each (CPUs 0-11, siblings 2k and 2k+1), 8 E-cores (12-19).
  put("/sys/devices/system/cpu/online", "0-19\n");
  put("/sys/devices/cpu_core/cpus", "0-11\n");
  put("/sys/devices/cpu_atom/cpus", "12-19\n");
  for (int i = 0; i < 20; ++i) {
    cpu(i, "topology/thread_siblings_list",
        i < 12 ? std::to_string(i & ~1) + "-" + std::to_string(i | 1) : std::to_string(i));
    cpu(i, "cpu_capacity", "1024");  // x86 says nothing here: every CPU 1024
  }
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(c.siblings, (Cpus{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(c.slower, (Cpus{12, 13, 14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(c.describe(),
            "6 (cpu0,2,4,6,8,10, P-cores by /sys/devices/cpu_core/cpus, one per physical core; cpu12-19 E-cores "
            "left out; SMT siblings cpu1,3,5,7,9,11 left out)");
  EXPECT_EQ(c.first(8), (Cpus{0, 1, 2, 3, 4, 6, 8, 10}));  // siblings before E-cores
}

TEST_F(Topology, SmtWithoutHybridBySiblingLists) {
  // 4 cores, 8 threads, Linux numbering: CPU n and n + 4 share a core.
  put("/sys/devices/system/cpu/online", "0-7\n");
  for (int i = 0; i < 8; ++i) {
    cpu(i, "topology/thread_siblings_list", std::to_string(i % 4) + "," + std::to_string(i % 4 + 4));
  }
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(c.siblings, (Cpus{4, 5, 6, 7}));
  EXPECT_EQ(c.describe(), "4 (cpu0-3, one per physical core; SMT siblings cpu4-7 left out)");
}

TEST_F(Topology, SmtByCoreIdAndPackageWithoutSiblingLists) {
  // Two packages of two cores, two threads each: core_id repeats across packages.
  put("/sys/devices/system/cpu/online", "0-7\n");
  for (int i = 0; i < 8; ++i) {
    cpu(i, "topology/core_id", std::to_string(i % 2));
    cpu(i, "topology/physical_package_id", std::to_string(i % 4 / 2));
  }
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(c.siblings, (Cpus{4, 5, 6, 7}));
}

TEST_F(Topology, OfflineCoresDoNotCount) {
  capacities({414, 414, 414, 414, 1024, 1024, 1024, 1024});
  put("/sys/devices/system/cpu/online", "0-3,6-7\n");  // cpu4-5 taken offline
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{6, 7}));
  EXPECT_EQ(c.slower, (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(c.order, (Cpus{6, 7, 0, 1, 2, 3}));
}

TEST_F(Topology, CpufreqWhenNoCapacity) {
  put("/sys/devices/system/cpu/online", "0-7\n");
  no_smt(8);
  rk3588_cpuinfo();
  for (int i = 0; i < 8; ++i) {
    cpu(i, "cpufreq/cpuinfo_max_freq", i < 4 ? "1800000" : i < 6 ? "2352000" : "2256000");
  }
  const auto c = choose();
  EXPECT_EQ(c.cores, (Cpus{4, 5, 6, 7}));
  EXPECT_EQ(c.describe(),
            "4 (cpu4-7, Cortex-A76 big cores by cpuinfo_max_freq 2.35 GHz; cpu0-3 Cortex-A55 LITTLE cores left out)");
}

TEST_F(Topology, MidrWhenNoCapacityNorCpufreq) {
  put("/sys/devices/system/cpu/online", "0-7\n");
  no_smt(8);
  rk3588_cpuinfo();
  EXPECT_EQ(choose().cores, (Cpus{4, 5, 6, 7}));
  // Parts of another implementer say nothing (their numbers are not Arm's): all cores count.
  std::string text;
  for (int i = 0; i < 8; ++i)
    text += "processor\t: " + std::to_string(i) + "\nCPU implementer\t: 0x51\nCPU part\t: 0xd0" + (i < 4 ? "5" : "b") +
            "\n\n";
  put("/proc/cpuinfo", text);
  EXPECT_EQ(choose().cores, (Cpus{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(Topology, RestrictedAffinity) {
  capacities({414, 414, 414, 414, 1024, 1024, 1024, 1024});
  rk3588_cpuinfo();
  const auto one_big = choose({0, 1, 2, 3, 4});
  EXPECT_EQ(one_big.cores, (Cpus{4}));
  EXPECT_EQ(one_big.slower, (Cpus{0, 1, 2, 3}));
  EXPECT_EQ(one_big.describe(),
            "1 (cpu4, Cortex-A76 big cores by cpu_capacity 1024; cpu0-3 Cortex-A55 LITTLE cores left out; this "
            "process may run on cpu0-4 of 0-7)");
  // Only LITTLE cores allowed: they are all alike among themselves.
  const auto little = choose({1, 2});
  EXPECT_EQ(little.cores, (Cpus{1, 2}));
  EXPECT_EQ(little.describe(), "2 (cpu1-2, all cores alike; this process may run on cpu1-2 of 0-7)");
}

}  // namespace
}  // namespace rkchat::kernels
