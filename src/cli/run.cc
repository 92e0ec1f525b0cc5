#include "cli/run.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "slice/slice_setup.h"

namespace vxpu {
namespace {

constexpr int kCannotExecute = 126;
constexpr int kNotFound = 127;

int Fail(const std::string& message) {
  std::fprintf(stderr, "vxpu run: %s\n", message.c_str());
  return kRunError;
}

}  // namespace

int ExecCommand(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  int why = errno;
  std::fprintf(stderr, "vxpu run: cannot run %s: %s\n", argv[0], std::strerror(why));
  return why == ENOENT ? kNotFound : kCannotExecute;
}

int RunUnderSlice(const RunOptions& options) {
  if (options.command.empty()) return Fail("no command given (vxpu run [OPTIONS] -- COMMAND [ARGS...])");
  std::string error;
  if (!SetUpSlice(options, &error)) return Fail(error);
  return ExecCommand(options.command);
}

}  // namespace vxpu
