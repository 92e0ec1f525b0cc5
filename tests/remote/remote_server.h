// Test support: a real `vxpu remoted --sim` on loopback (or an address given), with a token
// file of its own, stopped when dropped. Tests point the remote client at it through Env().
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.h"
#include "common/json_line.h"

namespace remotetest {

class RemoteServer {
 public:
  // Starts the server with `args` added (--memory is required) and `env` added to its
  // environment; false with *error on failure. Images are kept in a directory of its own
  // (image_cache()), unless `args` name one.
  bool Start(const std::vector<std::string>& args, std::string* error, const std::string& listen = "127.0.0.1:0",
             const std::vector<std::string>& prefix = {}, std::vector<std::string> env = {}) {
    token_path_ = "/tmp/vxpu-remote-test-token-" + std::to_string(getpid()) + "-" + std::to_string(++started_);
    {
      std::ofstream out(token_path_);
      std::random_device random;
      for (int i = 0; i < 32; ++i) out << "0123456789abcdef"[random() % 16];
    }
    chmod(token_path_.c_str(), 0600);
    std::vector<std::string> argv = prefix;
    for (std::string a : {std::string(VXPU_CLI_PATH), std::string("remoted"), std::string("--sim"),
                          std::string("--listen"), listen, std::string("--token-file"), token_path_})
      argv.push_back(a);
    argv.insert(argv.end(), args.begin(), args.end());
    if (std::find(args.begin(), args.end(), "--image-cache") == args.end()) {
      image_cache_ = token_path_ + "-images";
      argv.insert(argv.end(), {"--image-cache", image_cache_});
    }
    // The server must not load the remote client a test process runs on.
    env.push_back("LD_LIBRARY_PATH=");
    if (!child_.Start(argv, env, error, /*with_stderr=*/true)) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      child_.Poll();
      size_t at = child_.output().find("{\"listening\":\"");
      size_t end = at == std::string::npos ? at : child_.output().find("\"}", at);
      if (end != std::string::npos) {
        address_ = child_.output().substr(at + 14, end - at - 14);
        return true;
      }
      if (!child_.running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    child_.Kill();
    child_.Wait();
    *error = "vxpu remoted did not start: " + child_.output();
    return false;
  }

  // Stops the server (SIGTERM); returns its exit code.
  int Stop() {
    if (child_.running()) kill(child_.pid(), SIGTERM);
    int code = child_.Wait();
    Clean();
    return code;
  }

  ~RemoteServer() {
    if (child_.running()) Stop();
    Clean();
  }

  const std::string& address() const { return address_; }
  const std::string& token_path() const { return token_path_; }
  const std::string& image_cache() const { return image_cache_; }
  std::string log() {
    child_.Poll();
    return child_.output();
  }
  pid_t pid() const { return child_.pid(); }

  // The environment that points the remote client at this server.
  std::vector<std::string> Env() const {
    return {"LD_LIBRARY_PATH=" VXPU_REMOTE_CLIENT_DIR, "VXPU_REMOTE=" + address_,
            "VXPU_REMOTE_TOKEN_FILE=" + token_path_};
  }

 private:
  void Clean() {
    std::remove(token_path_.c_str());
    std::error_code ignored;
    if (!image_cache_.empty()) std::filesystem::remove_all(image_cache_, ignored);
  }

  vxpu::ChildProcess child_;
  std::string address_, token_path_, image_cache_;
  int started_ = 0;
};

}  // namespace remotetest
