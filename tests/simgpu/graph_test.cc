// CUDA graphs and stream capture: what is queued into a capturing stream is recorded, not run,
// and runs, in order and taking its device time, each time the graph is launched.
#include <cuda.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "sim_env.h"
#include "sim_kernels_ptx.h"

namespace {

using simtest::ReadBack;

// The built-in kernels of one loaded module.
struct Kernels {
  CUmodule module = nullptr;
  CUfunction spin = nullptr;
  CUfunction fill = nullptr;
  CUfunction add = nullptr;
};

unsigned Blocks(size_t n) { return static_cast<unsigned>((n + 255) / 256); }

class GraphTest : public simtest::PrimaryContextTest {
 protected:
  void SetUp() override {
    PrimaryContextTest::SetUp();
    ASSERT_CU(cuModuleLoadData(&k_.module, kSimKernelsPtx));
    ASSERT_CU(cuModuleGetFunction(&k_.spin, k_.module, "vxpu_spin_ns"));
    ASSERT_CU(cuModuleGetFunction(&k_.fill, k_.module, "vxpu_fill_u32"));
    ASSERT_CU(cuModuleGetFunction(&k_.add, k_.module, "vxpu_vector_add_f32"));
    ASSERT_CU(cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING));
  }
  void TearDown() override {
    EXPECT_CU(cuStreamDestroy(stream_));
    EXPECT_CU(cuModuleUnload(k_.module));
    PrimaryContextTest::TearDown();
  }

  CUresult Spin(std::chrono::milliseconds duration, CUstream stream) {
    unsigned long long ns = static_cast<unsigned long long>(duration.count()) * 1000000ull;
    void* params[] = {&ns};
    return cuLaunchKernel(k_.spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr);
  }
  CUresult Fill(CUdeviceptr dst, uint32_t value, unsigned long long n, CUstream stream) {
    void* params[] = {&dst, &value, &n};
    return cuLaunchKernel(k_.fill, Blocks(n), 1, 1, 256, 1, 1, 0, stream, params, nullptr);
  }
  // c[i] = a[i] + b[i] for i < n.
  CUresult Add(CUdeviceptr a, CUdeviceptr b, CUdeviceptr c, unsigned long long n, CUstream stream) {
    void* params[] = {&a, &b, &c, &n};
    return cuLaunchKernel(k_.add, Blocks(n), 1, 1, 256, 1, 1, 0, stream, params, nullptr);
  }

  // Ends the capture on stream_, expecting success.
  CUgraph EndCapture() {
    CUgraph graph = nullptr;
    EXPECT_CU(cuStreamEndCapture(stream_, &graph));
    EXPECT_NE(graph, nullptr);
    return graph;
  }
  static CUgraphExec Instantiate(CUgraph graph) {
    CUgraphExec exec = nullptr;
    EXPECT_CU(cuGraphInstantiate(&exec, graph, 0));
    return exec;
  }
  static size_t NodeCount(CUgraph graph) {
    size_t count = 0;
    EXPECT_CU(cuGraphGetNodes(graph, nullptr, &count));
    return count;
  }
  CUstreamCaptureStatus Status(CUstream stream) {
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
    EXPECT_CU(cuStreamIsCapturing(stream, &status));
    return status;
  }
  static CUdeviceptr Alloc(size_t bytes) {
    CUdeviceptr p = 0;
    EXPECT_CU(cuMemAlloc(&p, bytes));
    return p;
  }

  Kernels k_;
  CUstream stream_ = nullptr;  // non-blocking
};

