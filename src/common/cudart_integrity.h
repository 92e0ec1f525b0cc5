// The answer a driver gives to the CUDA runtime's integrity check (the INTEGRITY_CHECK export
// table's slot 1, ../shared/cuda-runtime-facts.md): cudart calls it with a version (13000, 13001,
// 13002 for 13.0) and the time, and fails every call with error 103 on a wrong answer. Versions
// ending in 0 and 1 have constant answers; ending in 2, an HMAC over MD2 of values of the calling
// process (its pid and thread, addresses of its tables) and of each device. Pure and
// dependency-free: simgpu and the remote client (which must compute it itself, never forward it)
// both use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vxpu {

struct IntegrityDevice {
  uint8_t uuid[16] = {};
  int32_t pci_domain = 0;
  int32_t pci_bus = 0;
  int32_t pci_device = 0;
};

struct IntegrityInputs {
  uint32_t driver_version = 0;  // as cuDriverGetVersion answers
  uint32_t version = 0;         // the argument: 13000, 13001, 13002, ...
  uint32_t pid = 0;
  uint32_t thread = 0;           // (uint32_t)pthread_self()
  uint64_t cudart_table = 0;     // address of the CUDART_INTERFACE table
  uint64_t integrity_table = 0;  // address of the INTEGRITY_CHECK table
  uint64_t check_function = 0;   // address of INTEGRITY_CHECK slot 1
  uint64_t unix_seconds = 0;     // the argument
  std::vector<IntegrityDevice> devices;
};

// MD2 (RFC 1319) of `n` bytes at `data`.
void Md2(const uint8_t* data, size_t n, uint8_t digest[16]);

// HMAC (RFC 2104) over MD2, whose block is 16 bytes: `key` is one block.
void HmacMd2(const uint8_t key[16], const uint8_t* message, size_t n, uint8_t mac[16]);

// The answer for `in`; false for a version whose last digit is not 0, 1 or 2.
bool IntegrityAnswer(const IntegrityInputs& in, uint64_t out[2]);

}  // namespace vxpu
