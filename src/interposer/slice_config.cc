#include "interposer/slice_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/registered_terms.h"
#include "common/state_dir.h"
#include "interposer/real_driver.h"
#include "interposer/slice_ledger.h"

namespace vxpu::interposer {

void RefuseToRun(const std::string& why) {
  std::fprintf(stderr, "vxpu: %s; refusing to run without the slice's limits\n", why.c_str());
  std::fflush(stderr);
  _exit(125);
}

namespace {

// The terms file of slice `slice` in the state directory `dir`, if the agent wrote one: vars
// without the slice and the directory (those found it). Only root or the directory's owner (the
// agent) may have written it.
bool AgentTermsOf(const std::string& dir, const std::string& slice, TermsVars* vars) {
  std::string path = TermsFileOfSlice(dir, slice), error;
  unsigned owner = 0;
  if (!ReadTermsFile(path, vars, &error, &owner)) {
    if (!error.empty()) RefuseToRun(error);
    return false;
  }
  struct stat state_dir;
  if (owner != 0 && (stat(dir.c_str(), &state_dir) != 0 || owner != state_dir.st_uid))
    RefuseToRun(path + " is not the agent's (owned by neither root nor the state directory's owner)");
  std::erase_if(*vars, [](const auto& v) { return v.first == "VXPU_SLICE" || v.first == "VXPU_STATE_DIR"; });
  return true;
}

}  // namespace

void ApplyRegisteredTerms() {
  TermsVars vars;
  std::string error;
  bool contained = ReadTermsFile(kContainerTermsPath, &vars, &error);
  if (!contained && !error.empty()) RefuseToRun(error);
  if (!contained) {
    const char* dir = std::getenv("VXPU_STATE_DIR");
    const char* slice = std::getenv("VXPU_SLICE");
    if (dir == nullptr || *dir != '/' || slice == nullptr || !SliceLedger::ValidSliceName(slice)) return;
    if (!AgentServes(dir)) return;  // a stopped agent's files are not the truth
    if (!AgentTermsOf(dir, slice, &vars)) return;
  }
  for (const char* key : kTermsKeys) {
    bool found_by = std::strcmp(key, "VXPU_SLICE") == 0 || std::strcmp(key, "VXPU_STATE_DIR") == 0;
    if (contained || !found_by) unsetenv(key);
  }
  for (const auto& [key, value] : vars) setenv(key.c_str(), value.c_str(), 1);
}

std::string SliceNameFromEnv() {
  const char* slice = std::getenv("VXPU_SLICE");
  std::string name = slice != nullptr ? slice : "pid-" + std::to_string(getpid());
  if (!SliceLedger::ValidSliceName(name))
    RefuseToRun("VXPU_SLICE: bad slice name \"" + name + "\" (want 1-64 of A-Z a-z 0-9 . _ -)");
  return name;
}

void CheckStateDirFromEnv() {
  std::string dir, error;
  if (!StateDir(&dir, &error)) RefuseToRun(error);
}

bool DescribeDevice(CUdevice device, std::string* uuid, uint64_t* total_bytes) {
  auto get_uuid = RealSymbolAs<decltype(&cuDeviceGetUuid_v2)>("cuDeviceGetUuid_v2");
  auto get_total = RealSymbolAs<decltype(&cuDeviceTotalMem_v2)>("cuDeviceTotalMem_v2");
  CUuuid id;
  size_t bytes = 0;
  if (get_uuid == nullptr || get_total == nullptr || get_uuid(&id, device) != CUDA_SUCCESS ||
      get_total(&bytes, device) != CUDA_SUCCESS)
    return false;
  char text[64];
  const auto* b = reinterpret_cast<const unsigned char*>(id.bytes);
  std::snprintf(text, sizeof(text), "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  *uuid = text;
  *total_bytes = bytes;
  return true;
}

}  // namespace vxpu::interposer
