// Remote sessions end to end on one machine: a real `vxpu remoted --sim` on loopback, real
// programs (vxpu run --remote) and hand-made protocol clients, on a simulated device of the
// test's own. What is asserted is what a tenant or the server's owner would see: allocations
// refused at the quota, shares of device time, memory freed, sessions closed, errors returned.
#include <dlfcn.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "../simgpu/sim_env.h"
#include "common/nvml_abi.h"
#include "common/sha256.h"
#include "remote/raw_session.h"
#include "remote/remote_server.h"

namespace {

using remotetest::RawSession;
using remotetest::RemoteServer;
using vxpu::remote::Op;

const std::string kVxpu = VXPU_CLI_PATH;
const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";
const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";
constexpr uint64_t kGiB = 1ull << 30;

std::unique_ptr<RemoteServer> StartServer(const std::vector<std::string>& args) {
  auto server = std::make_unique<RemoteServer>();
  std::string error;
  EXPECT_TRUE(server->Start(args, &error)) << error;
  return server;
}

std::string Token(const RemoteServer& server) {
  std::ifstream in(server.token_path());
  std::string token;
  std::getline(in, token);
  return token;
}

// `vxpu run --remote` of `command` against `server`, with `options` before the --.
std::unique_ptr<vxpu::ChildProcess> RunRemote(const RemoteServer& server, const std::vector<std::string>& options,
                                              const std::vector<std::string>& command,
                                              const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {kVxpu, "run", "--remote", server.address(), "--token-file", server.token_path()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return simtest::StartChild(argv, env);
}

// Device memory in use on the simulated device 0, as simgpu's NVML counts it (every process).
uint64_t DeviceMemoryUsed() {
  static void* nvml = dlopen(VXPU_SIMGPU_DIR "/libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  auto init = reinterpret_cast<decltype(&nvmlInit_v2)>(dlsym(nvml, "nvmlInit_v2"));
  auto handle =
      reinterpret_cast<decltype(&nvmlDeviceGetHandleByIndex_v2)>(dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2"));
  auto info = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo)>(dlsym(nvml, "nvmlDeviceGetMemoryInfo"));
  nvmlDevice_t device = nullptr;
  nvmlMemory_t memory{};
  EXPECT_TRUE(init != nullptr && init() == NVML_SUCCESS && handle(0, &device) == NVML_SUCCESS &&
              info(device, &memory) == NVML_SUCCESS);
  return memory.used;
}

// Waits until `child` printed `text` (or exited).
bool WaitForOutput(vxpu::ChildProcess& child, const std::string& text, std::chrono::milliseconds timeout) {
  return simtest::PollFor(timeout,
                          [&] {
                            child.Poll();
                            return child.output().find(text) != std::string::npos || !child.running();
                          }) &&
         child.output().find(text) != std::string::npos;
}

// The pid of the newest session's worker, from the server's log.
pid_t WorkerPid(RemoteServer& server) {
  std::smatch m;
  std::string log = server.log();
  std::regex session("session ([0-9]+): slice");
  pid_t pid = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), session); it != std::sregex_iterator(); ++it)
    pid = std::stoi((*it)[1]);
  return pid;
}

// Waits up to `bound` for `child` to exit; kills it past that. Returns the exit code and
// whether it exited within the bound.
std::pair<int, bool> ExitWithin(vxpu::ChildProcess& child, std::chrono::milliseconds bound) {
  bool exited = simtest::PollFor(bound, [&] {
    child.Poll();
    return kill(child.pid(), 0) != 0 || waitpid(child.pid(), nullptr, WNOHANG | WNOWAIT) == child.pid();
  });
  if (!exited) child.Kill();
  return {child.Wait(), exited};
}

TEST(RemoteSlice, TheMemoryQuotaHoldsOnEveryAllocationPath) {
  auto server = StartServer({"--memory", "2GiB"});
  for (std::string path : {"alloc", "async", "pool", "vmm", "managed", "pitch"}) {
    auto child = RunRemote(*server, {"--memory", "1GiB"}, {kProbe, path, "256", "8"});
    nlohmann::json report = simtest::ReportOf(*child);
    EXPECT_EQ(report.value("succeeded", -1), 4) << path << ": " << report.dump();
    EXPECT_EQ(report.value("refused", -1), CUDA_ERROR_OUT_OF_MEMORY) << path;
    EXPECT_EQ(report.value("after_free", -1), CUDA_SUCCESS) << path;
    EXPECT_EQ(report.value("total", 0ull), kGiB) << path;
    EXPECT_EQ(report.value("nvml_total", 0ull), kGiB) << path << ": NVML shows the slice";
    EXPECT_EQ(report.value("devices", 0), 1) << path;
  }
}

