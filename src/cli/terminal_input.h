// Line input for `rkchat chat` and Ctrl-C handling. SIGINT writes a byte to a pipe (async-signal-safe); a
// watcher thread reads it and either stops the answer being generated or, at the prompt, wakes the line reader,
// which waits on stdin and that wake-up together. On a terminal, lines come through libedit (editing, history).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace rkchat::cli {

class TerminalInput {
 public:
  enum class Result { line, end, interrupted };

  explicit TerminalInput(bool interactive);  // interactive: libedit with prompts (when linked)
  ~TerminalInput();
  TerminalInput(const TerminalInput&) = delete;
  TerminalInput& operator=(const TerminalInput&) = delete;

  Result read_line(const std::string& prompt, std::string& line);
  // While set, Ctrl-C calls on_interrupt (from the watcher thread) instead of interrupting read_line.
  void set_generating(std::function<void()> on_interrupt);
  void clear_generating();

  // One byte of stdin, or -1 at end of input or on Ctrl-C (then interrupted() tells which).
  int getc();

 private:
  Result read_plain(std::string& line);
  void watch();

  bool interactive_;
  int signal_pipe_[2] = {-1, -1};  // SIGINT handler -> watcher
  int wake_pipe_[2] = {-1, -1};    // watcher -> line reader
  std::atomic<bool> interrupted_{false};
  std::function<void()> on_interrupt_;
  std::atomic<bool> generating_{false};
  std::thread watcher_;
  std::string buffer_;  // bytes read from stdin; those from next_ on are not yet returned
  size_t next_ = 0;
};

}  // namespace rkchat::cli
