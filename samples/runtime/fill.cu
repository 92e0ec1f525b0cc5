// A slice's memory limit as a runtime program meets it: allocates chunks by one route until the
// allocation is refused, checks that the refusal is cudaErrorMemoryAllocation, frees one chunk
// and allocates again (there must be room after a free). With no argument it only allocates
// and frees one chunk (as on a device with no slice, filling it would take long).
//   vxpu-rt-fill[-static] ROUTE CHUNK_MIB [--until-refused]
//     ROUTE: malloc, pitch, managed, async (the current device's pool), pool (a pool of its own)
//   prints {"route":R,"chunks":K,"refused":"cudaErrorMemoryAllocation","again":true}
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "rt_check.h"

namespace {

struct Route {
  std::string name;
  cudaMemPool_t pool = nullptr;
  cudaStream_t stream = nullptr;

  cudaError_t Allocate(void** p, size_t bytes) const {
    if (name == "malloc") return cudaMalloc(p, bytes);
    if (name == "managed") return cudaMallocManaged(p, bytes);
    if (name == "pitch") {
      size_t pitch = 0;
      return cudaMallocPitch(p, &pitch, bytes / 1024, 1024);
    }
    cudaError_t e =
        name == "async" ? cudaMallocAsync(p, bytes, stream) : cudaMallocFromPoolAsync(p, bytes, pool, stream);
    return e != cudaSuccess ? e : cudaStreamSynchronize(stream);
  }

  cudaError_t Free(void* p) const {
    if (name == "async" || name == "pool") {
      cudaError_t e = cudaFreeAsync(p, stream);
      if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
      // A pool keeps what was freed unless trimmed: give it back, as a framework's cache would.
      if (e == cudaSuccess) e = cudaMemPoolTrimTo(pool, 0);
      return e;
    }
    return cudaFree(p);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (argc == 4 && std::strcmp(argv[3], "--until-refused") != 0) || argc > 4) {
    std::fprintf(stderr,
                 "usage: vxpu-rt-fill ROUTE CHUNK_MIB [--until-refused] (ROUTE: malloc, pitch, managed, "
                 "async, pool)\n");
    return 2;
  }
  Route route{argv[1]};
  size_t chunk = std::strtoull(argv[2], nullptr, 10) << 20;
  bool until_refused = argc == 4;
  if (chunk == 0 || (route.name != "malloc" && route.name != "pitch" && route.name != "managed" &&
                     route.name != "async" && route.name != "pool")) {
    std::fprintf(stderr, "vxpu-rt-fill: bad route or chunk size\n");
    return 2;
  }
  RT_CHECK(cudaStreamCreate(&route.stream));
  if (route.name == "async") RT_CHECK(cudaDeviceGetDefaultMemPool(&route.pool, 0));
  if (route.name == "pool") {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = 0;
    RT_CHECK(cudaMemPoolCreate(&route.pool, &props));
  }
  std::vector<void*> chunks;
  cudaError_t refused = cudaSuccess;
  for (size_t i = 0; i < 1024; ++i) {
    void* p = nullptr;
    refused = route.Allocate(&p, chunk);
    if (refused != cudaSuccess) break;
    chunks.push_back(p);
    if (!until_refused) break;
  }
  if (until_refused && refused != cudaErrorMemoryAllocation) {
    std::fprintf(stderr, "fill (runtime): %zu chunks, then %s (%d), not cudaErrorMemoryAllocation\n", chunks.size(),
                 cudaGetErrorName(refused), int(refused));
    return 1;
  }
  cudaGetLastError();  // the refusal is not sticky: clear it as a framework's allocator does
  if (chunks.empty()) {
    std::fprintf(stderr, "fill (runtime): not even one chunk fits\n");
    return 1;
  }
  RT_CHECK(route.Free(chunks.back()));
  chunks.pop_back();
  void* again = nullptr;
  RT_CHECK(route.Allocate(&again, chunk));
  chunks.push_back(again);
  for (void* p : chunks) RT_CHECK(route.Free(p));
  std::printf("{\"route\":\"%s\",\"chunks\":%zu,\"refused\":\"%s\",\"again\":true}\n", route.name.c_str(),
              chunks.size(), until_refused ? cudaGetErrorName(refused) : "none");
  return 0;
}