TEST(RemoteSlice, TheServersLimitIsWhatASessionGetsWithoutAsking) {
  auto server = StartServer({"--memory", "2GiB"});
  auto child = RunRemote(*server, {}, {kProbe, "alloc", "512", "8"});
  nlohmann::json report = simtest::ReportOf(*child);
  EXPECT_EQ(report.value("device_total", 0ull), 2 * kGiB);
  EXPECT_EQ(report.value("succeeded", -1), 4);
}

TEST(RemoteSlice, MoreThanTheServerGivesIsRefusedAtCuInit) {
  auto server = StartServer({"--memory", "2GiB", "--compute", "50"});
  auto memory = RunRemote(*server, {"--memory", "4GiB"}, {kProbe, "alloc", "256", "1"});
  EXPECT_NE(memory->Wait(), 0);
  EXPECT_NE(memory->output().find("more than this server gives a session"), std::string::npos) << memory->output();
  auto compute = RunRemote(*server, {"--compute", "60"}, {kProbe, "alloc", "256", "1"});
  EXPECT_NE(compute->Wait(), 0);
  EXPECT_NE(compute->output().find("compute 60% is more than this server gives"), std::string::npos)
      << compute->output();
}

TEST(RemoteSlice, ComputeSharesHoldBetweenARemoteAndALocalTenant) {
  auto server = StartServer({"--memory", "2GiB", "--compute", "50"});
  auto remote = RunRemote(*server, {"--compute", "30"}, {kBurn, "--seconds", "4"});
  auto local = simtest::StartChild(
      {kVxpu, "run", "--sim", "--memory", "2GiB", "--compute", "70", "--", kBurn, "--seconds", "4"}, {});
  nlohmann::json r = simtest::ReportOf(*remote), l = simtest::ReportOf(*local);
  double remote_s = r.value("device_seconds", 0.0), local_s = l.value("device_seconds", 0.0);
  ASSERT_GT(remote_s + local_s, 0.0);
  double remote_share = 100.0 * remote_s / (remote_s + local_s);
  EXPECT_NEAR(remote_share, 30.0, 5.0) << "remote " << r.dump() << " local " << l.dump();
}

TEST(RemoteFaults, AKilledClientsMemoryIsFreedWithinASecond) {
  auto server = StartServer({"--memory", "2GiB"});
  uint64_t before = DeviceMemoryUsed();
  auto child = RunRemote(*server, {"--memory", "1GiB"}, {kProbe, "alloc", "256", "4", "--hold", "60"});
  ASSERT_TRUE(WaitForOutput(*child, "{\"holding\":4}", std::chrono::seconds(20))) << child->output();
  ASSERT_GE(DeviceMemoryUsed(), before + kGiB);
  child->Kill();
  auto killed = std::chrono::steady_clock::now();
  child->Wait();
  EXPECT_TRUE(simtest::PollFast(std::chrono::milliseconds(1000), [&] { return DeviceMemoryUsed() <= before; }))
      << "still in use: " << DeviceMemoryUsed() - before << " bytes, "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count() << " s after the kill";
}

// Stopped (or hung, or behind a link that holds its connection open), a client says nothing:
// its worker gives the session up after the server's timeout, and its memory with it.
TEST(RemoteFaults, ASilentClientsSessionEndsAfterTheServersTimeout) {
  auto server = StartServer({"--memory", "2GiB", "--timeout-ms", "3000"});
  uint64_t before = DeviceMemoryUsed();
  auto child = RunRemote(*server, {"--memory", "1GiB"}, {kProbe, "alloc", "256", "4", "--hold", "60"});
  ASSERT_TRUE(WaitForOutput(*child, "{\"holding\":4}", std::chrono::seconds(20))) << child->output();
  std::this_thread::sleep_for(std::chrono::milliseconds(5000));  // idle but alive: its keepalives hold it
  ASSERT_GE(DeviceMemoryUsed(), before + kGiB) << "the session of an idle, live client was given up";
  kill(child->pid(), SIGSTOP);
  bool freed = simtest::PollFor(std::chrono::seconds(10), [&] { return DeviceMemoryUsed() <= before; });
  kill(child->pid(), SIGKILL);
  kill(child->pid(), SIGCONT);
  child->Wait();
  EXPECT_TRUE(freed) << "a stopped client's memory was still held 10 s later (timeout 3 s)\n" << server->log();
  EXPECT_NE(server->log().find("silent for 3000 ms"), std::string::npos) << server->log();
}

