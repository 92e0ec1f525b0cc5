// Test and benchmark support: a TCP relay that adds a fixed one-way delay in each direction,
// standing in for a network path with latency where the kernel has no netem qdisc.
//
// It listens on a port the kernel picks and relays every connection it accepts to the one target
// it was given (it never connects anywhere else), bytes in order, each chunk delivered no earlier
// than its arrival at the relay plus the delay. TCP_NODELAY is set on both sides.
// While partitioned it forwards nothing in either direction and closes nothing: bytes are held,
// not dropped (they wait in the relay and in the kernel's socket buffers) and flow again, each a
// delay after it is read, once the partition ends. SetPartitioned, address and connections may
// be called from any thread; Stop() (or the destructor) closes every connection.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace vxpu::test {

class DelayRelay {
 public:
  DelayRelay();
  DelayRelay(const DelayRelay&) = delete;
  DelayRelay& operator=(const DelayRelay&) = delete;
  ~DelayRelay();  // Stop()

  // Listens on `listen_host` (numeric, e.g. "127.0.0.1" or "::1") and relays to
  // `target_host_port` ("HOST:PORT" or "[V6]:PORT"). False with *error if it cannot.
  bool Start(const std::string& listen_host, const std::string& target_host_port,
             std::chrono::microseconds one_way_delay, std::string* error);
  // "HOST:PORT" it listens on (valid after Start succeeded).
  std::string address() const { return address_; }
  // While true, nothing is forwarded (held, not dropped; see above).
  void SetPartitioned(bool partitioned) { partitioned_ = partitioned; }
  // Closes the listener and every connection; waits for the relay's threads. Idempotent.
  void Stop();
  // Connections accepted so far.
  int connections() const { return accepted_; }

 private:
  struct Link;

  void AcceptLoop();
  void Pump(Link* link, int from, int to);  // one direction of one connection
  void ReapFinishedLinks();

  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd, readable once Stop began: wakes every poll
  std::string address_;
  std::string target_;  // for messages
  sockaddr_storage target_addr_{};
  socklen_t target_len_ = 0;
  std::chrono::microseconds delay_{0};
  std::atomic<bool> partitioned_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;  // links_
  std::list<std::unique_ptr<Link>> links_;
};

}  // namespace vxpu::test
