#include "backend/ascend/ascend_backend.h"

#include <dlfcn.h>

#include <algorithm>

#include "common/ascend_api.h"

namespace vxpu {
namespace {

constexpr uint64_t kMiB = 1024ull * 1024;
constexpr int kMaxCards = 64;
constexpr int kMaxProcesses = 32;

// The DCMI calls the backend makes, resolved from the library it loaded.
struct Dcmi {
  decltype(&dcmi_init) init = nullptr;
  decltype(&dcmi_get_card_list) card_list = nullptr;
  decltype(&dcmi_get_device_num_in_card) devices_in_card = nullptr;
  decltype(&dcmi_get_device_logic_id) logic_id = nullptr;
  decltype(&dcmi_get_device_phyid_from_logicid) phy_id = nullptr;
  decltype(&dcmi_get_device_chip_info) chip_info = nullptr;
  decltype(&dcmi_get_device_hbm_info) hbm = nullptr;
  decltype(&dcmi_get_device_utilization_rate) utilization = nullptr;
  decltype(&dcmi_get_device_resource_info) processes = nullptr;
};

template <typename Fn>
bool Resolve(void* handle, const char* name, Fn* out, std::string* error) {
  *out = reinterpret_cast<Fn>(dlsym(handle, name));
  if (*out == nullptr) *error = std::string("DCMI lacks ") + name;
  return *out != nullptr;
}

bool Load(void* handle, Dcmi* d, std::string* error) {
  return Resolve(handle, "dcmi_init", &d->init, error) && Resolve(handle, "dcmi_get_card_list", &d->card_list, error) &&
         Resolve(handle, "dcmi_get_device_num_in_card", &d->devices_in_card, error) &&
         Resolve(handle, "dcmi_get_device_logic_id", &d->logic_id, error) &&
         Resolve(handle, "dcmi_get_device_phyid_from_logicid", &d->phy_id, error) &&
         Resolve(handle, "dcmi_get_device_chip_info", &d->chip_info, error) &&
         Resolve(handle, "dcmi_get_device_hbm_info", &d->hbm, error) &&
         Resolve(handle, "dcmi_get_device_utilization_rate", &d->utilization, error) &&
         Resolve(handle, "dcmi_get_device_resource_info", &d->processes, error);
}

bool Failed(int result, const char* call, std::string* error) {
  if (result == DCMI_OK) return false;
  *error = std::string("DCMI ") + call + " failed with " + std::to_string(result);
  return true;
}

// The chip (card, device), read into *out.
bool ReadChip(const Dcmi& d, int card, int device, Device* out, std::string* error) {
  int logic = -1;
  unsigned phy = 0;
  dcmi_chip_info chip{};
  dcmi_hbm_info hbm{};
  if (Failed(d.logic_id(&logic, card, device), "dcmi_get_device_logic_id", error) ||
      Failed(d.phy_id(static_cast<unsigned>(logic), &phy), "dcmi_get_device_phyid_from_logicid", error) ||
      Failed(d.chip_info(card, device, &chip), "dcmi_get_device_chip_info", error) ||
      Failed(d.hbm(card, device, &hbm), "dcmi_get_device_hbm_info", error))
    return false;
  char uuid[41];
  NpuUuid(phy, uuid);
  out->vendor = "huawei";
  out->kind = "npu";
  out->index = static_cast<unsigned>(logic);
  chip.chip_type[sizeof(chip.chip_type) - 1] = 0;
  chip.chip_name[sizeof(chip.chip_name) - 1] = 0;
  out->name =
      reinterpret_cast<const char*>(chip.chip_type) + std::string(reinterpret_cast<const char*>(chip.chip_name));
  out->uuid = uuid;
  out->memory_total = hbm.memory_size * kMiB;
  out->memory_used = std::min<uint64_t>(hbm.memory_usage * kMiB, out->memory_total);
  unsigned rate = 0;
  if (d.utilization(card, device, DCMI_UTILIZATION_AICORE, &rate) == DCMI_OK) out->utilization = std::min(rate, 100u);
  dcmi_proc_mem_info procs[kMaxProcesses] = {};
  int count = 0;
  if (Failed(d.processes(card, device, procs, &count), "dcmi_get_device_resource_info", error)) return false;
  for (int i = 0; i < std::min(count, kMaxProcesses); ++i) {
    if (procs[i].proc_id > 0)
      out->processes.push_back(DeviceProcess{static_cast<unsigned>(procs[i].proc_id), procs[i].proc_mem_usage, 0});
  }
  return true;
}

}  // namespace

bool AscendBackend::Snapshot(std::vector<Device>* devices, std::string* error) {
  void* handle = dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *error = "cannot load " + library_ + ": " + dlerror();
    return false;
  }
  Dcmi d;
  int cards[kMaxCards] = {};
  int card_count = 0;
  bool ok = Load(handle, &d, error) && !Failed(d.init(), "dcmi_init", error) &&
            !Failed(d.card_list(&card_count, cards, kMaxCards), "dcmi_get_card_list", error);
  for (int c = 0; ok && c < std::min(card_count, kMaxCards); ++c) {
    int in_card = 0;
    ok = !Failed(d.devices_in_card(cards[c], &in_card), "dcmi_get_device_num_in_card", error);
    for (int dev = 0; ok && dev < in_card; ++dev) {
      Device device;
      ok = ReadChip(d, cards[c], dev, &device, error);
      if (ok) devices->push_back(std::move(device));
    }
  }
  dlclose(handle);
  std::sort(devices->begin(), devices->end(),
            [](const Device& a, const Device& b) { return a.kind != b.kind ? a.kind < b.kind : a.index < b.index; });
  return ok;
}

std::vector<std::string> AscendBackend::DeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                                    const std::function<bool(const std::string&)>& exists) const {
  std::vector<std::string> names;
  for (unsigned index : indices) names.push_back("davinci" + std::to_string(index));
  for (const char* shared : {"davinci_manager", "devmm_svm", "hisi_hdc"}) names.push_back(shared);
  return ExistingDeviceNodes(names, dev_dir, exists);
}

}  // namespace vxpu
