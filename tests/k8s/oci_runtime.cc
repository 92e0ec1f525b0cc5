#include "oci_runtime.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace testkubelet {
namespace {

using nlohmann::json;

const std::vector<std::string> kDefaultCapabilities = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};
// Capability names by number (linux/capability.h).
const char* const kCapabilityNames[] = {"CAP_CHOWN",
                                        "CAP_DAC_OVERRIDE",
                                        "CAP_DAC_READ_SEARCH",
                                        "CAP_FOWNER",
                                        "CAP_FSETID",
                                        "CAP_KILL",
                                        "CAP_SETGID",
                                        "CAP_SETUID",
                                        "CAP_SETPCAP",
                                        "CAP_LINUX_IMMUTABLE",
                                        "CAP_NET_BIND_SERVICE",
                                        "CAP_NET_BROADCAST",
                                        "CAP_NET_ADMIN",
                                        "CAP_NET_RAW",
                                        "CAP_IPC_LOCK",
                                        "CAP_IPC_OWNER",
                                        "CAP_SYS_MODULE",
                                        "CAP_SYS_RAWIO",
                                        "CAP_SYS_CHROOT",
                                        "CAP_SYS_PTRACE",
                                        "CAP_SYS_PACCT",
                                        "CAP_SYS_ADMIN",
                                        "CAP_SYS_BOOT",
                                        "CAP_SYS_NICE",
                                        "CAP_SYS_RESOURCE",
                                        "CAP_SYS_TIME",
                                        "CAP_SYS_TTY_CONFIG",
                                        "CAP_MKNOD",
                                        "CAP_LEASE",
                                        "CAP_AUDIT_WRITE",
                                        "CAP_AUDIT_CONTROL",
                                        "CAP_SETFCAP",
                                        "CAP_MAC_OVERRIDE",
                                        "CAP_MAC_ADMIN",
                                        "CAP_SYSLOG",
                                        "CAP_WAKE_ALARM",
                                        "CAP_BLOCK_SUSPEND",
                                        "CAP_AUDIT_READ",
                                        "CAP_PERFMON",
                                        "CAP_BPF",
                                        "CAP_CHECKPOINT_RESTORE"};

// A privileged container gets every capability the runtime holds: this process's bounding set
// (a sandbox may lack some, and asking for one it lacks fails the start).
std::vector<std::string> HeldCapabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  uint64_t bounding = 0;
  while (std::getline(status, line)) {
    if (line.rfind("CapBnd:", 0) == 0) bounding = std::stoull(line.substr(7), nullptr, 16);
  }
  std::vector<std::string> caps;
  for (size_t bit = 0; bit < std::size(kCapabilityNames); ++bit) {
    if (bounding & (1ull << bit)) caps.push_back(kCapabilityNames[bit]);
  }
  return caps;
}

json Capabilities(bool privileged) {
  std::vector<std::string> caps = privileged ? HeldCapabilities() : kDefaultCapabilities;
  return {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
}

json StandardMounts() {
  return json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      // A bind, not a new sysfs: a container without a network namespace of its own cannot mount one.
      {{"destination", "/sys"}, {"type", "bind"}, {"source", "/sys"}, {"options", {"rbind", "nosuid", "noexec", "ro"}}},
      {{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "nodev", "mode=1777"}}},
  });
}

json Namespaces(const OciSpec& spec) {
  json namespaces = json::array({{{"type", "mount"}}, {{"type", "ipc"}}, {{"type", "uts"}}});
  if (!spec.host_pid) namespaces.push_back({{"type", "pid"}});
  if (!spec.host_network) namespaces.push_back({{"type", "network"}});
  return namespaces;
}

