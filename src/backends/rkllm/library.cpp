#include "backends/rkllm/library.h"

#include <dlfcn.h>

#include "backends/backend.h"

namespace rkchat::backends::rkllm {

namespace {

struct SymbolSpec {
  const char* name;
  void* Symbols::*slot;
  bool required;
};

constexpr SymbolSpec kSymbols[] = {
    {"rkllm_createDefaultParam", &Symbols::create_default_param, true},
    {"rkllm_init", &Symbols::init, true},
    {"rkllm_run", &Symbols::run, true},
    {"rkllm_abort", &Symbols::abort, true},
    {"rkllm_destroy", &Symbols::destroy, true},
    {"rkllm_clear_kv_cache", &Symbols::clear_kv_cache, true},
    {"rkllm_set_chat_template", &Symbols::set_chat_template, false},
};

}  // namespace

Library::Library(const std::string& path) : path_(path) {
  // RTLD_LOCAL: the runtime's own dependencies must not leak into the global namespace of rkchat.
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* why = dlerror();
    throw Error("cannot load the RKLLM runtime " + path + ": " + (why ? why : "unknown error") +
                " (it must be the aarch64 librkllmrt.so from github.com/airockchip/rknn-llm)");
  }
  for (const auto& spec : kSymbols) {
    void* p = dlsym(handle_, spec.name);
    if (!p && spec.required) {
      dlclose(handle_);
      handle_ = nullptr;
      throw Error("the RKLLM runtime " + path + " lacks the symbol " + spec.name +
                  ": it is not a runtime rkchat supports (1.2.1-1.3.x); install a matching librkllmrt.so");
    }
    symbols_.*spec.slot = p;
  }
}

Library::~Library() {
  if (handle_) dlclose(handle_);
}

}  // namespace rkchat::backends::rkllm
