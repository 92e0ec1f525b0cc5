// CUDA graphs and stream capture.
//
// A capturing stream records what is queued into it (kernel launches, async copies and memsets,
// host functions: everything that goes through EnqueueLocked) into a graph instead of running
// it; cuStreamEndCapture hands the graph out. cuGraphInstantiate snapshots its nodes, and each
// cuGraphLaunch queues them onto a stream in order, every kernel with the device time it was
// captured with: a graph keeps the device as busy as the launches it was made of.
//
// Simplified (docs/simgpu.md): a capture is one stream's chain of nodes (no fork and join of
// other streams through events); the capture modes differ only in which thread may end it, as
// the calls simgpu refuses during a capture (waiting for the capturing stream, the legacy stream
// or the whole context) are refused in every mode.
#include "simgpu/driver.h"

namespace simgpu {
namespace {

uint64_t g_next_capture_id = 1;  // under Driver::mu

bool Blocking(const Stream* stream) { return (stream->flags & CU_STREAM_NON_BLOCKING) == 0; }

// Whether using `stream` depends on captures in progress: the legacy stream waits for every
// blocking stream of its context, and a capturing stream has nothing to wait for.
bool ImplicitLocked(const Stream* stream) {
  return stream == stream->ctx->legacy_stream && stream->ctx->blocking_captures > 0;
}

void InvalidateBlockingCapturesLocked(Context* ctx) {
  for (Stream* s : TheDriver().streams) {
    if (s->ctx == ctx && s->capture != nullptr && Blocking(s)) s->capture->invalidated = true;
  }
}

CUstreamCaptureStatus StatusOf(const Stream* stream) {
  if (stream->capture == nullptr) return CU_STREAM_CAPTURE_STATUS_NONE;
  return stream->capture->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
}

CUresult GraphLocked(CUgraph handle, Graph** out) {
  SIM_TRY(InitializedLocked());
  auto* graph = reinterpret_cast<Graph*>(handle);
  if (TheDriver().graphs.count(graph) == 0) return CUDA_ERROR_INVALID_VALUE;
  *out = graph;
  return CUDA_SUCCESS;
}

CUresult GraphExecLocked(CUgraphExec handle, GraphExec** out) {
  SIM_TRY(InitializedLocked());
  auto* exec = reinterpret_cast<GraphExec*>(handle);
  if (TheDriver().graph_execs.count(exec) == 0) return CUDA_ERROR_INVALID_VALUE;
  *out = exec;
  return CUDA_SUCCESS;
}

CUresult BeginCapture(CUstream handle, CUstreamCaptureMode mode) {
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  if (stream == stream->ctx->legacy_stream) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (stream->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  auto capture = std::make_unique<Capture>();
  capture->id = g_next_capture_id++;
  capture->mode = mode;
  capture->thread = std::this_thread::get_id();
  capture->graph = std::make_unique<Graph>();
  capture->graph->ctx = stream->ctx;
  stream->capture = std::move(capture);
  ++stream->ctx->captures;
  if (Blocking(stream)) ++stream->ctx->blocking_captures;
  return CUDA_SUCCESS;
}

CUresult EndCapture(CUstream handle, CUgraph* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  if (stream->capture == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  const Capture& capture = *stream->capture;
  if (capture.mode != CU_STREAM_CAPTURE_MODE_RELAXED && capture.thread != std::this_thread::get_id())
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  bool invalidated = capture.invalidated;
  std::unique_ptr<Graph> graph = EndCaptureLocked(stream);
  *out = nullptr;
  if (invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  d.graphs.insert(graph.get());
  *out = reinterpret_cast<CUgraph>(graph.release());
  return CUDA_SUCCESS;
}

// cuStreamGetCaptureInfo, every version: the outputs other than the status are optional, and
// are set only while the capture is active.
CUresult CaptureInfo(CUstream handle, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                     const CUgraphNode** dependencies, const CUgraphEdgeData** edges, size_t* count) {
  if (status == nullptr || (edges != nullptr && dependencies == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  if (ImplicitLocked(stream)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  *status = StatusOf(stream);
  if (*status != CU_STREAM_CAPTURE_STATUS_ACTIVE) return CUDA_SUCCESS;
  const Capture& capture = *stream->capture;
  size_t n = capture.last_node != nullptr ? 1 : 0;
  if (id != nullptr) *id = capture.id;
  if (graph != nullptr) *graph = reinterpret_cast<CUgraph>(capture.graph.get());
  if (dependencies != nullptr) *dependencies = n > 0 ? &capture.last_node : nullptr;
  if (edges != nullptr) *edges = n > 0 ? &capture.last_edge : nullptr;
  if (count != nullptr) *count = n;
  return CUDA_SUCCESS;
}

CUresult Instantiate(CUgraphExec* out, CUgraph handle, unsigned long long flags) {
  constexpr unsigned long long kKnown =
      CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;
  if (out == nullptr || (flags & ~kKnown)) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Graph* graph = nullptr;
  SIM_TRY(GraphLocked(handle, &graph));
  auto* exec = new GraphExec;
  exec->ctx = graph->ctx;
  for (const auto& node : graph->nodes) exec->nodes.push_back(*node);
  d.graph_execs.insert(exec);
  *out = reinterpret_cast<CUgraphExec>(exec);
  return CUDA_SUCCESS;
}

// cuGraphInstantiate as CUDA 10.0 to 11.x defined it: an error node and a log instead of flags.
CUresult InstantiateWithLog(CUgraphExec* out, CUgraph graph, CUgraphNode* error_node, char* log, size_t log_size) {
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_size > 0) log[0] = '\0';
  return Instantiate(out, graph, 0);
}

}  // namespace

void CaptureLocked(Stream* stream, uint64_t device_ns, Executor::Work work) {
  Capture& capture = *stream->capture;
  if (capture.invalidated) return;  // its graph is never handed out
  capture.graph->nodes.push_back(std::make_unique<GraphNode>(GraphNode{device_ns, std::move(work)}));
  capture.last_node = reinterpret_cast<CUgraphNode>(capture.graph->nodes.back().get());
}

CUresult CapturableLocked(Stream* stream) {
  if (stream->capture != nullptr && stream->capture->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  if (ImplicitLocked(stream)) {
    InvalidateBlockingCapturesLocked(stream->ctx);
    return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  }
  return CUDA_SUCCESS;
}

CUresult WaitableLocked(Stream* stream) {
  if (stream->capture != nullptr) {
    stream->capture->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (ImplicitLocked(stream)) {
    InvalidateBlockingCapturesLocked(stream->ctx);
    return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  }
  return CUDA_SUCCESS;
}

CUresult ContextWaitableLocked(Context* ctx) {
  if (ctx->captures == 0) return CUDA_SUCCESS;
  for (Stream* s : TheDriver().streams) {
    if (s->ctx == ctx && s->capture != nullptr) s->capture->invalidated = true;
  }
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

std::unique_ptr<Graph> EndCaptureLocked(Stream* stream) {
  if (stream->capture == nullptr) return nullptr;
  --stream->ctx->captures;
  if (Blocking(stream)) --stream->ctx->blocking_captures;
  std::unique_ptr<Graph> graph = std::move(stream->capture->graph);
  stream->capture.reset();
  return graph;
}

}  // namespace simgpu

using namespace simgpu;

extern "C" {

// ---- stream capture ----

CUresult CUDAAPI simgpu_cuStreamBeginCapture_v1(CUstream stream) {
  return BeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

CUresult CUDAAPI cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode) {
  return BeginCapture(stream, mode);
}

CUresult CUDAAPI cuStreamEndCapture(CUstream stream, CUgraph* graph) { return EndCapture(stream, graph); }

CUresult CUDAAPI cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
  return CaptureInfo(stream, status, nullptr, nullptr, nullptr, nullptr, nullptr);
}

CUresult CUDAAPI simgpu_cuStreamGetCaptureInfo_v1(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return CaptureInfo(stream, status, id, nullptr, nullptr, nullptr, nullptr);
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies, size_t* count) {
  return CaptureInfo(stream, status, id, graph, dependencies, nullptr, count);
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v3(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies,
                                           const CUgraphEdgeData** edges, size_t* count) {
  return CaptureInfo(stream, status, id, graph, dependencies, edges, count);
}

// ---- graphs ----

CUresult CUDAAPI cuGraphCreate(CUgraph* out, unsigned int flags) {
  if (out == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  auto* graph = new Graph;
  graph->ctx = ctx;
  d.graphs.insert(graph);
  *out = reinterpret_cast<CUgraph>(graph);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphDestroy(CUgraph handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Graph* graph = nullptr;
  SIM_TRY(GraphLocked(handle, &graph));
  d.graphs.erase(graph);
  delete graph;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphGetNodes(CUgraph handle, CUgraphNode* nodes, size_t* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Graph* graph = nullptr;
  SIM_TRY(GraphLocked(handle, &graph));
  size_t n = graph->nodes.size();
  if (nodes != nullptr) {
    for (size_t i = 0; i < *count; ++i)
      nodes[i] = i < n ? reinterpret_cast<CUgraphNode>(graph->nodes[i].get()) : nullptr;
  }
  if (nodes == nullptr || *count > n) *count = n;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuGraphInstantiate_v1(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                              size_t log_size) {
  return InstantiateWithLog(exec, graph, error_node, log, log_size);
}

CUresult CUDAAPI cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                       size_t log_size) {
  return InstantiateWithLog(exec, graph, error_node, log, log_size);
}

CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
  return Instantiate(exec, graph, flags);
}

CUresult CUDAAPI cuGraphLaunch(CUgraphExec handle, CUstream hstream) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  GraphExec* exec = nullptr;
  SIM_TRY(GraphExecLocked(handle, &exec));
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(hstream, &stream));
  if (stream->ctx != exec->ctx) return CUDA_ERROR_INVALID_CONTEXT;
  SIM_TRY(CapturableLocked(stream));
  // Into a capturing stream the nodes are recorded in turn: the graph becomes part of that one.
  for (const GraphNode& node : exec->nodes) EnqueueLocked(stream, node.device_ns, node.work);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  GraphExec* exec = nullptr;
  SIM_TRY(GraphExecLocked(handle, &exec));
  d.graph_execs.erase(exec);
  delete exec;  // launches in flight hold their own copies of the work
  return CUDA_SUCCESS;
}

}  // extern "C"
