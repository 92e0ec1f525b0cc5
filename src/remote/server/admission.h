// Who gets a connection to `vxpu remoted` served, and when. A connection is pending from accept
// until its Hello is judged, and only then a session, counted against --max-sessions: clients
// that never say Hello cannot keep others out. One address has at most kMaxPendingPerPeer
// pending connections (and the server kMaxPending); an address whose tokens keep failing is
// turned away for a time that doubles with each failure past the first few. Pure: times are
// passed in.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace vxpu::remote {

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kMaxPendingPerPeer = 8;
  static constexpr int kMaxPending = 128;
  static constexpr int kFreeFailures = 3;  // mistyped tokens before any wait
  static constexpr std::chrono::milliseconds kFirstWait{250};
  static constexpr std::chrono::milliseconds kLongestWait{30000};
  static constexpr std::chrono::seconds kForgiveAfter{60};  // failures are forgotten after this quiet

  explicit Admission(int max_sessions) : max_sessions_(max_sessions) {}

  // Whether a connection is taken, and if not, why (`barred`: for wrong tokens, else too many).
  struct Verdict {
    bool taken = true;
    bool barred = false;
    std::string why;
  };
  // A new connection from `peer`: taken (now pending) or turned away.
  Verdict Connect(const std::string& peer, Clock::time_point now);
  // Its Hello carried the token: true (now a session) if there is room for one more.
  bool Authenticated(const std::string& peer);
  // Its Hello carried a wrong token.
  void AuthenticationFailed(const std::string& peer, Clock::time_point now);
  // Its Hello was unreadable, or it left before one: no longer pending.
  void LeftPending(const std::string& peer);
  // A session ended.
  void SessionEnded();

  int sessions() const { return sessions_; }
  int pending() const { return pending_; }

 private:
  struct Peer {
    int pending = 0;
    int failures = 0;
    Clock::time_point last_failure;
    Clock::time_point barred_until;
  };
  Verdict Judge(const std::string& peer, Clock::time_point now);
  void Forget(const std::string& peer);
  void Prune(Clock::time_point now);
  static constexpr size_t kMaxPeersKept = 4096;  // past this, forgiven addresses are dropped

  int max_sessions_;
  int sessions_ = 0;
  int pending_ = 0;
  std::map<std::string, Peer> peers_;
};

}  // namespace vxpu::remote
