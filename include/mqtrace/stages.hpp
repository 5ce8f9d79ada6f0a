// The stages after the merge: records in trace order -> calls -> outputs read
// after the call -> descriptor context -> message flows, handed on chunk by
// chunk. A round of a flood holds thousands of calls (megabytes of them):
// taken whole, each stage would walk them out of the CPU's cache; a chunk
// stays in it from the correlator to the formatter.
#pragma once

#include "mqtrace/context.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/flows.hpp"
#include "mqtrace/late.hpp"

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

namespace mqtrace {

struct CallStages {
    Correlator& correlator;
    OutputReads& outputs;
    QueueContext& context;
    Flows* flows = nullptr; // null: --no-flows

    // Records per chunk (a little over half as many calls).
    static constexpr std::size_t kChunk = 512;

    // Feed ready (one round's records, in trace order) to the stages and hand
    // each chunk's items to done, which consumes them and empties the vector
    // (Correlator::recycle). Items already in `items` (Correlator::finish)
    // go first. A round with a lost record is one chunk: Flows forgets its
    // models from the start of the round (see Flows::annotate).
    void run(std::span<Record* const> ready, MemoryReader& mem, std::vector<Item>& items,
             const std::function<void(std::vector<Item>&)>& done, std::size_t chunk = kChunk) const;
};

} // namespace mqtrace
