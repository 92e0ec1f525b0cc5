#include "agent/metrics.h"

#include <prometheus/metric_family.h>

#include <string>

namespace vxpu {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  // Starts family `name`; the samples that follow go into it.
  void Begin(const std::string& name, const std::string& help, MetricType type) {
    families_.push_back(MetricFamily{name, help, type, {}});
  }
  void Add(const Labels& labels, double value) {
    ClientMetric metric;
    metric.label = labels;
    if (families_.back().type == MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    families_.back().metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

Labels DeviceLabels(const DeviceView& d) {
  return {{"uuid", d.uuid}, {"index", std::to_string(d.index)}, {"model", d.name}, {"vendor", d.vendor}};
}

Labels SliceLabels(const SliceView& s, const std::string& device) {
  const SliceOwner& o = s.record.spec.owner;
  return {{"uuid", device},
          {"slice", s.record.spec.name},
          {"namespace", o.pod_namespace},
          {"pod", o.pod},
          {"container", o.container}};
}

void AddDevices(const std::vector<DeviceView>& devices, Families* f) {
  f->Begin("vxpu_device_healthy", "1 if the device answers NVML, 0 if it vanished or stopped answering",
           MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), d.healthy ? 1 : 0);
  f->Begin("vxpu_device_memory_total_bytes", "Device memory", MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), static_cast<double>(d.memory_total));
  f->Begin("vxpu_device_memory_used_bytes", "Device memory in use, all processes", MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), static_cast<double>(d.memory_used));
  f->Begin("vxpu_device_memory_for_slices_bytes",
           "Largest memory quota a new slice could get (total less quotas and context room)", MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), static_cast<double>(d.memory_for_slices));
  f->Begin("vxpu_device_units_free", "Kubernetes units (vxpu.io/gpu-units) offered to kubelet", MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), d.units_free);
  f->Begin("vxpu_device_units_held", "Kubernetes units held by containers' slices", MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), d.units_held);
  f->Begin("vxpu_device_busy_ratio", "Share of time the device was busy, as NVML last reported it", MetricType::Gauge);
  for (const DeviceView& d : devices) {
    if (d.busy_ratio) f->Add(DeviceLabels(d), *d.busy_ratio);
  }
  f->Begin("vxpu_device_processes", "Processes on the device", MetricType::Gauge);
  for (const DeviceView& d : devices) f->Add(DeviceLabels(d), d.processes);
}

// One sample per (slice, device) of `value(slice, usage)`, skipping those `has` refuses.
template <typename Has, typename Value>
void AddPerSliceDevice(const std::vector<SliceView>& slices, Families* f, Has has, Value value) {
  for (const SliceView& s : slices) {
    for (const SliceDeviceUsage& u : s.usage) {
      if (has(s, u)) f->Add(SliceLabels(s, u.device), value(s, u));
    }
  }
}

void AddSlices(const std::vector<SliceView>& slices, Families* f) {
  auto always = [](const SliceView&, const SliceDeviceUsage&) { return true; };
  auto with_memory = [](const SliceView& s, const SliceDeviceUsage&) { return s.record.spec.memory_limit.has_value(); };
  auto with_compute = [](const SliceView& s, const SliceDeviceUsage&) { return s.record.spec.compute.has_value(); };
  f->Begin("vxpu_slice_memory_used_bytes", "Device memory the slice's processes hold", MetricType::Gauge);
  AddPerSliceDevice(slices, f, always,
                    [](const SliceView&, const SliceDeviceUsage& u) { return static_cast<double>(u.memory_used); });
  f->Begin("vxpu_slice_memory_limit_bytes", "The slice's memory quota on the device", MetricType::Gauge);
  AddPerSliceDevice(slices, f, with_memory, [](const SliceView& s, const SliceDeviceUsage&) {
    return static_cast<double>(*s.record.spec.memory_limit);
  });
  f->Begin("vxpu_slice_compute_guarantee_ratio", "The slice's guaranteed share of the device's time",
           MetricType::Gauge);
  AddPerSliceDevice(slices, f, with_compute, [](const SliceView& s, const SliceDeviceUsage&) {
    return s.record.spec.compute->guarantee_permille / 1000.0;
  });
  f->Begin("vxpu_slice_compute_limit_ratio", "The slice's ceiling on its share of the device's time",
           MetricType::Gauge);
  AddPerSliceDevice(slices, f, with_compute, [](const SliceView& s, const SliceDeviceUsage&) {
    return s.record.spec.compute->limit_permille / 1000.0;
  });
  f->Begin("vxpu_slice_device_time_seconds_total",
           "Device time charged to the slice's processes since it first ran (rate() gives the achieved share)",
           MetricType::Counter);
  AddPerSliceDevice(slices, f, with_compute, [](const SliceView&, const SliceDeviceUsage& u) {
    return static_cast<double>(u.device_time_ns) / 1e9;
  });
  f->Begin("vxpu_slice_compute_share_ratio", "Achieved share of the device's time over vxpud's last poll interval",
           MetricType::Gauge);
  AddPerSliceDevice(
      slices, f, [](const SliceView&, const SliceDeviceUsage& u) { return u.share_ratio.has_value(); },
      [](const SliceView&, const SliceDeviceUsage& u) { return *u.share_ratio; });
  f->Begin("vxpu_slice_processes", "Live processes of the slice on the device", MetricType::Gauge);
  AddPerSliceDevice(slices, f, always, [](const SliceView&, const SliceDeviceUsage& u) {
    return static_cast<double>(u.processes.size());
  });
}

}  // namespace

std::vector<MetricFamily> NodeMetrics(const std::vector<DeviceView>& devices, const std::vector<SliceView>& slices) {
  Families f;
  AddDevices(devices, &f);
  AddSlices(slices, &f);
  f.Begin("vxpu_slices", "Slices registered on the node", MetricType::Gauge);
  f.Add({}, static_cast<double>(slices.size()));
  return f.Take();
}

std::vector<MetricFamily> AgentMetrics::Collect() const { return NodeMetrics(agent_->Devices(), agent_->Slices()); }

}  // namespace vxpu
