#include "common/state_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vxpu {

bool ResolveStateDir(const char* value, std::string* dir, std::string* error) {
  if (value == nullptr || *value == '\0') {
    *dir = kDefaultStateDir;
    return true;
  }
  // Appended, not "lit" + std::string: GCC 12 -O3 warns falsely (-Wrestrict) on that.
  std::string named = kStateDirEnv;
  named.append("=\"").append(value).append("\": ");
  std::string path = value;
  if (path[0] != '/') {
    *error = named.append("not an absolute path");
    return false;
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *error = named.append(errno == ENOENT || errno == ENOTDIR ? "no such directory" : std::strerror(errno));
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *error = named.append("not a directory");
    return false;
  }
  *dir = path;
  return true;
}

bool StateDir(std::string* dir, std::string* error) {
  struct Resolved {
    bool ok;
    std::string dir, error;
  };
  // Never destroyed: the interposer's ELF destructor removes the process's segments after the
  // exit handlers have destroyed function-local statics.
  static const Resolved* const resolved = [] {
    auto* r = new Resolved;
    r->ok = ResolveStateDir(std::getenv(kStateDirEnv), &r->dir, &r->error);
    return r;
  }();
  if (!resolved->ok) {
    *error = resolved->error;
    return false;
  }
  *dir = resolved->dir;
  return true;
}

}  // namespace vxpu
