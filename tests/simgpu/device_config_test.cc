#include "simgpu/device_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

namespace simgpu {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

constexpr const char* kUuidA = "GPU-01234567-89ab-cdef-0123-456789abcdef";
constexpr const char* kUuidB = "GPU-fedcba98-7654-3210-fedc-ba9876543210";

// A config with one device whose entry is `{"uuid": kUuidA, <fields>}`.
std::string OneDevice(const std::string& fields) {
  return std::string(R"({"devices":[{"uuid":")") + kUuidA + "\"" + (fields.empty() ? "" : ",") + fields + "}]}";
}

// Parsing `json` fails with an error naming `needle`, and yields no devices.
void ExpectError(const std::string& json, const std::string& needle) {
  DeviceConfig config = ParseDeviceConfig(json);
  EXPECT_TRUE(config.devices.empty()) << json;
  EXPECT_NE(config.error.find(needle), std::string::npos) << "error \"" << config.error << "\" for " << json;
}

// Sets (or unsets, for nullopt) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    Set(value);
  }
  ~ScopedEnv() { Set(old_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void Set(const std::optional<std::string>& value) {
    if (value) {
      setenv(name_, value->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ParseDeviceConfig, ReadsEveryFieldOfEachDevice) {
  std::string json = std::string(R"({"devices":[
    {"name":"NVIDIA A100-SXM4-40GB","uuid":")") +
                     kUuidA + R"(","memory":"40GiB","sm_count":108,
     "compute_capability":"8.0","context_overhead":"300MiB","timeslice_us":500},
    {"name":"Second","uuid":")" +
                     kUuidB + R"(","memory":17179869184,"sm_count":20}]})";
  DeviceConfig config = ParseDeviceConfig(json);
  ASSERT_EQ(config.error, "");
  ASSERT_EQ(config.devices.size(), 2u);

  const DeviceSpec& a = config.devices[0];
  EXPECT_EQ(a.name, "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(a.uuid, kUuidA);
  const unsigned char expected_bytes[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(a.uuid_bytes[i], expected_bytes[i]) << "byte " << i;
  EXPECT_EQ(a.total_memory, 40 * kGiB);
  EXPECT_EQ(a.sm_count, 108);
  EXPECT_EQ(a.cc_major, 8);
  EXPECT_EQ(a.cc_minor, 0);
  EXPECT_EQ(a.context_overhead, 300 * kMiB);
  EXPECT_EQ(a.timeslice_us, 500u);

  const DeviceSpec& b = config.devices[1];
  EXPECT_EQ(b.name, "Second");
  EXPECT_EQ(b.uuid, kUuidB);
  EXPECT_EQ(b.uuid_bytes[0], 0xfe);
  EXPECT_EQ(b.uuid_bytes[15], 0x10);
  EXPECT_EQ(b.total_memory, 16 * kGiB);
  EXPECT_EQ(b.sm_count, 20);
}

TEST(ParseDeviceConfig, RejectsMalformedDocuments) {
  ExpectError("{\"devices\": [", "JSON");
  ExpectError("{}", "\"devices\"");
  ExpectError(R"({"devices":{}})", "\"devices\"");
  ExpectError(R"({"devices":[]})", "empty");
  ExpectError(R"({"devices":[{}],"extra":1})", "extra");
}

TEST(ParseDeviceConfig, RejectsUnknownDeviceKeys) { ExpectError(OneDevice(R"("colour":"green")"), "colour"); }

TEST(ParseDeviceConfig, RejectsBadUuids) {
  ExpectError(R"({"devices":[{"uuid":"GPU-1234"}]})", "GPU-1234");
  ExpectError(R"({"devices":[{"uuid":"GPU-0123456z-89ab-cdef-0123-456789abcdef"}]})", "0123456z");
  ExpectError(R"({"devices":[{"uuid":"XPU-01234567-89ab-cdef-0123-456789abcdef"}]})", "XPU-");
}

TEST(ParseDeviceConfig, RejectsBadMemorySizes) {
  ExpectError(OneDevice(R"("memory":"-5GiB")"), "-5GiB");
  ExpectError(OneDevice(R"("memory":"lots")"), "lots");
  ExpectError(OneDevice(R"("memory":0)"), "memory");
}

TEST(ParseDeviceConfig, RejectsDuplicateUuids) {
  std::string json = std::string(R"({"devices":[{"uuid":")") + kUuidB + R"("},{"uuid":")" + kUuidB + R"("}]})";
  ExpectError(json, kUuidB);
  ExpectError(json, "duplicate");
}

TEST(ParseDeviceConfig, RejectsContextOverheadNotBelowMemory) {
  ExpectError(OneDevice(R"("memory":"1GiB","context_overhead":"1GiB")"), "context_overhead");
  ExpectError(OneDevice(R"("memory":"1GiB","context_overhead":"2GiB")"), "context_overhead");
}

TEST(LoadDeviceConfig, MissingFileIsAnErrorNamingThePath) {
  const std::string path = "/nonexistent/vxpu-simgpu-config-test.json";
  ScopedEnv env(kConfigEnv, path);
  DeviceConfig config = LoadDeviceConfig();
  EXPECT_TRUE(config.devices.empty());
  EXPECT_NE(config.error.find(path), std::string::npos) << config.error;
}

TEST(LoadDeviceConfig, UnsetGivesOneDefaultH100) {
  ScopedEnv env(kConfigEnv, std::nullopt);
  DeviceConfig config = LoadDeviceConfig();
  ASSERT_EQ(config.error, "");
  ASSERT_EQ(config.devices.size(), 1u);
  const DeviceSpec& d = config.devices[0];
  EXPECT_NE(d.name.find("H100"), std::string::npos) << d.name;
  EXPECT_EQ(d.total_memory, 80 * kGiB);
  EXPECT_EQ(d.sm_count, 132);
  EXPECT_EQ(d.cc_major, 9);
  EXPECT_EQ(d.cc_minor, 0);
  EXPECT_EQ(d.uuid.rfind("GPU-", 0), 0u) << d.uuid;
}

}  // namespace
}  // namespace simgpu

namespace simgpu {
namespace {

TEST(VisibleDevices, FollowsCudaVisibleDevicesByOrdinalOrUuid) {
  DeviceConfig config = ParseDeviceConfig(
      R"({"devices":[{"uuid":"GPU-00000000-0000-4000-8000-000000000000"},
                     {"uuid":"GPU-00000000-0000-4000-8000-000000000001"},
                     {"uuid":"GPU-00000000-0000-4000-8000-000000000002"}]})");
  ASSERT_TRUE(config.error.empty()) << config.error;
  EXPECT_EQ(VisibleDevices(config.devices, nullptr).size(), 3u);
  std::vector<DeviceSpec> two = VisibleDevices(config.devices, "2,GPU-00000000-0000-4000-8000-000000000000");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].uuid, config.devices[2].uuid);
  EXPECT_EQ(two[1].uuid, config.devices[0].uuid);
  EXPECT_EQ(VisibleDevices(config.devices, "1,7,0").size(), 1u);  // an unknown entry ends the list
  EXPECT_TRUE(VisibleDevices(config.devices, "").empty());
}

}  // namespace
}  // namespace simgpu
