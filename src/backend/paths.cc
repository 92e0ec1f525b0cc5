#include "backend/paths.h"

#include <dlfcn.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace vxpu {

std::string ExecutableDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.find_last_of('/'));
}

namespace {
std::string& ChosenLibDir() {
  static std::string dir;
  return dir;
}
}  // namespace

void UseLibDir(const std::string& dir) { ChosenLibDir() = dir; }

std::string LibDir() {
  if (!ChosenLibDir().empty()) return ChosenLibDir();
  std::string installed = ExecutableDir() + "/../lib/vxpu";
  return FileExists(installed + "/libvxpu.so") ? installed : ExecutableDir() + "/../lib";
}

std::string SimgpuDir() {
  const char* env = std::getenv("VXPU_SIMGPU_DIR");
  if (env != nullptr && *env != '\0') return env;
  return LibDir() + "/simgpu";
}

std::string SimnpuDir() {
  const char* env = std::getenv("VXPU_SIMNPU_DIR");
  if (env != nullptr && *env != '\0') return env;
  return LibDir() + "/simnpu";
}

std::string InterposerPath() {
  const char* env = std::getenv("VXPU_INTERPOSER");
  if (env != nullptr && *env != '\0') return env;
  return LibDir() + "/libvxpu.so";
}

std::string RemoteClientDir() { return LibDir() + "/remote"; }

std::string CompanionPath(const std::string& name) {
  std::string beside = ExecutableDir() + "/" + name;
  return FileExists(beside) ? beside : LibDir() + "/" + name;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

namespace {

bool Loadable(const char* library) {
  void* handle = dlopen(library, RTLD_LAZY | RTLD_LOCAL);
  if (handle != nullptr) dlclose(handle);
  return handle != nullptr;
}

}  // namespace

bool RealDriverPresent() { return Loadable("libcuda.so.1"); }

bool RealAscendPresent() { return Loadable("libascendcl.so"); }

}  // namespace vxpu
