#include "sched/trace.h"

#include <gtest/gtest.h>

#include <sstream>

namespace vxpu::sched {
namespace {

const char* kNodes =
    "sn,cpu_milli,memory_mib,gpu,model\n"
    "n0,64000,262144,2,P100\n"
    "n1,96000,393216,8,G2\n"
    "n2,32000,131072,0,\n";

const char* kPodHeader = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,creation_time,deletion_time\n";

NodeList Nodes() {
  std::istringstream in(kNodes);
  return ParseNodeCsv(in, "nodes.csv");
}

std::vector<PodRecord> Pods(const std::string& rows) {
  std::istringstream in(std::string(kPodHeader) + rows);
  return ParsePodCsv(in, "pods.csv", Nodes());
}

std::string ErrorOf(const std::string& rows) {
  try {
    Pods(rows);
  } catch (const TraceError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Trace, ReadsNodesAndPods) {
  NodeList nodes = Nodes();
  ASSERT_EQ(nodes.nodes.size(), 3u);
  EXPECT_EQ(nodes.model_names, (std::vector<std::string>{"P100", "G2"}));
  EXPECT_EQ(nodes.nodes[1].gpu_count, 8);
  EXPECT_EQ(nodes.nodes[1].gpu_model, 1);
  EXPECT_EQ(nodes.nodes[2].gpu_model, kNoGpuModel);
  EXPECT_EQ(nodes.nodes[0].gpu_memory_mib, 16280);  // known model
  EXPECT_EQ(nodes.nodes[1].gpu_memory_mib, 0);      // unknown: no per-GPU memory limit

  auto pods = Pods("p0,4000,1024,1,460,,LS,10,20\np1,8000,0,2,1000,P100|G2,BE,30,\r\n");
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0].request.gpu_milli, 460);
  EXPECT_EQ(pods[0].request.allowed_models, 0u);
  EXPECT_EQ(pods[0].creation_time, 10);
  EXPECT_EQ(pods[1].request.allowed_models, 0b11u);
  EXPECT_EQ(pods[1].deletion_time, -1);
  EXPECT_EQ(pods[1].line, 3);
}

TEST(Trace, BadInputNamesTheLineAndTheValue) {
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,460,,LS,1,2\np1,-5,1024,0,0,,LS,1,2\n"), "pods.csv:3: negative cpu_milli '-5'");
  EXPECT_EQ(ErrorOf("p0,4k,1024,0,0,,LS,1,2\n"), "pods.csv:2: cpu_milli '4k' is not an integer");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,500,A100,LS,1,2\n"),
            "pods.csv:2: unknown GPU model 'A100' in gpu_spec (no node has it)");
  EXPECT_EQ(ErrorOf("p0,4000,1024,2,500,,LS,1,2\n"), "pods.csv:2: multi-GPU pods must take whole GPUs");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,1500,,LS,1,2\n"), "pods.csv:2: GPU share outside 0..1000 milli");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1\n"), "pods.csv:2: expected 9 fields, found 4");
  EXPECT_EQ(ErrorOf("p0,4000,,0,0,,LS,1,2\n"), "pods.csv:2: missing memory_mib");
  EXPECT_EQ(ErrorOf("p0,4000,1,0,0,,LS,9,2\n"), "pods.csv:2: deletion_time '2' before creation_time");
}

TEST(Trace, MissingColumnsAndBadNodesAreReported) {
  std::istringstream no_gpu_column("name,cpu_milli,memory_mib,num_gpu,gpu_spec\np,1,1,0,\n");
  EXPECT_THROW(
      {
        try {
          ParsePodCsv(no_gpu_column, "pods.csv", Nodes());
        } catch (const TraceError& e) {
          EXPECT_STREQ(e.what(), "pods.csv:1: missing column 'gpu_milli'");
          throw;
        }
      },
      TraceError);
  std::istringstream no_model("sn,cpu_milli,memory_mib,gpu,model\nn0,1000,1000,2,\n");
  EXPECT_THROW(ParseNodeCsv(no_model, "nodes.csv"), TraceError);
  EXPECT_THROW(ReadNodeCsv("/nonexistent/nodes.csv"), TraceError);
}

}  // namespace
}  // namespace vxpu::sched
