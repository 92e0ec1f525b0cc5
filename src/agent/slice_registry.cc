#include "agent/slice_registry.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

std::unique_ptr<SliceRegistry> SliceRegistry::OpenFile(const std::string& path, int flags, std::string* error) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    *error = "cannot open registry " + path + ": " + (db != nullptr ? Message(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 2000);
  return std::unique_ptr<SliceRegistry>(new SliceRegistry(db, path));
}

// Writes a new, empty registry beside `path` and renames it into place.
bool SliceRegistry::Create(const std::string& path, std::string* error) {
  const std::string fresh = path + ".new";
  unlink(fresh.c_str());
  std::string why;
  {
    auto registry = OpenFile(fresh, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
    if (!registry) return false;
    chmod(fresh.c_str(), 0600);
    if (!registry->Exec(("PRAGMA journal_mode=DELETE; CREATE TABLE slices (name TEXT PRIMARY KEY NOT NULL, record "
                         "TEXT NOT NULL, created INTEGER NOT NULL); PRAGMA user_version=" +
                         std::to_string(kSchemaVersion))
                            .c_str(),
                        &why)) {
      *error = "cannot create registry " + fresh + ": " + why;
      return false;
    }
  }
  if (rename(fresh.c_str(), path.c_str()) != 0) {
    *error = "cannot create registry " + path + ": " + std::strerror(errno);
    unlink(fresh.c_str());
    return false;
  }
  return true;
}

std::unique_ptr<SliceRegistry> SliceRegistry::Open(const std::string& path, std::string* error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      *error = "cannot open registry " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    if (!Create(path, error)) return nullptr;
  } else if (st.st_size == 0) {
    *error = "registry " + path + " is empty (0 bytes): it was cut short, and its slices are lost to this agent; " +
             "move it aside to start with none";
    return nullptr;
  }
  auto registry = OpenFile(path, SQLITE_OPEN_READWRITE, error);
  if (!registry) return nullptr;
  chmod(path.c_str(), 0600);  // its WAL and shared-memory files take the same mode
  std::string why;
  if (!registry->CheckIntact(&why) || !registry->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", &why)) {
    *error = "registry " + path + " cannot be read (" + why + "); move it aside to start with no slices";
    return nullptr;
  }
  Statement version(registry->db_, "PRAGMA user_version");
  int found = version.ok() && sqlite3_step(version.get()) == SQLITE_ROW ? sqlite3_column_int(version.get(), 0) : -1;
  if (found != kSchemaVersion) {
    *error = "registry " + path + " has schema version " + std::to_string(found) + ", this vxpud reads " +
             std::to_string(kSchemaVersion);
    return nullptr;
  }
  return registry;
}

// SQLite's quick check over every page, and the table this registry keeps.
bool SliceRegistry::CheckIntact(std::string* error) {
  Statement check(db_, "PRAGMA quick_check");
  int rc = check.ok() ? sqlite3_step(check.get()) : SQLITE_ERROR;
  const unsigned char* verdict = rc == SQLITE_ROW ? sqlite3_column_text(check.get(), 0) : nullptr;
  if (verdict == nullptr || std::string(reinterpret_cast<const char*>(verdict)) != "ok") {
    *error = verdict != nullptr ? "quick_check: " + std::string(reinterpret_cast<const char*>(verdict)) : Message(db_);
    return false;
  }
  Statement table(db_, "SELECT name, record, created FROM slices LIMIT 0");
  if (!table.ok()) {
    *error = Message(db_);
    return false;
  }
  return true;
}

SliceRegistry::~SliceRegistry() { sqlite3_close(db_); }

bool SliceRegistry::Exec(const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
  *error = message != nullptr ? message : "unknown SQLite error";
  sqlite3_free(message);
  return false;
}

bool SliceRegistry::List(std::vector<SliceRecord>* out, std::vector<std::string>* unreadable, std::string* error) {
  out->clear();
  Statement select(db_, "SELECT name, record FROM slices ORDER BY created, name");
  int rc = select.ok() ? sqlite3_step(select.get()) : SQLITE_ERROR;
  for (; rc == SQLITE_ROW; rc = sqlite3_step(select.get())) {
    const unsigned char* stored_name = sqlite3_column_text(select.get(), 0);
    const unsigned char* text = sqlite3_column_text(select.get(), 1);
    std::string name = stored_name != nullptr ? reinterpret_cast<const char*>(stored_name) : "";
    std::string why;
    nlohmann::json json =
        nlohmann::json::parse(text != nullptr ? reinterpret_cast<const char*>(text) : "", nullptr, false);
    std::optional<SliceRecord> record = json.is_discarded() ? std::nullopt : SliceRecordFromJson(json, &why);
    if (stored_name == nullptr) {
      why = "no name";
    } else if (record && record->spec.name != name) {
      why = "stored under another name (" + record->spec.name + ")";
    }
    if (record && why.empty()) {
      out->push_back(std::move(*record));
    } else if (unreadable != nullptr) {
      std::string label = stored_name != nullptr ? "slice " + name : "a row without a name";
      unreadable->push_back("registry: " + label + ": unreadable record (" +
                            (why.empty() ? std::string("not JSON") : why) + "), left in place");
    }
  }
  if (rc != SQLITE_DONE) {
    *error = "registry " + path_ + " cannot be read: " + Message(db_);
    out->clear();
    return false;
  }
  return true;
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
