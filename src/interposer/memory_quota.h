// The memory side of a vXPU inside one process: the slice's limit on each device, the
// slice's ledger there, and what this process allocated through each policed path.
//
// Configured from the environment that `vxpu run` sets:
//   VXPU_MEMORY  quota per device: a size ("20GiB") or a percentage of the device ("25%").
//                Unset: the interposer polices nothing and only passes calls through.
//   VXPU_SLICE   slice name; processes with the same name share the quota (default: own pid).
// A malformed configuration stops the process at load with one line: never unlimited by accident.
#pragma once

#include <cstdint>
#include <string>

#include "interposer/cuda_api.h"

namespace vxpu::interposer {

enum class AllocationKind { kLinear, kPhysical, kArray };

// False when no quota is configured (pass-through).
bool QuotaEnabled();

// Reserves `bytes` on `device` for an allocation about to be made; false (and one log line)
// if the slice would exceed its limit, or the device's limit cannot be established.
bool ReserveMemory(CUdevice device, uint64_t bytes);
void ReleaseMemory(CUdevice device, uint64_t bytes);

// The same for another vendor's device (ascend_hooks.cc), named by its UUID and size;
// `device_label` names it in the refusal line ("NPU 0").
bool ReserveMemoryOn(const std::string& uuid, uint64_t total, uint64_t bytes, const std::string& device_label);
void ReleaseMemoryOn(const std::string& uuid, uint64_t total, uint64_t bytes);

// Remembers a successful allocation (key: address or handle) so its free releases it.
void TrackAllocation(AllocationKind kind, uint64_t key, CUdevice device, uint64_t bytes);
// Forgets it and releases its bytes; false if it was not tracked (not ours, or freed twice).
bool ReleaseAllocation(AllocationKind kind, uint64_t key);

// Memory pools are charged what they hold reserved on their device: blocks in use and blocks
// cached for reuse. The charge follows what the driver reports, re-read after each operation
// on the pool and, for all pools of the process, before a refusal and a memory query (pools
// give memory back at synchronisation, unseen by the interposer).
//
// Registers a pool and its device; pools of host memory (device_memory=false) are not charged.
void NotePool(CUmemoryPool pool, CUdevice device, bool device_memory);
bool PoolKnown(CUmemoryPool pool);
// Before allocating `bytes` from a known `pool`: reserves what the pool may need to grow by
// (*growth); false (and one log line) if the slice has no room for it.
bool ReservePoolGrowth(CUmemoryPool pool, uint64_t bytes, uint64_t* growth);
// Charges the pool what it now holds, given `provisional` bytes reserved for it beforehand;
// false if that leaves the slice over its limit.
bool SettlePool(CUmemoryPool pool, uint64_t provisional);
void SettleAllPools();
// Logs the refusal of `bytes` from `pool` that would have grown it past the slice.
void ReportPoolRefusal(CUmemoryPool pool, uint64_t bytes);
// Before the pool is destroyed: its blocks still in use stay charged for the process's life
// (they outlive the pool, and their frees are no longer attributable).
void RetirePool(CUmemoryPool pool);

// The slice as the device it presents: limit and usage on `device`. False without a quota.
bool SliceView(CUdevice device, uint64_t* limit, uint64_t* used);

// The same by device UUID ("GPU-..."), for NVML; `device_total` sizes a percentage quota.
bool SliceViewOf(const char* uuid, uint64_t device_total, uint64_t* limit, uint64_t* used);

// Reads the configuration; on a bad one prints one line and exits. Called at load.
void LoadQuotaConfig();

// At exit: takes the process out of its slices' ledgers, so that a slice's ledger goes with its
// last process. Allocations after it are refused.
void LeaveSliceLedgers();

}  // namespace vxpu::interposer
