#include "cli/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/text_bar.h"

namespace vxpu {

Progress::Progress(double total, std::string unit)
    : total_(total), unit_(std::move(unit)), shown_(isatty(STDERR_FILENO) == 1 && total > 0) {
  if (!shown_) return;
  DrawLine();  // here, not only in the drawer: work done before it first runs is still shown begun
  drawer_ = std::thread([this] { Draw(); });
}

Progress::~Progress() {
  if (!shown_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_.notify_all();
  drawer_.join();
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void Progress::Add(double done) { done_.fetch_add(done); }

void Progress::Set(double done) { done_ = done; }

std::string Progress::Line(double done, double total, const std::string& unit, double elapsed_s) {
  double fraction = std::clamp(done / total, 0.0, 1.0);
  std::string left = "estimating";
  if (fraction > 0.02 && elapsed_s > 0.5) left = fmt::format("~{:.0f} s left", elapsed_s * (1 - fraction) / fraction);
  bool whole = std::floor(total) == total && total >= 10;
  std::string count =
      whole ? fmt::format("{:.0f}/{:.0f} {}", done, total, unit) : fmt::format("{:.1f}/{:.1f} {}", done, total, unit);
  return fmt::format("[{}] {:3.0f}%  {}, {}", TextBar(100 * fraction, 30), 100 * fraction, count, left);
}

void Progress::DrawLine() {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "\r\033[K{}", Line(done_.load(), total_, unit_, elapsed));
  std::fflush(stderr);
}

void Progress::Draw() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) DrawLine();
}

}  // namespace vxpu
