// Kubernetes resource quantities (resource.Quantity, k8s.io/apimachinery/pkg/api/resource) as
// they appear in a pod's resources.requests and resources.limits: "1", "500m", "4Gi", "1.5",
// "2e3", "100Mi", "1k", "1M". Parsed exactly, in integer arithmetic (no floating point), to a
// whole number of a base unit. Pure code.
//
// Grammar (the one resource.ParseQuantity accepts):
//   quantity ::= [+-] number suffix
//   number   ::= digits | digits "." | digits "." digits | "." digits
//   suffix   ::= "" | binary SI: Ki Mi Gi Ti Pi Ei | decimal SI: n u m k M G T P E
//              | "e" or "E" followed by a signed integer (a decimal exponent: "2e3" = 2000)
// ("1E" is 1 exa; "1E3" is 1000.) No spaces. A value that is not a whole number of the base
// unit is refused, not rounded; so is one that does not fit the result type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vxpu {

// The quantity times 1000 (a CPU count in millicores: "1" -> 1000, "500m" -> 500, "1.5" -> 1500,
// "2e-3" -> 2). Negative quantities are allowed. Refused (nullopt, *error one line naming the
// value): bad syntax, finer than 1m ("0.5m"), outside int64.
std::optional<int64_t> QuantityMilli(std::string_view text, std::string* error);

// The quantity as a byte count ("4Gi" -> 4294967296, "1k" -> 1000, "1M" -> 1000000,
// "0.5Ki" -> 512). Refused: bad syntax, negative, fractional bytes ("1.5", "1m"), above 2^64-1.
std::optional<uint64_t> QuantityBytes(std::string_view text, std::string* error);

}  // namespace vxpu
