#include "backends/rkllm/init_log.h"

#include <unistd.h>

#include <regex>

namespace rkchat::backends::rkllm {

OutputCapture::OutputCapture() {
  std::fflush(stdout);
  std::fflush(stderr);
  file_ = std::tmpfile();
  if (!file_) return;  // nothing captured: the runtime's lines go straight to the terminal
  saved_out_ = dup(STDOUT_FILENO);
  saved_err_ = dup(STDERR_FILENO);
  dup2(fileno(file_), STDOUT_FILENO);
  dup2(fileno(file_), STDERR_FILENO);
}

OutputCapture::~OutputCapture() {
  restore();
  if (file_) std::fclose(file_);
}

void OutputCapture::restore() {
  if (saved_out_ < 0) return;
  std::fflush(stdout);
  std::fflush(stderr);
  dup2(saved_out_, STDOUT_FILENO);
  dup2(saved_err_, STDERR_FILENO);
  close(saved_out_);
  close(saved_err_);
  saved_out_ = saved_err_ = -1;
}

std::string OutputCapture::text() {
  restore();
  if (!file_) return {};
  std::string out;
  std::rewind(file_);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
  return out;
}

InitLog parse_init_log(const std::string& text) {
  auto field = [&](const char* key) {
    const std::regex re(std::string(key) + R"(:\s*v?([^,\s]+))");
    std::smatch m;
    return std::regex_search(text, m, re) ? m[1].str() : std::string();
  };
  InitLog log;
  log.runtime_version = field("rkllm-runtime version");
  log.driver_version = field("rknpu driver version");
  log.toolkit_version = field("rkllm-toolkit version");
  log.platform = field("target_platform");
  if (log.platform.empty()) log.platform = field("platform");
  log.model_dtype = field("model_dtype");
  const std::string limit = field("max_context_limit");
  if (!limit.empty() && limit.find_first_not_of("0123456789") == std::string::npos && limit.size() < 9) {
    log.max_context_limit = std::stoi(limit);
  }
  return log;
}

}  // namespace rkchat::backends::rkllm
