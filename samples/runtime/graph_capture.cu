// Stream capture into a CUDA graph: two fills and an add captured on a stream (nothing runs while
// capturing), instantiated, launched twice; the result is checked. With --with-copy the first
// operand comes from a host-to-device copy captured with them instead of a fill.
//   vxpu-rt-graph_capture[-static] [--with-copy]   prints "graph_capture (runtime): OK, N nodes"
#include <cstring>
#include <vector>

#include "rt_check.h"

int main(int argc, char** argv) {
  const unsigned long long n = 1 << 20;
  bool with_copy = argc > 1 && std::strcmp(argv[1], "--with-copy") == 0;
  std::vector<float> threes(n, 3.0f);
  uint32_t *x = nullptr, *y = nullptr;
  float* sum = nullptr;
  RT_CHECK(cudaMalloc(&x, n * 4));
  RT_CHECK(cudaMalloc(&y, n * 4));
  RT_CHECK(cudaMalloc(&sum, n * 4));
  RT_CHECK(cudaMemset(sum, 0, n * 4));
  cudaStream_t stream;
  RT_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  RT_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  if (with_copy)
    RT_CHECK(cudaMemcpyAsync(x, threes.data(), n * 4, cudaMemcpyHostToDevice, stream));
  else
    vxpu_fill_u32<<<BlocksFor(n), kThreads, 0, stream>>>(x, 0x40400000, n);  // 3.0f
  vxpu_fill_u32<<<BlocksFor(n), kThreads, 0, stream>>>(y, 0x40800000, n);    // 4.0f
  vxpu_vector_add_f32<<<BlocksFor(n), kThreads, 0, stream>>>(reinterpret_cast<float*>(x), reinterpret_cast<float*>(y),
                                                             sum, n);
  RT_CHECK(cudaStreamEndCapture(stream, &graph));
  float before = -1;
  RT_CHECK(cudaMemcpy(&before, sum, 4, cudaMemcpyDeviceToHost));
  if (before != 0.0f) {
    std::fprintf(stderr, "graph_capture (runtime): the captured work ran while capturing\n");
    return 1;
  }
  size_t nodes = 0;
  RT_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
  cudaGraphExec_t exec;
  RT_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  RT_CHECK(cudaGraphLaunch(exec, stream));
  RT_CHECK(cudaGraphLaunch(exec, stream));
  RT_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> host(n);
  RT_CHECK(cudaMemcpy(host.data(), sum, n * 4, cudaMemcpyDeviceToHost));
  for (unsigned long long i = 0; i < n; ++i) {
    if (host[i] != 7.0f) {
      std::fprintf(stderr, "graph_capture (runtime): wrong at %llu: %f\n", i, host[i]);
      return 1;
    }
  }
  RT_CHECK(cudaGraphExecDestroy(exec));
  RT_CHECK(cudaGraphDestroy(graph));
  std::printf("graph_capture (runtime): OK, %zu nodes\n", nodes);
  return 0;
}
