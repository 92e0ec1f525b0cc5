#include "sched/trace.h"

#include "sched/cluster_state.h"

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

std::vector<PodRecord> PodsOfText(const std::string& text, PodTimes times = PodTimes::kOptional) {
  std::istringstream in(text);
  return ParsePodCsv(in, "pods.csv", Nodes(), times);
}

std::vector<PodRecord> Pods(const std::string& rows) { return PodsOfText(std::string(kPodHeader) + rows); }

template <typename Parse>
std::string ErrorOfParse(Parse parse) {
  try {
    parse();
  } catch (const TraceError& e) {
    return e.what();
  }
  return "no error";
}

std::string ErrorOfText(const std::string& text, PodTimes times = PodTimes::kOptional) {
  return ErrorOfParse([&] { PodsOfText(text, times); });
}

std::string ErrorOf(const std::string& rows) { return ErrorOfText(std::string(kPodHeader) + rows); }

std::string NodeErrorOf(const std::string& text) {
  return ErrorOfParse([&] {
    std::istringstream in(text);
    ParseNodeCsv(in, "nodes.csv");
  });
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

// GPUs and NPUs in one cluster: each node says whose devices it has, and a pod may ask for a
// vendor (any of its models), a model, or accept any.
const char* kMixedNodes =
    "sn,cpu_milli,memory_mib,gpu,model,vendor\n"
    "gpu0,64000,262144,8,V100M16,\n"
    "npu0,64000,262144,8,910B3,huawei\n"
    "npu1,64000,262144,8,910B4,huawei\n";

NodeList MixedNodes() {
  std::istringstream in(kMixedNodes);
  return ParseNodeCsv(in, "mixed.csv");
}

TEST(Trace, APodAsksForAVendorAModelOrAny) {
  NodeList nodes = MixedNodes();
  EXPECT_EQ(nodes.model_vendors, (std::vector<std::string>{"nvidia", "huawei", "huawei"}));
  std::istringstream in(std::string(kPodHeader) +
                        "any,1000,0,1,500,,LS,,\n"
                        "npu,1000,0,1,500,vendor:huawei,LS,,\n"
                        "b3,1000,0,1,500,910B3,LS,,\n"
                        "v100-or-npu,1000,0,1,500,V100M16|vendor:huawei,LS,,\n");
  std::vector<PodRecord> pods = ParsePodCsv(in, "pods.csv", nodes);
  ASSERT_EQ(pods.size(), 4u);
  EXPECT_EQ(pods[0].request.allowed_models, 0u);
  EXPECT_EQ(pods[1].request.allowed_models, 0b110u);
  EXPECT_EQ(pods[2].request.allowed_models, 0b010u);
  EXPECT_EQ(pods[3].request.allowed_models, 0b111u);
  // The cluster holds to it: an NPU pod fits the NPU nodes only, any pod every node.
  ClusterState cluster(nodes.nodes, nodes.model_names);
  EXPECT_FALSE(cluster.Fits(pods[1].request, 0));
  EXPECT_TRUE(cluster.Fits(pods[1].request, 1));
  EXPECT_TRUE(cluster.Fits(pods[1].request, 2));
  EXPECT_FALSE(cluster.Fits(pods[2].request, 2));
  for (int node = 0; node < 3; ++node) EXPECT_TRUE(cluster.Fits(pods[0].request, node)) << node;
}

TEST(Trace, VendorsThatCannotBeAreRefusedByName) {
  auto nodes_error = [](const std::string& text) {
    return ErrorOfParse([&] {
      std::istringstream in(text);
      ParseNodeCsv(in, "mixed.csv");
    });
  };
  EXPECT_EQ(nodes_error("sn,cpu_milli,memory_mib,gpu,model,vendor\nn0,1000,1024,1,910B3,Huawei\n"),
            "mixed.csv:2: column vendor: 'Huawei' is not a vendor name (lower-case letters and digits)");
  EXPECT_EQ(nodes_error("sn,cpu_milli,memory_mib,gpu,model,vendor\nn0,1000,1024,1,X1,huawei\nn1,1000,1024,1,X1,\n"),
            "mixed.csv:3: model 'X1' is 'huawei''s, not 'nvidia''s");
  std::string pods_error = ErrorOfParse([] {
    std::istringstream in(std::string(kPodHeader) + "p,1000,0,1,500,vendor:amd,LS,,\n");
    ParsePodCsv(in, "pods.csv", MixedNodes());
  });
  EXPECT_EQ(pods_error, "pods.csv:2: column gpu_spec: 'vendor:amd' names vendor 'amd', whose devices no node has");
}

TEST(Trace, APodListNeedsOnlyTheColumnsAReplayUses) {
  auto pods = PodsOfText("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,1024,1,460\n");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].request.gpu_milli, 460);
  EXPECT_EQ(pods[0].request.allowed_models, 0u);  // no gpu_spec: any model
  EXPECT_EQ(pods[0].creation_time, -1);
  EXPECT_EQ(pods[0].deletion_time, -1);
}