TEST_F(GraphTest, CapturedCopiesAndKernelsRunOnlyWhenTheGraphIsLaunched) {
  constexpr size_t n = 1000;
  constexpr size_t bytes = n * sizeof(float);
  std::vector<float> a(n), b(n), c(n, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f * static_cast<float>(i % 10);
  }
  CUdeviceptr da = Alloc(bytes), db = Alloc(bytes), dc = Alloc(bytes);
  ASSERT_CU(cuMemsetD32(dc, 0xffffffffu, n));

  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuMemcpyHtoDAsync(da, a.data(), bytes, stream_));
  ASSERT_CU(cuMemcpyHtoDAsync(db, b.data(), bytes, stream_));
  ASSERT_CU(cuMemsetD32Async(dc, 0, n, stream_));
  ASSERT_CU(Add(da, db, dc, n, stream_));
  ASSERT_CU(cuMemcpyDtoHAsync(c.data(), dc, bytes, stream_));
  CUgraph graph = EndCapture();
  ASSERT_CU(cuCtxSynchronize());
  // Nothing ran: the memset, the kernel and the copy back are only recorded.
  EXPECT_EQ(ReadBack<uint32_t>(dc, n), std::vector<uint32_t>(n, 0xffffffffu));
  EXPECT_EQ(c, std::vector<float>(n, 0.0f));
  EXPECT_EQ(NodeCount(graph), 5u);

  CUgraphExec exec = Instantiate(graph);
  ASSERT_CU(cuGraphLaunch(exec, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(c[i], a[i] + b[i]) << "element " << i;

  // A launch reads the host memory the capture named as it is then, not as it was.
  for (size_t i = 0; i < n; ++i) a[i] = 100.0f + static_cast<float>(i);
  ASSERT_CU(cuGraphLaunch(exec, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(c[i], a[i] + b[i]) << "element " << i;

  EXPECT_CU(cuGraphExecDestroy(exec));
  EXPECT_CU(cuGraphDestroy(graph));
  for (CUdeviceptr p : {da, db, dc}) EXPECT_CU(cuMemFree(p));
}

TEST_F(GraphTest, AGraphLaunchedNTimesRunsNTimes) {
  constexpr size_t n = 256;
  CUdeviceptr ones = Alloc(n * sizeof(float)), sum = Alloc(n * sizeof(float));
  ASSERT_CU(cuMemsetD32(ones, 0x3f800000u, n));  // 1.0f
  ASSERT_CU(cuMemsetD32(sum, 0, n));
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  ASSERT_CU(Add(ones, sum, sum, n, stream_));  // sum += 1, twice per launch
  ASSERT_CU(Add(ones, sum, sum, n, stream_));
  CUgraph graph = EndCapture();
  CUgraphExec exec = Instantiate(graph);
  EXPECT_CU(cuGraphDestroy(graph));  // an executable graph does not need its graph
  for (int i = 0; i < 5; ++i) ASSERT_CU(cuGraphLaunch(exec, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(ReadBack<float>(sum, n), std::vector<float>(n, 10.0f));
  EXPECT_CU(cuGraphExecDestroy(exec));
  for (CUdeviceptr p : {ones, sum}) EXPECT_CU(cuMemFree(p));
}

TEST_F(GraphTest, GraphKernelsTakeTheirDeviceTime) {
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  for (int i = 0; i < 4; ++i) ASSERT_CU(Spin(std::chrono::milliseconds(5), stream_));
  CUgraph graph = EndCapture();
  CUgraphExec exec = Instantiate(graph);
  CUevent start = nullptr, stop = nullptr;
  ASSERT_CU(cuEventCreate(&start, CU_EVENT_DEFAULT));
  ASSERT_CU(cuEventCreate(&stop, CU_EVENT_DEFAULT));
  ASSERT_CU(cuEventRecord(start, stream_));
  for (int i = 0; i < 3; ++i) ASSERT_CU(cuGraphLaunch(exec, stream_));
  ASSERT_CU(cuEventRecord(stop, stream_));
  EXPECT_EQ(cuStreamQuery(stream_), CUDA_ERROR_NOT_READY);  // launches are asynchronous
  ASSERT_CU(cuEventSynchronize(stop));
  float ms = 0;
  ASSERT_CU(cuEventElapsedTime(&ms, start, stop));
  EXPECT_GE(ms, 3 * 4 * 5 * 0.98f);  // 12 kernels of 5 ms
  EXPECT_LE(ms, 500.0f);
  EXPECT_CU(cuEventDestroy(start));
  EXPECT_CU(cuEventDestroy(stop));
  EXPECT_CU(cuGraphExecDestroy(exec));
  EXPECT_CU(cuGraphDestroy(graph));
}

TEST_F(GraphTest, CaptureStatusIsReportedWhileCapturing) {
  CUdeviceptr buffer = Alloc(1024);
  EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_NONE);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  ASSERT_CU(cuStreamGetCaptureInfo(stream_, &status, nullptr, nullptr, nullptr, nullptr, nullptr));
  EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_NONE);

  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  cuuint64_t id = 0;
  CUgraph capturing = nullptr;
  const CUgraphNode* deps = nullptr;
  const CUgraphEdgeData* edges = nullptr;
  size_t count = 7;
  ASSERT_CU(cuStreamGetCaptureInfo(stream_, &status, &id, &capturing, &deps, &edges, &count));
  EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  EXPECT_NE(id, 0u);
  EXPECT_NE(capturing, nullptr);
  EXPECT_EQ(count, 0u);  // nothing captured yet
  ASSERT_CU(Fill(buffer, 1, 256, stream_));
  ASSERT_CU(cuStreamGetCaptureInfo(stream_, &status, nullptr, nullptr, &deps, &edges, &count));
  ASSERT_EQ(count, 1u);  // the next node depends on the fill
  CUgraphNode fill_node = deps[0];
  EXPECT_EQ(static_cast<int>(edges[0].type), static_cast<int>(CU_GRAPH_DEPENDENCY_TYPE_DEFAULT));
  CUgraph graph = EndCapture();
  EXPECT_EQ(graph, capturing);
  EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_NONE);
  CUgraphNode nodes[2] = {nullptr, reinterpret_cast<CUgraphNode>(1)};
  count = 2;
  ASSERT_CU(cuGraphGetNodes(graph, nodes, &count));
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(nodes[0], fill_node);
  EXPECT_EQ(nodes[1], nullptr);  // entries past the nodes are cleared

  // The older versions cuGetProcAddress hands out report the same, and each capture has its id.
  using InfoV1 = CUresult(CUDAAPI*)(CUstream, CUstreamCaptureStatus*, cuuint64_t*);
  using InfoV2 =
      CUresult(CUDAAPI*)(CUstream, CUstreamCaptureStatus*, cuuint64_t*, CUgraph*, const CUgraphNode**, size_t*);
  using BeginV1 = CUresult(CUDAAPI*)(CUstream);
  void* v1 = nullptr;
  void* v2 = nullptr;
  void* begin_v1 = nullptr;
  ASSERT_CU(cuGetProcAddress("cuStreamGetCaptureInfo", &v1, 10010, CU_GET_PROC_ADDRESS_DEFAULT, nullptr));
  ASSERT_CU(cuGetProcAddress("cuStreamGetCaptureInfo", &v2, 11030, CU_GET_PROC_ADDRESS_DEFAULT, nullptr));
  ASSERT_CU(cuGetProcAddress("cuStreamBeginCapture", &begin_v1, 10000, CU_GET_PROC_ADDRESS_DEFAULT, nullptr));
  ASSERT_CU(reinterpret_cast<BeginV1>(begin_v1)(stream_));
  cuuint64_t id_v1 = 0, id_v2 = 0;
  ASSERT_CU(reinterpret_cast<InfoV1>(v1)(stream_, &status, &id_v1));
  EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  ASSERT_CU(reinterpret_cast<InfoV2>(v2)(stream_, &status, &id_v2, nullptr, nullptr, nullptr));
  EXPECT_EQ(id_v1, id_v2);
  EXPECT_NE(id_v1, id);
  CUgraph second = EndCapture();
  EXPECT_EQ(NodeCount(second), 0u);
  EXPECT_CU(cuGraphDestroy(second));
  EXPECT_CU(cuGraphDestroy(graph));
  EXPECT_CU(cuMemFree(buffer));
}

TEST_F(GraphTest, IllegalCapturesAreRefused) {
  // The legacy stream cannot capture.
  EXPECT_EQ(cuStreamBeginCapture(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  EXPECT_EQ(cuStreamBeginCapture(CU_STREAM_LEGACY, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  EXPECT_EQ(cuStreamBeginCapture(stream_, static_cast<CUstreamCaptureMode>(3)), CUDA_ERROR_INVALID_VALUE);
  CUgraph graph = nullptr;
  EXPECT_EQ(cuStreamEndCapture(stream_, &graph), CUDA_ERROR_ILLEGAL_STATE);  // not capturing
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_ILLEGAL_STATE);
  EXPECT_EQ(cuStreamEndCapture(stream_, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(cuGraphDestroy(EndCapture()));

  CUgraphExec exec = nullptr;
  EXPECT_EQ(cuGraphInstantiate(&exec, nullptr, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphLaunch(nullptr, stream_), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cuGraphCreate(&graph, 0));
  EXPECT_EQ(cuGraphInstantiate(&exec, graph, CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH), CUDA_ERROR_INVALID_VALUE);
  exec = Instantiate(graph);
  EXPECT_CU(cuGraphExecDestroy(exec));
  EXPECT_EQ(cuGraphLaunch(exec, stream_), CUDA_ERROR_INVALID_VALUE);  // destroyed
  EXPECT_CU(cuGraphDestroy(graph));
  EXPECT_EQ(cuGraphDestroy(graph), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(GraphTest, WaitingForACapturingStreamInvalidatesTheCapture) {
  for (bool query : {false, true}) {
    SCOPED_TRACE(query ? "cuStreamQuery" : "cuStreamSynchronize");
    ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
    ASSERT_CU(Spin(std::chrono::milliseconds(1), stream_));
    EXPECT_EQ(query ? cuStreamQuery(stream_) : cuStreamSynchronize(stream_), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    EXPECT_EQ(Spin(std::chrono::milliseconds(1), stream_), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CUgraph graph = reinterpret_cast<CUgraph>(1);
    EXPECT_EQ(cuStreamEndCapture(stream_, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    EXPECT_EQ(graph, nullptr);
    // Ending it, even invalidated, gives the stream back.
    EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_NONE);
    ASSERT_CU(Spin(std::chrono::milliseconds(1), stream_));
    EXPECT_CU(cuStreamSynchronize(stream_));
  }
}

TEST_F(GraphTest, OnlyARelaxedCaptureEndsOnAnotherThread) {
  for (CUstreamCaptureMode mode :
       {CU_STREAM_CAPTURE_MODE_GLOBAL, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, CU_STREAM_CAPTURE_MODE_RELAXED}) {
    SCOPED_TRACE(mode);
    ASSERT_CU(cuStreamBeginCapture(stream_, mode));
    CUresult elsewhere = CUDA_ERROR_UNKNOWN;
    CUgraph graph = nullptr;
    std::thread([&] { elsewhere = cuStreamEndCapture(stream_, &graph); }).join();
    if (mode == CU_STREAM_CAPTURE_MODE_RELAXED) {
      EXPECT_CU(elsewhere);
    } else {
      EXPECT_EQ(elsewhere, CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD);
      EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_ACTIVE);
      graph = EndCapture();
    }
    EXPECT_CU(cuGraphDestroy(graph));
  }
}

TEST_F(GraphTest, TheLegacyStreamIsUnusableWhileABlockingStreamCaptures) {
  CUstream blocking = nullptr;
  ASSERT_CU(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  ASSERT_CU(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUstreamCaptureStatus status;
  EXPECT_EQ(cuStreamIsCapturing(nullptr, &status), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  EXPECT_EQ(Spin(std::chrono::milliseconds(1), nullptr), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  EXPECT_EQ(Status(blocking), CU_STREAM_CAPTURE_STATUS_INVALIDATED);  // it would have waited for it
  CUgraph graph = nullptr;
  EXPECT_EQ(cuStreamEndCapture(blocking, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  EXPECT_EQ(Status(nullptr), CU_STREAM_CAPTURE_STATUS_NONE);
  EXPECT_CU(cuStreamDestroy(blocking));

  // A non-blocking stream's capture leaves the legacy stream alone.
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(Status(nullptr), CU_STREAM_CAPTURE_STATUS_NONE);
  EXPECT_CU(Spin(std::chrono::milliseconds(1), nullptr));
  EXPECT_CU(cuStreamSynchronize(nullptr));
  EXPECT_CU(cuGraphDestroy(EndCapture()));
}

TEST_F(GraphTest, ThePerThreadDefaultStreamCaptures) {
  using Begin = CUresult(CUDAAPI*)(CUstream, CUstreamCaptureMode);
  using End = CUresult(CUDAAPI*)(CUstream, CUgraph*);
  using IsCapturing = CUresult(CUDAAPI*)(CUstream, CUstreamCaptureStatus*);
  using LaunchGraph = CUresult(CUDAAPI*)(CUgraphExec, CUstream);
  void *begin = nullptr, *end = nullptr, *is_capturing = nullptr, *launch_graph = nullptr;
  constexpr cuuint64_t kPerThread = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  ASSERT_CU(cuGetProcAddress("cuStreamBeginCapture", &begin, 12000, kPerThread, nullptr));
  ASSERT_CU(cuGetProcAddress("cuStreamEndCapture", &end, 12000, kPerThread, nullptr));
  ASSERT_CU(cuGetProcAddress("cuStreamIsCapturing", &is_capturing, 12000, kPerThread, nullptr));
  ASSERT_CU(cuGetProcAddress("cuGraphLaunch", &launch_graph, 12000, kPerThread, nullptr));
  constexpr size_t n = 512;
  CUdeviceptr buffer = Alloc(n * sizeof(uint32_t));
  ASSERT_CU(cuMemsetD32(buffer, 0, n));

  // NULL is the per-thread default stream for these variants: it may capture.
  ASSERT_CU(reinterpret_cast<Begin>(begin)(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  ASSERT_CU(reinterpret_cast<IsCapturing>(is_capturing)(nullptr, &status));
  EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  EXPECT_EQ(Status(CU_STREAM_PER_THREAD), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  EXPECT_EQ(Status(nullptr), CU_STREAM_CAPTURE_STATUS_NONE);  // the legacy stream is not
  ASSERT_CU(Fill(buffer, 9, n, CU_STREAM_PER_THREAD));
  CUgraph graph = nullptr;
  ASSERT_CU(reinterpret_cast<End>(end)(nullptr, &graph));
  ASSERT_CU(cuCtxSynchronize());
  EXPECT_EQ(ReadBack<uint32_t>(buffer, n), std::vector<uint32_t>(n, 0u));

  CUgraphExec exec = Instantiate(graph);
  ASSERT_CU(reinterpret_cast<LaunchGraph>(launch_graph)(exec, nullptr));
  ASSERT_CU(cuStreamSynchronize(CU_STREAM_PER_THREAD));
  EXPECT_EQ(ReadBack<uint32_t>(buffer, n), std::vector<uint32_t>(n, 9u));
  EXPECT_CU(cuGraphExecDestroy(exec));
  EXPECT_CU(cuGraphDestroy(graph));
  EXPECT_CU(cuMemFree(buffer));
}

TEST_F(GraphTest, EveryVersionOfCuGraphInstantiateInstantiates) {
  constexpr size_t n = 256;
  CUdeviceptr buffer = Alloc(n * sizeof(uint32_t));
  ASSERT_CU(cuMemsetD32(buffer, 0, n));
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(Fill(buffer, 4, n, stream_));
  CUgraph graph = EndCapture();

  using WithLog = CUresult(CUDAAPI*)(CUgraphExec*, CUgraph, CUgraphNode*, char*, size_t);
  using WithFlags = CUresult(CUDAAPI*)(CUgraphExec*, CUgraph, unsigned long long);
  std::vector<CUgraphExec> execs;
  for (int version : {10000, 11000}) {
    void* fn = nullptr;
    ASSERT_CU(cuGetProcAddress("cuGraphInstantiate", &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, nullptr));
    CUgraphExec exec = nullptr;
    CUgraphNode error_node = reinterpret_cast<CUgraphNode>(1);
    char log[16] = "untouched";
    ASSERT_CU(reinterpret_cast<WithLog>(fn)(&exec, graph, &error_node, log, sizeof(log))) << version;
    EXPECT_EQ(error_node, nullptr);
    EXPECT_STREQ(log, "");
    execs.push_back(exec);
  }
  for (const char* name : {"cuGraphInstantiate", "cuGraphInstantiateWithFlags"}) {
    void* fn = nullptr;
    ASSERT_CU(cuGetProcAddress(name, &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, nullptr));
    CUgraphExec exec = nullptr;
    ASSERT_CU(reinterpret_cast<WithFlags>(fn)(&exec, graph, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH)) << name;
    execs.push_back(exec);
  }
  for (CUgraphExec exec : execs) {
    ASSERT_CU(cuMemsetD32(buffer, 0, n));
    ASSERT_CU(cuGraphLaunch(exec, stream_));
    ASSERT_CU(cuStreamSynchronize(stream_));
    EXPECT_EQ(ReadBack<uint32_t>(buffer, n), std::vector<uint32_t>(n, 4u));
    EXPECT_CU(cuGraphExecDestroy(exec));
  }
  EXPECT_CU(cuGraphDestroy(graph));
  EXPECT_CU(cuMemFree(buffer));
}

TEST_F(GraphTest, AnEmptyGraphLaunchesAndDoesNothing) {
  CUgraph graph = nullptr;
  EXPECT_EQ(cuGraphCreate(&graph, 1), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cuGraphCreate(&graph, 0));
  EXPECT_EQ(NodeCount(graph), 0u);
  CUgraphExec exec = Instantiate(graph);
  EXPECT_CU(cuGraphLaunch(exec, stream_));
  EXPECT_CU(cuStreamSynchronize(stream_));
  EXPECT_CU(cuGraphExecDestroy(exec));
  EXPECT_CU(cuGraphDestroy(graph));
}

TEST_F(GraphTest, AGraphLaunchedIntoACapturingStreamIsCapturedWithIt) {
  constexpr size_t n = 128;
  CUdeviceptr ones = Alloc(n * sizeof(float)), sum = Alloc(n * sizeof(float));
  ASSERT_CU(cuMemsetD32(ones, 0x3f800000u, n));
  ASSERT_CU(cuMemsetD32(sum, 0, n));
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(Add(ones, sum, sum, n, stream_));
  CUgraph inner = EndCapture();
  CUgraphExec inner_exec = Instantiate(inner);

  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuGraphLaunch(inner_exec, stream_));
  ASSERT_CU(Add(ones, sum, sum, n, stream_));
  CUgraph outer = EndCapture();
  ASSERT_CU(cuCtxSynchronize());
  EXPECT_EQ(ReadBack<float>(sum, n), std::vector<float>(n, 0.0f));  // neither ran
  EXPECT_EQ(NodeCount(outer), 2u);
  CUgraphExec outer_exec = Instantiate(outer);
  ASSERT_CU(cuGraphLaunch(outer_exec, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(ReadBack<float>(sum, n), std::vector<float>(n, 2.0f));
  for (CUgraphExec e : {inner_exec, outer_exec}) EXPECT_CU(cuGraphExecDestroy(e));
  for (CUgraph g : {inner, outer}) EXPECT_CU(cuGraphDestroy(g));
  for (CUdeviceptr p : {ones, sum}) EXPECT_CU(cuMemFree(p));
}

TEST_F(GraphTest, DestroyingACapturingStreamEndsItsCapture) {
  CUstream stream = nullptr;
  ASSERT_CU(cuStreamCreate(&stream, CU_STREAM_DEFAULT));
  ASSERT_CU(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(Spin(std::chrono::milliseconds(1), stream));
  EXPECT_CU(cuStreamDestroy(stream));
  EXPECT_EQ(Status(nullptr), CU_STREAM_CAPTURE_STATUS_NONE);  // the legacy stream is usable again
  EXPECT_CU(Spin(std::chrono::milliseconds(1), nullptr));
  EXPECT_CU(cuStreamSynchronize(nullptr));
}

// Synchronizing a context waits for all its streams, a capturing one included, which a real
// driver refuses: the call fails and the capture is invalidated, whichever thread calls it (here,
// or one that pushed the context, as vxpu's compute gate does) and whatever the capture's mode.
TEST_F(GraphTest, SynchronizingTheContextWhileAStreamCapturesInvalidatesTheCapture) {
  for (CUstreamCaptureMode mode :
       {CU_STREAM_CAPTURE_MODE_GLOBAL, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, CU_STREAM_CAPTURE_MODE_RELAXED}) {
    for (bool elsewhere : {false, true}) {
      SCOPED_TRACE(testing::Message() << "mode " << mode << (elsewhere ? ", another thread" : ", this thread"));
      ASSERT_CU(cuStreamBeginCapture(stream_, mode));
      ASSERT_CU(Spin(std::chrono::milliseconds(1), stream_));
      CUresult synchronized = CUDA_ERROR_UNKNOWN;
      if (elsewhere) {
        std::thread([&] {
          if (cuCtxPushCurrent(ctx_) != CUDA_SUCCESS) return;
          synchronized = cuCtxSynchronize();
          CUcontext popped = nullptr;
          cuCtxPopCurrent(&popped);
        }).join();
      } else {
        synchronized = cuCtxSynchronize();
      }
      EXPECT_EQ(synchronized, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
      EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_INVALIDATED);
      EXPECT_EQ(Spin(std::chrono::milliseconds(1), stream_), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
      CUgraph graph = reinterpret_cast<CUgraph>(1);
      EXPECT_EQ(cuStreamEndCapture(stream_, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
      EXPECT_EQ(graph, nullptr);
      EXPECT_CU(cuCtxSynchronize());  // the capture over, the context may be waited for again
    }
  }
}

TEST_F(GraphTest, ACaptureLeavesOtherContextsFreeToSynchronize) {
  CUcontext other = nullptr;
  ASSERT_CU(cuCtxCreate(&other, nullptr, 0, 0));
  CUcontext popped = nullptr;
  ASSERT_CU(cuCtxPopCurrent(&popped));  // the primary context current again
  ASSERT_CU(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(Spin(std::chrono::milliseconds(1), stream_));
  ASSERT_CU(cuCtxPushCurrent(other));
  EXPECT_CU(cuCtxSynchronize());
  ASSERT_CU(cuCtxPopCurrent(&popped));
  EXPECT_EQ(Status(stream_), CU_STREAM_CAPTURE_STATUS_ACTIVE);
  CUgraph graph = EndCapture();
  EXPECT_EQ(NodeCount(graph), 1u);
  EXPECT_CU(cuGraphDestroy(graph));
  EXPECT_CU(cuCtxDestroy(other));
}

}  // namespace

int main(int argc, char** argv) { return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{}}); }
