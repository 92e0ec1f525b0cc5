// The slices of one node, kept in SQLite (a file in vxpud's state directory) so that they
// survive a restart of the agent. Each slice is one row: its name and its record as JSON
// (node/slice.h). Writes are transactions with synchronous=FULL: a slice the API said was
// created is on disk. A row that cannot be read back is reported and left in place, never
// dropped. A registry that cannot be read (damaged, truncated, not a database) is an error,
// never an empty node: a new one is created whole (schema included) before it takes its name,
// so an empty file there is one that was cut short.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/slice.h"

struct sqlite3;

namespace vxpu {

class SliceRegistry {
 public:
  // Opens the registry database at `path`, creating it if there is none; refuses (nullptr,
  // *error set) one that is empty or fails SQLite's quick check.
  static std::unique_ptr<SliceRegistry> Open(const std::string& path, std::string* error);
  ~SliceRegistry();
  SliceRegistry(const SliceRegistry&) = delete;
  SliceRegistry& operator=(const SliceRegistry&) = delete;

  // Every readable slice, oldest first; *unreadable (optional) gets one line per bad row. False
  // with *error set if the registry itself cannot be read.
  bool List(std::vector<SliceRecord>* out, std::vector<std::string>* unreadable, std::string* error);
  // Adds a slice, or replaces the one of the same name.
  bool Put(const SliceRecord& record, std::string* error);
  // Removes slice `name`; false if there was none.
  bool Remove(const std::string& name, std::string* error);

 private:
  explicit SliceRegistry(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  static std::unique_ptr<SliceRegistry> OpenFile(const std::string& path, int flags, std::string* error);
  static bool Create(const std::string& path, std::string* error);
  bool Exec(const char* sql, std::string* error);
  bool CheckIntact(std::string* error);
  sqlite3* db_;
  std::string path_;
};

}  // namespace vxpu
