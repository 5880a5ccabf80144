// librkllmrt.so opened with dlopen (never linked at build time) and its symbols resolved once into a table.
// The pointers are untyped here: the ABI family (abi_1_2.h / abi_1_3.h) gives them their signatures.
#pragma once

#include <memory>
#include <string>

namespace rkchat::backends::rkllm {

struct Symbols {
  void* create_default_param = nullptr;  // rkllm_createDefaultParam
  void* init = nullptr;                  // rkllm_init
  void* run = nullptr;                   // rkllm_run
  void* abort = nullptr;                 // rkllm_abort
  void* destroy = nullptr;               // rkllm_destroy
  void* clear_kv_cache = nullptr;        // rkllm_clear_kv_cache
  void* set_chat_template = nullptr;     // rkllm_set_chat_template (optional)
};

class Library {
 public:
  // Throws Error with dlerror()'s text when the file cannot be loaded, or naming the first missing symbol.
  explicit Library(const std::string& path);
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  const Symbols& symbols() const { return symbols_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
  Symbols symbols_;
};

}  // namespace rkchat::backends::rkllm
