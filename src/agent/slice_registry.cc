#include "agent/slice_registry.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

namespace vxpu {
namespace {

constexpr int kSchemaVersion = 1;

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }
  bool ok() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string Message(sqlite3* db) { return sqlite3_errmsg(db); }

}  // namespace

std::unique_ptr<SliceRegistry> SliceRegistry::Open(const std::string& path, std::string* error) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    *error = "cannot open registry " + path + ": " + (db != nullptr ? Message(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return nullptr;
  }
  chmod(path.c_str(), 0600);  // its WAL and shared-memory files take the same mode
  sqlite3_busy_timeout(db, 2000);
  std::unique_ptr<SliceRegistry> registry(new SliceRegistry(db));
  std::string why;
  if (!registry->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", &why) ||
      !registry->Exec("CREATE TABLE IF NOT EXISTS slices (name TEXT PRIMARY KEY, record TEXT NOT NULL, "
                      "created INTEGER NOT NULL)",
                      &why)) {
    *error = "registry " + path + ": " + why;
    return nullptr;
  }
  Statement version(db, "PRAGMA user_version");
  int found = version.ok() && sqlite3_step(version.get()) == SQLITE_ROW ? sqlite3_column_int(version.get(), 0) : -1;
  if (found == 0) {
    registry->Exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str(), &why);
  } else if (found != kSchemaVersion) {
    *error = "registry " + path + " has schema version " + std::to_string(found) + ", this vxpud reads " +
             std::to_string(kSchemaVersion);
    return nullptr;
  }
  return registry;
}

SliceRegistry::~SliceRegistry() { sqlite3_close(db_); }

bool SliceRegistry::Exec(const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
  *error = message != nullptr ? message : "unknown SQLite error";
  sqlite3_free(message);
  return false;
}

std::vector<SliceRecord> SliceRegistry::List(std::vector<std::string>* unreadable) {
  std::vector<SliceRecord> out;
  Statement select(db_, "SELECT name, record FROM slices ORDER BY created, name");
  if (!select.ok()) {
    if (unreadable != nullptr) unreadable->push_back("registry: " + Message(db_));
    return out;
  }
  while (sqlite3_step(select.get()) == SQLITE_ROW) {
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 0));
    const unsigned char* text = sqlite3_column_text(select.get(), 1);
    std::string error;
    nlohmann::json json =
        nlohmann::json::parse(text != nullptr ? reinterpret_cast<const char*>(text) : "", nullptr, false);
    std::optional<SliceRecord> record = json.is_discarded() ? std::nullopt : SliceRecordFromJson(json, &error);
    if (record && record->spec.name != name) error = "stored under another name (" + record->spec.name + ")";
    if (record && error.empty()) {
      out.push_back(std::move(*record));
    } else if (unreadable != nullptr) {
      unreadable->push_back("registry: slice " + name + ": unreadable record (" +
                            (error.empty() ? std::string("not JSON") : error) + "), left in place");
    }
  }
  return out;
}

bool SliceRegistry::Put(const SliceRecord& record, std::string* error) {
  Statement upsert(db_,
                   "INSERT INTO slices (name, record, created) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT(name) DO UPDATE SET record = excluded.record");
  std::string text = SliceRecordToJson(record).dump();
  if (!upsert.ok() || sqlite3_bind_text(upsert.get(), 1, record.spec.name.c_str(), -1, SQLITE_TRANSIENT) != SQLITE_OK ||
      sqlite3_bind_text(upsert.get(), 2, text.c_str(), -1, SQLITE_TRANSIENT) != SQLITE_OK ||
      sqlite3_bind_int64(upsert.get(), 3, record.created_unix) != SQLITE_OK ||
      sqlite3_step(upsert.get()) != SQLITE_DONE) {
    *error = "registry: cannot store slice " + record.spec.name + ": " + Message(db_);
    return false;
  }
  return true;
}

bool SliceRegistry::Remove(const std::string& name, std::string* error) {
  Statement remove(db_, "DELETE FROM slices WHERE name = ?1");
  if (!remove.ok() || sqlite3_bind_text(remove.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT) != SQLITE_OK ||
      sqlite3_step(remove.get()) != SQLITE_DONE) {
    *error = "registry: cannot remove slice " + name + ": " + Message(db_);
    return false;
  }
  return sqlite3_changes(db_) > 0;
}

}  // namespace vxpu
