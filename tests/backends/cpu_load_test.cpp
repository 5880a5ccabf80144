// What the CPU backend checks before it allocates by the user's numbers: the context against the model's limit and
// the memory, the threads against the cores. Every command loads through here.
#include <gtest/gtest.h>

#include <filesystem>

#include "../gguf/gguf_edit.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/load_checks.h"
#include "gguf/gguf.h"
#include "kernels/cpu_topology.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/weights.h"

namespace rkchat::backends {
namespace {

namespace fs = std::filesystem;

const std::string kQwen3 = std::string(RKCHAT_FIXTURES_DIR) + "/tiny-qwen3-f32.gguf";  // context_length 4096

std::string load_error(const LoadOptions& o) {
  try {
    make_cpu_backend(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class CpuLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kQwen3)) GTEST_SKIP() << "fixtures not found at " << kQwen3;
    o_.path = kQwen3;
    o_.threads = 1;
  }
  LoadOptions o_;
};

TEST_F(CpuLoad, ContextBeyondTheModelsLimitIsRefused) {
  // -c 200000 on a 4096-token model was accepted silently; -c 1000000 and beyond ended in std::bad_alloc.
  for (int n_ctx : {4097, 200000, 1000000, 2147483647}) {
    o_.n_ctx = n_ctx;
    const auto e = load_error(o_);
    EXPECT_NE(e.find("a context of " + std::to_string(n_ctx) + " tokens is beyond the model's limit of 4096"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find(kQwen3), std::string::npos) << e;
  }
  o_.n_ctx = 4096;
  EXPECT_EQ(load_error(o_), "");
}

TEST_F(CpuLoad, NegativeContextIsRefused) {
  o_.n_ctx = -1;
  EXPECT_NE(load_error(o_).find("the context must be a positive number of tokens (got -1)"), std::string::npos);
}

TEST_F(CpuLoad, KvCacheBeyondTheMemoryGivesTheFigures) {
  // A model allowing 16M tokens: 64 sequences of them need 512 GiB of f16 KV cache (512 bytes per token).
  const std::string path = rkchat::testing::rewrite_gguf(
      kQwen3, rkchat::testing::GgufEdit().with("qwen3.context_length", rkchat::testing::u32_value(1 << 24)),
      rkchat::testing::temp_gguf("cpu-load-long"));
  o_.path = path;
  o_.n_ctx = 1 << 24;
  o_.max_sequences = 64;
  const auto e = load_error(o_);
  fs::remove(path);
  EXPECT_NE(e.find("a context of 16777216 tokens for each of 64 sequences needs 512.00 GiB of KV cache (f16), but"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("of memory is available"), std::string::npos) << e;
}

TEST_F(CpuLoad, ContextCheckAgainstAGivenMemory) {
  const auto f = gguf::File::open(kQwen3);
  const auto hp = model::validate_model(*f);
  // Beside the activations, 100 tokens of 1 KiB (2 layers x k+v x 64 wide x f32) fit exactly; 101 do not.
  const uint64_t act = model::Model::activation_bytes(hp), kib = 1024;
  EXPECT_EQ(cpu::context_for(0, 1, hp, kernels::KvType::f16, 0, kQwen3), 4096);  // the default, memory unknown
  EXPECT_EQ(cpu::context_for(100, 1, hp, kernels::KvType::f32, act + 100 * kib, kQwen3), 100);
  try {
    cpu::context_for(101, 1, hp, kernels::KvType::f32, act + 100 * kib, kQwen3);
    ADD_FAILURE() << "101 tokens of 1 KiB in 100 KiB";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 101.00 KiB of KV cache (f32), but 100.00 KiB of memory is available"),
              std::string::npos)
        << e.what();
  }
  try {
    cpu::context_for(1, 1, hp, kernels::KvType::f32, act - 1, kQwen3);
    ADD_FAILURE() << "activations beyond the memory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the activations of a 256-token batch need"), std::string::npos) << e.what();
  }
}

TEST_F(CpuLoad, KvTypesByName) {
  EXPECT_EQ(cpu::kv_type_of("f16"), kernels::KvType::f16);
  EXPECT_EQ(cpu::kv_type_of("f32"), kernels::KvType::f32);
  EXPECT_EQ(cpu::kv_type_of("q8_0"), kernels::KvType::q8_0);
  EXPECT_THROW(cpu::kv_type_of("q4"), Error);  // not f16 by default
  const auto hp = model::validate_model(*gguf::File::open(kQwen3));
  // Q8_0: 100 tokens of 2 layers x k+v x 2 heads x (32 int8 + an fp16 scale) = 272 bytes; the message names it.
  try {
    cpu::context_for(100, 1, hp, kernels::KvType::q8_0, model::Model::activation_bytes(hp) + 100 * 272 - 1, kQwen3);
    ADD_FAILURE() << "100 tokens of 272 bytes in one byte less";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("of KV cache (q8_0)"), std::string::npos) << e.what();
  }
}

TEST_F(CpuLoad, ThreadsAreCappedAtTheCores) {
  // -t 1000 took a minute for 4 tokens and -t 100000 never finished: workers spin, so no more than the cores.
  const int cores = kernels::online_cores();
  EXPECT_EQ(cpu::threads_for(0), std::ssize(kernels::host_cores().cores));  // the default: the fast cores
  EXPECT_EQ(cpu::threads_for(1), 1);
  EXPECT_EQ(cpu::threads_for(100000), cores);
  EXPECT_THROW(cpu::threads_for(-1), Error);
  o_.threads = 1000;
  const auto b = make_cpu_backend(o_);
  EXPECT_EQ(b->info().threads, cores);
}

}  // namespace
}  // namespace rkchat::backends
