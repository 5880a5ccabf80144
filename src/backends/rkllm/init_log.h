// What the runtime prints while rkllm_init runs: captured (it writes to our stdout/stderr directly), passed on
// to stderr, and read for facts the API does not give: the runtime's own version, the model's context limit.
#pragma once

#include <cstdio>
#include <string>

namespace rkchat::backends::rkllm {

// Redirects file descriptors 1 and 2 into a temporary file until text() is called or the object dies.
// Only for the short, single-threaded moments around rkllm_init.
class OutputCapture {
 public:
  OutputCapture();
  ~OutputCapture();
  OutputCapture(const OutputCapture&) = delete;
  OutputCapture& operator=(const OutputCapture&) = delete;
  // Restores the descriptors and returns what was written meanwhile.
  std::string text();

 private:
  void restore();
  int saved_out_ = -1, saved_err_ = -1;
  std::FILE* file_ = nullptr;
};

// "rkllm-runtime version: 1.2.1, rknpu driver version: 0.9.8, platform: RK3588"
// "rkllm-toolkit version: 1.2.1b1, max_context_limit: 4096, npu_core_num: 3, target_platform: RK3588, model_dtype:
// W8A8"
struct InitLog {
  std::string runtime_version;
  std::string driver_version;
  std::string toolkit_version;
  std::string platform;
  std::string model_dtype;
  int max_context_limit = 0;  // 0: not stated
};
InitLog parse_init_log(const std::string& text);

}  // namespace rkchat::backends::rkllm
