// rkchat doctor on fake sysroots: an RK3588 board with clocks pinned and not, one without its NPU driver, and
// an x86 machine.
#include "doctor/doctor.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../gguf/gguf_edit.h"
#include "fake_root.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "model/weights.h"

namespace rkchat::doctor {
namespace {

namespace fs = std::filesystem;

class FakeRoot : public rkchat::testing::FakeRootTest {
 protected:
  void rk3588(const std::string& governor, bool driver = true) {
    put("/proc/device-tree/compatible", std::string("radxa,rock-5b\0rockchip,rk3588\0", 30));
    std::string cpuinfo;
    for (int i = 0; i < 8; ++i) {
      cpuinfo += "processor\t: " + std::to_string(i) +
                 "\nFeatures\t: fp asimd aes crc32 asimddp\nCPU part\t: " + (i < 4 ? "0xd05" : "0xd0b") + "\n\n";
    }
    put("/proc/cpuinfo", cpuinfo);
    put("/proc/meminfo", "MemTotal:       16315204 kB\nMemAvailable:   15000000 kB\n");
    const std::string cf = "/sys/devices/system/cpu/cpufreq/";
    for (const auto& [policy, cpus, freq] :
         {std::tuple("policy0", "0 1 2 3", "1800000"), std::tuple("policy4", "4 5", "2352000"),
          std::tuple("policy6", "6 7", "2352000")}) {
      put(cf + policy + "/related_cpus", cpus);
      put(cf + policy + "/cpuinfo_max_freq", freq);
      put(cf + policy + "/scaling_governor", governor + "\n");
    }
    put("/sys/class/devfreq/fdab0000.npu/governor", governor + "\n");
    put("/sys/class/devfreq/dmc/governor", governor + "\n");
    if (driver) {
      put("/sys/kernel/debug/rknpu/version", "RKNPU driver: v0.9.8\n");
      put("/sys/kernel/debug/rknpu/load", "NPU load:  Core0:  0%, Core1:  0%, Core2:  0%,\n");
    }
  }
  Report run(const std::string& model = "", const std::string& kv_type = "f16") {
    Options o;
    o.sysroot = root_.string();
    o.model = model;
    o.kv_type = kv_type;
    o.rkllm_lib_dir = root_.string() + "/runtimes";
    return diagnose(o);
  }
  static bool has(const Report& r, const std::string& name) {
    for (const auto& c : r.checks) {
      if (c.name == name) return true;
    }
    return false;
  }
  // The first check of that name (a failure, and an empty check, when there is none).
  static Check find(const Report& r, const std::string& name) {
    for (const auto& c : r.checks) {
      if (c.name == name) return c;
    }
    ADD_FAILURE() << "no check named " << name;
    return {};
  }
  static int count(const Report& r, const std::string& name, Verdict v) {
    int n = 0;
    for (const auto& c : r.checks) n += c.name == name && c.verdict == v;
    return n;
  }
};

TEST_F(FakeRoot, Rk3588Pinned) {
  rk3588("performance");
  const auto r = run();
  EXPECT_EQ(find(r, "soc").value, "RK3588");
  EXPECT_EQ(find(r, "npu-driver").verdict, Verdict::ok);
  EXPECT_EQ(count(r, "governor", Verdict::ok), 3);
  EXPECT_EQ(find(r, "npu-governor").verdict, Verdict::ok);
  EXPECT_EQ(find(r, "isa").value, "neon neon_dotprod");
  EXPECT_NE(find(r, "cpu").value.find("8 cores"), std::string::npos);
  EXPECT_NE(find(r, "clusters").value.find("3:"), std::string::npos);
  // No cpu_capacity nor per-CPU cpufreq in this tree: the part numbers in /proc/cpuinfo tell the cores apart.
  EXPECT_EQ(find(r, "threads").value,
            "4 (cpu4-7, Cortex-A76 big cores by MIDR part numbers; cpu0-3 Cortex-A55 LITTLE cores left out)");
  EXPECT_EQ(find(r, "rkllm-runtime").verdict, Verdict::warn);  // none installed on this board
}

TEST_F(FakeRoot, Rk3588NotPinnedSaysHowToPin) {
  rk3588("ondemand");
  const auto r = run();
  EXPECT_EQ(count(r, "governor", Verdict::warn), 3);
  const auto npu = find(r, "npu-governor");
  EXPECT_EQ(npu.verdict, Verdict::warn);
  EXPECT_NE(npu.fix.find("echo performance | sudo tee /sys/class/devfreq/fdab0000.npu/governor"), std::string::npos);
  EXPECT_EQ(r.worst(), Verdict::warn);
  const std::string text = to_text(r);
  EXPECT_NE(text.find("fix: "), std::string::npos);
}

TEST_F(FakeRoot, NoNpuDriverFails) {
  rk3588("performance", false);
  const auto r = run();
  EXPECT_EQ(find(r, "npu-driver").verdict, Verdict::fail);
  EXPECT_EQ(r.worst(), Verdict::fail);
  EXPECT_EQ(to_json(r)["verdict"], "fail");
}

TEST_F(FakeRoot, OldDriverWarns) {
  rk3588("performance");
  put("/sys/kernel/debug/rknpu/version", "RKNPU driver: v0.9.6\n");
  EXPECT_EQ(find(run(), "npu-driver").verdict, Verdict::warn);
}

TEST_F(FakeRoot, X86Machine) {
  put("/proc/cpuinfo",
      "processor\t: 0\nmodel name\t: Fake Xeon\nflags\t\t: fpu sse2 avx2 fma f16c avx512f\n\n"
      "processor\t: 1\nmodel name\t: Fake Xeon\nflags\t\t: fpu sse2 avx2 fma f16c avx512f\n");
  put("/proc/meminfo", "MemTotal:       8000000 kB\nMemAvailable:   4000000 kB\n");
  put("/sys/devices/system/cpu/cpufreq/policy0/scaling_governor", "powersave\n");
  const auto r = run();
  EXPECT_EQ(find(r, "soc").verdict, Verdict::info);
  EXPECT_FALSE(has(r, "npu-driver"));
  EXPECT_EQ(find(r, "isa").value, "avx2 fma f16c avx512f");
  EXPECT_EQ(find(r, "governor").verdict, Verdict::info);  // not what limits a CPU-only machine
  EXPECT_NE(find(r, "cpu").value.find("Fake Xeon, 2 cores"), std::string::npos);
  EXPECT_EQ(find(r, "threads").value, "2 (cpu0-1, all cores alike)");
  EXPECT_EQ(r.worst(), Verdict::ok);
}

TEST_F(FakeRoot, RkllmModelAgainstRuntimes) {
  rk3588("performance");
  put("/runtimes/1.2.1/librkllmrt.so", "ELF... rkllm-runtime version: 1.2.1");
  put("/models/a.rkllm", "weights rkllm-toolkit version: 1.2.1");
  put("/models/b.rkllm", "weights rkllm-toolkit version: 1.2.2");
  put("/models/c.rkllm", "weights rkllm-toolkit version: 1.3.0");
  const std::string models = root_.string() + "/models/";
  EXPECT_EQ(find(run(models + "a.rkllm"), "model-runtime").verdict, Verdict::ok);
  EXPECT_EQ(find(run(models + "b.rkllm"), "model-runtime").verdict, Verdict::warn);
  const auto r = run(models + "c.rkllm");
  EXPECT_EQ(find(r, "model-runtime").verdict, Verdict::fail);
  EXPECT_NE(find(r, "model-runtime").fix.find("1.3.0"), std::string::npos);
  EXPECT_EQ(find(r, "model-size").verdict, Verdict::ok);
}

TEST_F(FakeRoot, GgufModel) {
  const std::string model = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-qwen3-q8_0.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << "fixtures not found";
  rk3588("performance");
  const auto m = find(run(model), "model");
  EXPECT_NE(m.value.find("qwen3"), std::string::npos) << m.value;
  EXPECT_NE(m.value.find("q8_0"), std::string::npos) << m.value;
}

TEST_F(FakeRoot, GgufModelContextThatFits) {
  const std::string model = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-qwen3-q8_0.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << "fixtures not found";
  rk3588("performance");  // 15000000 kB available
  const auto small = find(run(model), "model-context");
  EXPECT_EQ(small.verdict, Verdict::ok);
  // 2 layers x k+v x 2 kv heads x 32 x f16 = 512 bytes per token, beside the model file and the activations.
  const auto hp = model::validate_model(*gguf::File::open(model));
  const uint64_t left = 15000000ull * 1024 - fs::file_size(model) - model::Model::activation_bytes(hp);
  const uint64_t fits = left / 512;
  EXPECT_NE(small.value.find("context that fits in free memory: " + std::to_string(fits) + " tokens"),
            std::string::npos)
      << small.value;
  // Q8_0: 2 layers x k+v x 2 kv heads x (32 int8 + an fp16 scale) = 272 bytes per token.
  const auto q8 = find(run(model, "q8_0"), "model-context");
  EXPECT_NE(q8.value.find("(q8_0 KV cache, 272 bytes per token)"), std::string::npos) << q8.value;
  EXPECT_NE(q8.value.find("fits in free memory: " + std::to_string(left / 272) + " tokens"), std::string::npos)
      << q8.value;
  put("/proc/meminfo", "MemTotal:       16315204 kB\nMemAvailable:   1000 kB\n");
  const auto tight = find(run(model), "model-context");
  EXPECT_EQ(tight.verdict, Verdict::warn) << tight.value;
}

// doctor said "ok" for files that run rejects: it must run the same validation, and fail with run's message.
TEST_F(FakeRoot, GgufModelsThatRunRejectsFail) {
  const std::string src = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-llama-f32.gguf";
  if (!fs::exists(src)) GTEST_SKIP() << "fixtures not found";
  rk3588("performance");
  const auto file = gguf::File::open(src);
  const gguf::Value* tokens = file->find("tokenizer.ggml.tokens");
  using rkchat::testing::GgufEdit;
  const std::vector<std::pair<GgufEdit, std::string>> cases = {
      {GgufEdit().without("token_embd.weight"), "missing tensor 'token_embd.weight'"},
      {GgufEdit().with("llama.attention.head_count", rkchat::testing::u32_value(0)), "has invalid value 0"},
      {GgufEdit().with("general.architecture", rkchat::testing::string_value("gptj")),
       "unsupported architecture 'gptj'"},
      {GgufEdit().with("tokenizer.ggml.tokens", rkchat::testing::truncated_array(*tokens, 500)),
       "the tokenizer has 500 tokens"},
      {GgufEdit().without("blk.1.ffn_up.weight"), "missing tensor 'blk.1.ffn_up.weight'"},
      {GgufEdit().with("tokenizer.ggml.model", rkchat::testing::string_value("nonsense")), ": tokenizer: "},
  };
  const std::string path = rkchat::testing::temp_gguf("doctor-bad");
  for (const auto& [edit, message] : cases) {
    rkchat::testing::rewrite_gguf(src, edit, path);
    const auto r = run(path);
    const auto m = find(r, "model");
    EXPECT_EQ(m.verdict, Verdict::fail) << m.value;
    EXPECT_NE(m.value.find(message), std::string::npos) << m.value;
    EXPECT_EQ(r.worst(), Verdict::fail);
  }
  fs::remove(path);
}

}  // namespace
}  // namespace rkchat::doctor
