#include "kernels/sysroot.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace rkchat::kernels {

namespace fs = std::filesystem;

std::string Sysroot::read(const std::string& abs) const {
  std::string s;
  std::error_code ec;
  const std::string p = path(abs);
  if (!fs::is_regular_file(p, ec)) return s;
  // Read to the end: /proc and /sys files state a size of 0 or 4096, whatever they hold.
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) return s;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  std::fclose(f);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0' || s.back() == '\t')) s.pop_back();
  return s;
}

bool Sysroot::exists(const std::string& abs) const {
  std::error_code ec;
  return fs::exists(path(abs), ec);
}

std::vector<std::string> Sysroot::list(const std::string& abs) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path(abs), ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace rkchat::kernels
