#include "common/process_table.h"

#include <unistd.h>

#include "common/process.h"

namespace vxpu {

ProcessEntry ProcessEntry::OfThisProcess() {
  int32_t self = getpid();
  return ProcessEntry{self, 1, ProcessStartTicks(self)};
}

bool ProcessEntry::Abandoned() const { return in_use && !ProcessAlive(pid, start_ticks); }

}  // namespace vxpu
