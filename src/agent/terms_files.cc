#include "agent/terms_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "node/capacity.h"

namespace vxpu {
namespace {

constexpr char kSuffix[] = ".env";

std::string FileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TermsVars SliceTerms(const SliceSpec& slice, const std::string& state_dir) {
  TermsVars vars = {{"VXPU_SLICE", slice.name}, {"VXPU_STATE_DIR", state_dir}};
  if (slice.memory_limit) vars.emplace_back("VXPU_MEMORY", std::to_string(*slice.memory_limit) + "B");
  if (slice.compute) {
    vars.emplace_back("VXPU_COMPUTE", PercentText(slice.compute->guarantee_permille));
    vars.emplace_back("VXPU_COMPUTE_LIMIT", PercentText(slice.compute->limit_permille));
    vars.emplace_back("VXPU_PRIORITY", slice.compute->high_priority ? "high" : "normal");
  }
  return vars;
}

bool WriteTermsFile(const std::string& dir, const SliceSpec& slice, const std::string& state_dir, std::string* error) {
  const std::string path = dir + "/" + slice.name + kSuffix;
  const std::string text = FormatTermsFile(SliceTerms(slice, state_dir));
  if (FileText(path) == text) return true;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *error = "cannot create " + dir + ": " + std::strerror(errno);
    return false;
  }
  const std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  bool written = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                 fchmod(fd, 0644) == 0 && fsync(fd) == 0;
  int why = errno;
  if (fd >= 0) close(fd);
  if (written && rename(temp.c_str(), path.c_str()) != 0) {
    written = false;
    why = errno;
  }
  if (!written) {
    *error = "cannot write " + path + ": " + std::strerror(why);
    unlink(temp.c_str());
  }
  return written;
}

void RemoveTermsFilesExcept(const std::string& dir, const std::set<std::string>& keep) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  const size_t suffix = sizeof(kSuffix) - 1;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name.size() <= suffix || name.compare(name.size() - suffix, suffix, kSuffix) != 0) continue;
    if (!keep.count(name.substr(0, name.size() - suffix))) unlink((dir + "/" + name).c_str());
  }
  closedir(d);
}

}  // namespace vxpu
