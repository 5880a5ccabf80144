#include "runtime/model_list.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "backends/backend.h"
#include "gguf/gguf.h"

namespace rkchat::runtime {
namespace {

namespace fs = std::filesystem;

// Architecture and the weight type holding most of the bytes, e.g. "qwen3 Q8_0" ("" for a file with no tensors),
// and the parameter count, from the header alone (listing a folder reads no weights).
void read_gguf_header(ModelEntry& m) {
  try {
    const auto file = gguf::File::open(m.path);
    m.type = "";
    if (file->tensors().empty()) return;
    std::map<std::string, uint64_t> bytes_by_type;
    for (const auto& t : file->tensors()) {
      bytes_by_type[gguf::type_name(t.type)] += t.nbytes;
      m.n_params += static_cast<uint64_t>(t.n_elements());
    }
    auto main_type = std::max_element(bytes_by_type.begin(), bytes_by_type.end(), [](const auto& a, const auto& b) {
                       return a.second < b.second;
                     })->first;
    std::transform(main_type.begin(), main_type.end(), main_type.begin(), ::toupper);
    m.type = file->get_string_opt("general.architecture").value_or("?") + " " + main_type;
  } catch (const std::exception& e) {
    m.type = std::string("unreadable: ") + e.what();
  }
}

}  // namespace

ModelEntry model_entry(const std::string& path) {
  std::error_code ec;
  ModelEntry m{path, fs::path(path).filename().string(), fs::file_size(path, ec), "rkllm"};
  if (ec) m.size_bytes = 0;
  if (fs::path(path).extension() == ".gguf") read_gguf_header(m);
  return m;
}

std::vector<ModelEntry> list_models(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw backends::Error("no such folder: " + dir);
  std::vector<ModelEntry> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".gguf" && ext != ".rkllm")) continue;
    ModelEntry m = model_entry(entry.path().string());
    if (m.type.empty()) continue;
    out.push_back(std::move(m));
  }
  if (ec) throw backends::Error("cannot read the folder " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
  return out;
}

std::string default_models_dir() {
  if (const char* env = std::getenv("RKCHAT_MODELS_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/rkchat/models";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/rkchat/models";
}

}  // namespace rkchat::runtime
