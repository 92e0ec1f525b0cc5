// The rules that turn a Slurm job step into a slice request (src/slurm/job_slice.h).
#include "slurm/job_slice.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

constexpr uint32_t kBatch = 0xfffffffb;
constexpr uint32_t kExtern = 0xfffffffc;

StepFacts ShardStep(const std::string& shards, const std::string& gpus = "0") {
  StepFacts step;
  step.job_id = 7;
  step.step_id = 0;
  step.gpus = gpus;
  step.shards = shards;
  return step;
}

StepSlice Wanted(const SpankSettings& settings, const JobOptions& options, const StepFacts& step) {
  StepSlice out;
  std::string error;
  EXPECT_TRUE(StepSliceFor(settings, options, step, &out, &error)) << error;
  EXPECT_TRUE(out.wanted);
  return out;
}

std::string Refused(const SpankSettings& settings, const JobOptions& options, const StepFacts& step) {
  StepSlice out;
  std::string error;
  EXPECT_FALSE(StepSliceFor(settings, options, step, &out, &error));
  return error;
}

TEST(SpankSettings, DefaultsAndEachArgument) {
  SpankSettings s;
  std::string error;
  ASSERT_TRUE(ParseSpankSettings({}, &s, &error)) << error;
  EXPECT_FALSE(s.sim);
  EXPECT_TRUE(s.shards_memory && s.shards_compute);
  EXPECT_EQ(s.shards_per_gpu, 10u);
  EXPECT_EQ(s.floor_percent, 10u);
  ASSERT_TRUE(ParseSpankSettings({"sim", "shards=memory", "shards_per_gpu=8", "floor=5"}, &s, &error)) << error;
  EXPECT_TRUE(s.sim);
  EXPECT_TRUE(s.shards_memory);
  EXPECT_FALSE(s.shards_compute);
  EXPECT_EQ(s.shards_per_gpu, 8u);
  EXPECT_EQ(s.floor_percent, 5u);
  ASSERT_TRUE(ParseSpankSettings({"shards=none"}, &s, &error)) << error;
  EXPECT_FALSE(s.shards_memory || s.shards_compute);
}

TEST(SpankSettings, ABadArgumentIsNamed) {
  for (const char* bad : {"simulated", "shards=disk", "shards=memory,", "shards_per_gpu=0", "floor=101", "floor=-1",
                          "shards_per_gpu=1e3", "floor"}) {
    SpankSettings s;
    std::string error;
    EXPECT_FALSE(ParseSpankSettings({bad}, &s, &error)) << bad;
    EXPECT_NE(error.find("\"" + std::string(bad) + "\""), std::string::npos) << error;
  }
}

TEST(JobOptions, EachIsCheckedWhereSubmitted) {
  std::string error;
  EXPECT_TRUE(CheckJobOption("vxpu-memory", "8GiB", &error)) << error;
  EXPECT_TRUE(CheckJobOption("vxpu-memory", "12.5%", &error)) << error;
  EXPECT_TRUE(CheckJobOption("vxpu-compute", "30", &error)) << error;
  EXPECT_TRUE(CheckJobOption("vxpu-compute-limit", "45", &error)) << error;
  EXPECT_TRUE(CheckJobOption("vxpu-priority", "high", &error)) << error;
  EXPECT_FALSE(CheckJobOption("vxpu-memory", "lots", &error));
  EXPECT_EQ(error, "--vxpu-memory: bad memory quota \"lots\" (want a size like 20GiB or a percentage like 25%)");
  EXPECT_FALSE(CheckJobOption("vxpu-memory", "150%", &error));
  EXPECT_FALSE(CheckJobOption("vxpu-compute", "35", &error));
  EXPECT_EQ(error, "--vxpu-compute: bad value \"35\" (want a multiple of 10%)");
  EXPECT_FALSE(CheckJobOption("vxpu-compute", "0", &error));
  EXPECT_FALSE(CheckJobOption("vxpu-compute-limit", "101", &error));
  EXPECT_FALSE(CheckJobOption("vxpu-priority", "urgent", &error));
  EXPECT_EQ(error, "--vxpu-priority: bad value \"urgent\" (want normal or high)");
}

