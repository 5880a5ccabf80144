#include "server/models.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "runtime/chat_prompt.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace rkchat::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

std::string strip_tag(std::string name) {
  if (name.ends_with(":latest")) name.resize(name.size() - 7);
  return name;
}

}  // namespace

ModelPool::ModelPool(PoolOptions options) : options_(std::move(options)) {
  options_.load.max_sequences = std::max(options_.load.max_sequences, options_.engine.parallel);
  if (!options_.models_dir.empty()) runtime::list_models(options_.models_dir);  // a clear error for a bad folder
  if (options_.keep_alive.count() > 0 && options_.model_file.empty()) sweeper_ = std::thread([this] { sweep(); });
}

ModelPool::~ModelPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (preload_thread_.joinable()) preload_thread_.join();
  if (sweeper_.joinable()) sweeper_.join();
}

std::string ModelPool::name_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

std::vector<runtime::ModelEntry> ModelPool::available() const {
  if (!options_.model_file.empty()) return {runtime::model_entry(options_.model_file)};
  try {
    return runtime::list_models(options_.models_dir);
  } catch (const backends::Error&) {
    return {};  // the folder went away: nothing to offer
  }
}

std::string ModelPool::resolve(const std::string& requested) const {
  if (!options_.model_file.empty()) return options_.model_file;  // answers any name, as llama-server does
  const auto models = available();
  const std::string want = strip_tag(requested);
  for (const auto& m : models)
    if (m.name == want || name_of(m.path) == want) return m.path;
  std::string names;
  for (const auto& m : models) names += (names.empty() ? "" : ", ") + name_of(m.path);
  if (requested.empty())
    throw bad_request("'model' is required; available: " + (names.empty() ? std::string("none") : names));
  throw not_found("model '" + requested + "' not found; available: " + (names.empty() ? "none" : names));
}

std::shared_ptr<LoadedModel> ModelPool::get(const std::string& name) {
  const std::string path = resolve(name);
  std::unique_lock lock(mu_);
  for (;;) {
    if (auto it = loaded_.find(path); it != loaded_.end()) {
      last_used_[path] = Clock::now();
      return it->second;
    }
    if (loading_.empty()) break;
    cv_.wait(lock);  // one load at a time: wait for it, then look again
    if (loading_.empty() && !load_error_.empty() && loaded_.find(path) == loaded_.end() && path == options_.model_file)
      throw ApiError(500, "server_error", "the model failed to load: " + load_error_);
  }
  return load_locked(lock, path);
}

std::shared_ptr<LoadedModel> ModelPool::load_locked(std::unique_lock<std::mutex>& lock, const std::string& path) {
  // Make room: least recently used first, beyond --max-loaded.
  while (!loaded_.empty() && static_cast<int>(loaded_.size()) >= std::max(1, options_.max_loaded)) {
    auto lru = std::min_element(last_used_.begin(), last_used_.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
    loaded_.erase(lru->first);
    last_used_.erase(lru);
  }
  auto load = options_.load;
  load.path = path;
  const bool npu = path.ends_with(".rkllm");
  if (npu) load.npu_domain = free_npu_domain();
  uint64_t need = 0;
  try {
    need = backends::load_bytes(load);
  } catch (const backends::Error&) {
    // loading says what is wrong with the file
  }
  if (!options_.models_dir.empty()) make_room(path, need);
  loading_ = path;
  load_error_.clear();
  lock.unlock();
  std::shared_ptr<LoadedModel> m;
  std::string error;
  try {
    const auto t0 = Clock::now();
    auto backend = backends::load(load);
    m = std::make_shared<LoadedModel>();
    m->name = name_of(path);
    m->path = path;
    if (backend->capabilities().token_input && backend->tokenizer())
      m->tmpl = runtime::template_for(*backend->tokenizer());
    m->engine = std::make_unique<runtime::Engine>(std::move(backend), options_.engine);
    m->load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    m->loaded_at = std::chrono::system_clock::now();
    m->bytes = need;
    m->npu_domain = npu ? load.npu_domain : -1;
  } catch (const std::exception& e) {
    error = e.what();
  }
  lock.lock();
  loading_.clear();
  load_error_ = error;
  if (m) {
    loaded_[path] = m;
    last_used_[path] = Clock::now();
  }
  cv_.notify_all();
  if (!m) throw ApiError(500, "server_error", "loading " + name_of(path) + " failed: " + error);
  return m;
}

int ModelPool::free_npu_domain() const {
  std::set<int> taken;
  for (const auto& [path, m] : loaded_) taken.insert(m->npu_domain);
  int domain = options_.load.npu_domain;
  while (taken.contains(domain)) ++domain;
  return domain;
}

bool ModelPool::busy(const std::string& path) const {
  auto it = loaded_.find(path);
  return it != loaded_.end() && it->second.use_count() > 1;
}

void ModelPool::make_room(const std::string& path, uint64_t need) {
  uint64_t avail = options_.available_memory ? options_.available_memory() : 0;
  if (need == 0 || avail == 0 || need <= avail) return;
  // The memory of an idle model comes back when it is unloaded; a busy one keeps it until its requests end.
  uint64_t idle = 0;
  for (const auto& [p, m] : loaded_)
    if (!busy(p)) idle += m->bytes;
  if (need > avail + idle)
    throw ApiError(503, "unavailable_error",
                   "model '" + name_of(path) + "' needs about " + mib(need) + " of memory (weights, activations and " +
                       "the KV cache of the context for each parallel slot), but only " + mib(avail + idle) +
                       " would be available with every idle model unloaded; lower -c or --parallel, or free memory");
  while (need > avail) {
    auto lru = last_used_.end();
    for (auto it = last_used_.begin(); it != last_used_.end(); ++it)
      if (!busy(it->first) && (lru == last_used_.end() || it->second < lru->second)) lru = it;
    avail += loaded_.at(lru->first)->bytes;
    loaded_.erase(lru->first);
    last_used_.erase(lru);
  }
}

void ModelPool::preload() {
  if (options_.model_file.empty()) return;
  {
    std::lock_guard lock(mu_);
    loading_ = options_.model_file;  // /health says "loading" from now on
  }
  preload_thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    loading_.clear();
    try {
      load_locked(lock, options_.model_file);
    } catch (const ApiError&) {
      // load_error_ holds the reason; requests get it
    }
  });
}

std::vector<std::shared_ptr<LoadedModel>> ModelPool::loaded() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<LoadedModel>> out;
  for (const auto& [path, m] : loaded_) out.push_back(m);
  return out;
}

bool ModelPool::loading() const {
  std::lock_guard lock(mu_);
  return !loading_.empty();
}

bool ModelPool::unload(const std::string& name) {
  const std::string path = resolve(name);
  std::lock_guard lock(mu_);
  last_used_.erase(path);
  return loaded_.erase(path) > 0;
}

void ModelPool::sweep() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::seconds(1));
    const auto now = Clock::now();
    for (auto it = last_used_.begin(); it != last_used_.end();) {
      if (!busy(it->first) && now - it->second > options_.keep_alive) {
        loaded_.erase(it->first);
        it = last_used_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace rkchat::server
