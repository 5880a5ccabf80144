// `rkchat pull`: a model file downloaded into the models folder so that it is either complete and verified or not
// there at all. Bytes go to "<dir>/.<name>.partial"; an interrupted download resumes from it (HTTP Range); the file
// is renamed into place only once its size (and SHA-256, when given) check out and its content is a model.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace rkchat::store {

// A download that did not complete or did not verify; the message says what and whether a rerun resumes.
class PullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PullOptions {
  std::string source;      // http(s)://host/path/file.gguf or hf:owner/repo/path/file.gguf[@revision]
  std::string models_dir;  // created when missing
  std::string name;        // file name in the folder; "" = the source's last path component
  std::string sha256;      // expected lowercase hex digest; "" = size check only
  int retries = 5;         // reconnects after a cut connection, each resuming where the last stopped
  int timeout_s = 30;      // connect and read timeout
};

struct Progress {
  uint64_t done = 0;   // bytes in the partial file
  uint64_t total = 0;  // 0 while unknown
  double rate = 0;     // bytes/s over the current connection
};
using ProgressSink = std::function<void(const Progress&)>;

struct PullResult {
  std::string path;  // where the model now is
  uint64_t bytes = 0;
  uint64_t resumed_from = 0;   // bytes already there from an earlier attempt
  std::string sha256;          // of the file ("" when it was already there and no digest was asked for)
  bool already_there = false;  // the folder held the file already: nothing was downloaded
};

// A URL for a source: hf:owner/repo/file -> $HF_ENDPOINT (default the Hugging Face hub)/owner/repo/resolve/REV/file.
std::string resolve_source(const std::string& source);

// Downloads, verifies and moves into place. Throws PullError.
PullResult pull(const PullOptions& options, const ProgressSink& progress);

// Lowercase hex SHA-256 of a file. Throws PullError when unreadable.
std::string sha256_file(const std::string& path);

// Throws PullError unless `path` holds a model rkchat can list: a valid GGUF, or a file named *.rkllm (a closed
// format: only its name and a non-empty, non-HTML body are checked).
void check_model_file(const std::string& path, const std::string& name);

}  // namespace rkchat::store