TEST(JobOptions, ACeilingBelowTheGuaranteeIsRefusedWhereSubmitted) {
  std::string error;
  EXPECT_TRUE(CheckJobOptions({"", "", "50", ""}, &error)) << error;  // shards may give the guarantee
  EXPECT_TRUE(CheckJobOptions({"", "30", "50", "high"}, &error)) << error;
  EXPECT_FALSE(CheckJobOptions({"", "60", "50", ""}, &error));
  EXPECT_EQ(error, "--vxpu-compute-limit 50 is below --vxpu-compute 60");
}

TEST(StepSlice, ShardsGiveTheirShareOfMemoryAndCompute) {
  StepSlice s = Wanted({}, {}, ShardStep("3"));
  EXPECT_EQ(s.request.memory, "30%");
  EXPECT_TRUE(s.request.memory_is_share);  // of the device, context included, as GPU units are
  EXPECT_EQ(s.request.compute, "30");
  EXPECT_EQ(s.request.device, "0");
  EXPECT_EQ(s.request.name, "slurm-7.0");
  EXPECT_TRUE(s.request.name_given);
  EXPECT_EQ(s.request.job, "slurm:7.0");
  EXPECT_FALSE(s.joins);
  EXPECT_EQ(Wanted({}, {}, ShardStep("10")).request.memory, "100%");
  EXPECT_EQ(Wanted({}, {}, ShardStep("12")).request.compute, "100");  // more than one GPU's worth: all of it
}

TEST(StepSlice, ShardsThatAreNoWholeTenthRoundComputeDownToTheStepAndKeepAFloor) {
  SpankSettings eight;
  eight.shards_per_gpu = 8;
  StepSlice s = Wanted(eight, {}, ShardStep("3"));
  EXPECT_EQ(s.request.memory, "37.5%");
  EXPECT_EQ(s.request.compute, "30");
  SpankSettings three;
  three.shards_per_gpu = 3;
  EXPECT_EQ(Wanted(three, {}, ShardStep("1")).request.memory, "33.33%");
  SpankSettings fine;
  fine.shards_per_gpu = 100;
  s = Wanted(fine, {}, ShardStep("4"));
  EXPECT_EQ(s.request.memory, "10%");  // the floor
  EXPECT_EQ(s.request.compute, "10");
  fine.floor_percent = 25;
  s = Wanted(fine, {}, ShardStep("4"));
  EXPECT_EQ(s.request.memory, "25%");
  EXPECT_EQ(s.request.compute, "30");  // the floor, up to the 10% step
}

TEST(StepSlice, OnlyTheResourcesThatFollowShardsComeFromThem) {
  SpankSettings memory_only;
  memory_only.shards_compute = false;
  StepSlice s = Wanted(memory_only, {}, ShardStep("3"));
  EXPECT_EQ(s.request.memory, "30%");
  EXPECT_EQ(s.request.compute, "");
  SpankSettings none;
  none.shards_memory = none.shards_compute = false;
  StepSlice out;
  std::string error;
  EXPECT_TRUE(StepSliceFor(none, {}, ShardStep("3"), &out, &error)) << error;
  EXPECT_FALSE(out.wanted);
}

TEST(StepSlice, OptionsMayAskForLessThanTheShardsHoldNeverMore) {
  StepSlice s = Wanted({}, {"1GiB", "", "", "high"}, ShardStep("3"));
  EXPECT_EQ(s.request.memory, "1GiB");
  EXPECT_FALSE(s.request.memory_is_share);
  EXPECT_EQ(s.request.memory_cap, "30%");  // the slice component checks a size against the device
  EXPECT_EQ(s.request.compute, "30");
  EXPECT_EQ(s.request.priority, "high");
  s = Wanted({}, {"", "20", "80", ""}, ShardStep("3"));
  EXPECT_EQ(s.request.memory, "30%");
  EXPECT_EQ(s.request.compute, "20");
  EXPECT_EQ(s.request.compute_limit, "80");  // a ceiling above the shards: others' idle time only
  EXPECT_EQ(Refused({}, {"", "50", "", ""}, ShardStep("3")),
            "--vxpu-compute 50 is more than the 30% the step's 3 shards hold");
  StepFacts no_shards = ShardStep("");
  no_shards.shards.reset();
  EXPECT_EQ(Wanted({}, {"4GiB", "50", "", ""}, no_shards).request.memory_cap, "");
}

