// Decoding a recording (-r FILE) with the same stages as a live run: decoder,
// merge, late reads (which a recording cannot have: marked so), correlator.
#pragma once

#include "mqtrace/correlator.hpp"
#include "mqtrace/recording.hpp"

#include <functional>
#include <vector>

namespace mqtrace {

// The calls and lost records of a recording, in stream order; the recording
// run's own (self-test) calls left out. Throws std::runtime_error when the
// recording's event formats do not parse.
// payload: --payload (bodies from the recorded stack copies; none read late).
std::vector<Item> replay(const Recording& r, std::size_t payload = 0);
// The same, streamed: each item to sink as soon as it is complete.
// flows: link receives to sends (Flows), when the recording holds every call.
void replay(const Recording& r, const std::function<void(Item&&)>& sink, std::size_t payload = 0,
            bool flows = false);

} // namespace mqtrace
