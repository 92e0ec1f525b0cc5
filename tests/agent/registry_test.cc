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

// The registry's readable slices (and its unreadable rows in *unreadable); a failure if it cannot be read.
std::vector<SliceRecord> List(SliceRegistry* registry, std::vector<std::string>* unreadable = nullptr) {
  std::vector<SliceRecord> out;
  std::string error;
  EXPECT_TRUE(registry->List(&out, unreadable, &error)) << error;
  return out;
}

// Overwrites `bytes` of the file at `path` from `offset` with junk, as a damaged disk would.
void ScribbleOver(const std::string& path, long offset, size_t bytes) {
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, offset, SEEK_SET);
  std::string junk(bytes, '\x5a');
  EXPECT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), bytes);
  std::fclose(f);
}

// Runs `sql` on the database at `path` behind the registry's back.
void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

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
  std::vector<SliceRecord> slices = List(registry.get());
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
  ASSERT_EQ(List(registry.get()).size(), 1u);
  EXPECT_EQ(List(registry.get())[0].joined.size(), 2u);
  EXPECT_TRUE(registry->Remove("a", &error));
  EXPECT_FALSE(registry->Remove("a", &error));
  EXPECT_EQ(error, "");  // none there is not an error
  EXPECT_TRUE(List(registry.get()).empty());
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
  std::vector<SliceRecord> slices = List(registry.get(), &unreadable);
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].spec.name, "good");
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0], "registry: slice bad: unreadable record (not JSON), left in place");
  EXPECT_EQ(List(registry.get(), &unreadable).size(), 1u);  // still there, still skipped
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

TEST_F(RegistryTest, ARowWithoutANameIsReportedAndKept) {
  // The old schema let a NULL name in; reading it aborted vxpud at every start.
  { Open(); }
  Sql(path_,
      "CREATE TABLE old (name TEXT PRIMARY KEY, record TEXT NOT NULL, created INTEGER NOT NULL); "
      "INSERT INTO old SELECT * FROM slices; DROP TABLE slices; ALTER TABLE old RENAME TO slices; "
      "INSERT INTO slices VALUES (NULL, '{}', 1)");
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  std::vector<std::string> unreadable;
  EXPECT_TRUE(List(registry.get(), &unreadable).empty());
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0], "registry: a row without a name: unreadable record (no name), left in place");
}

TEST_F(RegistryTest, ANewRegistryRefusesARowWithoutAName) {
  { Open(); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "INSERT INTO slices VALUES (NULL, '{}', 1)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(RegistryTest, AnEmptiedFileIsRefusedNotTakenForANewRegistry) {
  {
    auto registry = Open();
    std::string error;
    ASSERT_TRUE(registry->Put(Record("a", 1), &error)) << error;
  }
  ASSERT_EQ(truncate(path_.c_str(), 0), 0);
  std::string error;
  EXPECT_EQ(SliceRegistry::Open(path_, &error), nullptr);
  EXPECT_EQ(error, "registry " + path_ +
                       " is empty (0 bytes): it was cut short, and its slices are lost to this agent; move it aside "
                       "to start with none");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // left as found
}

TEST_F(RegistryTest, ADamagedPageIsAnErrorNotAnEmptyNode) {
  {
    auto registry = Open();
    std::string error;
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(registry->Put(Record("slice-" + std::to_string(i), i), &error)) << error;
  }
  ScribbleOver(path_, 4096, 4096);  // the second page, the table's first
  std::string error;
  EXPECT_EQ(SliceRegistry::Open(path_, &error), nullptr);
  EXPECT_NE(error.find("registry " + path_ + " cannot be read ("), std::string::npos) << error;
}

TEST_F(RegistryTest, DamageFoundWhileRunningIsAnErrorNotAnEmptyList) {
  auto registry = Open();
  std::string error;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(registry->Put(Record("slice-" + std::to_string(i), i), &error)) << error;
  Sql(path_, "PRAGMA wal_checkpoint(TRUNCATE)");
  ScribbleOver(path_, 4096, 8192);
  std::vector<SliceRecord> out{Record("stale", 1)};
  error.clear();
  EXPECT_FALSE(registry->List(&out, nullptr, &error));
  EXPECT_TRUE(out.empty());
  EXPECT_NE(error.find("registry " + path_ + " cannot be read: "), std::string::npos) << error;
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