// linux.devices and the device cgroup's rules (deny all but these; runc adds its defaults).
void AddDevices(const OciSpec& spec, json* linux) {
  json devices = json::array(), rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  for (const OciDevice& d : spec.devices) {
    struct stat st;
    if (stat(d.host_path.c_str(), &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) continue;
    const char* type = S_ISCHR(st.st_mode) ? "c" : "b";
    const int64_t major = ::major(st.st_rdev), minor = ::minor(st.st_rdev);
    devices.push_back({{"path", d.container_path},
                       {"type", type},
                       {"major", major},
                       {"minor", minor},
                       {"fileMode", st.st_mode & 07777},
                       {"uid", 0},
                       {"gid", 0}});
    rules.push_back({{"allow", true},
                     {"type", type},
                     {"major", major},
                     {"minor", minor},
                     {"access", d.permissions.empty() ? "rwm" : d.permissions}});
  }
  (*linux)["devices"] = devices;
  (*linux)["resources"] = {{"devices", rules}};
}

json ConfigOf(const OciSpec& spec, const std::string& rootfs, const std::string& hostname) {
  json mounts = StandardMounts();
  for (const OciMount& m : spec.mounts) {
    json options = {"rbind", "rprivate"};
    if (m.read_only) options.push_back("ro");
    mounts.push_back({{"destination", m.destination}, {"type", "bind"}, {"source", m.source}, {"options", options}});
  }
  json linux = {{"namespaces", Namespaces(spec)}};
  AddDevices(spec, &linux);
  if (!spec.privileged) {
    linux["maskedPaths"] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  }
  return {{"ociVersion", "1.0.2"},
          {"process",
           {{"terminal", false},
            {"user", {{"uid", 0}, {"gid", 0}}},
            {"args", spec.args},
            {"env", spec.env},
            {"cwd", "/"},
            {"capabilities", Capabilities(spec.privileged)}}},
          {"root", {{"path", rootfs}, {"readonly", true}}},
          {"hostname", hostname},
          {"mounts", mounts},
          {"linux", linux}};
}

int RunRunc(const std::string& runc_root, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/sbin/runc", "--root", runc_root};
  argv.insert(argv.end(), args.begin(), args.end());
  vxpu::ChildProcess runc;
  std::string error;
  if (!runc.Start(argv, {}, &error, /*with_stderr=*/true)) return -1;
  return runc.Wait();
}

}  // namespace

void AddAllocateAnswer(const v1beta1::ContainerAllocateResponse& answer, OciSpec* spec) {
  for (const auto& [key, value] : answer.envs()) spec->env.push_back(key + "=" + value);
  for (const v1beta1::Mount& m : answer.mounts())
    spec->mounts.push_back({m.host_path(), m.container_path(), m.read_only()});
  for (const v1beta1::DeviceSpec& d : answer.devices())
    spec->devices.push_back({d.container_path(), d.host_path(), d.permissions()});
}

RuncContainer::RuncContainer(std::string runc_root, std::string bundles, std::string rootfs)
    : runc_root_(std::move(runc_root)), bundles_(std::move(bundles)), rootfs_(std::move(rootfs)) {}

RuncContainer::~RuncContainer() {
  if (id_.empty()) return;
  if (running()) Signal("KILL");
  process_.Wait();
  RunRunc(runc_root_, {"delete", "--force", id_});
  std::filesystem::remove_all(bundles_ + "/" + id_);
}

bool RuncContainer::Start(const std::string& id, const OciSpec& spec, std::string* error) {
  std::string bundle = bundles_ + "/" + id;
  std::filesystem::create_directories(bundle);
  std::ofstream(bundle + "/config.json") << ConfigOf(spec, rootfs_, id).dump(2);
  id_ = id;
  return process_.Start({"/usr/sbin/runc", "--root", runc_root_, "run", "--bundle", bundle, id}, {}, error,
                        /*with_stderr=*/true);
}

bool RuncContainer::Signal(const std::string& signal) { return RunRunc(runc_root_, {"kill", id_, signal}) == 0; }

ContainerResult RunToEnd(RuncContainer& container, const std::string& id, const OciSpec& spec) {
  ContainerResult result;
  if (!container.Start(id, spec, &result.output)) return result;
  result.exit_code = container.Wait();
  result.output = container.output();
  return result;
}

}  // namespace testkubelet
