#include "store/pull.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <thread>

#include "gguf/gguf.h"

namespace rkchat::store {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Url {
  std::string origin;  // scheme://host[:port]
  std::string path;    // /... including the query
};

Url split_url(const std::string& url) {
  static const std::regex re(R"(^(https?://[^/?#]+)(/[^#]*)?$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(url, m, re))
    throw PullError("not a download address: '" + url + "' (expected http(s)://host/path or hf:owner/repo/file)");
  return {m[1].str(), m[2].matched ? m[2].str() : "/"};
}

std::string hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string human(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// The file name a source names, without a query string.
std::string name_of(const std::string& url) {
  std::string path = split_url(url).path;
  path = path.substr(0, path.find('?'));
  return path.substr(path.rfind('/') + 1);
}

void check_name(const std::string& name) {
  const bool model_ext = name.ends_with(".gguf") || name.ends_with(".rkllm");
  if (name.empty() || name.front() == '.' || name.find('/') != std::string::npos || !model_ext)
    throw PullError("'" + name + "' is not a model file name: it must end in .gguf or .rkllm (name one with --name)");
}

// The partial file, opened for appending and locked, so two pulls of one model cannot interleave their bytes.
class PartialFile {
 public:
  explicit PartialFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw PullError(path + ": cannot write: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw PullError("another pull of " + path + " is running");
    }
  }
  ~PartialFile() { ::close(fd_); }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  uint64_t size() const { return static_cast<uint64_t>(::lseek(fd_, 0, SEEK_END)); }
  void restart() {
    if (::ftruncate(fd_, 0) != 0) throw PullError(path_ + ": cannot truncate: " + std::strerror(errno));
  }
  void append(const char* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw PullError(path_ + ": write failed: " + std::strerror(errno));
      data += w;
      n -= static_cast<size_t>(w);
    }
  }
  void sync() {
    if (::fsync(fd_) != 0) throw PullError(path_ + ": cannot flush to disk: " + std::strerror(errno));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Total size from "Content-Range: bytes a-b/total" (or "bytes */total"); 0 when absent or "*".
uint64_t range_total(const httplib::Response& res) {
  const std::string cr = res.get_header_value("Content-Range");
  const auto slash = cr.rfind('/');
  if (slash == std::string::npos) return 0;
  return std::strtoull(cr.c_str() + slash + 1, nullptr, 10);
}

uint64_t range_start(const httplib::Response& res) {
  const std::string cr = res.get_header_value("Content-Range");
  const auto space = cr.find(' ');
  return space == std::string::npos ? 0 : std::strtoull(cr.c_str() + space + 1, nullptr, 10);
}

void check_free_space(const std::string& dir, uint64_t need) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return;
  const uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (avail < need)
    throw PullError(dir + " has " + human(avail) + " free; the rest of the download needs " + human(need));
}

// One HTTP attempt: resumes from the partial file's size. Returns true when the server sent everything it has;
// false when the connection broke (the caller retries). Throws PullError for answers a retry cannot change.
class Attempt {
 public:
  Attempt(const PullOptions& o, const Url& url, PartialFile& part, const std::string& name, const ProgressSink& sink)
      : o_(o), url_(url), part_(part), name_(name), sink_(sink) {}

  bool run(uint64_t& total) {
    httplib::Client cli(url_.origin);
    cli.set_follow_location(true);
    cli.set_connection_timeout(o_.timeout_s, 0);
    cli.set_read_timeout(o_.timeout_s, 0);
    const uint64_t have = part_.size();
    httplib::Headers headers;
    if (have > 0) headers.emplace("Range", "bytes=" + std::to_string(have) + "-");
    t0_ = Clock::now();
    auto res = cli.Get(
        url_.path, headers, [&](const httplib::Response& r) { return on_headers(r, have, total); },
        [&](const char* data, size_t n) { return on_bytes(data, n, total); });
    if (error_) throw PullError(*error_);
    if (!res) return false;  // connection refused, cut or timed out: resume
    if (res->status == 416) return satisfied_range(*res, have, total);
    if (total > 0 && part_.size() < total) return false;  // the body ended early
    return true;
  }

 private:
  bool on_headers(const httplib::Response& r, uint64_t have, uint64_t& total) {
    status_ = r.status;
    if (r.status == 416) return true;
    if (r.status >= 500) return false;  // retried
    if (r.status != 200 && r.status != 206) {
      error_ = "the server answered HTTP " + std::to_string(r.status) + " for " + url_.origin + url_.path;
      return false;
    }
    if (r.status == 206 && range_start(r) == have) {
      total = range_total(r);
    } else {  // the whole file again: the server ignored the range (or sent another one)
      part_.restart();
      total =
          r.has_header("Content-Length") ? std::strtoull(r.get_header_value("Content-Length").c_str(), nullptr, 10) : 0;
    }
    if (total > 0) check_free_space(fs::path(o_.models_dir).string(), total - part_.size());
    return true;
  }

  bool on_bytes(const char* data, size_t n, uint64_t total) {
    if (status_ == 416) return true;  // the body explains the refused range; it is not the file's
    try {
      const uint64_t before = part_.size();
      if (before < 4 && !looks_like_model(data, n, before)) return false;
      part_.append(data, n);
      bytes_ += n;
      if (sink_) {
        const double s = std::chrono::duration<double>(Clock::now() - t0_).count();
        sink_({part_.size(), total, s > 0 ? static_cast<double>(bytes_) / s : 0});
      }
      return true;
    } catch (const PullError& e) {
      error_ = e.what();
      return false;
    }
  }

  // The first bytes of a .gguf must be its magic: an HTML error page or a wrong link is stopped at once.
  bool looks_like_model(const char* data, size_t n, uint64_t before) {
    if (name_.ends_with(".rkllm") || before > 0) return true;
    if (n >= 4 && std::string(data, 4) == "GGUF") return true;
    error_ = "the server is not sending a GGUF file (it starts with '" + std::string(data, std::min<size_t>(n, 16)) +
             "'): check the address";
    return false;
  }

  // 416 to "bytes=have-": complete already when the server's size is what we have, else start over.
  bool satisfied_range(const httplib::Response& res, uint64_t have, uint64_t& total) {
    total = range_total(res);
    if (total == have) return true;
    part_.restart();
    return false;
  }

  const PullOptions& o_;
  const Url& url_;
  PartialFile& part_;
  const std::string& name_;
  const ProgressSink& sink_;
  Clock::time_point t0_;
  uint64_t bytes_ = 0;
  int status_ = 0;
  std::optional<std::string> error_;
};

}  // namespace

std::string resolve_source(const std::string& source) {
  if (!source.starts_with("hf:")) return source;
  // hf:owner/repo/path/in/repo.gguf[@revision]
  std::string rest = source.substr(3), rev = "main";
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    rev = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  const auto first = rest.find('/'), second = first == std::string::npos ? first : rest.find('/', first + 1);
  if (second == std::string::npos || second + 1 >= rest.size())
    throw PullError("'" + source + "' is not hf:owner/repo/file.gguf");
  const char* env = std::getenv("HF_ENDPOINT");
  std::string endpoint = env && *env ? env : "https://huggingface.co";
  while (endpoint.ends_with("/")) endpoint.pop_back();
  return endpoint + "/" + rest.substr(0, second) + "/resolve/" + rev + "/" + rest.substr(second + 1);
}

std::string sha256_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw PullError(path + ": cannot read: " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw PullError("SHA-256 is unavailable");
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) EVP_DigestUpdate(ctx.get(), buf.data(), n);
  if (std::ferror(f.get())) throw PullError(path + ": read error");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return hex(md, len);
}

