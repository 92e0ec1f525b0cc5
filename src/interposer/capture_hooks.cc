// The stream capture hooks: every call that may begin a capture runs while no drain is under way
// and is counted, and every end that takes a stream out of capture mode uncounted, so that the
// compute gate never makes a call that would break a capture in progress (compute_gate.h). Without
// a compute slice they are not even handed out through cuGetProcAddress or dlsym (entry.cc), and
// reached through their exported symbols they only pass the call on.
#include "interposer/compute_gate.h"
#include "interposer/hooks.h"

namespace vxpu::interposer {
namespace {

// Runs `begin`, a call that may begin a capture, counting the capture it begins.
template <typename Begin>
CUresult Counted(Begin begin) {
  if (!ComputeEnabled()) return begin();
  BeforeCaptureBegins();
  CUresult result = begin();
  AfterCaptureBegins(result == CUDA_SUCCESS);
  return result;
}

}  // namespace

CUresult Hook_cuStreamBeginCapture(int flavor, CUstream stream) {
  VXPU_REAL_OR_FAIL(real, cuStreamBeginCapture);
  return Counted([&] { return real(stream); });
}

CUresult Hook_cuStreamBeginCapture_v2(int flavor, CUstream stream, CUstreamCaptureMode mode) {
  VXPU_REAL_OR_FAIL(real, cuStreamBeginCapture_v2);
  return Counted([&] { return real(stream, mode); });
}

CUresult Hook_cuStreamBeginCaptureToGraph(int flavor, CUstream stream, CUgraph graph, const CUgraphNode* dependencies,
                                          const CUgraphEdgeData* edges, size_t count, CUstreamCaptureMode mode) {
  VXPU_REAL_OR_FAIL(real, cuStreamBeginCaptureToGraph);
  return Counted([&] { return real(stream, graph, dependencies, edges, count, mode); });
}

CUresult Hook_cuStreamEndCapture(int flavor, CUstream stream, CUgraph* graph) {
  VXPU_REAL_OR_FAIL(real, cuStreamEndCapture);
  if (!ComputeEnabled()) return real(stream, graph);
  // Whatever it returns: an invalidated capture ends with an error, and one ended on the wrong
  // thread goes on. What counts is whether the stream left capture mode.
  bool per_thread = flavor == kPerThreadFlavor;
  bool capturing = StreamCapturing(stream, per_thread);
  CUresult result = real(stream, graph);
  if (capturing && !StreamCapturing(stream, per_thread)) AfterCaptureEnds();
  return result;
}

}  // namespace vxpu::interposer
