#pragma once
// Running a built program from a test: its exit code and output, with deadlines (never a fixed
// sleep). Header-only, shared by the integration tests of the applications (node_app, ctl,
// embed_example); their endpoints are read with apps/lib/http_client.hpp.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace parti::test {

/// True when `text` (a program's output) contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The path of a program built from apps/<name>/.
inline std::string app_binary(const std::string& name) {
  return std::string(PARTI_BINARY_DIR) + "/apps/" + name;
}

/// A child process whose stdout and stderr are collected by a thread of ours. The destructor
/// kills the child (SIGKILL) if it still runs, so a failing test leaves nothing behind.
class child_program {
 public:
  explicit child_program(const std::vector<std::string>& argv, const std::string& cwd = {}) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) exec_child(argv, cwd, out[1], err[1]);
    ::close(out[1]);
    ::close(err[1]);
    reader_ = std::thread([this, o = out[0], e = err[0]] { collect(o, e); });
  }

  ~child_program() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      wait(std::chrono::seconds(10));
    }
    if (reader_.joinable()) reader_.join();
  }

  child_program(const child_program&) = delete;
  child_program& operator=(const child_program&) = delete;

  pid_t pid() const { return pid_; }

  void signal(int sig) {
    if (!exited_) ::kill(pid_, sig);
  }

  /// The exit code (128 + n when killed by signal n), or nothing when it still runs at the
  /// deadline. Once it returned a code, the output is complete.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (reader_.joinable()) reader_.join();  // EOF on both pipes: the output is complete
    return code_;
  }

  std::string out() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return out_;
  }
  std::string err() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return err_;
  }
  /// Both streams, for failure messages.
  std::string output() const { return "--- stdout:\n" + out() + "--- stderr:\n" + err(); }

 private:
  [[noreturn]] static void exec_child(const std::vector<std::string>& argv, const std::string& cwd,
                                      int out, int err) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test takes its children along
    ::dup2(out, 1);
    ::dup2(err, 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }

  void collect(int out, int err) {
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    int open_fds = 2;
    char buffer[4096];
    while (open_fds > 0) {
      if (::poll(fds, 2, -1) < 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
          continue;
        }
        std::lock_guard<std::mutex> guard(mutex_);
        (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
      }
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string out_, err_;
};

struct program_result {
  int code = -1;  // -1: it did not finish in time (and was killed)
  std::string out;
  std::string err;
  std::string output() const { return "--- stdout:\n" + out + "--- stderr:\n" + err; }
};

/// Runs a program to its end (or kills it at the deadline).
inline program_result run_program(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                  const std::string& cwd = {}) {
  child_program child(argv, cwd);
  auto code = child.wait(timeout);
  if (!code) {
    child.signal(SIGKILL);
    child.wait(std::chrono::seconds(10));
  }
  return {code ? *code : -1, child.out(), child.err()};
}

/// The port of the HTTP endpoint (/status, /metrics, /healthz) that a parti-node started with
/// --metrics-address=127.0.0.1:0 announces on stderr (`err`); 0 until it has.
inline int status_port(const std::string& err) {
  std::smatch m;
  if (std::regex_search(err, m, std::regex("/status on http://127\\.0\\.0\\.1:([0-9]+)")))
    return std::stoi(m[1]);
  return 0;
}

inline int status_port(const child_program& p) {
  return status_port(p.err());
}

}  // namespace parti::test