void check_model_file(const std::string& path, const std::string& name) {
  if (name.ends_with(".rkllm")) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    char head[16] = {};
    const size_t n = f ? std::fread(head, 1, sizeof head, f.get()) : 0;
    if (n == 0) throw PullError(name + ": the file is empty");
    const std::string start(head, n);
    if (start.find("<!") != std::string::npos || start.find("<html") != std::string::npos)
      throw PullError(name + ": the server sent a web page, not an .rkllm model");
    return;
  }
  try {
    const auto file = gguf::File::open(path);
    if (file->tensors().empty()) throw PullError(name + ": a GGUF without tensors (a vocabulary file), not a model");
  } catch (const gguf::Error& e) {
    throw PullError(name + ": not a valid GGUF model: " + e.what());
  }
}

PullResult pull(const PullOptions& o, const ProgressSink& progress) {
  const std::string url = resolve_source(o.source);
  const Url parts = split_url(url);
  const std::string name = o.name.empty() ? name_of(url) : o.name;
  check_name(name);
  std::error_code ec;
  fs::create_directories(o.models_dir, ec);
  if (!fs::is_directory(o.models_dir)) throw PullError("cannot create the models folder " + o.models_dir);
  const fs::path target = fs::path(o.models_dir) / name;
  const std::string partial = (fs::path(o.models_dir) / ("." + name + ".partial")).string();
  if (fs::exists(target)) {  // pulling what is there is a no-op, as with ollama pull
    PullResult r{target.string(), fs::file_size(target, ec), 0, o.sha256.empty() ? "" : sha256_file(target.string())};
    if (!o.sha256.empty() && r.sha256 != o.sha256)
      throw PullError(target.string() + " is already there with another SHA-256 (" + r.sha256 +
                      "): remove it first (rkchat rm " + name + ")");
    r.already_there = true;
    return r;
  }

  PartialFile part(partial);
  PullResult r{target.string(), 0, part.size(), ""};
  uint64_t total = 0;
  bool complete = false;
  for (int attempt = 0; !complete; ++attempt) {
    if (attempt > o.retries)
      throw PullError("the download of " + name + " broke off at " + human(part.size()) +
                      (total ? " of " + human(total) : "") + " after " + std::to_string(o.retries) +
                      " retries; run the same command again to resume");
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    try {
      complete = Attempt(o, parts, part, name, progress).run(total);
    } catch (const PullError&) {
      if (part.size() == 0) fs::remove(partial, ec);  // nothing worth resuming
      throw;
    }
  }
  part.sync();
  r.bytes = part.size();
  if (total > 0 && r.bytes != total)
    throw PullError(name + ": " + std::to_string(r.bytes) + " bytes arrived, the server announced " +
                    std::to_string(total));
  auto discard = [&](const std::string& why) {
    fs::remove(partial, ec);
    throw PullError(why + "; the download was deleted");
  };
  r.sha256 = sha256_file(partial);
  if (!o.sha256.empty() && r.sha256 != o.sha256)
    discard(name + ": SHA-256 mismatch: expected " + o.sha256 + ", got " + r.sha256);
  try {
    check_model_file(partial, name);
  } catch (const PullError& e) {
    discard(e.what());
  }
  fs::rename(partial, target, ec);
  if (ec) throw PullError("cannot move " + partial + " to " + target.string() + ": " + ec.message());
  return r;
}

}  // namespace rkchat::store