TEST(RemoteFaults, AKilledServerFailsTheClientPromptly) {
  auto server = StartServer({"--memory", "2GiB"});
  auto child = RunRemote(*server, {}, {kBurn, "--seconds", "60"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(20), [&] { return WorkerPid(*server) != 0; })) << server->log();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(server->pid(), SIGKILL);
  auto [code, exited] = ExitWithin(*child, std::chrono::seconds(5));
  EXPECT_TRUE(exited) << "the client still ran 5 s after the server was killed";
  EXPECT_NE(code, 0);
  EXPECT_NE(child->output().find("lost the session"), std::string::npos) << child->output();
}

TEST(RemoteFaults, ASilentServerFailsTheClientAfterTheTimeout) {
  auto server = StartServer({"--memory", "2GiB"});
  auto child = RunRemote(*server, {}, {kBurn, "--seconds", "60"}, {"VXPU_REMOTE_TIMEOUT_MS=1500"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(20), [&] { return WorkerPid(*server) != 0; })) << server->log();
  pid_t worker = WorkerPid(*server);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(worker, SIGSTOP);  // alive, connected, and silent: what a hung server or a partition looks like
  auto [code, exited] = ExitWithin(*child, std::chrono::seconds(10));
  kill(worker, SIGKILL);
  kill(worker, SIGCONT);
  EXPECT_TRUE(exited) << "the client still ran 10 s after its server fell silent (timeout 1.5 s)";
  EXPECT_NE(code, 0);
  EXPECT_NE(child->output().find("lost the session"), std::string::npos) << child->output();
}

// Before Hello nothing is trusted: a Hello too long for its content, or one sent a byte at a
// time, is refused by one deadline; and sessions (each a process) are bounded.
TEST(RemoteProtocol, HelloIsBoundedInSizeAndTime) {
  auto server = StartServer({"--memory", "2GiB", "--max-sessions", "2"});
  RawSession huge;
  ASSERT_TRUE(huge.Connect(server->address()));
  std::string head;
  vxpu::remote::AppendRequest(&head, Op::kHello, 0, {1, 16, 0, 0}, 64ull << 20);
  huge.SendBytes(head);
  remotetest::Answer refusal = huge.Read();
  ASSERT_TRUE(refusal.ok);
  EXPECT_EQ(refusal.blob, "bad Hello: Hello of 67108864 bytes (at most 4224)");

  RawSession trickle;
  ASSERT_TRUE(trickle.Connect(server->address()));
  auto start = std::chrono::steady_clock::now();
  std::string hello;
  vxpu::remote::AppendRequest(&hello, Op::kHello, 0, {1, 32, 0, 0}, 32);
  bool closed = false;
  for (char byte : hello + Token(*server)) {
    trickle.SendBytes(std::string(1, byte));
    if ((closed = trickle.ClosedByServer(900))) break;
  }
  EXPECT_TRUE(closed) << "a Hello a byte at a time was still read";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  RawSession first, second, third;
  ASSERT_TRUE(first.Connect(server->address()) && second.Connect(server->address()));
  ASSERT_EQ(first.Hello(Token(*server)).result, CUDA_SUCCESS);
  ASSERT_EQ(second.Hello(Token(*server)).result, CUDA_SUCCESS);
  ASSERT_TRUE(third.Connect(server->address()));
  remotetest::Answer full = third.Hello(Token(*server));  // a connection is a session once its Hello passes
  ASSERT_TRUE(full.ok);
  EXPECT_EQ(full.result, CUDA_ERROR_DEVICE_UNAVAILABLE);  // busy: NO_DEVICE is for a slice that does not fit
  EXPECT_EQ(full.blob, "the server is serving as many sessions as it may (--max-sessions 2)");
}

