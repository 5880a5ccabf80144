// The models a server offers and the ones it holds loaded, each in its own serving engine. One file (-m) answers
// every model name; a folder (--models) offers each file by name, loaded on first use (the request waits), unloaded
// after --keep-alive idle time, or least recently used first beyond --max-loaded or when the new model would not
// fit in the memory left. Before a load its need is estimated (backends::load_bytes: weights, activations, KV for
// -c x --parallel) against the available memory; idle models go, least recently used first, until it fits. A model
// that cannot fit even with every idle model unloaded is refused with 503 unavailable_error, which names the
// figures, rather than loaded into an out-of-memory kill.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "chat/template.h"
#include "runtime/engine.h"
#include "runtime/model_list.h"

namespace rkchat::server {

struct PoolOptions {
  std::string model_file;  // -m: one model that answers any name
  std::string models_dir;  // --models
  backends::LoadOptions load;
  runtime::EngineOptions engine;
  std::chrono::seconds keep_alive{300};  // idle time before a --models model is unloaded (0: never)
  int max_loaded = 1;
  // Bytes the process may still take (0: unknown, nothing checked); a test fakes it.
  std::function<uint64_t()> available_memory = backends::available_memory;
};

// A loaded model: its engine and what handlers need to build prompts. Shared by the pool and the requests
// using it, so that unloading never pulls a model from under a running request.
struct LoadedModel {
  std::string name;  // the file name without its extension
  std::string path;
  std::unique_ptr<runtime::Engine> engine;
  std::optional<chat::ChatTemplate> tmpl;  // token-input backends only
  double load_ms = 0;
  std::chrono::system_clock::time_point loaded_at;
  uint64_t bytes = 0;   // estimated when loading (backends::load_bytes): what unloading it gives back
  int npu_domain = -1;  // the NPU memory domain an .rkllm model holds, else -1

  const backends::Backend& backend() const { return engine->backend(); }
};

class ModelPool {
 public:
  explicit ModelPool(PoolOptions options);
  ~ModelPool();

  // The model a request names, loading it first when needed (the caller waits). Throws ApiError 404 naming the
  // available models, 500 when loading fails.
  std::shared_ptr<LoadedModel> get(const std::string& name);
  // Starts loading the -m model in the background (so that /health can say "loading").
  void preload();

  std::vector<runtime::ModelEntry> available() const;
  std::vector<std::shared_ptr<LoadedModel>> loaded() const;
  bool loading() const;
  // Unloads a model now (Ollama keep_alive: 0); false when it was not loaded.
  bool unload(const std::string& name);
  // The name a model is listed under.
  static std::string name_of(const std::string& path);
  const PoolOptions& options() const { return options_; }

 private:
  std::string resolve(const std::string& requested) const;  // path, or throws 404
  std::shared_ptr<LoadedModel> load_locked(std::unique_lock<std::mutex>& lock, const std::string& path);
  // Unloads idle models, least recently used first, until `need` bytes fit; throws ApiError 503 when they cannot.
  void make_room(const std::string& path, uint64_t need);
  bool busy(const std::string& path) const;  // a request holds the loaded model
  // The lowest NPU memory domain from --npu-domain on that no loaded .rkllm model holds: each model the NPU runs
  // needs a domain of its own, and a second one in the same domain fails to initialize.
  int free_npu_domain() const;
  void sweep();  // the keep-alive thread

  PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<LoadedModel>> loaded_;  // by path
  std::map<std::string, std::chrono::steady_clock::time_point> last_used_;
  std::string loading_;  // path being loaded, "" when none
  std::string load_error_;
  bool stopping_ = false;
  std::thread preload_thread_;
  std::thread sweeper_;
};

}  // namespace rkchat::server