TEST(StepSlice, OptionsWithoutShardsSliceTheStepsGpusOrAllOfThem) {
  StepFacts step = ShardStep("");
  step.shards.reset();
  step.gpus = "1";
  StepSlice s = Wanted({}, {"2GiB", "", "", ""}, step);
  EXPECT_EQ(s.request.device, "1");
  EXPECT_EQ(s.request.memory, "2GiB");
  step.gpus.reset();  // Slurm does not manage the node's GPUs: all of them
  EXPECT_EQ(Wanted({}, {"2GiB", "", "", ""}, step).request.device, "");
}

TEST(StepSlice, NoSliceWithoutOptionOrShardOrForTheExternStep) {
  StepFacts step = ShardStep("");
  step.shards.reset();
  StepSlice out;
  std::string error;
  EXPECT_TRUE(StepSliceFor({}, {}, step, &out, &error)) << error;
  EXPECT_FALSE(out.wanted);
  step = ShardStep("3");
  step.step_id = kExtern;
  EXPECT_TRUE(StepSliceFor({}, {"1GiB", "", "", ""}, step, &out, &error)) << error;
  EXPECT_FALSE(out.wanted);
}

TEST(StepSlice, WhatCannotBeHonouredFailsTheStep) {
  EXPECT_EQ(Refused({}, {}, ShardStep("three")),
            "SLURM_SHARDS_ON_NODE: bad value \"three\" (want a whole number of shards)");
  EXPECT_EQ(Refused({}, {}, ShardStep("3", "0,1")),
            "the step's 3 shards are on GPUs 0,1, in a split vxpu cannot see: give --vxpu-memory and --vxpu-compute");
  EXPECT_EQ(Refused({}, {"1GiB", "", "", ""}, ShardStep("", "")),
            "the step has no GPU to slice (ask for one: --gres=shard:N or --gres=gpu:1)");
  StepFacts no_shards = ShardStep("");
  no_shards.shards.reset();
  EXPECT_EQ(Refused({}, {"", "", "50", ""}, no_shards), "--vxpu-compute-limit needs --vxpu-compute");
  EXPECT_EQ(Refused({}, {"", "", "", "high"}, no_shards), "--vxpu-priority needs --vxpu-compute");
}

TEST(StepSlice, AStepJoinsTheSliceItsJobHoldsWhenTheTermsAreTheSame) {
  StepFacts step = ShardStep("3");
  step.slice = "slurm-7.batch";
  step.terms = "share 30%|30||normal";
  StepSlice s = Wanted({}, {}, step);
  EXPECT_EQ(s.terms, *step.terms);
  EXPECT_TRUE(s.joins);
  EXPECT_EQ(s.request.name, "slurm-7.batch");
  EXPECT_EQ(s.own_name, "slurm-7.0");
  EXPECT_EQ(s.request.job, "slurm:7.0");
  EXPECT_EQ(Wanted({}, {"", "", "", "high"}, step).request.name, "slurm-7.0");  // other terms: its own
  EXPECT_EQ(Wanted({}, {"30%", "", "", ""}, step).request.name, "slurm-7.0");   // 30% as a quota, not a share
  step.slice = "slurm-70.batch";                                                // another job's: never joined
  EXPECT_EQ(Wanted({}, {}, step).request.name, "slurm-7.0");
}

TEST(StepSlice, StepsAreNamedAsSlurmNamesThem) {
  EXPECT_EQ(StepName(12, 0), "12.0");
  EXPECT_EQ(StepName(12, kBatch), "12.batch");
  EXPECT_EQ(StepName(12, kExtern), "12.extern");
  EXPECT_EQ(StepName(12, 0xfffffffa), "12.interactive");
  StepFacts batch = ShardStep("3");
  batch.step_id = kBatch;
  EXPECT_EQ(Wanted({}, {}, batch).request.name, "slurm-7.batch");
}

TEST(SlurmWords, MessagesNameTheJobsOptions) {
  EXPECT_EQ(InSlurmWords("--memory: memory quota \"100GiB\" is more than the device's 80.0 GiB"),
            "--vxpu-memory: memory quota \"100GiB\" is more than the device's 80.0 GiB");
  EXPECT_EQ(InSlurmWords("--compute 35 is not a multiple of the 10% step (--compute-step sets a finer one)"),
            "--vxpu-compute 35 is not a multiple of the 10% step");
  EXPECT_EQ(InSlurmWords("--device: no device 3"), "CUDA_VISIBLE_DEVICES: no device 3");
  EXPECT_EQ(InSlurmWords("give --memory, --compute or both"), "give --vxpu-memory, --vxpu-compute or both");
}

}  // namespace
}  // namespace vxpu
