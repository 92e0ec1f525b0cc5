// Progress of a long command on stderr, when stderr is a terminal: one line redrawn in place,
// a bar, how far it is ("35/70 replays") and an estimate of the time left; nothing at all when
// stderr is piped or a file, so logs and scripts see only the results.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace vxpu {

class Progress {
 public:
  // `total` units of work, `unit` naming them ("replays", "s").
  Progress(double total, std::string unit);
  ~Progress();  // clears the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(double done);  // thread-safe
  void Set(double done);  // thread-safe

  // The line as drawn after `elapsed_s` with `done` of `total` done (for tests and the drawer).
  static std::string Line(double done, double total, const std::string& unit, double elapsed_s);

 private:
  void DrawLine();
  void Draw();  // the drawer thread: the line again every 200 ms until stopped
  const double total_;
  const std::string unit_;
  const bool shown_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<double> done_{0};
  std::mutex mu_;
  std::condition_variable stop_;
  bool stopping_ = false;  // guarded by mu_
  std::thread drawer_;
};

}  // namespace vxpu
