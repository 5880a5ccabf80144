#include "backends/cpu/load_checks.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "backends/backend.h"
#include "gguf/gguf.h"
#include "kernels/cpu_topology.h"
#include "kernels/thread_pool.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::backends::cpu {

namespace {

// MemAvailable in bytes, 0 when /proc/meminfo does not say.
uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemAvailable:") return kb * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

// Bytes of address space the process maps now (first field of /proc/self/statm, in pages).
uint64_t mapped_now() {
  std::ifstream in("/proc/self/statm");
  uint64_t pages = 0;
  in >> pages;
  return pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

std::string size_text(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (unit < 2 && v >= 1024.0) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[unit]);
  return buf;
}

std::unique_ptr<tok::Tokenizer> load_tokenizer(const gguf::File& file) {
  if (!file.has("tokenizer.ggml.model")) return nullptr;
  try {
    return tok::Tokenizer::from_gguf(file);
  } catch (const std::exception& e) {
    throw Error(file.path() + ": tokenizer: " + e.what());
  }
}

uint64_t available_memory_bytes() {
  uint64_t avail = mem_available();
  rlimit lim{};
  if (::getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    const uint64_t used = mapped_now();
    const uint64_t left = lim.rlim_cur > used ? lim.rlim_cur - used : 0;
    avail = avail ? std::min(avail, left) : left;
  }
  return avail;
}

int context_for(int requested, int n_seq, const model::HParams& hp, kernels::KvType type, uint64_t available,
                const std::string& path) {
  if (requested < 0)
    throw Error("the context must be a positive number of tokens (got " + std::to_string(requested) + ")");
  if (requested > hp.n_ctx_train)
    throw Error("a context of " + std::to_string(requested) + " tokens is beyond the model's limit of " +
                std::to_string(hp.n_ctx_train) + " (context_length of " + path + ")");
  const int n_ctx = requested > 0 ? requested : std::min(hp.n_ctx_train, 4096);
  if (available == 0) return n_ctx;
  const uint64_t activations = model::Model::activation_bytes(hp);
  if (activations > available)
    throw Error(path + ": the activations of a " + std::to_string(model::Model::kDefaultMaxBatch) +
                "-token batch need " + size_text(activations) + ", but " + size_text(available) +
                " of memory is available");
  const uint64_t need =
      model::kv_bytes_per_token(hp, type) * static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(n_seq);
  if (need > available - activations)
    throw Error("a context of " + std::to_string(n_ctx) + " tokens" +
                (n_seq > 1 ? " for each of " + std::to_string(n_seq) + " sequences" : std::string()) + " needs " +
                size_text(need) + " of KV cache (" + kernels::kv_type_name(type) + "), but " +
                size_text(available - activations) + " of memory is available; open a smaller context");
  return n_ctx;
}

kernels::KvType kv_type_of(const std::string& name) {
  for (auto t : {kernels::KvType::f16, kernels::KvType::f32, kernels::KvType::q8_0})
    if (name == kernels::kv_type_name(t)) return t;
  throw Error("unknown KV cache type '" + name + "' (f16, f32 or q8_0)");
}

uint64_t model_bytes(const gguf::File& file, const model::HParams& hp, int n_ctx, int n_seq, kernels::KvType type) {
  return file.file_size() + model::Model::activation_bytes(hp) +
         model::kv_bytes_per_token(hp, type) * static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(n_seq);
}

uint64_t load_bytes(const LoadOptions& o) {
  try {
    const auto file = gguf::File::open(o.path);
    const auto hp = model::validate_model(*file);
    const int n_seq = std::max(1, o.max_sequences);
    const auto type = kv_type_of(o.kv_type);
    const int n_ctx = context_for(o.n_ctx, n_seq, hp, type, 0, o.path);  // available 0: memory not checked
    return model_bytes(*file, hp, n_ctx, n_seq, type);
  } catch (const gguf::Error& e) {
    throw Error(e.what());
  }
}

int threads_for(int requested) {
  if (requested < 0) throw Error("the thread count must be positive (got " + std::to_string(requested) + ")");
  const int cores = kernels::online_cores();
  if (requested == 0) return static_cast<int>(kernels::host_cores().cores.size());
  if (requested > cores) {
    std::fprintf(stderr, "rkchat: warning: %d threads asked, but this process may run on %d cores; using %d\n",
                 requested, cores, cores);
    return cores;
  }
  return requested;
}

}  // namespace rkchat::backends::cpu
