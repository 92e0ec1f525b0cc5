#include "interposer/share_policy.h"

#include <algorithm>

namespace vxpu {

bool UnderCeiling(const ShareAccount& slice) { return slice.limit >= kFullShare || slice.tokens_ns > 0; }

int PickNextSlice(const ShareAccount* slices, int n, double priority_slack_ns) {
  int behind = -1;
  for (int i = 0; i < n; ++i) {
    if (!slices[i].wants || !UnderCeiling(slices[i])) continue;
    if (behind < 0 || slices[i].vtime < slices[behind].vtime) behind = i;
  }
  if (behind < 0 || slices[behind].high_priority) return behind;
  int urgent = -1;
  for (int i = 0; i < n; ++i) {
    const ShareAccount& s = slices[i];
    if (!s.wants || !s.high_priority || !UnderCeiling(s)) continue;
    // Device time s is ahead of the slice furthest behind, at s's share.
    double ahead_ns = (s.vtime - slices[behind].vtime) * s.request;
    if (ahead_ns <= priority_slack_ns && (urgent < 0 || s.vtime < slices[urgent].vtime)) urgent = i;
  }
  return urgent >= 0 ? urgent : behind;
}

void ChargeDeviceTime(ShareAccount* slice, uint64_t used_ns) {
  slice->vtime += static_cast<double>(used_ns) / slice->request;
  if (slice->limit < kFullShare) slice->tokens_ns -= static_cast<double>(used_ns);
}

void RefillCeiling(ShareAccount* slice, uint64_t elapsed_ns, uint64_t burst_ns) {
  if (slice->limit >= kFullShare) return;
  double cap = static_cast<double>(burst_ns) * slice->limit / kFullShare;
  slice->tokens_ns = std::min(cap, slice->tokens_ns + static_cast<double>(elapsed_ns) * slice->limit / kFullShare);
}

double RejoinVtime(double own_vtime, double min_active_vtime) { return std::max(own_vtime, min_active_vtime); }

}  // namespace vxpu
