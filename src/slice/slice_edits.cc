#include "slice/slice_edits.h"

#include "common/ascend_api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/registered_terms.h"
#include "node/capacity.h"

namespace vxpu {
namespace {

std::string Joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

std::string LibPath(const std::string& host_lib_dir) { return host_lib_dir + "/lib/libvxpu.so"; }

// Writes `data` to `path` through a temporary file and a rename.
bool WriteAtomically(const std::string& path, const std::string& data, mode_t mode, std::string* error) {
  std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < data.size();) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    ok = n > 0;
    done += ok ? static_cast<size_t>(n) : 0;
  }
  ok = ok && fchmod(fd, mode) == 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  ok = ok && rename(temp.c_str(), path.c_str()) == 0;
  if (!ok) {
    *error = "--host-lib-dir: cannot write " + path + ": " + std::strerror(errno);
    unlink(temp.c_str());
  }
  return ok;
}

bool ReadFile(const std::string& path, std::string* data, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) data->append(buf, static_cast<size_t>(n));
  close(fd);
  if (n < 0) *error = "cannot read " + path + ": " + std::strerror(errno);
  return n == 0;
}

// What says which devices a container's runtime exposes: NVIDIA's variables for GPUs (UUIDs);
// for NPUs ASCEND_VISIBLE_DEVICES (the chips' physical ids), what Ascend's container runtime
// reads. Not ASCEND_RT_VISIBLE_DEVICES: inside a container the runtime numbers the chips it was
// given from 0, and a physical id there fails aclrtSetDevice with 107001 (HAMi #1877).
std::map<std::string, std::string> VisibleDevicesEnv(const std::vector<std::string>& uuids) {
  std::vector<std::string> gpus, npus;
  for (const std::string& uuid : uuids) {
    if (IsNpuUuid(uuid)) {
      npus.push_back(std::to_string(NpuPhyId(uuid)));
    } else {
      gpus.push_back(uuid);
    }
  }
  std::map<std::string, std::string> env;
  if (!gpus.empty()) env = {{"NVIDIA_VISIBLE_DEVICES", Joined(gpus)}, {"CUDA_VISIBLE_DEVICES", Joined(gpus)}};
  if (!npus.empty()) env["ASCEND_VISIBLE_DEVICES"] = Joined(npus);
  return env;
}

}  // namespace

std::string TermsDir(const PluginPaths& paths) { return paths.host_lib_dir + "/slices"; }

std::map<std::string, std::string> SliceEnvironment(const SliceEnvTerms& t) {
  return {{"VXPU_SLICE", t.slice},
          {"VXPU_MEMORY", t.memory},
          {"VXPU_COMPUTE", t.compute},
          {"VXPU_COMPUTE_LIMIT", t.compute_limit},
          {"VXPU_PRIORITY", t.compute.empty() ? "" : t.priority}};
}

SliceEdits ContainerEditsFor(const SliceSpec& slice, const std::vector<std::string>& device_nodes,
                             const PluginPaths& paths) {
  SliceEnvTerms terms{slice.name, "", "", "", ""};
  if (slice.memory_limit) terms.memory = std::to_string(*slice.memory_limit >> 20) + "MiB";
  if (slice.compute) {
    terms.compute = PercentText(slice.compute->guarantee_permille);
    terms.compute_limit = PercentText(slice.compute->limit_permille);
    terms.priority = slice.compute->high_priority ? "high" : "normal";
  }
  SliceEdits edits;
  for (const auto& [name, value] : SliceEnvironment(terms)) {
    if (!value.empty()) edits.env[name] = value;
  }
  edits.env.insert({{"VXPU_STATE_DIR", paths.state_dir}, {"VXPU_AGENT_SOCKET", "none"}});
  edits.env.merge(VisibleDevicesEnv(slice.devices));
  // The registered terms, which the workload's own VXPU_* cannot change (NodeAgent writes them
  // before Allocate answers; common/registered_terms.h).
  edits.mounts = {{LibPath(paths.host_lib_dir), LibPath(paths.host_lib_dir), true},
                  {kContainerPreload, paths.host_lib_dir + "/ld.so.preload", true},
                  {kContainerTermsPath, TermsDir(paths) + "/" + slice.name + ".env", true},
                  {paths.state_dir, paths.state_dir, false}};
  for (const std::string& node : device_nodes) {
    std::string name = node.substr(node.rfind('/') + 1);
    edits.devices.push_back(DeviceNode{"/dev/" + name, node, "rw"});
  }
  return edits;
}

bool InstallHostLib(const std::string& interposer, const std::string& host_lib_dir, std::string* error) {
  for (const std::string& dir : {host_lib_dir, host_lib_dir + "/lib"}) {
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "--host-lib-dir: cannot create " + dir + ": " + std::strerror(errno);
      return false;
    }
  }
  std::string library;
  if (!ReadFile(interposer, &library, error)) return false;
  return WriteAtomically(LibPath(host_lib_dir), library, 0755, error) &&
         WriteAtomically(host_lib_dir + "/ld.so.preload", LibPath(host_lib_dir) + "\n", 0644, error);
}

}  // namespace vxpu
