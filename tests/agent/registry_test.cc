// The slice registry (SQLite): what is put is listed back, in creation order, across reopening;
// what cannot be read back is reported and kept.
#include "agent/slice_registry.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace vxpu {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vxpu-registry-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/registry.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SliceRegistry> Open() {
    std::string error;
    auto registry = SliceRegistry::Open(path_, &error);
    EXPECT_NE(registry, nullptr) << error;
    return registry;
  }

  std::string dir_, path_;
};

SliceRecord Record(const std::string& name, int64_t created) {
  SliceRecord r;
  r.spec.name = name;
  r.spec.devices = {"GPU-aaaa", "GPU-bbbb"};
  r.spec.memory_limit = 1ull << 30;
  r.spec.compute = SliceCompute{300, 500, true};
  r.spec.owner.pid = 42;
  r.spec.owner.pid_start = 777;
  r.spec.owner.uid = 1000;
  r.created_unix = created;
  r.joined = {SliceHolder{43, 778}};
  return r;
}

void ExpectSame(const SliceRecord& a, const SliceRecord& b) {
  EXPECT_TRUE(a.spec.SameTerms(b.spec));
  EXPECT_EQ(a.spec.owner, b.spec.owner);
  EXPECT_EQ(a.created_unix, b.created_unix);
  EXPECT_EQ(a.discovered, b.discovered);
  EXPECT_EQ(a.joined, b.joined);
}

TEST_F(RegistryTest, KeepsSlicesAcrossReopeningInCreationOrder) {
  {
    auto registry = Open();
    std::string error;
    ASSERT_TRUE(registry->Put(Record("second", 20), &error)) << error;
    ASSERT_TRUE(registry->Put(Record("first", 10), &error)) << error;
  }
  auto registry = Open();
  std::vector<SliceRecord> slices = registry->List();
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // the agent's alone
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0].spec.name, "first");
  ExpectSame(slices[0], Record("first", 10));
  ExpectSame(slices[1], Record("second", 20));
}

TEST_F(RegistryTest, PutReplacesAndRemoveSaysWhetherThereWasOne) {
  auto registry = Open();
  std::string error;
  SliceRecord r = Record("a", 1);
  ASSERT_TRUE(registry->Put(r, &error));
  r.joined.push_back(SliceHolder{44, 779});
  ASSERT_TRUE(registry->Put(r, &error));
  ASSERT_EQ(registry->List().size(), 1u);
  EXPECT_EQ(registry->List()[0].joined.size(), 2u);
  EXPECT_TRUE(registry->Remove("a", &error));
  EXPECT_FALSE(registry->Remove("a", &error));
  EXPECT_EQ(error, "");  // none there is not an error
  EXPECT_TRUE(registry->List().empty());
}

TEST_F(RegistryTest, AnUnreadableRowIsReportedAndKept) {
  {
    auto registry = Open();
    std::string error;
    ASSERT_TRUE(registry->Put(Record("good", 1), &error));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO slices VALUES ('bad', 'not json', 2)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto registry = Open();
  std::vector<std::string> unreadable;
  std::vector<SliceRecord> slices = registry->List(&unreadable);
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].spec.name, "good");
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0], "registry: slice bad: unreadable record (not JSON), left in place");
  EXPECT_EQ(registry->List(&unreadable).size(), 1u);  // still there, still skipped
}

TEST_F(RegistryTest, RefusesAFileThatIsNotARegistry) {
  {
    FILE* f = std::fopen(path_.c_str(), "w");
    std::fputs("this is not a database, but it is long enough to look like a header of one....", f);
    std::fclose(f);
  }
  std::string error;
  EXPECT_EQ(SliceRegistry::Open(path_, &error), nullptr);
  EXPECT_NE(error.find("registry " + path_), std::string::npos) << error;
  EXPECT_EQ(SliceRegistry::Open(dir_ + "/missing/registry.db", &error), nullptr);
  EXPECT_NE(error.find("cannot open registry"), std::string::npos) << error;
}

TEST_F(RegistryTest, RefusesASchemaFromTheFuture) {
  { Open(); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version=7", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::string error;
  EXPECT_EQ(SliceRegistry::Open(path_, &error), nullptr);
  EXPECT_NE(error.find("has schema version 7, this vxpud reads 1"), std::string::npos) << error;
}

}  // namespace
}  // namespace vxpu
