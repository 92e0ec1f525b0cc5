// Who gets a device next: the pure decision at the heart of compute slices.
//
// Each slice has a guaranteed share (request), a ceiling (limit) and a priority. Device time a
// slice uses advances its virtual time by used / request, so among slices that want the device
// the one with the least virtual time is the one furthest behind its share: shares come out in
// proportion to requests, and time one slice leaves idle goes to the others (work-conserving).
// A slice that ran past its ceiling (a token bucket refilled at `limit` of wall time) waits.
// A high-priority slice goes first while it is at most `priority_slack_ns` of device time
// ahead of the slice furthest behind, so it gets the device promptly without taking the
// others' guarantees.
#pragma once

#include <cstdint>

namespace vxpu {

constexpr uint32_t kFullShare = 1000;  // shares are in permille of one device

struct ShareAccount {
  bool wants = false;  // has work waiting (or holds the device and has more)
  bool high_priority = false;
  uint32_t request = 0;         // permille, > 0
  uint32_t limit = kFullShare;  // permille, >= request
  double vtime = 0;             // device ns used / request
  double tokens_ns = 0;         // ceiling budget left (ignored when limit == kFullShare)
};

// Index of the slice that gets the device next among `n`, or -1 if none may run now.
int PickNextSlice(const ShareAccount* slices, int n, double priority_slack_ns);

// Charges `used_ns` of device time to a slice.
void ChargeDeviceTime(ShareAccount* slice, uint64_t used_ns);

// Refills a slice's ceiling budget for `elapsed_ns` of wall time, up to `burst_ns` of it.
void RefillCeiling(ShareAccount* slice, uint64_t elapsed_ns, uint64_t burst_ns);

// True if the slice's ceiling lets it run now.
bool UnderCeiling(const ShareAccount& slice);

// The virtual time a slice starts from when it begins to want the device again after idling:
// no credit is banked while idle, so it cannot then monopolise the device.
double RejoinVtime(double own_vtime, double min_active_vtime);

}  // namespace vxpu