TEST(Trace, TheTimedReplayRefusesAPodListWithoutTimes) {
  EXPECT_EQ(ErrorOfText("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,1024,1,460\n", PodTimes::kRequired),
            "pods.csv:1: missing column 'creation_time' (the time-based replay needs creation_time and "
            "deletion_time)");
  EXPECT_EQ(ErrorOfText("name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time\np0,4000,1024,1,460,5\n",
                        PodTimes::kRequired),
            "pods.csv:1: missing column 'deletion_time' (the time-based replay needs creation_time and "
            "deletion_time)");
  EXPECT_EQ(
      ErrorOfText(std::string(kPodHeader) + "p0,4000,1024,1,460,,LS,10,20\np1,1,1,0,0,,LS,30,\n", PodTimes::kRequired),
      "pods.csv:3: column deletion_time: empty (the time-based replay needs every pod's creation and deletion "
      "time)");
  auto pods = PodsOfText(std::string(kPodHeader) + "p0,4000,1024,1,460,,LS,10,20\n", PodTimes::kRequired);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].deletion_time, 20);
}

TEST(Trace, AcceptsSpacesAroundNamesAndFields) {
  auto pods =
      PodsOfText("name, cpu_milli , memory_mib,\tnum_gpu, gpu_milli, gpu_spec\n p0 , 4000,1024 , 1,460 , G2 \n");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].name, "p0");
  EXPECT_EQ(pods[0].request.cpu_milli, 4000);
  EXPECT_EQ(pods[0].request.memory_mib, 1024);
  EXPECT_EQ(pods[0].request.gpu_milli, 460);
  EXPECT_EQ(pods[0].request.allowed_models, 0b10u);
  NodeList nodes = [] {
    std::istringstream in("sn , cpu_milli, memory_mib, gpu, model\nn0, 64000, 262144, 2, P100\n");
    return ParseNodeCsv(in, "nodes.csv");
  }();
  EXPECT_EQ(nodes.model_names, std::vector<std::string>{"P100"});
  EXPECT_EQ(nodes.nodes[0].gpu_count, 2);
}

TEST(Trace, SkipsAUtf8ByteOrderMark) {
  auto pods = PodsOfText("\xEF\xBB\xBFname,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,1024,1,460\n");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].request.cpu_milli, 4000);
  std::istringstream nodes("\xEF\xBB\xBFsn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\n");
  EXPECT_EQ(ParseNodeCsv(nodes, "nodes.csv").nodes.size(), 1u);
  EXPECT_EQ(ErrorOfText("\xFF\xFE"
                        "n"),
            "pods.csv:1: UTF-16 text: save the file as UTF-8 CSV");
}

