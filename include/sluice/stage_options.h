// Options of a pipeline's stages (see sluice/pipeline.h), and the stream
// that joins one stage to the next.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "sluice/channel.h"

namespace sluice {

// Default capacity, in items, of a stage's output channel.
inline constexpr std::size_t kDefaultCapacity = 256;

struct StageOptions {
  std::string name;                         // default "<kind>#<index>"
  std::size_t capacity = kDefaultCapacity;  // of the output channel, >= 1
};

struct UnorderedOptions {
  std::string name;
  std::size_t concurrency = 64;  // calls in flight at once, >= 1
  std::size_t capacity = kDefaultCapacity;
};

struct BatchOptions {
  std::string name;
  std::size_t size = 256;                 // a batch is sent when it holds this many items,
  std::chrono::milliseconds timeout{50};  // or this long after its first item came
  std::size_t capacity = 4;               // of the output channel, in batches
};

struct CpuOptions {
  std::string name;
  std::size_t concurrency = 0;  // items on the CPU pool at once; 0: the runtime's cpu_threads
  std::size_t capacity = 0;     // of the output channel; 0: twice the concurrency
};

// What a sink's function may return to stop consuming early.
enum class Control : unsigned char { kContinue, kStop };

template <class T>
using Stream = std::shared_ptr<Channel<T>>;

}  // namespace sluice
