// RKLLM runtimes on the machine, and a model (-m) against them and against memory.
#include "model/model.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>

#include "backends/cpu/load_checks.h"
#include "backends/rkllm/runtime_select.h"
#include "doctor/doctor.h"
#include "gguf/gguf.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::doctor {

namespace fs = std::filesystem;
using backends::rkllm::RuntimeFile;
using backends::rkllm::Version;

namespace {

constexpr uint64_t kNpuDomainBytes = 4ull << 30;  // one NPU memory domain

std::vector<RuntimeFile> find_runtimes(const Sysroot& root, const Options& o) {
  std::vector<RuntimeFile> found;
  for (const char* dir : {"/usr/lib", "/usr/local/lib"}) {
    const std::string lib = std::string(dir) + "/librkllmrt.so";
    if (root.exists(lib)) found.push_back(backends::rkllm::describe_runtime(root.path(lib)));
  }
  std::string dir = o.rkllm_lib_dir;
  if (dir.empty() && std::getenv("RKCHAT_RKLLM_LIB_DIR")) dir = std::getenv("RKCHAT_RKLLM_LIB_DIR");
  if (!dir.empty()) {
    for (auto& r : backends::rkllm::list_runtime_dir(dir)) found.push_back(std::move(r));
  }
  return found;
}

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

// The tensor type holding most of the weights' elements: the file's quantization in practice.
std::string main_type(const gguf::File& f) {
  std::map<std::string, int64_t> elems;
  for (const auto& t : f.tensors()) elems[gguf::type_name(t.type)] += t.n_elements();
  std::string best = "unknown";
  int64_t most = -1;
  for (const auto& [name, n] : elems) {
    if (n > most) std::tie(best, most) = std::tie(name, n);
  }
  return best;
}

void check_rkllm_model(const std::string& path, const std::vector<RuntimeFile>& runtimes, std::vector<Check>& out) {
  std::optional<Version> toolkit;
  try {
    toolkit = backends::rkllm::read_toolkit_version(path);
  } catch (const std::exception& e) {
    out.push_back({"model", e.what(), Verdict::fail, "check the path"});
    return;
  }
  out.push_back({"model", path + ": RKLLM, toolkit " + (toolkit ? toolkit->text : "unknown"), Verdict::ok, ""});
  if (!toolkit) return;
  Check c{"model-runtime", "", Verdict::fail, ""};
  for (const auto& r : runtimes) {
    if (!r.version) continue;
    if (r.version->same_release(*toolkit)) {
      c = {"model-runtime", "runtime " + r.version->text + " matches (" + r.path + ")", Verdict::ok, ""};
      break;
    }
    if (r.version->same_minor(*toolkit) && c.verdict == Verdict::fail) {
      c = {"model-runtime", "only runtime " + r.version->text + " for toolkit " + toolkit->text, Verdict::warn,
           "answers may be empty or wrong: install runtime " + toolkit->text + " (rknn-llm release " + toolkit->text +
               ") beside it, e.g. DIR/" + toolkit->text + "/librkllmrt.so with --rkllm-lib-dir DIR"};
    }
  }
  if (c.verdict == Verdict::fail) {
    c.value = "no runtime for toolkit " + toolkit->text;
    c.fix = "install librkllmrt.so of rknn-llm release " + toolkit->text +
            " (or convert the model with the "
            "toolkit of an installed runtime)";
  }
  out.push_back(c);
}

// The same validation that loading the model runs (no weight is read, the tokenizer is built), then how much
// context fits beside it.
void check_gguf_model(const std::string& path, const std::string& kv_type_name, uint64_t avail,
                      std::vector<Check>& out) {
  std::unique_ptr<gguf::File> f;
  model::HParams hp;
  kernels::KvType kv_type{};
  try {
    kv_type = backends::cpu::kv_type_of(kv_type_name);
    f = gguf::File::open(path);
    hp = model::validate_model(*f);
    // run and chat need the tokenizer as loading builds it; without one only run --prompt-ids works.
    if (!backends::cpu::load_tokenizer(*f))
      throw std::runtime_error(path + ": no tokenizer (tokenizer.ggml.model is missing): chat, run and serve need one");
  } catch (const std::exception& e) {
    out.push_back({"model", e.what(), Verdict::fail, "rkchat cannot run this file: fix or replace it"});
    return;
  }
  out.push_back({"model",
                 path + ": GGUF v" + std::to_string(f->version()) + ", " + hp.arch->name + ", " + main_type(*f) +
                     ", context limit " + std::to_string(hp.n_ctx_train),
                 Verdict::ok, ""});
  if (avail == 0) return;
  const uint64_t per_token = model::kv_bytes_per_token(hp, kv_type);
  // Beside the weights (mapped from the file) and the activations, as the CPU backend counts them.
  const uint64_t taken = backends::cpu::model_bytes(*f, hp, 0, 1, kv_type);
  const uint64_t left = avail > taken ? avail - taken : 0;
  const uint64_t fits = left / per_token;
  Check c{"model-context",
          "context that fits in free memory: " + std::to_string(fits) + " tokens (" + kernels::kv_type_name(kv_type) +
              " KV cache, " + std::to_string(per_token) + " bytes per token)",
          Verdict::ok, ""};
  if (fits < std::min<uint64_t>(static_cast<uint64_t>(hp.n_ctx_train), 4096)) {
    c.verdict = Verdict::warn;
    c.fix = "open a context of at most " + std::to_string(fits) + " tokens (-c), or free memory";
  }
  out.push_back(c);
}

}  // namespace

void check_runtimes_and_model(const Sysroot& root, const Options& o, bool rockchip, std::vector<Check>& out) {
  const auto runtimes = find_runtimes(root, o);
  std::string list;
  for (const auto& r : runtimes) {
    list += (list.empty() ? "" : ", ") + (r.version ? r.version->text : "version unknown") + " (" + r.path + ")";
  }
  if (runtimes.empty()) {
    out.push_back({"rkllm-runtime", "none found", rockchip ? Verdict::warn : Verdict::info,
                   "for .rkllm models install librkllmrt.so from github.com/airockchip/rknn-llm into /usr/lib, or "
                   "several as DIR/X.Y.Z/librkllmrt.so and pass --rkllm-lib-dir DIR"});
  } else {
    out.push_back({"rkllm-runtime", list, Verdict::ok, ""});
  }
  if (o.model.empty()) return;
  std::error_code ec;
  const uint64_t size = fs::file_size(o.model, ec);
  if (ec) {
    out.push_back({"model", o.model + ": not found", Verdict::fail, "check the path"});
    return;
  }
  const bool rkllm = fs::path(o.model).extension() == ".rkllm";
  const uint64_t avail = meminfo_bytes(root, "MemAvailable");
  if (rkllm) {
    check_rkllm_model(o.model, runtimes, out);
  } else {
    check_gguf_model(o.model, o.kv_type, avail, out);
  }
  Check fit{"model-size", gib(size) + " of " + gib(avail) + " available", Verdict::ok, ""};
  if (avail > 0 && size > avail) {
    fit.verdict = Verdict::fail;
    fit.fix = "the model does not fit in free memory: close programs or pick a smaller quantization";
  } else if (rkllm && size > kNpuDomainBytes) {
    fit.verdict = Verdict::warn;
    fit.fix = "larger than one 4 GB NPU memory domain; load a second model with --npu-domain 1";
  }
  out.push_back(fit);
}

}  // namespace rkchat::doctor