TEST(Trace, AcceptsFieldsInDoubleQuotes) {
  auto pods = PodsOfText(
      "\"name\",\"cpu_milli\",\"memory_mib\",\"num_gpu\",\"gpu_milli\",\"gpu_spec\"\n"
      "\"p0\",\"4000\",\"1024\", \"1\" ,\" 460\",\"P100|G2\"\n"
      "\"pod, \"\"two\"\"\",1000,0,0,0,\"\"\n");
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0].name, "p0");
  EXPECT_EQ(pods[0].request.cpu_milli, 4000);
  EXPECT_EQ(pods[0].request.num_gpu, 1);
  EXPECT_EQ(pods[0].request.gpu_milli, 460);
  EXPECT_EQ(pods[0].request.allowed_models, 0b11u);
  EXPECT_EQ(pods[1].name, "pod, \"two\"");  // a quoted comma stays in the field
  EXPECT_EQ(pods[1].request.cpu_milli, 1000);
}

TEST(Trace, RefusesQuotesItCannotReadRight) {
  // A number written with a thousands separator is one field, and not an integer.
  EXPECT_EQ(ErrorOf("p0,\"4,000\",1024,1,460,,LS,1,2\n"), "pods.csv:2: column cpu_milli: '4,000' is not an integer");
  EXPECT_EQ(ErrorOf("p0,\"4000,1024,1,460,,LS,1,2\n"),
            "pods.csv:2: column cpu_milli: no closing quote (a field cannot span lines)");
  EXPECT_EQ(ErrorOf("p0,\"4000\"0,1024,1,460,,LS,1,2\n"), "pods.csv:2: column cpu_milli: text after the closing quote");
  EXPECT_EQ(ErrorOf("p0,40\"00,1024,1,460,,LS,1,2\n"), "pods.csv:2: column cpu_milli: stray quote in '40\"00'");
}

TEST(Trace, AnEmptyFileSaysWhatHeaderItExpected) {
  const std::string pods_expected =
      "pods.csv: empty file, expected a header line with columns name,cpu_milli,memory_mib,num_gpu,gpu_milli "
      "(optional: gpu_spec,creation_time,deletion_time)";
  EXPECT_EQ(ErrorOfText(""), pods_expected);
  EXPECT_EQ(ErrorOfText("\xEF\xBB\xBF\n  \n\r\n"), pods_expected);
  EXPECT_EQ(NodeErrorOf(""),
            "nodes.csv: empty file, expected a header line with columns sn,cpu_milli,memory_mib,gpu,model "
            "(optional: vendor)");
  EXPECT_EQ(ErrorOfText(kPodHeader), "pods.csv: no pods, only a header");
  EXPECT_EQ(NodeErrorOf("sn,cpu_milli,memory_mib,gpu,model\n"), "nodes.csv: no nodes, only a header");
}

