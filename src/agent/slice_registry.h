// The slices of one node, kept in SQLite (a file in vxpud's state directory) so that they
// survive a restart of the agent. Each slice is one row: its name and its record as JSON
// (agent_api/slice.h). Writes are transactions with synchronous=FULL: a slice the API said was
// created is on disk. A row that cannot be read back is reported and left in place, never
// dropped.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent_api/slice.h"

struct sqlite3;

namespace vxpu {

class SliceRegistry {
 public:
  // Opens (creating it if needed) the registry database at `path`.
  static std::unique_ptr<SliceRegistry> Open(const std::string& path, std::string* error);
  ~SliceRegistry();
  SliceRegistry(const SliceRegistry&) = delete;
  SliceRegistry& operator=(const SliceRegistry&) = delete;

  // Every readable slice, oldest first; *unreadable (optional) gets one line per bad row.
  std::vector<SliceRecord> List(std::vector<std::string>* unreadable = nullptr);
  // Adds a slice, or replaces the one of the same name.
  bool Put(const SliceRecord& record, std::string* error);
  // Removes slice `name`; false if there was none.
  bool Remove(const std::string& name, std::string* error);

 private:
  explicit SliceRegistry(sqlite3* db) : db_(db) {}
  bool Exec(const char* sql, std::string* error);
  sqlite3* db_;
};

}  // namespace vxpu
