#include "cli/terminal_input.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <system_error>

#ifdef RKCHAT_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace rkchat::cli {
namespace {

volatile sig_atomic_t g_signal_fd = -1;
TerminalInput* g_input = nullptr;  // for libedit's getc hook, which takes no context
std::mutex g_on_interrupt_mutex;
struct sigaction g_old_action {};

extern "C" void on_sigint(int) {
  const int saved = errno;
  if (g_signal_fd >= 0) {
    const char byte = 1;
    [[maybe_unused]] const auto n = write(g_signal_fd, &byte, 1);
  }
  errno = saved;
}

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
}

// A line longer than this (input without newlines, e.g. from /dev/zero) is refused rather than buffered.
constexpr size_t kMaxLineBytes = 16u << 20;

#ifdef RKCHAT_HAVE_LIBEDIT
extern "C" int libedit_getc(FILE*) { return g_input->getc(); }

// libedit counts every byte of the prompt as a column unless it sits between two RL_PROMPT_START_IGNORE bytes
// (its readline layer sets EL_PROMPT_ESC with that literal-start character), and a miscounted prompt is redrawn
// with its escape sequences cut: "[1m>>> [0m". So each CSI sequence (ESC [ ... final byte) is marked.
std::string mark_invisible(const std::string& prompt) {
  std::string out;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] != '\033' || i + 1 >= prompt.size() || prompt[i + 1] != '[') {
      out += prompt[i];
      continue;
    }
    size_t end = i + 2;
    while (end < prompt.size() && !(prompt[end] >= 0x40 && prompt[end] <= 0x7e)) ++end;
    out += RL_PROMPT_START_IGNORE;
    out.append(prompt, i, end + 1 - i);
    out += RL_PROMPT_START_IGNORE;
    i = end;
  }
  return out;
}
#endif

}  // namespace

TerminalInput::TerminalInput(bool interactive) : interactive_(interactive) {
  make_pipe(signal_pipe_);
  make_pipe(wake_pipe_);
  g_input = this;
  g_signal_fd = signal_pipe_[1];
  // The watcher must not take SIGINT itself: block it while the thread is created (it inherits the mask).
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  watcher_ = std::thread([this] { watch(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_action);
#ifdef RKCHAT_HAVE_LIBEDIT
  if (interactive_) {
    rl_catch_signals = 0;
    rl_getc_function = libedit_getc;
    using_history();
  }
#endif
}

TerminalInput::~TerminalInput() {
  sigaction(SIGINT, &g_old_action, nullptr);
  g_signal_fd = -1;
  close(signal_pipe_[1]);  // ends the watcher
  watcher_.join();
  close(signal_pipe_[0]);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
  g_input = nullptr;
}

void TerminalInput::watch() {
  char byte;
  for (;;) {
    const ssize_t n = read(signal_pipe_[0], &byte, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
    if (n < 0) continue;
    std::lock_guard lock(g_on_interrupt_mutex);
    if (generating_ && on_interrupt_) {
      on_interrupt_();
    } else {
      [[maybe_unused]] const auto w = write(wake_pipe_[1], &byte, 1);
    }
  }
}

void TerminalInput::set_generating(std::function<void()> on_interrupt) {
  std::lock_guard lock(g_on_interrupt_mutex);
  on_interrupt_ = std::move(on_interrupt);
  generating_ = true;
}

void TerminalInput::clear_generating() {
  std::lock_guard lock(g_on_interrupt_mutex);
  generating_ = false;
  on_interrupt_ = nullptr;
}

int TerminalInput::getc() {
  while (next_ >= buffer_.size()) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (fds[1].revents & POLLIN) {
      char drain[16];
      [[maybe_unused]] const auto n = read(wake_pipe_[0], drain, sizeof drain);
      interrupted_ = true;
      return -1;
    }
    char chunk[4096];
    const ssize_t n = read(STDIN_FILENO, chunk, interactive_ ? 1 : sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buffer_.assign(chunk, static_cast<size_t>(n));
    next_ = 0;
  }
  return static_cast<unsigned char>(buffer_[next_++]);
}

TerminalInput::Result TerminalInput::read_plain(std::string& line) {
  line.clear();
  for (;;) {
    const int c = getc();
    if (c < 0) return interrupted_.exchange(false) ? Result::interrupted : line.empty() ? Result::end : Result::line;
    if (c == '\n') return Result::line;
    if (line.size() >= kMaxLineBytes)
      throw std::runtime_error("an input line is longer than " + std::to_string(kMaxLineBytes >> 20) + " MB");
    line += static_cast<char>(c);
  }
}

TerminalInput::Result TerminalInput::read_line(const std::string& prompt, std::string& line) {
#ifdef RKCHAT_HAVE_LIBEDIT
  if (interactive_) {
    char* got = readline(mark_invisible(prompt).c_str());
    if (interrupted_.exchange(false)) {
      std::free(got);
      return Result::interrupted;
    }
    if (!got) return Result::end;
    line = got;
    std::free(got);
    if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
    return Result::line;
  }
#endif
  if (interactive_) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  auto r = read_plain(line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return r;
}

}  // namespace rkchat::cli
