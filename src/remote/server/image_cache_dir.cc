#include "remote/server/image_cache_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace vxpu::remote {
namespace {

std::string DefaultDir() {
  if (geteuid() == 0) return "/var/cache/vxpu/images";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/vxpu/images";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/vxpu/images";
  return "";
}

}  // namespace

bool PrepareImageCacheDir(const std::string& option, std::string* dir, std::string* error) {
  if (option == "none") {
    dir->clear();
    return true;
  }
  std::string path = option.empty() ? DefaultDir() : option;
  if (path.empty()) {
    *error = "--image-cache: no HOME or XDG_CACHE_HOME to keep images under; name a directory or \"none\"";
    return false;
  }
  if (path[0] != '/') {
    *error = "--image-cache: want an absolute path or \"none\", not \"" + path + "\"";
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    *error = "--image-cache " + path + ": " + ec.message();
    return false;
  }
  if (option.empty()) chmod(path.c_str(), 0700);  // made by default: private
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "--image-cache " + path + ": not a directory";
    return false;
  }
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    *error = "--image-cache " + path +
             ": must be this user's and writable by no one else (images in it are loaded "
             "into every session)";
    return false;
  }
  *dir = path;
  return true;
}

}  // namespace vxpu::remote
