// Stream capture and CUDA graphs. The capture happens on the worker, whose driver records the
// work the client sends while its stream captures; this side knows which of its streams
// capture, and mints the graphs' and instantiations' ids. Copies between host and device are
// not captured: their host data is in the worker's buffers only while the copy runs.
#include <cstdio>

#include "remote/client/client.h"
#include "remote/client/cuda_api.h"

using namespace vxpu::remote;

namespace {

Connection& Wire() { return Client::Get().connection(); }

// The wire id of `stream` if it may capture (not the NULL or legacy stream).
CUresult CapturableStream(CUstream stream, uint64_t* id) {
  CUresult result = NeedContext();
  if (result == CUDA_SUCCESS) result = StreamId(stream, id);
  if (result != CUDA_SUCCESS) return result;
  return *id == kNullStream || *id == kLegacyStream ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult BeginCapture(CUstream stream, CUstreamCaptureMode mode) {
  uint64_t id = 0;
  CUresult result = CapturableStream(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.capturing.count(id) != 0) return CUDA_ERROR_ILLEGAL_STATE;
  }
  Reply reply;
  result = Wire().Call(Op::kStreamBeginCapture, CurrentContext(), {id, static_cast<uint64_t>(mode)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.capturing[id] = c.Mint();
  return CUDA_SUCCESS;
}

// The capture id of `stream` (0: it does not capture).
CUresult CaptureOf(CUstream stream, uint64_t* capture) {
  uint64_t id = 0;
  CUresult result = NeedContext();
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.capturing.find(id);
  *capture = it == c.capturing.end() ? 0 : it->second;
  return CUDA_SUCCESS;
}

template <typename Table>
bool Known(Table Client::*table, uint64_t id) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return (c.*table).count(id) != 0;
}

}  // namespace

namespace vxpu::remote {

bool Capturing(uint64_t stream_id) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.capturing.count(stream_id) != 0;
}

}  // namespace vxpu::remote

extern "C" {

CUresult CUDAAPI cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode) {
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED)
    return CUDA_ERROR_INVALID_VALUE;
  return BeginCapture(stream, mode);
}

CUresult CUDAAPI remote_cuStreamBeginCapture_v1(CUstream stream) {
  return BeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

CUresult CUDAAPI cuStreamEndCapture(CUstream stream, CUgraph* graph) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t id = 0;
  CUresult result = CapturableStream(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.capturing.erase(id) == 0) return CUDA_ERROR_ILLEGAL_STATE;
  }
  uint64_t graph_id = c.Mint();
  Reply reply;
  result = Wire().Call(Op::kStreamEndCapture, CurrentContext(), {id, graph_id}, &reply);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.graphs[graph_id] = 0;
  *graph = HandleOf<CUgraph>(graph_id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t capture = 0;
  CUresult result = CaptureOf(stream, &capture);
  if (result == CUDA_SUCCESS) *status = capture != 0 ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
  return result;
}

// The capture's status and id; its graph and dependencies stay on the server (none are named).
CUresult CUDAAPI cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies, size_t* count) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t capture = 0;
  CUresult result = CaptureOf(stream, &capture);
  if (result != CUDA_SUCCESS) return result;
  *status = capture != 0 ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
  if (id != nullptr) *id = capture;
  if (graph != nullptr) *graph = nullptr;
  if (dependencies != nullptr) *dependencies = nullptr;
  if (count != nullptr) *count = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v3(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies,
                                           const CUgraphEdgeData** edges, size_t* count) {
  if (edges != nullptr) *edges = nullptr;
  return cuStreamGetCaptureInfo_v2(stream, status, id, graph, dependencies, count);
}

CUresult CUDAAPI cuGraphGetNodes(CUgraph graph, CUgraphNode* nodes, size_t* count) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!Known(&Client::graphs, IdOf(graph))) return CUDA_ERROR_INVALID_HANDLE;
  if (nodes != nullptr) {
    std::fprintf(stderr, "vxpu remote: a graph's nodes stay on the server (cuGraphGetNodes counts them only)\n");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  Reply reply;
  CUresult result = Wire().Call(Op::kGraphGetNodeCount, CurrentContext(), {IdOf(graph)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  *count = reply.outs[0];
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphDestroy(CUgraph graph) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!Known(&Client::graphs, IdOf(graph))) return CUDA_ERROR_INVALID_HANDLE;
  Reply reply;
  CUresult result = Wire().Call(Op::kGraphDestroy, CurrentContext(), {IdOf(graph)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  c.graphs.erase(IdOf(graph));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (!Known(&Client::graphs, IdOf(graph))) return CUDA_ERROR_INVALID_HANDLE;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  Reply reply;
  result = Wire().Call(Op::kGraphInstantiate, CurrentContext(), {id, IdOf(graph), flags}, &reply);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.graph_execs[id] = CurrentContext();
  *exec = HandleOf<CUgraphExec>(id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                       size_t log_bytes) {
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_bytes > 0) log[0] = '\0';
  return cuGraphInstantiateWithFlags(exec, graph, 0);
}

CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  uint64_t stream_id = 0;
  CUresult result = NeedContext();
  if (result == CUDA_SUCCESS) result = StreamId(stream, &stream_id);
  if (result != CUDA_SUCCESS) return result;
  if (!Known(&Client::graph_execs, IdOf(exec))) return CUDA_ERROR_INVALID_HANDLE;
  if ((result = HandManagedToDevice()) != CUDA_SUCCESS) return result;
  return Wire().Post(Op::kGraphLaunch, CurrentContext(), {IdOf(exec), stream_id});
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec exec) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.graph_execs.erase(IdOf(exec)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  return Wire().Post(Op::kGraphExecDestroy, CurrentContext(), {IdOf(exec)});
}

}  // extern "C"
