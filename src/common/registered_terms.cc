#include "common/registered_terms.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vxpu {
namespace {

constexpr size_t kMaxTermsFile = 4096;

bool KnownKey(const std::string& key) {
  for (const char* known : kTermsKeys) {
    if (key == known) return true;
  }
  return false;
}

}  // namespace

std::string TermsFileOfSlice(const std::string& state_dir, const std::string& slice) {
  return state_dir + "/slices/" + slice + ".env";
}

std::string AgentLockPath(const std::string& state_dir) { return state_dir + "/vxpud.lock"; }

bool AgentServes(const std::string& state_dir) {
  int fd = open(AgentLockPath(state_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  bool held = fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  close(fd);
  return held;
}

std::string FormatTermsFile(const TermsVars& vars) {
  std::string out = "# The slice's terms, written by vxpud: they hold whatever the workload's environment says.\n";
  for (const auto& [key, value] : vars) out.append(key).append("=").append(value).append("\n");
  return out;
}

bool ParseTermsFile(const std::string& text, TermsVars* vars, std::string* error) {
  vars->clear();
  size_t number = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    ++number;
    if (line.empty() || line[0] == '#') continue;
    size_t equals = line.find('=');
    std::string key = equals == std::string::npos ? line : line.substr(0, equals);
    bool repeated = false;
    for (const auto& seen : *vars) repeated = repeated || seen.first == key;
    if (equals == std::string::npos || !KnownKey(key) || repeated || line.find('\r') != std::string::npos) {
      *error = "line " + std::to_string(number) + ": want one of the VXPU_* terms as KEY=VALUE, once";
      return false;
    }
    vars->emplace_back(key, line.substr(equals + 1));
  }
  return true;
}

bool ReadTermsFile(const std::string& path, TermsVars* vars, std::string* error, unsigned* owner) {
  error->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno != ENOENT && errno != ENOTDIR) *error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    *error = path + ": not a regular file";
    return false;
  }
  if (owner != nullptr) *owner = st.st_uid;
  std::string text;
  char buffer[1024];
  ssize_t n = 0;
  while (text.size() <= kMaxTermsFile && (n = read(fd, buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  int why = errno;
  close(fd);
  if (n < 0) {
    *error = "cannot read " + path + ": " + std::strerror(why);
    return false;
  }
  if (text.size() > kMaxTermsFile) {
    *error = path + ": over " + std::to_string(kMaxTermsFile) + " bytes";
    return false;
  }
  std::string why_not;
  if (!ParseTermsFile(text, vars, &why_not)) {
    *error = path + ": " + why_not;
    return false;
  }
  return true;
}

}  // namespace vxpu
