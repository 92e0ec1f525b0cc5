// The remote client's libcuda.so.1 exports exactly the entry points src/remote/client/api.def
// lists, and cuGetProcAddress answers each with the exported definition.
#include <cuda.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

namespace {

struct Entry {
  std::string name;    // what cuGetProcAddress is asked for
  int version;         // the CUDA version that introduced this symbol version
  std::string symbol;  // the exported name
};

// remote_<x>_v1 functions are exported under the base name (an __asm__ label, cuda_api.h).
std::string Exported(const std::string& name, const std::string& symbol) {
  return symbol.rfind("remote_", 0) == 0 ? name : symbol;
}

const Entry kEntries[] = {
#define VXPU_REMOTE_ENTRY(name, version, symbol, per_thread) {#name, version, Exported(#name, #symbol)},
#include "remote/client/api.def"
#undef VXPU_REMOTE_ENTRY
};

std::set<std::string> DynamicSymbols(const std::string& library) {
  std::set<std::string> names;
  FILE* nm = popen(("nm -D --defined-only " + library).c_str(), "r");
  char line[512];
  while (nm != nullptr && std::fgets(line, sizeof(line), nm) != nullptr) {
    std::string text(line);
    std::string name = text.substr(text.find_last_of(' ') + 1);
    name.erase(name.find_last_not_of("\n@") + 1);
    name = name.substr(0, name.find('@'));
    if (name.rfind("cu", 0) == 0) names.insert(name);
  }
  if (nm != nullptr) {
    EXPECT_EQ(pclose(nm), 0);
  }
  return names;
}

const std::string kLibrary = VXPU_REMOTE_CLIENT_DIR "/libcuda.so.1";

TEST(RemoteExports, TheLibraryExportsWhatTheListSaysAndNothingElse) {
  std::set<std::string> listed;
  for (const Entry& e : kEntries) listed.insert(e.symbol);
  std::set<std::string> exported = DynamicSymbols(kLibrary);
  ASSERT_FALSE(exported.empty());
  for (const std::string& name : listed) EXPECT_TRUE(exported.count(name)) << name << " is listed, not exported";
  for (const std::string& name : exported) EXPECT_TRUE(listed.count(name)) << name << " is exported, not listed";
}

TEST(RemoteExports, GetProcAddressAnswersEachEntryWithItsExportedDefinition) {
  void* lib = dlopen(kLibrary.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto get = reinterpret_cast<decltype(&cuGetProcAddress_v2)>(dlsym(lib, "cuGetProcAddress_v2"));
  ASSERT_NE(get, nullptr);
  for (const Entry& e : kEntries) {
    void* fn = nullptr;
    CUdriverProcAddressQueryResult status{};
    // Asked at the version that introduced it, the answer is this very symbol version.
    ASSERT_EQ(get(e.name.c_str(), &fn, e.version, 0, &status), CUDA_SUCCESS) << e.name;
    bool newer_same_version = false;
    for (const Entry& other : kEntries)
      newer_same_version |= other.name == e.name && other.version == e.version && &other != &e;
    if (!newer_same_version) {
      EXPECT_EQ(fn, dlsym(lib, e.symbol.c_str())) << e.name << " at " << e.version;
    }
  }
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status{};
  EXPECT_EQ(get("cuIpcGetMemHandle", &fn, 12000, 0, &status), CUDA_ERROR_NOT_FOUND) << "IPC is not forwarded";
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
}

}  // namespace
