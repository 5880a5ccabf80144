// The checks on every file the command line names, in one place: inputs must be regular files (a FIFO would block,
// a device or a directory would read forever or nothing), text inputs have a size cap, and outputs must be writable
// where they are and are flushed and checked, so that a command never reports a write that did not happen.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace rkchat::cli {

// Largest text file a command reads (prompts, texts to score, templates, JSON messages).
inline constexpr uint64_t kMaxTextFileBytes = 16ull << 20;

// What `path` is, for messages: "a directory", "a FIFO", "a character device", ... or "" for a regular file.
std::string file_kind(const std::string& path);

// Throws std::runtime_error naming `path` and the problem unless it is a readable regular file (of at most
// max_bytes when given).
void check_input_file(const std::string& path, const std::string& what, uint64_t max_bytes = 0);
// The whole text of a checked input file.
std::string read_text_file(const std::string& path, const std::string& what);
// Throws unless `path` is an existing, readable directory.
void check_input_dir(const std::string& path, const std::string& what);

// Throws unless `path` can be written: a regular file or a new name in an existing writable directory.
// in_place: the file is opened and written where it is, so a character device such as /dev/null is fine too;
// otherwise the file is written next to it and renamed over it (only a regular file may be replaced).
// need_bytes: free space the directory must have.
void check_output_file(const std::string& path, const std::string& what, bool in_place, uint64_t need_bytes = 0);
// Writes `data` to a checked output file; throws when any write, the flush or the close fails.
void write_output_file(const std::string& path, const std::string& data, const std::string& what);

// CLI11 validators over the checks above, so that a bad file is refused before anything is loaded.
CLI::Validator model_file();  // -m: a regular file (the loader then checks the contents)
CLI::Validator text_file();   // a regular file of at most kMaxTextFileBytes
CLI::Validator input_dir();
CLI::Validator output_file();  // written in place

}  // namespace rkchat::cli