TEST(RemoteProtocol, AWrongTokenIsRefused) {
  auto server = StartServer({"--memory", "2GiB"});
  RawSession raw;
  ASSERT_TRUE(raw.Connect(server->address()));
  remotetest::Answer a = raw.Hello("not-the-token-at-all");
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.result, CUDA_ERROR_NOT_PERMITTED);
  EXPECT_EQ(a.blob, "wrong token");
  EXPECT_TRUE(raw.ClosedByServer());
}

TEST(RemoteProtocol, MalformedRequestsCloseThatSessionAndTheServerServesTheOthers) {
  auto server = StartServer({"--memory", "2GiB"});
  auto tenant = RunRemote(*server, {}, {kBurn, "--seconds", "3"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(20), [&] { return WorkerPid(*server) != 0; })) << server->log();

  RawSession garbage_first;  // garbage instead of Hello
  ASSERT_TRUE(garbage_first.Connect(server->address()));
  garbage_first.SendBytes(std::string(64, '\xff'));
  EXPECT_TRUE(garbage_first.ClosedByServer());

  RawSession unknown_op;  // a good Hello, then an op the protocol does not have
  ASSERT_TRUE(unknown_op.Connect(server->address()));
  ASSERT_EQ(unknown_op.Hello(Token(*server)).result, CUDA_SUCCESS);
  unknown_op.SendBytes(std::string("\xe7\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16));
  EXPECT_TRUE(unknown_op.ClosedByServer());

  RawSession wrong_arity;  // a known op with the wrong number of arguments
  ASSERT_TRUE(wrong_arity.Connect(server->address()));
  ASSERT_EQ(wrong_arity.Hello(Token(*server)).result, CUDA_SUCCESS);
  wrong_arity.Send(Op::kMemAlloc, 0, {1, 2, 3});
  EXPECT_TRUE(wrong_arity.ClosedByServer());

  RawSession huge_blob;  // a blob past every bound
  ASSERT_TRUE(huge_blob.Connect(server->address()));
  ASSERT_EQ(huge_blob.Hello(Token(*server)).result, CUDA_SUCCESS);
  std::string head;
  vxpu::remote::AppendRequest(&head, Op::kModuleLoadData, 0, {16}, 1ull << 40);
  huge_blob.SendBytes(head);
  EXPECT_TRUE(huge_blob.ClosedByServer());

  nlohmann::json report = simtest::ReportOf(*tenant);
  EXPECT_GT(report.value("kernels", 0), 0) << "the well-behaved session kept being served";
}

TEST(RemoteIsolation, ASessionCannotNameAnothersMemoryOrHandles) {
  auto server = StartServer({"--memory", "2GiB"});
  RawSession a, b;
  ASSERT_TRUE(a.Connect(server->address()) && b.Connect(server->address()));
  ASSERT_EQ(a.Hello(Token(*server)).result, CUDA_SUCCESS);
  ASSERT_EQ(b.Hello(Token(*server)).result, CUDA_SUCCESS);
  constexpr uint64_t kCtx = 16, kStream = 17;
  ASSERT_EQ(a.Call(Op::kPrimaryCtxRetain, 0, {kCtx, 0}).result, CUDA_SUCCESS);
  ASSERT_EQ(b.Call(Op::kPrimaryCtxRetain, 0, {kCtx, 0}).result, CUDA_SUCCESS);
  remotetest::Answer alloc = a.Call(Op::kMemAlloc, kCtx, {4096});
  ASSERT_EQ(alloc.result, CUDA_SUCCESS);
  uint64_t ptr = alloc.outs.at(0);
  a.Send(Op::kStreamCreate, kCtx, {kStream, 0, 0});
  a.Send(Op::kMemset, kCtx, {ptr, 0x5a, 1, 4096, kStream});
  ASSERT_EQ(a.Call(Op::kStreamSynchronize, kCtx, {kStream}).result, CUDA_SUCCESS);

  EXPECT_EQ(b.Call(Op::kMemcpyDtoH, kCtx, {ptr, 16}).result, CUDA_ERROR_INVALID_VALUE) << "read another's memory";
  EXPECT_EQ(b.Call(Op::kStreamSynchronize, kCtx, {kStream}).result, CUDA_ERROR_INVALID_HANDLE)
      << "used another's stream";
  b.Send(Op::kMemset, kCtx, {ptr, 0, 1, 4096, 0});  // sent without waiting: refused at the next sync
  b.Send(Op::kMemFree, kCtx, {ptr});
  EXPECT_EQ(b.Call(Op::kCtxSynchronize, kCtx, {}).result, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(b.Call(Op::kCtxSynchronize, kCtx, {}).result, CUDA_SUCCESS) << "an error is reported once";

  remotetest::Answer mine = a.Call(Op::kMemcpyDtoH, kCtx, {ptr, 16});
  ASSERT_EQ(mine.result, CUDA_SUCCESS);
  EXPECT_EQ(mine.blob, std::string(16, '\x5a')) << "the owner's memory is intact";
}

// Images kept by digest are the server's, libraries and graphs the session's: a digest is
// checked against what is on disk, never trusted, and one session cannot name another's handles.
TEST(RemoteIsolation, KeptImagesAreCheckedAndLibrariesAndGraphsStayTheSessions) {
  auto server = StartServer({"--memory", "2GiB"});
  RawSession a, b;
  ASSERT_TRUE(a.Connect(server->address()) && b.Connect(server->address()));
  ASSERT_EQ(a.Hello(Token(*server)).result, CUDA_SUCCESS);
  ASSERT_EQ(b.Hello(Token(*server)).result, CUDA_SUCCESS);
  constexpr uint64_t kCtx = 16, kLibrary = 17, kKernel = 18, kStream = 19, kGraph = 20, kExec = 21;
  ASSERT_EQ(a.Call(Op::kPrimaryCtxRetain, 0, {kCtx, 0}).result, CUDA_SUCCESS);
  ASSERT_EQ(b.Call(Op::kPrimaryCtxRetain, 0, {kCtx, 0}).result, CUDA_SUCCESS);
  // A text module naming a built-in, padded past the size images are kept from.
  std::string image = ".visible .entry vxpu_fill_u32(.param .u64 a, .param .u32 b, .param .u64 c) { ret; }\n";
  image += std::string(8192, ' ');
  vxpu::Sha256Digest digest = vxpu::Sha256(image.data(), image.size());
  std::string name(reinterpret_cast<const char*>(digest.data()), digest.size());
  EXPECT_EQ(a.Call(Op::kLibraryLoadCached, kCtx, {kLibrary}, name).result, CUDA_ERROR_FILE_NOT_FOUND) << "not kept yet";
  ASSERT_EQ(a.Call(Op::kLibraryLoadData, kCtx, {kLibrary}, image).result, CUDA_SUCCESS);
  ASSERT_EQ(a.Call(Op::kLibraryGetKernel, kCtx, {kKernel, kLibrary}, "vxpu_fill_u32").result, CUDA_SUCCESS);

  // b: the kept image loads by its digest; a's library and kernel are not b's to name.
  EXPECT_EQ(b.Call(Op::kLibraryLoadCached, kCtx, {kLibrary}, name).result, CUDA_SUCCESS);
  EXPECT_EQ(b.Call(Op::kLibraryGetKernel, kCtx, {kKernel, kLibrary + 100}, "vxpu_fill_u32").result,
            CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(b.Call(Op::kLibraryLoadCached, kCtx, {kLibrary + 1}, name.substr(1)).result, CUDA_ERROR_FILE_NOT_FOUND)
      << "a digest of 31 bytes";
  std::string other = name;
  other[0] ^= 1;
  EXPECT_EQ(b.Call(Op::kLibraryLoadCached, kCtx, {kLibrary + 1}, other).result, CUDA_ERROR_FILE_NOT_FOUND);
  // A kept file whose contents changed on disk no longer answers to its name.
  std::string path = server->image_cache() + "/" + vxpu::HexOf(digest);
  ASSERT_TRUE(std::filesystem::exists(path));
  {
    std::ofstream tampered(path, std::ios::binary | std::ios::trunc);
    tampered << image.substr(0, image.size() - 1) << '!';
  }
  EXPECT_EQ(b.Call(Op::kLibraryLoadCached, kCtx, {kLibrary + 2}, name).result, CUDA_ERROR_FILE_NOT_FOUND);
  // An image below the size worth keeping is loaded, not kept.
  std::string small = image.substr(0, 200);
  ASSERT_EQ(b.Call(Op::kLibraryLoadData, kCtx, {kLibrary + 3}, small).result, CUDA_SUCCESS);
  EXPECT_FALSE(
      std::filesystem::exists(server->image_cache() + "/" + vxpu::HexOf(vxpu::Sha256(small.data(), small.size()))));

  // a captures a launch into a graph; b cannot launch a's instantiation.
  a.Send(Op::kStreamCreate, kCtx, {kStream, CU_STREAM_NON_BLOCKING, 0});
  ASSERT_EQ(a.Call(Op::kStreamBeginCapture, kCtx, {kStream, CU_STREAM_CAPTURE_MODE_RELAXED}).result, CUDA_SUCCESS);
  ASSERT_EQ(a.Call(Op::kStreamEndCapture, kCtx, {kStream, kGraph}).result, CUDA_SUCCESS);
  ASSERT_EQ(a.Call(Op::kGraphInstantiate, kCtx, {kExec, kGraph, 0}).result, CUDA_SUCCESS);
  EXPECT_EQ(b.Call(Op::kGraphInstantiate, kCtx, {kExec + 1, kGraph, 0}).result, CUDA_ERROR_INVALID_HANDLE);
  b.Send(Op::kGraphLaunch, kCtx, {kExec, 0});
  EXPECT_EQ(b.Call(Op::kCtxSynchronize, kCtx, {}).result, CUDA_ERROR_INVALID_HANDLE);
  a.Send(Op::kGraphLaunch, kCtx, {kExec, kStream});
  EXPECT_EQ(a.Call(Op::kStreamSynchronize, kCtx, {kStream}).result, CUDA_SUCCESS);
}

// A request sent without waiting that fails is reported by the next synchronising call, once,
// whichever way that call answers (small copies whole, large ones in chunks).
TEST(RemoteProtocol, AnUnansweredRequestsFailureIsReportedOnceByTheNextSync) {
  auto server = StartServer({"--memory", "2GiB"});
  RawSession s;
  ASSERT_TRUE(s.Connect(server->address()));
  ASSERT_EQ(s.Hello(Token(*server)).result, CUDA_SUCCESS);
  constexpr uint64_t kCtx = 16, kLarge = 16ull << 20;
  ASSERT_EQ(s.Call(Op::kPrimaryCtxRetain, 0, {kCtx, 0}).result, CUDA_SUCCESS);
  remotetest::Answer alloc = s.Call(Op::kMemAlloc, kCtx, {kLarge});
  ASSERT_EQ(alloc.result, CUDA_SUCCESS);
  uint64_t ptr = alloc.outs.at(0);
  for (uint64_t bytes : {uint64_t{64}, kLarge}) {
    s.Send(Op::kMemset, kCtx, {ptr + kLarge, 0, 1, 16, 0});  // past the allocation: refused
    EXPECT_EQ(s.Call(Op::kMemcpyDtoH, kCtx, {ptr, bytes}).result, CUDA_ERROR_INVALID_VALUE) << bytes;
    remotetest::Answer again = s.Call(Op::kMemcpyDtoH, kCtx, {ptr, bytes});
    EXPECT_EQ(again.result, CUDA_SUCCESS) << bytes << " bytes: reported twice";
    EXPECT_EQ(again.blob.size(), bytes);
  }
}

TEST(RemoteProtocol, UncollectedCopyDataIsBoundedOnTheServer) {
  auto server = StartServer({"--memory", "2GiB"});
  RawSession s;
  ASSERT_TRUE(s.Connect(server->address()));
  ASSERT_EQ(s.Hello(Token(*server)).result, CUDA_SUCCESS);
  constexpr uint64_t kCtx = 16, kBlock = 256ull << 20;
  ASSERT_EQ(s.Call(Op::kPrimaryCtxRetain, 0, {kCtx, 0}).result, CUDA_SUCCESS);
  remotetest::Answer alloc = s.Call(Op::kMemAlloc, kCtx, {kBlock});
  ASSERT_EQ(alloc.result, CUDA_SUCCESS);
  // Asynchronous device-to-host copies whose data nobody collects: 1 GiB is held, no more.
  for (uint64_t copy = 100; copy < 105; ++copy) s.Send(Op::kMemcpyDtoHAsync, kCtx, {copy, alloc.outs.at(0), kBlock, 0});
  EXPECT_EQ(s.Call(Op::kMemGetInfo, kCtx, {}).result, CUDA_SUCCESS) << "not a synchronising call";
  EXPECT_EQ(s.Call(Op::kStreamQuery, kCtx, {0}).result, CUDA_ERROR_OUT_OF_MEMORY) << "the fifth was refused";
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "16GiB", .context_overhead = "0"}});
}
