// Names that must not collide: temporaries beside a file, a run's attempt.
#pragma once

#include <cstddef>
#include <string>

namespace sluice::detail {

// `digits` lowercase hex digits from the system's random source.
std::string random_hex(std::size_t digits);

}  // namespace sluice::detail
