// `rkchat pull`: a model downloaded into the models folder, with a progress bar; an interrupted pull resumes, and
// nothing half-downloaded is ever listed as a model (store/pull.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>

#include "cli/commands.h"
#include "runtime/model_list.h"
#include "store/pull.h"

namespace rkchat::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// Redraws one line on a terminal every 100 ms; elsewhere (logs, CI) writes a line every 10 s.
class ProgressBar {
 public:
  ProgressBar() : tty_(::isatty(2) != 0) {}
  void update(const store::Progress& p) {
    const auto now = Clock::now();
    latest_ = p;
    if (now - last_ < (tty_ ? std::chrono::milliseconds(100) : std::chrono::seconds(10))) return;
    last_ = now;
    draw(p);
  }
  // The last figures stay on the screen.
  void end() {
    if (!tty_ || !drawn_) return;
    draw(latest_);
    std::fputc('\n', stderr);
  }

 private:
  void draw(const store::Progress& p) {
    std::string line = mb(p.done);
    if (p.total > 0) {
      char pct[16];
      std::snprintf(pct, sizeof pct, "%5.1f%% ", 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total));
      line = pct + line + " / " + mb(p.total);
    }
    line += "  " + mb(static_cast<uint64_t>(p.rate)) + "/s";
    if (p.total > p.done && p.rate > 0) {
      const auto eta = static_cast<long>(static_cast<double>(p.total - p.done) / p.rate);
      char buf[32];
      std::snprintf(buf, sizeof buf, "  ETA %ld:%02ld", eta / 60, eta % 60);
      line += buf;
    }
    std::fprintf(stderr, tty_ ? "\r%-70s" : "%s\n", line.c_str());
    drawn_ = true;
  }

  bool tty_;
  store::Progress latest_;
  bool drawn_ = false;
  Clock::time_point last_{};
};

int run_pull(const store::PullOptions& o) {
  std::fprintf(stderr, "pulling %s into %s\n", store::resolve_source(o.source).c_str(), o.models_dir.c_str());
  ProgressBar bar;
  store::PullResult r;
  try {
    r = store::pull(o, [&](const store::Progress& p) { bar.update(p); });
  } catch (...) {
    bar.end();
    throw;
  }
  bar.end();
  if (r.already_there) {
    std::printf("%s is already there (%s)\n", r.path.c_str(), mb(r.bytes).c_str());
    return 0;
  }
  std::printf("%s: %s, sha256 %s%s\n", r.path.c_str(), mb(r.bytes).c_str(), r.sha256.c_str(),
              r.resumed_from ? (", resumed from " + mb(r.resumed_from)).c_str() : "");
  return 0;
}

}  // namespace

void add_pull(CLI::App& app, Runner& run) {
  auto o = std::make_shared<store::PullOptions>();
  o->models_dir = runtime::default_models_dir();
  auto* cmd = app.add_subcommand("pull", "Download a model into the models folder (resumable, verified)");
  cmd->add_option("source", o->source, "http(s)://host/path/model.gguf, or hf:owner/repo/file.gguf[@revision]")
      ->required();
  cmd->add_option("--models", o->models_dir, "Models folder (default: $RKCHAT_MODELS_DIR or ~/.cache/rkchat/models)")
      ->capture_default_str();
  cmd->add_option("--name", o->name, "File name in the folder (default: the source's file name)");
  cmd->add_option("--sha256", o->sha256, "Expected SHA-256 (hex); a mismatch deletes the download")
      ->check(CLI::Validator(
          [](std::string& h) {
            for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return std::regex_match(h, std::regex("[0-9a-f]{64}")) ? "" : "a SHA-256 is 64 hexadecimal digits";
          },
          "HEX64"));
  cmd->add_option("--retries", o->retries, "Reconnects after a broken connection, each resuming")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout_s, "Seconds without data before a connection counts as broken")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->callback([o, &run] { run = [o] { return run_pull(*o); }; });
}

}  // namespace rkchat::cli
