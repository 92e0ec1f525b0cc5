// simnpu's DCMI (libdcmi.so): what an operator's tools and vxpud's Ascend backend read of the
// simulated chips, from their shared state. One chip per card: card i is the chip of physical
// id i (its place in the config), device 0 in it, logical id i (DCMI sees every chip).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/ascend_api.h"
#include "common/state_dir.h"
#include "simgpu/device_config.h"
#include "simgpu/shared_device.h"

namespace {

constexpr int kMaxProcesses = 32;  // what a caller's dcmi_proc_mem_info array must hold
constexpr unsigned long long kMiB = 1024ull * 1024;
constexpr unsigned long kHugePageKiB = 2048;

struct Chip {
  simgpu::DeviceSpec spec;
  std::unique_ptr<simgpu::SharedDevice> shared;
  uint64_t mark_at_ns = 0;  // the previous utilization query
  uint64_t mark_busy_ns = 0;
};

struct Dcmi {
  std::mutex mu;
  bool initialized = false;
  std::vector<Chip> chips;
};

Dcmi& TheDcmi() {
  static Dcmi* dcmi = new Dcmi;  // never destroyed: callers may query during exit
  return *dcmi;
}

int InitLocked(Dcmi& d) {
  if (d.initialized) return DCMI_OK;
  std::string state_dir, error;
  if (!vxpu::StateDir(&state_dir, &error)) {
    std::fprintf(stderr, "simnpu dcmi: %s\n", error.c_str());
    return DCMI_ERR_INNER;
  }
  simgpu::DeviceConfig config = simgpu::LoadDeviceConfig(simgpu::SimKind::kNpu);
  if (!config.error.empty()) {
    std::fprintf(stderr, "simnpu dcmi: %s\n", config.error.c_str());
    return DCMI_ERR_INNER;
  }
  for (const simgpu::DeviceSpec& spec : config.devices) {
    auto shared = simgpu::SharedDevice::Open(spec, &error);
    if (!shared) {
      std::fprintf(stderr, "simnpu dcmi: %s\n", error.c_str());
      d.chips.clear();
      return DCMI_ERR_INNER;
    }
    d.chips.push_back(Chip{spec, std::move(shared)});
  }
  d.initialized = true;
  return DCMI_OK;
}

// Runs `read` on chip (card, device) with the lock held; DCMI's code for a bad id.
template <typename Read>
int WithChip(int card, int device, Read read) {
  Dcmi& d = TheDcmi();
  std::lock_guard<std::mutex> lock(d.mu);
  int result = InitLocked(d);
  if (result != DCMI_OK) return result;
  if (card < 0 || static_cast<size_t>(card) >= d.chips.size() || device != 0) return DCMI_ERR_INVALID_DEVICE_ID;
  return read(d.chips[static_cast<size_t>(card)]);
}

void CopyName(unsigned char (&out)[32], const std::string& text) {
  std::memset(out, 0, sizeof(out));
  std::memcpy(out, text.data(), std::min(text.size(), sizeof(out) - 1));
}

}  // namespace

