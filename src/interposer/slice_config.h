// What the memory and compute sides of a slice share: the slice's name, how a bad
// configuration stops the workload, and how a device is identified across processes.
#pragma once

#include <cstdint>
#include <string>

#include "interposer/cuda_api.h"

namespace vxpu::interposer {

// Prints "vxpu: <why>; refusing to run without the slice's limits" and exits with 125.
[[noreturn]] void RefuseToRun(const std::string& why);

// Puts the terms of a slice an agent registered in the environment in place of the process's
// own (common/registered_terms.h): a container's mounted terms file, else the agent's file of
// VXPU_SLICE in VXPU_STATE_DIR. Runs before anything reads VXPU_*; refuses to run on a terms
// file it cannot read or parse, or that is not the agent's.
void ApplyRegisteredTerms();

// VXPU_SLICE, or "pid-<pid>" when unset; refuses to run on a malformed name.
std::string SliceNameFromEnv();

// Refuses to run when VXPU_STATE_DIR, where the slice's ledgers and arbiters live, is bad: a
// slice never falls back to /dev/shm, where its other processes would not see it.
void CheckStateDirFromEnv();

// The device's UUID as text ("GPU-...") and its memory, from the real driver.
bool DescribeDevice(CUdevice device, std::string* uuid, uint64_t* total_bytes);

}  // namespace vxpu::interposer
