// What the fuzz targets here share: a broken promise aborts with what broke (a "crash" to
// libFuzzer, a failed test to the gcc corpus driver), and a refusal must come with a one-line
// error.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vxpu_fuzz {

[[noreturn]] inline void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz: check failed: %s\n  %s\n", what, detail.substr(0, 2000).c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                     \
  do {                                               \
    if (!(cond)) ::vxpu_fuzz::Fail(#cond, (detail)); \
  } while (0)

// A parser's refusal: an error, on one line (it goes to logs and to the client).
inline void CheckRefusal(const std::string& error, const char* parser) {
  FUZZ_CHECK(!error.empty(), std::string(parser) + " refused without an error");
  FUZZ_CHECK(error.find_first_of("\r\n") == std::string::npos, std::string(parser) + ": " + error);
}

}  // namespace vxpu_fuzz
