// Rng: a small deterministic random generator (SplitMix64), identical on every platform and
// standard library, so a replay with a given seed always makes the same choices.
#pragma once

#include <cstdint>

namespace vxpu::sched {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0. The bias of the modulo is below 2^-40 for any n we use.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace vxpu::sched
