// Paths that are not regular files: each is refused at once with what it is (a named pipe used to block open()
// forever waiting for a writer; /dev/null used to report a stale errno).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gguf/gguf.h"

namespace {

std::string open_error(const std::string& path) {
  try {
    rkchat::gguf::File::open(path);
  } catch (const rkchat::gguf::Error& e) {
    return e.what();
  }
  return "";
}

TEST(SpecialFiles, NamedPipeIsRefusedWithoutBlocking) {
  const auto dir = std::filesystem::temp_directory_path() / ("rkchat-fifo-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string fifo = (dir / "model.gguf").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string msg = open_error(fifo);  // before the fix this call never returned
  std::filesystem::remove_all(dir);
  EXPECT_NE(msg.find("named pipe"), std::string::npos) << msg;
}

TEST(SpecialFiles, DeviceAndFolderAreNamed) {
  EXPECT_EQ(open_error("/dev/null"), "/dev/null is a device, not a GGUF file");
  EXPECT_NE(open_error(std::filesystem::temp_directory_path().string()).find("is a folder"), std::string::npos);
}

}  // namespace
