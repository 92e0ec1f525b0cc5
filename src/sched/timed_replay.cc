#include "sched/timed_replay.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <queue>

#include "sched/cluster_state.h"

namespace vxpu::sched {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

struct Departure {
  int64_t time;
  int pod;
  Placement where;
  bool operator>(const Departure& other) const { return time != other.time ? time > other.time : pod > other.pod; }
};

class TimedReplay {
 public:
  TimedReplay(const std::vector<NodeSpec>& nodes, const std::vector<std::string>& model_names,
              const std::vector<TimedPod>& pods, Policy& policy, int64_t sample_every)
      : cluster_(nodes, model_names), pods_(pods), policy_(policy), sample_every_(std::max<int64_t>(1, sample_every)) {}

  TimedResult Run() {
    std::vector<int> arrivals(pods_.size());
    std::iota(arrivals.begin(), arrivals.end(), 0);
    std::stable_sort(arrivals.begin(), arrivals.end(),
                     [&](int a, int b) { return pods_[a].arrival < pods_[b].arrival; });
    if (arrivals.empty()) return result_;
    start_ = now_ = next_sample_ = pods_[arrivals.front()].arrival;
    size_t next = 0;
    while (next < arrivals.size() || !running_.empty()) {
      int64_t arrival = next < arrivals.size() ? pods_[arrivals[next]].arrival : kNever;
      int64_t departure = running_.empty() ? kNever : running_.top().time;
      AdvanceTo(std::min(arrival, departure));
      if (departure <= arrival) {
        DepartAll();
      } else {
        while (next < arrivals.size() && pods_[arrivals[next]].arrival == now_) Arrive(arrivals[next++]);
      }
    }
    EmitSamplesUntil(now_ + 1);  // a sample that falls on the very end, too
    result_.pods_never_started = static_cast<int64_t>(queue_.size());
    double span = static_cast<double>(now_ - start_);
    result_.mean_allocated_pct = span > 0 ? Percent(allocated_time_ / span) : Percent(cluster_.allocated_gpu_milli());
    return result_;
  }

 private:
  double Percent(double milli) const {
    double total = static_cast<double>(cluster_.total_gpu_milli());
    return total > 0 ? 100.0 * milli / total : 0;
  }
  double Percent(int64_t milli) const { return Percent(static_cast<double>(milli)); }

  // Samples the state as it is (after every event at `now_`) at the sample times before `time`.
  void EmitSamplesUntil(int64_t time) {
    while (next_sample_ < time) {
      result_.samples.push_back(
          {next_sample_, Percent(cluster_.allocated_gpu_milli()), static_cast<int64_t>(queue_.size())});
      next_sample_ += sample_every_;
    }
  }

  void AdvanceTo(int64_t time) {
    EmitSamplesUntil(time);
    allocated_time_ += static_cast<double>(cluster_.allocated_gpu_milli()) * static_cast<double>(time - now_);
    now_ = time;
  }

  bool TryStart(int pod) {
    Placement where = Schedule(cluster_, policy_, pods_[pod].request);
    if (!where.placed()) return false;
    running_.push({now_ + pods_[pod].duration, pod, where});
    result_.peak_allocated_pct = std::max(result_.peak_allocated_pct, Percent(cluster_.allocated_gpu_milli()));
    result_.waits.push_back(now_ - pods_[pod].arrival);
    result_.pods_waited += now_ > pods_[pod].arrival;
    return true;
  }

  void Arrive(int pod) {
    if (!TryStart(pod)) queue_.push_back(pod);
  }

  // Every pod leaving now, then the waiting pods that fit where they left.
  void DepartAll() {
    std::vector<int> freed_nodes;
    while (!running_.empty() && running_.top().time == now_) {
      Departure d = running_.top();
      running_.pop();
      Release(cluster_, policy_, pods_[d.pod].request, d.where);
      freed_nodes.push_back(d.where.node);
    }
    std::erase_if(queue_, [&](int pod) { return FitsAny(pod, freed_nodes) && TryStart(pod); });
  }

  // A waiting pod fitted nowhere when it last tried, so only freed nodes can take it now.
  bool FitsAny(int pod, const std::vector<int>& nodes) const {
    return std::any_of(nodes.begin(), nodes.end(), [&](int n) { return cluster_.Fits(pods_[pod].request, n); });
  }

  ClusterState cluster_;
  const std::vector<TimedPod>& pods_;
  Policy& policy_;
  int64_t sample_every_;
  std::priority_queue<Departure, std::vector<Departure>, std::greater<>> running_;
  std::vector<int> queue_;  // waiting pods, oldest first
  int64_t start_ = 0, now_ = 0, next_sample_ = 0;
  double allocated_time_ = 0;  // integral of allocated milli-GPU over time
  TimedResult result_;
};

}  // namespace

TimedResult ReplayTimed(const std::vector<NodeSpec>& nodes, const std::vector<std::string>& model_names,
                        const std::vector<TimedPod>& pods, Policy& policy, int64_t sample_every) {
  return TimedReplay(nodes, model_names, pods, policy, sample_every).Run();
}

}  // namespace vxpu::sched
