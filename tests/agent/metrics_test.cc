// vxpud's metrics as Prometheus' text format shows them: names, labels, values.
#include "agent/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace vxpu {
namespace {

std::string Text(const std::vector<DeviceView>& devices, const std::vector<SliceView>& slices) {
  return prometheus::TextSerializer().Serialize(NodeMetrics(devices, slices));
}

TEST(Metrics, DevicesAndSlicesWithTheirLabels) {
  DeviceView d;
  d.vendor = "nvidia";
  d.uuid = "GPU-a";
  d.name = "H100";
  d.memory_total = 80;
  d.memory_used = 8;
  d.busy_ratio = 0.5;
  d.units_free = 6;
  d.units_held = 3;
  SliceView pod;
  pod.record.spec.name = "p";
  pod.record.spec.devices = {"GPU-a"};
  pod.record.spec.memory_limit = 40;
  pod.record.spec.compute = SliceCompute{300, 500, false};
  pod.record.spec.owner.pod_namespace = "ns";
  pod.record.spec.owner.pod = "web";
  pod.record.spec.owner.container = "main";
  SliceDeviceUsage u;
  u.device = "GPU-a";
  u.memory_used = 4;
  u.device_time_ns = 3'000'000'000;
  u.share_ratio = 0.3;
  u.processes = {{7, 4}};
  pod.usage = {u};
  std::string text = Text({d}, {pod});
  const std::string device = R"({uuid="GPU-a",index="0",model="H100",vendor="nvidia"})";
  const std::string slice = R"({uuid="GPU-a",slice="p",namespace="ns",pod="web",container="main"})";
  for (const std::string& line : std::vector<std::string>{
           "vxpu_device_memory_total_bytes" + device + " 80",
           "vxpu_device_memory_used_bytes" + device + " 8",
           "vxpu_device_busy_ratio" + device + " 0.5",
           "vxpu_device_healthy" + device + " 1",
           "vxpu_device_units_free" + device + " 6",
           "vxpu_device_units_held" + device + " 3",
           "vxpu_slice_memory_used_bytes" + slice + " 4",
           "vxpu_slice_memory_limit_bytes" + slice + " 40",
           "vxpu_slice_compute_guarantee_ratio" + slice + " 0.3",
           "vxpu_slice_compute_limit_ratio" + slice + " 0.5",
           "vxpu_slice_device_time_seconds_total" + slice + " 3",
           "vxpu_slice_compute_share_ratio" + slice + " 0.3",
           "vxpu_slice_processes" + slice + " 1",
           "# TYPE vxpu_slice_device_time_seconds_total counter",
           "vxpu_slices 1",
       }) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\n---\n" << text;
  }
}

TEST(Metrics, WhatIsUnknownIsLeftOutNotReportedAsZero) {
  DeviceView d;
  d.uuid = "GPU-a";
  d.healthy = false;  // no busy reading
  SliceView memory_only;
  memory_only.record.spec.name = "m";
  memory_only.record.spec.memory_limit = 1;
  memory_only.usage = {SliceDeviceUsage{}};
  memory_only.usage[0].device = "GPU-a";
  std::string text = Text({d}, {memory_only});
  EXPECT_EQ(text.find("vxpu_device_busy_ratio{"), std::string::npos) << text;
  EXPECT_NE(text.find("vxpu_device_healthy{uuid=\"GPU-a\",index=\"0\",model=\"\",vendor=\"\"} 0"), std::string::npos) << text;
  EXPECT_EQ(text.find("vxpu_slice_compute_guarantee_ratio{"), std::string::npos) << text;
  EXPECT_EQ(text.find("vxpu_slice_compute_share_ratio{"), std::string::npos) << text;
  EXPECT_NE(text.find("vxpu_slice_memory_limit_bytes{"), std::string::npos) << text;
}

}  // namespace
}  // namespace vxpu
