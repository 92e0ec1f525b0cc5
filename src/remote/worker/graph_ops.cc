// Stream capture and CUDA graphs: the work a client sends while its stream captures is queued
// on the worker's stream as it comes, so the worker's driver records it; the graph and its
// instantiations are kept by the ids the client minted.
#include "remote/worker/session.h"

namespace vxpu::remote {
namespace {

struct GraphApi {
  using BeginFn = CUresult (*)(CUstream, CUstreamCaptureMode);
  using EndFn = CUresult (*)(CUstream, CUgraph*);
  using DestroyFn = CUresult (*)(CUgraph);
  using NodesFn = CUresult (*)(CUgraph, CUgraphNode*, size_t*);
  using InstantiateFn = CUresult (*)(CUgraphExec*, CUgraph, unsigned long long);
  using LaunchFn = CUresult (*)(CUgraphExec, CUstream);
  using ExecDestroyFn = CUresult (*)(CUgraphExec);
  BeginFn begin = DriverEntry<BeginFn>("cuStreamBeginCapture", 10010);
  EndFn end = DriverEntry<EndFn>("cuStreamEndCapture", 10000);
  DestroyFn destroy = DriverEntry<DestroyFn>("cuGraphDestroy", 10000);
  NodesFn nodes = DriverEntry<NodesFn>("cuGraphGetNodes", 10000);
  InstantiateFn instantiate = DriverEntry<InstantiateFn>("cuGraphInstantiateWithFlags", 11040);
  LaunchFn launch = DriverEntry<LaunchFn>("cuGraphLaunch", 10000);
  ExecDestroyFn exec_destroy = DriverEntry<ExecDestroyFn>("cuGraphExecDestroy", 10000);
};

const GraphApi& Api() {
  static const GraphApi api;
  return api;
}

}  // namespace

CUresult Session::OnStreamBeginCapture(Call& call) {
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(0), &stream);
  if (result != CUDA_SUCCESS) return result;
  if (call.arg(1) > CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
  if (Api().begin == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Api().begin(stream, static_cast<CUstreamCaptureMode>(call.arg(1)));
}

CUresult Session::OnStreamEndCapture(Call& call) {
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(0), &stream);
  if (result != CUDA_SUCCESS) return result;
  if (!NewId(graphs_, call.arg(1))) return CUDA_ERROR_INVALID_VALUE;
  if (Api().end == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  CUgraph graph = nullptr;
  result = Api().end(stream, &graph);
  if (result != CUDA_SUCCESS) {
    if (graph != nullptr) Api().destroy(graph);
    return result;
  }
  graphs_[call.arg(1)] = graph;
  return CUDA_SUCCESS;
}

CUresult Session::OnGraphDestroy(Call& call) {
  auto it = graphs_.find(call.arg(0));
  if (it == graphs_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = Api().destroy(it->second);
  if (result == CUDA_SUCCESS) graphs_.erase(it);
  return result;
}

CUresult Session::OnGraphGetNodeCount(Call& call) {
  auto it = graphs_.find(call.arg(0));
  if (it == graphs_.end()) return CUDA_ERROR_INVALID_HANDLE;
  size_t count = 0;
  CUresult result = Api().nodes(it->second, nullptr, &count);
  call.outs = {count};
  return result;
}

CUresult Session::OnGraphInstantiate(Call& call) {
  uint64_t id = call.arg(0);
  auto graph = graphs_.find(call.arg(1));
  if (graph == graphs_.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (!NewId(execs_, id)) return CUDA_ERROR_INVALID_VALUE;
  if (Api().instantiate == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  CUgraphExec exec = nullptr;
  CUresult result = Api().instantiate(&exec, graph->second, call.arg(2));
  if (result != CUDA_SUCCESS) return result;
  execs_[id] = exec;
  Own(id);  // an instantiation belongs to the context it was made in
  return CUDA_SUCCESS;
}

CUresult Session::OnGraphLaunch(Call& call) {
  auto exec = execs_.find(call.arg(0));
  if (exec == execs_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(1), &stream);
  if (result != CUDA_SUCCESS) return result;
  return Api().launch(exec->second, stream);
}

CUresult Session::OnGraphExecDestroy(Call& call) {
  auto exec = execs_.find(call.arg(0));
  if (exec == execs_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = Api().exec_destroy(exec->second);
  if (result != CUDA_SUCCESS) return result;
  execs_.erase(exec);
  owner_.erase(call.arg(0));
  return CUDA_SUCCESS;
}

}  // namespace vxpu::remote
