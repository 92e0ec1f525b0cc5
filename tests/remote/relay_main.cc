// vxpu_test_relay: a DelayRelay (delay_relay.h) in a process of its own, so that a test can run
// it in another network namespace (ip netns exec NS vxpu_test_relay ...).
//
//   vxpu_test_relay --listen HOST:0 --target HOST:PORT --delay-us N
//
// Prints {"listening":"HOST:PORT"} on stdout once it listens. SIGUSR1 partitions the relay,
// SIGUSR2 ends the partition (each said on stderr once in effect); SIGTERM or SIGINT stops it
// (exit 0). Exit 2: bad usage or it could not start.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "delay_relay.h"

namespace {

int Usage(const std::string& problem) {
  std::fprintf(stderr, "vxpu_test_relay: %s\nusage: vxpu_test_relay --listen HOST:0 --target HOST:PORT --delay-us N\n",
               problem.c_str());
  return 2;
}

bool ParseDelay(const std::string& text, std::chrono::microseconds* out) {
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0' || value > 60000000) return false;
  *out = std::chrono::microseconds(value);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen, target, delay_text;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--listen") {
      listen = argv[i + 1];
    } else if (flag == "--target") {
      target = argv[i + 1];
    } else if (flag == "--delay-us") {
      delay_text = argv[i + 1];
    } else {
      return Usage("unknown option " + flag);
    }
  }
  if (argc % 2 == 0 || listen.empty() || target.empty() || delay_text.empty()) return Usage("missing an option");
  std::chrono::microseconds delay{0};
  if (!ParseDelay(delay_text, &delay)) return Usage("--delay-us: bad value \"" + delay_text + "\"");
  if (listen.size() < 3 || listen.compare(listen.size() - 2, 2, ":0") != 0)
    return Usage("--listen: want HOST:0 (the kernel picks the port)");

  // The signals are taken by sigwait below, in this thread; the relay's threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  vxpu::test::DelayRelay relay;
  std::string error;
  std::string host = listen.substr(0, listen.size() - 2);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!relay.Start(host, target, delay, &error)) return Usage(error);
  std::printf("{\"listening\":\"%s\"}\n", relay.address().c_str());
  std::fflush(stdout);
  for (;;) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received == SIGUSR1 || received == SIGUSR2) {
      relay.SetPartitioned(received == SIGUSR1);
      std::fprintf(stderr, "vxpu_test_relay: %s\n", received == SIGUSR1 ? "partitioned" : "partition ended");
    } else {
      break;
    }
  }
  relay.Stop();
  return 0;
}
