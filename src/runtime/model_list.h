// The model files in a folder, for `chat --models DIR` and `bench --models DIR`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rkchat::runtime {

struct ModelEntry {
  std::string path;
  std::string name;  // file name
  uint64_t size_bytes = 0;
  std::string type;       // "qwen3 Q8_0", "rkllm", or why the file cannot be used
  uint64_t n_params = 0;  // elements of a GGUF's tensors, read from its header (0: unknown, as for .rkllm)
};

// One model file: its name, size and type ("" type for a GGUF without tensors).
ModelEntry model_entry(const std::string& path);

// *.gguf and *.rkllm files, sorted by name; GGUFs without tensors (vocab-only files) are left out.
// Throws backends::Error when dir is not a readable folder.
std::vector<ModelEntry> list_models(const std::string& dir);

// $RKCHAT_MODELS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/rkchat/models (where scripts/fetch-smollm2.sh puts SmolLM2).
std::string default_models_dir();

}  // namespace rkchat::runtime