TEST(Trace, BadInputNamesTheLineTheColumnAndTheValue) {
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,460,,LS,1,2\np1,-5,1024,0,0,,LS,1,2\n"),
            "pods.csv:3: column cpu_milli: '-5' is negative");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,-3,,LS,1,2\n"), "pods.csv:2: column gpu_milli: '-3' is negative");
  EXPECT_EQ(ErrorOf("p0,4k,1024,0,0,,LS,1,2\n"), "pods.csv:2: column cpu_milli: '4k' is not an integer");
  EXPECT_EQ(ErrorOf("p0,4000,1024,abc,0,,LS,1,2\n"), "pods.csv:2: column num_gpu: 'abc' is not an integer");
  EXPECT_EQ(ErrorOf("p0,99999999999999999999,1024,0,0,,LS,1,2\n"),
            "pods.csv:2: column cpu_milli: '99999999999999999999' is out of range");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,500,A100,LS,1,2\n"),
            "pods.csv:2: column gpu_spec: 'A100' names GPU model 'A100', which no node has");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,500,P100|A100,LS,1,2\n"),
            "pods.csv:2: column gpu_spec: 'P100|A100' names GPU model 'A100', which no node has");
  EXPECT_EQ(ErrorOf("p0,4000,1024,2,500,,LS,1,2\n"),
            "pods.csv:2: num_gpu '2' with gpu_milli '500': multi-GPU pods must take whole GPUs");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,0,,LS,1,2\n"),
            "pods.csv:2: num_gpu '1' with gpu_milli '0': GPU count without a GPU share");
  EXPECT_EQ(ErrorOf("p0,4000,1024,0,300,,LS,1,2\n"),
            "pods.csv:2: num_gpu '0' with gpu_milli '300': GPU share without a GPU count");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1,1500,,LS,1,2\n"),
            "pods.csv:2: column gpu_milli: '1500' is over 1000 (a whole GPU)");
  EXPECT_EQ(ErrorOf("p0,4000,1024,65,1000,,LS,1,2\n"), "pods.csv:2: column num_gpu: '65' exceeds 64 GPUs per node");
  EXPECT_EQ(ErrorOf("p0,4000,1024,1\n"), "pods.csv:2: expected 9 fields as in the header, found 4");
  EXPECT_EQ(ErrorOf("p0,4000,,0,0,,LS,1,2\n"), "pods.csv:2: column memory_mib: empty, expected an integer");
  EXPECT_EQ(ErrorOf("p0,4000,1,0,0,,LS,x,2\n"), "pods.csv:2: column creation_time: 'x' is not an integer");
  EXPECT_EQ(ErrorOf("p0,4000,1,0,0,,LS,9,2\n"), "pods.csv:2: column deletion_time: '2' is before creation_time '9'");
}

TEST(Trace, BadNodesNameTheLineTheColumnAndTheValue) {
  const std::string header = "sn,cpu_milli,memory_mib,gpu,model\n";
  EXPECT_EQ(NodeErrorOf(header + "n0,1000,1000,2,\n"), "nodes.csv:2: column model: empty, but gpu is '2'");
  EXPECT_EQ(NodeErrorOf(header + "n0,1000,1000,65,T4\n"), "nodes.csv:2: column gpu: '65' exceeds 64 GPUs per node");
  EXPECT_EQ(NodeErrorOf(header + "n0,1000,-1,1,T4\n"), "nodes.csv:2: column memory_mib: '-1' is negative");
  EXPECT_EQ(NodeErrorOf(header + "n0,1k,1,1,T4\n"), "nodes.csv:2: column cpu_milli: '1k' is not an integer");
  std::string many_models = header;
  for (int i = 0; i <= kMaxGpuModels; ++i)
    many_models += "n" + std::to_string(i) + ",1,1,1,M" + std::to_string(i) + "\n";
  EXPECT_EQ(NodeErrorOf(many_models), "nodes.csv:66: column model: 'M64' is a GPU model beyond the 64 allowed");
  EXPECT_EQ(NodeErrorOf("sn,cpu_milli,memory_mib,gpu\nn0,1,1,1\n"), "nodes.csv:1: missing column 'model'");
}

TEST(Trace, ANodeListWithoutGpusIsRefused) {
  EXPECT_EQ(NodeErrorOf("sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,0,\nn1,32000,131072,0,T4\n"),
            "nodes.csv: no node has a GPU");
}

TEST(Trace, MissingColumnsAndFilesAreReported) {
  EXPECT_EQ(ErrorOfText("name,cpu_milli,memory_mib,num_gpu,gpu_spec\np,1,1,0,\n"),
            "pods.csv:1: missing column 'gpu_milli'");
  EXPECT_EQ(ErrorOfText("\nname,cpu_milli,memory_mib,num_gpu\np,1,1,0\n"), "pods.csv:2: missing column 'gpu_milli'");
  EXPECT_EQ(ErrorOfParse([] { ReadNodeCsv("/nonexistent/nodes.csv"); }),
            "/nonexistent/nodes.csv: cannot open (No such file or directory)");
}

}  // namespace
}  // namespace vxpu::sched
