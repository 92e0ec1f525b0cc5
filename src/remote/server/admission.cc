#include "remote/server/admission.h"

#include <algorithm>
#include <iterator>

namespace vxpu::remote {

Admission::Verdict Admission::Connect(const std::string& peer, Clock::time_point now) {
  if (peers_.size() > kMaxPeersKept) Prune(now);
  Verdict verdict = Judge(peer, now);
  if (!verdict.taken) Forget(peer);
  return verdict;
}

Admission::Verdict Admission::Judge(const std::string& peer, Clock::time_point now) {
  Peer& p = peers_[peer];
  if (p.failures > 0 && now - p.last_failure >= kForgiveAfter) p.failures = 0;
  if (now < p.barred_until) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(p.barred_until - now).count();
    return {false, true,
            "too many wrong tokens from " + peer + "; try again in " + std::to_string((wait + 999) / 1000) + " s"};
  }
  if (p.pending >= kMaxPendingPerPeer)
    return {false, false,
            peer + " has " + std::to_string(kMaxPendingPerPeer) + " connections waiting to say Hello already"};
  if (pending_ >= kMaxPending)
    return {false, false,
            "the server has " + std::to_string(kMaxPending) + " connections waiting to say Hello already"};
  ++p.pending;
  ++pending_;
  return {};
}

bool Admission::Authenticated(const std::string& peer) {
  LeftPending(peer);
  Peer& p = peers_[peer];
  p.failures = 0;
  p.barred_until = {};
  Forget(peer);
  if (sessions_ >= max_sessions_) return false;
  ++sessions_;
  return true;
}

void Admission::AuthenticationFailed(const std::string& peer, Clock::time_point now) {
  LeftPending(peer);
  Peer& p = peers_[peer];
  ++p.failures;
  p.last_failure = now;
  if (p.failures <= kFreeFailures) return;
  int doublings = std::min(p.failures - kFreeFailures - 1, 16);
  auto wait = std::min<std::chrono::milliseconds>(kFirstWait * (1 << doublings), kLongestWait);
  p.barred_until = now + wait;
}

void Admission::LeftPending(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.pending == 0) return;
  --it->second.pending;
  --pending_;
  Forget(peer);
}

void Admission::SessionEnded() {
  if (sessions_ > 0) --sessions_;
}

// Drops the addresses whose failures are forgiven and that wait for nothing.
void Admission::Prune(Clock::time_point now) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    const Peer& p = it->second;
    bool quiet =
        p.pending == 0 && (p.failures == 0 || (now - p.last_failure >= kForgiveAfter && now >= p.barred_until));
    it = quiet ? peers_.erase(it) : std::next(it);
  }
}

// Drops what is kept of `peer` once it tells nothing: no pending connection, no failure.
void Admission::Forget(const std::string& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.pending == 0 && it->second.failures == 0) peers_.erase(it);
}

}  // namespace vxpu::remote