extern "C" {

int dcmi_init(void) {
  Dcmi& d = TheDcmi();
  std::lock_guard<std::mutex> lock(d.mu);
  return InitLocked(d);
}

int dcmi_get_card_list(int* card_num, int* card_list, int list_len) {
  if (card_num == nullptr || card_list == nullptr || list_len < 0) return DCMI_ERR_INVALID_PARAMETER;
  Dcmi& d = TheDcmi();
  std::lock_guard<std::mutex> lock(d.mu);
  int result = InitLocked(d);
  if (result != DCMI_OK) return result;
  int n = static_cast<int>(d.chips.size());
  if (list_len < n) return DCMI_ERR_INVALID_PARAMETER;
  for (int i = 0; i < n; ++i) card_list[i] = i;
  *card_num = n;
  return DCMI_OK;
}

int dcmi_get_device_num_in_card(int card_id, int* device_num) {
  if (device_num == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(card_id, 0, [device_num](Chip&) {
    *device_num = 1;
    return DCMI_OK;
  });
}

int dcmi_get_device_logic_id(int* logic_id, int card_id, int device_id) {
  if (logic_id == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(card_id, device_id, [logic_id, card_id](Chip&) {
    *logic_id = card_id;
    return DCMI_OK;
  });
}

int dcmi_get_device_phyid_from_logicid(unsigned int logic_id, unsigned int* phy_id) {
  if (phy_id == nullptr || logic_id > INT32_MAX) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(static_cast<int>(logic_id), 0, [phy_id, logic_id](Chip&) {
    *phy_id = logic_id;
    return DCMI_OK;
  });
}

int dcmi_get_device_chip_info(int card_id, int device_id, struct dcmi_chip_info* info) {
  if (info == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(card_id, device_id, [info](Chip& chip) {
    std::string name = chip.spec.name;
    if (name.rfind("Ascend", 0) == 0) name = name.substr(6);  // "Ascend910B3": type Ascend, name 910B3
    CopyName(info->chip_type, "Ascend");
    CopyName(info->chip_name, name);
    CopyName(info->chip_ver, "V1");
    info->aicore_cnt = static_cast<unsigned>(chip.spec.sm_count);
    return DCMI_OK;
  });
}

int dcmi_get_device_memory_info_v3(int card_id, int device_id, struct dcmi_get_memory_info_stru* info) {
  if (info == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(card_id, device_id, [info](Chip& chip) {
    uint64_t total = chip.spec.total_memory;
    uint64_t used = std::min(chip.shared->UsedMemory(), total);
    std::memset(info, 0, sizeof(*info));
    info->memory_size = total / kMiB;
    info->memory_available = (total - used) / kMiB;
    info->freq = 1600;
    info->hugepagesize = kHugePageKiB;
    info->hugepages_total = total / (kHugePageKiB * 1024);
    info->hugepages_free = (total - used) / (kHugePageKiB * 1024);
    info->utiliza = total > 0 ? static_cast<unsigned>(used * 100 / total) : 0;
    return DCMI_OK;
  });
}

int dcmi_get_device_hbm_info(int card_id, int device_id, struct dcmi_hbm_info* info) {
  if (info == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(card_id, device_id, [info](Chip& chip) {
    std::memset(info, 0, sizeof(*info));
    info->memory_size = chip.spec.total_memory / kMiB;
    info->memory_usage = std::min(chip.shared->UsedMemory(), chip.spec.total_memory) / kMiB;
    info->freq = 1600;
    info->temp = 40;
    return DCMI_OK;
  });
}

// AI core utilization: the percent of device time its processes used since the previous query.
int dcmi_get_device_utilization_rate(int card_id, int device_id, int input_type, unsigned int* rate) {
  if (rate == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  if (input_type != DCMI_UTILIZATION_AICORE) return DCMI_ERR_NOT_SUPPORT;
  return WithChip(card_id, device_id, [rate](Chip& chip) {
    uint64_t busy = 0;
    for (const simgpu::ClientInfo& c : chip.shared->Clients()) busy += c.busy_ns;
    uint64_t now = simgpu::MonotonicNs();
    uint64_t wall = now - chip.mark_at_ns;
    uint64_t used = busy >= chip.mark_busy_ns ? busy - chip.mark_busy_ns : 0;
    *rate = chip.mark_at_ns == 0 || wall == 0 ? 0 : static_cast<unsigned>(std::min<uint64_t>(100, used * 100 / wall));
    chip.mark_at_ns = now;
    chip.mark_busy_ns = busy;
    return DCMI_OK;
  });
}

int dcmi_get_device_resource_info(int card_id, int device_id, struct dcmi_proc_mem_info* info, int* proc_num) {
  if (info == nullptr || proc_num == nullptr) return DCMI_ERR_INVALID_PARAMETER;
  return WithChip(card_id, device_id, [info, proc_num](Chip& chip) {
    int n = 0;
    for (const simgpu::ClientInfo& c : chip.shared->Clients()) {
      if (n == kMaxProcesses) break;
      info[n].proc_id = c.pid;
      info[n].proc_mem_usage = c.memory_used;
      ++n;
    }
    *proc_num = n;
    return DCMI_OK;
  });
}

}  // extern "C"
