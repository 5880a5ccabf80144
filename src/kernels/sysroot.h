// Reads system files (/proc, /sys, the device tree) under a root folder, so that tests can present a fake machine
// ("/" is the machine itself). Used by the core topology here and by rkchat doctor.
#pragma once

#include <string>
#include <vector>

namespace rkchat::kernels {

class Sysroot {
 public:
  explicit Sysroot(std::string root) : root_(std::move(root)) {}
  bool is_host() const { return root_.empty() || root_ == "/"; }
  std::string path(const std::string& abs) const { return is_host() ? abs : root_ + abs; }
  // Contents (trailing whitespace and NULs trimmed); "" when absent, unreadable or not a regular file (a named pipe
  // in its place would block the read forever, a device never end).
  std::string read(const std::string& abs) const;
  bool exists(const std::string& abs) const;
  // Names in a folder, sorted; empty when absent.
  std::vector<std::string> list(const std::string& abs) const;

 private:
  std::string root_;
};

}  // namespace rkchat::kernels
