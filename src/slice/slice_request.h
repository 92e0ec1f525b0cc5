// A slice as its callers ask for one, in the words of `vxpu run`'s options (vxpu remoted fills
// the same fields from a session's terms; the Slurm plugin will from a job's): which devices,
// how much memory, what share of compute. CheckRequest turns it into the terms the rest of the
// component works with, naming any bad value in one line. Pure.
#pragma once

#include <string>

#include "interposer/compute_arbiter.h"

namespace vxpu {

struct SliceRequest {
  std::string device;            // ordinals or UUIDs, comma-separated; empty: all devices
  std::string memory;            // quota per device, e.g. "20GiB" or "25%"; empty: no memory quota
  bool memory_is_share = false;  // `memory` is a share of the device that holds its context too:
                                 // the quota is the share less the room kept for contexts, as a
                                 // set of GPU units or Slurm shards makes (all shares: the device)
  std::string memory_cap;        // a share of each device ("30%") the quota may not pass with the room
                                 // for contexts kept beside it (a Slurm job's shards); empty: none
  std::string compute;           // guaranteed share of each device in percent, e.g. "30"; empty: none
  std::string compute_limit;     // ceiling in percent; empty: 100
  bool strict = false;           // ceiling = guaranteed share
  std::string priority = "normal";
  std::string compute_step = "10";  // the guarantee must be a multiple of this (percent)
  std::string name;                 // slice name, if name_given; else "run-<pid>"
  bool name_given = false;
  bool sim = false;  // on the simulated devices instead of the real driver
  std::string job;   // the batch job the slice is for ("slurm:123.0", SliceOwner::job), or empty
};

// A request's terms, checked.
struct CheckedRequest {
  std::string slice;          // the slice's name
  ComputeTerms compute;       // request 0: no compute slice (compute.slice = slice)
  std::string compute_limit;  // the ceiling to pass on, as given ("" for none)
};

// Checks `request` (`pid` names an unnamed slice). False with *error naming the option and the
// value at fault.
bool CheckRequest(const SliceRequest& request, int pid, CheckedRequest* out, std::string* error);

}  // namespace vxpu
