// Where `vxpu remoted` keeps the module and library images its sessions are sent, shared by
// every session's worker (remote/worker/image_cache.h): --image-cache's directory, or by default
// $XDG_CACHE_HOME/vxpu/images, ~/.cache/vxpu/images, or /var/cache/vxpu/images for root; "none"
// keeps nothing. The directory is made if missing (mode 700) and must belong to this user and
// be writable by no one else, since what is in it is loaded into every later session.
#pragma once

#include <string>

namespace vxpu::remote {

// The directory to use ("" for none), made ready; false with *error naming the problem.
bool PrepareImageCacheDir(const std::string& option, std::string* dir, std::string* error);

}  // namespace vxpu::remote
