#include "extender/unit_request.h"

#include <algorithm>

#include "k8s/quantity.h"

namespace vxpu::extender {
namespace {

constexpr int64_t kMaxUnits = int64_t{kUnitsPerGpu} * sched::kMaxGpusPerNode;

// The container's quantity of `resource`: from requests, else from limits; "" when neither names it.
std::string QuantityOf(const ExtenderContainer& c, const std::string& resource, std::string* invalid) {
  auto request = c.requests.find(resource);
  auto limit = c.limits.find(resource);
  if (request != c.requests.end() && limit != c.limits.end() && request->second != limit->second) {
    *invalid = "container " + c.name + ": " + resource + " requests " + request->second + " and limits " +
               limit->second + " differ";
  }
  if (request != c.requests.end()) return request->second;
  return limit != c.limits.end() ? limit->second : "";
}

// The unit count of one container's quantity text of `resource`, or a refusal in *invalid.
int64_t UnitsOf(const ExtenderContainer& c, const std::string& resource, const std::string& text,
                std::string* invalid) {
  std::string error;
  std::optional<int64_t> milli = QuantityMilli(text, &error);
  if (!milli) {
    *invalid = "container " + c.name + ": " + resource + ": " + error;
    return 0;
  }
  if (*milli % 1000 != 0 || *milli < 0) {
    *invalid = "container " + c.name + ": " + resource + " \"" + text + "\" is not a whole, non-negative count";
    return 0;
  }
  return *milli / 1000;
}

std::string CountRefusal(int64_t units, const std::string& resource, const char* device) {
  return std::to_string(units) + " " + resource + " is neither 1-9 (a share of one " + device +
         ") nor a multiple of 10 up to " + std::to_string(kMaxUnits) + " (whole " + device + "s)";
}

// Adds `c`'s units of `out->kind`'s resource to `out`; a second asking container is refused.
void AddUnits(const ExtenderContainer& c, UnitRequest* out, std::string* first_asking) {
  const std::string resource = UnitsResourceOf(out->kind.c_str());
  std::string text = QuantityOf(c, resource, &out->invalid);
  if (text.empty() || !out->invalid.empty()) return;
  int64_t units = UnitsOf(c, resource, text, &out->invalid);
  if (!out->invalid.empty() || units == 0) return;
  if (!first_asking->empty()) {
    out->invalid = "containers " + *first_asking + " and " + c.name + " both ask for " + resource +
                   " (vxpu-scheduler places one slice per pod)";
    return;
  }
  *first_asking = c.name;
  out->asks = true;
  if (units > kMaxUnits || (units > kUnitsPerGpu && units % kUnitsPerGpu != 0)) {
    out->invalid = CountRefusal(units, resource, out->kind == "npu" ? "NPU" : "GPU");
    return;
  }
  out->units = static_cast<int>(units);
}

int64_t Milli(const ExtenderContainer& c, const char* resource) {
  std::string ignored;
  std::string text = QuantityOf(c, resource, &ignored);
  std::optional<int64_t> v = text.empty() ? std::nullopt : QuantityMilli(text, &ignored);
  return v && *v > 0 ? std::min<int64_t>(*v, int64_t{1} << 40) : 0;  // bounded: sums cannot overflow
}

int64_t MemoryMib(const ExtenderContainer& c) {
  std::string ignored;
  std::string text = QuantityOf(c, "memory", &ignored);
  std::optional<uint64_t> bytes = text.empty() ? std::nullopt : QuantityBytes(text, &ignored);
  constexpr uint64_t kMib = 1 << 20;
  return bytes ? static_cast<int64_t>(std::min<uint64_t>((*bytes + kMib - 1) / kMib, uint64_t{1} << 40)) : 0;
}

// What the pod asks of `kind`'s resource.
UnitRequest UnitsOfKind(const ExtenderPod& pod, const std::string& kind) {
  UnitRequest out;
  out.kind = kind;
  std::string first_asking;
  for (const auto* list : {&pod.containers, &pod.init_containers}) {
    for (const ExtenderContainer& c : *list) {
      if (out.invalid.empty()) AddUnits(c, &out, &first_asking);
    }
  }
  if (!out.invalid.empty()) out.asks = true;
  return out;
}

}  // namespace

UnitRequest UnitRequestOf(const ExtenderPod& pod) {
  UnitRequest out = UnitsOfKind(pod, "gpu");
  UnitRequest npu = UnitsOfKind(pod, "npu");
  if (npu.asks && out.asks) {
    out.invalid = std::string("the pod asks for both ") + kUnitsResource + " and " + kNpuUnitsResource +
                  " (vxpu-scheduler places one slice per pod)";
  } else if (npu.asks) {
    out = npu;
  }
  int64_t cpu = 0, memory = 0;
  for (const ExtenderContainer& c : pod.containers) {
    cpu += Milli(c, "cpu");
    memory += MemoryMib(c);
  }
  for (const ExtenderContainer& c : pod.init_containers) {
    cpu = std::max(cpu, Milli(c, "cpu"));
    memory = std::max(memory, MemoryMib(c));
  }
  out.cpu_milli = cpu;
  out.memory_mib = memory;
  return out;
}

sched::PodRequest SchedRequestOf(const UnitRequest& request, bool with_cpu_memory) {
  sched::PodRequest pod;
  if (with_cpu_memory) {
    pod.cpu_milli = request.cpu_milli;
    pod.memory_mib = request.memory_mib;
  }
  if (request.fractional()) {
    pod.num_gpu = 1;
    pod.gpu_milli = request.units * kMilliPerUnit;
  } else {
    pod.num_gpu = request.whole_gpus();
    pod.gpu_milli = sched::kMilliPerGpu;
  }
  return pod;
}

std::string PodKey(const ExtenderPod& pod) { return pod.uid.empty() ? pod.namespace_name + "/" + pod.name : pod.uid; }

}  // namespace vxpu::extender
