#include "cli/files.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace rkchat::cli {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw std::runtime_error(path + ": " + problem);
}

[[noreturn]] void fail_stat(const std::string& path, const std::string& what) {
  if (errno == ENOENT) fail(path, "the " + what + " does not exist");
  fail(path, "cannot open the " + what + ": " + std::strerror(errno));
}

std::string mb(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

std::string validate(const std::function<void(const std::string&)>& check, const std::string& path) {
  try {
    check(path);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace

std::string file_kind(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "missing";
  return kind_of(st.st_mode);
}

void check_input_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  if (path.empty()) throw std::runtime_error("the " + what + " path is empty");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) fail_stat(path, what);
  if (!S_ISREG(st.st_mode)) fail(path, "the " + what + " is " + kind_of(st.st_mode) + ", not a regular file");
  if (access(path.c_str(), R_OK) != 0) fail(path, "cannot read the " + what + ": " + std::strerror(errno));
  if (max_bytes > 0 && static_cast<uint64_t>(st.st_size) > max_bytes) {
    fail(path, fmt::format("the {} is {}, more than the {} this command reads", what,
                           mb(static_cast<uint64_t>(st.st_size)), mb(max_bytes)));
  }
}

std::string read_text_file(const std::string& path, const std::string& what) {
  check_input_file(path, what, kMaxTextFileBytes);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) fail(path, "cannot read the " + what + ": " + std::strerror(errno));
  std::string text;
  char chunk[65536];
  // Bounded again while reading: the file may grow after the check.
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0;) {
    text.append(chunk, n);
    if (text.size() > kMaxTextFileBytes) fail(path, "the " + what + " grew past " + mb(kMaxTextFileBytes));
  }
  if (std::ferror(f.get())) fail(path, "cannot read the " + what + ": " + std::strerror(errno));
  return text;
}

void check_input_dir(const std::string& path, const std::string& what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) fail_stat(path, what);
  if (!S_ISDIR(st.st_mode))
    fail(path, "the " + what + " is " + (S_ISREG(st.st_mode) ? "a file" : kind_of(st.st_mode)) + ", not a directory");
  if (access(path.c_str(), R_OK | X_OK) != 0) fail(path, "cannot read the " + what + ": " + std::strerror(errno));
}

void check_output_file(const std::string& path, const std::string& what, bool in_place, uint64_t need_bytes) {
  if (path.empty()) throw std::runtime_error("the " + what + " path is empty");
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    const bool ok = S_ISREG(st.st_mode) || (in_place && S_ISCHR(st.st_mode));
    if (!ok) {
      fail(path, "the " + what + " is " + kind_of(st.st_mode) +
                     (in_place ? "; give a regular file or a new name"
                               : "; give a regular file or a new name (it is written next to it, then renamed)"));
    }
    if (access(path.c_str(), W_OK) != 0) fail(path, "cannot write the " + what + ": " + std::strerror(errno));
  } else if (errno != ENOENT) {
    fail(path, "cannot write the " + what + ": " + std::strerror(errno));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (stat(dir.c_str(), &st) != 0) fail(path, "cannot write the " + what + ": " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) fail(path, "cannot write the " + what + ": " + dir + " is not a directory");
  // Replacing a file needs the directory writable; writing in place only needs the file (checked above).
  const bool creates = !in_place || file_kind(path) == "missing";
  if (creates && access(dir.c_str(), W_OK | X_OK) != 0)
    fail(path, "cannot write the " + what + ": " + dir + ": " + std::strerror(errno));
  if (need_bytes > 0) {
    struct statvfs fs {};
    if (statvfs(dir.c_str(), &fs) == 0) {
      const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
      if (free_bytes < need_bytes) {
        fail(path, fmt::format("the {} needs {} and {} has {} free", what, mb(need_bytes), dir, mb(free_bytes)));
      }
    }
  }
}

void write_output_file(const std::string& path, const std::string& data, const std::string& what) {
  check_output_file(path, what, /*in_place=*/true);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail(path, "cannot write the " + what + ": " + std::strerror(errno));
  const bool written = std::fwrite(data.data(), 1, data.size(), f) == data.size() && std::fflush(f) == 0;
  const int err = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) fail(path, "writing the " + what + " failed: " + std::strerror(written ? errno : err));
}

CLI::Validator model_file() {
  return {[](std::string& p) { return validate([](const std::string& s) { check_input_file(s, "model file"); }, p); },
          "FILE"};
}

CLI::Validator text_file() {
  return {[](std::string& p) {
            return validate([](const std::string& s) { check_input_file(s, "input file", kMaxTextFileBytes); }, p);
          },
          "FILE"};
}

CLI::Validator input_dir() {
  return {[](std::string& p) { return validate([](const std::string& s) { check_input_dir(s, "folder"); }, p); },
          "DIR"};
}

CLI::Validator output_file() {
  return {[](std::string& p) {
            return validate([](const std::string& s) { check_output_file(s, "output file", true); }, p);
          },
          "FILE"};
}

}  // namespace rkchat::cli
