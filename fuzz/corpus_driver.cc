// Runs a libFuzzer target without libFuzzer: each file named on the command line (a directory:
// each file in it, in name order) goes once through LLVMFuzzerTestOneInput. A broken check in the
// target aborts, so the process fails; it also fails when it was given no input at all. This is how
// the seed corpus and the crash reproducers run in the normal test suite (ctest agent_api.FuzzCorpus).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool Expand(const std::string& arg, std::vector<std::string>* files) {
  std::error_code ec;
  if (std::filesystem::is_directory(arg, ec)) {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(arg, ec)) {
      if (entry.is_regular_file()) found.push_back(entry.path().string());
    }
    if (ec) {
      std::fprintf(stderr, "corpus_driver: %s: %s\n", arg.c_str(), ec.message().c_str());
      return false;
    }
    std::sort(found.begin(), found.end());
    files->insert(files->end(), found.begin(), found.end());
    return true;
  }
  files->push_back(arg);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!Expand(argv[i], &files)) return 1;
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s FILE|DIR... (runs each input through LLVMFuzzerTestOneInput)\n", argv[0]);
    return 2;
  }
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "corpus_driver: cannot read %s\n", path.c_str());
      return 1;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::printf("running %s (%zu bytes)\n", path.c_str(), bytes.size());
    std::fflush(stdout);  // so that the last name printed is the input that aborted
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%zu inputs ran, no check failed\n", files.size());
  return 0;
}
