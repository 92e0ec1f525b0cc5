// Managed memory the program touches on the host. The device's managed allocation lives on the
// server, so this side maps a mirror of it at the same address, and the two take turns, as on
// a device without concurrent managed access (the attribute this client reports as 0): the
// host's writes go to the device before the next work is sent, and the device's come back when
// the program synchronises (after the whole device is idle). Host access while the device works
// is what such a device forbids too; what the host wrote then is lost.
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>

#include "remote/client/client.h"

namespace vxpu::remote {
namespace {

struct Mirror {
  uint64_t bytes;
  bool host_has_it;  // the host may have written it since the device last had it
};

struct Mirrors {
  std::mutex mu;  // held across the copies, so that threads take turns whole
  std::map<uint64_t, Mirror> by_base;
  std::atomic<size_t> count{0};
};

Mirrors& TheMirrors() {
  static Mirrors* mirrors = new Mirrors;  // never destroyed: the program may free at exit
  return *mirrors;
}

}  // namespace

bool MirrorManaged(uint64_t base, uint64_t bytes) {
  void* at = mmap(reinterpret_cast<void*>(base), bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (at == MAP_FAILED || at != reinterpret_cast<void*>(base)) {
    if (at != MAP_FAILED) munmap(at, bytes);
    std::fprintf(stderr,
                 "vxpu remote: managed memory at 0x%llx cannot be mirrored in this process (the address "
                 "is taken here)\n",
                 static_cast<unsigned long long>(base));
    return false;
  }
  Mirrors& m = TheMirrors();
  std::lock_guard<std::mutex> lock(m.mu);
  m.by_base[base] = Mirror{bytes, true};
  ++m.count;
  return true;
}

void UnmirrorManaged(uint64_t base) {
  Mirrors& m = TheMirrors();
  if (m.count == 0) return;
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.by_base.find(base);
  if (it == m.by_base.end()) return;
  munmap(reinterpret_cast<void*>(base), it->second.bytes);
  m.by_base.erase(it);
  --m.count;
}

CUresult HandManagedToDevice() {
  Mirrors& m = TheMirrors();
  if (m.count == 0) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(m.mu);
  for (auto& [base, mirror] : m.by_base) {
    if (!mirror.host_has_it) continue;
    Reply reply;
    CUresult result = Client::Get().connection().Call(Op::kMemcpyHtoD, CurrentContext(), {base, mirror.bytes}, &reply,
                                                      reinterpret_cast<const void*>(base), mirror.bytes);
    if (result != CUDA_SUCCESS) return result;
    mirror.host_has_it = false;
  }
  return CUDA_SUCCESS;
}

CUresult HandManagedToHost() {
  Mirrors& m = TheMirrors();
  if (m.count == 0) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(m.mu);
  bool device_has_some = false;
  for (const auto& [base, mirror] : m.by_base) device_has_some |= !mirror.host_has_it;
  if (!device_has_some) return CUDA_SUCCESS;
  // The host may touch managed memory only while the device is idle: a stream's or an event's
  // synchronisation says nothing of the other streams, so the whole device is waited for before
  // the mirrors are taken back (else one taken while a kernel still wrote it would be stale for
  // good).
  Reply idle;
  CUresult waited = Client::Get().connection().Call(Op::kCtxSynchronize, CurrentContext(), {}, &idle);
  if (waited != CUDA_SUCCESS) return waited;
  for (auto& [base, mirror] : m.by_base) {
    if (mirror.host_has_it) continue;
    Reply reply;
    reply.into = reinterpret_cast<void*>(base);
    reply.into_bytes = mirror.bytes;
    CUresult result = Client::Get().connection().Call(Op::kMemcpyDtoH, CurrentContext(), {base, mirror.bytes}, &reply);
    if (result != CUDA_SUCCESS) return result;
    mirror.host_has_it = true;
  }
  return CUDA_SUCCESS;
}

CUresult AfterSync(CUresult result) { return result == CUDA_SUCCESS ? HandManagedToHost() : result; }

}  // namespace vxpu::remote
